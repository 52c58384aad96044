"""Scoring without JAX: the exported weights and a NumPy forward pass (the service's hot path).

`Artifact` is everything a model version is: the feature spec, both networks' weights, the
severity decision offsets and the time bins. `score()` turns one `OpenedIncident` into a
`Prediction` in well under a millisecond.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from models.features import FeatureSpec, SparseBatch, featurize
from models.records import SEVERITIES, OpenedIncident
from models.survival import expected_remaining, quantiles

NpParams = dict[str, NDArray[np.float32]]
QUANTILES = (0.1, 0.5, 0.9)


def forward_np(
    params: NpParams, indices: NDArray[np.int32], values: NDArray[np.float32]
) -> NDArray[np.float64]:
    """(n, k) sparse rows -> (n, C) logits; the same arithmetic as `models.nets.forward`."""
    gathered = params["embed"][indices]  # (n, k, H)
    hidden = np.maximum(np.einsum("nkh,nk->nh", gathered, values) + params["b1"], 0.0)
    wide = np.einsum("nkc,nk->nc", params["wide"][indices], values)
    return np.asarray(wide + hidden @ params["w2"] + params["b2"], dtype=np.float64)


def softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float64)


def ensemble_proba(
    stacked: NpParams, indices: NDArray[np.int32], values: NDArray[np.float32]
) -> NDArray[np.float64]:
    """Mean softmax over an ensemble whose arrays carry a leading member axis (E, ...).

    All members in one set of array operations (per-member calls cost more in overhead
    than in arithmetic for one incident).
    """
    hidden = np.einsum("enkh,nk->enh", stacked["embed"][:, indices], values)
    hidden = np.maximum(hidden + stacked["b1"][:, None, :], 0.0)
    wide = np.einsum("enkc,nk->enc", stacked["wide"][:, indices], values)
    logits = wide + np.matmul(hidden, stacked["w2"]) + stacked["b2"][:, None, :]
    z = logits - logits.max(axis=2, keepdims=True)
    e = np.exp(z.astype(np.float64))
    return np.asarray((e / e.sum(axis=2, keepdims=True)).mean(axis=0), dtype=np.float64)


@dataclass(frozen=True)
class Prediction:
    """What the models say about one incident."""

    severity_probabilities: dict[str, float]
    suggested_severity: str
    ttr_p10_hours: float
    ttr_p50_hours: float
    ttr_p90_hours: float
    expected_remaining_hours: float

    def to_json(self) -> dict[str, object]:
        return {
            "severity_probabilities": self.severity_probabilities,
            "suggested_severity": self.suggested_severity,
            "sev1_probability": self.severity_probabilities[SEVERITIES[0]],
            "ttr_p10_hours": self.ttr_p10_hours,
            "ttr_p50_hours": self.ttr_p50_hours,
            "ttr_p90_hours": self.ttr_p90_hours,
            "expected_remaining_hours": self.expected_remaining_hours,
        }


@dataclass(frozen=True)
class Artifact:
    """One trained model version, JAX-free."""

    spec: FeatureSpec
    severity: NpParams  # each array with a leading ensemble-member axis (E, ...)
    severity_offsets: NDArray[np.float64]  # (4,) added to logits before the arg-max
    ttr: NpParams
    edges: NDArray[np.float64]  # (B + 1,) hours
    # How it was trained (epochs, choices made on the validation window, the config).
    training: dict[str, object] = field(default_factory=dict)

    def severity_proba(self, batch: SparseBatch) -> NDArray[np.float64]:
        """(n, 4) calibrated-as-trained probabilities (offsets are not applied to them)."""
        return ensemble_proba(self.severity, batch.indices, batch.values)

    def suggested(self, proba: NDArray[np.float64]) -> NDArray[np.int64]:
        """(n,) chosen class: arg-max of log-probabilities plus the tuned offsets."""
        return np.asarray(
            np.argmax(np.log(proba + 1e-12) + self.severity_offsets, axis=1), dtype=np.int64
        )

    def ttr_pmf(self, batch: SparseBatch) -> NDArray[np.float64]:
        """(n, B) probability of resolution in each time bin."""
        return ensemble_proba(self.ttr, batch.indices, batch.values)

    def score(self, incident: OpenedIncident, elapsed_hours: float = 0.0) -> Prediction:
        idx, val = featurize(incident, self.spec)
        batch = SparseBatch(idx[None, :], val[None, :])
        proba = self.severity_proba(batch)
        pmf = self.ttr_pmf(batch)
        q = quantiles(pmf, self.edges, QUANTILES)[0]
        remaining = expected_remaining(pmf, self.edges, np.array([elapsed_hours]))[0]
        return Prediction(
            severity_probabilities={s: float(p) for s, p in zip(SEVERITIES, proba[0], strict=True)},
            suggested_severity=SEVERITIES[int(self.suggested(proba)[0])],
            ttr_p10_hours=float(q[0]),
            ttr_p50_hours=float(q[1]),
            ttr_p90_hours=float(q[2]),
            expected_remaining_hours=float(remaining),
        )

    def to_bytes(self) -> bytes:
        """One .npz holding every array, plus the spec as JSON."""
        arrays: dict[str, NDArray[np.generic]] = {
            f"severity.{k}": v for k, v in self.severity.items()
        }
        arrays |= {f"ttr.{k}": v for k, v in self.ttr.items()}
        arrays["severity_offsets"] = self.severity_offsets
        arrays["edges"] = self.edges
        arrays["spec"] = np.frombuffer(json.dumps(self.spec.to_json()).encode(), dtype=np.uint8)
        arrays["training"] = np.frombuffer(json.dumps(self.training).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Artifact:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            spec = FeatureSpec.from_json(json.loads(z["spec"].tobytes().decode()))
            sev = {k.split(".", 1)[1]: z[k] for k in z.files if k.startswith("severity.")}
            ttr = {k.split(".", 1)[1]: z[k] for k in z.files if k.startswith("ttr.")}
            training = json.loads(z["training"].tobytes().decode())
            return cls(spec, sev, z["severity_offsets"], ttr, z["edges"], training)
