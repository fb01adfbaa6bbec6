"""Plain text from the HTML fragments feeds carry."""

from __future__ import annotations

import html
import re

import lxml.etree

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
# Most text has none of those characters; finding that out is ten times quicker.
_TRANSLATED = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TRANSLATION)) + "]")
_SPACE_RUNS = re.compile(" {2,}")
# An "&" that could start a character reference, for libxml2's HTML parser: one followed
# by anything but its blanks. "Tom & Jerry" has none and needs no parsing.
_REFERENCE = re.compile("&(?![ \t\n\r]|$)")
# lxml.html reads a fragment that starts like a whole document as one (its head unseen).
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.IGNORECASE)
# lxml.html's parser options, without its element classes (slower, not needed here).
_PARSER = lxml.etree.HTMLParser()
_EDGE_SPACES = re.compile(" ?\n ?")
_BLANK_LINES = re.compile("\n{3,}")


def clean_text(text: str) -> str:
    """Return text with control characters removed and white space tidied.

    Line breaks of every kind become one newline, runs of spaces one space, and blank
    lines at most one.
    """
    if _TRANSLATED.search(text):
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
    if "<" not in fragment and ("&" not in fragment or not _REFERENCE.search(fragment)):
        return clean_text(fragment)  # no markup, no character reference: text as it is
    # What lxml.html.fragment_fromstring parses, read where it lies rather than moved
    # into a <div> of lxml.html elements and cut down in place: a third of the time.
    full = fragment if _FULL_DOCUMENT.match(fragment) else f"<html><body>{fragment}</body></html>"
    try:
        document = lxml.etree.fromstring(full, _PARSER)
    except (lxml.etree.ParserError, ValueError):
        document = None  # control characters that lxml refuses
    if document is None:
        return clean_text(html.unescape(re.sub(r"<[^>]*>", " ", fragment)))
    pieces: list[str] = []
    for body in document.iterchildren("body"):  # none in "<html>", two in "</body><body>"
        # As fragment_fromstring does, leading text that is only white space goes.
        if body.text and body.text.strip():
            pieces.append(body.text)
        _collect(body, pieces)
    return clean_text("".join(pieces))


def _collect(parent: lxml.etree._Element, pieces: list[str]) -> None:
    """Add the visible text under `parent` to `pieces`, a line break after each block."""
    for child in parent:
        tag = child.tag
        if isinstance(tag, str) and tag not in _DROP:
            if child.text:
                pieces.append(child.text)
            _collect(child, pieces)
            if tag in _BLOCKS:
                pieces.append("\n")
        if child.tail:  # a dropped element's tail is text, and so is a comment's
            pieces.append(child.tail)
