"""`newswatch run`: the daemon, one process and one event loop (see DESIGN.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.workers import WorkerPool
from scheduler import loop
from scheduler.config import Config
from scheduler.daily_exports import DailyExports
from scheduler.poller import Poller, sync_config
from storage.db import Database

log = logging.getLogger("newswatch.daemon")

# Exit status of a forced stop (a second signal), as a shell reports SIGINT.
FORCED_EXIT = 130


class Daemon:
    """The long-running monitor: a tick job that polls due feeds, and a clean stop."""

    def __init__(self, config: Config, database: Database, pool: WorkerPool) -> None:
        self.config = config
        self.database = database
        self.pool = pool
        self.poller = Poller(config, database, pool)
        self.exports = DailyExports(config, database)
        self.scheduler = AsyncIOScheduler(
            # Passed explicitly: start() runs before the loop is "running" in asyncio's
            # sense when called from reactor.callWhenRunning.
            event_loop=loop.event_loop(),
            timezone=config.daemon.timezone,
            job_defaults={
                # A tick that overruns its interval must not start a second crawl.
                "max_instances": 1,
                "coalesce": True,
                "misfire_grace_time": max(30, int(config.daemon.tick_s)),
            },
        )
        self._stopped = asyncio.Event()
        self._stopping = False

    def add_jobs(self) -> None:
        """Build the jobs from the config; nothing is kept in an APScheduler job store."""
        self.scheduler.add_job(
            self.poller.tick,
            IntervalTrigger(seconds=self.config.daemon.tick_s),
            id="tick",
            name="poll due feeds",
            next_run_time=datetime.now(UTC),
        )
        for site in self.config.sites:
            if not site.enabled:
                continue
            trigger: BaseTrigger
            if site.schedule:
                trigger = CronTrigger.from_crontab(
                    site.schedule, timezone=self.config.daemon.tzinfo
                )
            else:
                interval = site.interval_s or self.config.polling.default_interval_s
                trigger = IntervalTrigger(seconds=interval)
            # One job per site; max_instances=1 (the default above) keeps two runs of the
            # same site from overlapping, while different sites run side by side.
            self.scheduler.add_job(
                self.poller.site_job,
                trigger,
                args=[site.name],
                id=f"site:{site.name}",
                name=f"crawl site {site.name}",
            )
        self.exports.add_jobs(self.scheduler)

    async def main(self) -> None:
        """Run until a signal asks to stop, then stop in order."""
        running = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(signum, self.request_stop, signum)
        self.add_jobs()
        self.scheduler.start()
        log.info(
            "daemon started pid=%d feeds=%d sites=%d topics=%d exports=%d tick=%ss database=%s",
            os.getpid(),
            len(self.config.feeds),
            len(self.config.sites),
            len(self.config.topics),
            len(self.config.exports),
            self.config.daemon.tick_s,
            self.database.display_url,
        )
        await self._stopped.wait()
        # The order matters: pausing first keeps new ticks from starting, and shutting
        # the scheduler down before the crawls end would cancel them halfway.
        self.scheduler.pause()
        await self.poller.stop()
        await self.exports.stop()
        self.scheduler.shutdown(wait=False)
        log.info("daemon stopped")

    def request_stop(self, signum: int) -> None:
        """Begin a clean stop; a second signal forces the exit."""
        if self._stopping:
            log.warning("second signal, exiting now signal=%s", signal.Signals(signum).name)
            os._exit(FORCED_EXIT)
        self._stopping = True
        log.info("stopping signal=%s", signal.Signals(signum).name)
        self._stopped.set()


def run_daemon(config: Config) -> None:
    """Open the database, migrate it, and run the daemon until it is told to stop."""
    loop.event_loop()
    database = Database.open(config.storage.url)
    try:
        database.lock_daemon()
        database.upgrade()
        sync_config(config, database)
        pool = WorkerPool()
        try:
            daemon = Daemon(config, database, pool)
            loop.run(daemon.main)
        finally:
            pool.close()
    finally:
        database.dispose()
