from __future__ import annotations

import zlib
from datetime import datetime

import numpy as np
import pytest

from models.features import FeatureSpec, featurize, featurize_many
from models.records import OpenedIncident

from .factories import tiny_history

SPEC = FeatureSpec(1024, ("created_lag_hours",), ("all_24h",))
BUCKETED = FeatureSpec(1024, ("created_lag_hours",), ("all_24h",), numeric_buckets=2)


def test_vector_is_sorted_distinct_and_in_range():
    inc = OpenedIncident(
        opened_at=datetime(2025, 1, 6, 13, 5),
        text="Checkout latency high; checkout errors",
        fields={"team": "payments", "category": "db"},
        services=("checkout", "checkout", "payments"),
        numeric={"created_lag_hours": 2.0},
        recent={"all_24h": 3},
    )
    idx, val = featurize(inc, SPEC)
    assert idx.dtype == np.int32 and val.dtype == np.float32
    assert np.all(np.diff(idx) > 0)
    assert idx.min() >= 0 and idx.max() < SPEC.dim
    assert np.all(val != 0)
    dense = np.zeros(SPEC.dim)
    dense[idx] = val
    # hour 13 and Monday one-hots; the numeric (log1p) and its presence flag; recent count
    assert dense[SPEC.hash_dim + 13] == 1.0
    assert dense[SPEC.hash_dim + 24 + 0] == 1.0
    assert np.isclose(dense[SPEC.hash_dim + 31], np.log1p(2.0))
    assert dense[SPEC.hash_dim + 32] == 1.0
    assert np.isclose(dense[SPEC.hash_dim + 33], np.log1p(3))


def test_missing_numeric_leaves_value_and_flag_at_zero():
    inc = OpenedIncident(opened_at=datetime(2025, 1, 6))
    idx, val = featurize(inc, SPEC)
    dense = np.zeros(SPEC.dim)
    dense[idx] = val
    assert dense[SPEC.hash_dim + 31] == 0.0 and dense[SPEC.hash_dim + 32] == 0.0


def test_hash_is_stable_across_processes():
    # crc32, not Python's salted hash(): the same incident gives the same vector forever.
    inc = OpenedIncident(opened_at=datetime(2025, 1, 6), fields={"team": "db"})
    idx, _ = featurize(inc, FeatureSpec(1024, (), ()))
    assert 1024 + 0 in idx.tolist()
    assert set(idx.tolist()) - {1024, 1024 + 24} == {zlib.crc32(b"f:team=db") % 1024}


@pytest.mark.parametrize("spec", [SPEC, BUCKETED], ids=["plain", "bucketed"])
def test_batch_rows_equal_single_vectors(spec):
    """Training featurizes in batches, serving one incident: both give identical vectors."""
    history = tiny_history(50)
    batch = featurize_many(history.incidents, spec)
    dense = batch.dense(spec.dim)
    for i, inc in enumerate(history.incidents):
        idx, val = featurize(inc, spec)
        single = np.zeros(spec.dim, dtype=np.float32)
        single[idx] = val
        np.testing.assert_array_equal(dense[i], single)


def test_numeric_buckets_split_at_doublings():
    def hashed(hours):
        inc = OpenedIncident(opened_at=datetime(2025, 1, 6), numeric={"created_lag_hours": hours})
        idx, _ = featurize(inc, BUCKETED)
        return set(idx[idx < BUCKETED.hash_dim].tolist())

    # two buckets per doubling of 1 + hours: 0.1 h and 0.2 h share one, 0.5 h and 10 h do not
    assert len(hashed(0.1)) == 1 and hashed(0.1) == hashed(0.2)
    assert len({frozenset(hashed(h)) for h in (0.1, 0.5, 10.0)}) == 3
    # the log1p value and its presence flag are there as without buckets
    idx, val = featurize(
        OpenedIncident(opened_at=datetime(2025, 1, 6), numeric={"created_lag_hours": 2.0}),
        BUCKETED,
    )
    assert np.isclose(val[idx == BUCKETED.hash_dim + 31][0], np.log1p(2.0))


def test_spec_round_trips_through_json():
    spec = FeatureSpec(
        2048, ("a",), ("b", "c"), text_weight=0.5, crosses=(("x", "y"),), numeric_buckets=2
    )
    assert FeatureSpec.from_json(spec.to_json()) == spec
    assert spec.dim == 2048 + 31 + 2 + 2
