"""Claims on due sources (several daemons, one database) and singleton-job locks."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from storage.claims import claim_due, claim_run, release_claims, renew_claims, waiting_sources
from storage.db import Database
from storage.locks import lock_key, singleton
from storage.records import CheckResult, SourceSpec
from storage.sources import record_checks, sync_sources
from tests.conftest import migrated

NOW = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
LEASE_S = 60


def add_feeds(db: Database, count: int) -> None:
    specs = [SourceSpec(f"feed-{n:03d}", "feed", f"http://a.test/{n}.xml") for n in range(count)]
    sync_sources(db, specs, 600, NOW)


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[Database]:
    with migrated(pg_url) as db:
        yield db


def test_a_claimed_source_is_not_claimed_again_until_its_lease_ends(database: Database) -> None:
    add_feeds(database, 3)
    first = claim_due(database, "daemon-a", NOW, LEASE_S, limit=2)
    assert [s.name for s in first] == ["feed-000", "feed-001"]
    soon = NOW + timedelta(seconds=30)
    second = claim_due(database, "daemon-b", soon, LEASE_S, limit=10)
    assert [s.name for s in second] == ["feed-002"]
    assert claim_due(database, "daemon-b", NOW + timedelta(seconds=LEASE_S - 1), LEASE_S, 10) == []
    assert waiting_sources(database, soon) == 0
    # Daemon A died: its leases run out and B takes its feeds.
    later = NOW + timedelta(seconds=LEASE_S)
    assert waiting_sources(database, later) == 2
    taken = claim_due(database, "daemon-b", later, LEASE_S, limit=10)
    assert sorted(s.name for s in taken) == ["feed-000", "feed-001"]


def test_renewal_keeps_a_lease_and_release_frees_the_source(database: Database) -> None:
    add_feeds(database, 2)
    ids = [s.id for s in claim_due(database, "daemon-a", NOW, LEASE_S, limit=10)]
    later = NOW + timedelta(seconds=LEASE_S)
    # Only the owner renews or releases.
    assert renew_claims(database, "daemon-b", ids, later + timedelta(seconds=LEASE_S)) == 0
    assert renew_claims(database, "daemon-a", ids, later + timedelta(seconds=LEASE_S)) == 2
    assert claim_due(database, "daemon-b", later, LEASE_S, limit=10) == []
    # The first feed's check is recorded (not due any more); the other's poll was cut short.
    record_checks(database, [CheckResult(ids[0], later, 200)])
    assert release_claims(database, "daemon-a", ids) == 2
    assert [s.id for s in claim_due(database, "daemon-b", later, LEASE_S, limit=10)] == [ids[1]]


def test_concurrent_claimers_never_share_a_source(pg_database: Database) -> None:
    add_feeds(pg_database, 200)
    claimed: dict[str, list[int]] = {}
    start = threading.Barrier(4)

    def claimer(name: str) -> None:
        mine = claimed.setdefault(name, [])
        start.wait()
        while batch := claim_due(pg_database, name, NOW, LEASE_S, limit=7):
            mine.extend(s.id for s in batch)

    threads = [threading.Thread(target=claimer, args=(f"d{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [source_id for ids in claimed.values() for source_id in ids]
    assert len(everything) == 200
    assert len(set(everything)) == 200
    assert all(claimed.values()), claimed  # each claimer got a share


def test_a_claim_skips_rows_another_transaction_is_claiming(pg_database: Database) -> None:
    add_feeds(pg_database, 3)
    with pg_database.engine.connect() as other:
        # Another daemon's claim transaction, caught between its SELECT and its COMMIT.
        other.execute(text("SELECT id FROM sources ORDER BY id LIMIT 1 FOR UPDATE")).scalar_one()
        result: list[list[str]] = []
        worker = threading.Thread(
            target=lambda: result.append(
                [s.name for s in claim_due(pg_database, "d2", NOW, LEASE_S, limit=10)]
            )
        )
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the claim waited for the locked row"
        other.rollback()
    assert result == [["feed-001", "feed-002"]]


def test_singleton_lock_is_held_by_one_process_at_a_time(pg_database: Database) -> None:
    second = Database.open(str(pg_database.url.render_as_string(hide_password=False)))
    try:
        with singleton(pg_database, "maintenance") as held:
            assert held
            with singleton(second, "maintenance") as also:
                assert not also
            with singleton(second, "export:daily") as other_job:
                assert other_job
        with singleton(second, "maintenance") as now_free:
            assert now_free
    finally:
        second.dispose()


def test_singleton_lock_is_always_held_on_sqlite(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    try:
        with singleton(db, "maintenance") as held, singleton(db, "maintenance") as again:
            assert held and again
    finally:
        db.dispose()


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("maintenance") == lock_key("maintenance")
    assert lock_key("maintenance") != lock_key("dedupe rebuild")
    assert -(2**63) <= lock_key("export:daily") < 2**63


def test_without_a_limit_every_due_source_is_claimed(database: Database) -> None:
    add_feeds(database, 5)
    assert len(claim_due(database, "only-daemon", NOW, LEASE_S, limit=None)) == 5
    assert waiting_sources(database, NOW) == 0


def test_a_site_run_is_taken_once_per_due_time(database: Database) -> None:
    sync_sources(database, [SourceSpec("wire", "site", "http://a.test/sitemap.xml")], 3600, NOW)
    next_due = NOW + timedelta(minutes=59)  # just before the schedule fires again
    assert claim_run(database, "wire", "site", NOW, next_due)
    # Another daemon whose timer fired a moment later finds the run taken.
    later = NOW + timedelta(seconds=2)
    assert not claim_run(database, "wire", "site", later, later + timedelta(minutes=59))
    # Once due again, the next run is anyone's, and again only once.
    hour = NOW + timedelta(hours=1)
    assert claim_run(database, "wire", "site", hour, hour + timedelta(minutes=59))
    assert not claim_run(database, "wire", "site", hour, hour + timedelta(minutes=59))
    # A denser schedule (hourly to every ten minutes): its next run must not wait for
    # the due time the hourly schedule set.
    soon = hour + timedelta(minutes=1)
    assert claim_run(database, "wire", "site", soon, soon + timedelta(minutes=9))
    # A disabled or unknown site is never taken.
    sync_sources(
        database,
        [SourceSpec("wire", "site", "http://a.test/sitemap.xml", enabled=False)],
        3600,
        NOW,
    )
    day = NOW + timedelta(days=1)
    assert not claim_run(database, "wire", "site", day, day + timedelta(hours=1))
    assert not claim_run(database, "nowhere", "site", day, day + timedelta(hours=1))


def test_racing_daemons_take_a_site_run_once(pg_database: Database) -> None:
    sync_sources(pg_database, [SourceSpec("wire", "site", "http://a.test/sitemap.xml")], 3600, NOW)
    barrier = threading.Barrier(6)
    taken: list[bool] = []

    def daemon() -> None:
        barrier.wait()
        taken.append(claim_run(pg_database, "wire", "site", NOW, NOW + timedelta(minutes=59)))

    threads = [threading.Thread(target=daemon) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken) == [False] * 5 + [True]
