"""Tests for the topic query language in crawler/topics.py."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crawler.exceptions import QuerySyntaxError
from crawler.topics import Query, explain, parse_query, prepare_text

DPRK_RUSSIA = '("North Korea" OR "North Korean" OR DPRK) AND (Russia OR Ukraine)'

# Short excerpts in the style of the client's two seed articles (magazine, news blog).
MAGAZINE_TITLE = "North Korean Military Allegedly Fighting in Ukraine"
MAGAZINE_TEXT = (
    "According to Ukrainian President Volodymyr Zelensky, North Korean troops are "
    "fighting alongside Russian forces. Officials in Pyongyang said the territory of "
    "the Democratic People's Republic of Korea (DPRK) had been violated.\n\n"
    "Subscribe to the magazine. What's Included? 24 Issues Per Year."
)
BLOG_TITLE = "North Korean Troops Confirmed Fighting Alongside Russian Forces"
BLOG_TEXT = (
    "Zelensky highlighted an \u201cincreasing alliance\u201d between Russia and North "
    "Korea, which now includes the deployment of North Korean personnel. Ukraine\u2019s "
    "allies were asked for more support.\nComments"
)
UNRELATED = "Seoul's central bank held rates as South Korean exporters shipped more chips."


def matches(query: str, *parts: str) -> tuple[str, ...] | None:
    return parse_query(query).match(prepare_text(*parts))


# --- realistic articles ----------------------------------------------------------------


def test_magazine_excerpt_matches_dprk_russia() -> None:
    assert matches(DPRK_RUSSIA, MAGAZINE_TITLE, "", MAGAZINE_TEXT) == (
        '"North Korean"',
        "DPRK",
        "Ukraine",
    )


def test_blog_excerpt_matches_dprk_russia_with_curly_punctuation() -> None:
    assert matches(DPRK_RUSSIA, BLOG_TITLE, BLOG_TEXT) == (
        '"North Korea"',
        '"North Korean"',
        "Russia",
        "Ukraine",
    )


def test_unrelated_article_does_not_match() -> None:
    assert matches(DPRK_RUSSIA, UNRELATED) is None


# --- folding and word boundaries -------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("Zelensky", "President Zélensky spoke"),
        ("Zélensky", "President ZELENSKY spoke"),
        ("Pyongyang", "a visit to Pyŏngyang in June"),
        ("pyongyang", "PYONGYANG, June 19"),
        ("Strasse", "talks on the Straße des 17. Juni"),
        ("Korea", "North Korea's forces"),
        ("Korea", "North Korea\u2019s forces"),
        ("Korea*", "Koreans and Koreas"),
        ("Zelensk*", "Zelenskyy met Zélensky's aides"),
        ('"North Korea"', "north  korea's army"),
        ('"North Korea"', "the North-Korea border"),
        ("Jong-un", "Kim Jong Un arrived"),
        ("\u201cNorth Korea\u201d", "North Korea"),
    ],
)
def test_folds_case_accents_and_punctuation(query: str, text: str) -> None:
    assert matches(query, text) == (query,)


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("Korea", "Koreans rallied"),
        ("Zelenskyy", "President Zelensky spoke"),
        ("sanction*", "an unsanctioned rally"),
        ('"North Korea"', "North and South Korea"),
        ('"North Korea"', "Korea North"),
    ],
)
def test_matches_whole_words_only(query: str, text: str) -> None:
    assert matches(query, text) is None


def test_wildcard_matches_every_word_with_the_prefix() -> None:
    for text in ("new sanctions", "Sanctioned banks", "a sanction"):
        assert matches("sanction*", text) == ("sanction*",)


def test_phrase_does_not_span_title_and_text() -> None:
    assert matches('"North Korea"', "Troops from the North", "Korea denies it") is None
    assert matches("North Korea", "Troops from the North", "Korea denies it") is not None


# --- operators -------------------------------------------------------------------------


def test_adjacency_is_an_implicit_and() -> None:
    assert matches("Kursk troops", "troops massed near Kursk") == ("Kursk", "troops")
    assert matches("Kursk troops", "troops massed near Kharkiv") is None


def test_lower_case_operators_are_plain_words() -> None:
    assert matches("war and peace", "war, then peace") is None
    assert matches("war and peace", "war and peace") == ("and", "peace", "war")
    assert matches("war or peace", "war") is None


def test_not_excludes_and_its_terms_never_contribute() -> None:
    query = "Korea* NOT (football OR K-pop)"
    assert matches(query, "Korean troops") == ("Korea*",)
    assert matches(query, "Korean football league") is None
    assert matches(query, "a Korean K-Pop band") is None
    assert matches("NOT football", "election news") == ()


def test_not_binds_tighter_than_and_and_and_tighter_than_or() -> None:
    # a OR b AND c  ==  a OR (b AND c)
    assert matches("Kursk OR Russia AND DPRK", "Kursk") == ("Kursk",)
    assert matches("Kursk OR Russia AND DPRK", "Russia") is None
    # NOT a AND b  ==  (NOT a) AND b
    assert matches("NOT Kursk AND Russia", "Russia") == ("Russia",)
    assert matches("NOT Kursk AND Russia", "Kursk") is None
    assert matches("NOT Kursk AND Russia", "Kursk Russia") is None


def test_nested_parentheses() -> None:
    query = "((Pyongyang OR (North AND Korea*)) AND (Russia* OR (Ukraine NOT Crimea)))"
    assert matches(query, "Koreans in the north fight for Russians") == (
        "Korea*",
        "North",
        "Russia*",
    )
    assert matches(query, "Pyongyang and Ukraine") == ("Pyongyang", "Ukraine")
    assert matches(query, "Pyongyang on Ukraine and Crimea") is None


def test_or_reports_every_matching_branch() -> None:
    assert matches("DPRK OR Pyongyang OR Seoul", "DPRK, that is Pyongyang") == (
        "DPRK",
        "Pyongyang",
    )


# --- the Query object and explain ------------------------------------------------------


def test_query_keeps_source_and_unique_terms_as_written() -> None:
    query = parse_query('"North Korea" OR (DPRK AND "North Korea") OR sanction* NOT Seoul')
    assert query.source == '"North Korea" OR (DPRK AND "North Korea") OR sanction* NOT Seoul'
    assert query.terms == ('"North Korea"', "DPRK", "sanction*", "Seoul")
    assert query == parse_query(query.source)
    with pytest.raises(dataclasses.FrozenInstanceError):
        query.source = "x"  # type: ignore[misc]


def test_explain_lists_each_term_and_whether_it_occurs() -> None:
    query = parse_query(DPRK_RUSSIA)
    assert explain(query, prepare_text(MAGAZINE_TEXT)) == [
        ('"North Korea"', False),
        ('"North Korean"', True),
        ("DPRK", True),
        ("Russia", False),
        ("Ukraine", False),
    ]


# --- syntax errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("", 0, "empty query"),
        ("   ", 0, "empty query"),
        ("(Russia OR Ukraine", 0, "unclosed '('"),
        ("Russia (DPRK OR (Kursk)", 7, "unclosed '('"),
        ("Russia OR Ukraine)", 17, "unmatched ')'"),
        (")", 0, "unmatched ')'"),
        ("Russia AND", 7, "'AND' needs a term after it"),
        ("OR Russia", 0, "'OR' needs a term before it"),
        ("Russia OR AND DPRK", 10, "expected a term after 'OR', found 'AND'"),
        ("(Russia OR)", 10, "expected a term after 'OR', found ')'"),
        ("Russia NOT", 7, "'NOT' needs a term after it"),
        ('Russia ""', 7, "empty phrase"),
        ('Russia " ,"', 7, "empty phrase"),
        ('Russia "North Korea', 7, "unterminated quote"),
        ("Russia AND *", 11, "a lone '*'"),
        ("*Korea", 0, "'*' may only end a word"),
        ("Ko*rea", 2, "'*' may only end a word"),
        ('"North Kor*"', 10, "wildcards are not supported inside phrases"),
        ("U.S*", 0, "a wildcard needs a single word"),
        ("Russia ()", 7, "empty parentheses"),
        ("Russia -Ukraine", 7, "use NOT"),
        ("Russia &", 7, "has no letters or digits"),
        ("(" * 60 + "a" + ")" * 60, 50, "nested too deeply"),
    ],
)
def test_syntax_errors_give_message_and_position(query: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.query == query
    assert f"at position {position + 1}" in str(caught.value)


# --- properties ------------------------------------------------------------------------

_QUERY_PIECES = st.sampled_from(
    ["AND", "OR", "NOT", "(", ")", '"', "\u201c", "*", " ", "-", "Korea", "é", "a*", "&"]
)


@given(st.text() | st.lists(_QUERY_PIECES).map("".join))
def test_parse_raises_only_query_syntax_errors(source: str) -> None:
    try:
        query = parse_query(source)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(source)
    else:
        assert isinstance(query, Query)
        query.match(prepare_text(source))


_WORDS = st.lists(
    st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8).filter(
        lambda word: word not in ("AND", "OR", "NOT")
    ),
    min_size=1,
    max_size=6,
)


@given(_WORDS, st.sampled_from([" ", " AND ", " OR "]), st.booleans())
def test_query_of_words_matches_text_of_those_words(
    words: list[str], joiner: str, quoted: bool
) -> None:
    source = f'"{" ".join(words)}"' if quoted else joiner.join(words)
    try:
        query = parse_query(source)
    except QuerySyntaxError:
        # Only words that fold to no letters at all are refused (some numeric signs).
        assume(False)
    text = prepare_text(words[0] if joiner == " OR " and not quoted else " ".join(words))
    found = query.match(text)
    assert found is not None
    assert set(found) <= set(query.terms)
