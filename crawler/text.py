"""Plain text from the HTML fragments feeds carry."""

from __future__ import annotations

import html
import re

import lxml.etree
import lxml.html

# Elements whose content is never text a reader sees.
_DROP = ("script", "style", "noscript", "template", "iframe", "object", "svg")
# Elements after which a reader sees a line break.
_BLOCKS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "hr",
        "dd",
        "dt",
    ]
)
# What str.splitlines() counts as a line break, CRLF first.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_EDGE_SPACES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")
# Control characters other than tab and newline have no place in stored text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Return text with control characters removed and white space tidied.

    Line breaks of every kind become one newline, runs of spaces one space, and blank
    lines at most one. Whole-text passes, not per-line ones: this runs on every item.
    """
    text = _LINE_BREAKS.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _EDGE_SPACES.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def html_to_text(fragment: str) -> str:
    """Return the visible text of an HTML fragment, one paragraph per line."""
    if "<" not in fragment and "&" not in fragment:
        return clean_text(fragment)
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
