"""Check that the configured database can be used, creating nothing (`config check`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from storage.db import Database, mask_password, nearest_existing
from storage.exceptions import DatabaseUnavailable


def check_database(url: str) -> None:
    """Raise DatabaseUnavailable, in one line, if newswatch could not use `url`.

    A server is connected to; an existing SQLite file is opened; for a SQLite file not
    created yet, its nearest existing folder must take a new file. Nothing is created
    or migrated, so a check never leaves a database behind.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnavailable(
            f"storage: cannot open database {mask_password(url)}: not a database URL"
        ) from None
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        path = Path(database)
        if not path.exists():
            _check_creatable(path, parsed.render_as_string(hide_password=True))
            return
    Database.open(url).dispose()


def _check_creatable(path: Path, shown: str) -> None:
    folder = nearest_existing(path.parent)
    problem = None
    if not folder.is_dir():
        problem = f"{folder} is a file, not a folder"
    else:
        try:
            # The only sure test of "can a file be made here" (root ignores modes, and
            # some filesystems refuse whatever the modes say) is to make one.
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            problem = f"cannot create a file in {folder}: {exc.strerror}"
    if problem is not None:
        raise DatabaseUnavailable(f"storage: cannot open database {shown}: {problem}")
