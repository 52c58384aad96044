"""Every date the escalation API accepts lies in 1970..2199; outside it is a 400 naming the
field, and who-is-on-call answers for every accepted input (a property test)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incident_service.escalation.schedules import (
    EARLIEST,
    LATEST,
    Layer,
    Override,
    in_range,
    on_call,
)

LAYER = {"name": "primary", "rotation": "daily", "participants": ["ann"], "starts": "2024-01-01"}


@pytest.mark.parametrize("starts", ["9999-12-31", "0001-01-01", "1969-12-31", "2200-01-01"])
async def test_a_far_layer_start_is_400_naming_it(client, team, starts) -> None:
    body = {"name": "far", "team": team, "timezone": "UTC", "layers": [LAYER | {"starts": starts}]}
    answer = await client.post("/api/v1/oncall-schedules", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["extra"][0]["key"] == "layers.0.starts", answer.text


@pytest.mark.parametrize(
    "at", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z"]
)
async def test_a_far_oncall_question_is_400_naming_at(client, team, at) -> None:
    body = {"name": "near", "team": team, "timezone": "Pacific/Kiritimati", "layers": [LAYER]}
    sid = (await client.post("/api/v1/oncall-schedules", json=body)).json()["id"]
    answer = await client.get(f"/api/v1/oncall-schedules/{sid}/oncall", params={"at": at})
    assert answer.status_code == 400, answer.text
    assert answer.json()["extra"][0]["key"] == "at"
    edge = await client.get(
        f"/api/v1/oncall-schedules/{sid}/oncall", params={"at": "2199-12-31T23:59:59-12:00"}
    )
    assert edge.status_code == 400  # 2200-01-01 UTC: just past the range
    inside = await client.get(
        f"/api/v1/oncall-schedules/{sid}/oncall", params={"at": "1970-01-01T00:00:00+00:00"}
    )
    assert inside.status_code == 200, inside.text


@pytest.mark.parametrize("field", ["starts_at", "ends_at"])
async def test_a_far_override_is_400_naming_the_field(client, team, field) -> None:
    body = {"name": "o", "team": team, "timezone": "UTC", "layers": [LAYER]}
    sid = (await client.post("/api/v1/oncall-schedules", json=body)).json()["id"]
    override = {
        "person": "x",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00Z",
    } | {field: "9999-12-31T23:59:59-14:00"}
    answer = await client.post(f"/api/v1/oncall-schedules/{sid}/overrides", json=override)
    assert answer.status_code == 400, answer.text
    assert answer.json()["extra"][0]["key"] == field


async def test_a_stored_schedule_from_before_the_bounds_is_a_409_not_a_500(
    client, database_url, team
) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "insert into oncall_schedules (team, name, timezone, layers, updated_by)"
            " values (%s, 'legacy', 'UTC', %s, 'tests') returning id",
            (team, Jsonb([LAYER | {"starts": "9999-12-31"}])),
        ).fetchone()
    assert row is not None
    answer = await client.get(f"/api/v1/oncall-schedules/{row[0]}/oncall")
    assert answer.status_code == 409, answer.text
    assert "legacy" in answer.json()["detail"]


ZONES = sorted(available_timezones() | {"UTC"})
SECONDS = int((LATEST - EARLIEST).total_seconds()) - 1


@st.composite
def layers(draw: st.DrawFn) -> Layer:
    return Layer(
        name=draw(st.sampled_from(["a", "b", "c"])),
        rotation=draw(st.sampled_from(["daily", "weekly"])),
        participants=draw(st.lists(st.sampled_from(["ann", "bob", "cy"]), min_size=1, max_size=3)),
        starts=draw(st.dates(min_value=EARLIEST.date(), max_value=LATEST.date() - timedelta(1))),
        handoff_time=draw(st.times(max_value=time(23, 59, 59))),
        handoff_weekday=draw(st.integers(0, 6)),
    )


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """Any instant in the accepted range, in any offset -14:00..+14:00."""
    utc = EARLIEST + timedelta(seconds=draw(st.integers(0, SECONDS)))
    offset = timedelta(minutes=draw(st.integers(-14 * 60, 14 * 60)))
    return utc.astimezone(timezone(offset))


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    stack=st.lists(layers(), min_size=1, max_size=4),
    at=instants(),
    override_span=st.one_of(st.none(), st.tuples(instants(), st.integers(1, 10_000))),
)
def test_who_is_on_call_is_total_over_the_accepted_range(zone, stack, at, override_span) -> None:
    overrides = []
    if override_span is not None:
        start, minutes = override_span
        end = min(start + timedelta(minutes=minutes), LATEST - timedelta(seconds=1))
        if end > start:
            overrides.append(Override("ovr", start, end, datetime(2024, 1, 1, tzinfo=UTC)))
    answer = on_call(zone, stack, overrides, at)
    assert answer.source == "nobody" or answer.person is not None
    assert in_range(at)


def test_the_range_edges() -> None:
    assert in_range(EARLIEST) and not in_range(EARLIEST - timedelta(microseconds=1))
    assert in_range(LATEST - timedelta(microseconds=1)) and not in_range(LATEST)
    assert not in_range(datetime(1, 1, 1, tzinfo=ZoneInfo("Pacific/Kiritimati")))
    assert not in_range(datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("Etc/GMT+12")))
    assert date(2199, 12, 31) == (LATEST - timedelta(days=1)).date()
