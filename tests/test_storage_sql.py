"""`storage.sql.PlainSelect`: IN-list lookups straight through the driver, on each database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select

from storage.db import Database
from storage.exceptions import StorageError
from storage.models import Source
from storage.records import SourceSpec
from storage.sources import sync_sources
from storage.sql import IN_CHUNK, PlainSelect

BY_NAME = PlainSelect(
    select(Source.name, Source.id, Source.url).where(
        Source.kind == bindparam("kind"), Source.name.in_(bindparam("names", expanding=True))
    ),
    "names",
)
COUNT = 2 * IN_CHUNK + 37  # three statements: two full lists, and one padded


@pytest.fixture
def named(database: Database) -> Database:
    specs = [SourceSpec(f"feed-{n}", "feed", f"https://f.example/{n}") for n in range(COUNT)]
    sync_sources(database, specs, 3600, datetime.now(UTC))
    return database


def lookup(database: Database, names: list[str], kind: str = "feed") -> list[tuple[str, ...]]:
    return database.read(
        lambda session: [tuple(r) for r in BY_NAME.rows(session, names, kind=kind)]
    )


def test_every_value_is_looked_up_across_chunks_once(named: Database) -> None:
    names = [f"feed-{n}" for n in range(COUNT)]
    rows = lookup(named, names)
    assert sorted(name for name, _, _ in rows) == sorted(names)  # each row once
    assert {url for _, _, url in rows} == {f"https://f.example/{n}" for n in range(COUNT)}
    assert all(isinstance(source_id, int) for _, source_id, _ in rows)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9])
def test_a_short_list_is_padded_without_extra_rows(named: Database, count: int) -> None:
    names = [f"feed-{n}" for n in range(count)] + ["no-such-feed"]
    assert sorted(name for name, _, _ in lookup(named, names)) == sorted(names[:-1])


def test_the_other_parameters_apply(named: Database) -> None:
    assert lookup(named, ["feed-1", "feed-2"], kind="site") == []
    assert lookup(named, [], kind="feed") == []


def test_a_type_that_converts_its_values_is_refused(database: Database) -> None:
    """Values go to the driver as they are: a column whose type converts them cannot."""
    by_time = PlainSelect(
        select(Source.id).where(Source.next_check_at.in_(bindparam("times", expanding=True))),
        "times",
    )
    with pytest.raises(StorageError, match="processing"):
        database.read(lambda session: list(by_time.rows(session, [datetime.now(UTC)])))
