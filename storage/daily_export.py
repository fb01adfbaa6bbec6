"""Run a named export: `DIR/YYYY-MM-DD/<name>[-<topic>].<ext>` plus `manifest.json`.

`run_export` is the one entry point; the design that makes it exactly once is in
`storage.export_runs`. A singleton lock across daemons (PostgreSQL advisory lock) would
wrap this function.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storage.db import Database
from storage.export import EXPORT_SCHEMA_VERSION, format_time
from storage.export_files import StagedFile, remove_stale_temps, sync_directory, write_file
from storage.export_formats import EXTENSIONS, open_writer
from storage.export_runs import day_rows, day_window, finish_run, is_pending, start_run
from storage.locks import singleton
from storage.records import ExportRunState, ExportSpec

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# The points `checkpoint` is called at, in order (tests kill the process at each one):
# items claimed, files written but not renamed, files renamed but no manifest, manifest
# in place but the run not marked done.
STEPS = ("claimed", "written", "renamed", "manifest")

Checkpoint = Callable[[str], None]
Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _no_checkpoint(step: str) -> None:
    """Do nothing; tests pass a checkpoint that kills the process."""


@dataclass(frozen=True, slots=True)
class ExportedDay:
    """What one run wrote: the day's folder, its item count, and its files."""

    name: str
    day: str
    directory: Path
    count: int
    files: tuple[str, ...]
    resumed: bool  # it finished a run an earlier attempt left pending
    written: bool = True  # False: another process finished the run first; nothing written


def run_export(
    db: Database,
    spec: ExportSpec,
    day: str,
    *,
    clock: Clock = _utc_now,
    checkpoint: Checkpoint = _no_checkpoint,
) -> list[ExportedDay]:
    """Finish the export's interrupted run if there is one, then run it for `day`."""
    results = []
    while True:
        run = start_run(db, spec, day, clock())
        results.append(_complete(db, spec, run, clock, checkpoint))
        if not run.resumed:
            return results


def run_export_alone(
    db: Database,
    spec: ExportSpec,
    day: str,
    *,
    clock: Clock = _utc_now,
    still_due: Callable[[], bool] | None = None,
) -> list[ExportedDay] | None:
    """Run the export as `run_export` does, unless another process is running it: None.

    Several daemons on one PostgreSQL share the daily export; its advisory lock lets one
    write while the others skip. `still_due`, asked once the lock is held, lets a daemon
    that comes just after another has finished skip too (None) instead of running the
    day again. The ledger alone keeps items from going out twice, but two writers
    finishing the same pending run could race on its files.
    """
    with singleton(db, f"export:{spec.name}") as held:
        if not held or (still_due is not None and not still_due()):
            return None
        return run_export(db, spec, day, clock=clock)


def day_files(spec: ExportSpec) -> dict[str | None, str]:
    """Return each file's name by topic (None: the one file of a single-file export)."""
    ext = EXTENSIONS[spec.format]
    if spec.per_topic:
        return {topic: f"{spec.name}-{topic}.{ext}" for topic in spec.topic_files}
    return {None: f"{spec.name}.{ext}"}


def _publish_latest(root: Path, directory: Path, names: Iterable[str]) -> None:
    """Copy the day's feeds to `root`, where a feed reader can follow them at one URL."""
    remove_stale_temps(root)
    for name in names:
        with StagedFile(root / name) as latest, (directory / name).open("rb") as day:
            shutil.copyfileobj(day, latest.stream)
            latest.finish()
        latest.publish()
    sync_directory(root)


def _complete(
    db: Database, spec: ExportSpec, run: ExportRunState, clock: Clock, checkpoint: Checkpoint
) -> ExportedDay:
    """Write the run's day files and manifest, then mark it done."""
    checkpoint("claimed")
    directory = spec.directory / run.day
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory)
    names = day_files(spec)
    staged: dict[str | None, StagedFile] = {}
    counts = dict.fromkeys(names, 0)
    total = 0
    try:
        for topic, name in names.items():
            staged[topic] = StagedFile(directory / name)
        updated = clock()
        writers = {
            topic: open_writer(
                spec.format,
                file.stream,
                name=f"{spec.name}-{topic}" if topic else spec.name,
                title=f"newswatch {spec.name}: {topic}" if topic else f"newswatch {spec.name}",
                updated=updated,
            )
            for topic, file in staged.items()
        }
        for row in day_rows(db, run):
            total += 1
            for topic in row.topics if spec.per_topic else (None,):
                if topic in writers:
                    writers[topic].write(row)
                    counts[topic] += 1
        for writer in writers.values():
            writer.close()
        for file in staged.values():
            file.finish()
    except BaseException:
        for file in staged.values():
            file.discard()
        raise
    checkpoint("written")
    if not is_pending(db, run):
        # Another process resumed this run and finished it, and may have written the
        # day's files since with a later run's items too: ours must not replace them.
        for file in staged.values():
            file.discard()
        log.warning("export finished by another process export=%s day=%s", spec.name, run.day)
        files = tuple(names.values())
        return ExportedDay(spec.name, run.day, directory, total, files, run.resumed, False)
    for file in staged.values():
        file.publish()
    sync_directory(directory)
    checkpoint("renamed")
    window_from, window_until = day_window(db, run)
    manifest = {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "export": spec.name,
        "format": spec.format,
        "day": run.day,
        "window": {"from": format_time(window_from), "until": format_time(window_until)},
        "count": total,
        "files": [
            {
                "name": names[topic],
                "topic": topic,
                "count": counts[topic],
                "bytes": file.size,
                "sha256": file.sha256,
            }
            for topic, file in staged.items()
        ],
        "written_at": format_time(clock()),
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    write_file(directory / MANIFEST, text.encode("utf-8")).publish()
    sync_directory(directory)
    if spec.format == "atom":
        _publish_latest(spec.directory, directory, names.values())
    checkpoint("manifest")
    if not finish_run(db, run, total, clock()):
        log.warning("export finished by another process export=%s day=%s", spec.name, run.day)
    log.info(
        "export written export=%s day=%s count=%d resumed=%s dir=%s",
        spec.name,
        run.day,
        total,
        run.resumed,
        directory,
    )
    return ExportedDay(spec.name, run.day, directory, total, tuple(names.values()), run.resumed)
