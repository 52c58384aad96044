"""Validated input types shared by every request schema: text, instants, JSON numbers.

PostgreSQL cannot store NUL characters and UTF-8 cannot carry lone surrogates; both would
otherwise reach the database and fail there. Rejecting them here turns them into a 400
that names the field. Every other character (unicode, other control characters, markup,
SQL) is accepted and stored verbatim, but a name or title made only of characters that
show nothing (spaces, zero-width and format characters, fillers) counts as blank.

Instants a client gives are bounded (`EARLIEST`..`LATEST`) so that no date arithmetic on
them (time zones, rotations, windows) can leave the range Python and PostgreSQL share.

JSON has no NaN or Infinity; decoders that accept them (or read `1e400` as infinity)
would store them as null, so `non_finite_paths` finds them for a 400 naming each one.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

# Letters and symbols that render as nothing, beside whitespace and the format (Cf) and
# control (Cc) categories: Hangul fillers, the blank Braille pattern, the grapheme joiner.
_INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
_BLANK_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})


def storable(value: str) -> str:
    """The text, when PostgreSQL can store it (no NUL, no lone surrogate); else ValueError."""
    if "\x00" in value:
        msg = "must not contain NUL characters"
        raise ValueError(msg)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = "must be valid unicode (no lone surrogates)"
        raise ValueError(msg) from exc
    return value


def _shows_nothing(char: str) -> bool:
    return (
        char.isspace()
        or char in _INVISIBLE
        or unicodedata.category(char) in _BLANK_CATEGORIES
        # Variation selectors only modify the character before them.
        or "\ufe00" <= char <= "\ufe0f"
        or "\U000e0100" <= char <= "\U000e01ef"
    )


def is_blank(value: str) -> bool:
    """True when nothing of `value` would show: empty, spaces, zero-width characters."""
    return all(_shows_nothing(c) for c in value)


def _not_blank(value: str) -> str:
    if is_blank(value):
        msg = "must not be blank (spaces and invisible characters only)"
        raise ValueError(msg)
    return value


Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    AfterValidator(storable),
    AfterValidator(_not_blank),
]
Team = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(storable),
    AfterValidator(_not_blank),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(storable),
    AfterValidator(_not_blank),
]
LongText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(storable)]
# Long text that must say something (an escalation's reason, a review's action item).
Statement = Annotated[
    str,
    StringConstraints(min_length=1, max_length=20_000),
    AfterValidator(storable),
    AfterValidator(_not_blank),
]


def bounded_instant(value: datetime) -> datetime:
    """`value` (UTC when it has no offset) if within EARLIEST..LATEST, else ValueError."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    # The local year first: years 1 and 9999 are the ones an offset pushes out of range.
    if not EARLIEST.year - 1 <= aware.year <= LATEST.year or not EARLIEST <= aware < LATEST:
        msg = f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d} (UTC)"
        raise ValueError(msg)
    return aware


def bounded_day(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        msg = f"must be from {EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}"
        raise ValueError(msg)
    return value


Instant = Annotated[datetime, AfterValidator(bounded_instant)]
Day = Annotated[date, AfterValidator(bounded_day)]


def non_finite_paths(value: Any, path: str = "") -> Iterator[str]:
    """The dotted path (list items by index) of every NaN or infinite number in `value`."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from non_finite_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from non_finite_paths(item, f"{path}.{index}" if path else str(index))


def non_finite_in_json(body: bytes) -> list[str]:
    """`non_finite_paths` of a JSON text, read the lenient way (NaN, Infinity, 1e400);
    empty when it is not even that."""
    try:
        return list(non_finite_paths(json.loads(body)))
    except (ValueError, RecursionError):
        return []
