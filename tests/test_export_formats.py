"""Every export format holds the same items, safely: Parquet, Atom and CSV against JSON Lines."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pyarrow.parquet as pq
import pytest

from storage.articles import store_articles
from storage.daily_export import run_export
from storage.db import Database
from storage.export import EXPORT_FIELDS, EXPORT_SCHEMA_FILE
from storage.export_atom import xml_text
from storage.records import ArticleRecord, ExportSpec, SourceSpec, TopicSpec
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics

NOW = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
DAY = "2024-10-15"
# Spreadsheet formulas (OWASP CSV injection) and text that trips naive writers.
PAYLOADS = (
    '=HYPERLINK("http://evil.example/","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)
ODD = (
    "line\nbreak\r\nand\u2028separator\u2029para",
    "RTL \u202eevil\u202c, zero\u200bwidth, \ufeffBOM, combining e\u0301",
    "emoji \U0001f600 \U0001f1f0\U0001f1f5, CJK \u5317\u671d\u9c9c, Hangul \ubd81\ud55c",
    "quotes \" ' and , ; and <b>&amp;</b>",
    "controls \x07\x1b[31m and DEL \x7f",
)


@pytest.fixture
def stored(database: Database) -> Database:
    sync_sources(database, [SourceSpec("wire", "feed", "http://wire.test/")], 900, NOW)
    sync_topics(database, [TopicSpec("dprk", "DPRK"), TopicSpec("kursk", "Kursk")], NOW)
    source = due_sources(database, NOW + timedelta(days=1))[0].id
    texts = [*PAYLOADS, *ODD]
    records = []
    for n, text in enumerate(texts):
        url = f"http://x.test/{n}?q={n}"
        topics = {"dprk": ("DPRK",)} if n % 2 else {"dprk": ("DPRK",), "kursk": ("Kursk",)}
        records.append(
            ArticleRecord(
                source,
                f"key-{n}",
                url,
                url,
                f"hash-{n}",
                title=text,
                summary=texts[-1 - n],
                text=f"{text}\n\n{texts[-1 - n]}",
                authors=(text, "Ann"),
                language="en",
                published_at=NOW - timedelta(hours=n) if n % 3 else None,
                matches=topics,
            )
        )
    store_articles(database, records, NOW)
    return database


def export(db: Database, out: Path, fmt: str, **options: Any) -> Path:
    spec = ExportSpec(fmt, fmt, out / fmt, topic_files=("dprk", "kursk"), **options)
    run_export(db, spec, DAY)
    return out / fmt / DAY


def jsonl(db: Database, out: Path) -> list[dict[str, Any]]:
    path = export(db, out, "jsonl") / "jsonl.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n")[:-1]]


def test_every_jsonl_record_is_one_line_and_valid_against_the_schema(
    stored: Database, tmp_path: Path
) -> None:
    records = jsonl(stored, tmp_path)
    schema = json.loads(EXPORT_SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert tuple(schema["required"]) == EXPORT_FIELDS == tuple(schema["properties"])
    validator = jsonschema.Draft202012Validator(schema)
    for item in records:
        validator.validate(item)
    # Intact in JSON, whatever they hold.
    assert {item["title"] for item in records} == {*PAYLOADS, *ODD}
    assert len(records) == len(PAYLOADS) + len(ODD)


def test_csv_neutralises_formulas_and_keeps_odd_text(stored: Database, tmp_path: Path) -> None:
    path = export(stored, tmp_path, "csv") / "csv.csv"
    with path.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert tuple(header) == EXPORT_FIELDS
    cells = [dict(zip(header, row, strict=True)) for row in rows]
    titles = {cell["title"] for cell in cells}
    assert titles == {"'" + payload for payload in PAYLOADS} | set(ODD)
    for cell in cells:
        for value in cell.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    first = next(cell for cell in cells if cell["title"] == "'" + PAYLOADS[0])
    assert first["authors"] == "'" + PAYLOADS[0] + "; Ann"


def test_parquet_holds_the_same_items_as_json_lines(stored: Database, tmp_path: Path) -> None:
    records = jsonl(stored, tmp_path)
    table = pq.read_table(export(stored, tmp_path, "parquet") / "parquet.parquet")
    assert table.column_names == list(EXPORT_FIELDS)
    rows = table.to_pylist()
    for row in rows:
        for field in ("published_at", "first_seen_at", "updated_at"):
            if row[field] is not None:
                row[field] = row[field].strftime("%Y-%m-%dT%H:%M:%SZ")
        row["matches"] = dict(row["matches"])
    assert rows == records


def test_atom_is_a_feed_per_topic_with_the_json_lines_items(
    stored: Database, tmp_path: Path
) -> None:
    records = jsonl(stored, tmp_path)
    day = export(stored, tmp_path, "atom", per_topic=True)
    for topic in ("dprk", "kursk"):
        feed = feedparser.parse((day / f"atom-{topic}.atom").read_bytes())
        assert not feed.bozo, feed.bozo_exception
        assert feed.version == "atom10"
        expected = [item for item in records if topic in item["topics"]]
        assert [entry.id for entry in feed.entries] == [i["canonical_url"] for i in expected]
        for entry, item in zip(feed.entries, expected, strict=True):
            assert entry.link == item["url"]
            # XML 1.0 cannot carry C0 controls; everything else arrives as stored (but
            # feedparser strips whitespace at the ends).
            assert entry.title == xml_text(item["title"]).strip()
            assert entry.content[0].value == xml_text(item["text"]).strip()
            assert entry.updated == item["updated_at"]
            assert entry.get("published") == item["published_at"]
            names = [xml_text(author).strip() for author in item["authors"]]
            assert [author.get("name") for author in entry.authors] == names
            assert [tag.term for tag in entry.tags] == item["topics"]
        # The newest day's feed is also at one address a reader can follow.
        latest = tmp_path / "atom" / f"atom-{topic}.atom"
        assert latest.read_bytes() == (day / f"atom-{topic}.atom").read_bytes()
