"""When `newswatch poll` schedules each feed's next check, from what the feed said.

One real poll (the console script) of five feeds on the local server, then the stored
`interval_s` and `next_check_at` of each source are read back.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.feedserver import Entry, FeedServer

NEWSWATCH = Path(sys.executable).parent / "newswatch"
NOW = datetime.now(UTC)
JITTER = 1.25


def entries(every: timedelta, count: int, prefix: str) -> list[Entry]:
    return [
        Entry(f"{prefix}-{n}", f"Story {n}", f"https://news.example/{prefix}/{n}", "Text.",
              NOW - every * n)
        for n in range(count)
    ]  # fmt: skip


@dataclass(frozen=True)
class Scheduled:
    interval_s: int
    delay_s: float  # next_check_at - last_checked_at
    error: str | None


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Scheduled]]:
    folder = tmp_path_factory.mktemp("schedule")
    with FeedServer() as server:
        # 168 entries in the last week: every hour.
        server.set_feed("/hourly.xml", entries(timedelta(hours=1), 168, "h"))
        # Daily entries, but the config fixes the interval at 10 minutes.
        server.set_feed("/fixed.xml", entries(timedelta(days=1), 10, "f"))
        # Hourly, but the feed asks for a two-hour time to live.
        server.set_feed("/ttl.xml", entries(timedelta(hours=1), 168, "t"), ttl=120)
        # Hourly, but the server caches it for 90 minutes.
        server.set_feed(
            "/cached.xml",
            entries(timedelta(hours=1), 168, "c"),
            headers={"Cache-Control": "public, max-age=5400"},
        )
        server.set_fault("/busy.xml", "503", retry_after=7200)
        config = folder / "config.toml"
        feeds = "".join(
            f'[[feeds]]\nname = "{name}"\nurl = "{server.url(f"/{name}.xml")}"\n{extra}\n'
            for name, extra in [
                ("hourly", ""),
                ("fixed", 'interval = "10m"\n'),
                ("ttl", ""),
                ("cached", ""),
                ("busy", ""),
            ]
        )
        config.write_text(
            '[storage]\nurl = "sqlite:///news.db"\n\n[network]\nallow_private = true\n\n'
            '[polling]\ndefault_interval = "30m"\nmin_interval = "5m"\nmax_interval = "1d"\n\n'
            + feeds,
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
        done = subprocess.run(
            [str(NEWSWATCH), "--config", str(config), "poll"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert "feeds: 5" in done.stdout, done.stderr
    with sqlite3.connect(folder / "news.db") as db:
        rows = db.execute(
            "SELECT name, interval_s, next_check_at, last_checked_at, last_error FROM sources"
        ).fetchall()
    yield {
        name: Scheduled(
            interval,
            (datetime.fromisoformat(next_at) - datetime.fromisoformat(checked)).total_seconds(),
            error,
        )
        for name, interval, next_at, checked, error in rows
    }


def within(delay: float, base: float) -> bool:
    """Whether a delay is the base plus at most the 25 % jitter."""
    return base <= delay <= base * JITTER + 1


def test_the_interval_follows_the_feeds_rhythm(scheduled: dict[str, Scheduled]) -> None:
    hourly = scheduled["hourly"]
    assert hourly.interval_s == 3600
    assert within(hourly.delay_s, 3600)


def test_a_fixed_interval_overrides_the_rhythm(scheduled: dict[str, Scheduled]) -> None:
    assert scheduled["fixed"].interval_s == 600
    assert within(scheduled["fixed"].delay_s, 600)


def test_the_feeds_ttl_is_obeyed(scheduled: dict[str, Scheduled]) -> None:
    assert scheduled["ttl"].interval_s == 3600  # its rhythm says an hour...
    assert within(scheduled["ttl"].delay_s, 7200)  # ...its <ttl> says two


def test_cache_control_max_age_is_obeyed(scheduled: dict[str, Scheduled]) -> None:
    assert within(scheduled["cached"].delay_s, 5400)


def test_retry_after_is_obeyed_and_shown(scheduled: dict[str, Scheduled]) -> None:
    busy = scheduled["busy"]
    assert busy.error == "HTTP 503, retry after 7200s"
    assert within(busy.delay_s, 7200)
