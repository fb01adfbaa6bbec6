"""Hostile XML and content, end to end: one `newswatch poll` over a healthy feed and
feeds built to hurt (external entities, entity expansion, broken encodings, scripts, a
1 MB title, ten thousand entries, impossible dates), then `newswatch export`.

tests/test_feeds.py shows what the parser makes of most of these bytes; this module
shows what reaches the database and the export, and that the poll goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crawler.preparation import MAX_TITLE_CHARS
from crawler.spiders.feeds import MAX_NEW_ENTRIES
from tests.cli_run import Run, newswatch, query
from tests.feedserver import Entry, FeedServer, load_feed

SECRET = "TOP-SECRET-d41c8a"
RSS = "application/rss+xml"
MANY = 10_000


def rss_item(guid: str, title: str, extra: str = "") -> str:
    return (
        f"<item><title>{title}</title><link>https://hostile.example/{guid}</link>"
        f"<guid>{guid}</guid><description>Corée du Nord, {guid}.</description>{extra}</item>"
    )


def rss(items: str, encoding: str = "utf-8") -> str:
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n<rss version="2.0"><channel>'
        f"<title>Hostile</title><link>https://hostile.example/</link>{items}</channel></rss>"
    )


def serve(server: FeedServer, secret: Path) -> dict[str, str]:
    """Serve every case; return feed name -> path."""
    when = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    server.set_feed(
        "/healthy.xml", [Entry("ok-1", "Healthy", "https://h.example/1", "Fine.", when)]
    )
    resources: dict[str, bytes] = {
        "xxe": load_feed("xxe.xml").replace(b"file:///etc/passwd", secret.as_uri().encode()),
        "laughs": load_feed("billion_laughs.xml"),
        "utf16-bom": rss(rss_item("u16", "Séoul"), "utf-16").encode("utf-16"),
        "utf16-no-bom": rss(rss_item("u16le", "Séoul"), "utf-16").encode("utf-16-le"),
        # Declared UTF-8, written in Latin-1.
        "misdeclared": rss(rss_item("latin", "Séoul")).encode("latin-1"),
        # UTF-8 with one Windows-1252 byte in the middle.
        "mixed": rss(rss_item("mixed", "Séoul") + rss_item("mixed-2", "Café X"))
        .encode()
        .replace("Café X".encode(), b"Caf\xe9 X"),
        "nul": rss(rss_item("nul", "Nul here")).encode().replace(b"Nul here", b"Nul\x00here"),
        "invalid-utf8": rss(rss_item("bad", "Bad bytes")).encode().replace(b" bytes", b"\xff\xfe"),
        "unsafe": load_feed("html_summary.xml").replace(
            b"</channel>",
            rss_item("js", "Click &lt;img src=x onerror=alert(1)&gt;me")
            .replace("https://hostile.example/js", "javascript:alert(document.cookie)")
            .encode()
            + b"</channel>",
        ),
        "huge-title": rss(rss_item("huge", "Pyongyang " * 100_000)).encode(),  # 1 MB
        "many": rss("".join(rss_item(f"m{n}", f"Entry {n}") for n in range(MANY))).encode(),
        "dates": rss(
            rss_item("future", "Future", "<pubDate>Fri, 01 Jan 2999 00:00:00 GMT</pubDate>")
            + rss_item("past", "Past", "<pubDate>Mon, 01 Jan 1900 00:00:00 GMT</pubDate>")
            + rss_item("ancient", "Ancient", "<pubDate>Mon, 01 Jan 0001 00:00:00 GMT</pubDate>")
            + rss_item("nonsense", "Nonsense", "<pubDate>the 32nd of Brumaire</pubDate>")
        ).encode(),
    }
    paths = {"healthy": "/healthy.xml"}
    for name, body in resources.items():
        server.set_resource(f"/{name}.xml", body, RSS)
        paths[name] = f"/{name}.xml"
    # With a validator, which a capped feed must not keep (see the slices test).
    server.set_resource("/many.xml", resources["many"], RSS, headers={"ETag": '"many-v1"'})
    return paths


def write_config(folder: Path, server: FeedServer, paths: dict[str, str]) -> Path:
    feeds = "".join(
        f'\n[[feeds]]\nname = "{name}"\nurl = "{server.url(path)}"\n'
        for name, path in paths.items()
    )
    path = folder / "config.toml"
    path.write_text(
        '[storage]\nurl = "sqlite:///newswatch.db"\n\n[daemon]\nper_host = 8\n\n'
        f"[network]\nallow_private = true\n{feeds}",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Hostile:
    poll: Run
    many_after_first: int  # articles from `many` after the first poll
    again: Run  # `poll many`
    export: list[dict[str, Any]]
    database: Path
    everything: str  # every stored row and the export, as text

    def articles(self, source: str) -> list[dict[str, Any]]:
        return [a for a in self.export if a["source"] == source]

    def article(self, source: str, title: str) -> dict[str, Any]:
        (found,) = [a for a in self.articles(source) if a["title"] == title]
        return found

    def errors(self) -> dict[str, str | None]:
        return dict(query(self.database, "SELECT name, last_error FROM sources"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    folder = tmp_path_factory.mktemp("hostile")
    secret = folder / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    with FeedServer() as server:
        config = write_config(folder, server, serve(server, secret))
        poll = newswatch(server, "--config", str(config), "poll")
        sql = "SELECT count(*) FROM sightings g JOIN sources s ON s.id = g.source_id"
        ((many,),) = query(folder / "newswatch.db", f"{sql} WHERE s.name = 'many'")
        again = newswatch(server, "--config", str(config), "poll", "many")
        exported = newswatch(server, "--config", str(config), "export", "--since", "1d")
    assert exported.returncode == 0, exported.stderr
    database = folder / "newswatch.db"
    rows = query(database, "SELECT * FROM articles") + query(database, "SELECT * FROM sources")
    everything = exported.stdout + "\n".join(map(repr, rows))
    export = [json.loads(line) for line in exported.stdout.splitlines()]
    yield Hostile(poll, many, again, export, database, everything)


def test_the_poll_goes_on_and_the_healthy_feed_is_stored(hostile: Hostile) -> None:
    assert hostile.poll.returncode == 0, hostile.poll.stderr
    assert "Traceback" not in hostile.poll.stderr
    assert [a["title"] for a in hostile.articles("healthy")] == ["Healthy"]
    assert hostile.errors()["healthy"] is None
    assert "feed parsed source=healthy status=200 entries=1 new=1" in hostile.poll.stderr


def test_an_external_entity_never_reads_the_local_file(hostile: Hostile) -> None:
    assert SECRET not in hostile.everything
    assert "root:" not in hostile.everything
    (article,) = hostile.articles("xxe")
    assert article["title"].startswith("Entity in the title")


def test_billion_laughs_is_not_expanded(hostile: Hostile) -> None:
    assert "lollol" not in hostile.everything
    for article in hostile.articles("laughs"):
        assert len(article["title"]) + len(article["summary"]) + len(article["text"]) < 1000


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("utf16-bom", "Séoul"),
        ("utf16-no-bom", "Séoul"),
        ("misdeclared", "Séoul"),
        ("mixed", "Séoul"),
        ("mixed", "Café X"),
    ],
)
def test_encodings_come_out_as_the_text_that_was_meant(
    hostile: Hostile, source: str, title: str
) -> None:
    article = hostile.article(source, title)
    assert "Corée du Nord" in article["summary"] + article["text"]


def test_nul_bytes_and_invalid_utf8_leave_clean_text(hostile: Hostile) -> None:
    (nul,) = hostile.articles("nul")
    (bad,) = hostile.articles("invalid-utf8")
    for article in (nul, bad):
        for field in ("title", "summary", "text"):
            assert "\x00" not in article[field] and "\ufffd" not in article[field]
    assert nul["title"] in ("Nulhere", "Nul here")
    assert bad["title"].startswith("Bad")
    # A NUL is not well-formed XML: what could be read is kept, and the source says why.
    assert (hostile.errors()["nul"] or "").startswith("malformed feed: line 2")
    assert hostile.errors()["invalid-utf8"] is None


def test_scripts_handlers_and_javascript_links_are_not_stored(hostile: Hostile) -> None:
    stored = hostile.articles("unsafe")
    assert len(stored) == 2
    text = json.dumps(stored)
    for leak in ("<", "script", "alert", "onerror", "onclick", "javascript:", "display:none"):
        assert leak not in text, leak
    clicked = hostile.article("unsafe", "Click me")
    assert clicked["canonical_url"].startswith("urn:newswatch:unsafe:")  # its link was a script


def test_a_1mb_title_is_stored_cut_and_the_cut_is_logged(hostile: Hostile) -> None:
    (article,) = hostile.articles("huge-title")
    assert len(article["title"]) <= MAX_TITLE_CHARS
    assert article["title"].startswith("Pyongyang Pyongyang") and article["title"].endswith("…")
    assert "title truncated source=huge-title" in hostile.poll.stderr


def test_ten_thousand_entries_are_taken_in_slices_one_per_poll(hostile: Hostile) -> None:
    assert hostile.many_after_first == MAX_NEW_ENTRIES
    later = MANY - MAX_NEW_ENTRIES
    assert "feed capped source=many url=" in hostile.poll.stderr
    assert f"new={MANY} taken={MAX_NEW_ENTRIES} later={later}" in hostile.poll.stderr
    # Not an error; but no validators are kept, so the next poll parses it again...
    assert hostile.errors()["many"] is None
    (request,) = hostile.again.requests
    assert not request.conditional
    # ...skips what it took and takes the next slice, newest (first listed) first.
    titles = {a["title"] for a in hostile.articles("many")}
    assert titles == {f"Entry {n}" for n in range(2 * MAX_NEW_ENTRIES)}
    assert "new articles: 1000" in hostile.again.stdout


def test_impossible_dates_are_not_stored_and_old_ones_are(hostile: Hostile) -> None:
    dates = {a["title"]: a["published_at"] for a in hostile.articles("dates")}
    assert dates == {
        "Future": None,  # more than a day ahead: not believed
        "Past": "1900-01-01T00:00:00Z",
        "Ancient": "0001-01-01T00:00:00Z",
        "Nonsense": None,
    }


def test_every_source_records_a_single_line_at_most(hostile: Hostile) -> None:
    for name, error in hostile.errors().items():
        assert error is None or ("\n" not in error and len(error) < 300), name
