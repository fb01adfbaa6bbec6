"""Requests handed straight to Scrapy's downloader, as fast as it has room for them.

A feed poll makes one request per feed and gets one response back, most often a 304.
Sent the usual way (yielded from `Spider.start`, then queued by the scheduler, and each
response passed through the spider middlewares to a callback), a request costs a
third more on the event loop than its download alone: in bench/poll.py a poll of 1,000
unchanged feeds (1,000 304s) took 1.2 s of CPU that way, and 0.87 s with the same
downloads started directly.

So the FeedSpider hands its feed requests to `ExecutionEngine.download_async`, Scrapy's
own way to download a request outside the scheduler. Everything that makes a download
safe still applies, being in the downloader: its middlewares (retries, redirects,
decompression, size caps, robots.txt, the address check, the User-Agent) and its
per-host slots. What the scheduler did for the spider is done here:
- the global concurrency (CONCURRENT_REQUESTS) counts every request in the downloader,
  page requests the crawl scheduled included;
- no request is started for a host already at its limit (a slot's concurrency), where
  it would wait in the downloader's queue holding a place of the global limit from
  other hosts' requests: hosts take turns, like Scrapy's DownloaderAwarePriorityQueue;
- responses waiting to be handled hold back new downloads once their bytes pass
  SCRAPER_SLOT_MAX_ACTIVE_SIZE, like the scraper's slot;
- a response with a status the request does not handle becomes an `HttpError` failure,
  as Scrapy's HttpErrorMiddleware (asked here) decides.

`Dispatcher.outputs` yields whatever the handler makes of each response or failure
(items, further requests): the spider's `start` yields them on, to the pipelines and
the scheduler. If the crawl stops first, `close` cancels the downloads still out and
reports the requests whose outputs were not all yielded to `abandoned`: what they gave
must not count as done.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError, HttpErrorMiddleware
from twisted.python.failure import Failure

# How often the dispatcher looks for room when nothing it waits on has told it: a page
# request that leaves the downloader before reaching a slot sends no signal.
_RECHECK_S = 0.5
# The meta key numbering this dispatcher's requests; Scrapy copies meta to the retries and
# redirects it makes of a request.
_NUMBER = "newswatch_dispatched"
# What the scraper's slot counts a response as, at least (Scrapy's MIN_RESPONSE_SIZE).
_MIN_RESPONSE_SIZE = 1024

Handler = Callable[[Request, Response | Failure], AsyncIterator[Any]]


class Dispatcher:
    """Download requests through the engine's downloader; yield what `handle` makes of them."""

    def __init__(
        self,
        crawler: Crawler,
        requests: Iterable[Request],
        handle: Handler,
        abandoned: Callable[[Request], None],
    ) -> None:
        assert crawler.engine is not None  # a crawl in progress
        self._engine = crawler.engine
        self._signals = crawler.signals
        self._log = logging.getLogger(f"{__name__}.{crawler.spidercls.name}")
        downloader = crawler.engine.downloader
        self._active = downloader.active
        settings = crawler.settings
        self._total = settings.getint("CONCURRENT_REQUESTS")
        self._per_host = settings.getint("CONCURRENT_REQUESTS_PER_IP") or settings.getint(
            "CONCURRENT_REQUESTS_PER_DOMAIN"
        )
        self._max_backlog = settings.getint("SCRAPER_SLOT_MAX_ACTIVE_SIZE")
        # Scrapy's own judge of which statuses a callback is given (meta, settings, spider).
        self._http_errors = HttpErrorMiddleware.from_crawler(crawler)
        self._handle = handle
        self._abandoned = abandoned
        # Requests not started yet, by download slot; the hosts that may start one now.
        self._waiting: dict[str, deque[Request]] = {}
        for number, request in enumerate(requests):
            request.meta[_NUMBER] = number
            self._waiting.setdefault(downloader.get_slot_key(request), deque()).append(request)
        self._ready = deque(self._waiting)
        self._busy: Counter[str] = Counter()
        self._left = sum(len(queue) for queue in self._waiting.values())
        self._starting = 0  # tasks made whose request has not reached the downloader yet
        self._backlog = 0  # bytes of responses being handled
        self._tasks: set[asyncio.Task[None]] = set()
        self._outputs: deque[tuple[Request, Any]] = deque()
        self._undelivered: Counter[Request] = Counter()
        self._wake = asyncio.Event()
        self._closed = False
        # The last request of each number to leave the downloader: the redirect or retry a
        # failure is about (RedirectMiddleware's "max redirections reached", say).
        self._latest: dict[int, Request] = {}

    async def outputs(self) -> AsyncIterator[Any]:
        """Run every download, yielding the handler's outputs as they come."""
        self._signals.connect(self._woken, signal=signals.request_left_downloader)
        try:
            while True:
                self._start_what_fits()
                while self._outputs:
                    request, output = self._outputs.popleft()
                    self._undelivered[request] -= 1
                    yield output
                if not (self._left or self._tasks):
                    return
                self._wake.clear()
                recheck = asyncio.get_running_loop().call_later(_RECHECK_S, self._wake.set)
                try:
                    await self._wake.wait()
                finally:
                    recheck.cancel()
        finally:
            self.close()

    def close(self) -> None:
        """Cancel the downloads still out; report the requests whose outputs were not all
        yielded. The crawl calls it when it closes, in case it stopped with `outputs`
        suspended at a yield (its `finally` then runs only when it is collected)."""
        if self._closed:
            return
        self._closed = True
        self._signals.disconnect(self._woken, signal=signals.request_left_downloader)
        for task in self._tasks:
            task.cancel()
        for request, count in self._undelivered.items():
            if count > 0:
                self._abandoned(request)
        self._outputs.clear()

    def _woken(self, request: Request, **_: Any) -> None:
        number = request.meta.get(_NUMBER)
        if number is not None:
            self._latest[number] = request
        self._wake.set()

    def _room(self) -> bool:
        if self._backlog > self._max_backlog:
            return False
        return self._total <= 0 or len(self._active) + self._starting < self._total

    def _start_what_fits(self) -> None:
        while self._ready and self._room():
            host = self._ready.popleft()
            queue = self._waiting[host]
            request = queue.popleft()
            self._left -= 1
            self._busy[host] += 1
            if queue and self._busy[host] < self._per_host:
                self._ready.append(host)  # its next request after the other hosts' turn
            self._starting += 1
            task = asyncio.ensure_future(self._fetch(host, request))
            self._tasks.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._wake.set()

    def _release(self, host: str) -> None:
        self._busy[host] -= 1
        queue = self._waiting[host]
        if queue and self._busy[host] == self._per_host - 1:
            self._ready.append(host)  # it was at its limit, so not among the ready
        self._wake.set()

    async def _fetch(self, host: str, request: Request) -> None:
        self._starting -= 1  # the request reaches the downloader without a pause
        outcome: Response | Failure
        try:
            outcome = await self._engine.download_async(request)
        except Exception:
            # As Scrapy's errbacks get it: with the request that failed.
            outcome = Failure()
            outcome.request = self._latest.get(request.meta[_NUMBER], request)  # type: ignore[attr-defined]
        finally:
            self._latest.pop(request.meta[_NUMBER], None)
            self._release(host)
        size = 0
        if isinstance(outcome, Response):
            size = max(len(outcome.body), _MIN_RESPONSE_SIZE)
            try:
                self._http_errors.process_spider_input(outcome)
            except HttpError:
                outcome = Failure()
                outcome.request = request  # type: ignore[attr-defined]
        self._backlog += size
        try:
            async for output in self._handle(request, outcome):
                self._outputs.append((request, output))
                self._undelivered[request] += 1
                self._wake.set()
        except Exception:
            self._log.error("Spider error processing %s", request, exc_info=True)
        finally:
            self._backlog -= size
