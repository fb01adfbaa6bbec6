"""Tests for canonical article URLs (crawler/urls.py)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.urls import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # Tracking parameters go, the rest stay.
        (
            "https://news.example/a?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://news.example/a",
        ),
        ("https://news.example/a?fbclid=IwAR0abc", "https://news.example/a"),
        ("https://news.example/a?gclid=Cj0KCQ", "https://news.example/a"),
        ("https://news.example/a?id=7&utm_source=rss", "https://news.example/a?id=7"),
        # Fragments name a place in the page, not another page.
        ("https://news.example/a#comments", "https://news.example/a"),
        # Scheme and host are case-insensitive; the path is not.
        ("HTTPS://News.EXAMPLE/World/Story", "https://news.example/World/Story"),
        # Default ports are dropped, others kept.
        ("http://news.example:80/a", "http://news.example/a"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("https://news.example:8443/a", "https://news.example:8443/a"),
        # Query parameters in one order.
        ("https://news.example/a?b=2&a=1&c=3", "https://news.example/a?a=1&b=2&c=3"),
        # Surrounding white space from feeds.
        ("  https://news.example/a\n", "https://news.example/a"),
        # Dot segments and needless percent-encoding.
        ("https://news.example/x/../a/./b", "https://news.example/a/b"),
        ("https://news.example/%7Euser", "https://news.example/~user"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_links_that_differ_only_in_tracking_are_one_article() -> None:
    links = [
        "https://www.thenewamerican.example/world/story/",
        "https://WWW.thenewamerican.example:443/world/story/?utm_source=twitter#top",
        "https://www.thenewamerican.example/world/story/?fbclid=xyz&utm_medium=social",
        "https://www.thenewamerican.example/world/story/?gclid=abc",
    ]
    assert len({canonical_url(link) for link in links}) == 1


def test_different_articles_stay_different() -> None:
    assert canonical_url("https://news.example/a?id=1") != canonical_url(
        "https://news.example/a?id=2"
    )
    assert canonical_url("https://news.example/A") != canonical_url("https://news.example/a")
    assert canonical_url("http://news.example/a") != canonical_url("https://news.example/a")


def test_non_ascii_links_are_percent_encoded_consistently() -> None:
    encoded = canonical_url("https://news.example/corée?q=é")
    assert encoded == "https://news.example/cor%C3%A9e?q=%C3%A9"
    assert canonical_url("https://news.example/cor%C3%A9e?q=%C3%A9") == encoded


@pytest.mark.parametrize("odd", ["not a url", "ftp://files.example/a", "mailto:x@y.example"])
def test_odd_links_do_not_raise(odd: str) -> None:
    assert isinstance(canonical_url(odd), str)


# --- property: canonicalising twice changes nothing ------------------------------------

_LABEL = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_HOSTS = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "org", "example", "co.uk", "de"]),
)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=8)
_KEYS = st.one_of(
    st.sampled_from(["utm_source", "utm_medium", "fbclid", "gclid", "id", "page", "q", "B"]),
    st.text("abcXYZ_-.", min_size=1, max_size=6),
)


def _url(
    scheme: str,
    host: str,
    port: int | None,
    path: list[str],
    query: list[tuple[str, str]],
    fragment: str | None,
) -> str:
    url = f"{scheme}://{host}" + (f":{port}" if port else "")
    url += quote("/" + "/".join(path), safe="/%")
    if query:
        url += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    if fragment is not None:
        url += "#" + quote(fragment)
    return url


_URLS = st.builds(
    _url,
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    _HOSTS,
    st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535)),
    st.lists(_TEXT, max_size=4),
    st.lists(st.tuples(_KEYS, _TEXT), max_size=4),
    st.one_of(st.none(), _TEXT),
)
# Raw strings as feeds carry them: unencoded spaces, stray '%', '?' and '#'.
_RAW_URLS = st.builds(
    lambda scheme, host, rest: f"{scheme}://{host}/{rest}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["news.example", "NEWS.example:80", "news.example:443"]),
    st.text("ab%20?&=#;/+.~é Ü", max_size=25),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_URLS, _RAW_URLS))
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_URLS)
def test_canonical_urls_carry_no_tracking_or_fragment(url: str) -> None:
    canonical = canonical_url(url)
    assert "#" not in canonical
    assert "utm_source=" not in canonical
    assert "fbclid=" not in canonical
    assert "gclid=" not in canonical
    assert canonical.startswith(("http://", "https://"))
