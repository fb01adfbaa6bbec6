"""Known entries: read a feed's entry ids with lxml, and leave known entries' bodies out.

feedparser spends some 20 ms on a 50-entry feed here, where lxml reads the whole
document in about one. A feed that changed usually brings one or two new entries among
dozens already stored, so before feedparser runs, the entries whose id is already known
are cut down to their ids, links and dates. feedparser still sees those, so the keys and
the feed's rhythm come out as before; only text that would be thrown away is not parsed.

Only plain cases are touched: well-formed UTF-8 RSS 2.0 or Atom without a DOCTYPE, and
entries identified by a `<guid>` or an Atom `<id>`. Anything else is parsed whole.
Worker functions: bytes in, plain data out (see `crawler.workers`).
"""

from __future__ import annotations

from collections.abc import Iterator

import lxml.etree

_ATOM = "{http://www.w3.org/2005/Atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_DCTERMS = "{http://purl.org/dc/terms/}"
# What a known entry keeps: what its key and its dates are read from. The rest (title,
# link, bodies, authors, categories, media) would be parsed only to be thrown away.
_KEPT = frozenset(
    {
        "guid",
        "pubDate",
        f"{_ATOM}id",
        f"{_ATOM}published",
        f"{_ATOM}updated",
        f"{_ATOM}issued",
        f"{_ATOM}modified",
        f"{_ATOM}created",
        f"{_DC}date",
        f"{_DCTERMS}issued",
        f"{_DCTERMS}created",
        f"{_DCTERMS}modified",
        f"{_DCTERMS}date",
    }
)
_USABLE = frozenset({"link", "title", f"{_ATOM}link", f"{_ATOM}title"})
_PARSER_OPTIONS = {"resolve_entities": False, "no_network": True, "huge_tree": False}


def entry_ids(body: bytes, headers: dict[str, str]) -> tuple[str, ...]:
    """Return the entry keys of the feed's identified entries; () when it is no plain case."""
    root = plain_root(body, headers)
    if root is None:
        return ()
    return tuple(key for _, key in _entries(root))


def strip_known(body: bytes, headers: dict[str, str], known: frozenset[str]) -> bytes | None:
    """Return the feed with the entries in `known` cut to their ids, links and dates.

    None when nothing was cut.
    """
    root = plain_root(body, headers)
    if root is None:
        return None
    cut = False
    for entry, key in _entries(root):
        if key not in known:
            continue
        # An entry with neither link nor title would count as empty and be dropped, so
        # one of them stays, unless an RSS permalink guid gives feedparser the link.
        usable = entry.tag == "item" and _permalink(entry)
        for child in list(entry):
            if child.tag in _KEPT:
                continue
            if not usable and child.tag in _USABLE:
                usable = True
                continue
            entry.remove(child)
            cut = True
    if not cut:
        return None
    result: bytes = lxml.etree.tostring(root, encoding="utf-8", xml_declaration=True)
    return result


def plain_root(body: bytes, headers: dict[str, str]) -> lxml.etree._Element | None:
    """Return the root of a well-formed UTF-8 RSS or Atom feed without a DOCTYPE, else None."""
    charset = headers.get("content-type", "").lower().partition("charset=")[2].strip(' "')
    if charset not in ("", "utf-8", "utf8"):
        return None  # feedparser would decode by the header; keep its bytes as they are
    parser = lxml.etree.XMLParser(**_PARSER_OPTIONS)
    try:
        root = lxml.etree.fromstring(body, parser)
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None
    info = root.getroottree().docinfo
    if info.doctype or (info.encoding or "utf-8").lower() not in ("utf-8", "utf8"):
        return None
    if root.tag == "rss" or root.tag == f"{_ATOM}feed":
        return root
    return None


def _entries(root: lxml.etree._Element) -> Iterator[tuple[lxml.etree._Element, str]]:
    """Yield each entry that one id identifies, with the key `crawler.feeds` gives it."""
    if root.tag == "rss":
        entries, id_tag = root.iterfind("channel/item"), "guid"
    else:
        entries, id_tag = root.iterfind(f"{_ATOM}entry"), f"{_ATOM}id"
    for entry in entries:
        ids = [child for child in entry if child.tag in (id_tag, f"{_ATOM}id", "guid")]
        if len(ids) != 1 or ids[0].tag != id_tag or len(ids[0]):
            continue  # no id, or several that feedparser might choose between
        guid = (ids[0].text or "").strip()
        if guid:
            yield entry, "guid:" + guid


def _permalink(item: lxml.etree._Element) -> bool:
    # RSS 2.0: a guid is a permalink unless it says isPermaLink="false". feedparser takes
    # "true" only, spelt so ("True" is false), and the attribute's name in any case: when
    # in doubt, it is no permalink, and the entry keeps a link or title of its own.
    guid = item.find("guid")
    if guid is None or set(guid.attrib) - {"isPermaLink"}:
        return False
    return guid.get("isPermaLink", "true") == "true"
