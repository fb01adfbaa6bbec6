"""ExactSlotDownloader: a slot never has more requests on the wire than its concurrency.

Five requests for one host are fetched at once through a downloader whose download
handler records each request that reaches it and answers none until released: at most
`CONCURRENT_REQUESTS_PER_DOMAIN` may reach it. tests/test_politeness.py checks the same
from the server's side, through `newswatch poll`.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest
from scrapy import Request, Spider
from scrapy.core.downloader import Downloader
from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.test import get_crawler

from crawler.downloader import ExactSlotDownloader
from scheduler.loop import event_loop

PER_HOST = 2
REQUESTS = 5


class HangingHandler(BaseDownloadHandler):
    """Note each request that reaches the network; answer once the gate opens."""

    started: ClassVar[list[str]] = []  # reset by each test
    gate: ClassVar[asyncio.Event] = asyncio.Event()

    async def download_request(self, request: Request) -> Response:
        self.started.append(request.url)
        await self.gate.wait()
        return Response(request.url)


class OneHostSpider(Spider):
    name = "one-host"


def requests_on_the_wire(downloader_class: type[Downloader]) -> list[int]:
    """Fetch REQUESTS requests for one host; return how many reached the handler, by step."""
    loop = event_loop()
    crawler = get_crawler(
        OneHostSpider,
        {
            "DOWNLOAD_HANDLERS": {"http": f"{__name__}.HangingHandler"},
            "DOWNLOADER_MIDDLEWARES_BASE": {},
            "CONCURRENT_REQUESTS": 16,
            "CONCURRENT_REQUESTS_PER_DOMAIN": PER_HOST,
        },
    )
    crawler.spider = crawler._create_spider()
    downloader = downloader_class(crawler)
    HangingHandler.started = []
    HangingHandler.gate = asyncio.Event()

    async def fetch_all() -> list[int]:
        fetches = [
            maybe_deferred_to_future(downloader.fetch(Request(f"http://one.example/{n}")))
            for n in range(REQUESTS)
        ]
        seen = []
        for _ in range(10):  # let every task run that can
            await asyncio.sleep(0)
            seen.append(len(HangingHandler.started))
        HangingHandler.gate.set()
        responses = await asyncio.gather(*fetches)
        assert [r.url for r in responses] == [f"http://one.example/{n}" for n in range(REQUESTS)]
        return seen

    try:
        return loop.run_until_complete(fetch_all())
    finally:
        downloader.close()


def test_a_slot_never_has_more_requests_on_the_wire_than_its_concurrency() -> None:
    seen = requests_on_the_wire(ExactSlotDownloader)
    assert max(seen) == PER_HOST, seen
    assert len(HangingHandler.started) == REQUESTS  # the rest followed once a slot freed


def test_scrapys_own_downloader_still_overshoots() -> None:
    # Upstream behaviour, kept here so that a Scrapy release that fixes it is noticed:
    # ExactSlotDownloader can then go.
    seen = requests_on_the_wire(Downloader)
    if max(seen) <= PER_HOST:
        pytest.fail(f"Scrapy's Downloader now holds per-slot concurrency: {seen}")
