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


class _Node:
    """A reference cycle that only the cyclic collector can free."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.usefixtures("restored")
def test_after_a_crawl_its_garbage_goes_at_once_and_first_survivors_are_frozen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gc.unfreeze()
    monkeypatch.setattr(collector, "_settled", False)
    survivor = _Node()  # outlives the "first crawl": frozen with everything else alive
    garbage = _Node()
    del garbage

    assert collector.after_crawl() >= 1  # the cycle, even in the oldest generation
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert all(tracked is not survivor for tracked in gc.get_objects())  # frozen: not walked

    # A later crawl's cycle is collected, and nothing more is frozen.
    later = _Node()
    for _ in range(3):
        gc.collect(1)  # aged into the oldest generation, as a crawl's objects are
    del later
    assert collector.after_crawl() >= 1
    assert gc.get_freeze_count() == frozen
