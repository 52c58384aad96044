"""Reading a JSON request body as its sender means it, refusing what PostgreSQL cannot
store rather than dropping it. A leaf: the alert and integration webhooks both read
their bodies with it."""

from __future__ import annotations

import json
import math
import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class Unreadable(ValueError):
    """A body that is not JSON PostgreSQL can store; the message says why (never echoes it)."""


class _NotFinite(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise _NotFinite(text)
    return value


def _no_constant(name: str) -> float:
    raise _NotFinite(name)


def unstorable(value: object) -> str | None:
    """Why PostgreSQL (text or jsonb) cannot store this value, or None: a NUL character or
    a lone surrogate (an escape like \\ud800 decodes to one), in a key or a value."""
    if isinstance(value, str):
        if "\x00" in value:
            return "must not contain NUL characters"
        if _SURROGATE.search(value):
            return "must not contain lone surrogates (invalid unicode)"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            problem = unstorable(k) or unstorable(v)
            if problem:
                return problem
    if isinstance(value, list):
        for v in value:
            problem = unstorable(v)
            if problem:
                return problem
    return None


def load_json(body: bytes) -> Any:
    """A JSON body as senders mean it, or Unreadable: invalid UTF-8, NaN or Infinity
    (JSON has neither; Python's reader accepts them and they would be stored as null or
    not at all), NUL characters and lone surrogates are refused, not dropped."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = "is not valid UTF-8"
        raise Unreadable(msg) from exc
    try:
        value = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
        problem = unstorable(value)
    except _NotFinite as exc:
        msg = "must not contain NaN or Infinity (not JSON numbers)"
        raise Unreadable(msg) from exc
    except (ValueError, RecursionError) as exc:
        msg = "is not valid JSON"
        raise Unreadable(msg) from exc
    if problem:
        raise Unreadable(problem)
    return value
