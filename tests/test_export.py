"""Export writers: JSON Lines stays one record per line; CSV cannot run formulas."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from storage.export import EXPORT_FIELDS, format_time, write_csv, write_jsonl
from storage.records import ExportRow

ROW = ExportRow(
    id=7,
    url="http://x.test/a?utm_source=rss",
    canonical_url="http://x.test/a",
    title="Title",
    summary="Summary",
    text="Body",
    authors=("Ann", "Bo"),
    language="en",
    published_at=datetime(2024, 10, 15, 10, 0, 0, 999, tzinfo=timezone(timedelta(hours=2))),
    first_seen_at=datetime(2024, 10, 15, 8, 5, tzinfo=UTC),
    updated_at=datetime(2024, 10, 15, 8, 5, tzinfo=UTC),
    source="example-world",
    sources=("example-world", "wire"),
    topics=("dprk-russia",),
    matches={"dprk-russia": ("North Korea", "Kursk")},
    duplicate_of=None,
    content_hash="abc123",
)
AWKWARD = 'one\ntwo\r\nthree\u2028four\u2029five\u0085six\x00seven\x0bend "quoted" \u00e9\U0001f600'


def jsonl(*rows: ExportRow) -> str:
    out = io.StringIO()
    assert write_jsonl(rows, out) == len(rows)
    return out.getvalue()


def csv_rows(*rows: ExportRow) -> list[list[str]]:
    out = io.StringIO(newline="")
    assert write_csv(rows, out) == len(rows)
    return list(csv.reader(io.StringIO(out.getvalue(), newline="")))


def test_jsonl_schema_and_utc_times() -> None:
    (line,) = jsonl(ROW).splitlines()
    record = json.loads(line)
    assert tuple(record) == EXPORT_FIELDS
    assert record["published_at"] == "2024-10-15T08:00:00Z"
    assert record["first_seen_at"] == "2024-10-15T08:05:00Z"
    assert record["matches"] == {"dprk-russia": ["North Korea", "Kursk"]}
    assert (record["authors"], record["sources"]) == (["Ann", "Bo"], ["example-world", "wire"])
    assert record["duplicate_of"] is None
    missing = json.loads(jsonl(dataclasses.replace(ROW, published_at=None)))
    assert missing["published_at"] is None


def test_jsonl_is_one_line_per_record_whatever_the_text() -> None:
    awkward = dataclasses.replace(ROW, title=AWKWARD, text=AWKWARD, authors=(AWKWARD,))
    output = jsonl(awkward, ROW, awkward)
    lines = output.splitlines()  # splits on U+2028, U+0085 and friends too
    assert len(lines) == 3
    assert output.count("\n") == 3
    assert json.loads(lines[0])["text"] == AWKWARD
    assert "\u00e9" in lines[0]  # readable UTF-8, not \\u escapes


@given(st.text())
def test_any_text_round_trips_on_one_line(text: str) -> None:
    output = jsonl(dataclasses.replace(ROW, text=text))
    (line,) = output.splitlines()
    output.encode("utf-8")  # valid UTF-8, whatever the text held
    # Lone surrogates are no characters: they come out as U+FFFD, all else as it was.
    assert json.loads(line)["text"] == re.sub("[\ud800-\udfff]", "\ufffd", text)


def test_lone_surrogates_are_replaced_in_json_and_csv() -> None:
    broken = dataclasses.replace(ROW, title="a\ud800b", text="\udfffz\u2028")
    record = json.loads(jsonl(broken))
    assert (record["title"], record["text"]) == ("a\ufffdb", "\ufffdz\u2028")
    _, row = csv_rows(broken)
    cell = dict(zip(EXPORT_FIELDS, row, strict=True))
    assert (cell["title"], cell["text"]) == ("a\ufffdb", "\ufffdz\u2028")


def test_csv_header_lists_and_matches() -> None:
    header, row = csv_rows(ROW)
    assert tuple(header) == EXPORT_FIELDS
    cell = dict(zip(header, row, strict=True))
    assert cell["authors"] == "Ann; Bo"
    assert cell["sources"] == "example-world; wire"
    assert json.loads(cell["matches"]) == {"dprk-russia": ["North Korea", "Kursk"]}
    assert cell["published_at"] == "2024-10-15T08:00:00Z"
    assert cell["duplicate_of"] == ""


def test_csv_formula_cells_are_neutralised() -> None:
    evil = dataclasses.replace(
        ROW,
        title='=HYPERLINK("http://evil.test")',
        summary="+1+1",
        text="-2+3",
        authors=("@SUM(A1)", "Ann"),
        language="\tcmd",
        source="\rx",
    )
    _, row = csv_rows(evil)
    cell = dict(zip(EXPORT_FIELDS, row, strict=True))
    assert cell["title"] == '\'=HYPERLINK("http://evil.test")'
    assert cell["summary"] == "'+1+1"
    assert cell["text"] == "'-2+3"
    assert cell["authors"] == "'@SUM(A1); Ann"
    assert cell["language"] == "'\tcmd"
    assert cell["source"] == "'\rx"
    assert cell["url"] == ROW.url  # harmless cells are untouched


def test_csv_keeps_multiline_text_in_one_cell() -> None:
    awkward = dataclasses.replace(ROW, text=AWKWARD)
    rows = csv_rows(awkward, ROW)
    assert len(rows) == 3
    assert dict(zip(EXPORT_FIELDS, rows[1], strict=True))["text"] == AWKWARD.replace("\x00", "")


def test_times_are_iso_8601_with_four_digit_years_even_far_back() -> None:
    assert format_time(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00Z"
    assert format_time(datetime(987, 6, 5, 4, 3, 2, 1, tzinfo=UTC)) == "0987-06-05T04:03:02Z"
    later = datetime(2024, 10, 15, 10, 0, 30, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(later) == "2024-10-15T08:00:30Z"
