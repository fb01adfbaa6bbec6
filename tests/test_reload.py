"""Config reload, in process: what a new config.toml changes in a running daemon's parts.

The daemon's own parts (database, poller with its one crawler runner, APScheduler
scheduler on an asyncio loop, paused so no job runs) are built as `newswatch run`
builds them; `tests/test_daemon_reload.py` drives the real daemon end to end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler import options
from crawler.workers import WorkerPool
from scheduler.config import Config, load_config
from scheduler.daily_exports import DailyExports
from scheduler.loop import event_loop
from scheduler.poller import Poller, sync_config
from scheduler.reload import TICK_JOB, ConfigReloader
from scheduler.site_jobs import schedule_sites
from storage.db import Database
from storage.health import source_health
from storage.records import SourceState


@dataclass
class Parts:
    """What the daemon hands the reloader (see scheduler.reload.Reloadable)."""

    config: Config
    database: Database
    poller: Poller
    scheduler: AsyncIOScheduler
    exports: DailyExports


FIRST = """\
[storage]
url = "sqlite:///news.db"

[daemon]
tick = "1m"

[[topics]]
name = "t1"
query = "alpha"

[[feeds]]
name = "f1"
url = "https://one.example/feed.xml"

[[sites]]
name = "s1"
sitemap = "https://one.example/sitemap.xml"
schedule = "0 * * * *"

[[sites]]
name = "s2"
sitemap = "https://two.example/sitemap.xml"
interval = "2h"
"""

SECOND = """\
[storage]
url = "sqlite:///elsewhere.db"

[daemon]
tick = "2m"
timezone = "Europe/Paris"

[[topics]]
name = "t1"
query = "alpha"

[[topics]]
name = "t2"
query = "beta"

[[feeds]]
name = "f2"
url = "https://two.example/feed.xml"
full_text = true

[[sites]]
name = "s1"
sitemap = "https://one.example/sitemap.xml"
schedule = "30 * * * *"

[[sites]]
name = "s3"
start_urls = ["https://three.example/news/"]
"""


T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the reactor's own loop.

    A Poller installs the asyncio reactor on the loop it finds running; under
    asyncio.run that loop is closed afterwards, and every later test in this process
    would find the reactor's loop closed.
    """
    return event_loop().run_until_complete(coroutine)


async def noop(name: str) -> None:
    """Stands in for Poller.site_job: the scheduler is paused, so it never runs."""


def jobs(scheduler: AsyncIOScheduler) -> dict[str, object]:
    return {job.id: job.trigger for job in scheduler.get_jobs()}


@asynccontextmanager
async def daemon_parts(path: Path) -> AsyncIterator[Parts]:
    """Build the parts from the file as the daemon does at start; the scheduler paused."""
    config = load_config(path)
    database = Database.open(config.storage.url)
    database.upgrade()
    pool = WorkerPool(1, processes=False)
    scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
    scheduler.start(paused=True)
    try:
        sync_config(config, database)
        scheduler.add_job(noop, IntervalTrigger(seconds=60), args=["tick"], id=TICK_JOB)
        schedule_sites(scheduler, noop, None, config)
        poller = Poller(config, database, pool)
        yield Parts(config, database, poller, scheduler, DailyExports(config, database))
    finally:
        scheduler.shutdown(wait=False)
        pool.close()
        database.dispose()


async def reload_twice(path: Path, caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    """Start from FIRST, reload SECOND, then a broken file; return what was seen."""
    async with daemon_parts(path) as parts:
        database, scheduler = parts.database, parts.scheduler
        reloader = ConfigReloader(parts)
        seen: dict[str, object] = {"jobs before": sorted(jobs(scheduler))}

        path.write_text(SECOND, encoding="utf-8")
        seen["applied"] = await reloader.reload("test")
        seen["jobs"] = jobs(scheduler)
        seen["config"] = parts.config
        seen["settings"] = parts.poller.runner.settings
        seen["health"] = {row.name: row for row in source_health(database, datetime.now(UTC))}

        seen["log"] = caplog.text
        caplog.clear()
        path.write_text(SECOND.replace('query = "beta"', 'query = "beta AND"'), encoding="utf-8")
        seen["broken applied"] = await reloader.reload("test")
        seen["broken log"] = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
        seen["config after broken"] = parts.config
        return seen


@pytest.fixture
def reloaded(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> dict[str, object]:
    caplog.set_level(logging.INFO, logger="newswatch.reload")
    path = tmp_path / "config.toml"
    path.write_text(FIRST, encoding="utf-8")
    return run(reload_twice(path, caplog))


def test_site_jobs_are_added_removed_and_rescheduled(reloaded: dict[str, object]) -> None:
    assert reloaded["jobs before"] == ["site:s1", "site:s2", TICK_JOB]
    found = reloaded["jobs"]
    assert isinstance(found, dict)
    assert sorted(found) == ["site:s1", "site:s3", TICK_JOB]
    s1 = found["site:s1"]
    assert isinstance(s1, CronTrigger)
    assert str(s1.fields[s1.FIELD_NAMES.index("minute")]) == "30"
    s3 = found["site:s3"]
    assert isinstance(s3, IntervalTrigger) and s3.interval.total_seconds() == 1800
    tick = found[TICK_JOB]
    assert isinstance(tick, IntervalTrigger) and tick.interval.total_seconds() == 120


def test_the_next_crawl_gets_the_new_feeds_and_topics(reloaded: dict[str, object]) -> None:
    assert reloaded["applied"] is True
    settings = reloaded["settings"]
    feeds = settings[options.FEEDS]  # type: ignore[index]
    assert set(feeds) == {"f2", "s1", "s3"}
    assert feeds["f2"].full_text is True
    assert [rule.name for rule in settings[options.TOPICS]] == ["t1", "t2"]  # type: ignore[index]
    assert set(settings[options.SITES]) == {"s1", "s3"}  # type: ignore[index]


def test_the_sources_table_follows_the_file(reloaded: dict[str, object]) -> None:
    health = reloaded["health"]
    assert isinstance(health, dict)
    assert {name: row.disabled_by for name, row in health.items()} == {
        "f1": "config",  # removed: disabled, its articles kept
        "f2": None,
        "s1": None,
        "s2": "config",
        "s3": None,
    }


def test_keys_that_need_a_restart_are_logged_and_kept(
    reloaded: dict[str, object], tmp_path: Path
) -> None:
    config = reloaded["config"]
    assert isinstance(config, Config)
    assert config.storage.url == f"sqlite:///{tmp_path / 'news.db'}"
    assert config.daemon.timezone == "UTC"
    assert config.daemon.tick_s == 120  # applied live
    log = str(reloaded["log"])
    assert "config: storage.url changed; restart the daemon to use the new database" in log
    assert "config: daemon.timezone changed to Europe/Paris; restart the daemon" in log
    assert "config applied reason=test feeds=+f2,-f1 sites=+s3,-s2,~s1 topics=+t2 daemon=~" in log


def test_a_broken_file_changes_nothing(reloaded: dict[str, object], tmp_path: Path) -> None:
    assert reloaded["broken applied"] is False
    assert reloaded["config after broken"] == reloaded["config"]
    assert reloaded["broken log"] == [
        "config not applied, the running config stays in force reason=test: "
        f"{tmp_path / 'config.toml'}:14: topics[1].query: "
        "'AND' needs a term after it at position 6, near \"AND\""
    ]


async def watch(path: Path) -> list[int]:
    """Edit the file, then let the watcher look three times; return the ticks seen."""
    async with daemon_parts(path) as parts:
        reloader = ConfigReloader(parts)
        ticks = [parts.config.daemon.tick_s]
        await reloader.check()  # nothing changed
        path.write_text(FIRST.replace('tick = "1m"', 'tick = "3m"'), encoding="utf-8")
        for _ in range(2):
            await reloader.check()
            ticks.append(parts.config.daemon.tick_s)
        return ticks


def test_the_watcher_applies_a_file_once_it_stops_changing(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FIRST, encoding="utf-8")
    # First look after the edit: it may be half-written, so wait; the next look applies it.
    assert run(watch(path)) == [60, 60, 180]


def test_a_wake_during_a_tick_makes_it_look_for_due_feeds_once_more(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FIRST, encoding="utf-8")

    async def tick_with_a_wake() -> tuple[int, bool, bool]:
        async with daemon_parts(path) as parts:
            poller = parts.poller
            looks: list[bool] = []

            async def due(names: Sequence[str] | None = None) -> list[SourceState]:
                # A reload during the first look asks for another (it made feeds due).
                looks.append(poller.wake() if not looks else False)
                return []

            poller.due = due  # type: ignore[method-assign]
            idle = poller.wake()
            await poller.tick()
            return len(looks), looks[0], idle or poller.wake()

    # Two looks; wake() said a tick was running; outside a tick it says none is.
    assert run(tick_with_a_wake()) == (2, True, False)


def test_a_stop_waits_for_a_tick_caught_between_two_crawls(tmp_path: Path) -> None:
    # The daemon shuts its scheduler down once the poller has stopped: a tick still
    # claiming or releasing its feeds then would be cancelled there (a traceback in the
    # log, and its feeds left leased).
    path = tmp_path / "config.toml"
    path.write_text(FIRST, encoding="utf-8")

    async def stop_during_a_claim() -> tuple[bool, int]:
        async with daemon_parts(path) as parts:
            poller = parts.poller
            looks: list[float] = []

            async def due(names: Sequence[str] | None = None) -> list[SourceState]:
                looks.append(time.monotonic())
                await asyncio.sleep(0.5)  # the database is slow to answer
                return []

            poller.due = due  # type: ignore[method-assign]
            tick = asyncio.create_task(poller.tick())
            await asyncio.sleep(0.1)
            await poller.stop()
            return tick.done(), len(looks)

    assert run(stop_during_a_claim()) == (True, 1)
