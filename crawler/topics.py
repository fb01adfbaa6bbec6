"""Topic queries: a small boolean language, parsed once and matched against articles.

Grammar (operators are upper-case; lower-case and/or/not are plain words)::

    query    := or_expr
    or_expr  := and_expr ("OR" and_expr)*
    and_expr := not_expr (["AND"] not_expr)*     adjacency is an implicit AND
    not_expr := "NOT" not_expr | primary
    primary  := WORD | WORD* | "PHRASE" | ( or_expr )

so NOT binds tighter than AND, and AND tighter than OR.

Matching folds case and accents (casefold, NFKD, marks dropped) and splits text into
words at every character that is not a letter, digit or underscore. "Korea's" is thus
the words "korea" and "s": `Korea` matches it, `Koreans` does not, `Korea*` matches
both. A phrase matches its words in sequence whatever punctuation or spacing sits
between them, but never across the parts given to `prepare_text` (title, summary,
text). A bare term with inner punctuation (`Jong-un`, `U.S.`) is matched as a phrase.
Scripts written without spaces (Chinese, Japanese, Thai) only match whole runs.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Literal

from crawler.exceptions import QuerySyntaxError

__all__ = ["MatchText", "Query", "explain", "parse_query", "prepare_text"]

# Deep nesting would otherwise end in RecursionError rather than QuerySyntaxError.
MAX_DEPTH = 50

_WORD = re.compile(r"\w+")
# Curly quotes arrive with queries pasted from documents; treat them as quotes.
_CLOSING_QUOTE = {'"': '"', "\u201c": "\u201d"}

_TokenKind = Literal["word", "phrase", "and", "or", "not", "(", ")", "end"]
_OPERATORS: dict[str, _TokenKind] = {"AND": "and", "OR": "or", "NOT": "not"}
_PARENS: dict[str, _TokenKind] = {"(": "(", ")": ")"}


class _MarkStripper(dict[int, int | None]):
    """Translation table that deletes marks (accents), filled lazily per code point."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code)).startswith("M") else code
        self[code] = value
        return value


_STRIP_MARKS = _MarkStripper()


def _fold(text: str) -> str:
    """Return `text` case- and accent-folded."""
    if text.isascii():
        return text.lower()
    # casefold first: it can produce decomposable characters ("İ" -> "i̇").
    return unicodedata.normalize("NFKD", text.casefold()).translate(_STRIP_MARKS)


def _words(text: str) -> list[str]:
    """Return the folded words of `text`."""
    return _WORD.findall(_fold(text))


@dataclass(frozen=True, slots=True)
class MatchText:
    """An article's words, folded and indexed once for matching many queries."""

    words: frozenset[str]
    sorted_words: tuple[str, ...]  # the same words, sorted: prefixes by bisection
    joined: str  # " w1 w2 | w3 ": phrases by substring search; "|" separates parts

    def has_word(self, word: str) -> bool:
        """Return whether `word` occurs as a whole word."""
        return word in self.words

    def has_prefix(self, prefix: str) -> bool:
        """Return whether some word starts with `prefix`."""
        i = bisect_left(self.sorted_words, prefix)
        return i < len(self.sorted_words) and self.sorted_words[i].startswith(prefix)

    def has_phrase(self, words: str) -> bool:
        """Return whether the space-separated `words` occur in sequence."""
        return f" {words} " in self.joined


def prepare_text(*parts: str) -> MatchText:
    """Fold and index `parts` (title, summary, text) for `Query.match`."""
    # A feed entry's text is often its summary again: a repeated part adds no word and
    # no phrase, so it is folded once.
    tokenised = [_words(part) for part in dict.fromkeys(parts) if part]
    words = frozenset(w for tokens in tokenised for w in tokens)
    joined = " | ".join(" ".join(tokens) for tokens in tokenised)
    return MatchText(words=words, sorted_words=tuple(sorted(words)), joined=f" {joined} ")


@dataclass(frozen=True, slots=True)
class _Term:
    written: str  # as in the query, phrases with their quotes
    kind: Literal["word", "prefix", "phrase"]
    key: str  # folded word, prefix, or space-separated phrase words

    def occurs(self, text: MatchText) -> bool:
        if self.kind == "word":
            return text.has_word(self.key)
        if self.kind == "prefix":
            return text.has_prefix(self.key)
        return text.has_phrase(self.key)


@dataclass(frozen=True, slots=True)
class _Not:
    child: _Node


@dataclass(frozen=True, slots=True)
class _And:
    children: tuple[_Node, ...]


@dataclass(frozen=True, slots=True)
class _Or:
    children: tuple[_Node, ...]


_Node = _Term | _Not | _And | _Or


def _evaluate(node: _Node, text: MatchText) -> set[str] | None:
    """Return the terms that make `node` true (empty under NOT), or None when false."""
    if isinstance(node, _Term):
        return {node.written} if node.occurs(text) else None
    if isinstance(node, _Not):
        return None if _evaluate(node.child, text) is not None else set()
    found: set[str] = set()
    if isinstance(node, _And):
        for child in node.children:
            terms = _evaluate(child, text)
            if terms is None:
                return None
            found |= terms
        return found
    # OR evaluates every branch so that all the terms that matched are reported.
    matched = False
    for child in node.children:
        terms = _evaluate(child, text)
        if terms is not None:
            matched = True
            found |= terms
    return found if matched else None


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed topic query; build it with `parse_query`."""

    source: str
    terms: tuple[str, ...]  # unique, in order of appearance, as written
    root: _Node = field(repr=False, compare=False)
    term_nodes: tuple[_Term, ...] = field(repr=False, compare=False)

    def match(self, text: MatchText) -> tuple[str, ...] | None:
        """Return the sorted terms that made `text` match, or None when it does not.

        A query satisfied only through NOT (`NOT sport`) matches with no terms: ().
        """
        terms = _evaluate(self.root, text)
        return None if terms is None else tuple(sorted(terms))


def explain(query: Query, text: MatchText) -> list[tuple[str, bool]]:
    """Return each term of `query` and whether it occurs in `text`."""
    return [(term.written, term.occurs(text)) for term in query.term_nodes]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: _TokenKind
    text: str
    pos: int


def _lex(source: str) -> list[_Token]:
    """Split `source` into tokens, rejecting unterminated quotes."""
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in _PARENS:
            tokens.append(_Token(_PARENS[ch], ch, i))
            i += 1
        elif ch in _CLOSING_QUOTE:
            close = source.find(_CLOSING_QUOTE[ch], i + 1)
            if close < 0:
                raise QuerySyntaxError("unterminated quote", source, i)
            tokens.append(_Token("phrase", source[i : close + 1], i))
            i = close + 1
        else:
            j = i
            while j < n and not source[j].isspace() and source[j] not in '()"\u201c':
                j += 1
            text = source[i:j]
            tokens.append(_Token(_OPERATORS.get(text, "word"), text, i))
            i = j
    tokens.append(_Token("end", "", n))
    return tokens


def _term(token: _Token, source: str) -> _Term:
    """Build the term for a word or phrase token, rejecting empty or odd ones."""
    text, pos = token.text, token.pos
    if token.kind == "phrase":
        inner = text[1:-1]
        if "*" in inner:
            where = pos + 1 + inner.index("*")
            raise QuerySyntaxError("wildcards are not supported inside phrases", source, where)
        words = _words(inner)
        if not words:
            raise QuerySyntaxError("empty phrase", source, pos)
        return _Term(text, "word" if len(words) == 1 else "phrase", " ".join(words))
    if text == "*":
        raise QuerySyntaxError(
            "a lone '*' is not a term; end a word with it: sanction*", source, pos
        )
    star = text.find("*")
    if 0 <= star < len(text) - 1:
        raise QuerySyntaxError("'*' may only end a word", source, pos + star)
    if text.startswith("-") and len(text) > 1:
        raise QuerySyntaxError("'-' does not exclude a word here; use NOT", source, pos)
    words = _words(text.rstrip("*"))
    if not words:
        raise QuerySyntaxError(f"{text!r} has no letters or digits", source, pos)
    if star >= 0:
        if len(words) > 1:
            raise QuerySyntaxError("a wildcard needs a single word before '*'", source, pos)
        return _Term(text, "prefix", words[0])
    return _Term(text, "word" if len(words) == 1 else "phrase", " ".join(words))


_STARTS_OPERAND: tuple[_TokenKind, ...] = ("word", "phrase", "not", "(")


class _Parser:
    """Recursive-descent parser over the token list; see the grammar above."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _lex(source)
        self.i = 0
        self.depth = 0
        self.terms: dict[str, _Term] = {}

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.source, pos)

    def need_operand(self, operator: _Token) -> None:
        """Fail unless a term, NOT or '(' follows `operator`."""
        nxt = self.peek()
        if nxt.kind == "end":
            raise self.error(f"{operator.text!r} needs a term after it", operator.pos)
        if nxt.kind not in _STARTS_OPERAND:
            message = f"expected a term after {operator.text!r}, found {nxt.text!r}"
            raise self.error(message, nxt.pos)

    def parse(self) -> Query:
        if self.peek().kind == "end":
            raise self.error("empty query", 0)
        root = self.or_expr()
        extra = self.peek()
        if extra.kind != "end":  # only a ')' can be left: everything else is consumed
            raise self.error("unmatched ')'", extra.pos)
        return Query(self.source, tuple(self.terms), root, tuple(self.terms.values()))

    def or_expr(self) -> _Node:
        children = [self.and_expr()]
        while self.peek().kind == "or":
            self.need_operand(self.take())
            children.append(self.and_expr())
        return children[0] if len(children) == 1 else _Or(tuple(children))

    def and_expr(self) -> _Node:
        children = [self.not_expr()]
        while True:
            kind = self.peek().kind
            if kind == "and":
                self.need_operand(self.take())
            elif kind not in _STARTS_OPERAND:
                break
            children.append(self.not_expr())
        return children[0] if len(children) == 1 else _And(tuple(children))

    def not_expr(self) -> _Node:
        if self.peek().kind != "not":
            return self.primary()
        token = self.take()
        self.need_operand(token)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("query is nested too deeply", token.pos)
        child = self.not_expr()
        self.depth -= 1
        return _Not(child)

    def primary(self) -> _Node:
        token = self.take()
        if token.kind in ("word", "phrase"):
            term = _term(token, self.source)
            return self.terms.setdefault(term.written, term)
        if token.kind == "(":
            if self.peek().kind == ")":
                raise self.error("empty parentheses", token.pos)
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error("query is nested too deeply", token.pos)
            inner = self.or_expr()
            self.depth -= 1
            if self.peek().kind != ")":
                raise self.error("unclosed '('", token.pos)
            self.take()
            return inner
        if token.kind == ")":
            raise self.error("unmatched ')'", token.pos)
        # AND/OR where a term should start: nothing on their left.
        raise self.error(f"{token.text!r} needs a term before it", token.pos)


def parse_query(query: str) -> Query:
    """Parse `query`, raising QuerySyntaxError with the 0-based position of the fault."""
    return _Parser(query).parse()
