"""The maintenance job: daily in the daemon, or by hand with `newswatch db maintain`.

It prunes articles older than `[storage] keep` (when set) and refreshes the database's
statistics. With several daemons on one PostgreSQL only one runs it: the job holds an
advisory lock (`storage.locks.singleton`), and whoever does not get it skips the run.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from scheduler.config import Config
from scheduler.durations import format_duration
from storage.db import Database, one_line
from storage.exceptions import StorageError
from storage.locks import singleton
from storage.maintenance import MaintenanceReport, optimise, prune_texts

log = logging.getLogger("newswatch.maintenance")

# When the daemon runs it, in daemon.timezone: a quiet hour for most news.
MAINTENANCE_CRONTAB = "30 3 * * *"
LOCK_NAME = "maintenance"


def run_maintenance(config: Config, database: Database) -> MaintenanceReport | None:
    """Prune and optimise once; return what was done, or None if another process is at it."""
    with singleton(database, LOCK_NAME) as held:
        if not held:
            log.info("maintenance skipped reason=another daemon holds its lock")
            return None
        now = datetime.now(UTC)
        pruned = 0
        if config.storage.keep_s is not None:
            pruned = prune_texts(database, now - timedelta(seconds=config.storage.keep_s), now)
        statements = optimise(database)
        report = MaintenanceReport(pruned, statements)
        log.info(
            "maintenance done pruned=%d keep=%s statements=%s",
            report.pruned,
            format_duration(config.storage.keep_s) if config.storage.keep_s else "forever",
            ",".join(report.statements),
        )
        return report


async def maintenance_job(config: Config, database: Database) -> None:
    """Run maintenance off the event loop; a failure is logged and retried the next day."""
    try:
        await asyncio.to_thread(run_maintenance, config, database)
    except (StorageError, SQLAlchemyError) as exc:
        log.warning("maintenance failed error=%s", one_line(exc))
