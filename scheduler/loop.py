"""The one event loop: Twisted's asyncio reactor, installed before anything imports it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from scrapy.utils.reactor import install_reactor, is_reactor_installed

from crawler import collector

T = TypeVar("T")

REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def event_loop() -> asyncio.AbstractEventLoop:
    """Install the asyncio reactor (once) and return its event loop."""
    if not is_reactor_installed():
        # Not called again once installed: Scrapy's install_reactor would make and set a
        # new current event loop before finding the reactor there, a loop nothing closes.
        install_reactor(REACTOR)
    from twisted.internet import reactor

    running: Any = reactor
    found: asyncio.AbstractEventLoop = running._asyncioEventloop
    return found


def run(main: Callable[[], Awaitable[T]]) -> T:
    """Run `main()` on the reactor until it finishes, and return its result.

    Exceptions from `main` propagate to the caller once the reactor has stopped.
    """
    loop = event_loop()
    from twisted.internet import reactor as installed

    # Typed as the plain IReactorCore interface; the asyncio reactor has more.
    reactor: Any = installed
    outcome: dict[str, Any] = {}

    async def wrapper() -> None:
        try:
            outcome["value"] = await main()
        except BaseException as exc:  # handed back to the caller below
            outcome["error"] = exc
        finally:
            reactor.stop()

    reactor.callWhenRunning(lambda: loop.create_task(wrapper()))
    collector.tune()
    # Signals are the caller's business (the daemon installs its own on the loop).
    reactor.run(installSignalHandlers=False)
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
