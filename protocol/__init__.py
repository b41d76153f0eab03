"""Pile protocols, one sans-I/O sub-package per dialect: ``pilegate`` (pilegate's own v1,
docs/protocol.md), ``ocpp16`` (OCPP 1.6J) and ``ykc`` (YKC 1.5/1.6). ``stream`` is the
resynchronising frame stream and CRC the two binary dialects share, with the common base of
their decode problems; ``sniff`` tells them apart by a connection's first bytes;
``error_root`` is the root of every exception pilegate raises. Nothing here does I/O or reads
a clock."""
