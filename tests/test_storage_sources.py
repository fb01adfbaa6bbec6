"""Sources: config sync, due sources, and how each check reschedules a source."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage.db import Database
from storage.models import Source
from storage.records import CheckResult, SourceSpec, SourceState
from storage.sources import (
    disabled_reasons,
    due_sources,
    enable_source,
    record_checks,
    sync_sources,
)

NOW = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def source_row(db: Database, name: str) -> Source:
    with db.session() as session:
        row = session.scalars(select(Source).where(Source.name == name)).one()
        session.expunge(row)
        return row


def names(states: list[SourceState]) -> list[str]:
    return [state.name for state in states]


def test_new_sources_are_due_at_once(database: Database) -> None:
    sync_sources(
        database,
        [
            SourceSpec("world", "feed", "http://a.test/world.xml"),
            SourceSpec("tech", "feed", "http://a.test/tech.xml", interval_s=300),
            SourceSpec("site", "site", "http://a.test/sitemap.xml"),
        ],
        default_interval_s=1800,
        now=NOW,
    )
    due = due_sources(database, NOW)
    assert names(due) == ["world", "tech"]  # feeds only by default
    assert [state.interval_s for state in due] == [1800, 300]
    assert names(due_sources(database, NOW, kinds=("site",))) == ["site"]
    assert due_sources(database, NOW - MINUTE) == []


def test_sources_left_out_of_config_are_disabled_not_deleted(database: Database) -> None:
    specs = [SourceSpec("a", "feed", "http://a.test/"), SourceSpec("b", "feed", "http://b.test/")]
    sync_sources(database, specs, 1800, NOW)
    sync_sources(database, specs[:1], 1800, NOW)
    assert names(due_sources(database, NOW)) == ["a"]
    assert source_row(database, "b").enabled is False
    sync_sources(database, specs, 1800, NOW)  # back in the config: enabled again
    assert names(due_sources(database, NOW)) == ["a", "b"]


def test_due_sources_oldest_first_with_limit(database: Database) -> None:
    specs = [SourceSpec(name, "feed", f"http://{name}.test/") for name in ("a", "b", "c")]
    sync_sources(database, specs, 600, NOW)
    ids = {state.name: state.id for state in due_sources(database, NOW)}
    record_checks(
        database,
        [
            CheckResult(ids["a"], NOW, 200, next_check_at=NOW + 3 * MINUTE),
            CheckResult(ids["b"], NOW, 200, next_check_at=NOW + 1 * MINUTE),
            CheckResult(ids["c"], NOW, 200, next_check_at=NOW + 2 * MINUTE),
        ],
    )
    later = NOW + 5 * MINUTE
    assert names(due_sources(database, later)) == ["b", "c", "a"]
    assert names(due_sources(database, later, limit=2)) == ["b", "c"]
    assert names(due_sources(database, NOW + 2 * MINUTE)) == ["b", "c"]


def test_a_source_counts_as_checked_from_its_first_check(database: Database) -> None:
    """A feed never checked has no sightings, so a poll skips looking its entries up."""
    specs = [SourceSpec(name, "feed", f"http://{name}.test/") for name in ("a", "b")]
    sync_sources(database, specs, 600, NOW)
    states = due_sources(database, NOW)
    assert [state.checked for state in states] == [False, False]
    failed = CheckResult(states[0].id, NOW, None, error="connection refused", next_check_at=NOW)
    record_checks(database, [failed])
    checked = {state.name: state.checked for state in due_sources(database, NOW)}
    assert checked == {"a": True, "b": False}


def test_named_sources_are_returned_due_or_not(database: Database) -> None:
    specs = [
        SourceSpec("a", "feed", "http://a.test/"),
        SourceSpec("b", "feed", "http://b.test/"),
        SourceSpec("off", "feed", "http://off.test/", enabled=False),
    ]
    sync_sources(database, specs, 600, NOW)
    a_id = names_to_ids(database)["a"]
    record_checks(database, [CheckResult(a_id, NOW, 200)])  # a is not due for 10 minutes
    assert names(due_sources(database, NOW, names=["a", "off", "unknown"])) == ["a"]
    assert due_sources(database, NOW, names=[]) == []


def names_to_ids(db: Database) -> dict[str, int]:
    return {state.name: state.id for state in due_sources(db, NOW + timedelta(days=365))}


def test_success_keeps_validators_on_304_and_schedules_by_interval(database: Database) -> None:
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/")], 900, NOW)
    (state,) = due_sources(database, NOW)
    record_checks(
        database,
        [
            CheckResult(
                state.id, NOW, 200, etag='"v1"', last_modified="Tue, 15 Oct 2024", new_articles=3
            )
        ],
    )
    checked = NOW + timedelta(minutes=15)
    record_checks(database, [CheckResult(state.id, checked, 304)])
    row = source_row(database, "a")
    assert (row.etag, row.last_modified) == ('"v1"', "Tue, 15 Oct 2024")
    assert row.last_status == 304
    assert row.last_checked_at == checked
    assert row.last_new_at == NOW  # the 304 brought nothing new
    assert row.next_check_at == checked + timedelta(seconds=900)
    (again,) = due_sources(database, checked + timedelta(seconds=900))
    assert again.etag == '"v1"'


def test_errors_back_off_then_success_resets(database: Database) -> None:
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/", interval_s=3600)], 900, NOW)
    (state,) = due_sources(database, NOW)
    delays = []
    checked = NOW
    for _ in range(30):
        record_checks(database, [CheckResult(state.id, checked, 503, error="HTTP 503")])
        row = source_row(database, "a")
        delays.append(row.next_check_at - checked)
        checked = row.next_check_at
    assert delays[:3] == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=3)]
    assert delays[-1] == timedelta(hours=24)  # capped
    assert (row.error_count, row.last_error, row.last_status) == (30, "HTTP 503", 503)
    (failing,) = due_sources(database, checked)
    assert failing.error_count == 30

    record_checks(database, [CheckResult(state.id, checked, 200)])
    row = source_row(database, "a")
    assert (row.error_count, row.last_error) == (0, None)
    assert row.next_check_at == checked + timedelta(hours=1)


def test_explicit_next_check_wins(database: Database) -> None:
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/")], 900, NOW)
    (state,) = due_sources(database, NOW)
    retry_after = NOW + timedelta(hours=6)
    record_checks(
        database, [CheckResult(state.id, NOW, 429, error="HTTP 429", next_check_at=retry_after)]
    )
    assert source_row(database, "a").next_check_at == retry_after


def test_changed_url_forgets_validators_and_is_due_now(database: Database) -> None:
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/old.xml")], 900, NOW)
    (state,) = due_sources(database, NOW)
    record_checks(database, [CheckResult(state.id, NOW, 200, etag='"old"')])
    later = NOW + MINUTE
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/new.xml")], 900, later)
    (moved,) = due_sources(database, later)
    assert (moved.id, moved.url, moved.etag) == (state.id, "http://a.test/new.xml", None)


def test_shorter_interval_applies_now(database: Database) -> None:
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/")], 86400, NOW)
    (state,) = due_sources(database, NOW)
    record_checks(database, [CheckResult(state.id, NOW, 200)])  # next check in a day
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/", interval_s=600)], 86400, NOW)
    assert source_row(database, "a").next_check_at == NOW + timedelta(minutes=10)
    unchanged_before = source_row(database, "a").updated_at
    sync_sources(
        database, [SourceSpec("a", "feed", "http://a.test/", interval_s=600)], 86400, NOW + MINUTE
    )
    assert source_row(database, "a").updated_at == unchanged_before


def test_a_permanent_move_survives_a_config_sync(database: Database) -> None:
    spec = SourceSpec("a", "feed", "http://a.test/old.xml")
    sync_sources(database, [spec], 900, NOW)
    (state,) = due_sources(database, NOW)
    moved = CheckResult(state.id, NOW, 200, etag='"v1"', moved_to="http://b.test/new.xml")
    record_checks(database, [moved])
    sync_sources(database, [spec], 900, NOW + MINUTE)  # a restart: the config is the same
    row = source_row(database, "a")
    assert (row.url, row.configured_url, row.moved_at) == (
        "http://b.test/new.xml",
        "http://a.test/old.xml",
        NOW,
    )
    assert row.etag == '"v1"'  # the validators the new URL gave
    # The user edits the URL: theirs wins over the move.
    sync_sources(database, [SourceSpec("a", "feed", "http://c.test/")], 900, NOW + MINUTE)
    row = source_row(database, "a")
    assert (row.url, row.configured_url, row.moved_at, row.etag) == (
        "http://c.test/",
        "http://c.test/",
        None,
        None,
    )


def test_a_source_newswatch_disabled_stays_disabled_until_enabled(database: Database) -> None:
    spec = SourceSpec("a", "feed", "http://a.test/")
    sync_sources(database, [spec], 900, NOW)
    (state,) = due_sources(database, NOW)
    gone = CheckResult(state.id, NOW, 410, error="HTTP 410 Gone", disable=True)
    record_checks(database, [gone])
    later = NOW + timedelta(days=2)
    assert due_sources(database, later) == []
    assert disabled_reasons(database, ["a", "b"]) == {"a": "HTTP 410 Gone"}
    # Neither a restart nor switching it off and on in the config brings it back.
    sync_sources(database, [spec], 900, later)
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/", enabled=False)], 900, later)
    sync_sources(database, [spec], 900, later)
    assert due_sources(database, later) == []
    assert source_row(database, "a").disabled_at == NOW
    assert enable_source(database, "a", later) == "HTTP 410 Gone"
    (again,) = due_sources(database, later)
    assert (again.error_count, again.failing_since) == (0, None)
    assert enable_source(database, "a", later) is None  # not disabled: nothing to do


def test_failing_since_marks_the_first_error_of_a_run(database: Database) -> None:
    sync_sources(database, [SourceSpec("a", "feed", "http://a.test/")], 900, NOW)
    (state,) = due_sources(database, NOW)
    for hours in (0, 1, 2):
        failed = CheckResult(state.id, NOW + timedelta(hours=hours), 500, error="HTTP 500")
        record_checks(database, [failed])
    assert source_row(database, "a").failing_since == NOW
    record_checks(database, [CheckResult(state.id, NOW + timedelta(hours=3), 200)])
    assert source_row(database, "a").failing_since is None


def test_one_batch_records_each_outcome_as_it_would_alone(database: Database) -> None:
    # Different outcomes set different columns; in one call, each source gets its own, and
    # two results for one source apply one after the other.
    specs = [SourceSpec(name, "feed", f"http://{name}.test/") for name in "abcde"]
    sync_sources(database, specs, 900, NOW)
    ids = {state.name: state.id for state in due_sources(database, NOW)}
    later = NOW + MINUTE
    record_checks(
        database,
        [
            CheckResult(ids["a"], NOW, 304),
            CheckResult(ids["b"], NOW, 200, etag='"b1"', new_articles=2, body_hash="h" * 64),
            CheckResult(ids["c"], NOW, 503, error="HTTP 503"),
            CheckResult(ids["d"], NOW, 410, error="HTTP 410 Gone", disable=True),
            CheckResult(ids["e"], NOW, 200, moved_to="http://moved.test/", interval_s=600),
            CheckResult(ids["c"], later, 503, error="HTTP 503 again"),
            CheckResult(-1, NOW, 304),  # unknown: ignored
        ],
    )
    a, b, c, d, e = (source_row(database, name) for name in "abcde")
    assert (a.last_status, a.etag, a.error_count) == (304, None, 0)
    assert a.next_check_at == NOW + timedelta(seconds=900)
    assert (b.etag, b.body_hash, b.last_new_at) == ('"b1"', "h" * 64, NOW)
    assert (c.error_count, c.last_error, c.failing_since) == (2, "HTTP 503 again", NOW)
    assert c.next_check_at == later + timedelta(seconds=1800)
    assert (d.disabled_reason, d.disabled_at) == ("HTTP 410 Gone", NOW)
    assert (e.url, e.moved_at, e.interval_s) == ("http://moved.test/", NOW, 600)
    assert e.next_check_at == NOW + timedelta(seconds=600)
    assert sorted(names(due_sources(database, NOW + timedelta(days=2)))) == ["a", "b", "c", "e"]
