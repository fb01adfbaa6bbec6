"""Tell systemd how the daemon is doing (`Type=notify`): READY=1, STOPPING=1.

The protocol is one datagram per message on the AF_UNIX socket named by
$NOTIFY_SOCKET (https://www.freedesktop.org/software/systemd/man/latest/sd_notify.html);
a name starting with "@" is in the abstract namespace. Without the variable (not run by
systemd) nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("newswatch.notify")


def notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send `message` ("READY=1", "STOPPING=1", ...) to systemd; return whether it was sent."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode("utf-8"))
    except OSError as exc:
        # systemd would then restart us after its timeout; say why in the log.
        log.warning("notify failed socket=%s error=%s", env["NOTIFY_SOCKET"], exc)
        return False
    return True
