"""Benchmark: time to drain a backlog of due feeds with 1, 2 and 3 daemons on PostgreSQL.

Each feed has one entry whose page is fetched in full (`full_text`); the local server
answers every request after a fixed latency (50 ms by default), as a distant server
would. All feeds are due at once. The drain time runs from the first request the server
sees to the last one; the baseline is one daemon, in the same run, and the speed-up is
its drain time over that of N daemons. Duplicate polls (a feed requested more than once)
must be 0. Each run gets a fresh schema.

    .venv/bin/python bench/scaleout.py [--feeds 2000] [--latency 0.05] [--daemons 1,2,3]

Figures only: nothing here asserts a speed. On a small machine the daemons share its
cores, so the speed-up is bounded by CPU (page extraction) as much as by latency.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storage.db import Database  # noqa: E402
from storage.models import Article, Source  # noqa: E402
from tests.conftest import create_pg_schema, drop_pg_schema, pg_schema_url  # noqa: E402
from tests.daemon_helpers import Daemon, FeedSpec, write_config  # noqa: E402
from tests.feedserver import Entry, FeedServer  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PARAGRAPH = (
    "North Korean troops were seen near Kursk, officials in Kyiv said, as Russia and "
    "Pyongyang deepen their military ties. Analysts expect more deliveries this winter. "
)


def page(n: int) -> str:
    body = "".join(f"<p>Report {n}, part {k}. {PARAGRAPH}</p>" for k in range(8))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Report {n}"
        f"</title></head><body><article><h1>Report {n}: DPRK and Russia</h1>{body}"
        "</article></body></html>"
    )


def serve(server: FeedServer, feeds: int, latency: float) -> list[FeedSpec]:
    specs = []
    for n in range(feeds):
        link = f"/pages/{n}.html"
        server.set_page(link, page(n))
        entry = Entry(f"e{n}", f"Report {n}: DPRK and Russia", server.url(link), "DPRK.", None)
        path = f"/feeds/{n}.xml"
        server.set_feed(path, [entry], title=f"Feed {n}")
        for slow in (path, link):
            server.set_fault(slow, "hang", delay=latency)
        specs.append(FeedSpec(f"feed-{n:04d}", path, interval="1h", full_text=True))
    return specs


def counts(url: str) -> tuple[int, int]:
    """Return (feeds checked, articles stored); (0, 0) until the schema exists."""
    try:
        db = Database.open(url)
    except SQLAlchemyError:
        return 0, 0
    try:
        with db.session() as session:
            checked = session.scalar(
                select(func.count()).where(Source.last_checked_at.is_not(None))
            )
            stored = session.scalar(select(func.count()).select_from(Article))
        return int(checked or 0), int(stored or 0)
    except SQLAlchemyError:
        return 0, 0
    finally:
        db.dispose()


def run(pg: str, daemons: int, feeds: int, latency: float, timeout: float) -> dict[str, float]:
    schema = create_pg_schema(pg)
    url = pg_schema_url(pg, schema)
    try:
        with FeedServer() as server, tempfile.TemporaryDirectory() as tmp:
            specs = serve(server, feeds, latency)
            config = write_config(Path(tmp), server, specs, timeout="30s")
            text = config.read_text(encoding="utf-8").replace("per_host = 2", "per_host = 16")
            config.write_text(text, encoding="utf-8")
            env = {"NEWSWATCH_DATABASE_URL": url}
            with ExitStack() as stack:
                procs = []
                for n in range(daemons):
                    proc = Daemon(config, Path(tmp) / f"d{n}.log", env).start()
                    stack.callback(proc.kill)
                    procs.append(proc)
                deadline = time.monotonic() + timeout
                while counts(url)[0] < feeds:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"timed out: {counts(url)} of {feeds}")
                    time.sleep(0.5)
                for proc in procs:
                    proc.send(signal.SIGTERM)
                for proc in procs:
                    proc.wait(60)
            requests = server.requests()
            per_feed = Counter(r.path for r in requests if r.path.startswith("/feeds/"))
            times = [r.time for r in requests]
            _, stored = counts(url)
    finally:
        drop_pg_schema(pg, schema)
    return {
        "drain_s": max(times) - min(times),
        "requests": len(requests),
        "duplicate_polls": sum(c - 1 for c in per_feed.values()),
        "feeds_polled": len(per_feed),
        "articles": stored,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--daemons", default="1,2,3", help="daemon counts to run, in order")
    parser.add_argument("--pg", default=DEFAULT_PG)
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    counts_wanted = [int(n) for n in args.daemons.split(",")]
    print(
        f"{args.feeds} due feeds, one full-text page each, {args.latency * 1000:.0f} ms per "
        f"request, per_host 16, concurrency 16 per daemon, PostgreSQL",
        flush=True,
    )
    results = {}
    for n in counts_wanted:
        results[n] = run(args.pg, n, args.feeds, args.latency, args.timeout)
        r = results[n]
        print(
            f"daemons={n} drain={r['drain_s']:.1f}s feeds/s={args.feeds / r['drain_s']:.1f} "
            f"requests={r['requests']:.0f} feeds_polled={r['feeds_polled']:.0f} "
            f"duplicate_polls={r['duplicate_polls']:.0f} articles={r['articles']:.0f}",
            flush=True,
        )
    base = results[counts_wanted[0]]["drain_s"]
    for n in counts_wanted:
        ratio = base / results[n]["drain_s"]
        print(
            f"speed-up daemons={n} vs daemons={counts_wanted[0]} (baseline, same run): {ratio:.2f}x"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
