"""`network.allow_private`: non-public addresses are refused at every hop.

One `newswatch poll` with `allow_private = false`, in a child process whose DNS is
stubbed (tests/stub_resolver.py; no real lookup is made): a feed on 127.0.0.1, a feed
whose public-looking name resolves to 127.0.0.1, a feed on a "public" host (the test
server, standing in for one) that redirects to 127.0.0.1, and a healthy feed on that
public host whose entry links to a page on 127.0.0.1. Then `poll` of the first feed
with `allow_private = true`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.address import IPv4Address, IPv6Address

from crawler.addresses import refused_kind
from crawler.resolver import PublicAddressResolver, refusal_for
from tests.cli_run import Run, newswatch, query
from tests.feedserver import Entry, FeedServer

PUBLIC = "public.example"  # stands in for a public server: really the test server
REBOUND = "feed.example"  # a public-looking name whose DNS answer is 127.0.0.1


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.0.0.5", "a private address"),
        ("172.16.3.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("100.64.0.1", "a carrier-grade NAT address"),
        ("100.127.255.254", "a carrier-grade NAT address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.2.10", "a private address"),  # documentation (TEST-NET-1)
        ("93.184.215.14", None),
        ("100.128.0.1", None),  # just past carrier-grade NAT
        ("2606:4700::1111", None),
    ],
)
def test_address_kinds(address: str, kind: str | None) -> None:
    assert refused_kind(address) == kind


def stubbed(server: FeedServer, *args: str) -> Run:
    """Run newswatch with DNS stubbed: both names answer 127.0.0.1; PUBLIC counts as public."""
    command = [sys.executable, "-m", "tests.stub_resolver", "--public", PUBLIC]
    command += ["--resolve", f"{PUBLIC}=127.0.0.1", "--resolve", f"{REBOUND}=127.0.0.1", "--"]
    return newswatch(server, *args, command=command)


def write_config(path: Path, server: FeedServer, allow_private: bool) -> Path:
    port = server.port
    path.write_text(
        f"""\
[storage]
url = "sqlite:///newswatch.db"

[network]
allow_private = {"true" if allow_private else "false"}
timeout = "5s"

[[feeds]]
name = "loopback"
url = "{server.url("/loopback.xml")}"

[[feeds]]
name = "rebound"
url = "http://{REBOUND}:{port}/rebound.xml"

[[feeds]]
name = "redirected"
url = "http://{PUBLIC}:{port}/moved.xml"

[[feeds]]
name = "healthy"
url = "http://{PUBLIC}:{port}/healthy.xml"
full_text = true

[[sites]]
name = "site"
start_urls = ["{server.url("/news/")}"]
interval = "1h"
""",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Polls:
    server: FeedServer
    database: Path
    refused: Run
    crawl: Run  # `crawl` of the site on 127.0.0.1, refused too
    errors: dict[str, str | None]  # each source's last error after `refused` and `crawl`
    articles: list[tuple[str, str]]  # (url, text) after `refused`
    sources: Run
    allowed: Run


def entry(guid: str, link: str) -> Entry:
    when = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    return Entry(guid, f"North Korea and Russia {guid}", link, f"Summary of {guid}.", when)


@pytest.fixture(scope="module")
def polls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Polls]:
    folder = tmp_path_factory.mktemp("network")
    with FeedServer() as server:
        for name in ("loopback", "rebound", "target"):
            server.set_feed(f"/{name}.xml", [entry(name, f"https://news.example/{name}")])
        server.set_fault("/moved.xml", "redirect", to="/target.xml")  # to 127.0.0.1
        server.set_page("/inside.html", "<html><body><p>Internal only.</p></body></html>")
        server.set_feed("/healthy.xml", [entry("healthy", server.url("/inside.html"))])
        config = write_config(folder / "config.toml", server, allow_private=False)
        database = folder / "newswatch.db"
        refused = stubbed(server, "--config", str(config), "poll")
        crawl = stubbed(server, "--config", str(config), "crawl")
        errors = dict(query(database, "SELECT name, last_error FROM sources"))
        articles = query(database, "SELECT url, text FROM articles")
        sources = stubbed(server, "--config", str(config), "sources")
        write_config(config, server, allow_private=True)
        allowed = stubbed(server, "--config", str(config), "poll", "loopback")
        yield Polls(server, database, refused, crawl, errors, articles, sources, allowed)


def test_refused_feeds_fail_with_the_reason_and_the_rest_succeed(polls: Polls) -> None:
    run = polls.refused
    assert run.returncode == 0, run.stderr
    assert "fetched: 1" in run.stdout and "failed: 3" in run.stdout, run.stdout
    assert "new articles: 1" in run.stdout
    assert "Traceback" not in run.stderr
    errors = polls.errors
    assert errors["loopback"] == "blocked: 127.0.0.1 is a loopback address"
    assert errors["rebound"] == f"blocked: {REBOUND} resolves to 127.0.0.1, a loopback address"
    # The redirect's first hop was allowed; the hop to 127.0.0.1 was refused.
    assert errors["redirected"] == "blocked: 127.0.0.1 is a loopback address"


def test_a_site_crawl_is_refused_too(polls: Polls) -> None:
    assert polls.crawl.requests == []  # not even robots.txt
    assert "Traceback" not in polls.crawl.stderr
    news = polls.server.url("/news/")
    assert polls.errors["site"] == f"{news}: blocked: 127.0.0.1 is a loopback address"


def test_nothing_is_sent_to_a_refused_address(polls: Polls) -> None:
    paths = sorted(r.path for r in polls.refused.requests)
    assert paths == ["/healthy.xml", "/moved.xml"]
    assert {r.header("host") for r in polls.refused.requests} == {f"{PUBLIC}:{polls.server.port}"}


def test_a_page_on_a_refused_address_is_not_fetched_and_the_feed_text_is_kept(
    polls: Polls,
) -> None:
    inside = polls.server.url("/inside.html")
    assert f"page failed source=healthy url={inside} error=blocked:" in polls.refused.stderr
    assert polls.articles == [(inside, "Summary of healthy.")]
    assert polls.errors["healthy"] is None


def test_sources_shows_why_a_feed_is_blocked(polls: Polls) -> None:
    assert polls.sources.returncode == 0, polls.sources.stderr
    table = polls.sources.stdout
    assert "blocked: 127.0.0.1 is a loopback address" in table
    assert f"blocked: {REBOUND} resolves to 127.0.0.1, a loopback address" in table


def test_allow_private_lets_the_loopback_feed_through(polls: Polls) -> None:
    run = polls.allowed
    assert run.returncode == 0, run.stderr
    assert "fetched: 1" in run.stdout and "failed: 0" in run.stdout, run.stdout
    assert [r.path for r in run.requests] == ["/loopback.xml"]
    assert dict(query(polls.database, "SELECT name, last_error FROM sources"))["loopback"] is None


def test_scrapy_crawl_refuses_them_too_unless_told_otherwise(tmp_path: Path) -> None:
    scrapy = [str(Path(sys.executable).parent / "scrapy"), "crawl", "json_listing"]
    with FeedServer() as server:
        server.set_resource("/api.json", b'{"articles": []}', "application/json")
        args = ["-a", f"start_urls={server.url('/api.json')}"]
        args += ["-s", f"NEWSWATCH_DATABASE_URL=sqlite:///{tmp_path / 'scrapy.db'}"]
        refused = newswatch(server, *args, command=scrapy)
        allowed = newswatch(server, *args, "-s", "NEWSWATCH_ALLOW_PRIVATE=true", command=scrapy)
    assert refused.returncode == 0, refused.stderr
    assert refused.requests == []
    assert "error=blocked: 127.0.0.1 is a loopback address" in refused.stderr
    assert "/api.json" in [r.path for r in allowed.requests]


# --- the resolver on its own ---------------------------------------------------------------


class Answers:
    """A name resolver that answers from a table at once (stands in for DNS)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    def resolveHostName(self, receiver: Any, host: str, port: int = 0, *args: Any) -> Any:
        receiver.resolutionBegan(None)
        for address in self.table.get(host, []):
            kind = IPv6Address if ":" in address else IPv4Address
            receiver.addressResolved(kind("TCP", address, port))
        receiver.resolutionComplete()


class Reactor:
    def __init__(self, resolver: Any) -> None:
        self.nameResolver = resolver

    def installNameResolver(self, resolver: Any) -> None:
        self.nameResolver = resolver


class Collected:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.complete = False

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address.host)

    def resolutionComplete(self) -> None:
        self.complete = True


def lookup(reactor: Reactor, host: str) -> list[str]:
    collected = Collected()
    reactor.nameResolver.resolveHostName(collected, host, 80)
    assert collected.complete
    return collected.addresses


def test_the_resolver_passes_public_answers_and_remembers_why_it_dropped_the_rest() -> None:
    answers = {
        "mixed.example": ["10.0.0.7", "93.184.215.14", "::1"],
        "inside.example": ["192.168.0.2", "fd00::2"],
        "fine.example": ["2606:4700::1111"],
    }
    reactor = Reactor(Answers(answers))
    PublicAddressResolver(reactor, allow_private=False).install_on_reactor()
    PublicAddressResolver(reactor, allow_private=False).install_on_reactor()  # again: once
    assert isinstance(reactor.nameResolver.inner, Answers)
    assert lookup(reactor, "mixed.example") == ["93.184.215.14"]
    assert refusal_for("mixed.example") is None  # it had a public address
    assert lookup(reactor, "inside.example") == []
    assert refusal_for("INSIDE.example") == (
        "inside.example resolves to 192.168.0.2, a private address"
    )
    answers["inside.example"] = ["93.184.215.15"]  # the name moved: the refusal goes
    assert lookup(reactor, "inside.example") == ["93.184.215.15"]
    assert refusal_for("inside.example") is None
    assert lookup(reactor, "fine.example") == ["2606:4700::1111"]
    PublicAddressResolver(reactor, allow_private=True).install_on_reactor()
    assert lookup(reactor, "mixed.example") == ["10.0.0.7", "93.184.215.14", "::1"]
