"""OAuth 2.0 refresh-token grant (RFC 6749 §6), as an exchange step adapters can yield.

Used by the X adapter, whose user-context access tokens live two hours and are renewed with a refresh token
(https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code). The request is built here and
sent by the dispatcher like any other step, so nothing in this module performs I/O.

Refresh tokens may be single-use: X rotates them, returning a new refresh token with every new access token
and invalidating the old one (https://github.com/gptme/gptme-contrib/pull/285). Callers must keep the
:class:`TokenSet` they get back and hand its ``refresh_token`` to the next refresh.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import httpx

from campaign.channels.base import classify_status, platform_message
from campaign.errors import AmbiguousError, AuthError, ChannelError, PermanentError, TransientError


@dataclass(frozen=True)
class TokenSet:
    """What a token endpoint granted. ``refresh_token`` is None when the server did not rotate it.

    ``repr`` never shows the tokens (they are secrets).
    """

    access_token: str
    refresh_token: str | None = None
    #: Lifetime of the access token in seconds, as the server stated it.
    expires_in: int | None = None
    scope: str | None = None

    def __repr__(self) -> str:
        rotated = self.refresh_token is not None
        return f"TokenSet(expires_in={self.expires_in!r}, scope={self.scope!r}, rotated={rotated})"


def refresh_request(
    token_url: str, *, refresh_token: str, client_id: str, client_secret: str | None = None
) -> httpx.Request:
    """The refresh-token grant as a form POST.

    ``client_id`` is always in the body (X's example sends it for public clients); a confidential client
    also authenticates with HTTP Basic ``client_id:client_secret``, as X requires for its token endpoint
    (https://docs.x.com/fundamentals/authentication/oauth-2-0/user-access-token, "Working with
    confidential clients").
    """
    headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
    if client_secret:
        pair = f"{client_id}:{client_secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    body = urlencode({"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id})
    return httpx.Request("POST", token_url, content=body.encode("ascii"), headers=headers)


def parse_token_response(response: httpx.Response, *, now: datetime) -> TokenSet:
    """The granted tokens, or the classified reason there are none.

    ``now`` (aware UTC, from the adapter's clock) anchors a rate-limit wait given as seconds from now; this
    module never reads the wall clock.

    - 400/401 (``invalid_grant``, ``invalid_request``, ``unauthorized_client``): the refresh token or the
      client credentials were rejected; only a person re-authorising the app can fix that -> AuthError.
    - 429: rate limited, with the wait from the headers.
    - 5xx: no post was sent in this step, so retrying is safe -> TransientError even where the generic rule
      says "ambiguous" (the worst case is a rotated refresh token we never saw, which also needs a person).
    """
    if response.is_success:
        try:
            body = response.json()
        except ValueError:
            raise PermanentError("token endpoint answered with a body that is not JSON") from None
        access = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(access, str) or not access:
            raise PermanentError("token endpoint answered without an access_token")
        refresh = body.get("refresh_token")
        expires = body.get("expires_in")
        scope = body.get("scope")
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_in=int(expires) if isinstance(expires, int | float) else None,
            scope=scope if isinstance(scope, str) else None,
        )
    message = platform_message(response)
    status = response.status_code
    if status in (400, 401, 403):
        raise AuthError(
            f"token refresh rejected (HTTP {status}: {message});"
            " re-authorise the app to get a new refresh token",
            status=status,
            platform_message=message,
        )
    error: ChannelError = classify_status(response, message, now=now)
    if isinstance(error, AmbiguousError):
        error = TransientError(f"token refresh failed: {error}", status=status, platform_message=message)
    raise error
