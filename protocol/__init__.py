"""Pile protocols, one sans-I/O sub-package per dialect: ``pilegate`` (pilegate's own v1,
docs/protocol.md), ``ocpp16`` (OCPP 1.6J) and ``ykc`` (YKC 1.5/1.6). ``sniff`` tells the
binary dialects apart by a connection's first bytes; ``error_root`` is the root of every
exception pilegate raises. Nothing here does I/O or reads a clock."""
