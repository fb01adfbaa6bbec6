"""Run a named export in this process and SIGKILL it at one step: `python -m tests.export_crash`.

Arguments: DATABASE_URL DIRECTORY DAY STEP [FORMAT]. The export is the real
`storage.daily_export.run_export`; only its checkpoint, called between steps, kills.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from storage.daily_export import run_export
from storage.db import Database
from storage.records import ExportSpec


def spec(directory: Path, fmt: str = "jsonl") -> ExportSpec:
    """Return the export the crash tests run: every article, per topic for Atom."""
    return ExportSpec(
        name="daily",
        format=fmt,
        directory=directory,
        per_topic=fmt == "atom",
        topic_files=("dprk", "kursk"),
    )


def main(url: str, directory: str, day: str, step: str, fmt: str = "jsonl") -> None:
    def checkpoint(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)

    db = Database.open(url)
    run_export(db, spec(Path(directory), fmt), day, checkpoint=checkpoint)
    db.dispose()


if __name__ == "__main__":
    main(*sys.argv[1:])
