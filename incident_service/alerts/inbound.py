"""The one shape every inbound alert is reduced to before it is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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
