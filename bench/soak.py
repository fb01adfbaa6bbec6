"""Soak: the real daemon, for a long run, against a server that misbehaves in every way.

`newswatch run` runs in a subprocess (tick 1 s, feed intervals of 2 s) against a
`tests.feedserver.FeedServer` on 127.0.0.1 in this process. The server mixes:

- healthy feeds whose entries grow over time (one in five off-topic, two feeds with
  `full_text`), each of which now and then answers one request with a fault (500, 503
  with Retry-After, a reset, broken XML, a slow answer, HTML instead of the feed), and
  whose article pages fail now and then too;
- a slow feed that answers after two seconds (within the timeout);
- feeds that always fail: 500, 503 + Retry-After, 404, 410, a hang past the timeout, a
  reset mid-body, a truncated body (broken XML), a redirect loop, a redirect chain over
  the limit, a body over `network.max_bytes`, a gzip bomb, and an HTML page.

At the end the growth stops, the transient faults are cleared, the daemon gets until
every offered on-topic entry is stored (or a grace period) and is stopped with SIGTERM.
It prints the articles expected and stored (lost, duplicated, unexpected), the feed
errors per kind (from the daemon's log) and per source (from the sources table), and the
daemon's resident memory at the start and the end, as a ratio.

    .venv/bin/python bench/soak.py [--duration 30m] [--feeds 12] [--seed 7] [--keep]

Figures only: nothing here asserts anything. Exit status 1 when an article was lost or
duplicated, or the daemon did not stop cleanly.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler.durations import parse_duration  # noqa: E402
from tests.daemon_helpers import (  # noqa: E402
    Daemon,
    FeedSpec,
    Snapshot,
    snapshot,
    sqlite_url,
    try_snapshot,
    write_config,
)
from tests.feedserver import Entry, FeedServer  # noqa: E402

MAX_BYTES = 1024 * 1024
TIMEOUT_S = 3
WINDOW = 60  # entries a healthy feed lists; at one per 6 s or more, each stays 6 min
GRACE_S = 120.0
SAMPLE_S = 10.0

# Healthy feeds' occasional faults: each for one request, then the feed is fine again.
TRANSIENT_FAULTS = ("500", "503", "reset", "malformed", "slow", "notfeed")
PAGE_FAULTS = ("500", "reset", "slow")
# Feeds that never work: path -> how they fail.
BROKEN_FEEDS = (
    "500",
    "503",
    "404",
    "410",
    "hang",
    "reset",
    "truncated",
    "redirect-loop",
    "redirect-chain",
    "oversized",
    "gzip-bomb",
    "html",
)
_WORDS = [
    "harbour",
    "council",
    "ferry",
    "budget",
    "minister",
    "river",
    "bridge",
    "strike",
    "vote",
    "tariff",
    "school",
    "grain",
    "port",
    "winter",
    "union",
    "court",
    "report",
    "treaty",
    "border",
    "energy",
    "pipeline",
    "drought",
    "market",
    "police",
    "rail",
    "museum",
    "forest",
    "storm",
    "vaccine",
    "election",
    "festival",
    "coast",
    "mayor",
    "factory",
]


@dataclass
class GrowingFeed:
    """A healthy feed: its entries so far, and when the next one is due."""

    name: str
    path: str
    kind: str  # rss or atom
    full_text: bool
    every_s: float
    entries: list[Entry] = field(default_factory=list)
    on_topic: set[str] = field(default_factory=set)  # titles that must be stored
    off_topic: set[str] = field(default_factory=set)  # titles that must not be
    next_at: float = 0.0


class World:
    """The server's content over time: growing feeds, broken feeds, transient faults."""

    def __init__(self, server: FeedServer, feeds: int, rng: random.Random) -> None:
        self.server = server
        self.rng = rng
        self.growing = [
            GrowingFeed(
                name=f"healthy-{n}",
                path=f"/healthy/{n}.xml",
                kind="atom" if n % 2 else "rss",
                full_text=n < 2,
                every_s=rng.uniform(6, 20),
            )
            for n in range(feeds)
        ]
        self.faults_set: Counter[str] = Counter()
        self.offered_broken: set[str] = set()  # titles broken feeds hold (never expected)
        self._count = 0

    # -- set-up ------------------------------------------------------------------------

    def specs(self) -> list[FeedSpec]:
        """Return the config's feeds (after `build`, which adds the slow one)."""
        healthy = [FeedSpec(f.name, f.path, "2s", f.full_text) for f in self.growing]
        broken = [FeedSpec(f"broken-{kind}", f"/broken/{kind}.xml", "2s") for kind in BROKEN_FEEDS]
        return [*healthy, *broken]

    def build(self) -> None:
        now = time.monotonic()
        for feed in self.growing:
            for _ in range(3):
                self._grow(feed)
            feed.next_at = now + feed.every_s
        slow = GrowingFeed("slow", "/slow.xml", "rss", False, 10.0, next_at=now + 10)
        for _ in range(3):
            self._grow(slow)
        self.growing.append(slow)
        self.server.set_fault("/slow.xml", "hang", delay=2.0)
        for kind in BROKEN_FEEDS:
            self._break(f"/broken/{kind}.xml", kind)

    def _break(self, path: str, kind: str) -> None:
        s = self.server
        entries = [self._entry(f"broken-{kind}", True) for _ in range(3)]
        self.offered_broken.update(e.title for e in entries)
        s.set_feed(path, entries)
        if kind in ("500", "404", "410", "reset", "hang"):
            s.set_fault(path, kind)  # type: ignore[arg-type]
        elif kind == "503":
            s.set_fault(path, "503", retry_after=5)
        elif kind == "truncated":
            s.set_fault(path, "malformed")
        elif kind == "redirect-loop":
            s.set_fault(path, "redirect", to=path)
        elif kind == "redirect-chain":
            hops = [f"/broken/chain/{n}" for n in range(15)]
            s.set_fault(path, "redirect", to=hops[0])
            for here, there in zip(hops, [*hops[1:], "/broken/chain/end"], strict=True):
                s.set_fault(here, "redirect", to=there, status=301)
        elif kind == "oversized":
            s.set_fault(path, "huge", size=2 * MAX_BYTES)
        elif kind == "gzip-bomb":
            s.set_fault(path, "gzip", size=8 * MAX_BYTES)
        elif kind == "html":
            s.set_fault(path, "notfeed")

    # -- over time ---------------------------------------------------------------------

    def _entry(self, feed: str, on_topic: bool) -> Entry:
        self._count += 1
        n = self._count
        words = " ".join(self.rng.choice(_WORDS) for _ in range(30))
        if on_topic:
            title = f"Report {n}: North Korean troops in Russia ({feed})"
        else:
            title = f"Report {n}: local {self.rng.choice(_WORDS)} news ({feed})"
        link = self.server.url(f"/pages/{feed}/{n}")
        summary = f"Story {n} of {feed}. {words}."
        return Entry(f"{feed}-{n}", title, link, summary, datetime.now(UTC))

    def _grow(self, feed: GrowingFeed) -> None:
        on_topic = len(feed.entries) % 5 != 4
        entry = self._entry(feed.name, on_topic)
        (feed.on_topic if on_topic else feed.off_topic).add(entry.title)
        if feed.full_text and entry.link is not None:
            path = entry.link.removeprefix(self.server.base_url)
            text = " ".join(self.rng.choice(_WORDS) for _ in range(120))
            self.server.set_page(
                path,
                f"<html><head><title>{entry.title}</title></head><body><article>"
                f"<h1>{entry.title}</h1><p>{entry.summary}</p><p>{text}.</p>"
                "</article></body></html>",
            )
        feed.entries.insert(0, entry)
        self.server.set_feed(feed.path, feed.entries[:WINDOW], kind=feed.kind, title=feed.name)  # type: ignore[arg-type]

    def step(self) -> None:
        """Add the entries now due, and now and then make a healthy feed or page fail."""
        now = time.monotonic()
        for feed in self.growing:
            if now < feed.next_at:
                continue
            self._grow(feed)
            feed.next_at = now + feed.every_s
            if feed.name != "slow" and self.rng.random() < 0.25:
                self._transient(feed.path, self.rng.choice(TRANSIENT_FAULTS))
            if feed.full_text and self.rng.random() < 0.3:
                page = feed.entries[0].link
                if page is not None:
                    path = page.removeprefix(self.server.base_url)
                    self._transient(path, self.rng.choice(PAGE_FAULTS))

    def _transient(self, path: str, kind: str) -> None:
        self.faults_set[kind] += 1
        if kind == "slow":
            self.server.set_fault(path, "hang", delay=2.0, times=1)
        elif kind == "503":
            self.server.set_fault(path, "503", retry_after=3, times=1)
        else:
            self.server.set_fault(path, kind, times=1)  # type: ignore[arg-type]

    def settle(self) -> None:
        """Stop misbehaving on the healthy feeds and pages (the broken ones stay broken)."""
        for feed in self.growing:
            if feed.name != "slow":
                self.server.clear_fault(feed.path)
            for entry in feed.entries:
                if entry.link is not None:
                    self.server.clear_fault(entry.link.removeprefix(self.server.base_url))

    def expected(self) -> set[str]:
        return {title for feed in self.growing for title in feed.on_topic}

    def allowed(self) -> set[str]:
        """Return the titles that may be stored: on-topic ones, healthy or not."""
        return self.expected() | self.offered_broken


# --------------------------------------------------------------------------------------
# Measuring


def rss_kib(pid: int) -> int:
    """Return a process's resident set size in KiB (0 once it has gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def group_rss_kib(pgid: int) -> int:
    """Return the summed RSS of every process in a process group: daemon and workers."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:
            total += rss_kib(int(stat.parent.name))
    return total


_FAILED = re.compile(r"feed (?:failed|malformed) source=(\S+) .*?error=(.*)$")


def error_kinds(log: str) -> tuple[Counter[str], Counter[str]]:
    """Count the feed failures in the daemon's log: per kind of error, and per source."""
    kinds: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for line in log.splitlines():
        found = _FAILED.search(line)
        if found is None:
            continue
        source, error = found.groups()
        # "HTTP 503, retry after 5s" and "malformed feed: line 9, ..." vary in detail.
        kind = re.sub(r"retry after \d+s", "retry after Ns", error)
        kind = re.sub(r"(malformed feed|not a feed)(: ).*", r"\1", kind)
        kinds[kind] += 1
        sources[source] += 1
    return kinds, sources


@dataclass(frozen=True)
class Outcome:
    expected: int
    stored_expected: int
    lost: list[str]
    duplicated: int  # stored articles beyond the first of each title (titles are unique)
    salvaged: int  # on-topic entries read from the broken feeds' truncated bodies
    unexpected: list[str]  # stored, but never offered on-topic
    articles: int


def outcome(world: World, stored: Snapshot) -> Outcome:
    expected = world.expected()
    titles = Counter(a.title for a in stored.articles)
    allowed = world.allowed()
    return Outcome(
        expected=len(expected),
        stored_expected=len(expected & set(titles)),
        lost=sorted(expected - set(titles)),
        duplicated=sum(n - 1 for n in titles.values()),
        salvaged=len(world.offered_broken & set(titles)),
        unexpected=sorted(t for t in titles if t not in allowed),
        articles=len(stored.articles),
    )


# --------------------------------------------------------------------------------------
# The run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", default="30m", help="how long entries grow (30m)")
    parser.add_argument("--feeds", type=int, default=12, help="healthy growing feeds (12)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    parser.add_argument("--keep", action="store_true", help="keep the run's directory")
    args = parser.parse_args(argv)
    duration = parse_duration(args.duration)
    rng = random.Random(args.seed)

    workdir = Path(tempfile.mkdtemp(prefix="newswatch-soak-"))
    with FeedServer() as server:
        world = World(server, args.feeds, rng)
        world.build()
        config = write_config(
            workdir,
            server,
            world.specs(),
            tick="1s",
            timeout=f"{TIMEOUT_S}s",
            per_host=4,
            max_bytes=MAX_BYTES,
            max_interval="1m",
        )
        url = sqlite_url(config)
        log_path = workdir / "daemon.log"
        print(f"soak: {duration}s, {args.feeds} growing feeds, seed {args.seed}, in {workdir}")
        daemon = Daemon(config, log_path).start()
        try:
            status = _drive(world, daemon, url, duration)
        finally:
            daemon.kill()
        log = daemon.stderr()
    stored = snapshot(url)
    return _report(world, stored, log, status, workdir, args.keep)


@dataclass
class _Memory:
    start: int = 0
    start_group: int = 0
    end: int = 0
    end_group: int = 0
    peak: int = 0


MEMORY = _Memory()


def _drive(world: World, daemon: Daemon, url: str, duration: int) -> int | None:
    """Grow the feeds for `duration`, let the daemon catch up, stop it; return its status."""
    started = time.monotonic()
    last_sample = 0.0
    while time.monotonic() - started < duration:
        if daemon.returncode is not None:
            print(f"soak: the daemon exited early ({daemon.returncode})")
            return daemon.returncode
        world.step()
        now = time.monotonic()
        if now - last_sample >= SAMPLE_S:
            last_sample = now
            rss = rss_kib(daemon.pid)
            MEMORY.peak = max(MEMORY.peak, rss)
            if not MEMORY.start and now - started >= 60:
                # After the first minute: imports done, the pool's workers started.
                MEMORY.start, MEMORY.start_group = rss, group_rss_kib(daemon.pid)
            if int(now - started) % 60 < SAMPLE_S:
                _progress(world, url, now - started, rss)
        time.sleep(0.5)
    world.settle()
    expected = world.expected()
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and daemon.returncode is None:
        shot = try_snapshot(url)
        if shot is not None and expected <= {a.title for a in shot.articles}:
            break
        time.sleep(1)
    MEMORY.end, MEMORY.end_group = rss_kib(daemon.pid), group_rss_kib(daemon.pid)
    MEMORY.peak = max(MEMORY.peak, MEMORY.end)
    if daemon.returncode is not None:
        return daemon.returncode
    daemon.send(signal.SIGTERM)
    try:
        return daemon.wait(60)
    except AssertionError:
        return None


def _progress(world: World, url: str, elapsed: float, rss: int) -> None:
    shot = try_snapshot(url)
    stored = len(shot.articles) if shot is not None else 0
    print(
        f"  {elapsed / 60:5.1f} min: expected {len(world.expected())}, stored {stored}, "
        f"daemon RSS {rss / 1024:.0f} MiB",
        flush=True,
    )


def _report(
    world: World, stored: Snapshot, log: str, status: int | None, workdir: Path, keep: bool
) -> int:
    result = outcome(world, stored)
    kinds, per_source = error_kinds(log)
    print()
    print(f"daemon exit status: {status} (0 is a clean stop)")
    print(f"tracebacks in the log: {log.count('Traceback')}")
    print(
        f"articles: expected {result.expected}, stored {result.stored_expected} of them "
        f"({result.articles} in all, {result.salvaged} salvaged from truncated feeds); "
        f"lost {len(result.lost)}, duplicated {result.duplicated}, "
        f"unexpected {len(result.unexpected)}"
    )
    for title in result.lost[:10]:
        print(f"  lost: {title}")
    for title in result.unexpected[:10]:
        print(f"  unexpected: {title!r}")
    print("faults injected into healthy feeds and pages (one request each):")
    for kind, count in sorted(world.faults_set.items()):
        print(f"  {kind:<10} {count}")
    print("feed errors per kind, from the daemon's log:")
    for kind, count in kinds.most_common():
        print(f"  {count:6d}  {kind}")
    print("sources with errors, from the sources table (errors logged / last error):")
    for name, row in sorted(stored.sources.items()):
        if row.last_error or per_source[name]:
            print(
                f"  {name:<22} logged {per_source[name]:4d}  now {row.error_count:3d} in a row  "
                f"status {row.last_status}  {row.last_error or ''}"
            )
    ratio = MEMORY.end / MEMORY.start if MEMORY.start else float("nan")
    print(
        f"daemon RSS: start {MEMORY.start / 1024:.1f} MiB, end {MEMORY.end / 1024:.1f} MiB "
        f"(end/start {ratio:.2f}), peak {MEMORY.peak / 1024:.1f} MiB; with its workers: "
        f"start {MEMORY.start_group / 1024:.1f} MiB, end {MEMORY.end_group / 1024:.1f} MiB"
    )
    if keep:
        print(f"kept: {workdir}")
    else:
        for path in sorted(workdir.rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        workdir.rmdir()
    failed = result.lost or result.duplicated or result.unexpected or status != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
