"""`newswatch run`: the daemon, one process and one event loop (see DESIGN.md)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.workers import WorkerPool
from scheduler import loop
from scheduler.config import Config
from scheduler.daily_exports import DailyExports
from scheduler.endpoint import Endpoint, daemon_probe
from scheduler.maintenance import MAINTENANCE_CRONTAB, maintenance_job
from scheduler.metrics import Metrics
from scheduler.notify import notify
from scheduler.poller import Poller, sync_config
from scheduler.reload import TICK_JOB, ConfigReloader, watch_interval
from scheduler.site_jobs import schedule_sites
from storage.claims import forget_claims
from storage.db import Database
from storage.probe import check_export_folder

log = logging.getLogger("newswatch.daemon")

# Exit status of a forced stop (a second signal), as a shell reports SIGINT.
FORCED_EXIT = 130


class OverrunTickFilter(logging.Filter):
    """Make APScheduler's "skipped: maximum number of running instances" a debug record
    for the tick job.

    APScheduler warns whenever a job fires while its last run goes on. For the tick that
    is routine: a poll longer than the tick covers the ticks it skips (they coalesce).
    A site whose run outlasts its schedule still warns.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        job = args[0] if args else None
        if getattr(job, "id", None) != TICK_JOB or "running instances" not in str(record.msg):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


class Daemon:
    """The long-running monitor: a tick job that polls due feeds, and a clean stop."""

    def __init__(self, config: Config, database: Database, pool: WorkerPool) -> None:
        self.config = config
        self.database = database
        self.pool = pool
        self.metrics = Metrics() if config.daemon.metrics else None
        extra = self.metrics.settings() if self.metrics is not None else None
        self.poller = Poller(config, database, pool, extra)
        self.exports = DailyExports(config, database, metrics=self.metrics)
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
        scheduler_log = logging.getLogger("apscheduler.scheduler")
        if not any(isinstance(f, OverrunTickFilter) for f in scheduler_log.filters):
            scheduler_log.addFilter(OverrunTickFilter())
        self.reloader = ConfigReloader(self)
        self._stopped = asyncio.Event()
        self._stopping = False
        self._started = time.monotonic()

    def add_jobs(self) -> None:
        """Build the jobs from the config; nothing is kept in an APScheduler job store."""
        self.scheduler.add_job(
            self.poller.tick,
            IntervalTrigger(seconds=self.config.daemon.tick_s),
            id=TICK_JOB,
            name="poll due feeds",
            next_run_time=datetime.now(UTC),
        )
        schedule_sites(self.scheduler, self.poller.site_job, None, self.config)
        self.scheduler.add_job(
            self.reloader.check,
            IntervalTrigger(seconds=watch_interval(self.config)),
            id="config",
            name="apply config.toml changes",
        )
        self.scheduler.add_job(
            self.maintain,
            CronTrigger.from_crontab(MAINTENANCE_CRONTAB, timezone=self.config.daemon.tzinfo),
            id="maintenance",
            name="prune and optimise the database",
        )
        self.exports.add_jobs(self.scheduler)

    async def maintain(self) -> None:
        """Run the maintenance job with the config in force now (a reload may change it)."""
        await maintenance_job(self.config, self.database)

    async def main(self) -> None:
        """Run until a signal asks to stop, then stop in order."""
        running = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            running.add_signal_handler(signum, self.request_stop, signum)
        running.add_signal_handler(signal.SIGHUP, self.reloader.request)
        self.add_jobs()
        endpoint = self.start_endpoint()  # first: a taken port stops the start cleanly
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
        notify("READY=1\nSTATUS=polling feeds")
        await self._stopped.wait()
        # The order matters: pausing first keeps new ticks from starting, and shutting
        # the scheduler down before the crawls end would cancel them halfway.
        self.scheduler.pause()
        await self.poller.stop()
        await self.exports.stop()
        self.scheduler.shutdown(wait=False)
        if endpoint is not None:
            endpoint.stop()
        log.info("daemon stopped")

    def start_endpoint(self) -> Endpoint | None:
        """Serve /healthz and /metrics, when configured."""
        endpoint = None
        if self.metrics is not None and self.config.daemon.metrics is not None:
            self.metrics.watch(lambda: self.poller.leases.waiting, self.tick_age_s)
            probe = daemon_probe(
                self.database, self.scheduler, self.tick_age_s, self.config.daemon.tick_s
            )
            host, port = self.config.daemon.metrics
            endpoint = Endpoint(host, port, self.metrics, probe)
            endpoint.start()
        return endpoint

    def tick_age_s(self) -> float:
        """Return the seconds since a tick last began or ended a batch (or since start)."""
        return time.monotonic() - (self.poller.last_tick or self._started)

    def request_stop(self, signum: int) -> None:
        """Begin a clean stop; a second signal forces the exit."""
        if self._stopping:
            log.warning("second signal, exiting now signal=%s", signal.Signals(signum).name)
            os._exit(FORCED_EXIT)
        self._stopping = True
        notify("STOPPING=1")
        log.info("stopping signal=%s", signal.Signals(signum).name)
        self._stopped.set()


def run_daemon(config: Config) -> None:
    """Open the database, migrate it, and run the daemon until it is told to stop."""
    loop.event_loop()
    for export in config.exports:
        # A daily export that could never be written is a mistake to hear of now.
        check_export_folder(export.name, export.directory)
    database = Database.open(config.storage.url)
    try:
        database.lock_daemon()
        database.upgrade(elsewhere=True)
        if database.dialect == "sqlite":
            forget_claims(database)  # a killed predecessor's: this daemon is the only one
        sync_config(config, database)
        pool = WorkerPool()
        pool.start()
        try:
            daemon = Daemon(config, database, pool)
            loop.run(daemon.main)
        finally:
            pool.close()
    finally:
        database.dispose()
