"""The worker pool's processes and the daemon's: what each imports.

Every module the fork server preloads is in every worker, copied into each of them as
they run it; the database and download stacks belong to the daemon alone, and what only
the workers run (MinHash signatures with numpy, page extraction with trafilatura) stays
out of the daemon.
"""

from __future__ import annotations

import asyncio
import operator
import subprocess
import sys
import time

import pytest

from crawler.workers import _PRELOAD, WorkerPool

# Imported by the daemon only: SQLAlchemy and the ORM (storage), Scrapy and Twisted.
DAEMON_ONLY = ("sqlalchemy", "scrapy", "twisted", "storage.db", "storage.models")
# Imported by a process when it first computes a signature or extracts a page.
ON_FIRST_USE = ("numpy", "trafilatura")


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


def test_the_workers_import_trafilatura_only_to_extract_a_page() -> None:
    preloaded = imported_after("\n".join(f"import {module}" for module in _PRELOAD))
    assert "trafilatura" not in preloaded
    extracted = imported_after(
        "from crawler.extraction import extract_page\n"
        "extract_page('<html><body><article><p>' + 'Words of a story. ' * 40"
        " + '</p></article></body></html>', 'https://herald.example/a')"
    )
    assert "trafilatura" in extracted


def test_the_daemon_imports_neither_numpy_nor_trafilatura() -> None:
    loaded = imported_after(
        "import scheduler.daemon, scheduler.poller, crawler.spiders.feeds, crawler.spiders.sites"
    )
    assert "crawler.pipelines" in loaded
    assert sorted(name for name in ON_FIRST_USE if name in loaded) == []


def test_a_signature_imports_numpy_where_it_is_computed() -> None:
    loaded = imported_after(
        "from storage import minhash\n"
        "minhash.signature(minhash.shingles('one two three four five'))"
    )
    assert "numpy" in loaded


def test_a_started_pool_has_its_workers_before_any_task() -> None:
    """`start` runs the workers up off the event loop, one per worker slot."""
    pool = WorkerPool(2)
    try:
        pool.start()
        processes = pool._executor._processes  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while len(processes) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes) == 2
        assert asyncio.run(pool.run(operator.add, 2, 3)) == 5
        assert len(processes) == 2  # the task ran on a worker already there
    finally:
        pool.close()
