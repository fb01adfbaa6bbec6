"""A name resolver that never hands Twisted an address newswatch may not connect to.

Every connection Scrapy's HTTP/1.1 handler makes goes through Twisted's
`HostnameEndpoint`, which asks the reactor's name resolver for the addresses of the
URL's host, an IP literal included, and connects only to what the resolver answered.
Filtering the answers here therefore checks every hop (the feed, each redirect, each
page, robots.txt) at connect time, and a DNS answer that changes between two lookups
(DNS rebinding) cannot slip through: the address checked is the address connected to.

Twisted reports a lookup that yields nothing as "no results for hostname lookup", so
the reason a host was refused is kept in `refusals` for
`crawler.middlewares.RefusedAddressMiddleware` to report instead.

Scrapy installs `TWISTED_DNS_RESOLVER` only when it runs the reactor itself (`scrapy
crawl`); newswatch's own runners call `install_resolver`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

from scrapy.crawler import Crawler
from scrapy.settings import BaseSettings
from scrapy.utils.datatypes import LocalCache
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
)
from zope.interface import implementer  # type: ignore[import-untyped]

from crawler import options
from crawler.addresses import refusal

# host -> why its last lookup gave only refused addresses. Process-wide, like the
# reactor's resolver itself and Scrapy's own DNS cache; bounded.
refusals: LocalCache[str, str] = LocalCache(1000)


def refusal_for(host: str) -> str | None:
    """Return why the last lookup of `host` was refused, or None."""
    return refusals.get(host.lower())


@implementer(IResolutionReceiver)
class _PublicOnly:
    """Pass on the public addresses of a lookup; remember why the others were dropped."""

    def __init__(self, receiver: Any, host: str) -> None:
        self.receiver = receiver
        self.host = host
        self.passed = 0
        self.reason: str | None = None

    def resolutionBegan(self, resolution: IHostResolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: IAddress) -> None:
        reason = refusal(self.host, str(getattr(address, "host", "")))
        if reason is None:
            self.passed += 1
            self.receiver.addressResolved(address)
        elif self.reason is None:
            self.reason = reason

    def resolutionComplete(self) -> None:
        key = self.host.lower()
        if self.passed == 0 and self.reason is not None:
            refusals[key] = self.reason
        else:
            refusals.pop(key, None)
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class PublicAddressResolver:
    """The reactor's resolver, minus every non-public address unless private ones are
    allowed (`network.allow_private`)."""

    def __init__(self, reactor: Any, allow_private: bool) -> None:
        self.reactor = reactor
        self.allow_private = allow_private
        current = reactor.nameResolver
        # Installed again (another runner, another crawl): wrap the original, once.
        self.inner: Any = current.inner if isinstance(current, PublicAddressResolver) else current

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> Self:
        """Build the resolver from the settings (Scrapy's TWISTED_DNS_RESOLVER hook)."""
        return cls.from_settings(crawler.settings, reactor)

    @classmethod
    def from_settings(cls, settings: BaseSettings, reactor: Any) -> Self:
        """Build the resolver from `NEWSWATCH_ALLOW_PRIVATE`."""
        return cls(reactor, settings.getbool(options.ALLOW_PRIVATE))

    def install_on_reactor(self) -> None:
        """Make this the resolver of every connection the reactor makes."""
        self.reactor.installNameResolver(self)

    def resolveHostName(
        self,
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IHostResolution:
        """Resolve `hostName`, passing on only the addresses that may be reached."""
        receiver: Any = resolutionReceiver
        if not self.allow_private:
            receiver = _PublicOnly(resolutionReceiver, hostName)
        resolution: IHostResolution = self.inner.resolveHostName(
            receiver, hostName, portNumber, addressTypes, transportSemantics
        )
        return resolution


def install_resolver(settings: BaseSettings) -> None:
    """Install the resolver on the running reactor, as `scrapy crawl` does from
    TWISTED_DNS_RESOLVER; call it before starting crawls from a crawler runner."""
    from twisted.internet import reactor

    PublicAddressResolver.from_settings(settings, reactor).install_on_reactor()
