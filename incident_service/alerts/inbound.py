"""The one shape every inbound alert is reduced to before it is stored."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


class Action(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class InboundAlert:
    """One alert, whatever tool sent it.

    `dedup_key` selects the incident it feeds (PagerDuty's `dedup_key`, Alertmanager's
    `groupKey`); `member` names the individual alert inside such a group (Alertmanager's
    `fingerprint`), so a group resolves only when all of its members have.
    """

    dedup_key: str
    action: Action
    summary: str
    severity: str | None
    source: str | None
    payload: dict[str, Any]
    member: str | None = None
    services: list[str] = field(default_factory=list)
    description: str = ""


def contains_nul(value: object) -> bool:
    """PostgreSQL stores no NUL character, in text or in jsonb: such input is refused."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


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
