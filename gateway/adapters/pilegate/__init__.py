"""The protocol v1 adapter: `connection.py` (one `PileConnection` per TCP or WebSocket pile,
which is also the pile's `PileLink`), `inbound.py` (v1 frames -> `PilePort` calls),
`outbound.py` (neutral commands -> v1 messages, COMMAND_ACK -> `Reply`), `codes.py` (v1's
code tables), `tariffs.py` (SET_TARIFF, SET_IDLE_FEE), `journal.py` (frames as journal lines),
`pile_auth.py` (the LOGIN MAC policy)."""
