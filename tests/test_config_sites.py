"""Tests for `[[sites]]` in config.toml (scheduler/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from scheduler.cli import app
from scheduler.config import SiteConfig, check_config, load_config

SITE = """\
[[topics]]
name = "ports"
query = "harbour OR port"

[[feeds]]
name = "wire"
url = "https://wire.example/rss"

[[sites]]
name = "herald"
sitemap = "https://herald.example/sitemap_index.xml"
start_urls = ["https://herald.example/world/"]
allow = ["/news/"]
deny = ["/tag/"]
max_depth = 2
max_pages = 50
max_age = "7d"
schedule = "0 */2 * * *"
topics = ["ports"]
keep_unmatched = true

[[sites]]
name = "api"
spider = "json_listing"
start_urls = ["https://api.example/latest.json"]
interval = "30m"
enabled = false
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sites_are_read_with_every_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, SITE), env={})
    herald, api = config.sites
    assert herald == SiteConfig(
        name="herald",
        sitemaps=("https://herald.example/sitemap_index.xml",),
        start_urls=("https://herald.example/world/",),
        allow=("/news/",),
        deny=("/tag/",),
        max_depth=2,
        max_pages=50,
        max_age_s=7 * 86_400,
        schedule="0 */2 * * *",
        topics=("ports",),
        keep_unmatched=True,
    )
    assert herald.url == "https://herald.example/sitemap_index.xml"
    assert (api.spider, api.interval_s, api.enabled) == ("json_listing", 1800, False)


def test_a_topic_may_be_limited_to_a_site(tmp_path: Path) -> None:
    text = SITE.replace('query = "harbour OR port"', 'query = "harbour"\nsources = ["herald"]')
    assert check_config(write(tmp_path, text), env={}) == []


@pytest.mark.parametrize(
    ("snippet", "key", "message"),
    [
        ('schedule = "every two hours"', "sites[0].schedule", "is not a cron schedule"),
        ('schedule = "0 25 * * *"', "sites[0].schedule", "is not a cron schedule"),
        ('schedule = "0 * * * *"\ninterval = "1h"', "sites[0].interval", "not both"),
        ('allow = ["(unclosed"]', "sites[0].allow[0]", "not a regular expression"),
        ('sitemap = "ftp://x.example/s.xml"', "sites[0].sitemap[0]", "not an http(s) URL"),
        ('spider = "nope"', "sites[0].spider", 'no spider named "nope"'),
        ('spider = "feeds"', "sites[0].spider", 'no spider named "feeds"'),
        ("max_pages = 0", "sites[0].max_pages", "greater than 0"),
        ('max_age = "a week"', "sites[0].max_age", "not a duration"),
        ('topics = ["nope"]', "sites[0].topics[0]", 'unknown topic "nope"'),
        ('sitemaps = "x"', "sites[0].sitemaps", 'did you mean "sitemap"'),
    ],
)
def test_site_mistakes_are_named(tmp_path: Path, snippet: str, key: str, message: str) -> None:
    text = '[[topics]]\nname = "t"\nquery = "x"\n\n[[sites]]\nname = "s"\n'
    text += f'start_urls = ["https://s.example/"]\n{snippet}\n'
    problems = check_config(write(tmp_path, text), env={})
    assert [p.key for p in problems] == [key], problems
    assert message in problems[0].message
    assert problems[0].line is not None


def test_a_site_needs_something_to_crawl(tmp_path: Path) -> None:
    problems = check_config(write(tmp_path, '[[sites]]\nname = "s"\n'), env={})
    assert [(p.key, p.line) for p in problems] == [("sites[0]", 1)]
    assert "nothing to crawl" in problems[0].message


def test_a_site_may_not_share_a_feed_name(tmp_path: Path) -> None:
    text = '[[feeds]]\nname = "x"\nurl = "https://x.example/rss"\n\n'
    text += '[[sites]]\nname = "x"\nstart_urls = ["https://x.example/"]\n'
    problems = check_config(write(tmp_path, text), env={})
    assert [p.key for p in problems] == ["sites[0].name"]
    assert "already the name of a feed" in problems[0].message


def test_crawl_names_an_unknown_or_disabled_site_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, SITE)
    runner = CliRunner()
    result = runner.invoke(app, ["--config", str(path), "crawl", "nope"], prog_name="newswatch")
    assert result.exit_code == 2
    assert result.stderr.strip() == f"newswatch: no site named nope in {path}"
    result = runner.invoke(app, ["--config", str(path), "crawl", "api"], prog_name="newswatch")
    assert result.exit_code == 2
    assert "site api is disabled" in result.stderr
