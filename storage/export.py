"""Write articles in the export schema as JSON Lines or CSV.

Export schema, version 1 (`EXPORT_SCHEMA_VERSION`); fields in this order:

    id, url, canonical_url, title, summary, text, authors, language,
    published_at, first_seen_at, updated_at, source, sources, topics, matches,
    duplicate_of, content_hash

- Times are ISO 8601 in UTC to the second, with a `Z`: `2024-10-15T08:00:00Z`.
  A missing `published_at` is `null` in JSON and empty in CSV.
- `source` is the first source that carried the article; `sources` is every source
  that did, sorted; `topics` are the matched topic names, sorted; `matches` maps each
  topic to the query terms that matched.
- JSON Lines: UTF-8, one object per line, `\\n` after each. Characters that some readers
  treat as line breaks (U+0085, U+2028, U+2029) are escaped, so a line is a record
  whatever the text holds; lone surrogates (no characters at all) become U+FFFD.
- CSV: RFC 4180 (quoted as needed, CRLF line ends) with a header row. Lists are joined
  with `; `, `matches` is a JSON object, and a cell that starts with `=`, `+`, `-`,
  `@`, a tab or a carriage return is prefixed with `'` so spreadsheets do not run it
  as a formula (https://owasp.org/www-community/attacks/CSV_Injection).

A change that removes or retypes a field bumps the version; new fields may be added.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from storage.records import ExportRow

EXPORT_SCHEMA_VERSION = 1
# The schema as JSON Schema (draft 2020-12), shipped with the package.
EXPORT_SCHEMA_FILE = Path(__file__).with_name("export_schema.json")

EXPORT_FIELDS = (
    "id",
    "url",
    "canonical_url",
    "title",
    "summary",
    "text",
    "authors",
    "language",
    "published_at",
    "first_seen_at",
    "updated_at",
    "source",
    "sources",
    "topics",
    "matches",
    "duplicate_of",
    "content_hash",
)


class RecordWriter(Protocol):
    """Something that writes export rows one at a time to an open file."""

    def write(self, row: ExportRow) -> None: ...

    def close(self) -> None:
        """Flush what is buffered and end the file's structure; the file stays open."""


LIST_SEPARATOR = "; "
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# json.dumps escapes C0 controls but leaves these, which str.splitlines() and JavaScript
# readers treat as line breaks; lone surrogates would not encode as UTF-8 at all.
LINE_BREAKING = re.compile("[\u0085\u2028\u2029\ud800-\udfff]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def format_time(value: datetime | None) -> str | None:
    """Return `value` as `YYYY-MM-DDTHH:MM:SSZ` in UTC, or None."""
    if value is None:
        return None
    # isoformat, not strftime("%Y"): that gives "1-01-01" for year 1, not ISO 8601.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def export_record(
    row: ExportRow, time: Callable[[datetime | None], Any] = format_time
) -> dict[str, Any]:
    """Return the row as a plain dict in schema order, times given by `time`."""
    return {
        "id": row.id,
        "url": row.url,
        "canonical_url": row.canonical_url,
        "title": row.title,
        "summary": row.summary,
        "text": row.text,
        "authors": list(row.authors),
        "language": row.language,
        "published_at": time(row.published_at),
        "first_seen_at": time(row.first_seen_at),
        "updated_at": time(row.updated_at),
        "source": row.source,
        "sources": list(row.sources),
        "topics": list(row.topics),
        "matches": {name: list(terms) for name, terms in sorted(row.matches.items())},
        "duplicate_of": row.duplicate_of,
        "content_hash": row.content_hash,
    }


def json_line(row: ExportRow) -> str:
    """Return the row as one line of JSON, without the newline."""
    line = _ENCODE(export_record(row))
    if line.isascii() or not _breaks_lines(line):
        return line  # the common case, without a regular-expression scan of every line
    return LINE_BREAKING.sub(_escape, line)


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    # A lone surrogate is no character: strict JSON readers refuse even its escape.
    return REPLACEMENT if "\ud800" <= char <= "\udfff" else f"\\u{ord(char):04x}"


def valid_text(value: str) -> str:
    """Return `value` with lone surrogates replaced by U+FFFD, so it encodes as UTF-8."""
    return LONE_SURROGATE.sub(REPLACEMENT, value)


def _breaks_lines(line: str) -> bool:
    """Return whether `line` holds a character LINE_BREAKING escapes."""
    if "\u2028" in line or "\u2029" in line or "\x85" in line:
        return True
    try:
        line.encode("utf-8")  # fails on lone surrogates only
    except UnicodeEncodeError:
        return True
    return False


class JsonLinesWriter:
    """Write rows as JSON Lines, one at a time."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, row: ExportRow) -> None:
        self.out.write(json_line(row))
        self.out.write("\n")

    def close(self) -> None:
        self.out.flush()


def write_jsonl(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write the rows as JSON Lines; return how many were written."""
    return write_all(JsonLinesWriter(out), rows)


def write_all(writer: RecordWriter, rows: Iterable[ExportRow]) -> int:
    """Write every row with `writer`, close it, and return how many were written."""
    count = 0
    for row in rows:
        writer.write(row)
        count += 1
    writer.close()
    return count


def csv_cell(value: Any) -> str:
    """Return a value as a CSV cell, neutralised if a spreadsheet would run it."""
    if value is None:
        text = ""
    elif isinstance(value, list):
        text = LIST_SEPARATOR.join(str(item) for item in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    # Many CSV readers refuse NUL (Python's own did before 3.11); no text needs one.
    text = valid_text(text.replace("\x00", ""))
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


class CsvWriter:
    """Write rows as CSV after a header row; open `out` with `newline=""`."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.writer = csv.writer(out)
        self.writer.writerow(EXPORT_FIELDS)

    def write(self, row: ExportRow) -> None:
        record = export_record(row)
        self.writer.writerow([csv_cell(record[field]) for field in EXPORT_FIELDS])

    def close(self) -> None:
        self.out.flush()


def write_csv(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write the rows as CSV with a header; return how many rows were written.

    Open `out` with `newline=""`, as the csv module requires.
    """
    return write_all(CsvWriter(out), rows)
