"""When a feed is checked again: rhythm, hints from the server, errors, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from crawler.polling import (
    Bounds,
    Hints,
    entry_frequency_interval,
    max_age,
    next_interval,
    retry_after,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOUNDS = Bounds(min_s=300, max_s=86_400)
NO_JITTER = random.Random()
NO_JITTER.uniform = lambda a, b: 0.0  # type: ignore[method-assign]


def every(hours: float, count: int) -> list[datetime | None]:
    return [NOW - timedelta(hours=hours * n) for n in range(count)]


def test_the_interval_follows_the_feeds_rhythm() -> None:
    hourly = entry_frequency_interval(every(1, 168), NOW, BOUNDS)  # 168 in the last week
    daily = entry_frequency_interval(every(24, 30)[1:], NOW, BOUNDS)  # 7 in the last week
    assert hourly == 7 * 24 * 3600 // 168 == 3600
    assert daily == 86_400
    assert hourly < daily


def test_the_rhythm_stays_within_the_bounds() -> None:
    busy = entry_frequency_interval(every(0.01, 5000), NOW, BOUNDS)
    silent = entry_frequency_interval(every(24 * 30, 5), NOW, BOUNDS)  # nothing this week
    undated = entry_frequency_interval([None, None], NOW, BOUNDS)
    assert busy == BOUNDS.min_s
    assert silent == BOUNDS.max_s
    assert undated is None  # no dates, no rhythm: the caller keeps what it had


def test_future_dates_do_not_speed_polling_up() -> None:
    future = [NOW + timedelta(days=d) for d in range(1, 50)]
    assert entry_frequency_interval(future, NOW, BOUNDS) == BOUNDS.max_s


def test_the_largest_hint_wins() -> None:
    assert next_interval(600, Hints(), 0, BOUNDS, NO_JITTER) == 600
    assert next_interval(600, Hints(ttl_s=3600), 0, BOUNDS, NO_JITTER) == 3600
    assert next_interval(600, Hints(ttl_s=60, max_age_s=1200), 0, BOUNDS, NO_JITTER) == 1200
    assert next_interval(600, Hints(retry_after_s=7200), 0, BOUNDS, NO_JITTER) == 7200


def test_errors_back_off_up_to_the_maximum() -> None:
    intervals = [next_interval(1800, Hints(), n, BOUNDS, NO_JITTER) for n in range(0, 80, 10)]
    assert intervals[:3] == [1800, 18_000, 36_000]
    assert intervals[-1] == BOUNDS.max_s
    assert intervals == sorted(intervals)


def test_retry_after_beyond_the_maximum_is_still_obeyed() -> None:
    two_days = 2 * 86_400
    assert next_interval(600, Hints(retry_after_s=two_days), 3, BOUNDS, NO_JITTER) == two_days


def test_jitter_adds_up_to_a_quarter() -> None:
    rng = random.Random(7)
    values = [next_interval(1000, Hints(), 0, BOUNDS, rng) for _ in range(500)]
    assert min(values) >= 1000 and max(values) <= 1250
    assert max(values) - min(values) > 150  # spread out, not constant


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("max-age=600", 600),
        ("public, max-age=300, must-revalidate", 300),
        ('max-age="120"', 120),
        ("s-maxage=60", None),
        ("no-cache, max-age=600", None),
        ("", None),
        (None, None),
    ],
)
def test_cache_control_max_age(header: str | None, seconds: int | None) -> None:
    assert max_age(header) == seconds


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120),
        (" 30 ", 30),
        ("Mon, 23 Nov 2026 13:00:00 GMT", 3600),
        ("Mon, 23 Nov 2026 11:00:00 GMT", 0),  # in the past: now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_a_date(header: str | None, seconds: int | None) -> None:
    assert retry_after(header, NOW) == seconds
