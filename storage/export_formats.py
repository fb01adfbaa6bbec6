"""The export formats: a file extension and a writer for each."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import IO, TextIO

from storage.export import CsvWriter, JsonLinesWriter, RecordWriter
from storage.export_atom import AtomWriter
from storage.export_parquet import ParquetWriter
from storage.records import ExportRow

# format name -> file extension
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "parquet": "parquet", "atom": "atom"}
FORMATS = tuple(EXTENSIONS)


class TextRecordWriter:
    """A text writer over a binary file: UTF-8, newlines untranslated, file left open."""

    def __init__(self, out: IO[bytes], make: Callable[[TextIO], RecordWriter]) -> None:
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.inner = make(self.text)

    def write(self, row: ExportRow) -> None:
        self.inner.write(row)

    def close(self) -> None:
        self.inner.close()
        self.text.detach()  # or the wrapper would close `out` when collected


def open_writer(
    fmt: str, out: IO[bytes], *, name: str, title: str, updated: datetime
) -> RecordWriter:
    """Return a writer of format `fmt` on `out`; `name`, `title`, `updated` head an Atom feed.

    Raises StorageError for parquet when pyarrow is missing.
    """
    if fmt == "jsonl":
        return TextRecordWriter(out, JsonLinesWriter)
    if fmt == "csv":
        return TextRecordWriter(out, CsvWriter)
    if fmt == "parquet":
        return ParquetWriter(out)
    if fmt == "atom":
        return AtomWriter(out, name, title, updated)
    raise ValueError(f"storage: unknown export format {fmt!r}; use {', '.join(FORMATS)}")
