"""One clear line for every way a fetch can fail."""

from __future__ import annotations

import re

from scrapy import exceptions as scrapy_errors
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.exceptions import BlockedAddressError

# Scrapy's message when a Content-Length announces more than DOWNLOAD_MAXSIZE.
_ANNOUNCED_TOO_LARGE = re.compile(r"larger than download max size \((\d+)\)")

# Scrapy's own download errors first, then the Twisted ones older handlers raise.
_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((scrapy_errors.CannotResolveHostError, net.DNSLookupError), "DNS lookup failed"),
    (
        (scrapy_errors.DownloadConnectionRefusedError, net.ConnectionRefusedError),
        "connection refused",
    ),
    ((scrapy_errors.DownloadTimeoutError, net.TimeoutError, net.TCPTimedOutError), "timed out"),
    (
        (
            scrapy_errors.ResponseDataLossError,
            ResponseNeverReceived,
            ResponseFailed,
            net.ConnectionLost,
            net.ConnectionDone,
        ),
        "connection closed before the response was complete",
    ),
    (scrapy_errors.UnsupportedURLSchemeError, "unsupported URL scheme"),
    (scrapy_errors.DownloadCancelledError, "download cancelled (too large, or stopped)"),
)


def describe_failure(
    failure: Failure, settings: BaseSettings | None = None
) -> tuple[int | None, str]:
    """Return the HTTP status (None when no response came) and a one-line reason.

    The crawl's `settings` give its size cap (DOWNLOAD_MAXSIZE), named in the reason
    when a body with no Content-Length passes it: Scrapy's HTTP/1.1 handler then cancels
    the download without saying why.
    """
    exc = failure.value
    if exc is None:
        return None, "unknown failure"
    if isinstance(exc, HttpError):
        status = int(exc.response.status)
        return status, f"HTTP {status}"
    if isinstance(exc, BlockedAddressError):
        return None, f"blocked: {exc}"
    if isinstance(exc, scrapy_errors.IgnoreRequest) and (reason := _ignored(failure, exc)):
        return None, reason
    if isinstance(exc, scrapy_errors.DownloadCancelledError) and (
        found := _ANNOUNCED_TOO_LARGE.search(str(exc))
    ):
        return None, f"too large: over {found.group(1)} bytes"
    if (
        isinstance(exc, scrapy_errors.DownloadCancelledError)
        and settings is not None
        and _cancelled_at_cap(exc, max_bytes := settings.getint("DOWNLOAD_MAXSIZE"))
    ):
        return None, f"too large: over {max_bytes} bytes"
    for kinds, reason in _REASONS:
        if isinstance(exc, kinds):
            return None, reason
    if isinstance(exc, net.ConnectError | scrapy_errors.DownloadFailedError):
        return None, f"cannot connect: {_one_line(exc)}"
    return None, f"{type(exc).__name__}: {_one_line(exc)}"


def _cancelled_at_cap(exc: scrapy_errors.DownloadCancelledError, max_bytes: int) -> bool:
    """Whether the HTTP/1.1 handler cancelled the download for passing `max_bytes`.

    Its response reader cancels the download's Deferred (a Twisted CancelledError with
    no message, wrapped by Scrapy) for that reason alone; a request stopped on purpose
    ends with its response instead.
    """
    return bool(max_bytes) and isinstance(exc.__cause__, CancelledError) and not str(exc)


def forbidden_by_robots(failure: Failure) -> bool:
    """Say whether robots.txt forbade the request (and not some other refusal)."""
    # RobotsTxtMiddleware raises a plain IgnoreRequest with this message.
    exc = failure.value
    return isinstance(exc, scrapy_errors.IgnoreRequest) and str(exc) == "Forbidden by robots.txt"


def _ignored(failure: Failure, exc: scrapy_errors.IgnoreRequest) -> str | None:
    """Say why a downloader middleware dropped the response, for the two it drops."""
    # HttpCompressionMiddleware: the body grew past DOWNLOAD_MAXSIZE while decompressing.
    limit = getattr(exc.__cause__, "max_size", None)
    if isinstance(limit, int):
        return f"too large: over {limit} bytes after decompression"
    # RedirectMiddleware gives up past REDIRECT_MAX_TIMES with this message.
    request = getattr(failure, "request", None)
    if str(exc) == "max redirections reached" and request is not None:
        visited = request.meta.get("redirect_urls", [])
        if request.url in visited:
            return f"redirect loop (back to {request.url})"
        return f"too many redirects (more than {len(visited)})"
    return None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
