"""Benchmark: extraction quality and speed on pages whose main text is known.

The pages are tests/data/pages/ (three hand-written ones) and
tests/data/pages/generated/ (36 from bench/make_pages.py: six site templates). Each is
run through `crawler.extraction.extract_page`; pages reached through a feed are then
combined with their feed entry as the FeedSpider does (`crawler.spiders.feeds._item`).

Reported: precision, recall and F1 of the body text by token overlap (micro-averaged
over all tokens, and the worst page), title exact match, publication date on the right
day (UTC), and pages per second (one process). Targets: body F1 >= 0.95, title >= 0.85,
date >= 0.90.

    .venv/bin/python bench/extraction.py [--repeat 3] [-v]

Figures only: nothing here asserts a quality.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.extraction import ExtractedPage, extract_page  # noqa: E402
from crawler.feeds import FeedEntry  # noqa: E402
from crawler.spiders.feeds import _item  # noqa: E402
from storage.records import SourceState  # noqa: E402

PAGES = ROOT / "tests" / "data" / "pages"
TARGETS = {"f1": 0.95, "title": 0.85, "date": 0.90}
_TOKEN = re.compile(r"\w+")
_SOURCE = SourceState(1, "bench", "feed", "https://bench.example/rss", None, None, 1800, 0)


@dataclass(frozen=True)
class Case:
    name: str
    html: str
    url: str
    text: str
    title: str
    published: datetime
    feed: dict[str, str] | None


def cases() -> list[Case]:
    found = []
    for index in (PAGES / "index.json", PAGES / "generated" / "index.json"):
        for item in json.loads(index.read_text(encoding="utf-8")):
            found.append(
                Case(
                    name=item["page"],
                    html=(PAGES / item["page"]).read_text(encoding="utf-8"),
                    url=item.get("url") or f"https://fetched.example/{item['page']}",
                    text=(PAGES / item["text"]).read_text(encoding="utf-8"),
                    title=item["title"],
                    published=datetime.fromisoformat(item["published"]),
                    feed=item.get("feed"),
                )
            )
    return found


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.casefold()))


def final(case: Case, page: ExtractedPage | None) -> tuple[str, str, datetime | None]:
    """Return the text, title and date newswatch would store for this page."""
    if case.feed is not None:
        entry = FeedEntry(
            key=case.url,
            guid=None,
            link=case.url,
            title=case.feed["title"],
            summary="",
            content="",
            authors=(),
            published_at=datetime.fromisoformat(case.feed["published"]),
        )
        item = _item(_SOURCE, entry, "en", page)
        return item.text, item.title, item.published_at
    if page is None:
        return "", "", None
    return page.text, page.title, page.published_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timing runs over all pages")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    all_cases = cases()
    extract_page(all_cases[0].html, all_cases[0].url)  # warm up imports and caches
    started = time.perf_counter()
    for _ in range(args.repeat):
        pages = [extract_page(c.html, c.url) for c in all_cases]
    elapsed = time.perf_counter() - started
    overlap = extracted = expected = 0
    worst = (1.0, "")
    titles = dates = 0
    for case, page in zip(all_cases, pages, strict=True):
        text, title, published = final(case, page)
        got, want = tokens(text), tokens(case.text)
        common = sum((got & want).values())
        overlap += common
        extracted += sum(got.values())
        expected += sum(want.values())
        p = common / max(sum(got.values()), 1)
        r = common / max(sum(want.values()), 1)
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        worst = min(worst, (f1, case.name))
        title_ok = title == case.title
        date_ok = published is not None and published.date() == case.published.date()
        titles += title_ok
        dates += date_ok
        if args.verbose and (f1 < 0.95 or not title_ok or not date_ok):
            print(f"  {case.name}: f1={f1:.3f} title={title!r} date={published}")
    n = len(all_cases)
    precision = overlap / max(extracted, 1)
    recall = overlap / max(expected, 1)
    f1 = 2 * precision * recall / (precision + recall)
    rows = [
        ("pages", f"{n}", ""),
        ("body precision", f"{precision:.3f}", ""),
        ("body recall", f"{recall:.3f}", ""),
        ("body F1", f"{f1:.3f}", f">= {TARGETS['f1']}"),
        ("worst page F1", f"{worst[0]:.3f}", worst[1]),
        ("title exact", f"{titles / n:.3f}", f">= {TARGETS['title']}"),
        ("date right day", f"{dates / n:.3f}", f">= {TARGETS['date']}"),
        ("pages per second", f"{n * args.repeat / elapsed:.1f}", "one process"),
    ]
    for label, value, note in rows:
        print(f"{label:<18} {value:>8}  {note}")


if __name__ == "__main__":
    main()
