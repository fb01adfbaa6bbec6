"""The downloader: Scrapy's, holding each slot's concurrency (per_host) exactly."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from scrapy import Request
from scrapy.core.downloader import Downloader, Slot
from scrapy.http import Response
from twisted.internet.defer import Deferred


class ExactSlotDownloader(Downloader):
    """Count a request as transferring from the moment it is handed to its task.

    Scrapy 2.19's `Downloader._process_queue` starts each queued request with
    `_schedule_coro(self._wait_for_download(...))`, which on the asyncio reactor only
    creates a task: the request joins `slot.transferring` when the task first runs, in
    `_download`. Until then `slot.free_transfer_slots()` does not count it, so one pass
    over a slot's queue (or several enqueues in one loop iteration) can start more
    requests than the slot's concurrency, `CONCURRENT_REQUESTS_PER_DOMAIN` (newswatch's
    `per_host`). The same ordering difference between coroutines and Deferreds is noted
    upstream in https://github.com/scrapy/scrapy/issues/6799.

    Here the request joins `slot.transferring` as the coroutine is created, synchronously
    inside `_process_queue`; `_download` adds it again (a set: no change) and removes it
    when the transfer ends, as before.
    """

    def _wait_for_download(
        self, slot: Slot, request: Request, queue_dfd: Deferred[Response]
    ) -> Coroutine[Any, Any, None]:
        slot.transferring.add(request)
        return self._transfer(slot, request, queue_dfd)

    async def _transfer(self, slot: Slot, request: Request, queue_dfd: Deferred[Response]) -> None:
        try:
            await super()._wait_for_download(slot, request, queue_dfd)
        finally:
            # Already removed by `_download` once it ran; this covers a task that fails
            # before reaching it.
            slot.transferring.discard(request)
