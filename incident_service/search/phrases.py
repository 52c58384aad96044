"""The adjacent lexeme pairs a search query requires of every row it matches.

A row's `search_pairs` (migration 0093) holds each pair of lexemes at positions n and
n + 1 of its `search_tsv`, as `'<first> <second>'`. A query's phrase `'a' <-> 'b'` can only
match a row that holds `'a b'`: the pairs are looked up in their GIN index and the exact
query is checked on those rows only. Pairs are taken only where that is certain (a phrase
of plain lexemes, under AND); anything else (OR, NOT, a gap left by a stop word, a syntax
not expected here) adds no pair and is checked as before.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

# As the migration cuts them: a GIN key must stay small; a cut only adds candidates.
LEXEME_CHARS = 100

_TOKEN = re.compile(r"\s*(?:'((?:[^'\\]|''|\\.)*)'|(<->|<\d+>|[&|!()]))")


@dataclass(frozen=True)
class _Lexeme:
    text: str


@dataclass(frozen=True)
class _Op:
    op: str  # "&", "|", "!", or a phrase distance as "<n>"
    args: tuple[_Lexeme | _Op, ...]


_Node = _Lexeme | _Op


class _Unexpected(Exception):
    """A query text outside the forms parsed here: no pairs are required of it."""


def _tokens(text: str) -> list[str | _Lexeme]:
    out: list[str | _Lexeme] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _Unexpected(text[pos:])
        if match.group(1) is not None:
            raw = match.group(1)
            out.append(_Lexeme(re.sub(r"''|\\(.)", lambda m: m.group(1) or "'", raw)))
        else:
            out.append(match.group(2))
        pos = match.end()
    return out


class _Parser:
    """tsquery's text form, by its operators' precedence: `!`, then `<n>`, `&`, `|`."""

    def __init__(self, tokens: list[str | _Lexeme]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> str | _Lexeme | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str | _Lexeme:
        token = self.peek()
        if token is None:
            raise _Unexpected("end of query")
        self.at += 1
        return token

    def parse(self) -> _Node:
        node = self.either()
        if self.peek() is not None:
            raise _Unexpected(str(self.peek()))
        return node

    def either(self) -> _Node:
        node = self.both()
        while self.peek() == "|":
            self.take()
            node = _Op("|", (node, self.both()))
        return node

    def both(self) -> _Node:
        node = self.phrase()
        while self.peek() == "&":
            self.take()
            node = _Op("&", (node, self.phrase()))
        return node

    def phrase(self) -> _Node:
        node = self.unary()
        while isinstance(self.peek(), str) and str(self.peek()).startswith("<"):
            op = str(self.take())
            node = _Op(op, (node, self.unary()))
        return node

    def unary(self) -> _Node:
        item = self.take()
        if isinstance(item, _Lexeme):
            return item
        if item == "!":
            return _Op("!", (self.unary(),))
        if item == "(":
            node = self.either()
            if self.take() != ")":
                raise _Unexpected("unbalanced parenthesis")
            return node
        raise _Unexpected(item)


def _phrase_leaves(node: _Node) -> list[tuple[str, str]] | None:
    """A phrase of plain lexemes as (lexeme, operator to its left) in order, else None."""
    if isinstance(node, _Lexeme):
        return [(node.text, "")]
    if not node.op.startswith("<"):
        return None
    left, right = (_phrase_leaves(arg) for arg in node.args)
    if left is None or right is None:
        return None
    # The operator sits between the left side's last lexeme and the right side's first
    # (PostgreSQL measures a phrase's distance from the end of its left operand).
    return [*left, (right[0][0], node.op), *right[1:]]


def _required(node: _Node) -> frozenset[str]:
    if isinstance(node, _Lexeme):
        return frozenset()
    if node.op == "&":
        return _required(node.args[0]) | _required(node.args[1])
    if node.op == "|":
        return _required(node.args[0]) & _required(node.args[1])
    if node.op == "!":
        return frozenset()
    leaves = _phrase_leaves(node)
    if leaves is None:
        return frozenset()
    return frozenset(
        f"{first[:LEXEME_CHARS]} {second[:LEXEME_CHARS]}"
        for (first, _), (second, op) in itertools.pairwise(leaves)
        if op == "<->"
    )


def _exact(node: _Node) -> bool:
    """True when holding the pairs is the same as matching: an AND of two-lexeme phrases
    whose lexemes a pair keeps whole (no cut, no space that would make a pair ambiguous)."""
    if isinstance(node, _Lexeme):
        return False
    if node.op == "&":
        return all(_exact(arg) for arg in node.args)
    return node.op == "<->" and all(
        isinstance(arg, _Lexeme) and len(arg.text) <= LEXEME_CHARS and " " not in arg.text
        for arg in node.args
    )


@dataclass(frozen=True)
class Pairs:
    """The pairs every row matching a query holds (sorted), and whether holding them is
    the same as matching (then no row needs the exact check)."""

    pairs: tuple[str, ...] = ()
    exact: bool = False


def required_pairs(tsquery_text: str) -> Pairs:
    """The pairs of a query (`tsquery::text`); none when the query has no phrase or is of
    a form not parsed here."""
    try:
        tree = _Parser(_tokens(tsquery_text)).parse()
    except (_Unexpected, IndexError, RecursionError):
        return Pairs()
    pairs = tuple(sorted(_required(tree)))
    return Pairs(pairs, bool(pairs) and _exact(tree))
