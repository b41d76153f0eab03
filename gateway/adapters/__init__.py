"""One adapter per pile dialect: the only part of the gateway that knows a dialect's messages.

An adapter owns its connections (decoding, login, replies, bad input), reports what its piles
say to the core through the `PilePort` it gets at login, and carries the core's commands to
them as the `PileLink` it hands over (both in `gateway/dialect.py`). `pilegate/` is protocol
v1; OCPP 1.6J and YKC get siblings. Nothing outside `gateway/adapters/` (and the transports
that feed them) imports a `protocol.<dialect>` package (tests/test_architecture.py).
"""
