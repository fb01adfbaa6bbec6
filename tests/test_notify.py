"""systemd readiness: READY=1 and STOPPING=1 on $NOTIFY_SOCKET, a real datagram socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.notify import notify
from tests import feedserver
from tests.daemon_helpers import FeedSpec, assert_clean_log, running, write_config
from tests.feedserver import Entry, FeedServer
from tests.test_daemon import at

feed_server = feedserver.feed_server


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """Bind an AF_UNIX datagram socket, as systemd does for a Type=notify service."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    try:
        yield sock, path
    finally:
        sock.close()


def test_notify_sends_one_datagram(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    assert notify("READY=1", {"NOTIFY_SOCKET": path})
    assert sock.recv(4096) == b"READY=1"


def test_notify_reaches_an_abstract_socket() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        name = f"newswatch-test-{id(sock)}"
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"STOPPING=1"


def test_notify_without_systemd_does_nothing(tmp_path: Path) -> None:
    assert not notify("READY=1", {})
    # A socket that went away is logged, never raised: the daemon keeps running.
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})


@pytest.mark.slow
def test_daemon_notifies_ready_then_stopping(
    feed_server: FeedServer, tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    feed_server.set_feed("/w.xml", [Entry("w1", "Troops", feed_server.url("/w1"), "DPRK.", at(0))])
    config = write_config(tmp_path, feed_server, [FeedSpec("world", "/w.xml")])
    with running(config, tmp_path / "daemon.log", env={"NOTIFY_SOCKET": path}) as daemon:
        ready = sock.recv(4096).decode()
        assert ready.splitlines()[0] == "READY=1"
        assert "daemon started" in daemon.stderr()  # ready only once it runs
        status, _, log = daemon.stop(30)
        assert sock.recv(4096) == b"STOPPING=1"
    assert status == 0
    assert_clean_log(log)
