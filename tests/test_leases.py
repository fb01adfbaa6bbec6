"""The daemon's leases on due feeds (scheduler.leases) when the database goes away."""

from __future__ import annotations

import asyncio

import pytest

from scheduler import leases
from scheduler.leases import Leases
from storage.claims import claim_due
from storage.db import Database
from storage.exceptions import DatabaseUnavailable
from storage.records import SourceSpec
from storage.sources import sync_sources
from tests.test_storage_claims import NOW

LEASE_S = 300


def test_a_batch_claimed_just_before_an_outage_still_reaches_the_tick(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The claim commits, then the database goes away before the waiting feeds are
    # counted. Losing the batch then would leave its feeds leased to this daemon, and
    # skipped by every tick, for the whole lease (the proxy outage test hung so).
    sync_sources(database, [SourceSpec("wire", "feed", "http://a.test/wire.xml")], 600, NOW)

    def unavailable(*_args: object) -> int:
        raise DatabaseUnavailable("storage: database error: server closed the connection")

    monkeypatch.setattr(leases, "waiting_sources", unavailable)
    held = Leases(database, LEASE_S, batch=None)
    held.waiting = 7

    async def claim_and_release() -> list[str]:
        claimed = await held.claim()
        async with held.held(claimed):
            pass
        return [source.name for source in claimed]

    assert asyncio.run(claim_and_release()) == ["wire"]
    assert held.waiting == 7  # the last count stands
    # Released: the feed is free for the next tick (of any daemon) at once.
    assert [s.name for s in claim_due(database, "other", NOW, LEASE_S, None)] == ["wire"]


def test_a_leftover_lease_of_this_daemon_is_claimed_again_at_once(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A claim whose commit went through while its answer was lost, or a release that
    # failed, leaves a lease naming this daemon: its next claim takes the feed back
    # rather than waiting out the lease. Another daemon still waits.
    sync_sources(database, [SourceSpec("wire", "feed", "http://a.test/wire.xml")], 600, NOW)
    held = Leases(database, LEASE_S, batch=None)

    def unavailable(*_args: object) -> int:
        raise DatabaseUnavailable("storage: database error: server closed the connection")

    async def poll_once(release_fails: bool) -> list[str]:
        claimed = await held.claim()
        if release_fails:
            monkeypatch.setattr(leases, "release_claims", unavailable)
        async with held.held(claimed):  # a failed release is logged, not raised
            pass
        monkeypatch.undo()
        return [source.name for source in claimed]

    assert asyncio.run(poll_once(release_fails=True)) == ["wire"]
    assert claim_due(database, "other", NOW, LEASE_S, None) == []  # still leased
    assert asyncio.run(poll_once(release_fails=False)) == ["wire"]
    assert [s.name for s in claim_due(database, "other", NOW, LEASE_S, None)] == ["wire"]
