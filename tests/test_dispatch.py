"""crawler.dispatch: what it starts when, and what it does when closed early.

The engine here is a stand-in whose downloads end when the test says so: the order and
the moment each request starts are the subject. tests/test_politeness.py checks the same
limits end to end, against servers counting the requests they are answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy import Request, signals
from scrapy.http import Response
from scrapy.settings import Settings
from scrapy.signalmanager import SignalManager
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.dispatch import Dispatcher


class Engine:
    """Downloads that wait for `finish`; `active` is the downloader's set, as Scrapy's."""

    def __init__(self, signal_manager: SignalManager) -> None:
        self.signals = signal_manager
        self.active: set[Request] = set()
        self.started: list[str] = []
        self.downloader = SimpleNamespace(active=self.active, get_slot_key=self.slot_key)
        self._answers: dict[str, asyncio.Future[int | Exception]] = {}

    @staticmethod
    def slot_key(request: Request) -> str:
        return request.url.split("/")[2]

    async def download_async(self, request: Request) -> Response:
        self.active.add(request)
        self.started.append(request.url)
        try:
            answer = await self._answers.setdefault(
                request.url, asyncio.get_running_loop().create_future()
            )
        finally:
            self.active.discard(request)
            self.signals.send_catch_log(signals.request_left_downloader, request=request)
        if isinstance(answer, Exception):
            raise answer
        return Response(request.url, status=answer, request=request)

    def finish(self, url: str, status: int | Exception = 200) -> None:
        self._answers.setdefault(url, asyncio.get_running_loop().create_future()).set_result(status)


def crawler(engine: Engine, **settings: Any) -> Any:
    values = {
        "CONCURRENT_REQUESTS": 3,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 1024 * 1024,
        **settings,
    }
    return SimpleNamespace(
        engine=engine,
        signals=engine.signals,
        settings=Settings(values),
        spidercls=SimpleNamespace(name="test"),
        spider=None,
    )


def requests(*urls: str) -> list[Request]:
    return [Request(url, meta={"handle_httpstatus_list": [304]}) for url in urls]


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """Run the scenario on a loop of its own, leaving the process's current event loop
    as it is (asyncio.run unsets it)."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(scenario)
    finally:
        loop.close()


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def echo(request: Request, outcome: Response | Failure) -> AsyncIterator[Any]:
    yield (request.url, outcome)


def test_hosts_take_turns_within_both_limits() -> None:
    async def scenario() -> None:
        engine = Engine(SignalManager())
        urls = [
            "http://a.example/1",
            "http://a.example/2",
            "http://a.example/3",
            "http://b.example/1",
            "http://c.example/1",
        ]
        dispatcher = Dispatcher(crawler(engine), requests(*urls), echo, lambda _: None)
        outputs = dispatcher.outputs()
        pending = asyncio.ensure_future(anext(outputs))
        await settle()
        # One request per host (per_host 1), three in all: b and c before a's second.
        assert engine.started == ["http://a.example/1", "http://b.example/1", "http://c.example/1"]
        engine.finish("http://b.example/1")
        assert (await pending)[0] == "http://b.example/1"
        pending = asyncio.ensure_future(anext(outputs))
        await settle()
        assert engine.started[3:] == []  # a is at its limit; b and c have nothing left
        engine.finish("http://a.example/1")
        assert (await pending)[0] == "http://a.example/1"
        await settle()
        assert engine.started[3:] == ["http://a.example/2"]
        for url in ("http://c.example/1", "http://a.example/2", "http://a.example/3"):
            engine.finish(url)
        rest = [url async for url, _ in outputs]
        assert sorted(rest) == ["http://a.example/2", "http://a.example/3", "http://c.example/1"]
        assert engine.started[4:] == ["http://a.example/3"]

    run(scenario())


def test_requests_the_crawl_has_in_the_downloader_count_toward_the_limit() -> None:
    async def scenario() -> None:
        engine = Engine(SignalManager())
        pages = requests("http://p.example/1", "http://p.example/2")
        engine.active.update(pages)  # page requests the scheduler started
        urls = ["http://a.example/1", "http://b.example/1", "http://c.example/1"]
        dispatcher = Dispatcher(crawler(engine), requests(*urls), echo, lambda _: None)
        outputs = dispatcher.outputs()
        pending = asyncio.ensure_future(anext(outputs))
        await settle()
        assert engine.started == ["http://a.example/1"]  # 2 pages + 1 feed = 3
        engine.active.discard(pages[0])
        engine.signals.send_catch_log(signals.request_left_downloader, request=pages[0])
        await settle()
        assert engine.started == ["http://a.example/1", "http://b.example/1"]
        pending.cancel()  # a stop: the engine cancels the task waiting for start()
        with pytest.raises(asyncio.CancelledError):
            await pending
        await settle()
        assert engine.active == set(pages[1:])  # the feeds' downloads were cancelled

    run(scenario())


def test_a_status_the_request_does_not_handle_is_an_http_error() -> None:
    async def scenario() -> None:
        engine = Engine(SignalManager())
        urls = ["http://a.example/gone", "http://b.example/same", "http://c.example/down"]
        dispatcher = Dispatcher(crawler(engine), requests(*urls), echo, lambda _: None)
        outputs = dispatcher.outputs()
        pending = asyncio.ensure_future(anext(outputs))
        await settle()
        engine.finish("http://a.example/gone", 410)
        engine.finish("http://b.example/same", 304)
        engine.finish("http://c.example/down", ConnectionRefusedError("refused"))
        got = {url: outcome async for url, outcome in _chain(pending, outputs)}
        gone, down = got["http://a.example/gone"], got["http://c.example/down"]
        assert isinstance(gone, Failure) and isinstance(gone.value, HttpError)
        assert gone.value.response.status == 410 and gone.request.url == "http://a.example/gone"
        assert isinstance(got["http://b.example/same"], Response)
        assert isinstance(down, Failure) and isinstance(down.value, ConnectionRefusedError)
        assert down.request.url == "http://c.example/down"

    run(scenario())


@pytest.mark.parametrize("closing", ["generator", "crawl"])
def test_closed_early_it_cancels_downloads_and_reports_what_was_not_yielded(closing: str) -> None:
    async def scenario() -> None:
        engine = Engine(SignalManager())
        abandoned: list[str] = []

        async def two_items(request: Request, outcome: Response | Failure) -> AsyncIterator[Any]:
            yield f"{request.url} first"
            yield f"{request.url} second"

        urls = ["http://a.example/1", "http://b.example/1", "http://c.example/1"]
        dispatcher = Dispatcher(
            crawler(engine), requests(*urls), two_items, lambda r: abandoned.append(r.url)
        )
        outputs = dispatcher.outputs()
        pending = asyncio.ensure_future(anext(outputs))
        await settle()
        engine.finish("http://a.example/1")
        assert await pending == "http://a.example/1 first"
        engine.finish("http://b.example/1")
        await settle()
        # A stop with the second items of a/1 and b/1 still queued (b/1's first too), and
        # c/1 still downloading: the generator is closed, or the crawl closes (when the
        # engine's task was cancelled with the generator suspended at a yield).
        if closing == "generator":
            await outputs.aclose()
        else:
            dispatcher.close()
        await settle()
        assert sorted(abandoned) == ["http://a.example/1", "http://b.example/1"]
        assert engine.active == set()  # the download was cancelled

    run(scenario())


async def _chain(first: asyncio.Future[Any], rest: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield await first
    async for output in rest:
        yield output


@pytest.mark.parametrize("per_host", [1, 2])
def test_every_request_is_started_once(per_host: int) -> None:
    async def scenario() -> None:
        engine = Engine(SignalManager())
        urls = [f"http://h{n % 3}.example/{n}" for n in range(12)]

        async def answer_all() -> None:
            while len(engine.started) < len(urls) or engine.active:
                for request in list(engine.active):
                    engine.finish(request.url)
                await asyncio.sleep(0)

        answering = asyncio.ensure_future(answer_all())
        dispatcher = Dispatcher(
            crawler(engine, CONCURRENT_REQUESTS_PER_DOMAIN=per_host),
            requests(*urls),
            echo,
            lambda _: None,
        )
        got = [url async for url, _ in dispatcher.outputs()]
        await answering
        assert sorted(got) == sorted(urls) and sorted(engine.started) == sorted(urls)

    run(scenario())
