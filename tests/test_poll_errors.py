"""Feeds that are gone, that moved, or that keep failing, as `newswatch poll` sees them.

The console script runs for real against tests.feedserver. A module fixture polls one
set of feeds several times, each poll also being a "restart" (its config sync runs):

1. `poll`: every feed for the first time;
2. the clock: two failing feeds are made to have been failing for 31 and 29 days (their
   stored `failing_since`), so no test waits for a real month;
3. `poll` again, then `sources --json` and `sources`;
4. `poll gone` (refused), then the feed is back: `feeds enable gone`, and `down` gets a
   new URL in the config; `poll` once more.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from scheduler.cli import app
from storage.models import Source
from tests.daemon_helpers import opened, run_command, sqlite_url
from tests.feedserver import Entry, FeedServer

NOW = datetime.now(UTC)
FEEDS = {
    "ok": "/ok.xml",
    "gone": "/gone.xml",
    "moved": "/old.xml",
    "moved308": "/old308.xml",
    "temp": "/temp.xml",
    "temp307": "/temp307.xml",
    "chain": "/chain-a.xml",
    "down": "/down.xml",
    "shaky": "/shaky.xml",
}


def entries(prefix: str) -> list[Entry]:
    return [
        Entry(f"{prefix}-{n}", f"{prefix} story {n}", f"https://n.example/{prefix}/{n}",
              "Text.", NOW - timedelta(hours=n))
        for n in range(3)
    ]  # fmt: skip


def write_config(folder: Path, server: FeedServer, urls: dict[str, str]) -> Path:
    config = folder / "config.toml"
    feeds = "".join(
        f'[[feeds]]\nname = "{name}"\nurl = "{server.url(path)}"\n\n' for name, path in urls.items()
    )
    config.write_text(
        f'[storage]\nurl = "{sqlite_url(config)}"\n\n'
        "[daemon]\nper_host = 8\n\n[network]\nallow_private = true\n\n"
        '[polling]\ndisable_after = "30d"\n\n' + feeds,
        encoding="utf-8",
    )
    return config


def failing_for(config: Path, name: str, days: int) -> None:
    """Pretend the feed's current run of errors began `days` ago."""
    with opened(sqlite_url(config)) as db:
        db.write(
            lambda session: session.execute(
                update(Source)
                .where(Source.name == name)
                .values(failing_since=datetime.now(UTC) - timedelta(days=days))
            )
        )


def poll(config: Path, *names: str) -> subprocess.CompletedProcess[str]:
    done = run_command(config, "poll", *names)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@dataclass(frozen=True)
class Polls:
    server: FeedServer
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    sources: dict[str, dict[str, Any]]  # `sources --json` after the second poll
    table: str  # `sources` after the second poll
    named: Result  # `poll gone` while it is disabled
    enable: Result  # `feeds enable gone`
    last: subprocess.CompletedProcess[str]
    after: dict[str, dict[str, Any]]  # `sources --json` after the last poll
    requests: dict[str, int]  # requests per path before the last poll


def invoke(config: Path, *args: str) -> Result:
    """Run a command that needs no event loop in this process (saves a start-up)."""
    return CliRunner().invoke(app, ["--config", str(config), *args], prog_name="newswatch")


def sources_json(config: Path) -> dict[str, dict[str, Any]]:
    done = invoke(config, "sources", "--json")
    assert done.exit_code == 0, done.output
    return {row["name"]: row for row in json.loads(done.stdout)}


@pytest.fixture(scope="module")
def polls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polls]:
    folder = tmp_path_factory.mktemp("errors")
    with FeedServer() as server:
        for name, path in [
            ("ok", "/ok.xml"),
            ("moved", "/new.xml"),
            ("moved308", "/new308.xml"),
            ("temp", "/target.xml"),
            ("temp307", "/target307.xml"),
            ("chain", "/chain-c.xml"),
            ("down", "/down2.xml"),
        ]:
            server.set_feed(path, entries(name))
        server.set_fault("/gone.xml", "410")
        server.set_fault("/old.xml", "redirect", to="/new.xml", status=301)
        server.set_fault("/old308.xml", "redirect", to="/new308.xml", status=308)
        server.set_fault("/temp.xml", "redirect", to="/target.xml", status=302)
        server.set_fault("/temp307.xml", "redirect", to="/target307.xml", status=307)
        server.set_fault("/chain-a.xml", "redirect", to="/chain-b.xml", status=301)
        server.set_fault("/chain-b.xml", "redirect", to="/chain-c.xml", status=302)
        server.set_fault("/down.xml", "500")
        server.set_fault("/shaky.xml", "500")
        config = write_config(folder, server, FEEDS)
        first = poll(config)
        failing_for(config, "down", 31)
        failing_for(config, "shaky", 29)
        second = poll(config)
        sources = sources_json(config)
        table = invoke(config, "sources").stdout
        named = invoke(config, "poll", "gone")  # refused before any event loop starts
        # The feed is back, and the user gives `down` a new address.
        server.clear_fault("/gone.xml")
        server.set_feed("/gone.xml", entries("gone"))
        enable = invoke(config, "feeds", "enable", "gone")
        write_config(folder, server, {**FEEDS, "down": "/down2.xml"})
        requests = {path: server.count(path) for path in server_paths()}
        last = poll(config)
        after = sources_json(config)
        yield Polls(server, first, second, sources, table, named, enable, last, after, requests)


def server_paths() -> list[str]:
    return [*FEEDS.values(), "/new.xml", "/new308.xml", "/target.xml", "/chain-b.xml",
            "/chain-c.xml", "/down2.xml"]  # fmt: skip


# --- 410 Gone ------------------------------------------------------------------------------


def test_a_410_disables_the_feed_and_says_why(polls: Polls) -> None:
    gone = polls.sources["gone"]
    assert gone["state"] == "disabled"
    assert gone["disabled_by"] == "newswatch"
    assert gone["disabled_reason"] == "HTTP 410 Gone: the feed was removed for good"
    assert gone["enabled"] is True  # the config's own switch is untouched
    assert "feed disabled source=gone" in polls.first.stderr


def test_a_disabled_feed_stays_disabled_across_a_restart(polls: Polls) -> None:
    # The second poll synced the config (as a restart does) and did not ask again.
    assert polls.requests["/gone.xml"] == 1


def test_polling_a_disabled_feed_by_name_says_how_to_enable_it(polls: Polls) -> None:
    assert polls.named.exit_code == 2
    assert polls.named.output.strip() == (
        "newswatch: feed gone was disabled by newswatch: HTTP 410 Gone: the feed was removed"
        " for good (`newswatch feeds enable gone` polls it again)"
    )


def test_feeds_enable_polls_it_again(polls: Polls) -> None:
    assert polls.enable.exit_code == 0, polls.enable.output
    assert polls.enable.stdout.strip() == (
        "enabled feed gone again (it was disabled: HTTP 410 Gone: the feed was removed for good)"
    )
    gone = polls.after["gone"]
    assert gone["state"] == "ok" and gone["disabled_reason"] is None
    assert gone["last_status"] == 200 and gone["articles"] == 3


def test_sources_table_shows_disabled_and_why(polls: Polls) -> None:
    line = next(line for line in polls.table.splitlines() if line.startswith("│ gone "))
    assert "disabled" in line
    assert "disabled by newswatch on" in line and "HTTP 410 Gone" in line


# --- Redirects -----------------------------------------------------------------------------


def test_a_301_moves_the_stored_url_for_the_next_poll(polls: Polls) -> None:
    moved = polls.sources["moved"]
    assert moved["url"] == polls.server.url("/new.xml")
    assert moved["configured_url"] == polls.server.url("/old.xml")
    assert moved["moved_from"] == polls.server.url("/old.xml")
    # The second poll went straight to the new URL, with the validators it had given.
    assert polls.requests["/old.xml"] == 1
    assert polls.requests["/new.xml"] == 2
    second = polls.server.requests("/new.xml")[1]
    assert second.header("if-none-match") == polls.server.resource("/new.xml").etag  # type: ignore[union-attr]
    assert moved["last_status"] == 304
    assert "feed moved permanently source=moved" in polls.first.stderr


def test_a_308_moves_the_stored_url(polls: Polls) -> None:
    assert polls.sources["moved308"]["url"] == polls.server.url("/new308.xml")
    assert polls.requests["/old308.xml"] == 1


def test_a_302_or_307_does_not_move_it(polls: Polls) -> None:
    for name, path in [("temp", "/temp.xml"), ("temp307", "/temp307.xml")]:
        row = polls.sources[name]
        assert row["url"] == polls.server.url(path)
        assert row["moved_from"] is None and row["moved_at"] is None
        assert polls.requests[path] == 2
        assert row["articles"] == 3  # the content was read through the redirect


def test_a_301_then_a_302_moves_to_the_permanent_target_only(polls: Polls) -> None:
    assert polls.sources["chain"]["url"] == polls.server.url("/chain-b.xml")
    assert polls.requests["/chain-a.xml"] == 1
    assert polls.requests["/chain-b.xml"] == 2


def test_the_move_is_kept_while_the_configured_url_is_unchanged(polls: Polls) -> None:
    # The last poll synced a rewritten config.toml that still names /old.xml.
    assert polls.after["moved"]["url"] == polls.server.url("/new.xml")
    assert polls.server.count("/old.xml") == 1


def test_sources_table_shows_the_move(polls: Polls) -> None:
    line = next(line for line in polls.table.splitlines() if line.startswith("│ moved "))
    assert f"moved permanently on {NOW:%Y-%m-%d} from {polls.server.url('/old.xml')}" in line


# --- Failing for too long ------------------------------------------------------------------


def test_a_feed_failing_longer_than_disable_after_is_disabled(polls: Polls) -> None:
    down = polls.sources["down"]
    assert down["state"] == "disabled" and down["disabled_by"] == "newswatch"
    since = datetime.now(UTC) - timedelta(days=31)
    assert down["disabled_reason"] == (
        f"HTTP 500; failing since {since:%Y-%m-%d}, longer than polling.disable_after"
    )


def test_a_feed_failing_for_less_is_still_polled(polls: Polls) -> None:
    shaky = polls.sources["shaky"]
    assert shaky["state"] == "failing" and shaky["disabled_reason"] is None
    assert shaky["error_count"] == 2
    assert polls.server.count("/shaky.xml") > polls.requests["/shaky.xml"]  # asked again


def test_a_new_url_in_the_config_enables_a_disabled_feed(polls: Polls) -> None:
    down = polls.after["down"]
    assert down["state"] == "ok" and down["disabled_reason"] is None
    assert down["url"] == polls.server.url("/down2.xml")
    assert down["error_count"] == 0 and down["articles"] == 3
    assert polls.server.count("/down.xml") == polls.requests["/down.xml"]  # nor the old URL


def test_feeds_enable_refuses_unknown_feeds_and_ones_the_config_switched_off(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "{sqlite_url(config)}"\n\n'
        '[[feeds]]\nname = "off"\nurl = "https://n.example/feed.xml"\nenabled = false\n',
        encoding="utf-8",
    )
    unknown = invoke(config, "feeds", "enable", "nosuch")
    assert unknown.exit_code == 2
    assert unknown.output.strip() == f"newswatch: no feed named nosuch in {config}"
    off = invoke(config, "feeds", "enable", "off")
    assert off.exit_code == 2
    assert off.output.strip() == (
        f"newswatch: feed off is disabled in the config: set enabled = true in {config}"
    )
