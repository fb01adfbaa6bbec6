"""Errors raised by the storage package.

StorageError
 ├── DatabaseUnavailable   the database URL is wrong or the server does not answer
 ├── DatabaseLocked        another daemon holds this SQLite database
 └── ExportUnavailable     an export's folder cannot take new files
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the storage package raises."""


class DatabaseUnavailable(StorageError):
    """The database cannot be opened or reached."""


class DatabaseLocked(StorageError):
    """Another process already runs a daemon on this SQLite database."""


class ExportUnavailable(StorageError):
    """An export's folder cannot be made, or files cannot be written in it."""
