"""Pieces every benchmark shares: a scratch database, the service as a subprocess, stats."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np

from testkit.databases import make_api_key, migrated_database, server_url
from testkit.server import served


@contextmanager
def scratch_database(prefix: str = "incident_bench") -> Iterator[str]:
    """A freshly migrated database that exists only for this benchmark run."""
    with migrated_database(server_url(), prefix) as url:
        yield url


@contextmanager
def running_service(
    database_url: str,
    *,
    workers: int = 1,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> Iterator[int]:
    """`incident-service serve` in a subprocess; yields its port once /ready answers.
    `env`: settings for this run, over this process's environment."""
    with served(database_url, workers=workers, extra=extra, env=env) as (base, _proc):
        port = urlsplit(base).port
        assert port is not None
        yield port


@dataclass(frozen=True)
class Summary:
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    p999_ms: float

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def summarize(latencies_ns: Sequence[int], seconds: float) -> Summary:
    if not latencies_ns:
        return Summary(0, seconds, float("nan"), float("nan"), float("nan"))
    arr = np.asarray(latencies_ns, dtype=np.float64) / 1e6
    p50, p99, p999 = np.percentile(arr, [50, 99, 99.9])
    return Summary(len(arr), seconds, float(p50), float(p99), float(p999))


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as `uptime` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def admin_key(database_url: str) -> str:
    """An admin API key for a benchmark's own database, with a rate limit it cannot reach."""
    return make_api_key(
        database_url, name="bench", scopes=["admin"], rate_limit=1_000_000, actor="benchmark"
    )
