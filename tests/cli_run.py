"""Run the `newswatch` console script in a child process against a FeedServer."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.feedserver import FeedServer, Request

REPO = Path(__file__).resolve().parent.parent
NEWSWATCH = (str(Path(sys.executable).parent / "newswatch"),)


@dataclass(frozen=True)
class Run:
    """What one command did, seen from outside."""

    returncode: int
    stdout: str
    stderr: str
    requests: list[Request]  # what the server received during the run


def newswatch(server: FeedServer, *args: str, command: Sequence[str] = NEWSWATCH) -> Run:
    """Run `command ARGS` (the console script by default) and record the server's log."""
    server.clear_log()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSWATCH_")}
    env["COLUMNS"] = "250"  # a wide terminal: `sources` shows whole reasons on one line
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=120, env=env, cwd=REPO
    )
    return Run(done.returncode, done.stdout, done.stderr, server.requests())


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    """Return the rows of `sql` on a SQLite file."""
    with sqlite3.connect(database) as connection:
        return connection.execute(sql).fetchall()
