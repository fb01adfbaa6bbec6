"""A TCP proxy on 127.0.0.1 that can drop every connection through it, for tests only.

Put it in front of the shared PostgreSQL server to play a server restart without
restarting the server other tests use: `outage()` resets every open connection and
refuses new ones (accepts, then resets at once) until `restore()`.

    with contextlib.closing(TcpProxy(5432).start()) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/test"
        ...
        proxy.outage()
        time.sleep(3)
        proxy.restore()
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading

HOST = "127.0.0.1"
_CHUNK = 64 * 1024


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed server's kernel would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:`target`, one thread per connection pair."""

    def __init__(self, target: int) -> None:
        self.target = target
        self._listener = socket.create_server((HOST, 0))
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._down = False
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self.dropped = 0  # connections reset or refused by outages

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def outage(self) -> None:
        """Reset every connection now, and every new one until `restore()`."""
        with self._lock:
            self._down = True
            pairs, self._pairs = self._pairs, set()
        for client, server in pairs:
            _reset(client)
            _reset(server)
            self.dropped += 1

    def restore(self) -> None:
        with self._lock:
            self._down = False

    def close(self) -> None:
        self._closed.set()
        self.outage()
        self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                down = self._down
            if down:
                _reset(client)
                self.dropped += 1
                continue
            try:
                server = socket.create_connection((HOST, self.target), timeout=5)
            except OSError:
                _reset(client)
                continue
            server.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._pairs.add((client, server))
            threading.Thread(
                target=self._pump, args=(client, server), name="tcp-proxy-pump", daemon=True
            ).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        peers = {client: server, server: client}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for key, _ in selector.select(timeout=0.5):
                        sock: socket.socket = key.fileobj  # type: ignore[assignment]
                        data = sock.recv(_CHUNK)
                        if not data:
                            return
                        peers[sock].sendall(data)
                    if self._closed.is_set():
                        return
            except (OSError, ValueError):  # reset by an outage, or closed under us
                return
            finally:
                with self._lock:
                    self._pairs.discard((client, server))
                for sock in peers:
                    with contextlib.suppress(OSError):
                        sock.close()
