"""The next hand-offs of a schedule: layer turns in local time, overrides, no-change turns."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from incident_service.escalation.schedules import Layer, Override, next_handoffs

PARIS = ZoneInfo("Europe/Paris")


def layer(**over: object) -> Layer:
    spec: dict[str, object] = {
        "name": "primary",
        "rotation": "daily",
        "participants": ["ann", "bob", "cid"],
        "starts": date(2025, 3, 28),
        "handoff_time": time(9, 0),
    }
    spec.update(over)
    return Layer.model_validate(spec)


def test_daily_handoffs_stay_at_local_nine_across_dst() -> None:
    after = datetime(2025, 3, 28, 12, tzinfo=PARIS)
    changes = next_handoffs("Europe/Paris", [layer()], [], after, 3)
    assert [(c.at.astimezone(PARIS).hour, c.person) for c in changes] == [
        (9, "bob"),
        (9, "cid"),  # 30 March: clocks go forward, still 09:00 local
        (9, "ann"),
    ]
    assert [c.at.astimezone(PARIS).day for c in changes] == [29, 30, 31]
    assert all(c.source == "layer:primary" for c in changes)


def test_first_handoff_before_the_layer_starts() -> None:
    after = datetime(2025, 3, 27, 12, tzinfo=PARIS)
    changes = next_handoffs("Europe/Paris", [layer()], [], after, 1)
    assert changes[0].at == datetime(2025, 3, 28, 9, tzinfo=PARIS)
    assert changes[0].person == "ann"


def test_weekly_handoffs_on_their_weekday() -> None:
    weekly = layer(rotation="weekly", handoff_weekday=2)  # Wednesdays
    after = datetime(2025, 6, 2, tzinfo=UTC)  # a Monday
    changes = next_handoffs("Europe/Paris", [weekly], [], after, 2)
    assert [c.at.astimezone(PARIS).weekday() for c in changes] == [2, 2]
    assert changes[1].at - changes[0].at == timedelta(days=7)


def test_an_override_starts_and_ends_a_turn() -> None:
    after = datetime(2025, 4, 1, 10, tzinfo=PARIS)  # bob's day (4 days after the start)
    span = Override(
        "zoe",
        datetime(2025, 4, 1, 14, tzinfo=PARIS),
        datetime(2025, 4, 1, 18, tzinfo=PARIS),
        datetime(2025, 3, 1, tzinfo=UTC),
    )
    changes = next_handoffs("Europe/Paris", [layer()], [span], after, 3)
    assert [(c.person, c.source) for c in changes] == [
        ("zoe", "override"),
        ("bob", "layer:primary"),
        ("cid", "layer:primary"),
    ]
    assert changes[0].at == span.starts_at
    assert changes[1].at == span.ends_at


def test_a_one_person_rotation_never_changes_hands() -> None:
    solo = layer(participants=["ann"])
    after = datetime(2025, 4, 1, tzinfo=UTC)
    assert next_handoffs("Europe/Paris", [solo], [], after, 5) == []
