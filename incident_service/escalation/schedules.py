"""On-call schedules: rotation layers with daily or weekly hand-offs in the schedule's
time zone, and overrides. `on_call(...)` answers "who is on call at this instant".

Hand-offs happen at a wall-clock time in the schedule's zone, so they stay at 09:00 local
across daylight-saving changes. Later layers sit on top of earlier ones (a layer with
nobody on call lets the one below show through); an override beats every layer, and among
overlapping overrides the most recently created wins.

Every date a user gives (a layer's `starts`, an override's span, the `at` of a question) lies
in [EARLIEST, LATEST): years 1970 to 2199. Within it the arithmetic below cannot overflow in
any time zone, so `on_call` answers for every accepted input.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from incident_service.text import Name

# The range of dates the escalation API accepts (a year 9999 date overflowed the hand-off
# arithmetic, and paging failed with it).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
DATE_RANGE = "between 1970-01-01 and 2199-12-31"


def in_range(at: datetime) -> bool:
    """Whether an aware datetime lies in [EARLIEST, LATEST). The year is checked first on
    the local fields: comparing year 1 or 9999 with an offset could overflow."""
    if not 1969 <= at.year <= 2200:
        return False
    return EARLIEST <= at < LATEST


def _bounded_date(value: date) -> date:
    if not EARLIEST.date() <= value < LATEST.date():
        msg = f"must be {DATE_RANGE}"
        raise ValueError(msg)
    return value


def _bounded_datetime(value: datetime) -> datetime:
    if value.tzinfo is not None and not in_range(value):
        msg = f"must be {DATE_RANGE} (UTC)"
        raise ValueError(msg)
    return value


BoundedDate = Annotated[date, AfterValidator(_bounded_date)]
BoundedDateTime = Annotated[datetime, AfterValidator(_bounded_datetime)]


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = "not an IANA time zone (e.g. Europe/Paris, UTC)"
        raise ValueError(msg) from exc
    if value not in available_timezones() and value != "UTC":
        msg = "not an IANA time zone (e.g. Europe/Paris, UTC)"
        raise ValueError(msg)
    return value


TimeZone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]


class Layer(BaseModel):
    """One rotation: participants take turns, handing off daily or weekly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    rotation: Literal["daily", "weekly"]
    participants: list[Name] = Field(min_length=1, max_length=100)
    # The first hand-off is on `starts` (or the first `handoff_weekday` from it, weekly)
    # at `handoff_time`, local time; before it this layer has nobody on call.
    starts: BoundedDate
    handoff_time: time = time(9, 0)
    handoff_weekday: Annotated[int, Field(ge=0, le=6)] = 0  # Monday = 0, weekly only

    @model_validator(mode="after")
    def _naive_time(self) -> Layer:
        if self.handoff_time.tzinfo is not None:
            msg = "handoff_time is local wall-clock time: give it without an offset"
            raise ValueError(msg)
        return self


@dataclass(frozen=True, slots=True)
class Override:
    person: str
    starts_at: datetime
    ends_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OnCall:
    person: str | None
    source: str  # "override", "layer:<name>" or "nobody"


def layer_on_call(layer: Layer, zone: ZoneInfo, at: datetime) -> str | None:
    local = at.astimezone(zone).replace(tzinfo=None)
    first = layer.starts
    if layer.rotation == "weekly":
        first = first + timedelta(days=(layer.handoff_weekday - first.weekday()) % 7)
    first_handoff = datetime.combine(first, layer.handoff_time)
    if local < first_handoff:
        return None
    # Count hand-offs in calendar days of local wall-clock time, not in elapsed hours,
    # so a 23- or 25-hour day still hands off at handoff_time.
    days = (local.date() - first).days
    if local.time() < layer.handoff_time:
        days -= 1
    index = days if layer.rotation == "daily" else days // 7
    return layer.participants[index % len(layer.participants)]


def on_call(timezone: str, layers: list[Layer], overrides: list[Override], at: datetime) -> OnCall:
    if at.tzinfo is None:
        msg = "`at` must be timezone-aware"
        raise ValueError(msg)
    if not in_range(at):
        msg = f"`at` must be {DATE_RANGE}"
        raise ValueError(msg)
    covering = [o for o in overrides if o.starts_at <= at < o.ends_at]
    if covering:
        latest = max(covering, key=lambda o: o.created_at)
        return OnCall(latest.person, "override")
    zone = ZoneInfo(timezone)
    for layer in reversed(layers):
        person = layer_on_call(layer, zone, at)
        if person is not None:
            return OnCall(person, f"layer:{layer.name}")
    return OnCall(None, "nobody")


@dataclass(frozen=True, slots=True)
class Handoff:
    at: datetime
    person: str | None
    source: str


def _layer_handoffs(layer: Layer, zone: ZoneInfo, after: datetime, days: int) -> list[datetime]:
    """The instants (UTC) at which `layer` hands off in the `days` local days from `after`."""
    start = after.astimezone(zone).date()
    found = []
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        weekly_off = layer.rotation == "weekly" and day.weekday() != layer.handoff_weekday
        if day < layer.starts or weekly_off:
            continue
        instant = datetime.combine(day, layer.handoff_time, tzinfo=zone).astimezone(UTC)
        if instant > after and in_range(instant):
            found.append(instant)
    return found


def next_handoffs(
    timezone: str, layers: list[Layer], overrides: list[Override], after: datetime, count: int
) -> list[Handoff]:
    """The next `count` changes of who is on call after `after`: layer hand-offs and
    overrides starting or ending, each with who takes over. A hand-off that leaves the same
    person on call (a one-person rotation) is no change and is left out. Looks ahead at most
    `7 * (count + 1)` days (a weekly rotation's `count` hand-offs)."""
    zone = ZoneInfo(timezone)
    days = 7 * (count + 1)
    horizon = after + timedelta(days=days)
    instants = {t for layer in layers for t in _layer_handoffs(layer, zone, after, days)}
    for o in overrides:
        instants.update(t for t in (o.starts_at, o.ends_at) if after < t <= horizon)
    current = on_call(timezone, layers, overrides, after)
    changes: list[Handoff] = []
    for instant in sorted(instants):
        answer = on_call(timezone, layers, overrides, instant)
        if answer.person != current.person:
            changes.append(Handoff(instant, answer.person, answer.source))
            if len(changes) == count:
                break
        current = answer
    return changes
