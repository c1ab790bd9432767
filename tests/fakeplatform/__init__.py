"""A loopback fake of the platforms' posting endpoints, with fault injection: see :mod:`.server`.

Kept empty so that ``python -m tests.fakeplatform.server`` does not import the module twice.
"""
