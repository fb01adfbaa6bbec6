"""Tests for the plain text made from feed HTML (crawler/text.py)."""

from __future__ import annotations

import pytest

from crawler.text import clean_text, html_to_text


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("plain text", "plain text"),
        ("<b>bold</b> and <i>italic</i>", "bold and italic"),
        ("Tom &amp; Jerry &lt;3", "Tom & Jerry <3"),
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


@pytest.mark.parametrize("odd", ["", "<", "&", "<<<>>>", "<p", "</p>"])
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
