"""Tests for entry keys and content hashes (crawler/fingerprints.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crawler.fingerprints import content_hash, entry_key, normalised_text


def test_the_guid_wins_over_the_link_and_the_text() -> None:
    key = entry_key("urn:uuid:1", "https://news.example/a", "Title", "Summary")
    assert key == "guid:urn:uuid:1"
    # An edited link or text does not make a known entry new.
    assert entry_key("urn:uuid:1", "https://news.example/b", "New title", "") == key


def test_the_link_is_used_when_there_is_no_guid() -> None:
    assert entry_key(None, "https://news.example/a", "T", "S") == "link:https://news.example/a"
    assert entry_key("  ", " https://news.example/a ", "T", "S") == "link:https://news.example/a"


def test_title_and_summary_hash_is_the_last_resort() -> None:
    key = entry_key(None, None, "Title", "Summary")
    assert key.startswith("hash:")
    assert key == entry_key("", "", "Title", "Summary")
    assert key != entry_key(None, None, "Title", "Other summary")
    # The separator keeps "ab" + "c" apart from "a" + "bc".
    assert entry_key(None, None, "ab", "c") != entry_key(None, None, "a", "bc")


def test_guids_are_trimmed() -> None:
    assert entry_key(" g-1\n", None, "", "") == "guid:g-1"


def test_content_hash_ignores_case_spacing_and_unicode_forms() -> None:
    one = content_hash("North Korea", "Troops  seen\nnear Kursk.")
    assert one == content_hash("NORTH KOREA", "troops seen near kursk.")
    # NFKC: a ligature and a full-width letter count as their plain forms.
    assert content_hash("\ufb01le", "\uff21") == content_hash("file", "a")


def test_content_hash_tells_different_stories_apart() -> None:
    assert content_hash("North Korea", "Troops in Kursk") != content_hash(
        "North Korea", "Troops in Kherson"
    )
    # Title and text are kept apart.
    assert content_hash("a b", "c") != content_hash("a", "b c")


def test_content_hash_is_a_sha256_hex_digest() -> None:
    digest = content_hash("t", "x")
    assert len(digest) == 64
    assert int(digest, 16) >= 0


@given(st.text())
def test_normalised_text_is_idempotent(text: str) -> None:
    once = normalised_text(text)
    assert normalised_text(once) == once
    assert once == once.strip()
