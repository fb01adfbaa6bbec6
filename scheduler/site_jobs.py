"""The daemon's site jobs: one cron or interval job per enabled site of the config."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.config import Config, SiteConfig

SiteJob = Callable[[str], Awaitable[None]]
_DUE_MARGIN = timedelta(minutes=1)


def job_id(name: str) -> str:
    """Return the scheduler's id of the named site's job."""
    return f"site:{name}"


def site_trigger(site: SiteConfig, config: Config) -> BaseTrigger:
    """Return when `site` runs: its cron line in the daemon's time zone, or its interval."""
    if site.schedule:
        return CronTrigger.from_crontab(site.schedule, timezone=config.daemon.tzinfo)
    return IntervalTrigger(seconds=site.interval_s or config.polling.default_interval_s)


def next_run_due(site: SiteConfig, config: Config, now: datetime) -> datetime:
    """Return when `site` is next due: shortly before its schedule next fires.

    Stored as the site's next check. A run that finds its site not yet due was taken by
    another daemon (`storage.claims.claim_run`); the margin, a tenth of the wait and at
    most a minute, lets the next run find it due even if its timer fires a little early.
    """
    # Counted from `now` as a previous run: an interval then runs from now, not from when
    # the trigger was made.
    fires: datetime = site_trigger(site, config).get_next_fire_time(now, now)
    return fires - min((fires - now) / 10, _DUE_MARGIN)


def _timing(site: SiteConfig, config: Config) -> tuple[object, ...]:
    """Return what decides a site's trigger, to tell whether it must be rebuilt."""
    interval = site.interval_s or config.polling.default_interval_s
    return (site.schedule, None if site.schedule else interval, config.daemon.timezone)


def schedule_sites(
    scheduler: BaseScheduler, job: SiteJob, old: Config | None, new: Config
) -> tuple[list[str], list[str], list[str]]:
    """Make the site jobs match `new`, given that they matched `old` (None: no jobs yet).

    A site added or enabled gets its job, one removed or disabled loses it (a run in
    progress finishes), and one whose schedule changed is rescheduled. Return the names
    added, removed and rescheduled.
    """
    previous = old if old is not None else new
    before = {site.name: site for site in old.sites if site.enabled} if old else {}
    after = {site.name: site for site in new.sites if site.enabled}
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    moved = [
        name
        for name in after
        if name in before and _timing(before[name], previous) != _timing(after[name], new)
    ]
    for name in removed:
        scheduler.remove_job(job_id(name))
    for name in moved:
        scheduler.reschedule_job(job_id(name), trigger=site_trigger(after[name], new))
    for name in added:
        # One job per site; max_instances=1 (the daemon's job default) keeps two runs of
        # the same site from overlapping, while different sites run side by side.
        scheduler.add_job(
            job,
            site_trigger(after[name], new),
            args=[name],
            id=job_id(name),
            name=f"crawl site {name}",
        )
    return added, removed, moved
