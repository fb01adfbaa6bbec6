"""Write the generated extraction pages: tests/data/pages/generated/.

Six site templates (a blog, a newspaper, a magazine, a local paper, a wire service and
a live blog reached through a feed) times six articles each. Every page wraps known
article text in realistic chrome (menus, cookie banners, subscription blurbs, comments,
related links, footers), and states its title and date the way such sites do, in
places that disagree: JSON-LD, og:title, <h1>, <title> with the site's name, meta tags,
the URL, or only the feed. `index.json` records what extraction should find.

    .venv/bin/python bench/make_pages.py

The output is deterministic; bench/extraction.py reads it.
"""

from __future__ import annotations

import html
import json
import random
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.newssite import _SENTENCES  # noqa: E402

OUT = ROOT / "tests" / "data" / "pages" / "generated"
SUBJECTS = (
    ("the bridge closure", "Eastbrook", "Bridge closure extended by six weeks"),
    ("the water tariff", "Millfield", "Water tariff rise approved despite protests"),
    ("the new clinic", "Harwick", "New clinic opens its doors to first patients"),
    ("the rail timetable", "Stonebury", "Rail timetable overhaul delayed again"),
    ("the museum loan", "Kingsport", "Museum secures loan of rare manuscripts"),
    ("the housing plan", "Larchmont", "Housing plan for the old docks unveiled"),
)
COMMENTS = (
    "Great article, thanks for covering this.",
    "I have lived here for forty years and never seen anything like it.",
    "Why does nobody ask who is paying for all of this?",
)
E = html.escape


def paragraphs(seed: str, subject: str, place: str, day: str, count: int) -> list[str]:
    rng = random.Random(seed)
    pool = list(_SENTENCES)
    rng.shuffle(pool)
    out = []
    for i in range(count):
        picked = [pool[(i * 3 + k) % len(pool)] for k in range(3 + (i % 2))]
        out.append(" ".join(s.format(subject=subject, place=place, day=day) for s in picked))
    return out


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def page(template: int, number: int) -> tuple[str, dict[str, object]]:
    subject, place, headline = SUBJECTS[number]
    site = (
        "Riverside Notes",
        "The Daily Ledger",
        "Compass Magazine",
        "Harwick Gazette",
        "Regional Wire",
        "Coastline Live",
    )[template]
    published = datetime(2024, 3 + template, 4 + number * 3, 6 + number, 15, tzinfo=UTC)
    day = published.strftime("%A")
    body = paragraphs(f"{template}-{number}", subject, place, day, 5 + (number % 3))
    slug = headline.lower().replace(" ", "-")
    url = f"https://www.{site.lower().replace(' ', '')}.example/{slug}"
    feed: dict[str, str] | None = None
    head: list[str] = ['<meta charset="utf-8">']
    kicker = ""
    if template == 0:  # a blog: en dash suffix, meta date, no JSON-LD
        head.append(f"<title>{E(headline)} \u2013 {site}</title>")
        head.append(f'<meta property="article:published_time" content="{iso(published)}">')
        head.append(f'<meta property="og:site_name" content="{site}">')
    elif template == 1:  # a newspaper: JSON-LD, <title> with section and name
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": headline,
            "datePublished": iso(published),
            "author": [{"@type": "Person", "name": "Tom Reyes"}],
        }
        head.append(f"<title>{E(headline)} - Local - {site}</title>")
        head.append(f'<script type="application/ld+json">{json.dumps(ld)}</script>')
    elif template == 2:  # a magazine: og:title is a social variant, JSON-LD in a @graph
        graph = {
            "@context": "https://schema.org",
            "@graph": [
                {"@type": "WebSite", "name": site},
                {"@type": "Article", "headline": headline, "datePublished": iso(published)},
            ],
        }
        head.append(f"<title>{E(headline)} | {site}</title>")
        head.append(f'<meta property="og:title" content="{E(headline)} (photos)">')
        head.append(f'<script type="application/ld+json">{json.dumps(graph)}</script>')
    elif template == 3:  # a local paper: site name first, the date only in the URL
        head.append(f"<title>{site}: {E(headline)}</title>")
        url = f"https://www.harwickgazette.example/{published:%Y/%m/%d}/{slug}"
    elif template == 4:  # a wire service: bare <title>, pubdate meta with an offset
        local = published.astimezone(timezone_plus(2))
        head.append(f"<title>{E(headline)}</title>")
        head.append(f'<meta name="pubdate" content="{local.isoformat()}">')
    else:  # a live blog reached through a feed: the page's own title has a kicker
        kicker = "LIVE: "
        head.append(f"<title>{kicker}{E(headline)} | {site}</title>")
        feed = {"title": headline, "published": iso(published)}
    h1 = f"<h1>{kicker}{E(headline)}</h1>"
    byline = f'<p class="byline">By Tom Reyes, {published:%d %b %Y}</p>'
    text = "".join(f"<p>{E(p)}</p>" for p in body)
    chrome_top = (
        '<div id="cookie-notice">This site uses cookies. <button>Accept all</button></div>'
        f'<header><a class="logo" href="/">{site}</a><nav><ul><li><a href="/news">News</a></li>'
        '<li><a href="/sport">Sport</a></li><li><a href="/opinion">Opinion</a></li>'
        '<li><a href="/subscribe">Subscribe</a></li></ul></nav></header>'
    )
    subscribe = (
        '<div class="paywall-promo"><h4>Enjoying our journalism?</h4><p>Subscribe today '
        "for unlimited access and support independent local reporting.</p></div>"
    )
    related = (
        '<aside class="related"><h4>Read next</h4><ul>'
        '<li><a href="/a">Council tax bills to rise by five per cent</a></li>'
        '<li><a href="/b">Weekend road closures you need to know about</a></li>'
        '<li><a href="/c">Ten of the best walks on the coast</a></li></ul></aside>'
    )
    comments = (
        '<section class="comments" id="comments"><h4>3 comments</h4>'
        + "".join(
            f'<div class="comment"><span class="user">reader{i}</span><p>{c}</p></div>'
            for i, c in enumerate(COMMENTS)
        )
        + "</section>"
    )
    footer = (
        f'<footer><p>\u00a9 2024 {site}. All rights reserved.</p><a href="/privacy">Privacy</a>'
        ' <a href="/terms">Terms</a></footer>'
    )
    layouts = (
        f'<div class="wrap"><article class="post">{h1}{byline}<div class="entry">{text}</div>'
        f'</article>{comments}<div class="sidebar">{related}</div></div>',
        f'<main><div class="article-header">{h1}{byline}</div><div class="article-body">{text}'
        f"{subscribe}</div>{related}</main>",
        f'<div id="page"><article>{h1}<section class="content">{text}</section></article>'
        f"{subscribe}{related}</div>",
        f'<div class="story">{h1}{byline}<div class="story-text">{text}</div>{comments}</div>'
        f"{related}",
        f'<div class="main-col"><h1>{E(headline)}</h1><div class="dateline">{place.upper()} '
        f'(Regional Wire)</div><div class="body">{text}</div></div>{related}',
        f'<div class="liveblog">{h1}<div class="posts">{text}</div>{subscribe}</div>{related}',
    )
    document = (
        f'<!DOCTYPE html><html lang="en"><head>{"".join(head)}'
        f'<link rel="canonical" href="{url}"></head><body>{chrome_top}{layouts[template]}'
        f"{footer}</body></html>"
    )
    name = f"t{template}_{number}"
    entry: dict[str, object] = {
        "page": f"generated/{name}.html",
        "text": f"generated/{name}.txt",
        "title": headline,
        "published": published.isoformat(),
        "url": url,
        "template": template,
        "feed": feed,
    }
    (OUT / f"{name}.txt").write_text("\n".join(body) + "\n", encoding="utf-8")
    return document, entry


def timezone_plus(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    index = []
    for template in range(6):
        for number in range(6):
            document, entry = page(template, number)
            (OUT / f"t{template}_{number}.html").write_text(document, encoding="utf-8")
            index.append(entry)
    (OUT / "index.json").write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {len(index)} pages to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
