"""An article page's own metadata: title and publication date, each weighed across sources.

Pages state their headline and date in several places that disagree more often than one
would hope: JSON-LD, Open Graph and other meta tags, the `<h1>`, the `<title>` (with the
site's name appended), the URL. `page_meta` reads them all and settles on one value,
recording where a date came from.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import lxml.html

from crawler.text import clean_text

# A publication date further ahead than this is a wrong clock or a wrong guess.
FUTURE_SLACK = timedelta(days=1)

# Where a published date came from, best first (stored in articles.published_from).
FROM_FEED = "feed"
FROM_JSON_LD = "json-ld"
FROM_META = "meta"
FROM_URL = "url"
FROM_PAGE = "page"  # trafilatura's (htmldate's) reading of the page text

_DATE_META = (
    '//meta[@property="article:published_time"]/@content',
    '//meta[@property="og:published_time"]/@content',
    '//meta[@name="article:published_time"]/@content',
    '//meta[@itemprop="datePublished"]/@content',
    '//meta[@name="pubdate"]/@content',
    '//meta[@name="publish-date"]/@content',
    '//meta[@name="parsely-pub-date"]/@content',
    '//meta[@name="sailthru.date"]/@content',
    '//meta[@name="dc.date"]/@content',
    '//meta[@name="DC.date.issued"]/@content',
    '//meta[@name="date"]/@content',
)
# /2024/10/15/, /2024-10-15-, /20241015/ in a path.
_URL_DATE = re.compile(
    r"/(?P<y>20\d\d|19\d\d)(?:/|-|_)?(?P<m>0[1-9]|1[0-2])(?:/|-|_)?(?P<d>0[1-9]|[12]\d|3[01])(?:/|-|_|\b)"
)
# Separators between a headline and the site's name in a <title>.
_TITLE_SEPARATORS = re.compile(r"\s+(?:\||-|\u2013|\u2014|::|\u00b7|\u2022|\u00bb)\s+")
_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "reportagenewsarticle",
    "analysisnewsarticle",
    "opinionnewsarticle",
    "blogposting",
    "report",
    "webpage",
}


@dataclass(frozen=True, slots=True)
class PageMeta:
    """What the page says about itself."""

    title: str
    published_at: datetime | None
    published_from: str | None
    site_name: str | None


def page_meta(root: lxml.html.HtmlElement, url: str, now: datetime | None = None) -> PageMeta:
    """Return the page's title and publication date, weighed across its sources."""
    ld = _json_ld_article(root)
    site_name = clean_text(
        first_value(root, '//meta[@property="og:site_name"]/@content')
        or _ld_name(ld.get("publisher"))
    )
    title = best_title(
        json_ld=_ld_text(ld.get("headline")),
        og_title=first_value(root, '//meta[@property="og:title"]/@content')
        or first_value(root, '//meta[@name="twitter:title"]/@content'),
        h1=_first_text(root, "//h1"),
        title=_first_text(root, "//title"),
        site_name=site_name or None,
    )
    published, source = best_date(ld, root, url, now or datetime.now(UTC))
    return PageMeta(title, published, source, site_name or None)


def best_title(
    *,
    json_ld: str | None,
    og_title: str | None,
    h1: str | None,
    title: str | None,
    site_name: str | None,
) -> str:
    """Return the headline most of the page's sources agree on.

    Each candidate votes; a tie goes to the more deliberate source (JSON-LD, then
    og:title, then the <h1>, then the <title> less its site-name suffix).
    """
    stripped = strip_site_name(title or "", site_name, (json_ld, og_title, h1))
    candidates = [
        strip_site_name(clean_text(c), site_name, ()) if c else ""
        for c in (json_ld, og_title, h1, stripped)
    ]
    candidates = [c for c in candidates if c]
    if not candidates:
        return ""
    votes = Counter(_fold(c) for c in candidates)
    best = max(votes.values())
    return next(c for c in candidates if votes[_fold(c)] == best)


def strip_site_name(title: str, site_name: str | None, others: tuple[str | None, ...]) -> str:
    """Remove the site's name from a <title>: "Headline | Site" becomes "Headline"."""
    title = clean_text(title)
    parts = _TITLE_SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    site = _fold(site_name or "")
    if site and _fold(parts[-1]) == site:
        return _without_last(title)
    if site and _fold(parts[0]) == site:
        return _without_first(title)
    # No site name known: a title that is another source's headline plus a suffix.
    for other in others:
        if other and _fold(_without_last(title)) == _fold(clean_text(other)):
            return _without_last(title)
    # A short last part after a longer headline is almost always the site's name.
    if len(parts[-1]) <= 30 and len(parts[-1]) < len(_without_last(title)):
        return _without_last(title)
    return title


def best_date(
    ld: dict[str, Any], root: lxml.html.HtmlElement, url: str, now: datetime
) -> tuple[datetime | None, str | None]:
    """Return the publication date and where it came from; None when nothing credible."""
    for raw, source in (
        (_ld_text(ld.get("datePublished")), FROM_JSON_LD),
        *((value, FROM_META) for value in _all(root, _DATE_META)),
    ):
        value = parse_date(raw, now)
        if value is not None:
            return value, source
    value = url_date(url, now)
    if value is not None:
        return value, FROM_URL
    return None, None


def parse_date(raw: str | None, now: datetime) -> datetime | None:
    """Parse an ISO 8601 date or time as UTC; None if unreadable or in the future."""
    if not raw:
        return None
    text = raw.strip().replace("Z", "+00:00").replace("z", "+00:00")
    # "2024-10-14T18:05:00.000+00:00" and "+0000" offsets are common in the wild.
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return plausible(value, now)


def plausible(value: datetime | None, now: datetime) -> datetime | None:
    """Return `value` in UTC, or None when it lies more than a day in the future."""
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > now + FUTURE_SLACK or value.year < 1990:
        return None
    return value


def url_date(url: str, now: datetime) -> datetime | None:
    """Return the date a URL's path spells out (/2024/10/15/), at midnight UTC."""
    found = _URL_DATE.search(url)
    if not found:
        return None
    try:
        value = datetime(int(found["y"]), int(found["m"]), int(found["d"]), tzinfo=UTC)
    except ValueError:
        return None
    return plausible(value, now)


def _json_ld_article(root: lxml.html.HtmlElement) -> dict[str, Any]:
    """Return the page's JSON-LD article object (the first of an article type)."""
    found: list[dict[str, Any]] = []
    for script in root.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text_content() or "")
        except ValueError:
            continue
        found.extend(_ld_objects(data))
    for obj in found:
        kinds = obj.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds) and (
            "headline" in obj or "datePublished" in obj
        ):
            return obj
    return {}


def _ld_objects(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _ld_objects(item)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _ld_objects(data["@graph"])


def _ld_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() or None if isinstance(value, str | int | float) else None


def _ld_name(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        return str(value.get("name") or "")
    return value if isinstance(value, str) else ""


def _fold(text: str) -> str:
    return " ".join(text.casefold().split())


def _without_last(title: str) -> str:
    cut = list(_TITLE_SEPARATORS.finditer(title))[-1]
    return title[: cut.start()].strip()


def _without_first(title: str) -> str:
    cut = next(_TITLE_SEPARATORS.finditer(title))
    return title[cut.end() :].strip()


def first_value(root: lxml.html.HtmlElement, xpath: str) -> str | None:
    """Return the first non-blank value an XPath gives, stripped."""
    values = root.xpath(xpath)
    for value in values if isinstance(values, list) else ():
        text = str(value).strip()
        if text:
            return text
    return None


def _all(root: lxml.html.HtmlElement, xpaths: tuple[str, ...]) -> Iterator[str]:
    for xpath in xpaths:
        value = first_value(root, xpath)
        if value:
            yield value


def _first_text(root: lxml.html.HtmlElement, xpath: str) -> str | None:
    for element in root.xpath(xpath):
        text = clean_text(element.text_content())
        if text:
            return text
    return None
