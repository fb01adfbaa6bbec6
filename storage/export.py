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
  whatever the text holds.
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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from storage.records import ExportRow

EXPORT_SCHEMA_VERSION = 1

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

LIST_SEPARATOR = "; "
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# json.dumps escapes C0 controls but leaves these, which str.splitlines() and JavaScript
# readers treat as line breaks; lone surrogates would not encode as UTF-8 at all.
LINE_BREAKING = re.compile("[\u0085\u2028\u2029\ud800-\udfff]")


def format_time(value: datetime | None) -> str | None:
    """Return `value` as `YYYY-MM-DDTHH:MM:SSZ` in UTC, or None."""
    if value is None:
        return None
    # isoformat, not strftime("%Y"): that gives "1-01-01" for year 1, not ISO 8601.
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def export_record(row: ExportRow) -> dict[str, Any]:
    """Return the row as a plain dict in schema order, times formatted."""
    return {
        "id": row.id,
        "url": row.url,
        "canonical_url": row.canonical_url,
        "title": row.title,
        "summary": row.summary,
        "text": row.text,
        "authors": list(row.authors),
        "language": row.language,
        "published_at": format_time(row.published_at),
        "first_seen_at": format_time(row.first_seen_at),
        "updated_at": format_time(row.updated_at),
        "source": row.source,
        "sources": list(row.sources),
        "topics": list(row.topics),
        "matches": {name: list(terms) for name, terms in sorted(row.matches.items())},
        "duplicate_of": row.duplicate_of,
        "content_hash": row.content_hash,
    }


def json_line(row: ExportRow) -> str:
    """Return the row as one line of JSON, without the newline."""
    line = json.dumps(export_record(row), ensure_ascii=False)
    return LINE_BREAKING.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def write_jsonl(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write the rows as JSON Lines; return how many were written."""
    count = 0
    for row in rows:
        out.write(json_line(row))
        out.write("\n")
        count += 1
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
    text = text.replace("\x00", "")
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def write_csv(rows: Iterable[ExportRow], out: TextIO) -> int:
    """Write the rows as CSV with a header; return how many rows were written.

    Open `out` with `newline=""`, as the csv module requires.
    """
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    count = 0
    for row in rows:
        record = export_record(row)
        writer.writerow([csv_cell(record[field]) for field in EXPORT_FIELDS])
        count += 1
    return count
