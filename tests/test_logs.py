"""Logs: JSON lines with the event's keys as fields, and never a password."""

from __future__ import annotations

import json
import logging
import signal
from pathlib import Path

import pytest
from sqlalchemy import make_url

from scheduler.daemon import OverrunTickFilter
from scheduler.logs import JsonFormatter, SecretsFilter
from storage.db import Database, mask_password
from tests import feedserver
from tests.daemon_helpers import (
    FeedSpec,
    assert_clean_log,
    run_command,
    running,
    wait_until,
    write_config,
)
from tests.feedserver import Entry, FeedServer
from tests.test_daemon import at

SECRET = "s3cr3t-pw"
feed_server = feedserver.feed_server


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError(f"cannot connect to postgresql://u:{SECRET}@db/x")
        except ValueError as error:
            exc_info = (type(error), error, error.__traceback__)
    return logging.LogRecord("newswatch.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def as_json(rec: logging.LogRecord) -> dict[str, object]:
    SecretsFilter().filter(rec)
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_json_record_has_the_keys_as_typed_fields() -> None:
    data = as_json(
        record(
            "poll done feeds=%d fetched=%d failed=%d tick=%ss",
            3,
            2,
            1,
            60,
        )
    )
    assert data["event"] == "poll done"
    assert (data["feeds"], data["fetched"], data["failed"], data["tick"]) == (3, 2, 1, 60)
    assert data["level"] == "warning" and data["logger"] == "newswatch.test"
    assert data["message"] == "poll done feeds=3 fetched=2 failed=1 tick=60s"
    assert str(data["time"]).endswith("+00:00")


def test_a_value_with_spaces_stays_one_field() -> None:
    data = as_json(
        record("feed failed source=%s url=%s error=%s", "world", "http://a.test/x", "HTTP 500 oops")
    )
    assert (data["source"], data["url"], data["error"]) == (
        "world",
        "http://a.test/x",
        "HTTP 500 oops",
    )


def test_a_preformatted_message_is_split_into_fields() -> None:
    data = as_json(
        record("storage: transaction conflict, retrying attempt=2 reason=deadlock found")
    )
    assert data["event"] == "storage: transaction conflict, retrying"
    assert (data["attempt"], data["reason"]) == ("2", "deadlock found")
    plain = as_json(record("Crawled (200) <GET http://a.test/>"))
    assert plain["event"] == "Crawled (200) <GET http://a.test/>"


def test_a_field_named_like_a_reserved_key_is_kept_apart() -> None:
    data = as_json(record("odd thing level=%s", "deep"))
    assert data["level"] == "warning" and data["level_"] == "deep"


def test_passwords_are_masked_in_messages_arguments_and_tracebacks() -> None:
    url = f"postgresql+psycopg://newswatch:{SECRET}@db.example/news"
    data = as_json(record("connecting database=%s", url, exc=True))
    text = json.dumps(data)
    assert SECRET not in text
    assert data["database"] == "postgresql+psycopg://newswatch:***@db.example/news"
    assert "***" in str(data["exception"])
    plain = record(f"inline url {url}?password={SECRET}&sslmode=require")
    SecretsFilter().filter(plain)
    assert SECRET not in plain.getMessage()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://u:{SECRET}@127.0.0.1:5432/test",
        f"postgresql+psycopg://u@127.0.0.1:5432/test?password={SECRET}",
        f"postgresql://u:{SECRET}@h/db?PASSWORD={SECRET}",
    ],
)
def test_mask_password_hides_every_spelling(url: str) -> None:
    assert SECRET not in mask_password(url)


def test_display_url_hides_a_password_in_the_query(sqlite_url: str) -> None:
    db = Database.open(sqlite_url)
    try:
        db.url = make_url(f"postgresql+psycopg://u:{SECRET}@h/db?password={SECRET}")
        assert SECRET not in db.display_url
    finally:
        db.dispose()


def test_commands_never_print_the_database_password(tmp_path: Path, pg_url: str) -> None:
    # The test server trusts local connections, so a URL with a password still connects.
    url = make_url(pg_url).set(username="postgres", password=SECRET)
    with FeedServer() as server:
        config = write_config(tmp_path, server, [])
        env = {"NEWSWATCH_DATABASE_URL": url.render_as_string(hide_password=False)}
        done = run_command(config, "db", "upgrade", env=env)
    assert done.returncode == 0, done.stderr
    assert "***" in done.stdout
    assert SECRET not in done.stdout + done.stderr
    bad = make_url("postgresql+psycopg://postgres@127.0.0.1:1/none").set(password=SECRET)
    failed = run_command(
        config, "db", "upgrade", env={"NEWSWATCH_DATABASE_URL": bad.render_as_string(False)}
    )
    assert failed.returncode != 0
    assert SECRET not in failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr


@pytest.mark.slow
def test_daemon_logs_json_lines(feed_server: FeedServer, tmp_path: Path) -> None:
    feed_server.set_feed(
        "/world.xml",
        [Entry("w1", "North Korean troops in Russia", feed_server.url("/w1"), "DPRK.", at(0))],
    )
    feed_server.set_fault("/broken.xml", "500")
    feeds = [FeedSpec("world", "/world.xml", interval="1h"), FeedSpec("broken", "/broken.xml")]
    config = write_config(tmp_path, feed_server, feeds)
    text = config.read_text(encoding="utf-8").replace(
        'tick = "1s"', 'tick = "1s"\nlog_format = "json"'
    )
    config.write_text(text, encoding="utf-8")
    log = tmp_path / "daemon.log"
    with running(config, log) as daemon:
        wait_until(lambda: '"event": "poll done"' in daemon.stderr(), 30, "a poll", daemon=daemon)
        status, _, output = daemon.stop(30, signal.SIGTERM)
    assert status == 0, output
    assert_clean_log(output)
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    events = {line["event"]: line for line in lines}
    started = events["daemon started"]
    assert isinstance(started["pid"], int) and started["feeds"] == 2
    failed = next(line for line in lines if line["event"] == "feed failed")
    assert (failed["source"], failed["error"]) == ("broken", "HTTP 500")
    done = events["poll done"]
    assert isinstance(done["fetched"], int)
    assert {"time", "level", "logger", "event", "message"} <= set(done)
    assert "daemon stopped" in events


def test_literal_and_typed_fields_mix() -> None:
    data = as_json(
        record("endpoint listening url=http://%s:%d/ paths=/healthz batch=%d", "h", 9, 4)
    )
    assert (data["url"], data["paths"], data["batch"]) == ("http://h:9/", "/healthz", 4)
    assert data["event"] == "endpoint listening"


def test_a_tick_that_overruns_the_next_is_not_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    # The record APScheduler makes when a job fires while its last run goes on.
    class Job:
        def __init__(self, job_id: str) -> None:
            self.id = job_id

        def __str__(self) -> str:
            return f"job {self.id}"

    scheduler_log = logging.getLogger("apscheduler.scheduler")
    overrun = OverrunTickFilter()
    scheduler_log.addFilter(overrun)
    try:
        with caplog.at_level(logging.INFO, logger="apscheduler"):
            for job_id in ("tick", "site:kilbay"):
                scheduler_log.warning(
                    'Execution of job "%s" skipped: maximum number of running instances '
                    "reached (%d)",
                    Job(job_id),
                    1,
                )
    finally:
        scheduler_log.removeFilter(overrun)
    # The tick's skips coalesce and are routine; a site outlasting its schedule warns.
    assert [(r.levelname, r.getMessage()[:30]) for r in caplog.records] == [
        ("WARNING", 'Execution of job "job site:kil')
    ]
