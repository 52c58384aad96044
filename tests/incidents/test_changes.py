"""Timeline entries and outbox events are written in one place: `incident_service.changes`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from incident_service import changes

SERVICE = Path(changes.__file__).parent
_WRITE = re.compile(r"insert\s+into\s+(incident_timeline|outbox)\b", re.IGNORECASE)


def test_no_module_but_changes_writes_the_timeline_or_the_outbox() -> None:
    writers = [
        str(p.relative_to(SERVICE))
        for p in SERVICE.rglob("*.py")
        if p != Path(changes.__file__) and _WRITE.search(p.read_text())
    ]
    assert writers == []


def test_a_timeline_entry_names_only_the_columns_it_sets() -> None:
    sql = changes.timeline_entry("note", source="x", actor="'system'", note="why")
    assert sql == (
        "insert into incident_timeline (incident_id, kind, actor, note)"
        " select incident_id, 'note', 'system', why from x"
    )


def test_an_event_with_its_filter_and_order() -> None:
    sql = changes.outbox_event(
        "paging_failed",
        source="r",
        payload=changes.json_object("level", reason="r.last_error"),
        where="ok",
        order_by="ord",
    )
    assert sql == (
        "insert into outbox (event_type, incident_id, payload) select 'paging_failed',"
        " incident_id, jsonb_build_object('level', level, 'reason', r.last_error) from r"
        " where ok order by ord"
    )


@pytest.mark.parametrize("word", ["Note", "a'b", "x; drop table outbox", ""])
def test_kinds_and_event_types_are_plain_words(word: str) -> None:
    with pytest.raises(ValueError, match="not a kind"):
        changes.timeline_entry(word, source=None, actor="'system'")
