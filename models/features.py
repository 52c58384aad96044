"""The one feature function: an `OpenedIncident` to a sparse vector, for training and serving.

Layout of the vector (dimension `FeatureSpec.dim`):
    [0, hash_dim)                    hashed `field=value`, `service=...`, text word uni/bigrams
                                     and character trigrams (a stable hash, not Python's)
    hour of day (24), day of week (7), one-hot
    numeric facts: log1p(value), then a presence flag, per name in `numeric_names`
    recent counts: log1p(count), per name in `recent_names`
An incident has at most a few hundred non-zero entries, so it is carried as (indices, values)
and the first layer of every model is a gather-and-sum (`models/nets.py`, `models/serving.py`).
"""

from __future__ import annotations

import itertools
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.records import OpenedIncident

_WORD = re.compile(r"[a-z0-9_]+")
# Long descriptions add little beyond their start and cost time on the hot path.
MAX_TEXT_CHARS = 2000


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to rebuild the feature function exactly; stored with each model."""

    hash_dim: int
    numeric_names: tuple[str, ...]
    recent_names: tuple[str, ...]
    text_weight: float = 1.0
    # Pairs of fields whose combination is hashed too ("category=x|symptom=y"): a priority
    # is usually decided by what broke where, not by either alone.
    crosses: tuple[tuple[str, str], ...] = ()
    # Numeric facts also as hashed buckets, this many per doubling of 1 + value (0: off):
    # an effect with a threshold ("a deploy in the last half hour") is one weight to learn
    # in a bucket, while a log-linear input must bend it out of the hidden layer.
    numeric_buckets: int = 0
    version: int = 1

    @property
    def dim(self) -> int:
        return self.hash_dim + 24 + 7 + 2 * len(self.numeric_names) + len(self.recent_names)

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            hash_dim=int(data["hash_dim"]),
            numeric_names=tuple(str(n) for n in data["numeric_names"]),
            recent_names=tuple(str(n) for n in data["recent_names"]),
            text_weight=float(data.get("text_weight", 1.0)),
            crosses=tuple((str(a), str(b)) for a, b in data.get("crosses", ())),
            numeric_buckets=int(data.get("numeric_buckets", 0)),
            version=int(data.get("version", 1)),
        )


def _bucket(token: str, dim: int) -> int:
    return zlib.crc32(token.encode("utf-8")) % dim


def _text_tokens(text: str) -> list[str]:
    lowered = text[:MAX_TEXT_CHARS].lower()
    words = _WORD.findall(lowered)
    tokens = [f"w:{w}" for w in words]
    tokens += [f"b:{a} {b}" for a, b in itertools.pairwise(words)]
    for w in set(words):
        padded = f" {w} "
        tokens += [f"c:{padded[i : i + 3]}" for i in range(len(padded) - 2)]
    return tokens


def featurize(
    incident: OpenedIncident, spec: FeatureSpec
) -> tuple[NDArray[np.int32], NDArray[np.float32]]:
    """The sparse feature vector of one incident.

    Returns:
        indices: (k,) int32, sorted and distinct, each < spec.dim.
        values: (k,) float32, the non-zero entries at those indices.
    """
    acc: dict[int, float] = {}
    for name, value in sorted(incident.fields.items()):
        j = _bucket(f"f:{name}={value}", spec.hash_dim)
        acc[j] = acc.get(j, 0.0) + 1.0
    for a, b in spec.crosses:
        va, vb = incident.fields.get(a), incident.fields.get(b)
        if va is not None and vb is not None:
            j = _bucket(f"x:{a}={va}|{b}={vb}", spec.hash_dim)
            acc[j] = acc.get(j, 0.0) + 1.0
    if spec.numeric_buckets:
        for name in spec.numeric_names:
            number = incident.numeric.get(name)
            if number is not None and math.isfinite(number):
                level = int(spec.numeric_buckets * math.log2(1.0 + max(number, 0.0)))
                j = _bucket(f"n:{name}={level}", spec.hash_dim)
                acc[j] = acc.get(j, 0.0) + 1.0
    for service in sorted(set(incident.services)):
        j = _bucket(f"s:{service}", spec.hash_dim)
        acc[j] = acc.get(j, 0.0) + 1.0
    tokens = _text_tokens(incident.text)
    if tokens:
        # Text counts are scaled to unit length so long texts do not drown the fields.
        counts: dict[int, float] = {}
        for t in tokens:
            j = _bucket(t, spec.hash_dim)
            counts[j] = counts.get(j, 0.0) + 1.0
        norm = math.sqrt(sum(c * c for c in counts.values()))
        for j, c in counts.items():
            acc[j] = acc.get(j, 0.0) + spec.text_weight * c / norm
    base = spec.hash_dim
    acc[base + incident.opened_at.hour] = 1.0
    acc[base + 24 + incident.opened_at.weekday()] = 1.0
    base += 31
    for i, name in enumerate(spec.numeric_names):
        number = incident.numeric.get(name)
        if number is not None and math.isfinite(number):
            acc[base + 2 * i] = math.log1p(max(number, 0.0))
            acc[base + 2 * i + 1] = 1.0
    base += 2 * len(spec.numeric_names)
    for i, name in enumerate(spec.recent_names):
        acc[base + i] = math.log1p(max(incident.recent.get(name, 0), 0))
    keys = sorted(j for j, v in acc.items() if v != 0.0)
    return (
        np.asarray(keys, dtype=np.int32),
        np.asarray([acc[j] for j in keys], dtype=np.float32),
    )


@dataclass(frozen=True)
class SparseBatch:
    """Padded sparse rows: `indices` and `values` are (n, k_max); padding is (0, 0.0)."""

    indices: NDArray[np.int32]
    values: NDArray[np.float32]

    def __len__(self) -> int:
        return int(self.indices.shape[0])

    def take(self, rows: NDArray[np.int64] | NDArray[np.bool_]) -> SparseBatch:
        return SparseBatch(self.indices[rows], self.values[rows])

    def dense(self, dim: int) -> NDArray[np.float32]:
        """(n, dim) dense copy; for tests and small baselines only."""
        out = np.zeros((len(self), dim), dtype=np.float32)
        rows = np.repeat(np.arange(len(self)), self.indices.shape[1])
        np.add.at(out, (rows, self.indices.ravel()), self.values.ravel())
        return out


def featurize_many(incidents: Sequence[OpenedIncident], spec: FeatureSpec) -> SparseBatch:
    """`featurize` over many incidents, padded into one (n, k_max) batch."""
    rows = [featurize(inc, spec) for inc in incidents]
    width = max((len(r[0]) for r in rows), default=1) or 1
    indices = np.zeros((len(rows), width), dtype=np.int32)
    values = np.zeros((len(rows), width), dtype=np.float32)
    for i, (idx, val) in enumerate(rows):
        indices[i, : len(idx)] = idx
        values[i, : len(val)] = val
    return SparseBatch(indices, values)
