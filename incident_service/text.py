"""Validated text types shared by every request schema.

PostgreSQL cannot store NUL characters and UTF-8 cannot carry lone surrogates; both would
otherwise reach the database and fail there. Rejecting them here turns them into a 400
that names the field. Every other character (unicode, other control characters, markup,
SQL) is accepted and stored verbatim.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, StringConstraints


def _storable(value: str) -> str:
    if "\x00" in value:
        msg = "must not contain NUL characters"
        raise ValueError(msg)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = "must be valid unicode (no lone surrogates)"
        raise ValueError(msg) from exc
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        msg = "must not be blank"
        raise ValueError(msg)
    return value


Title = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
]
Team = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
]
Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(_storable),
    AfterValidator(_not_blank),
]
LongText = Annotated[str, StringConstraints(max_length=20_000), AfterValidator(_storable)]
