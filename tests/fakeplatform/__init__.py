"""A loopback fake of the platforms' posting endpoints, with fault injection (see :mod:`.server`)."""

from tests.fakeplatform.server import (
    STYLES,
    FakePlatform,
    Fault,
    RateLimitPolicy,
    RequestRecord,
    ServerProcess,
    ServerThread,
)

__all__ = [
    "STYLES",
    "FakePlatform",
    "Fault",
    "RateLimitPolicy",
    "RequestRecord",
    "ServerProcess",
    "ServerThread",
]
