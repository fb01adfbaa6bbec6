"""Downloader middlewares."""

from __future__ import annotations

from scrapy import Request
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from crawler.exceptions import BlockedAddressError
from crawler.resolver import refusal_for


class RefusedAddress(BlockedAddressError, IgnoreRequest):
    """A BlockedAddressError that is an IgnoreRequest too: Scrapy then neither retries it
    nor logs a traceback when it is the request for a site's robots.txt."""


class RefusedAddressMiddleware:
    """Report a host refused by `crawler.resolver` as blocked, with the reason, and
    unretried, rather than as a failed DNS lookup."""

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Raise RefusedAddress when the lookup found only refused addresses."""
        if not isinstance(exception, CannotResolveHostError):
            return
        reason = refusal_for(urlparse_cached(request).hostname or "")
        if reason is not None:
            raise RefusedAddress(reason) from exception
