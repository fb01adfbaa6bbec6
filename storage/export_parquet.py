"""Write export rows as Parquet (pyarrow, the optional `parquet` extra).

The columns are the export schema's fields with Parquet types: lists of strings for
`authors`, `sources` and `topics`, a map of topic to terms for `matches`, and UTC
timestamps to the second for the times. Rows are written a batch at a time, so memory
stays flat however many rows a file holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import IO, Any

from storage.exceptions import StorageError
from storage.export import export_record
from storage.records import ExportRow

# Rows per row group: large enough for columnar compression, small enough for memory.
BATCH_ROWS = 5000

MISSING_PYARROW = "storage: the parquet format needs pyarrow: pip install 'newswatch[parquet]'"


def parquet_available() -> bool:
    """Return whether pyarrow can be imported."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _seconds(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(microsecond=0)


class ParquetWriter:
    """Write rows to a Parquet file, `BATCH_ROWS` at a time."""

    def __init__(self, out: IO[bytes]) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise StorageError(MISSING_PYARROW) from None
        self._pa = pa
        strings = pa.list_(pa.string())
        time = pa.timestamp("s", tz="UTC")
        self.schema = pa.schema(
            [
                pa.field("id", pa.int64(), nullable=False),
                pa.field("url", pa.string(), nullable=False),
                pa.field("canonical_url", pa.string(), nullable=False),
                pa.field("title", pa.string(), nullable=False),
                pa.field("summary", pa.string(), nullable=False),
                pa.field("text", pa.string(), nullable=False),
                pa.field("authors", strings, nullable=False),
                pa.field("language", pa.string()),
                pa.field("published_at", time),
                pa.field("first_seen_at", time, nullable=False),
                pa.field("updated_at", time, nullable=False),
                pa.field("source", pa.string(), nullable=False),
                pa.field("sources", strings, nullable=False),
                pa.field("topics", strings, nullable=False),
                pa.field("matches", pa.map_(pa.string(), strings), nullable=False),
                pa.field("duplicate_of", pa.int64()),
                pa.field("content_hash", pa.string(), nullable=False),
            ],
            metadata={"newswatch_export_schema": "1"},
        )
        self.writer = pq.ParquetWriter(out, self.schema, compression="zstd")
        self.batch: list[dict[str, Any]] = []

    def write(self, row: ExportRow) -> None:
        record = export_record(row, _seconds)
        # Parquet's map type wants (key, value) pairs.
        record["matches"] = list(record["matches"].items())
        self.batch.append(record)
        if len(self.batch) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.writer.write_batch(self._pa.RecordBatch.from_pylist(self.batch, self.schema))
            self.batch = []

    def close(self) -> None:
        self._flush()
        self.writer.close()
