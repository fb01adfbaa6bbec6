"""Tests for the garbage collector settings (crawler/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from crawler import collector


@pytest.fixture
def restored() -> Iterator[None]:
    """Give the test process its collector settings back afterwards."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
def test_tune_freezes_what_lives_and_collects_less_often() -> None:
    gc.unfreeze()
    middle, old = gc.get_threshold()[1:]

    collector.tune(collect_first=False)

    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, middle, old)
