"""The daemon's HTTP endpoint: `/healthz` (JSON) and Prometheus `/metrics`.

It runs in a thread server of its own (the standard library's WSGI server, one thread
per request, as prometheus-client's `start_http_server` does), not on the event loop:
`/healthz` must ask the database whether it answers, which blocks, and a scrape must be
answered even while the loop is busy, which is exactly when an operator looks. The
handlers only read: the database through the engine's own pool (thread-safe), and the
scheduler's state through plain attribute reads.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from apscheduler.schedulers.base import STATE_RUNNING, BaseScheduler
from prometheus_client import make_wsgi_app
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.config import ConfigError, Problem
from scheduler.metrics import Metrics
from storage.db import Database, one_line
from storage.exceptions import StorageError

log = logging.getLogger("newswatch.endpoint")

STALE_GRACE_S = 600


@dataclass(frozen=True)
class Probe:
    """What `/healthz` looks at; callables, read at each request."""

    database: Database
    scheduler_running: Callable[[], bool]
    tick_age_s: Callable[[], float]
    stale_after_s: float  # a tick older than this, with none running, is unhealthy

    def check(self) -> tuple[bool, dict[str, Any]]:
        """Return whether the daemon is healthy, and the report `/healthz` shows."""
        reachable, error = True, None
        try:
            with self.database.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, StorageError, OSError) as exc:
            reachable, error = False, one_line(exc)
        running = self.scheduler_running()
        age = round(self.tick_age_s(), 3)
        fresh = age <= self.stale_after_s
        report: dict[str, Any] = {
            "status": "ok" if reachable and running and fresh else "failing",
            "scheduler_running": running,
            "database_reachable": reachable,
            "last_tick_age_s": age,
            "stale_after_s": self.stale_after_s,
        }
        if error is not None:
            report["database_error"] = error
        return reachable and running and fresh, report


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress never holds up the daemon's exit


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        # One access line per scrape (every 15 s) would drown the daemon's own log.
        pass


class Endpoint:
    """Serve `/healthz` and `/metrics` at an address, in a background thread."""

    def __init__(self, host: str, port: int, metrics: Metrics, probe: Probe) -> None:
        self.probe = probe
        self._metrics_app = make_wsgi_app(metrics.registry)
        server_class = _Server6 if ":" in host else _Server
        try:
            self._server: WSGIServer = make_server(
                host, port, self.app, server_class, _QuietHandler
            )
        except OSError as exc:
            # Most often the port is taken (another daemon on this machine, or a restart
            # racing the old process): a problem with the configured address.
            message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            raise ConfigError([Problem("daemon.metrics", message)]) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="newswatch-endpoint", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        """Return the host and port actually bound."""
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Start answering requests."""
        self._thread.start()
        host, port = self.address
        log.info("endpoint listening url=http://%s:%d/ paths=/healthz,/metrics", host, port)

    def stop(self) -> None:
        """Stop answering and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Route a request: /healthz here, /metrics to prometheus-client."""
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body: Iterable[bytes] = self._metrics_app(environ, start_response)
            return body
        if path == "/healthz":
            started = time.monotonic()
            healthy, report = self.probe.check()
            report["check_s"] = round(time.monotonic() - started, 3)
            payload = json.dumps(report).encode()
            status = "200 OK" if healthy else "503 Service Unavailable"
            start_response(
                status,
                [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        payload = b"not found: try /healthz or /metrics\n"
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [payload]


def daemon_probe(
    database: Database,
    scheduler: BaseScheduler,
    tick_age_s: Callable[[], float],
    tick_s: int,
) -> Probe:
    """Return the probe of a running daemon.

    A tick normally begins every `tick_s`; a long crawl holds the next one back, so a
    tick is called stale only after three ticks or ten minutes past one, whichever is
    longer.
    """
    return Probe(
        database=database,
        scheduler_running=lambda: bool(scheduler.running) and scheduler.state == STATE_RUNNING,
        tick_age_s=tick_age_s,
        stale_after_s=float(max(3 * tick_s, tick_s + STALE_GRACE_S)),
    )
