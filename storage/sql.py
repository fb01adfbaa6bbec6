"""SQL building blocks shared by the repository modules.

`index_key` and `storable_text` live in the SQLAlchemy-free `storage.storable`, which
the crawler's workers import; they are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import CursorResult, Dialect, Result, Select, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from storage.exceptions import StorageError
from storage.storable import MAX_KEY_BYTES as MAX_KEY_BYTES
from storage.storable import index_key as index_key
from storage.storable import storable_text as storable_text

T = TypeVar("T")

# Bound parameters per IN list: far below SQLite's 32766 and PostgreSQL's 65535 limits,
# and small enough to keep statements cheap to plan.
IN_CHUNK = 500


def chunked(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most `size` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class PlainSelect:
    """A SELECT with one IN list of many values, run straight through the driver.

    For every execution SQLAlchemy renders the placeholders of an IN list anew, and
    processes each parameter and each result row. A store batch runs dozens of such
    lookups (band buckets, sightings, articles by URL) of hundreds of values each; that
    work cost more than the queries. Here the statement is rendered once per list length,
    lengths being rounded up to a power of two (the list padded with its last value,
    which an IN list ignores), and the values go to the driver as they are, as do the
    rows come back. So only for parameters and columns that need no processing:
    integers, text, bytes.

    `stmt` names the list with `bindparam(name, expanding=True)`; other parameters, given
    to `rows` by name, are plain values too.
    """

    def __init__(self, stmt: Select[*tuple[Any, ...]], name: str) -> None:
        self._stmt = stmt
        self._name = name
        # (dialect, list length) -> SQL, parameter order (positional drivers), list names
        self._rendered: dict[tuple[str, int], tuple[str, list[str] | None, list[str]]] = {}

    def rows(self, session: Session, values: Sequence[Any], **params: Any) -> Iterator[Any]:
        """Yield the rows for `values`, IN_CHUNK values to a statement."""
        connection = session.connection()
        for chunk in chunked(values):
            size = 1 << (len(chunk) - 1).bit_length()
            padded = [*chunk, *[chunk[-1]] * (size - len(chunk))]
            sql, order, names = self._render(connection.dialect, size, params)
            by_name = {**dict(zip(names, padded, strict=True)), **params}
            args = tuple(by_name[name] for name in order) if order is not None else by_name
            yield from connection.exec_driver_sql(sql, args)

    def _render(
        self, dialect: Dialect, size: int, params: dict[str, Any]
    ) -> tuple[str, list[str] | None, list[str]]:
        key = (dialect.name, size)
        rendered = self._rendered.get(key)
        if rendered is None:
            compiled = self._stmt.compile(dialect=dialect)
            state = compiled.construct_expanded_state({self._name: list(range(size)), **params})
            if state.processors:  # a type that converts values: not for the driver as is
                raise StorageError(f"storage: {sorted(state.processors)} need processing")
            order = list(state.positiontup) if state.positiontup is not None else None
            rendered = (state.statement, order, state.parameter_expansion[self._name])
            self._rendered[key] = rendered
        return rendered


def insert_ignoring_conflicts(session: Session, table: Any) -> Insert:
    """Return INSERT ... ON CONFLICT DO NOTHING for the session's dialect.

    Unique constraints are the last line against duplicates: a row another writer (a
    retry, a second daemon) stored first is silently kept rather than failing the batch.
    Given a mapped class, the statement is built on its table: a Core executemany, not
    the ORM's bulk insert, whose per-row bookkeeping cost more than the write itself
    (a full poll inserts some 300,000 sighting, band and article rows).
    """
    table = getattr(table, "__table__", table)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise StorageError(f"storage: unsupported database dialect {dialect!r}")


def insert_plain_rows(
    session: Session, stmt: Insert, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Execute an INSERT of many rows of plain values straight through the driver.

    `rows` are tuples of the `columns`, in the form the driver takes: integers, text,
    None, or a value made so by `driver_value`. SQLAlchemy processes each row's
    parameters before the driver's executemany; for the near-duplicate index, twenty
    rows of two integers per article, that costs more than the write itself. Such values
    need no processing, so the compiled statement goes to the driver as it is.
    """
    if not rows:
        return
    connection = session.connection()
    table = stmt.table
    stmt = stmt.values({name: bindparam(name, type_=table.c[name].type) for name in columns})
    compiled = stmt.compile(dialect=connection.dialect)
    params: list[Any]
    if compiled.positional and compiled.positiontup is not None:  # SQLite's "?" style
        order = [columns.index(name) for name in compiled.positiontup]
        params = (
            list(rows)
            if order == list(range(len(columns)))
            else [tuple(row[i] for i in order) for row in rows]
        )
    else:  # named parameters, as psycopg's "%(name)s"
        params = [dict(zip(columns, row, strict=True)) for row in rows]
    connection.exec_driver_sql(str(compiled), params)


def driver_value(session: Session, column: Any, value: Any) -> Any:
    """Return `value` as the column's type hands it to the driver (for `insert_plain_rows`):
    an aware datetime as SQLite's UTC text, say."""
    dialect = session.get_bind().dialect
    processor = column.type.bind_processor(dialect)
    return processor(value) if processor is not None else value


def rowcount(result: Result[Any]) -> int:
    """Return the rows an UPDATE or DELETE matched."""
    assert isinstance(result, CursorResult), "rowcount of a statement that returns rows"
    return int(result.rowcount)
