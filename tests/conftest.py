"""Shared fixtures: a migrated database on SQLite, and on PostgreSQL when one is given.

Set NEWSWATCH_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)
to run every `database` test on PostgreSQL too. Each PostgreSQL test gets its own fresh
schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from storage.db import Database

PG_URL_ENV = "NEWSWATCH_TEST_DATABASE_URL"
PG_URL = os.environ.get(PG_URL_ENV)


def pg_schema_url(base_url: str, schema: str) -> str:
    """Return `base_url` with every connection's search_path set to `schema`."""
    url = make_url(base_url)
    options = f"-csearch_path={schema}"
    if "options" in url.query:
        options = f"{url.query['options']} {options}"
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


def create_pg_schema(base_url: str) -> str:
    """Create a fresh, uniquely named schema and return its name."""
    schema = f"nw_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        engine.dispose()
    return schema


def drop_pg_schema(base_url: str, schema: str) -> None:
    """Drop a schema made by `create_pg_schema`, with everything in it."""
    engine = create_engine(base_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Yield a PostgreSQL URL confined to a fresh schema; skip without a server."""
    if not PG_URL:
        pytest.skip(f"{PG_URL_ENV} is not set")
    schema = create_pg_schema(PG_URL)
    try:
        yield pg_schema_url(PG_URL, schema)
    finally:
        drop_pg_schema(PG_URL, schema)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'data' / 'newswatch.db'}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(not PG_URL, reason=f"{PG_URL_ENV} is not set"),
        ),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """Return an empty database's URL, once per backend."""
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(fixture)
    return url


@contextlib.contextmanager
def migrated(url: str) -> Iterator[Database]:
    """Open the database at `url`, bring its schema up to date, and dispose of it after."""
    db = Database.open(url)
    db.upgrade()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """Yield a migrated database, once on SQLite and once on PostgreSQL if available."""
    with migrated(database_url) as db:
        yield db
