"""Tests for the plain text made from feed HTML (crawler/text.py)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import lxml.etree
import lxml.html
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crawler.text import _BLOCKS, _DROP, clean_text, html_to_text


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("plain text", "plain text"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("Tom &amp; Jerry &lt;3", "Tom & Jerry <3"),
        ("Tom & Jerry & co &", "Tom & Jerry & co &"),
        ("&#233;t&eacute; &nbsp; en France", "été en France"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("<!-- a comment -->visible", "visible"),
        ("<html><body><p>a whole document</p></body></html>", "a whole document"),
    ],
)
def test_html_becomes_the_text_a_reader_sees(fragment: str, expected: str) -> None:
    assert html_to_text(fragment) == expected


def test_blocks_become_lines_and_inline_markup_does_not() -> None:
    html = "<h2>Head</h2><p>One <a href='/x'>link</a>.</p><ul><li>x</li><li>y</li></ul>a<br>b"
    lines = [line for line in html_to_text(html).splitlines() if line]
    assert lines == ["Head", "One link.", "x", "y", "a", "b"]


def test_scripts_styles_and_frames_leave_no_text() -> None:
    html = (
        "<p>Kept.<script>alert('xss')</script></p><style>p {display: none}</style>"
        "<iframe src='https://tracker.example/'>frame text</iframe><noscript>Enable JS</noscript>"
        "<svg><text>chart label</text></svg>"
    )
    assert html_to_text(html) == "Kept."


def test_attributes_never_reach_the_text() -> None:
    html = (
        '<p onclick="steal()">Safe <img src="x" onerror="alert(2)">'
        '<a href="javascript:alert(3)">words</a></p>'
    )
    text = html_to_text(html)
    assert text == "Safe words"
    for leak in ("onerror", "onclick", "javascript:", "alert", "steal"):
        assert leak not in text


@pytest.mark.parametrize("odd", ["", "<", "&", "<<<>>>", "<p", "</p>", "<html>", "<br>\x1f"])
def test_odd_fragments_do_not_raise(odd: str) -> None:
    assert isinstance(html_to_text(odd), str)


def test_clean_text_tidies_white_space_and_drops_control_characters() -> None:
    messy = "  North\u00a0Korea \t and\x00 Russia \r\n\n\n\n  second\x07 paragraph \x1b  "
    assert clean_text(messy) == "North Korea and Russia\n\nsecond paragraph"


def test_clean_text_keeps_single_line_breaks_and_collapses_blank_runs() -> None:
    assert clean_text("a\nb\n \n \nc") == "a\nb\n\nc"


def test_clean_text_is_idempotent() -> None:
    messy = " x \u00a0 y\n\n\n z\x0b "
    assert clean_text(clean_text(messy)) == clean_text(messy)


# Fragments as feeds carry them: markup of every kind, references, odd characters.
HTML_PIECES = [
    "word",
    " ",
    "\n",
    "\r\n",
    "\t",
    "\xa0",
    "<p>",
    "</p>",
    "<br>",
    "<br/>",
    "<div>",
    "</div>",
    "<li>",
    "<b>",
    "</b>",
    '<a href="/x?a=1&b=2">',
    "</a>",
    "<script>",
    "</script>",
    "<style>",
    "<noscript>",
    "<svg>",
    "</svg>",
    "<!-- comment -->",
    "<?pi x?>",
    "<![CDATA[x]]>",
    "<html>",
    "<head>",
    "<title>",
    "<body>",
    "</body>",
    "&amp;",
    "&lt;",
    "&nbsp;",
    "&eacute;",
    "&#233;",
    "&#x2019;",
    "&#0;",
    "&unknown;",
    "&amp",
    "& ",
    "&",
    "&\n",
    "&\xa0",
    "<",
    ">",
    "< p>",
    "<p",
    "\x00",
    "\x0b",
    "\x85",
    "\u2028",
    "été",
]


def lxml_html_text(fragment: str) -> str:
    """Return the text as lxml.html's own functions give it: the reading html_to_text had."""
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (lxml.etree.ParserError, ValueError):
        return clean_text(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    for element in list(root.iter(*_DROP)):
        element.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
    return clean_text(root.text_content())


@given(st.lists(st.sampled_from(HTML_PIECES) | st.text(max_size=5), max_size=12).map("".join))
@settings(max_examples=500, deadline=timedelta(seconds=2))
def test_fragments_are_read_as_lxml_html_reads_them(fragment: str) -> None:
    # lxml.html moves text between elements, and so fails on control characters (below),
    # and asserts that a document has one body.
    assume(not CONTROL.search(fragment))
    try:
        expected = lxml_html_text(fragment)
    except AssertionError:
        assume(False)
    assert html_to_text(fragment) == expected


CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


@pytest.mark.parametrize("fragment", ["<br>\x1f", "<p>a</p>\x08b", "< p>\x0b"])
def test_control_characters_after_markup_are_dropped(fragment: str) -> None:
    assert html_to_text(fragment) == html_to_text(CONTROL.sub("", fragment))


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("<html><head><title>T</title></head><body><p>x</p></body></html>", "x"),
        ("<!DOCTYPE html><p>x</p>", "x"),
        ("<html>", ""),
        ("<p>one</p></body><body><p>two</p>", "one\ntwo"),
        ("  <HTML><body>y", "y"),
    ],
)
def test_whole_documents_give_their_body_text(document: str, expected: str) -> None:
    assert html_to_text(document) == expected
