"""TLS for the pile listeners (TCP and wss://), from the certificate and key in the config."""

from __future__ import annotations

import ssl

from gateway.config import ServerConfig
from protocol.error_root import PilegateError


class TlsConfigError(PilegateError, ValueError):
    """The configured certificate or key cannot be loaded; the message names the file."""


def server_context(server: ServerConfig) -> ssl.SSLContext | None:
    """A server-side TLS context, or None when server.tls_cert is not set (plain TCP/ws)."""
    if not server.tls_cert:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(server.tls_cert, server.tls_key)
    except FileNotFoundError as exc:
        raise TlsConfigError(f"TLS: no such file {exc.filename}") from None
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(
            f"TLS: cannot load certificate {server.tls_cert} with key {server.tls_key}: {exc}"
        ) from None
    return context
