"""The daily export jobs: one cron job per named export, and the runs missed while down.

Each `[[exports]]` entry gets a cron job at its `at` time in `daemon.timezone`. At start
the daemon also runs, once, every export that is due and has not run since it was due
(the daemon was down at that time), and finishes any run a crash left pending. A run
writes the day folder of the day it was due, so a run missed at 00:10 and made up at
09:00 lands in the same folder it would have.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from scheduler.config import Config, ExportConfig
from scheduler.metrics import Metrics
from storage.daily_export import ExportedDay, run_export_alone
from storage.db import Database
from storage.exceptions import StorageError
from storage.export_runs import last_finished, pending_run

log = logging.getLogger("newswatch.exports")

Clock = Callable[[], datetime]
JOB_PREFIX = "export:"
MISSED_JOB = "missed-exports"  # outside JOB_PREFIX: an export may be called "missed"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def last_due(export: ExportConfig, now: datetime, zone: ZoneInfo) -> datetime:
    """Return the latest moment at or before `now` when `export` was due, aware."""
    local = now.astimezone(zone)
    due = local.replace(hour=export.hour, minute=export.minute, second=0, microsecond=0)
    if due > local:
        # The day before, at the same wall time (a DST change moves the UTC instant).
        due = (due - timedelta(days=1)).replace(tzinfo=zone)
    return due


class DailyExports:
    """Run the configured exports on their schedule, each in a worker thread."""

    def __init__(
        self,
        config: Config,
        database: Database,
        clock: Clock = _utc_now,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.database = database
        self.clock = clock
        self.metrics = metrics
        self.zone = config.daemon.tzinfo
        self._running: set[asyncio.Task[list[ExportedDay]]] = set()

    def add_jobs(self, scheduler: BaseScheduler) -> None:
        """Add a cron job per export, and one job now for the runs that were missed."""
        self._add_cron_jobs(scheduler)
        if self.config.exports:
            scheduler.add_job(self.catch_up, id=MISSED_JOB, name="run missed exports")

    def apply(self, config: Config, scheduler: BaseScheduler) -> None:
        """Follow a reloaded config: export jobs added, removed, or moved to a new time.

        The time zone stays the one the daemon started with (a restart changes it).
        """
        for job in scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                job.remove()
        self.config = config
        self._add_cron_jobs(scheduler)

    def _add_cron_jobs(self, scheduler: BaseScheduler) -> None:
        for export in self.config.exports:
            scheduler.add_job(
                self.scheduled,
                CronTrigger(hour=export.hour, minute=export.minute, timezone=self.zone),
                args=[export.name],
                id=f"{JOB_PREFIX}{export.name}",
                name=f"export {export.name}",
            )

    def missed(self) -> list[tuple[ExportConfig, str]]:
        """Return each export that should run now, with the day it was due."""
        now = self.clock()
        due = [(export, self._due_day(export, now)) for export in self.config.exports]
        return [(export, day) for export, day in due if day is not None]

    def _due_day(self, export: ExportConfig, now: datetime) -> str | None:
        """Return the day `export` was last due if no run has covered it yet, else None."""
        when = last_due(export, now, self.zone)
        finished = last_finished(self.database, export.name)
        if pending_run(self.database, export.name) is not None or (
            finished is None or finished < when
        ):
            return when.date().isoformat()
        return None

    async def catch_up(self) -> None:
        """Run, one after the other, the exports missed while the daemon was down."""
        for export, day in await asyncio.to_thread(self.missed):
            log.info("running missed export export=%s day=%s", export.name, day)
            await self._run(export, day)

    async def scheduled(self, name: str) -> None:
        """Run the export `name` for the day it is due, as its cron job.

        With several daemons each has this job; one runs it and the others, finding its
        lock held or the day already exported, skip.
        """
        export = self.config.export_named(name)
        if export is not None:
            day = last_due(export, self.clock(), self.zone).date().isoformat()
            await self._run(export, day)

    async def _run(self, export: ExportConfig, day: str) -> list[ExportedDay]:
        task = asyncio.ensure_future(asyncio.to_thread(self.run, export, day))
        self._running.add(task)
        try:
            return await asyncio.shield(task)
        finally:
            self._running.discard(task)

    def run(self, export: ExportConfig, day: str) -> list[ExportedDay]:
        """Run one export now, unless already done since due; a failure is logged."""
        try:
            written = run_export_alone(
                self.database,
                self.config.export_spec(export),
                day,
                clock=self.clock,
                still_due=lambda: self._due_day(export, self.clock()) is not None,
            )
        except (StorageError, OSError) as error:
            # Left pending: the next run (or the next start) finishes it.
            log.error("export failed export=%s day=%s error=%s", export.name, day, error)
            self._count(export.name, "failed")
            return []
        if written is None:
            log.info(
                "export skipped export=%s day=%s reason=done or running elsewhere",
                export.name,
                day,
            )
            self._count(export.name, "skipped")
            return []
        self._count(export.name, "written")
        return written

    def _count(self, name: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.export_runs.labels(export=name, outcome=outcome).inc()

    async def stop(self) -> None:
        """Wait for running exports to finish, so a clean stop leaves none pending."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
