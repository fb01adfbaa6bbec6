"""The daemon's daily export jobs: a run missed while it was down happens at start."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler.config import Config, load_config
from scheduler.daily_exports import DailyExports, last_due
from scheduler.metrics import Metrics
from scheduler.poller import sync_config
from storage.articles import store_articles
from storage.db import Database
from storage.export_runs import pending_run, start_run
from storage.locks import singleton
from storage.records import ArticleRecord
from storage.sources import due_sources
from tests.daemon_helpers import (
    FeedSpec,
    assert_clean_log,
    running,
    sqlite_url,
    wait_until,
    write_config,
)
from tests.feedserver import FeedServer, feed_server

__all__ = ["feed_server"]

PARIS = ZoneInfo("Europe/Paris")
EXPORTS = """
[daemon]
timezone = "Europe/Paris"

[[exports]]
name = "daily"
dir = "out"
at = "00:10"
"""


def config_with_export(tmp_path: Path) -> Config:
    path = tmp_path / "config.toml"
    text = f"[storage]\nurl = {json.dumps(sqlite_url(path))}\n" + EXPORTS
    text += '[[topics]]\nname = "dprk"\nquery = "DPRK"\n'
    text += '[[feeds]]\nname = "wire"\nurl = "http://127.0.0.1:9/feed.xml"\n'
    path.write_text(text, encoding="utf-8")
    return load_config(path, {})


def store(db: Database, numbers: range, when: datetime) -> None:
    source = due_sources(db, datetime.now(UTC) + timedelta(days=365))[0].id
    records = []
    for n in numbers:
        url = f"http://x.test/{n}"
        records.append(ArticleRecord(source, f"k{n}", url, url, f"h{n}", title=f"A{n}"))
    store_articles(db, records, when)


def ids(path: Path) -> list[int]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize(
    ("local_now", "due"),
    [
        (datetime(2024, 10, 15, 9, 0), datetime(2024, 10, 15, 0, 10)),
        (datetime(2024, 10, 15, 0, 10), datetime(2024, 10, 15, 0, 10)),
        (datetime(2024, 10, 15, 0, 9), datetime(2024, 10, 14, 0, 10)),
        # The night clocks went back (27 Oct 2024 in Paris): still the same wall time.
        (datetime(2024, 10, 27, 0, 5), datetime(2024, 10, 26, 0, 10)),
    ],
)
def test_last_due_is_the_latest_scheduled_time_in_the_zone(
    tmp_path: Path, local_now: datetime, due: datetime
) -> None:
    (export,) = config_with_export(tmp_path).exports
    found = last_due(export, local_now.replace(tzinfo=PARIS).astimezone(UTC), PARIS)
    assert found == due.replace(tzinfo=PARIS)


def test_a_run_missed_while_down_happens_at_start_into_its_day(tmp_path: Path) -> None:
    config = config_with_export(tmp_path)
    db = Database.open(config.storage.url)
    db.upgrade()
    try:
        sync_config(config, db)
        # Yesterday's run happened on time (00:10 Paris is 22:10 UTC the day before).
        yesterday = datetime(2024, 10, 14, 22, 10, 5, tzinfo=UTC)
        store(db, range(1, 3), yesterday - timedelta(hours=3))
        clock = [yesterday]
        exports = DailyExports(config, db, clock=lambda: clock[0])
        asyncio.run(exports.scheduled("daily"))
        assert ids(tmp_path / "out" / "2024-10-15" / "daily.jsonl") == [1, 2]

        # The daemon was down at today's 00:10; it starts at 09:00.
        store(db, range(3, 5), datetime(2024, 10, 15, 5, 0, tzinfo=UTC))
        clock[0] = datetime(2024, 10, 16, 7, 0, tzinfo=UTC)
        assert [(e.name, day) for e, day in exports.missed()] == [("daily", "2024-10-16")]
        asyncio.run(exports.catch_up())
        assert ids(tmp_path / "out" / "2024-10-16" / "daily.jsonl") == [3, 4]
        assert exports.missed() == []  # done for today
        clock[0] = datetime(2024, 10, 16, 22, 9, tzinfo=UTC)  # 00:09 the next day
        assert exports.missed() == []
        clock[0] = datetime(2024, 10, 16, 22, 10, tzinfo=UTC)
        assert len(exports.missed()) == 1
    finally:
        db.dispose()


def test_a_pending_run_is_finished_at_start(tmp_path: Path) -> None:
    config = config_with_export(tmp_path)
    db = Database.open(config.storage.url)
    db.upgrade()
    try:
        sync_config(config, db)
        now = datetime.now(UTC)
        store(db, range(1, 3), now)
        (export,) = config.exports
        start_run(db, config.export_spec(export), "2024-10-15", now)  # then a crash
        exports = DailyExports(config, db)
        assert [day for _, day in exports.missed()] == [now.astimezone(PARIS).date().isoformat()]
        asyncio.run(exports.catch_up())
        assert pending_run(db, "daily") is None
        assert ids(tmp_path / "out" / "2024-10-15" / "daily.jsonl") == [1, 2]
    finally:
        db.dispose()


def test_each_export_gets_a_cron_job_at_its_time_in_the_zone(tmp_path: Path) -> None:
    config = config_with_export(tmp_path)
    db = Database.open(config.storage.url)
    try:
        scheduler = AsyncIOScheduler(timezone=PARIS)
        DailyExports(config, db).add_jobs(scheduler)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"export:daily", "missed-exports"}
        assert str(jobs["export:daily"].trigger) == "cron[hour='0', minute='10']"
        assert jobs["export:daily"].trigger.timezone == PARIS
        # A reloaded config moves, adds and removes export jobs.
        (daily,) = config.exports
        moved = dataclasses.replace(daily, at="06:30")
        other = dataclasses.replace(daily, name="missed", directory=tmp_path / "other")
        exports = DailyExports(config, db)
        exports.apply(dataclasses.replace(config, exports=(moved, other)), scheduler)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"export:daily", "export:missed", "missed-exports"}
        assert str(jobs["export:daily"].trigger) == "cron[hour='6', minute='30']"
        exports.apply(dataclasses.replace(config, exports=()), scheduler)
        assert [job.id for job in scheduler.get_jobs()] == ["missed-exports"]
    finally:
        db.dispose()


@pytest.mark.slow
def test_the_daemon_runs_a_missed_export_when_it_starts(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    feed_server.set_feed("/feed.xml", [])
    config_path = write_config(tmp_path, feed_server, [FeedSpec("feed", "/feed.xml", "1h")])
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(
        text + '\n[[exports]]\nname = "daily"\ndir = "out"\nat = "00:10"\n', encoding="utf-8"
    )
    config = load_config(config_path, {})
    db = Database.open(config.storage.url)
    db.upgrade()
    try:
        sync_config(config, db)
        store(db, range(1, 4), datetime.now(UTC) - timedelta(days=3))
    finally:
        db.dispose()
    # Never run: due since today's 00:10 (yesterday's before that), in UTC here.
    day = last_due(config.exports[0], datetime.now(UTC), ZoneInfo("UTC")).date()
    manifest = tmp_path / "out" / day.isoformat() / "manifest.json"
    with running(config_path, tmp_path / "daemon.log") as daemon:
        wait_until(manifest.exists, 30, "the missed export", daemon=daemon)
        status, _, log = daemon.stop(30, signal.SIGTERM)
    assert status == 0, log
    assert_clean_log(log)
    assert json.loads(manifest.read_text(encoding="utf-8"))["count"] == 3
    assert ids(manifest.with_name("daily.jsonl")) == [1, 2, 3]


def test_a_second_daemons_cron_job_skips_a_day_already_exported(tmp_path: Path) -> None:
    config = config_with_export(tmp_path)
    db = Database.open(config.storage.url)
    db.upgrade()
    try:
        sync_config(config, db)
        due = datetime(2024, 10, 14, 22, 10, 0, tzinfo=UTC)  # 00:10 in Paris
        store(db, range(1, 3), due - timedelta(hours=1))
        first, second = Metrics(), Metrics()
        asyncio.run(DailyExports(config, db, lambda: due, first).scheduled("daily"))
        # Another daemon's job fires a moment later, after an article more arrived.
        store(db, range(3, 4), due + timedelta(seconds=2))
        later = due + timedelta(seconds=5)
        asyncio.run(DailyExports(config, db, lambda: later, second).scheduled("daily"))
        assert ids(tmp_path / "out" / "2024-10-15" / "daily.jsonl") == [1, 2]
        assert export_runs(first) == {"written": 1.0}
        assert export_runs(second) == {"skipped": 1.0}
    finally:
        db.dispose()


def test_an_export_another_process_is_running_is_skipped(pg_url: str, tmp_path: Path) -> None:
    config = config_with_export(tmp_path)
    config = dataclasses.replace(config, storage=dataclasses.replace(config.storage, url=pg_url))
    db = Database.open(pg_url)
    db.upgrade()
    other = Database.open(pg_url)
    try:
        sync_config(config, db)
        store(db, range(1, 3), datetime.now(UTC))
        metrics = Metrics()
        exports = DailyExports(config, db, metrics=metrics)
        (export,) = config.exports
        with singleton(other, "export:daily") as held:
            assert held
            assert exports.run(export, "2024-10-15") == []
        assert not (tmp_path / "out" / "2024-10-15").exists()
        (written,) = exports.run(export, "2024-10-15")
        assert written.count == 2
        assert export_runs(metrics) == {"skipped": 1.0, "written": 1.0}
    finally:
        other.dispose()
        db.dispose()


def export_runs(metrics: Metrics) -> dict[str, float]:
    """Return the export_runs counter of `metrics` by outcome."""
    found = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            if sample.name == "newswatch_export_runs_total":
                found[sample.labels["outcome"]] = sample.value
    return found
