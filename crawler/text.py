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
# One str.translate pass (C speed; this runs on every item): line breaks of every kind
# that str.splitlines() knows become "\n", other blanks a space, and control characters
# other than tab and newline, which have no place in stored text, go.
_TRANSLATION = {
    **{c: None for c in [*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F]},
    **dict.fromkeys(map(ord, "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), "\n"),
    **dict.fromkeys(map(ord, "\t\u00a0"), " "),
}
_SPACE_RUNS = re.compile(" {2,}")
_EDGE_SPACES = re.compile(" ?\n ?")
_BLANK_LINES = re.compile("\n{3,}")


def clean_text(text: str) -> str:
    """Return text with control characters removed and white space tidied.

    Line breaks of every kind become one newline, runs of spaces one space, and blank
    lines at most one.
    """
    text = text.replace("\r\n", "\n").translate(_TRANSLATION)
    if "  " in text:
        text = _SPACE_RUNS.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _EDGE_SPACES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def shorten(text: str, limit: int) -> str:
    """Return `text` cut to at most `limit` characters, at a word boundary, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    # Back to the last space, unless that would lose most of what is left.
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


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
