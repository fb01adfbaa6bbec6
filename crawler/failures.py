"""One clear line for every way a fetch can fail."""

from __future__ import annotations

from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import error as net
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived


def describe_failure(failure: Failure) -> tuple[int | None, str]:
    """Return the HTTP status (None when no response came) and a one-line reason."""
    exc = failure.value
    if exc is None:
        return None, "unknown failure"
    if isinstance(exc, HttpError):
        status = int(exc.response.status)
        return status, f"HTTP {status}"
    if isinstance(exc, net.DNSLookupError):
        return None, "DNS lookup failed"
    if isinstance(exc, net.ConnectionRefusedError):
        return None, "connection refused"
    if isinstance(exc, net.TimeoutError | net.TCPTimedOutError):
        return None, "timed out"
    if isinstance(exc, ResponseNeverReceived | ResponseFailed | net.ConnectionLost):
        return None, "connection closed before the response was complete"
    if isinstance(exc, net.ConnectError):
        return None, f"cannot connect: {_one_line(exc)}"
    return None, f"{type(exc).__name__}: {_one_line(exc)}"


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
