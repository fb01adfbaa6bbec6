"""Singleton jobs: one PostgreSQL advisory lock per job, named by a stable key.

The daily export, maintenance and `dedupe rebuild` must run once however many daemons
share a PostgreSQL database: each takes a session-level `pg_try_advisory_lock` on a
connection of its own for as long as the job runs, and whoever does not get it skips
the run. The lock goes with the connection, so a daemon that dies never leaves it held.
SQLite needs none: one daemon per file is enforced by `Database.lock_daemon`.
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator

from sqlalchemy import text

from storage.db import Database

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """Return the advisory lock key of job `name`: the same in every process and release."""
    digest = hashlib.sha256(f"newswatch:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)  # PostgreSQL's bigint


@contextlib.contextmanager
def singleton(db: Database, name: str) -> Iterator[bool]:
    """Yield True while this process holds job `name`'s lock, False if another holds it.

    On SQLite it always yields True.
    """
    if db.dialect != "postgresql":
        yield True
        return
    key = lock_key(name)
    with db.engine.connect() as connection:
        held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        connection.commit()
        try:
            yield held
        finally:
            if held:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
