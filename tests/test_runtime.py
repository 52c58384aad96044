"""Start-up heap freezing; the process's one JSON log format for every library."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
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


_LOG_EVERYWHERE = """
import logging, logging.config, warnings
from incident_service.observability import logging_config
logging.config.dictConfig(logging_config("INFO"))
logging.captureWarnings(True)
from dbos._logger import dbos_logger, init_logger
init_logger()  # what DBOS() does when a worker starts
dbos_logger.warning("dbos line")
dbos_logger.info("dbos chatter")  # start-up narration: quiet unless LOG_LEVEL=DEBUG
logging.getLogger("yoyo.migrations").info("yoyo chatter")
logging.getLogger("litestar").warning("litestar line")
logging.getLogger("uvicorn.error").warning("uvicorn line")
logging.getLogger("uvicorn.error").info("uvicorn chatter")
logging.getLogger("incident_service.x").error("key isk_abcdef0123 in an error")
warnings.warn("a warning line", stacklevel=1)
"""


def test_every_library_logs_one_json_line_per_record_without_keys() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOG_EVERYWHERE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    records = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert {r["message"].split(" line")[0] for r in records if " line" in r["message"]} >= {
        "dbos",
        "litestar",
        "uvicorn",
    }
    assert any("a warning line" in r["message"] for r in records)
    assert not [r for r in records if "chatter" in r["message"]]
    assert "isk_abcdef0123" not in done.stderr and "isk_***" in done.stderr
