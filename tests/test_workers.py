"""The worker pool's processes: what they import.

Every module the fork server preloads is in every worker, once per process that touches
its pages; the database and download stacks belong to the daemon alone.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from crawler.workers import _PRELOAD

# Imported by the daemon only: SQLAlchemy and the ORM (storage), Scrapy and Twisted.
DAEMON_ONLY = ("sqlalchemy", "scrapy", "twisted", "storage.db", "storage.models")


def imported_after(statement: str) -> set[str]:
    """Return the modules a fresh interpreter holds after running `statement`."""
    code = f"import sys\n{statement}\nprint('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(result.stdout.split())


@pytest.mark.parametrize("module", _PRELOAD)
def test_the_worker_modules_import_no_database_or_download_code(module: str) -> None:
    loaded = imported_after(f"import {module}")
    assert module in loaded
    assert sorted(name for name in DAEMON_ONLY if name in loaded) == []
