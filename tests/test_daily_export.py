"""Named exports: each item exactly once over the day files, through kills and late commits."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from storage.articles import store_articles
from storage.daily_export import MANIFEST, STEPS, run_export
from storage.db import Database
from storage.export_runs import pending_run, start_run
from storage.models import Article, ExportItem, ExportRun
from storage.records import ArticleRecord, ExportSpec, SourceSpec, TopicSpec
from storage.sources import due_sources, sync_sources
from storage.topics import sync_topics
from tests.export_crash import spec as crash_spec

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """Return the export folder (tmp_path also holds the SQLite database)."""
    return tmp_path / "exports"


@pytest.fixture
def source(database: Database) -> int:
    sync_sources(database, [SourceSpec("wire", "feed", "http://wire.test/")], 900, T0)
    sync_topics(database, [TopicSpec("dprk", "DPRK"), TopicSpec("kursk", "Kursk")], T0)
    return due_sources(database, T0 + DAY)[0].id


def record(source_id: int, n: int, **fields: Any) -> ArticleRecord:
    url = f"http://x.test/{n}"
    fields.setdefault("matches", {"dprk": ("DPRK",)})
    fields.setdefault("title", f"Article {n}")
    return ArticleRecord(source_id, f"key-{n}", url, url, f"hash-{n}", **fields)


def store(db: Database, source_id: int, numbers: range, when: datetime | None = None) -> None:
    store_articles(db, [record(source_id, n) for n in numbers], when or datetime.now(UTC))


def day_ids(directory: Path, name: str = "daily.jsonl") -> list[int]:
    """Return the ids in one day file, checking it is whole JSON Lines."""
    lines = (directory / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["id"] for line in lines]


def exported(root: Path) -> Counter[int]:
    """Count each id over every day's file."""
    return Counter(i for day in sorted(root.iterdir()) for i in day_ids(day))


def check_manifest(directory: Path) -> dict[str, Any]:
    """Read the day's manifest and check its sha256, sizes and counts against the files."""
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        data = (directory / entry["name"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["bytes"] == len(data)
    return manifest


def crash(url: str, root: Path, day: str, step: str) -> None:
    """Run the export in a subprocess that SIGKILLs itself at `step`."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.export_crash", url, str(root), day, step],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr


@pytest.mark.parametrize("step", STEPS)
def test_a_kill_at_any_step_then_a_rerun_exports_each_item_once(
    database: Database, database_url: str, source: int, tmp_path: Path, step: str
) -> None:
    root = tmp_path / "exports"
    store(database, source, range(1, 6))
    crash(database_url, root, "2024-10-15", step)
    day = root / "2024-10-15"
    if step == "renamed":
        # What a reader may see meanwhile: the whole file, and no manifest yet.
        assert day_ids(day) == [1, 2, 3, 4, 5]
        assert not (day / MANIFEST).exists()
    assert pending_run(database, "daily") is not None

    store(database, source, range(6, 8))  # stored while the export was down
    spec = crash_spec(root)
    first = run_export(database, spec, "2024-10-15")
    # The interrupted run is finished first, then a new run adds what came since.
    assert [(r.day, r.resumed) for r in first] == [("2024-10-15", True), ("2024-10-15", False)]
    assert day_ids(day) == [1, 2, 3, 4, 5, 6, 7]
    assert check_manifest(day)["count"] == 7
    assert not [p.name for p in day.iterdir() if p.name.endswith(".tmp")]
    assert pending_run(database, "daily") is None

    store(database, source, range(8, 9))
    run_export(database, spec, "2024-10-16")
    run_export(database, spec, "2024-10-17")
    assert exported(root) == Counter(range(1, 9))
    assert day_ids(root / "2024-10-16") == [8]
    assert day_ids(root / "2024-10-17") == []


def test_a_row_committed_late_by_a_concurrent_writer_is_in_the_next_export(
    database: Database, source: int, out: Path
) -> None:
    store(database, source, range(1, 3))
    spec = ExportSpec("daily", "jsonl", out)
    # The writer stamps its row before the export starts and commits while it runs: a
    # watermark on first_seen_at (or on the id) taken by this export would skip it.
    stamped = datetime.now(UTC) - timedelta(seconds=5)
    writer = threading.Thread(target=store, args=(database, source, range(3, 4), stamped))

    def commit_late(step: str) -> None:
        if step == "claimed":
            writer.start()
            writer.join()

    run_export(database, spec, "2024-10-15", checkpoint=commit_late)
    with database.session() as session:
        started = session.scalar(select(ExportRun.started_at).where(ExportRun.id == 1))
    assert started is not None and stamped < started
    assert day_ids(out / "2024-10-15") == [1, 2]

    run_export(database, spec, "2024-10-16")
    run_export(database, spec, "2024-10-17")
    assert day_ids(out / "2024-10-16") == [3]
    assert exported(out) == Counter([1, 2, 3])


def test_only_one_run_is_pending_and_a_second_starter_finishes_it(
    database: Database, source: int, out: Path
) -> None:
    store(database, source, range(1, 4))
    spec = ExportSpec("daily", "jsonl", out)
    now = datetime.now(UTC)
    first = start_run(database, spec, "2024-10-15", now)
    second = start_run(database, spec, "2024-10-15", now)
    assert (second.id, second.resumed) == (first.id, True)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(ExportItem)) == 3
    with pytest.raises(IntegrityError), database.session(write=True) as session:
        session.add(ExportRun(export_id=first.export_id, day="x", status="pending", started_at=now))
    results = run_export(database, spec, "2024-10-15")
    assert [r.count for r in results] == [3, 3]  # the pending run, then a run adding none
    assert day_ids(out / "2024-10-15") == [1, 2, 3]


def test_updates_go_out_once_per_revision_only_when_asked(
    database: Database, source: int, out: Path
) -> None:
    store(database, source, range(1, 3))
    plain = ExportSpec("plain", "jsonl", out / "plain")
    updates = ExportSpec("updates", "jsonl", out / "updates", include_updates=True)
    for spec in (plain, updates):
        run_export(database, spec, "2024-10-15")
    revised = record(source, 1, text="A corrected text about DPRK.")
    revised = ArticleRecord(**{**_fields(revised), "content_hash": "hash-1b"})
    store_articles(database, [revised], datetime.now(UTC))
    for spec in (plain, updates):
        run_export(database, spec, "2024-10-16")
        run_export(database, spec, "2024-10-17")
    assert day_ids(out / "plain" / "2024-10-16", "plain.jsonl") == []
    assert day_ids(out / "updates" / "2024-10-16", "updates.jsonl") == [1]
    assert day_ids(out / "updates" / "2024-10-17", "updates.jsonl") == []


def _fields(item: ArticleRecord) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ArticleRecord.__slots__}


def test_per_topic_files_and_topic_limits(database: Database, source: int, out: Path) -> None:
    store_articles(
        database,
        [
            record(source, 1, matches={"dprk": ("DPRK",)}),
            record(source, 2, matches={"dprk": ("DPRK",), "kursk": ("Kursk",)}),
            record(source, 3, matches={}),  # kept unmatched
        ],
        datetime.now(UTC),
    )
    spec = ExportSpec("t", "jsonl", out, per_topic=True, topic_files=("dprk", "kursk"))
    (result,) = run_export(database, spec, "2024-10-15")
    day = out / "2024-10-15"
    assert result.files == ("t-dprk.jsonl", "t-kursk.jsonl")
    assert (day_ids(day, "t-dprk.jsonl"), day_ids(day, "t-kursk.jsonl")) == ([1, 2], [2])
    manifest = check_manifest(day)
    assert manifest["count"] == 2
    assert [(f["topic"], f["count"]) for f in manifest["files"]] == [("dprk", 2), ("kursk", 1)]

    only = ExportSpec("k", "jsonl", out / "k", topics=("kursk",))
    run_export(database, only, "2024-10-15")
    assert day_ids(out / "k" / "2024-10-15", "k.jsonl") == [2]


def test_old_ledger_rows_are_pruned_and_items_still_go_out_once(
    database: Database, source: int, out: Path
) -> None:
    spec = ExportSpec("daily", "jsonl", out)
    for number in range(5):
        moment = T0 + number * DAY
        store(database, source, range(number * 10, number * 10 + 3), moment - timedelta(hours=2))
        run_export(database, spec, moment.date().isoformat(), clock=lambda m=moment: m)
    with database.session() as session:
        kept = session.scalars(select(ExportItem.article_id).order_by(ExportItem.article_id))
        ledger = list(kept)
    assert len(ledger) < 15  # the first days' rows are gone
    assert exported(out) == Counter(i for n in range(5) for i in range(1 + n * 3, 4 + n * 3))


def test_a_failed_run_shows_nothing_half_done_and_the_next_run_finishes_it(
    database: Database, source: int, out: Path
) -> None:
    store(database, source, range(1, 3))
    spec = ExportSpec("daily", "jsonl", out)

    def fail(step: str) -> None:
        if step == "written":
            raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        run_export(database, spec, "2024-10-15", checkpoint=fail)
    day = out / "2024-10-15"
    assert not (day / "daily.jsonl").exists()  # only its temporary file
    (in_the_way := out / "2024-10-16").write_text("not a folder")
    with pytest.raises(FileExistsError):
        run_export(database, spec, "2024-10-16")
    in_the_way.unlink()
    run_export(database, spec, "2024-10-16")
    assert sorted(p.name for p in day.iterdir()) == ["daily.jsonl", "manifest.json"]
    assert exported(out) == Counter([1, 2])


def test_an_open_transaction_during_an_export_commits_into_the_next_one(
    pg_url: str, tmp_path: Path
) -> None:
    # PostgreSQL readers never wait for writers, so a batch can stay open across a
    # whole export run (on SQLite the export's claim would wait for it to commit).
    db = Database.open(pg_url)
    db.upgrade()
    try:
        sync_sources(db, [SourceSpec("wire", "feed", "http://wire.test/")], 900, T0)
        sync_topics(db, [TopicSpec("dprk", "DPRK")], T0)
        source_id = due_sources(db, T0 + DAY)[0].id
        store(db, source_id, range(1, 3))
        spec = ExportSpec("daily", "jsonl", tmp_path)
        with db.session(write=True) as slow:
            slow.add(_article(datetime.now(UTC), 3))
            slow.flush()  # the row exists, uncommitted
            run_export(db, spec, "2024-10-15")
        run_export(db, spec, "2024-10-16")
    finally:
        db.dispose()
    assert day_ids(tmp_path / "2024-10-15") == [1, 2]
    assert day_ids(tmp_path / "2024-10-16") == [3]


def _article(stamp: datetime, n: int) -> Article:
    url = f"http://x.test/{n}"
    return Article(
        canonical_url=url,
        url=url,
        title=f"Article {n}",
        summary="",
        text="",
        authors=[],
        first_seen_at=stamp,
        updated_at=stamp,
        content_hash=f"hash-{n}",
    )


def test_a_run_resumed_and_finished_elsewhere_does_not_replace_the_newer_files(
    database: Database, source: int, out: Path
) -> None:
    store(database, source, range(1, 3))
    spec = ExportSpec("daily", "jsonl", out)

    def meanwhile(step: str) -> None:
        if step == "claimed":
            # Another process takes over the pending run, finishes it, and runs again.
            store(database, source, range(3, 4))
            other = run_export(database, spec, "2024-10-15")
            assert [(r.resumed, r.count) for r in other] == [(True, 2), (False, 3)]

    (mine,) = run_export(database, spec, "2024-10-15", checkpoint=meanwhile)
    assert not mine.written  # it found its run finished by the other, and wrote nothing
    assert day_ids(out / "2024-10-15") == [1, 2, 3]
    assert check_manifest(out / "2024-10-15")["count"] == 3
