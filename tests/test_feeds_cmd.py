"""`newswatch feeds add|remove|import|export-opml`: config.toml edited in place.

Discovery fetches through Scrapy's reactor, which cannot start twice in one process, so
those tests run the console script; the rest use click's runner.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from scheduler.cli import app
from scheduler.config import load_config
from tests.feedserver import Entry, FeedServer

NEWSWATCH = Path(sys.executable).parent / "newswatch"

CONFIG = """\
# My newswatch config: these comments must survive every edit.

[storage]
url = "sqlite:///data/newswatch.db"  # the default place

[network]
allow_private = true  # the test server is on 127.0.0.1

[[topics]]
name = "dprk"
# The war, seen from Pyongyang.
query = '("North Korea" OR DPRK) AND (Russia OR Ukraine)'
sources = ["world"]

[[feeds]]
# The world desk.
name = "world"
url = "https://world.example/rss.xml"

[[feeds]]
name = "wire"
url = "https://wire.example/atom.xml"
interval = "15m"  # the wire is busy
"""

OPML = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My reader</title></head>
  <body>
    <outline text="News">
      <outline text="Asia Desk" type="rss" xmlUrl="https://asia.example/feed"/>
      <outline text="World again" type="rss" xmlUrl="https://world.example/rss.xml"/>
    </outline>
    <outline text="Korea Watch" type="rss" xmlUrl="https://korea.example/atom"/>
    <outline text="Not a feed" type="link" url="https://blog.example/"/>
  </body>
</opml>
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def invoke(config: Path, *args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(app, ["--config", str(config), *args], input=input)


def comments(text: str) -> list[str]:
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def test_add_without_discovery_appends_a_feed_and_keeps_comments(config: Path) -> None:
    result = invoke(
        config, "feeds", "add", "https://asia.example/feed", "--no-discover",
        "--topic", "dprk", "--interval", "30m",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "added feed asia-example: https://asia.example/feed"
    text = config.read_text(encoding="utf-8")
    assert comments(text) == comments(CONFIG)
    assert text.startswith(CONFIG)  # nothing above the new table moved
    feed = load_config(config, env={}).feeds[-1]
    assert (feed.name, feed.url, feed.topics, feed.interval_s) == (
        "asia-example",
        "https://asia.example/feed",
        ("dprk",),
        1800,
    )


def test_a_feed_added_before_the_sites_leaves_their_comments_with_them(
    config: Path,
) -> None:
    sites = (
        "\n# Sites: crawled by a spider.\n# One per news site.\n\n"
        '[[sites]]\nname = "kilbay"\nstart_urls = ["https://kilbay.example/"]\n'
    )
    config.write_text(CONFIG + '# interval = "1h"  (the wire, once quieter)\n' + sites)
    result = invoke(config, "feeds", "add", "https://asia.example/feed", "--no-discover")
    assert result.exit_code == 0, result.output
    assert config.read_text(encoding="utf-8") == (
        CONFIG + '# interval = "1h"  (the wire, once quieter)\n'
        '\n[[feeds]]\nname = "asia-example"\nurl = "https://asia.example/feed"\n' + sites
    )


def test_adding_a_known_url_or_name_is_refused(config: Path) -> None:
    again = invoke(config, "feeds", "add", "https://world.example/rss.xml", "--no-discover")
    assert again.exit_code == 2
    assert "already in" in again.stderr
    taken = invoke(config, "feeds", "add", "https://x.example/", "--no-discover", "--name", "wire")
    assert taken.exit_code == 2
    assert 'a feed named "wire" exists already' in taken.stderr
    assert config.read_text(encoding="utf-8") == CONFIG


def test_an_edit_that_breaks_the_config_is_refused_and_nothing_is_written(config: Path) -> None:
    unknown_topic = invoke(
        config, "feeds", "add", "https://x.example/rss", "--no-discover", "--topic", "nope"
    )
    assert unknown_topic.exit_code == 2
    assert unknown_topic.stderr.strip().splitlines() == [
        'newswatch: --topic: unknown topic "nope" (known: dprk)'
    ]
    # The topic `dprk` names `world` among its sources: removing it would break that.
    referenced = invoke(config, "feeds", "remove", "world")
    assert referenced.exit_code == 2
    assert "topics[0].sources[0]" in referenced.stderr and '"world"' in referenced.stderr
    bad_interval = invoke(
        config, "feeds", "add", "https://x.example/rss", "--no-discover", "--interval", "soon"
    )
    assert bad_interval.exit_code == 2
    assert config.read_text(encoding="utf-8") == CONFIG
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]  # no temporary left


def test_remove_takes_the_feed_and_only_it(config: Path) -> None:
    result = invoke(config, "feeds", "remove", "wire")
    assert result.exit_code == 0, result.output
    text = config.read_text(encoding="utf-8")
    assert "wire.example" not in text
    assert "# The world desk." in text and "# My newswatch config" in text
    assert [f.name for f in load_config(config, env={}).feeds] == ["world"]
    missing = invoke(config, "feeds", "remove", "wire")
    assert missing.exit_code == 2
    assert 'no feed named "wire"' in missing.stderr


def test_import_opml_adds_new_feeds_and_skips_known_ones(config: Path, tmp_path: Path) -> None:
    opml = tmp_path / "reader.opml"
    opml.write_bytes(OPML)
    result = invoke(config, "feeds", "import", str(opml))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"added 2 of 3 feeds from {opml}"
    feeds = {f.name: f.url for f in load_config(config, env={}).feeds}
    assert feeds == {
        "world": "https://world.example/rss.xml",
        "wire": "https://wire.example/atom.xml",
        "asia-desk": "https://asia.example/feed",
        "korea-watch": "https://korea.example/atom",
    }
    assert comments(config.read_text(encoding="utf-8")) == comments(CONFIG)
    # Importing the same file again adds nothing and writes nothing.
    before = config.read_text(encoding="utf-8")
    again = invoke(config, "feeds", "import", "-", input=OPML)
    assert again.stdout.strip() == "added 0 of 3 feeds from -"
    assert config.read_text(encoding="utf-8") == before


def test_export_opml_round_trips_through_import(config: Path, tmp_path: Path) -> None:
    exported = invoke(config, "feeds", "export-opml")
    assert exported.exit_code == 0, exported.output
    assert exported.stdout.startswith("<?xml")
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing yet\n", encoding="utf-8")
    imported = invoke(empty, "feeds", "import", "-", input=exported.stdout.encode())
    assert imported.exit_code == 0, imported.output
    assert [(f.name, f.url) for f in load_config(empty, env={}).feeds] == [
        ("world", "https://world.example/rss.xml"),
        ("wire", "https://wire.example/atom.xml"),
    ]
    assert empty.read_text(encoding="utf-8").startswith("# nothing yet\n")


def test_a_file_that_is_not_opml_is_one_line(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.opml"
    bad.write_bytes(b"<html><body>not an outline</body></html>")
    result = invoke(config, "feeds", "import", str(bad))
    assert result.exit_code != 0
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# --- discovery, through the real console script ------------------------------------------


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        entry = Entry("g1", "North Korea and Russia", "https://news.example/1", "Text.", None)
        running.set_feed("/feeds/world.xml", [entry], kind="atom", title="World News Desk")
        running.set_page(
            "/",
            "<html><head><title>Home</title>"
            '<link rel="alternate" type="application/atom+xml" title="World News Desk" '
            'href="/feeds/world.xml"><link rel="stylesheet" href="/s.css"></head>'
            "<body>Hello</body></html>",
        )
        running.set_page("/plain", "<html><body>No feeds here.</body></html>")
        yield running


def run(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    return subprocess.run(
        [str(NEWSWATCH), "--config", str(config), "feeds", "add", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_add_discovers_the_feed_a_page_links_to(config: Path, server: FeedServer) -> None:
    done = run(config, server.url("/"))
    assert done.returncode == 0, done.stderr
    feed_url = server.url("/feeds/world.xml")
    assert done.stdout.strip() == f"added feed world-news-desk: {feed_url}"
    assert load_config(config, env={}).feeds[-1].url == feed_url
    # The feed's own URL works too, and is then known.
    again = run(config, feed_url)
    assert again.returncode == 2
    assert "already in" in again.stderr


def test_add_of_a_page_without_a_feed_is_one_line(config: Path, server: FeedServer) -> None:
    done = run(config, server.url("/plain"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"newswatch: {server.url('/plain')} is neither a feed nor a page that links to one "
        "(add --no-discover)"
    ]
    assert config.read_text(encoding="utf-8") == CONFIG


def test_add_of_a_refused_address_says_which_setting_allows_it(tmp_path: Path) -> None:
    # The config's network.allow_private is off: a feed on this machine is refused, when
    # discovering it as when polling it, so --no-discover is no way out.
    with FeedServer() as local:
        local.set_page("/", "<html><head><title>Local</title></head></html>")
        strict = tmp_path / "config.toml"
        strict.write_text(CONFIG.replace("allow_private = true", "allow_private = false"))
        home = local.url("/")
        done = run(strict, home)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"newswatch: cannot fetch {home}: blocked: 127.0.0.1 is a loopback "
        "address (set network.allow_private = true to fetch it)"
    ]
