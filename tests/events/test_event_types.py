"""Every event type the code writes to the outbox is one the feed knows: the feed converts
each row by its type (an unknown one would fail the whole page), and the OpenAPI document
describes the types it knows."""

from __future__ import annotations

import re
from pathlib import Path

import incident_service
from incident_service.events.schemas import EVENT_TYPES

_WRITTEN = re.compile(r"outbox_event\(\s*\"([a-z_]+)\"")


def test_every_event_type_written_is_known_to_the_feed() -> None:
    root = Path(incident_service.__file__).parent
    written = {
        (match.group(1), str(path.relative_to(root)))
        for path in root.rglob("*.py")
        for match in _WRITTEN.finditer(path.read_text())
    }
    assert len({kind for kind, _ in written}) >= 6, written  # the scan still finds them
    unknown = sorted((kind, where) for kind, where in written if kind not in EVENT_TYPES)
    assert not unknown, f"event types written but unknown to the feed: {unknown}"
