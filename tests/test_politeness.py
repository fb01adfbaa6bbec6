"""`daemon.per_host` and `daemon.concurrency` hold: the servers count requests in flight.

Three FeedServers on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (three hosts to the client, all
loopback) share one InFlight recorder, and answer every feed slowly, so that requests
pile up to whatever limit the client keeps. One `newswatch poll` of all the feeds; the
peaks must reach the limit (or the test proves nothing) and never pass it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.daemon_helpers import run_command, sqlite_url
from tests.feedserver import Entry, FeedServer, InFlight

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
FEEDS_PER_HOST = 5
SLOW_S = 0.6  # long enough for every allowed request to be in flight at once


@pytest.fixture
def servers() -> Iterator[tuple[list[FeedServer], InFlight]]:
    in_flight = InFlight()
    with ExitStack() as stack:
        started = [
            stack.enter_context(FeedServer(host=host, in_flight=in_flight)) for host in HOSTS
        ]
        entry = Entry("1", "A story", "https://n.example/1", "Text.", datetime.now(UTC))
        for server in started:
            for number in range(FEEDS_PER_HOST):
                server.set_feed(f"/{number}.xml", [entry])
                server.set_fault(f"/{number}.xml", "hang", delay=SLOW_S)
        yield started, in_flight


def write_config(folder: Path, servers: list[FeedServer], concurrency: int, per_host: int) -> Path:
    config = folder / "config.toml"
    feeds = "".join(
        f'[[feeds]]\nname = "h{index}-{number}"\nurl = "{server.url(f"/{number}.xml")}"\n\n'
        for index, server in enumerate(servers)
        for number in range(FEEDS_PER_HOST)
    )
    config.write_text(
        f'[storage]\nurl = "{sqlite_url(config)}"\n\n'
        f"[daemon]\nconcurrency = {concurrency}\nper_host = {per_host}\n\n"
        f"[network]\nallow_private = true\n\n{feeds}",
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize(
    ("concurrency", "per_host", "total"),
    [
        (4, 2, 4),  # the global limit binds: 3 hosts x 2 would be 6
        (16, 3, 9),  # per_host binds on every host
    ],
)
def test_per_host_and_concurrency_are_never_exceeded(
    servers: tuple[list[FeedServer], InFlight],
    tmp_path: Path,
    concurrency: int,
    per_host: int,
    total: int,
) -> None:
    started, in_flight = servers
    done = run_command(write_config(tmp_path, started, concurrency, per_host), "poll")
    assert done.returncode == 0, done.stderr
    assert f"feeds: {len(HOSTS) * FEEDS_PER_HOST}  fetched: {len(HOSTS) * FEEDS_PER_HOST}" in (
        done.stdout
    )
    assert sorted(in_flight.peak) == sorted(HOSTS)
    # Each feed fetched once: a retried request could overlap the one it replaces.
    counts = [server.count(f"/{n}.xml") for server in started for n in range(FEEDS_PER_HOST)]
    assert counts == [1] * len(counts), (counts, done.stderr)
    # Never above per_host on any host, and reached on one at least. Scrapy 2.19's own
    # downloader can start more (see crawler.downloader.ExactSlotDownloader).
    assert max(in_flight.peak.values()) == per_host, in_flight.peak
    if total == len(HOSTS) * per_host:  # per_host binds everywhere: every host reaches it
        assert min(in_flight.peak.values()) == per_host, in_flight.peak
        assert total <= in_flight.peak_total <= sum(in_flight.peak.values()), in_flight.peak
    else:  # the global limit binds
        assert in_flight.peak_total == total, in_flight.peak


def test_a_host_at_its_limit_holds_no_place_from_the_other_hosts(
    tmp_path: Path, servers: tuple[list[FeedServer], InFlight]
) -> None:
    """Feeds listed host by host: the second host's feeds are fetched without waiting.

    With per_host 1, a request for a host already at its limit would wait in the
    downloader's queue, holding a place of the global limit: the other hosts' feeds
    would then wait for the whole slow host.
    """
    started, in_flight = servers
    slow, fast = started[0], started[1]
    for number in range(FEEDS_PER_HOST):
        fast.clear_fault(f"/{number}.xml")
    config = write_config(tmp_path, [slow, fast], concurrency=2, per_host=1)
    done = run_command(config, "poll")
    assert done.returncode == 0, done.stderr
    assert f"fetched: {2 * FEEDS_PER_HOST}" in done.stdout, done.stdout
    slow_times = sorted(request.time for request in slow.requests())
    fast_times = [request.time for request in fast.requests()]
    assert len(fast_times) == FEEDS_PER_HOST
    # Every fast feed was asked for within the slow host's first two answers (it takes
    # the first few milliseconds); waiting behind it, they would come after its fifth.
    assert max(fast_times) < slow_times[0] + 2 * SLOW_S, (slow_times, fast_times)
    assert in_flight.peak[HOSTS[0]] == 1 and in_flight.peak_total == 2, in_flight.peak


def test_page_requests_count_toward_the_concurrency_limit(
    tmp_path: Path, servers: tuple[list[FeedServer], InFlight]
) -> None:
    """Feeds with `full_text` fetch their pages while other feeds are still being polled:
    pages and feeds together stay within `concurrency`."""
    started, in_flight = servers
    pages, feeds = started[0], started[1]
    when = datetime.now(UTC)
    for number in range(FEEDS_PER_HOST):
        entries = [
            Entry(f"{number}-{n}", f"Story {number}-{n}", pages.url(f"/p/{number}-{n}"), "T.", when)
            for n in range(2)
        ]
        feeds.set_feed(f"/{number}.xml", entries)
        for entry in entries:
            path = f"/p/{entry.guid}"
            pages.set_page(
                path, f"<html><body><article><p>{entry.title}.</p></article></body></html>"
            )
            pages.set_fault(path, "hang", delay=SLOW_S)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{sqlite_url(config)}"\n\n'
        "[daemon]\nconcurrency = 3\nper_host = 3\n\n[network]\nallow_private = true\n\n"
        + "".join(
            f'[[feeds]]\nname = "f{n}"\nurl = "{feeds.url(f"/{n}.xml")}"\nfull_text = true\n\n'
            for n in range(FEEDS_PER_HOST)
        ),
        encoding="utf-8",
    )
    done = run_command(config, "poll")
    assert done.returncode == 0, done.stderr
    assert pages.count() == 2 * FEEDS_PER_HOST, done.stderr
    # Pages and feeds were out at once (the feeds answer slowly too), never above 3.
    assert in_flight.peak_total == 3, in_flight.peak
    assert in_flight.peak[HOSTS[0]] >= 1 and in_flight.peak[HOSTS[1]] >= 1, in_flight.peak
