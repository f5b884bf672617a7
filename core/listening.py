"""Bind a server's listening socket before announcing it: a port in use is one clear error, not a banner
that says "serving" followed by uvicorn's `address already in use` a moment later.

`eventkit up` and `eventkit collector` bind here, print their banner, and hand the bound socket to
uvicorn (`Server.run(sockets=[sock])`), so what the banner announces is what is listening.
"""

from __future__ import annotations

import errno
import socket

from core.errors import ConfigError

__all__ = ["bind_listening_socket"]


def bind_listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port), as uvicorn binds it; ConfigError naming the address if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Like uvicorn: a restart may reuse a port whose old connections are in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        where = f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"
        if e.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} is already in use on {host} (stop what listens there, or pass --port)"
            ) from None
        reason = e.strerror or str(e)
        raise ConfigError(f"cannot listen on {where}: {reason}") from None
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
