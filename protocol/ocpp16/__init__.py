"""OCPP 1.6J dialect, central-system side, sans-I/O.

``framing`` parses and writes OCPP-J frames, ``schemas`` validates payloads against the official
1.6 JSON schemas, ``messages`` holds the typed requests and responses, ``connection`` the
``OcppConnection`` that matches calls and replies on an injected clock. Nothing here opens a
socket or reads a clock. See docs/ocpp.md.
"""
