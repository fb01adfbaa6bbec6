"""A feed whose server sends no validators is not parsed again while its body is the same."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import brotli

from tests.feedserver import Entry, FeedServer, render_rss

NEWSWATCH = Path(sys.executable).parent / "newswatch"


def poll(config: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    done = subprocess.run(
        [str(NEWSWATCH), "--config", str(config), "poll"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_an_unchanged_body_without_validators_is_not_parsed(tmp_path: Path) -> None:
    first = Entry("1", "North Korea and Russia", "https://n.example/1", "DPRK.", datetime.now(UTC))
    later = Entry("2", "DPRK troops in Russia", "https://n.example/2", "Kursk.", datetime.now(UTC))
    with FeedServer() as server:
        # set_resource sends neither ETag nor Last-Modified: every answer is a 200.
        server.set_resource("/bare.xml", render_rss([first], "Bare", "https://n.example/"),
                            "application/rss+xml")  # fmt: skip
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\nurl = "sqlite:///news.db"\n\n[network]\nallow_private = true\n\n'
            f'[[feeds]]\nname = "bare"\nurl = "{server.url("/bare.xml")}"\n',
            encoding="utf-8",
        )
        once = poll(config)
        twice = poll(config)
        server.set_resource("/bare.xml", render_rss([later, first], "Bare", "https://n.example/"),
                            "application/rss+xml")  # fmt: skip
        changed = poll(config)
        assert [r.conditional for r in server.requests("/bare.xml")] == [False] * 3
    assert "fetched: 1  not modified: 0" in once and "new articles: 1" in once
    assert "feed parsed source=bare" in once
    # Same body: recorded as not modified, and no entry was looked at.
    assert "fetched: 0  not modified: 1" in twice and "new articles: 0" in twice
    assert "feed parsed source=bare" not in twice
    assert "fetched: 1  not modified: 0" in changed and "new articles: 1" in changed
    with sqlite3.connect(tmp_path / "news.db") as db:
        (count,) = db.execute("SELECT count(*) FROM articles").fetchone()
        (body_hash,) = db.execute("SELECT body_hash FROM sources").fetchone()
    assert count == 2
    assert body_hash is not None and len(body_hash) == 64


def test_a_brotli_encoded_feed_is_asked_for_and_decoded(tmp_path: Path) -> None:
    entry = Entry("1", "North Korea and Russia", "https://n.example/1", "DPRK.", datetime.now(UTC))
    body = render_rss([entry], "Compressed", "https://n.example/")
    with FeedServer() as server:
        server.set_resource(
            "/br.xml",
            brotli.compress(body),
            "application/rss+xml",
            headers={"Content-Encoding": "br"},
        )
        config = tmp_path / "config.toml"
        config.write_text(
            f'[storage]\nurl = "sqlite:///news.db"\n\n[network]\nallow_private = true\n\n'
            f'[[feeds]]\nname = "br"\nurl = "{server.url("/br.xml")}"\n',
            encoding="utf-8",
        )
        output = poll(config)
        accepted = server.requests("/br.xml")[0].header("accept-encoding") or ""
    assert "br" in [part.strip() for part in accepted.split(",")]
    assert "fetched: 1" in output and "new articles: 1" in output
