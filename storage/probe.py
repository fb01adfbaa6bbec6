"""Check that the configured database and export folders can be used, creating nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import ArgumentError

from storage.db import Database, mask_password, nearest_existing
from storage.exceptions import DatabaseUnavailable, ExportUnavailable


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
    problem = folder_problem(path.parent)
    if problem is not None:
        raise DatabaseUnavailable(f"storage: cannot open database {shown}: {problem}")


def check_export_folder(name: str, folder: Path) -> None:
    """Raise ExportUnavailable, in one line, if export `name` could not write in `folder`."""
    problem = folder_problem(folder)
    if problem is not None:
        raise ExportUnavailable(f"storage: export {name!r} cannot write to {folder}: {problem}")


def folder_problem(folder: Path) -> str | None:
    """Return why new files could not be made in `folder` (created if need be), or None.

    Nothing is created: the nearest existing folder must be a folder and take a file.
    """
    existing = nearest_existing(folder)
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        # The only sure test of "can a file be made here" (root ignores modes, and
        # some filesystems refuse whatever the modes say) is to make one.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot create a file in {existing}: {exc.strerror}"
    return None
