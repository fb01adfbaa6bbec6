"""Server faults, end to end: one `newswatch poll` over a healthy feed and a feed for
every way a server can misbehave that the daemon tests do not already cover (those
cover 500, a server that never answers and malformed XML; tests/test_poll_schedule.py
covers 503 with Retry-After and tests/test_poll.py an HTML page instead of a feed).

Each faulty feed must fail alone, with a one-line reason on its source, shown by
`newswatch sources`; the healthy feed in the same poll must be stored as usual.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.cli_run import Run, newswatch, query
from tests.feedserver import Entry, FeedServer

TIMEOUT_S = 3
MAX_BYTES = 64 * 1024
CHAIN = 12  # redirects, past REDIRECT_MAX_TIMES (10)


def entry(name: str) -> Entry:
    when = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    return Entry(name, f"Story: {name}", f"https://news.example/{name}", "Summary.", when)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(server: FeedServer) -> dict[str, str]:
    """Serve every case; return feed name -> URL."""
    urls: dict[str, str] = {}
    for name in ("healthy", "reset", "trickle", "truncated", "gzip-bomb", "brotli-bomb"):
        server.set_feed(f"/{name}.xml", [entry(name)])
        urls[name] = server.url(f"/{name}.xml")
    server.set_fault("/reset.xml", "reset")
    # A byte a second: every read comes well within the timeout; only a bound on the
    # whole request stops it.
    server.set_fault("/trickle.xml", "trickle", delay=1.0)
    server.set_fault("/truncated.xml", "truncated")
    # Small when sent (a few kB), sixteen times max_bytes once decompressed.
    server.set_fault("/gzip-bomb.xml", "gzip", size=16 * MAX_BYTES)
    server.set_fault("/brotli-bomb.xml", "brotli", size=16 * MAX_BYTES)
    server.set_fault("/huge.xml", "huge", size=4 * MAX_BYTES)
    urls["huge"] = server.url("/huge.xml")
    server.set_fault("/unannounced.xml", "unannounced", size=4 * MAX_BYTES)
    urls["unannounced"] = server.url("/unannounced.xml")
    server.set_fault("/loop.xml", "redirect", to="/loop.xml")
    urls["loop"] = server.url("/loop.xml")
    for hop in range(CHAIN):
        server.set_fault(f"/chain/{hop}", "redirect", to=f"/chain/{hop + 1}")
    server.set_feed(f"/chain/{CHAIN}", [entry("chained")])
    urls["chain"] = server.url("/chain/0")
    plain = server.set_feed("/plain.xml", [entry("plain")])
    # A valid feed with a wrong Content-Type is read anyway, as feed readers do.
    server.set_resource("/plain.xml", plain.body, "application/octet-stream")
    urls["wrong-type"] = server.url("/plain.xml")
    server.set_resource("/empty.xml", b"", "application/rss+xml")
    urls["empty"] = server.url("/empty.xml")
    urls["refused"] = f"http://127.0.0.1:{closed_port()}/feed.xml"
    return urls


def write_config(folder: Path, urls: dict[str, str]) -> Path:
    feeds = "".join(f'\n[[feeds]]\nname = "{name}"\nurl = "{url}"\n' for name, url in urls.items())
    path = folder / "config.toml"
    path.write_text(
        f"""\
[storage]
url = "sqlite:///newswatch.db"

[daemon]
per_host = 12  # every feed at once: the slow ones do not hold the others up

[network]
allow_private = true
timeout = "{TIMEOUT_S}s"
max_bytes = {MAX_BYTES}
{feeds}""",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Faults:
    poll: Run
    sources: Run
    errors: dict[str, str | None]
    titles: list[str]


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faults]:
    folder = tmp_path_factory.mktemp("faults")
    with FeedServer() as server:
        config = write_config(folder, serve(server))
        poll = newswatch(server, "--config", str(config), "poll")
        sources = newswatch(server, "--config", str(config), "sources")
        database = folder / "newswatch.db"
        errors = dict(query(database, "SELECT name, last_error FROM sources"))
        titles = sorted(title for (title,) in query(database, "SELECT title FROM articles"))
        yield Faults(poll, sources, errors, titles)


EXPECTED = {
    "healthy": None,
    "wrong-type": None,
    "reset": "connection closed before the response was complete",
    "truncated": "connection closed before the response was complete",
    # Per-read timeouts would never fire: a byte arrives every second. The bound is on
    # the whole request (Scrapy's DOWNLOAD_TIMEOUT).
    "trickle": "timed out",
    "huge": f"too large: over {MAX_BYTES} bytes",
    # No Content-Length: the cap is found while reading.
    "unannounced": f"too large: over {MAX_BYTES} bytes",
    "gzip-bomb": f"too large: over {MAX_BYTES} bytes after decompression",
    "brotli-bomb": f"too large: over {MAX_BYTES} bytes after decompression",
    "chain": "too many redirects (more than 10)",
    "empty": "not a feed: the body is empty",
    "refused": "connection refused",
}


def test_each_fault_fails_its_feed_alone_and_the_poll_goes_on(faults: Faults) -> None:
    poll = faults.poll
    assert poll.returncode == 0, poll.stderr
    assert poll.stdout.startswith(f"feeds: {len(EXPECTED) + 1}  fetched: 2  not modified: 0  ")
    assert f"failed: {len(EXPECTED) - 1}  new articles: 2" in poll.stdout
    assert "Traceback" not in poll.stderr
    assert faults.titles == ["Story: healthy", "Story: plain"]


def test_each_fault_is_recorded_on_its_source_with_a_clear_reason(faults: Faults) -> None:
    errors = dict(faults.errors)
    loop = errors.pop("loop")
    assert errors == EXPECTED
    assert loop is not None and loop.startswith("redirect loop (back to http://127.0.0.1:")


def test_sources_shows_every_reason(faults: Faults) -> None:
    assert faults.sources.returncode == 0, faults.sources.stderr
    lines = faults.sources.stdout.splitlines()
    for name, error in faults.errors.items():
        (line,) = [line for line in lines if line.startswith(f"│ {name} ")]
        assert (error or "") in line
        assert ("failing" if error else "ok") in line
