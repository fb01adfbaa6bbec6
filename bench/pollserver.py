"""The feeds bench/poll.py polls, and the process that serves them on 127.0.0.1.

The server runs in a process of its own, so that its CPU time is not counted as any
contender's. It is tests/feedserver.py's FeedServer (ETag, If-None-Match and 304
included), driven over a pipe: `serve` answers "state" (switch every feed to the
"base" or the "typical" content and return what was answered since the last call),
"counts" and "stop".
"""

from __future__ import annotations

import random
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.feedserver import Entry, FeedServer  # noqa: E402

ENTRIES = 50
CHANGED_EVERY = 10  # "typical": one feed in ten has new entries
NEW_ENTRIES = 2
ON_TOPIC_SHARE = 0.25

WORDS = (  # noqa: SIM905 - a sentence of words reads better than a list of strings
    "government minister said report officials week talks border market city court "
    "president election police plan budget energy prices trade military agency union "
    "council water school health storm farmers company shares bank rates inflation "
    "workers strike hospital rail airport villagers harvest museum festival league"
).split()
# Phrases the bench's topics match; a quarter of the entries carry one of them.
ON_TOPIC = (
    "North Korean troops were seen near Kursk as Russia deepened its ties with Pyongyang",
    "Energy prices rose again this winter as the grid operator warned of shortages",
    "Climate change made the storm worse, the farmers union said after the floods",
)
TOPICS = {
    "dprk-russia": '("North Korea" OR "North Korean" OR DPRK) AND (Russia OR Ukraine OR Kursk)',
    "energy": '"energy prices" AND NOT football',
    "climate": '"climate change" OR (storm AND "farmers union")',
}
_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)


def feed_path(feed: int) -> str:
    """Return the path feed number `feed` is served at."""
    return f"/feeds/{feed}.xml"


def _words(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < chars:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def make_entry(base_url: str, feed: int, number: int) -> Entry:
    """Return entry `number` of feed `feed`: an 80-character title, 400 characters of HTML."""
    rng = random.Random(feed * 100_003 + number)
    title = _words(rng, 76).capitalize() + f" {number}"
    lead = rng.choice(ON_TOPIC) if rng.random() < ON_TOPIC_SHARE else _words(rng, 80)
    link = f"{base_url}/news/{feed}/{number}"
    description = (
        f"<p>{lead}. {_words(rng, 120).capitalize()}.</p>"
        f'<p><img src="{base_url}/img/{feed}-{number}.jpg" alt="photo"> '
        f"<b>{_words(rng, 40).capitalize()}</b>, {_words(rng, 60)}. "
        f'<a href="{link}">Read more</a></p>'
    )
    return Entry(
        guid=link,
        title=title,
        link=link,
        summary=description,  # escaped into <description>, as RSS carries HTML
        published=_EPOCH + timedelta(hours=feed % 7 + number),
        author=f"Reporter {number % 9}",
    )


def feed_entries(base_url: str, feed: int, state: str) -> list[Entry]:
    """Return the feed's entries, newest first, in the "base" or the "typical" state."""
    new = NEW_ENTRIES if state == "typical" and feed % CHANGED_EVERY == 0 else 0
    newest = ENTRIES - 1 + new
    return [make_entry(base_url, feed, n) for n in range(newest, newest - ENTRIES, -1)]


def changed_feeds(feeds: int) -> int:
    """Return how many feeds have new entries in the "typical" state."""
    return len(range(0, feeds, CHANGED_EVERY))


def serve(conn: Connection, feeds: int) -> None:
    """Serve `feeds` feeds until told to stop; answer the commands sent on `conn`."""
    with FeedServer() as server:
        bodies = {
            state: {
                n: feed_entries(server.base_url, n, state)
                for n in range(feeds)
                if state == "base" or n % CHANGED_EVERY == 0
            }
            for state in ("base", "typical")
        }
        current = ""
        conn.send(server.base_url)
        while True:
            command, *args = conn.recv()
            answered = Counter(server.responses())
            server.clear_log()
            if command == "stop":
                conn.send(dict(answered))
                return
            if command == "state" and args[0] != current:
                current = args[0]
                for n, entries in bodies[current].items():
                    server.set_feed(feed_path(n), entries, title=f"Feed {n}", ttl=None)
            conn.send(dict(answered))
