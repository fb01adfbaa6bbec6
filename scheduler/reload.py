"""Apply config.toml changes to the running daemon: on a file change, and on SIGHUP.

A small job looks at the file's stat (modification time, size, inode) every few
seconds; a changed file is read once it has stayed the same for one look, so an editor
caught halfway through writing it is not read. SIGHUP reads it at once.

A config that fails validation changes nothing: one warning line names every problem,
and the running config stays in force. A valid one is applied without a restart:
- the sources and topics tables are synced (feeds and sites added, removed, changed);
- the next crawl uses the new feed options, topic rules and HTTP limits;
- site jobs are added, removed or rescheduled, and the tick follows `daemon.tick`.

`storage.url` and `daemon.timezone` need a restart: a change to them is logged as such,
and the running daemon keeps the old value until then. `daemon.metrics` and
`daemon.log_format` are also set up once at start (where `run --metrics` and
`--log-format` may override them) and keep their values until a restart.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.config import Config, ConfigError, load_config
from scheduler.daily_exports import DailyExports
from scheduler.poller import Poller, sync_config
from scheduler.site_jobs import schedule_sites
from storage.db import Database
from storage.exceptions import StorageError

log = logging.getLogger("newswatch.reload")

WATCH_MAX_S = 5  # the file is looked at every tick, or this often if the tick is longer
TICK_JOB = "tick"


class Reloadable(Protocol):
    """The parts of the daemon a new config reaches."""

    config: Config
    database: Database
    poller: Poller
    scheduler: AsyncIOScheduler
    exports: DailyExports


@dataclass(frozen=True, slots=True)
class FileStamp:
    """What changes when a file is written in place or replaced."""

    mtime_ns: int
    size: int
    inode: int


def file_stamp(path: Path) -> FileStamp | None:
    """Return the file's stamp, None when it cannot be read (being replaced, deleted)."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return FileStamp(found.st_mtime_ns, found.st_size, found.st_ino)


def watch_interval(config: Config) -> int:
    """Return how often, in seconds, the daemon looks at the config file."""
    return max(1, min(config.daemon.tick_s, WATCH_MAX_S))


class ConfigReloader:
    """Notice config.toml changes and apply them to the running daemon."""

    def __init__(self, daemon: Reloadable) -> None:
        self.daemon = daemon
        self.path = daemon.config.path
        self._applied = file_stamp(self.path)  # the file the running config came from
        self._seen = self._applied  # at the last look
        self._refused: FileStamp | None = None  # a file already reported as invalid
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[bool]] = set()

    async def check(self) -> None:
        """Reload if the file changed, and has not changed since the last look."""
        now = file_stamp(self.path)
        previous, self._seen = self._seen, now
        if now is None or now != previous or now in (self._applied, self._refused):
            return
        await self.reload("file changed")

    def request(self) -> None:
        """Reload now (the SIGHUP handler); the work runs as a task on the loop."""
        task = asyncio.get_running_loop().create_task(self.reload("SIGHUP"))
        self._tasks.add(task)  # a task nobody references may be collected mid-way
        task.add_done_callback(self._tasks.discard)

    async def reload(self, reason: str) -> bool:
        """Read the file and apply it; return whether the new config is now in force."""
        async with self._lock:
            stamp = file_stamp(self.path)
            try:
                new = await asyncio.to_thread(load_config, self.path)
            except ConfigError as error:
                self._refused = stamp
                problems = "; ".join(str(problem) for problem in error.problems)
                log.warning(
                    "config not applied, the running config stays in force reason=%s: %s",
                    reason,
                    problems,
                )
                return False
            self._applied, self._refused = stamp, None
            old = self.daemon.config
            new = _keep_restart_only(old, new)
            if new == old:
                log.info("config unchanged reason=%s", reason)
                return True
            try:
                await self._apply(old, new)
            except StorageError as error:
                log.warning("config not applied, the running config stays in force: %s", error)
                return False
            log.info("config applied reason=%s %s", reason, _changes(old, new))
            return True

    async def _apply(self, old: Config, new: Config) -> None:
        daemon = self.daemon
        await asyncio.to_thread(sync_config, new, daemon.database)
        daemon.poller.apply(new)
        schedule_sites(daemon.scheduler, daemon.poller.site_job, old, new)
        daemon.exports.apply(new, daemon.scheduler)
        if new.daemon.tick_s != old.daemon.tick_s:
            daemon.scheduler.reschedule_job(
                TICK_JOB, trigger=IntervalTrigger(seconds=new.daemon.tick_s)
            )
        daemon.config = new
        # A feed added, moved to a new URL or enabled is due now: poll it now rather
        # than at the next tick, as a feed reader does when a feed is added.
        if _feeds_due_now(old, new) and not daemon.poller.wake():
            daemon.scheduler.modify_job(TICK_JOB, next_run_time=datetime.now(UTC))


def _feeds_due_now(old: Config, new: Config) -> bool:
    """Whether `new` has enabled feeds that `old` did not have, or had elsewhere or off."""
    before = {(feed.name, feed.url) for feed in old.feeds if feed.enabled}
    return any((feed.name, feed.url) not in before for feed in new.feeds if feed.enabled)


def _keep_restart_only(old: Config, new: Config) -> Config:
    """Return `new` with the old values of the keys only a restart applies, logging them."""
    kept = new
    if new.storage.url != old.storage.url:
        # Not the URL itself: it may hold a password.
        log.warning("config: storage.url changed; restart the daemon to use the new database")
        kept = replace(kept, storage=replace(kept.storage, url=old.storage.url))
    # The endpoint and the log format are set up once, at start, and `run --metrics` or
    # `--log-format` may have overridden the file's values: keep the ones in force.
    # Not warned about: the file's value may differ from an override that stays in force.
    kept = replace(
        kept,
        daemon=replace(kept.daemon, metrics=old.daemon.metrics, log_format=old.daemon.log_format),
    )
    if new.daemon.timezone != old.daemon.timezone:
        log.warning(
            "config: daemon.timezone changed to %s; restart the daemon to apply it",
            new.daemon.timezone,
        )
        kept = replace(kept, daemon=replace(kept.daemon, timezone=old.daemon.timezone))
    return kept


def _changes(old: Config, new: Config) -> str:
    """Return what changed between two configs, as `feeds=+a,-b,~c topics=+t` etc."""
    parts = []
    for kind in ("feeds", "sites", "topics"):
        before = {item.name: item for item in getattr(old, kind)}
        after = {item.name: item for item in getattr(new, kind)}
        marks = [f"+{name}" for name in after if name not in before]
        marks += [f"-{name}" for name in before if name not in after]
        marks += [f"~{name}" for name in after if name in before and before[name] != after[name]]
        if marks:
            parts.append(f"{kind}={','.join(marks)}")
    for section in ("daemon", "network", "polling", "dedupe"):
        if getattr(old, section) != getattr(new, section):
            parts.append(f"{section}=~")
    return " ".join(parts)
