"""Errors raised by the storage package.

StorageError
 ├── DatabaseUnavailable   the database URL is wrong or the server does not answer
 └── DatabaseLocked        another daemon holds this SQLite database
"""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the storage package raises."""


class DatabaseUnavailable(StorageError):
    """The database cannot be opened or reached."""


class DatabaseLocked(StorageError):
    """Another process already runs a daemon on this SQLite database."""
