"""A small process pool for CPU-heavy work: feed parsing and page extraction.

Parsing a large feed can take seconds (feedparser #209); on the reactor thread that
would stall every download in flight, so it runs here, one worker per core.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# What the workers run; imported once by the fork server rather than by every worker.
_PRELOAD = ("crawler.feeds", "crawler.extraction")


class WorkerPool:
    """Run pure functions off the event loop, in processes (or threads when asked)."""

    def __init__(self, workers: int | None = None, *, processes: bool = True) -> None:
        count = workers or os.cpu_count() or 1
        self._executor: Executor
        if processes:
            # Not a plain fork: the parent runs a reactor and database threads, and a forked
            # copy of those is unsafe. A fork server is a clean single-threaded process that
            # has imported only the worker modules, so starting a worker is cheap.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(_PRELOAD))
            self._executor = ProcessPoolExecutor(max_workers=count, mp_context=context)
        else:
            self._executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="nw-cpu")

    def __deepcopy__(self, memo: dict[int, object]) -> WorkerPool:
        # Scrapy deep-copies its settings per crawler; the pool is shared, not copied.
        return self

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(*args)` in the pool and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Stop the workers, cancelling work not yet started."""
        self._executor.shutdown(wait=True, cancel_futures=True)
