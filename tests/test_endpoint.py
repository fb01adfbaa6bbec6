"""`/healthz` and `/metrics`: scraped from a real daemon, and failing when they should."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, make_url

from scheduler.cli import app
from scheduler.endpoint import Endpoint, Probe
from scheduler.metrics import Metrics
from storage.db import Database
from tests import feedserver
from tests.daemon_helpers import (
    TOPIC_NAME,
    FeedSpec,
    assert_clean_log,
    run_command,
    running,
    snapshot,
    sqlite_url,
    wait_until,
    write_config,
)
from tests.feedserver import Entry, FeedServer
from tests.test_daemon import at

feed_server = feedserver.feed_server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()
    except OSError:
        return 0, ""


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return every sample of a Prometheus exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.mark.slow
def test_metrics_and_health_of_a_running_daemon(feed_server: FeedServer, tmp_path: Path) -> None:
    u = feed_server.url
    on_topic = [
        Entry(f"w{n}", f"North Korean troops in Russia, day {n}", u(f"/w{n}"), "DPRK.", at(n))
        for n in range(3)
    ]
    off_topic = [
        Entry(f"t{n}", f"Chip prices {n}", u(f"/t{n}"), "Silicon.", at(n)) for n in range(2)
    ]
    feed_server.set_feed("/world.xml", on_topic)
    feed_server.set_feed("/tech.xml", off_topic)
    feed_server.set_fault("/broken.xml", "500")
    feeds = [
        FeedSpec("world", "/world.xml", interval="1h"),
        FeedSpec("tech", "/tech.xml", interval="1h"),
        FeedSpec("broken", "/broken.xml", interval="1h"),
    ]
    config = write_config(tmp_path, feed_server, feeds)
    base = f"http://127.0.0.1:{free_port()}"
    address = base.removeprefix("http://")
    with running(config, tmp_path / "daemon.log", args=["--metrics", address]) as daemon:
        wait_until(
            lambda: (
                "newswatch_polls_total" in get(f"{base}/metrics")[1]
                and sum(
                    v
                    for (name, _), v in samples(get(f"{base}/metrics")[1]).items()
                    if name == "newswatch_polls_total"
                )
                == 3
                and "poll done" in daemon.stderr()
            ),
            30,
            "three feed checks in /metrics",
            daemon=daemon,
        )
        status, body = get(f"{base}/healthz")
        metrics = samples(get(f"{base}/metrics")[1])
        missing = get(f"{base}/nothing")[0]
        log = daemon.stderr()
    assert_clean_log(log)
    assert status == 200, body
    health: dict[str, Any] = json.loads(body)
    assert health["status"] == "ok"
    assert health["scheduler_running"] is True and health["database_reachable"] is True
    assert 0 <= health["last_tick_age_s"] < health["stale_after_s"]
    assert missing == 404

    def value(name: str, **labels: str) -> float:
        return metrics.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("newswatch_polls_total", status="200") == 2
    assert value("newswatch_polls_total", status="500") == 1
    assert value("newswatch_errors_total", kind="http") == 1
    assert value("newswatch_errors_total", kind="network") == 0
    assert value("newswatch_articles_new_total", topic=TOPIC_NAME) == 3
    assert value("newswatch_entries_total", outcome="new") == 3
    assert value("newswatch_entries_total", outcome="off_topic") == 2
    assert value("newswatch_entries_total", outcome="duplicate") == 0
    # Each check's response was timed (the 500 was retried, which the server saw: a
    # retried response is replaced by its retry before the crawl sees it).
    assert feed_server.count("/broken.xml") == 2
    assert value("newswatch_fetch_seconds_count", kind="feed") == 3
    assert value("newswatch_fetch_seconds_bucket", kind="feed", le="+Inf") == 3
    assert value("newswatch_fetch_seconds_sum", kind="feed") > 0
    assert value("newswatch_due_sources_waiting") == 0
    assert ("newswatch_last_tick_age_seconds", ()) in metrics
    stored = snapshot(sqlite_url(config))
    assert len(stored.articles) == 3


@pytest.fixture
def unreachable() -> Iterator[Database]:
    """A PostgreSQL database whose server is not there: nothing listens on port 1."""
    url = make_url("postgresql+psycopg://postgres@127.0.0.1:1/none")
    engine = create_engine(url, connect_args={"connect_timeout": 2})
    db = Database(engine, url)
    try:
        yield db
    finally:
        db.dispose()


def serve(probe: Probe) -> Endpoint:
    endpoint = Endpoint("127.0.0.1", 0, Metrics(), probe)
    endpoint.start()
    return endpoint


def test_healthz_fails_when_the_database_does_not_answer(unreachable: Database) -> None:
    endpoint = serve(Probe(unreachable, lambda: True, lambda: 1.0, 60))
    try:
        host, port = endpoint.address
        status, body = get(f"http://{host}:{port}/healthz")
    finally:
        endpoint.stop()
    assert status == 503
    report = json.loads(body)
    assert report["database_reachable"] is False and report["status"] == "failing"
    assert "database_error" in report


def test_healthz_fails_when_the_scheduler_stops_or_ticks_go_stale(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    try:
        for running_now, age in ((False, 1.0), (True, 61.0)):
            endpoint = serve(Probe(db, lambda r=running_now: r, lambda a=age: a, 60))
            try:
                host, port = endpoint.address
                status, body = get(f"http://{host}:{port}/healthz")
            finally:
                endpoint.stop()
            assert status == 503, body
        endpoint = serve(Probe(db, lambda: True, lambda: 59.0, 60))
        try:
            host, port = endpoint.address
            assert get(f"http://{host}:{port}/healthz")[0] == 200
        finally:
            endpoint.stop()
    finally:
        db.dispose()


def test_a_taken_port_is_one_clear_error(feed_server: FeedServer, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path, feed_server, [])
        done = run_command(config, "run", "--metrics", f"127.0.0.1:{port}", timeout=60)
    assert done.returncode == 2, done.stderr
    assert f"daemon.metrics: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("address", ["9108", "127.0.0.1", "127.0.0.1:0", "host:port"])
def test_a_bad_metrics_address_is_refused(
    feed_server: FeedServer, tmp_path: Path, address: str
) -> None:
    config = write_config(tmp_path, feed_server, [])
    result = CliRunner().invoke(app, ["--config", str(config), "run", "--metrics", address])
    assert result.exit_code == 2
    assert "--metrics" in result.output and "HOST:PORT" in result.output
