"""A small process pool for CPU-heavy work: feed parsing and page extraction.

Parsing a large feed can take seconds (feedparser #209); on the reactor thread that
would stall every download in flight, so it runs here, one worker per core.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import TypeVar

from crawler import collector

T = TypeVar("T")

# What the workers run; imported once by the fork server rather than by every worker.
# numpy by name: storage.minhash imports it when first computing a signature, which spares
# the daemon (which never does) some 15 MB. trafilatura is not preloaded: a worker imports
# it for its first page extraction (crawler.extraction). Preloaded, it cost the fork server
# and both workers 7 MB more (PSS) in a poll of feeds without `full_text`; a daemon that
# extracts pages pays about as much more in the workers' own copies instead.
_PRELOAD = ("crawler.preparation", "crawler.extraction", "crawler.sitemaps", "numpy")
# How often a worker checks that the daemon that started it is still there.
_OWNER_CHECK_S = 0.5
# How long each warm-up task keeps its worker busy (see WorkerPool.start).
_WARM_UP_S = 0.05


class WorkerPool:
    """Run pure functions off the event loop, in processes (or threads when asked)."""

    def __init__(self, workers: int | None = None, *, processes: bool = True) -> None:
        count = workers or os.cpu_count() or 1
        self._count = count
        self._executor: Executor
        if processes:
            # Not a plain fork: the parent runs a reactor and database threads, and a forked
            # copy of those is unsafe. A fork server is a clean single-threaded process that
            # has imported only the worker modules, so starting a worker is cheap.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(_PRELOAD))
            self._executor = ProcessPoolExecutor(
                max_workers=count,
                mp_context=context,
                initializer=_init_worker,
                initargs=(os.getpid(),),
            )
        else:
            self._executor = ThreadPoolExecutor(max_workers=count, thread_name_prefix="nw-cpu")

    def __deepcopy__(self, memo: dict[int, object]) -> WorkerPool:
        # Scrapy deep-copies its settings per crawler; the pool is shared, not copied.
        return self

    def start(self) -> None:
        """Start the workers now, in a thread of their own, rather than on the first task.

        A process pool starts its workers as tasks come; with a fork server the first one
        waits for the server to import the worker modules (0.3 s here, more on a busy
        machine). Left to the first task, that wait would be on the event loop, with every
        download stopped. Call it before the crawl: the workers start while it sets up.
        """
        if isinstance(self._executor, ProcessPoolExecutor):
            threading.Thread(target=self._warm_up, name="nw-pool-start", daemon=True).start()

    def _warm_up(self) -> None:
        for _ in range(self._count):
            # A task finding no idle worker starts one; each warm-up task keeps its worker
            # busy long enough for the next to start another.
            self._executor.submit(time.sleep, _WARM_UP_S)

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run `function(*args)` in the pool and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        """Stop the workers, cancelling work not yet started."""
        self._executor.shutdown(wait=True, cancel_futures=True)


def _init_worker(owner: int) -> None:
    """Leave stopping to the daemon, and never outlive it.

    Ctrl-C in a terminal, and systemd's stop, signal the whole process group. The daemon
    then stops in order and shuts the pool down itself, so a worker ignores both signals:
    it must not die under a task in flight, nor print a KeyboardInterrupt traceback. If
    the daemon dies without shutting the pool down (SIGKILL, a forced exit), the worker
    exits then instead of waiting for work forever. (Its parent is the fork server, which
    in turn stays up as long as any worker does, so the worker watches the daemon.)
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    collector.tune(collect_first=False)
    watcher = threading.Thread(
        target=_exit_with_owner, args=(owner,), name="nw-owner-watch", daemon=True
    )
    watcher.start()


def _exit_with_owner(owner: int) -> None:
    while True:
        time.sleep(_OWNER_CHECK_S)
        try:
            os.kill(owner, 0)
        except (ProcessLookupError, PermissionError):  # gone, or its pid reused by another
            os._exit(0)
