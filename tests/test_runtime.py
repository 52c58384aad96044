"""Start-up heap freezing: live objects leave the collector's reach, garbage does not."""

from __future__ import annotations

import gc
import weakref

from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from incident_service.runtime import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_garbage_is_collected_before_the_rest_is_frozen() -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle only the collector can free
    gone = weakref.ref(a)
    del a, b
    gc.unfreeze()
    freeze_startup_heap()
    assert gone() is None, "garbage was frozen instead of collected"
    assert gc.get_freeze_count() > 0


async def test_the_app_freezes_its_heap_when_it_starts(settings: Settings) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/health")).status_code == 200
        assert gc.get_freeze_count() > 0
