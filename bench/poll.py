"""Benchmark: one poll of 1,000 feeds, beside a sequential feedparser loop and newsboat.

    .venv/bin/pip install -e '.[bench]'      # psutil, to read the process trees
    apt-get install -y newsboat              # the third contender (skipped if missing)
    .venv/bin/python bench/poll.py [--feeds 1000] [--only newswatch,feedparser,newsboat]
    .venv/bin/python bench/poll.py --memory [--cycles 500]

A local server (bench/pollserver.py, its own process, so its CPU is nobody's) serves
1,000 RSS feeds of 50 entries each (titles of about 80 characters, HTML descriptions
of about 400), with ETags and 304s. Each contender runs three cycles from a fresh
state, the contenders taking turns cycle by cycle (so that a machine whose speed drifts
weighs on all of them alike):

- full: every feed is new;
- typical: one feed in ten has two new entries, the rest answer 304;
- steady: nothing changed, every feed answers 304. It is the one cycle that can be run
  again from the same state, so each contender runs it `--repeats` times (default 3) and
  its fastest run counts, which keeps a passing disturbance of the machine out of the
  comparison (memory: the highest of the runs).

The contenders:
- newswatch: the code `newswatch poll` runs (Poller, FeedSpider, the pipelines, a fresh
  SQLite store, the worker pool), with topics that keep about a quarter of the entries;
- feedparser: a plain sequential loop of `feedparser.parse(url, etag=..., modified=...)`;
- newsboat: `newsboat -x reload` with `reload-threads` set to newswatch's concurrency.

Each cycle's wall time, CPU time (user + system of the whole process tree, the worker
pool included) and peak memory of the process tree are printed, with newswatch's
ratios to each baseline and PASS/FAIL for the targets of issue #5. Memory is the
tree's PSS (proportional set size: pages shared between the daemon, its fork server
and its workers count once) and, for comparison, the plain sum of RSS.

`--memory` polls the feeds once in full and then `--cycles` steady cycles in one
newswatch process, and prints its memory after a tenth of them and at the end
(targets: no more than 10 % growth, under 250 MB). Figures only: nothing asserts.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pollserver  # noqa: E402
import proctree  # noqa: E402

CYCLES = ("full", "typical", "steady")
CONCURRENCY = 16
MB = 1024 * 1024


@dataclass(frozen=True)
class Figures:
    """One cycle of one contender."""

    wall_s: float
    cpu_s: float
    pss_mb: float
    rss_mb: float
    answered: dict[int, int]


# --------------------------------------------------------------------------------------
# The contenders, each in a process of its own (spawned, so that it starts clean)


def _newswatch(conn: Connection, config_path: str, log_path: str) -> None:
    """Run `newswatch poll`'s code once per command received, in one process."""
    import asyncio
    import io

    from rich.console import Console

    from scheduler.cli import configure_logging
    from scheduler.commands import context, poll_cmd
    from scheduler.config import load_config
    from scheduler.poller import Poller

    sys.stderr = open(log_path, "a")  # noqa: SIM115 - the process's log, open until exit
    configure_logging(0)
    config = load_config(Path(config_path))
    names = [feed.name for feed in config.feeds]
    console = Console(file=io.StringIO())  # no terminal: the progress bar stays silent

    async def work(poller: Poller) -> None:
        conn.send("ready")
        while await asyncio.to_thread(conn.recv) != "quit":
            summary = await poll_cmd._poll(poller, names, console)
            conn.send(f"new={summary.new} off_topic={summary.off_topic}")

    context.run_poller(config, work)


def _feedparser(conn: Connection, urls: list[str]) -> None:
    """Poll every URL with feedparser, one after the other, keeping its validators."""
    import feedparser

    validators: dict[str, tuple[Any, Any]] = {}
    conn.send("ready")
    while conn.recv() != "quit":
        entries = 0
        for url in urls:
            etag, modified = validators.get(url, (None, None))
            parsed = feedparser.parse(url, etag=etag, modified=modified)
            validators[url] = (parsed.get("etag", etag), parsed.get("modified", modified))
            entries += len(parsed.entries)
        conn.send(f"entries={entries}")


class Contender:
    """A long-lived contender process, told to run one cycle at a time."""

    def __init__(self, target: Callable[..., None], *args: object) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), daemon=False)
        self.process.start()
        if self.conn.recv() != "ready":
            raise RuntimeError("contender did not start")

    def measure(self, server: Connection) -> tuple[Figures, str]:
        assert self.process.pid is not None
        tree = proctree.Tree(self.process.pid)
        with tree.sampling() as peak:
            before, start = tree.cpu_s(), time.perf_counter()
            self.conn.send("cycle")
            said = self.conn.recv()
            wall, cpu = time.perf_counter() - start, tree.cpu_s() - before
        return Figures(wall, cpu, peak.pss / MB, peak.rss / MB, _answered(server)), said

    def close(self) -> None:
        self.conn.send("quit")
        self.process.join(120)


def _answered(server: Connection) -> dict[int, int]:
    server.send(("counts",))
    answered: dict[int, int] = server.recv()
    return answered


def _newsboat_cycle(workdir: Path, server: Connection) -> tuple[Figures, str]:
    """Run one `newsboat -x reload`; the cache file keeps its validators between runs."""
    command = [
        "newsboat",
        "-x",
        "reload",
        "-u",
        str(workdir / "urls"),
        "-c",
        str(workdir / "cache.db"),
        "-C",
        str(workdir / "config"),
    ]
    env = {**os.environ, "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir)}
    start = time.perf_counter()
    with open(workdir / "newsboat.log", "ab") as log:
        process = proctree.spawn(command, env, log)
        with proctree.Tree(process.pid).sampling() as peak:
            cpu, max_rss, status = proctree.wait(process)
    wall = time.perf_counter() - start
    # A single process: its own high-water mark is exact where sampling may miss a peak.
    rss = max(peak.rss, max_rss)
    figures = Figures(wall, cpu, max(peak.pss, 0) / MB, rss / MB, _answered(server))
    return figures, f"exit={status}"


# --------------------------------------------------------------------------------------
# Setting up each contender


def write_config(workdir: Path, base_url: str, feeds: int) -> Path:
    """Write a newswatch config for the served feeds, on a fresh SQLite database."""
    lines = [
        "[storage]",
        f'url = "sqlite:///{workdir / "newswatch.db"}"',
        "[daemon]",
        f"concurrency = {CONCURRENCY}",
        # Every bench feed is on 127.0.0.1; one host may take all the concurrency here.
        f"per_host = {CONCURRENCY}",
        'user_agent = "newswatch-bench (+mailto:bench@example.org)"',
        # The bench server is on 127.0.0.1, which newswatch refuses unless told otherwise.
        "[network]",
        "allow_private = true",
    ]
    for name, query in pollserver.TOPICS.items():
        lines += ["[[topics]]", f'name = "{name}"', f"query = '{query}'"]
    for n in range(feeds):
        lines += ["[[feeds]]", f'name = "feed-{n}"', f'url = "{base_url}{pollserver.feed_path(n)}"']
    path = workdir / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_newsboat_files(workdir: Path, base_url: str, feeds: int) -> None:
    (workdir / "urls").write_text(
        "".join(f"{base_url}{pollserver.feed_path(n)}\n" for n in range(feeds))
    )
    (workdir / "config").write_text(f"reload-threads {CONCURRENCY}\n")


@contextmanager
def feed_server(feeds: int) -> Iterator[tuple[Connection, str]]:
    context = multiprocessing.get_context("spawn")
    conn, child = context.Pipe()
    process = context.Process(target=pollserver.serve, args=(child, feeds), daemon=True)
    process.start()
    try:
        base_url: str = conn.recv()
        yield conn, base_url
    finally:
        conn.send(("stop",))
        conn.recv()
        process.join(30)


def set_state(server: Connection, state: str) -> None:
    server.send(("state", state))
    server.recv()


def run_cycles(
    server: Connection,
    cycles: dict[str, Callable[[], tuple[Figures, str]]],
    feeds: int,
    repeats: int,
) -> dict[str, dict[str, Figures]]:
    """Run each cycle for every contender in turn, and return each one's figures.

    The contenders take turns cycle by cycle (all of them full, then all typical, then
    all steady) rather than one after the other, so that a machine whose speed drifts
    over minutes (a shared host) weighs on each contender's figures alike.
    """
    results: dict[str, dict[str, Figures]] = {name: {} for name in cycles}
    set_state(server, "base")
    for label in CYCLES:
        if label == "typical":
            set_state(server, "typical")
        for name, cycle in cycles.items():
            # The steady cycle leaves the state as it found it, so it can run again: each
            # contender's best of `repeats` runs, with the highest memory of them all.
            runs = [cycle() for _ in range(repeats if label == "steady" else 1)]
            for figures, said in runs:
                print(
                    f"  {name:<10} {label:<8} wall {figures.wall_s:7.2f} s"
                    f"  cpu {figures.cpu_s:7.2f} s  pss {figures.pss_mb:6.0f} MB"
                    f"  rss {figures.rss_mb:6.0f} MB  answered {_statuses(figures.answered)}"
                    f"  ({said})",
                    flush=True,
                )
            figures = dataclasses.replace(
                min((figures for figures, _ in runs), key=lambda f: f.wall_s),
                pss_mb=max(f.pss_mb for f, _ in runs),
                rss_mb=max(f.rss_mb for f, _ in runs),
            )
            results[name][label] = figures
            expected = {"full": feeds, "typical": pollserver.changed_feeds(feeds), "steady": 0}
            fetched = figures.answered.get(200, 0)
            if fetched != expected[label]:
                # A contender that fetched other than what the cycle asks for measured
                # other work (refused requests, say, or whole feeds where a 304 would do).
                print(
                    f"  NOTE {name} {label}: {fetched} feeds answered 200,"
                    f" {expected[label]} changed",
                    flush=True,
                )
    return results


def _statuses(answered: dict[int, int]) -> str:
    return " ".join(f"{status}x{count}" for status, count in sorted(answered.items())) or "-"


# --------------------------------------------------------------------------------------
# Reports


def report(results: dict[str, dict[str, Figures]]) -> None:
    names = list(results)
    print()
    print(
        f"{'cycle':<8} {'contender':<10} {'wall s':>8} {'cpu s':>8} {'pss MB':>7} {'rss MB':>7}"
        "   newswatch / this (wall, cpu, pss)"
    )
    for label in CYCLES:
        ours = results.get("newswatch", {}).get(label)
        for name in names:
            f = results[name][label]
            line = (
                f"{label:<8} {name:<10} {f.wall_s:8.2f} {f.cpu_s:8.2f}"
                f" {f.pss_mb:7.0f} {f.rss_mb:7.0f}"
            )
            if ours is not None and name != "newswatch":
                line += (
                    f"   {_ratio(ours.wall_s, f.wall_s)}, {_ratio(ours.cpu_s, f.cpu_s)},"
                    f" {_ratio(ours.pss_mb, f.pss_mb)}"
                )
            print(line)
    if "newswatch" not in results:
        return
    ours_all = results["newswatch"]
    print()
    targets: list[tuple[str, str, float, float]] = []
    if "feedparser" in results:
        loop = {label: figures.wall_s for label, figures in results["feedparser"].items()}
        targets += [
            ("full wall <= 1/3 of the feedparser loop's", "full", 1 / 3, loop["full"]),
            ("typical wall <= 1/5 of the feedparser loop's", "typical", 0.2, loop["typical"]),
            ("steady wall <= the feedparser loop's", "steady", 1.0, loop["steady"]),
        ]
    if "newsboat" in results:
        targets.append(("full wall < newsboat's", "full", 1.0, results["newsboat"]["full"].wall_s))
    for text, label, share, baseline in targets:
        ours = ours_all[label].wall_s
        verdict = "PASS" if ours <= share * baseline else "FAIL"
        print(f"{verdict}  {text}: {ours:.2f} s vs {share * baseline:.2f} s")
    peak = max(f.pss_mb for f in ours_all.values())
    verdict = "PASS" if peak < 250 else "FAIL"
    print(f"{verdict}  memory < 250 MB (peak PSS of the tree): {peak:.0f} MB")


def _ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


# --------------------------------------------------------------------------------------
# Main


def compare(feeds: int, only: list[str], repeats: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="nw-bench-poll-") as tmp,
        feed_server(feeds) as (
            server,
            base_url,
        ),
    ):
        workdir = Path(tmp)
        print(f"{feeds} feeds of {pollserver.ENTRIES} entries at {base_url}; workdir {tmp}")
        cycles: dict[str, Callable[[], tuple[Figures, str]]] = {}
        contenders: list[Contender] = []
        if "newswatch" in only:
            (workdir / "newswatch").mkdir()
            config = write_config(workdir / "newswatch", base_url, feeds)
            log = str(workdir / "newswatch" / "newswatch.log")
            ours = Contender(_newswatch, str(config), log)
            contenders.append(ours)
            cycles["newswatch"] = lambda: ours.measure(server)
        if "feedparser" in only:
            urls = [f"{base_url}{pollserver.feed_path(n)}" for n in range(feeds)]
            loop = Contender(_feedparser, urls)
            contenders.append(loop)
            cycles["feedparser"] = lambda: loop.measure(server)
        if "newsboat" in only:
            if shutil.which("newsboat") is None:
                print("  newsboat not installed (apt-get install -y newsboat): skipped")
            else:
                boat = workdir / "newsboat"
                boat.mkdir()
                write_newsboat_files(boat, base_url, feeds)
                cycles["newsboat"] = lambda: _newsboat_cycle(boat, server)
        try:
            results = run_cycles(server, cycles, feeds, repeats)
        finally:
            for contender in contenders:
                contender.close()
        report(results)


def memory(feeds: int, cycles: int) -> None:
    checkpoint = max(1, cycles // 10)
    with (
        tempfile.TemporaryDirectory(prefix="nw-bench-mem-") as tmp,
        feed_server(feeds) as (
            server,
            base_url,
        ),
    ):
        workdir = Path(tmp)
        config = write_config(workdir, base_url, feeds)
        contender = Contender(_newswatch, str(config), str(workdir / "newswatch.log"))
        assert contender.process.pid is not None
        tree = proctree.Tree(contender.process.pid)
        set_state(server, "base")
        full, _ = contender.measure(server)
        print(f"full cycle: {full.wall_s:.1f} s, peak pss {full.pss_mb:.0f} MB", flush=True)
        marks: dict[int, tuple[float, float]] = {}
        peak_pss = full.pss_mb
        start = time.perf_counter()
        for n in range(1, cycles + 1):
            figures, _ = contender.measure(server)
            peak_pss = max(peak_pss, figures.pss_mb)
            if n in (checkpoint, cycles) or n % 50 == 0:
                now = tree.memory()
                marks[n] = (now.pss / MB, now.rss / MB)
                print(
                    f"after {n:4d} steady cycles: pss {now.pss / MB:6.1f} MB, rss "
                    f"{now.rss / MB:6.1f} MB ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
        contender.close()
    first, last = marks[checkpoint][0], marks[cycles][0]
    growth = (last - first) / first
    print(
        f"{'PASS' if growth <= 0.10 else 'FAIL'}  growth from {checkpoint} to {cycles} "
        f"cycles <= 10 %: {first:.1f} -> {last:.1f} MB ({growth:+.1%})"
    )
    print(
        f"{'PASS' if peak_pss < 250 else 'FAIL'}  memory < 250 MB with {feeds} feeds "
        f"(peak PSS of the tree): {peak_pss:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--only", default="newswatch,feedparser,newsboat")
    parser.add_argument("--memory", action="store_true", help="the memory-over-time mode")
    parser.add_argument("--cycles", type=int, default=500, help="steady cycles with --memory")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the steady cycle")
    args = parser.parse_args()
    if args.memory:
        memory(args.feeds, args.cycles)
    else:
        compare(args.feeds, args.only.split(","), max(1, args.repeats))


if __name__ == "__main__":
    main()
