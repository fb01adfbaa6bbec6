"""Source health: article counts over time, and stale sources."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.articles import store_articles
from storage.db import Database
from storage.health import source_health
from storage.records import CheckResult, SeenEntry, SourceSpec
from storage.sightings import record_rejected
from storage.sources import due_sources, record_checks, sync_sources
from tests.test_storage_articles import article

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def ids(database: Database) -> dict[str, int]:
    start = NOW - 30 * DAY
    specs = [SourceSpec(name, "feed", f"http://{name}.test/feed.xml") for name in "abcd"]
    sync_sources(database, specs, 3600, start)
    return {state.name: state.id for state in due_sources(database, start)}


def test_articles_are_counted_over_the_last_day_and_week(
    database: Database, ids: dict[str, int]
) -> None:
    a = ids["a"]
    for n, age in enumerate([timedelta(hours=2), 3 * DAY, 6 * DAY, 20 * DAY]):
        store_articles(database, [article(a, f"k{n}", f"http://a.test/{n}")], NOW - age)
    # Entries that matched no topic are seen, not stored: they are not counted.
    record_rejected(database, [SeenEntry(a, "off", "http://a.test/off")], NOW)
    health = {h.name: h for h in source_health(database, NOW)}
    assert (health["a"].articles, health["a"].articles_7d, health["a"].articles_24h) == (4, 3, 1)
    assert (health["b"].articles, health["b"].articles_7d, health["b"].articles_24h) == (0, 0, 0)


def test_a_source_quiet_for_far_longer_than_its_rhythm_is_stale(
    database: Database, ids: dict[str, int]
) -> None:
    checks = [
        # a: brought something new yesterday.
        CheckResult(ids["a"], NOW - DAY, 200, new_articles=1),
        CheckResult(ids["a"], NOW - timedelta(hours=1), 304),
        # b: checked hourly, nothing new for ten days.
        CheckResult(ids["b"], NOW - 10 * DAY, 200, new_articles=1),
        CheckResult(ids["b"], NOW - timedelta(hours=1), 304),
        # c: checked, failing: failing shows before stale.
        CheckResult(ids["c"], NOW - timedelta(hours=1), None, error="timed out"),
    ]
    for check in checks:
        record_checks(database, [check])
    # d: never checked yet; not stale, whatever its age.
    states = {h.name: (h.state, h.stale) for h in source_health(database, NOW)}
    assert states == {
        "a": ("ok", False),
        "b": ("stale", True),
        "c": ("failing", True),
        "d": ("ok", False),
    }
    assert source_health(database, NOW)[1].as_json()["state"] == "stale"
