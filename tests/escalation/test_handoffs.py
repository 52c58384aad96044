"""The next hand-offs of a schedule (pure): rotations at their wall-clock time in the
schedule's zone, and overrides starting and ending, to the minute."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from incident_service.escalation.schedules import Layer, Override, handoffs


def test_a_daily_rotation_hands_off_at_its_local_time() -> None:
    layer = Layer(
        name="primary",
        rotation="daily",
        participants=["ada", "bo"],
        starts=date(2026, 1, 1),
        handoff_time=time(9, 30),
    )
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    found = handoffs("Europe/Paris", [layer], [], start, count=3)
    # 09:30 in Paris is 08:30 UTC in March (before summer time on the 29th).
    assert [h.at for h in found] == [
        datetime(2026, 3, 3, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 4, 8, 30, tzinfo=UTC),
        datetime(2026, 3, 5, 8, 30, tzinfo=UTC),
    ]
    assert [h.person for h in found][:2] in (["ada", "bo"], ["bo", "ada"])
    assert all(h.source == "layer:primary" for h in found)


def test_an_override_is_a_hand_off_there_and_back() -> None:
    layer = Layer(name="primary", rotation="weekly", participants=["ada"], starts=date(2026, 1, 5))
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    cover = Override("cy", start + timedelta(hours=2, minutes=7), start + timedelta(hours=5), start)
    found = handoffs("UTC", [layer], [cover], start, count=2)
    assert [(h.at, h.person, h.source) for h in found] == [
        (start + timedelta(hours=2, minutes=7), "cy", "override"),
        (start + timedelta(hours=5), "ada", "layer:primary"),
    ]


def test_nobody_changes_nothing_within_the_horizon() -> None:
    layer = Layer(name="solo", rotation="daily", participants=["ada"], starts=date(2026, 1, 1))
    start = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    assert handoffs("UTC", [layer], [], start, horizon=timedelta(days=2)) == []
