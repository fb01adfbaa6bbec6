"""This daemon's claims on due feeds: claimed per batch, renewed while polled, released.

The storage side is `storage.claims`. Here the leases are kept alive from the event
loop while a batch is crawled, so a lease can be short (a dead daemon's feeds are picked
up soon) and still outlast a crawl of any length.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from storage.claims import claim_due, release_claims, renew_claims, waiting_sources
from storage.db import Database, one_line
from storage.exceptions import StorageError
from storage.records import SourceState

log = logging.getLogger("newswatch.leases")

# A lease is renewed this many times per lease period, so one late renewal is harmless.
RENEWALS_PER_LEASE = 3


def daemon_id() -> str:
    """Return a name for this process, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Leases:
    """Claim batches of due feeds for one daemon and hold them while they are polled."""

    def __init__(self, database: Database, lease_s: int, batch: int | None) -> None:
        self.database = database
        self.lease_s = lease_s
        self.batch = batch
        self.owner = daemon_id()
        self.waiting = 0  # due feeds nobody had claimed at the last claim

    async def claim(self) -> list[SourceState]:
        """Claim up to a batch of the feeds due now; note how many are left waiting.

        Once `claim_due` has committed, the batch must reach the caller, who polls it and
        releases it (`held`): raised here, it would be lost while its leases still name
        this daemon, and no tick (of this daemon or another) could take those feeds again
        until the leases ran out, minutes later. So a failure to count the waiting feeds
        (the database going away in between) keeps the last count and is only logged.
        """
        now = datetime.now(UTC)
        # The tick claims a batch only once the last one is released: any lease of ours
        # found now is a leftover, taken back (see claim_due).
        claimed = await asyncio.to_thread(
            claim_due, self.database, self.owner, now, self.lease_s, self.batch, reclaim=True
        )
        try:
            self.waiting = await asyncio.to_thread(waiting_sources, self.database, now)
        except StorageError as exc:
            log.warning("waiting feeds not counted claimed=%d error=%s", len(claimed), exc)
        return claimed

    @contextlib.asynccontextmanager
    async def held(self, sources: Sequence[SourceState]) -> AsyncIterator[None]:
        """Renew the leases on `sources` until the block ends, then release them.

        Their checks are recorded inside the block, so a released source is no longer
        due; one whose poll was cut short by a stop is due, and free for any daemon.
        """
        ids = [source.id for source in sources]
        renewer = asyncio.ensure_future(self._renew(ids)) if ids else None
        try:
            yield
        finally:
            if renewer is not None:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            if ids:
                try:
                    await asyncio.to_thread(release_claims, self.database, self.owner, ids)
                except StorageError as exc:
                    # The database is still away (storage retried already). The leases run
                    # out by themselves, and this daemon's next claim takes them back.
                    log.warning("leases not released feeds=%d error=%s", len(ids), exc)

    async def _renew(self, ids: list[int]) -> None:
        while True:
            await asyncio.sleep(self.lease_s / RENEWALS_PER_LEASE)
            until = datetime.now(UTC) + timedelta(seconds=self.lease_s)
            try:
                held = await asyncio.to_thread(renew_claims, self.database, self.owner, ids, until)
            except (StorageError, SQLAlchemyError) as exc:
                # Try again at the next renewal; the lease still has two thirds to run.
                log.warning("lease renewal failed feeds=%d error=%s", len(ids), one_line(exc))
                continue
            if held < len(ids):
                # Our lease ran out (the loop stalled longer than a lease) and another
                # daemon may poll those feeds too; the unique constraints keep the data
                # right, but the lease is too short for this machine.
                log.warning(
                    "lease lost on some feeds held=%d claimed=%d lease=%ss",
                    held,
                    len(ids),
                    self.lease_s,
                )
