"""Benchmark: a named JSON Lines export of N stored articles on SQLite, beside plain dumps.

For each row count (100,000 and 1,000,000 by default) a fresh SQLite database gets N
articles, each with one sighting and one topic match, written with `executemany` (not
through the pipeline). Then, each in its own process so that its peak memory is its own:

- **newswatch**: `run_export` of a daily JSON Lines export, the daemon's code path:
  claim N ledger rows, stream the articles with their sources and topics, write
  through a temporary file with fsync and rename, write the manifest, finish the run;
- **sqlite3 -json**: the sqlite3 shell dumping the same articles' columns as JSON;
- **python json**: a plain SELECT of those columns, each row written with `json.dumps`.

The baselines read only the articles table (no sources, no topics, no ledger), so the
ratio is what newswatch's export costs over a bare dump. Peak memory is each process's
maximum resident set (wait4's ru_maxrss); it should not grow with N.

    .venv/bin/python bench/export.py [--rows 100000,1000000] [--keep DIR]

Figures only: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BATCH = 20_000
WORDS_TEXT = (
    "government minister said report officials week talks border market city court "
    "president election police plan budget energy prices trade military agency union "
    "council water school health Pyongyang Seoul Kursk Russia Ukraine troops missile"
)
WORDS = tuple(WORDS_TEXT.split())
COLUMNS = (
    "id, url, canonical_url, title, summary, text, authors, language, published_at, "
    "first_seen_at, updated_at, duplicate_of, content_hash"
)
DAY = "2024-10-15"


def populate(url: str, rows: int) -> None:
    """Store `rows` articles with a sighting and a topic match each, in batches."""
    # Imported here: the parent process stays small, and a child's ru_maxrss starts
    # from its parent's size at fork.
    from sqlalchemy import insert

    from storage.db import Database
    from storage.models import Article, ArticleTopic, Sighting
    from storage.records import SourceSpec, TopicSpec
    from storage.sources import due_sources, sync_sources
    from storage.topics import sync_topics

    db = Database.open(url)
    db.upgrade()
    start = datetime(2024, 10, 14, tzinfo=UTC)
    sync_sources(db, [SourceSpec("wire", "feed", "http://wire.example/")], 900, start)
    sync_topics(db, [TopicSpec("dprk", "DPRK")], start)
    source = due_sources(db, start + timedelta(days=1))[0].id
    random.seed(6)
    bodies = [" ".join(random.choices(WORDS, k=60)) for _ in range(997)]
    with db.engine.begin() as connection:
        topic_id = connection.exec_driver_sql("SELECT id FROM topics").scalar_one()
        for first in range(1, rows + 1, BATCH):
            ids = range(first, min(first + BATCH, rows + 1))
            seen = [start + timedelta(seconds=n * 80_000 / rows) for n in ids]
            connection.execute(
                insert(Article),
                [
                    {
                        "id": n,
                        "canonical_url": f"https://news.example/{n}",
                        "url": f"https://news.example/{n}?utm_source=rss",
                        "title": f"Story {n}: {bodies[n % 997][:60]}",
                        "summary": bodies[(n * 7) % 997][:160],
                        "text": bodies[n % 997] + f" ({n})",
                        "authors": ["A. Writer"],
                        "language": "en",
                        "published_at": when,
                        "first_seen_at": when,
                        "updated_at": when,
                        "content_hash": f"{n:064x}",
                    }
                    for n, when in zip(ids, seen, strict=True)
                ],
            )
            connection.execute(
                insert(Sighting),
                [
                    {
                        "article_id": n,
                        "source_id": source,
                        "entry_key": f"k{n}",
                        "url": f"https://news.example/{n}",
                        "seen_at": when,
                    }
                    for n, when in zip(ids, seen, strict=True)
                ],
            )
            connection.execute(
                insert(ArticleTopic),
                [
                    {"article_id": n, "topic_id": topic_id, "terms": ["DPRK"], "matched_at": when}
                    for n, when in zip(ids, seen, strict=True)
                ],
            )
    db.dispose()


def child_newswatch(url: str, out: str) -> None:
    """Run the named export (in a child process)."""
    from storage.daily_export import run_export
    from storage.db import Database
    from storage.records import ExportSpec

    db = Database.open(url)
    (result,) = run_export(db, ExportSpec("daily", "jsonl", Path(out)), DAY)
    db.dispose()
    print(result.count)


def child_python_json(path: str, out: str) -> None:
    """Dump the articles with a plain SELECT and json.dumps (in a child process)."""
    connection = sqlite3.connect(path)
    cursor = connection.execute(f"SELECT {COLUMNS} FROM articles ORDER BY id")
    names = [column[0] for column in cursor.description]
    count = 0
    with open(out, "w", encoding="utf-8") as file:
        for row in cursor:
            record = dict(zip(names, row, strict=True))
            record["authors"] = json.loads(record["authors"])
            file.write(json.dumps(record, ensure_ascii=False))
            file.write("\n")
            count += 1
    connection.close()
    print(count)


def measure(command: list[str], stdout_path: Path | None = None) -> tuple[float, float, str]:
    """Run `command`; return its seconds, its peak RSS in MiB, and what it printed.

    Linux reports ru_maxrss in KiB.
    """
    began = time.perf_counter()
    out = stdout_path.open("wb") if stdout_path else subprocess.PIPE
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - began
    printed = b"" if stdout_path else (process.stdout.read() if process.stdout else b"")
    errors = process.stderr.read() if process.stderr else b""
    if stdout_path:
        out.close()  # type: ignore[union-attr]
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command[0]} failed: {errors.decode(errors='replace')}")
    return elapsed, usage.ru_maxrss / 1024, printed.decode().strip()


def figure(name: str, seconds: float, rows: int, peak: float, note: str = "") -> str:
    """Return one line of the report."""
    return f"  {name:21s} {seconds:7.1f}s {rows / seconds:9,.0f} rows/s  peak {peak:5.0f} MiB{note}"


def bench(rows: int, folder: Path) -> None:
    path = folder / f"bench-{rows}.db"
    url = f"sqlite:///{path}"
    began = time.perf_counter()
    me = [sys.executable, __file__]
    measure([*me, "--child", "populate", url, str(rows)])
    took = time.perf_counter() - began
    print(f"\n{rows:,} articles stored in {took:.1f}s ({path.stat().st_size / 2**20:.0f} MiB)")
    ours, ours_mem, count = measure([*me, "--child", "newswatch", url, str(folder / "exports")])
    size = (folder / "exports" / DAY / "daily.jsonl").stat().st_size / 2**20
    print(
        figure("newswatch run_export", ours, rows, ours_mem, f"  ({count} items, {size:.0f} MiB)")
    )
    baselines = []
    if shutil.which("sqlite3"):
        query = f"SELECT {COLUMNS} FROM articles ORDER BY id"
        dump = folder / "sqlite3.json"
        baselines.append(("sqlite3 -json", *measure(["sqlite3", "-json", str(path), query], dump)))
    plain = [*me, "--child", "python-json", str(path), str(folder / "plain.jsonl")]
    baselines.append(("python json", *measure(plain)))
    for name, took, mem, _ in baselines:
        print(figure(name, took, rows, mem, f"  newswatch/{name} = {ours / took:.2f}x the time"))
    shutil.rmtree(folder / "exports", ignore_errors=True)
    for name in ("sqlite3.json", "plain.jsonl"):
        (folder / name).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="100000,1000000", help="comma-separated row counts")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the databases")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, source, out = args.child
        if kind == "populate":
            populate(source, int(out))
        else:
            (child_newswatch if kind == "newswatch" else child_python_json)(source, out)
        return
    folder = args.keep or Path(tempfile.mkdtemp(prefix="nw-bench-export-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"SQLite {sqlite3.sqlite_version}, Python {sys.version.split()[0]}, in {folder}")
    print(
        f"parent process: peak {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    try:
        for rows in (int(n) for n in args.rows.split(",")):
            bench(rows, folder)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
