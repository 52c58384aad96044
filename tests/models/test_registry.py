"""The registry on real PostgreSQL with the real migrations (the session test database)."""

from __future__ import annotations

import secrets
from datetime import datetime

import numpy as np
import psycopg
import pytest

from models import registry
from models.features import FeatureSpec
from models.serving import Artifact


def _artifact(seed: int) -> Artifact:
    rng = np.random.default_rng(seed)
    spec = FeatureSpec(64, (), ())

    def net(outputs: int) -> dict[str, np.ndarray]:
        return {
            "wide": rng.normal(size=(1, spec.dim, outputs)).astype(np.float32),
            "embed": rng.normal(size=(1, spec.dim, 4)).astype(np.float32),
            "b1": np.zeros((1, 4), np.float32),
            "w2": rng.normal(size=(1, 4, outputs)).astype(np.float32),
            "b2": np.zeros((1, outputs), np.float32),
        }

    return Artifact(spec, net(4), np.zeros(4), net(3), np.array([0.0, 1.0, 10.0, 100.0]))


def _metrics(f1: float, mae: float) -> dict[str, dict[str, float]]:
    return {"severity": {"macro_f1": f1}, "ttr": {"mae_hours": mae}}


WINDOW = (datetime(2016, 3, 1), datetime(2016, 3, 31), datetime(2016, 4, 1))


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url) as connection:
        yield connection


def test_beats_needs_no_worse_on_both_and_better_on_one():
    assert registry.beats(_metrics(0.5, 40), _metrics(0.4, 40)).promote
    assert registry.beats(_metrics(0.5, 39), _metrics(0.5, 40)).promote
    assert not registry.beats(_metrics(0.6, 41), _metrics(0.5, 40)).promote
    assert not registry.beats(_metrics(0.5, 40), _metrics(0.5, 40)).promote


def test_register_promote_reject_and_roll_back(conn):
    name = f"test-{secrets.token_hex(4)}"
    first = _artifact(1)
    v1 = registry.register(conn, first, _metrics(0.4, 50), WINDOW, "alice", name)
    assert registry.promote_if_better(conn, v1, _metrics(0.4, 50), None, "alice", name).promote
    v2 = registry.register(conn, _artifact(2), _metrics(0.5, 45), WINDOW, "bob", name)
    assert registry.promote_if_better(
        conn, v2, _metrics(0.5, 45), _metrics(0.4, 50), "bob", name
    ).promote
    v3 = registry.register(conn, _artifact(3), _metrics(0.3, 60), WINDOW, "carol", name)
    rejected = registry.promote_if_better(
        conn, v3, _metrics(0.3, 60), _metrics(0.5, 45), "carol", name
    )
    assert not rejected.promote and "worse" in rejected.reason
    assert (v1, v2, v3) == (1, 2, 3)
    current = registry.active(conn, name)
    assert current is not None and current[0] == 2
    assert registry.rollback(conn, "dave", name) == 1
    version, artifact = registry.active(conn, name) or (0, None)
    assert version == 1 and artifact is not None
    # The artifact survives the round trip through bytea exactly.
    for key, value in first.severity.items():
        np.testing.assert_array_equal(artifact.severity[key], value)
    statuses = {v.version: v.status for v in registry.versions(conn, name)}
    assert statuses == {1: "active", 2: "retired", 3: "candidate"}
    events = conn.execute(
        "select version, event, actor from model_version_events where name = %s order by id",
        (name,),
    ).fetchall()
    assert events == [
        (1, "registered", "alice"),
        (1, "promoted", "alice"),
        (2, "registered", "bob"),
        (1, "retired", "bob"),
        (2, "promoted", "bob"),
        (3, "registered", "carol"),
        (3, "rejected", "carol"),
        (2, "retired", "dave"),
        (1, "rolled_back", "dave"),
    ]


def test_rollback_without_history_is_refused(conn):
    name = f"test-{secrets.token_hex(4)}"
    with pytest.raises(LookupError):
        registry.rollback(conn, "eve", name)
