"""Who is on call: daily and weekly hand-offs in the schedule's zone, layers, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incident_service.escalation.schedules import Layer, Override, on_call

PARIS = ZoneInfo("Europe/Paris")


def daily(**over) -> Layer:
    spec = dict(
        name="primary",
        rotation="daily",
        participants=["ann", "bob", "cid"],
        starts=date(2025, 3, 28),
        handoff_time=time(9, 0),
    )
    spec.update(over)
    return Layer.model_validate(spec)


def at(y, m, d, h, minute=0, tz=PARIS) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=tz)


@pytest.mark.parametrize(
    ("when", "person"),
    [
        (at(2025, 3, 28, 8, 59), None),  # before the first hand-off
        (at(2025, 3, 28, 9, 0), "ann"),
        (at(2025, 3, 29, 8, 59), "ann"),
        (at(2025, 3, 29, 9, 0), "bob"),
        # 30 March 2025: clocks go forward in Paris; the hand-off stays at 09:00 local.
        (at(2025, 3, 30, 8, 59), "bob"),
        (at(2025, 3, 30, 9, 0), "cid"),
        (at(2025, 3, 31, 9, 0), "ann"),
    ],
)
def test_daily_rotation_hands_off_at_local_time_across_dst(when, person) -> None:
    assert on_call("Europe/Paris", [daily()], [], when).person == person


def test_same_instant_in_utc_gives_the_same_answer() -> None:
    local = at(2025, 3, 30, 9, 30)
    assert on_call("Europe/Paris", [daily()], [], local.astimezone(UTC)).person == "cid"


def test_weekly_rotation_starts_on_the_handoff_weekday() -> None:
    layer = daily(rotation="weekly", starts=date(2025, 6, 4), handoff_weekday=0)  # a Wednesday
    zone = "Europe/Paris"
    assert on_call(zone, [layer], [], at(2025, 6, 8, 12)).person is None  # first Monday: 9th
    assert on_call(zone, [layer], [], at(2025, 6, 9, 9)).person == "ann"
    assert on_call(zone, [layer], [], at(2025, 6, 15, 23)).person == "ann"
    assert on_call(zone, [layer], [], at(2025, 6, 16, 9)).person == "bob"
    assert on_call(zone, [layer], [], at(2025, 7, 7, 9)).person == "bob"  # 4 weeks on


def test_upper_layer_wins_and_lets_lower_show_through_before_it_starts() -> None:
    base = daily()
    upper = daily(name="weekend", participants=["zed"], starts=date(2025, 4, 5))
    zone = "Europe/Paris"
    assert on_call(zone, [base, upper], [], at(2025, 4, 1, 12)).source == "layer:primary"
    answer = on_call(zone, [base, upper], [], at(2025, 4, 6, 12))
    assert (answer.person, answer.source) == ("zed", "layer:weekend")


def test_overrides_beat_layers_latest_created_wins() -> None:
    start = at(2025, 4, 1, 0)
    made = datetime(2025, 3, 1, tzinfo=UTC)
    overrides = [
        Override("olga", start, start + timedelta(days=2), made),
        Override(
            "pete",
            start + timedelta(hours=12),
            start + timedelta(hours=14),
            made + timedelta(days=1),
        ),
    ]
    zone = "Europe/Paris"
    assert on_call(zone, [daily()], overrides, at(2025, 4, 1, 11)).person == "olga"
    assert on_call(zone, [daily()], overrides, at(2025, 4, 1, 13)).person == "pete"
    assert on_call(zone, [daily()], overrides, at(2025, 4, 3, 1)).source == "layer:primary"


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        on_call("UTC", [daily()], [], datetime(2025, 4, 1, 12))
