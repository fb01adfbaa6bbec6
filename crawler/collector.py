"""Garbage collector settings for newswatch's long-running processes.

A full poll allocates millions of short-lived objects (items, rows, parsed entries).
With CPython's default thresholds (a collection every 700 net allocations of container
objects) the collector then ran some 1,700 times in one 1,000-feed poll, 4.4 s of the
daemon's 37 s of CPU, each time walking the objects that live for the whole run:
modules, the config, Scrapy's machinery. Freezing what exists once the process is set
up takes those out of every collection (and keeps a forked worker from writing to the
pages it shares with its fork server), and a larger first threshold makes collections
rare; cyclic garbage still goes, a little later. Measured with `bench/poll.py`.

A finished crawl is such garbage: Scrapy's crawler, engine and spider refer to one
another, and by the crawl's end they have aged into the oldest generation, which is
collected only once it has grown by a quarter. A daemon's polls left some 15 crawls'
objects in memory at a time, 20 MB after 250 polls of 1,000 feeds, so the poller
collects after each crawl (`after_crawl`). What outlives the first crawl (the runner,
connection pools, statement caches) lives as long as the process, and is frozen then
too: a collection after a crawl then walks that crawl's objects only, a few
milliseconds instead of 34 ms for all of them.
"""

from __future__ import annotations

import gc

# Container allocations between young collections (CPython's default: 700); the older
# generations keep their default ratios.
YOUNG_THRESHOLD = 20_000


def tune(*, collect_first: bool = True) -> None:
    """Freeze the objects alive now and collect less often from here on.

    A forked worker passes `collect_first=False`: a collection would write to every
    object it inherited, copying the pages it shares with its fork server.
    """
    if collect_first:
        gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


_settled = False  # whether what outlived a first crawl is frozen yet


def after_crawl() -> int:
    """Collect every generation now: a crawl just ended (see the module's docstring)."""
    global _settled
    found = gc.collect()
    if not _settled:
        gc.freeze()
        _settled = True
    return found
