"""A small news site for site-spider tests and the extraction benchmark.

`article_page` renders an article with realistic chrome around known text, in one of a
few templates; `NewsSite` serves a whole site (robots.txt, a sitemap index, a gzipped
sitemap, a Google News sitemap, listing pages, articles and pages to ignore) on a
`tests.feedserver.FeedServer`.
"""

from __future__ import annotations

import gzip
import html
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.feedserver import FeedServer

SITE_NAME = "The Harbour Herald"
BOILERPLATE = (
    "We use cookies to improve your experience",
    "Subscribe to The Harbour Herald",
    "Most read this week",
    "Join the conversation",
    "All rights reserved",
)

_SENTENCES = (
    "Officials from {place} confirmed on {day} that the talks on {subject} would continue.",
    "The decision on {subject} followed weeks of pressure from residents of {place}.",
    "Critics in {place} said the plan on {subject} left too many questions unanswered.",
    "A spokesperson declined to say when the report on {subject} would be published.",
    "Analysts expect the debate over {subject} to shape the next budget in {place}.",
    "Local businesses in {place} have already begun to prepare for the change.",
    "The council will hold a public meeting on {subject} at the town hall on {day}.",
    "Figures released on {day} showed a sharp rise in demand across {place}.",
    "Union representatives warned that {subject} could cost dozens of jobs by spring.",
    "Fishermen gathered on the quay at dawn to hear the first details of {subject}.",
    "The harbour master told reporters that safety had never been compromised.",
    "Ticket prices have risen twice this year, and commuters are running out of patience.",
    "A petition against {subject} has gathered more than four thousand signatures.",
    "Engineers surveyed the site for three days before submitting their findings.",
    "The regional government has promised an independent review of {subject}.",
    "Older residents remember a similar dispute in {place} during the nineteen-seventies.",
    "Schools in {place} were told to expect disruption for at least a fortnight.",
    "Insurance companies are watching {subject} closely, according to two brokers.",
    "The opposition called for a vote on {subject} before the summer recess.",
    "Volunteers have offered free transport to patients with hospital appointments.",
    "Weather forecasts suggest storms could delay any work until the autumn.",
    "A consultant's report, seen by this newspaper, puts the total cost far higher.",
    "Shopkeepers on the seafront say trade has already fallen by a third.",
    "The minister is expected to visit {place} next week to discuss {subject}.",
)


@dataclass(frozen=True)
class Article:
    """An article with known main text."""

    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    author: str = "Maria Lindqvist"
    language: str = "en"

    @property
    def text(self) -> str:
        return "\n".join(self.paragraphs)


def story(path: str, title: str, subject: str, place: str, published: datetime) -> Article:
    """Return an English article of five paragraphs about `subject` in `place`.

    Each story draws its own sentences, so two stories are not near duplicates.
    """
    day = published.strftime("%A")
    rng = random.Random(title)
    picked = rng.sample(_SENTENCES, 15)
    paragraphs = tuple(
        " ".join(s.format(place=place, subject=subject, day=day) for s in picked[i : i + 3])
        for i in range(0, 15, 3)
    )
    return Article(path, title, paragraphs, published)


def article_page(
    article: Article, base_url: str, *, template: int = 0, charset_meta: str | None = "utf-8"
) -> str:
    """Render an article page in one of three templates, with chrome around the text."""
    e = html.escape
    when = article.published.astimezone(UTC).isoformat().replace("+00:00", "Z")
    canonical = base_url.rstrip("/") + article.path
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": article.title,
            "datePublished": when,
            "author": {"@type": "Person", "name": article.author},
            "publisher": {"@type": "Organization", "name": SITE_NAME},
            "inLanguage": article.language,
        },
        ensure_ascii=False,
    )
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    head = (
        f"<head>{meta}<title>{e(article.title)} | {SITE_NAME}</title>"
        f'<link rel="canonical" href="{e(canonical)}">'
        f'<meta property="og:title" content="{e(article.title)}">'
        f'<meta property="og:site_name" content="{SITE_NAME}">'
        f'<meta property="article:published_time" content="{when}">'
        f'<script type="application/ld+json">{ld}</script></head>'
    )
    cookie = f'<div class="cookie-banner"><p>{BOILERPLATE[0]}. <a href="/privacy">OK</a></p></div>'
    nav = (
        '<header><nav><a href="/">Home</a> <a href="/world/">World</a> '
        '<a href="/sport/">Sport</a> <a href="/about">About us</a></nav></header>'
    )
    body = "".join(f"<p>{e(p)}</p>" for p in article.paragraphs)
    byline = (
        f'<div class="byline">By <a href="/authors/ml" rel="author">{e(article.author)}</a> '
        f'<time datetime="{when}">{article.published:%d %B %Y}</time></div>'
    )
    subscribe = (
        f'<aside class="subscribe"><h3>{BOILERPLATE[1]}</h3>'
        "<p>Get every story first, from just 1 a week.</p></aside>"
    )
    related = (
        f'<aside class="related"><h3>{BOILERPLATE[2]}</h3><ul>'
        '<li><a href="/news/ferry-timetable">Ferry timetable changes again</a></li>'
        '<li><a href="/news/harbour-lights">Harbour lights switched on</a></li></ul></aside>'
    )
    comments = (
        f'<section id="comments" class="comments"><h3>{BOILERPLATE[3]}</h3>'
        "<p>Please log in to comment.</p></section>"
    )
    footer = f"<footer><p>Copyright 2024 {SITE_NAME}. {BOILERPLATE[4]}.</p></footer>"
    h1 = f"<h1>{e(article.title)}</h1>"
    if template == 1:
        main = (
            f'<main><div class="story"><div class="story-head">{h1}{byline}</div>'
            f'<div class="story-body">{body}</div>{subscribe}</div>{related}</main>{comments}'
        )
    elif template == 2:
        main = (
            f'<div id="content"><div class="col-main"><article class="post">{h1}'
            f'<div class="entry-content">{body}</div>{byline}</article>{comments}</div>'
            f'<div class="sidebar">{subscribe}{related}</div></div>'
        )
    else:
        main = f"<main><article>{h1}{byline}{body}</article>{subscribe}{related}{comments}</main>"
    return (
        f'<!DOCTYPE html><html lang="{article.language}">{head}'
        f"<body>{cookie}{nav}{main}{footer}</body></html>"
    )


def listing_page(title: str, links: list[tuple[str, str]]) -> str:
    """Render a section page linking to `links` (path, text), with a site menu."""
    items = "".join(f'<li><a href="{html.escape(p)}">{html.escape(t)}</a></li>' for p, t in links)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '</head><body><nav><a href="/">Home</a> <a href="/world/">World</a> '
        '<a href="/sport/">Sport</a> <a href="/about">About us</a> '
        '<a href="/tag/harbour">Harbour</a> <a href="http://elsewhere.example/">Partner</a>'
        f"</nav><h1>{title}</h1><ul>{items}</ul></body></html>"
    )


def urlset(entries: list[tuple[str, datetime | None]], *, news: bool = False) -> bytes:
    """Render a sitemap `<urlset>`; `news` adds Google News publication dates."""
    rows = []
    for loc, when in entries:
        stamp = when.astimezone(UTC).isoformat().replace("+00:00", "Z") if when else ""
        extra = ""
        if news and when:
            extra = (
                "<news:news><news:publication><news:name>Harbour Herald</news:name>"
                "<news:language>en</news:language></news:publication>"
                f"<news:publication_date>{stamp}</news:publication_date>"
                "<news:title>t</news:title></news:news>"
            )
        elif when:
            extra = f"<lastmod>{stamp}</lastmod>"
        rows.append(f"<url><loc>{html.escape(loc)}</loc>{extra}</url>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(rows) + "</urlset>"
    ).encode()


def sitemap_index(locations: list[str]) -> bytes:
    """Render a `<sitemapindex>`."""
    rows = "".join(f"<sitemap><loc>{html.escape(loc)}</loc></sitemap>" for loc in locations)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</sitemapindex>'
    ).encode()


RUSSIAN_TITLE = "Порт Северного залива открывает новый терминал"
RUSSIAN_TEXT = (
    "Администрация порта сообщила во вторник, что новый терминал начнёт работу весной.",
    "По словам руководства, строительство обошлось дешевле, чем ожидалось, и завершилось "
    "на два месяца раньше срока.",
    "Местные жители опасаются роста движения грузовиков через центр города, но власти "
    "обещают построить объездную дорогу.",
    "Эксперты считают, что терминал удвоит грузооборот порта в течение пяти лет.",
)
RUSSIAN_TEXT_2 = (
    "Второй этап строительства включает новый причал для пассажирских судов.",
    "Городской совет одобрил проект после долгих споров про шум и грузовики на набережной.",
    "Подрядчик обещает закончить работы до начала летнего туристического сезона.",
    "Жители северного района получат бесплатный автобус до вокзала на время ремонта.",
)
FRENCH_TITLE = "Le marché du port célèbre ses cent ans"
FRENCH_TEXT = (
    "Le marché couvert du port a fêté samedi son centième anniversaire, en présence "
    "de plusieurs centaines d'habitants et de commerçants.",
    "Créé en 1924 par une coopérative de pêcheurs, le marché a été rénové à deux "
    "reprises, la dernière fois après l'incendie de 1987.",
    "« C'est le cœur de la ville », a déclaré la maire, qui a annoncé une fête "
    "d'été réservée aux producteurs régionaux.",
    "Les étals de poissons, de fromages et de légumes attirent chaque week-end des "
    "visiteurs venus de toute la côte.",
)


@dataclass
class NewsSite:
    """The Harbour Herald on a FeedServer: which pages exist, and which should be stored."""

    server: FeedServer
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    stored: dict[str, Article] = field(default_factory=dict)  # path -> article
    ignored: list[str] = field(default_factory=list)  # paths never to be requested
    news_entries: list[tuple[str, datetime | None]] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.server.url(path)

    def add_article(self, article: Article, **kwargs: object) -> None:
        page = article_page(article, self.server.base_url, template=len(self.stored) % 3)
        self.server.set_page(article.path, page)
        self.stored[article.path] = article

    def build(self) -> None:
        s, now = self.server, self.now
        s.set_resource(
            "/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain; charset=utf-8"
        )
        days = [now - timedelta(hours=h) for h in (3, 30, 54, 80, 100, 120, 150)]
        a1 = story(
            "/news/ferry-strike",
            "Ferry crews vote to strike",
            "the ferry strike",
            "Ardmore",
            days[0],
        )
        a2 = story(
            "/news/harbour-dredging",
            "Harbour dredging to begin in May",
            "dredging",
            "Kilbay",
            days[1],
        )
        a3 = story(
            "/news/lighthouse-sale",
            "Lighthouse sold to a trust",
            "the lighthouse",
            "Westpoint",
            days[2],
        )
        a4 = story(
            "/news/school-roof",
            "School roof repairs finished early",
            "the school roof",
            "Ardmore",
            days[3],
        )
        for article in (a1, a2, a3, a4):
            self.add_article(article)
        # Non-UTF-8 pages: declared in the HTTP header, in a meta tag, and not at all.
        a5 = Article("/news/terminal-ru", RUSSIAN_TITLE, RUSSIAN_TEXT, days[4], language="ru")
        s.set_page(
            a5.path,
            article_page(a5, s.base_url, charset_meta=None).encode("windows-1251"),
            content_type="text/html; charset=windows-1251",
        )
        a6 = Article("/news/marche-centenaire", FRENCH_TITLE, FRENCH_TEXT, days[5], language="fr")
        s.set_page(
            a6.path,
            article_page(a6, s.base_url, charset_meta="windows-1252").encode("windows-1252"),
            content_type="text/html",
        )
        a7 = Article(
            "/news/terminal-ru-2",
            RUSSIAN_TITLE + ": второй этап",
            RUSSIAN_TEXT_2,
            days[6],
            language="ru",
        )
        s.set_page(
            a7.path,
            article_page(a7, s.base_url, charset_meta=None).encode("windows-1251"),
            content_type="text/html",
        )
        self.stored.update({a.path: a for a in (a5, a6, a7)})
        old = story(
            "/news/old-regatta",
            "Regatta returns",
            "the regatta",
            "Kilbay",
            now - timedelta(days=400),
        )
        s.set_page(old.path, article_page(old, s.base_url))
        secret = story("/private/board-minutes", "Board minutes", "the board", "Kilbay", days[0])
        s.set_page(secret.path, article_page(secret, s.base_url))
        too_deep = story("/news/too-deep", "Too deep", "depth", "Kilbay", days[0])
        s.set_page(too_deep.path, article_page(too_deep, s.base_url))
        for path in ("/about", "/tag/harbour", "/sport/", "/"):
            s.set_page(path, listing_page("Not a listing to follow", [("/news/too-deep", "x")]))
        self.ignored = [
            "/news/old-regatta",
            "/private/board-minutes",
            "/news/too-deep",
            "/about",
            "/tag/harbour",
            "/sport/",
            "/world/page/3",
        ]
        # Sitemaps: an index of a Google News sitemap and a gzipped plain one.
        self.news_entries = [
            (self.url(a1.path), a1.published),
            (self.url(a2.path), a2.published),
            (self.url(old.path), old.published),
        ]
        self.publish_news()
        archive = urlset(
            [
                (self.url(a3.path), None),
                (self.url(a1.path), None),
                (self.url(secret.path), None),
                (self.url("/tag/harbour"), None),
            ]
        )
        s.set_resource("/sitemaps/archive.xml.gz", gzip.compress(archive), "application/gzip")
        s.set_resource(
            "/sitemap_index.xml",
            sitemap_index([self.url("/sitemaps/news.xml"), self.url("/sitemaps/archive.xml.gz")]),
            "application/xml",
        )
        # Listing pages, two deep, and a third that is too deep.
        s.set_page(
            "/world/",
            listing_page(
                "World",
                [
                    (a2.path, a2.title),
                    (a4.path, a4.title),
                    (a5.path, "ru"),
                    ("/world/page/2", "Older"),
                ],
            ),
        )
        s.set_page(
            "/world/page/2",
            listing_page(
                "World, page 2", [(a6.path, "fr"), (a7.path, "ru 2"), ("/world/page/3", "Older")]
            ),
        )
        s.set_page("/world/page/3", listing_page("World, page 3", [("/news/too-deep", "x")]))

    def publish_news(self) -> None:
        self.server.set_resource(
            "/sitemaps/news.xml", urlset(self.news_entries, news=True), "application/xml"
        )

    def add_news(self, article: Article) -> None:
        """Publish one more article in the news sitemap."""
        self.add_article(article)
        self.news_entries.insert(0, (self.url(article.path), article.published))
        self.publish_news()
