"""When to check a feed again: as often as it changes, and no more often.

The next check is the largest of
- the adaptive interval: Miniflux's entry-frequency rule (a week divided by the entries
  of the last week), kept between the configured minimum and maximum, or the feed's
  fixed interval from the config;
- the feed's own `<ttl>`;
- the response's `Cache-Control: max-age`;
- a `Retry-After` after a 429 or 503 (seconds or an HTTP date, RFC 9110 section 10.2.3);

times the consecutive error count (capped at the maximum), plus 0-25 % random jitter so
that feeds added together drift apart instead of being polled in bursts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

WEEK_S = 7 * 24 * 3600
JITTER = 0.25
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Bounds:
    """The configured limits of any feed's interval, in seconds."""

    min_s: int
    max_s: int


DEFAULT_BOUNDS = Bounds(min_s=300, max_s=86_400)


@dataclass(frozen=True, slots=True)
class Hints:
    """What a fetch said about when to come back; None where it said nothing."""

    ttl_s: int | None = None
    max_age_s: int | None = None
    retry_after_s: int | None = None


def entry_frequency_interval(
    published: Iterable[datetime | None], now: datetime, bounds: Bounds
) -> int | None:
    """Return Miniflux's adaptive interval from a feed's entry dates.

    A feed with n entries published in the last week is checked every week / n, between
    the bounds; a feed with none in the last week is checked at the maximum interval.
    A feed that dates none of its entries says nothing about its rhythm: None.
    """
    dates = [moment for moment in published if moment is not None]
    if not dates:
        return None
    week_ago = now - timedelta(seconds=WEEK_S)
    weekly = sum(1 for moment in dates if week_ago <= moment <= now)
    if weekly == 0:
        return bounds.max_s
    return max(bounds.min_s, min(bounds.max_s, WEEK_S // weekly))


def next_interval(
    base_s: int,
    hints: Hints,
    error_count: int,
    bounds: Bounds,
    rng: random.Random | None = None,
) -> int:
    """Return the seconds until the next check (see the module's docstring)."""
    interval = max(
        base_s,
        hints.ttl_s or 0,
        hints.max_age_s or 0,
        hints.retry_after_s or 0,
    )
    if error_count > 0:
        interval = min(interval * error_count, bounds.max_s)
    # A server's own Retry-After wins over the cap: asking sooner would be refused anyway.
    interval = max(interval, hints.retry_after_s or 0)
    jitter = (rng or random).uniform(0, JITTER)
    return int(interval * (1 + jitter))


def failing_too_long(
    failing_since: datetime | None, now: datetime, disable_after_s: int | None
) -> bool:
    """Say whether a run of errors that began at `failing_since` has lasted too long.

    Miniflux and MediaCloud's rss-fetcher stop polling a feed after a long enough run
    of failures, instead of asking a dead server forever.
    """
    if failing_since is None or not disable_after_s:
        return False
    return (now - failing_since).total_seconds() >= disable_after_s


def max_age(cache_control: str | None) -> int | None:
    """Return the `max-age` of a Cache-Control header, None when absent or `no-cache`."""
    if not cache_control or "no-cache" in cache_control.lower():
        return None
    found = _MAX_AGE.search(cache_control)
    return int(found.group(1)) if found else None


def retry_after(value: str | None, now: datetime) -> int | None:
    """Return the seconds a Retry-After header asks for (delay-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0, int((moment - now).total_seconds()))
