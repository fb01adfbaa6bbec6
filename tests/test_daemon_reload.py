"""End-to-end: the running daemon applies config.toml changes without a restart.

The real `newswatch run` in a subprocess (tick 1s, feed intervals 1s), and a FeedServer
on 127.0.0.1 in this process:
1. a feed and a topic added to the file are polled and matched, no restart;
2. an edit the file watcher cannot see (same size, same modification time) is applied
   on SIGHUP;
3. a broken edit is reported in one line, and the daemon keeps polling with the config
   it had.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests import feedserver
from tests.daemon_helpers import (
    assert_clean_log,
    running,
    sqlite_url,
    try_snapshot,
    wait_until,
)
from tests.feedserver import Entry, FeedServer

feed_server = feedserver.feed_server

pytestmark = pytest.mark.slow

START_TIMEOUT = 30.0
STEP_TIMEOUT = 20.0


def config_text(
    server: FeedServer, config: Path, feeds: dict[str, str], topics: dict[str, str]
) -> str:
    lines = [
        "[storage]",
        f"url = {json.dumps(sqlite_url(config))}",
        "",
        "[daemon]",
        'tick = "1s"',
        "",
        "[network]",
        "allow_private = true",
        "",
        "[polling]",
        'min_interval = "1s"',
        "",
    ]
    for name, query in topics.items():
        lines += ["[[topics]]", f'name = "{name}"', f"query = {json.dumps(query)}", ""]
    for name, path in feeds.items():
        lines += ["[[feeds]]", f'name = "{name}"', f"url = {json.dumps(server.url(path))}"]
        lines += ['interval = "1s"', ""]
    return "\n".join(lines)


def stored_titles(config: Path) -> set[str]:
    found = try_snapshot(sqlite_url(config))
    return set(found.titles()) if found is not None else set()


def log_lines(text: str, marker: str) -> list[str]:
    return [line for line in text.splitlines() if marker in line]


def test_the_daemon_applies_config_changes_without_a_restart(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for path, title in [("/a.xml", "alpha one"), ("/b.xml", "beta two"), ("/c.xml", "beta three")]:
        feed_server.set_feed(path, [Entry(path, title, f"https://n.example{path}", "Text.", now)])
    config = tmp_path / "config.toml"
    config.write_text(
        config_text(feed_server, config, {"a": "/a.xml"}, {"alpha": "alpha"}), encoding="utf-8"
    )
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: "alpha one" in stored_titles(config), START_TIMEOUT, "feed a", daemon=daemon
        )

        # 1. A feed and a topic added to the file: the file watcher applies them.
        both = {"a": "/a.xml", "b": "/b.xml"}
        topics = {"alpha": "alpha", "beta": "beta"}
        config.write_text(config_text(feed_server, config, both, topics), encoding="utf-8")
        wait_until(
            lambda: "beta two" in stored_titles(config), STEP_TIMEOUT, "feed b", daemon=daemon
        )
        assert log_lines(
            daemon.stderr(), "config applied reason=file changed feeds=+b topics=+beta"
        )

        # 2. Feed b moves to /c.xml in an edit that keeps the file's size and times.
        before = os.stat(config)
        moved = {"a": "/a.xml", "b": "/c.xml"}
        config.write_text(config_text(feed_server, config, moved, topics), encoding="utf-8")
        os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert os.stat(config).st_size == before.st_size
        time.sleep(2.5)  # two looks of the watcher, which must not see it
        assert feed_server.count("/c.xml") == 0
        daemon.send(signal.SIGHUP)
        wait_until(
            lambda: "beta three" in stored_titles(config), STEP_TIMEOUT, "SIGHUP", daemon=daemon
        )
        assert log_lines(daemon.stderr(), "config applied reason=SIGHUP feeds=~b")

        # 3. A broken edit: reported once, in one line; the old config stays in force.
        broken = config_text(feed_server, config, moved, topics).replace(
            'name = "beta"', 'name = "beta"\nlanguages = ["not a language"]'
        )
        config.write_text(broken, encoding="utf-8")
        wait_until(
            lambda: bool(log_lines(daemon.stderr(), "config not applied")),
            STEP_TIMEOUT,
            "the broken config to be reported",
            daemon=daemon,
        )
        polled = feed_server.count("/a.xml"), feed_server.count("/c.xml")
        wait_until(
            lambda: (
                feed_server.count("/a.xml") >= polled[0] + 2
                and feed_server.count("/c.xml") >= polled[1] + 2
            ),
            STEP_TIMEOUT,
            "polls with the old config",
            daemon=daemon,
        )
        status, _, log = daemon.stop(STEP_TIMEOUT)
    assert status == 0, log
    (refused,) = log_lines(log, "config not applied")
    line = broken.splitlines().index('languages = ["not a language"]') + 1
    assert refused.endswith(
        f"{config}:{line}: topics[1].languages[0]: "
        '"not a language" is not a language code (use e.g. en, de, pt-br)'
    )
    assert " WARNING newswatch.reload: " in refused
    assert_clean_log(log)


def test_a_feed_added_to_the_file_is_polled_at_once_not_at_the_next_tick(
    feed_server: FeedServer, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    for path, title in [("/a.xml", "alpha one"), ("/b.xml", "alpha two")]:
        feed_server.set_feed(path, [Entry(path, title, f"https://n.example{path}", "Text.", now)])
    config = tmp_path / "config.toml"

    def hourly(feeds: dict[str, str]) -> str:
        text = config_text(feed_server, config, feeds, {"alpha": "alpha"})
        return text.replace('tick = "1s"', 'tick = "1h"')

    config.write_text(hourly({"a": "/a.xml"}), encoding="utf-8")
    with running(config, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: "alpha one" in stored_titles(config), START_TIMEOUT, "feed a", daemon=daemon
        )
        # The next tick is an hour away; the watcher looks every few seconds.
        config.write_text(hourly({"a": "/a.xml", "b": "/b.xml"}), encoding="utf-8")
        wait_until(
            lambda: "alpha two" in stored_titles(config), STEP_TIMEOUT, "feed b", daemon=daemon
        )
        status, _, log = daemon.stop(STEP_TIMEOUT)
    assert status == 0, log
    assert log_lines(log, "config applied reason=file changed feeds=+b")
    assert_clean_log(log)
