"""Scoring incidents in the request with the active model version.

The API never imports JAX: a version's artifact holds NumPy arrays and the forward pass is
NumPy (`models.serving`). The incident is mapped to what the model was trained on by
`models.service_records.opened_from_service`, the same function the training asset uses,
and featurized by the one `models.features.featurize`.

The active version is read from the registry (`model_versions`) at start-up and every
`model_refresh_s`, so promotions and rollbacks take effect without a restart. With no active
version, `score` returns None and the service works exactly as without models.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from incident_service.db import AsyncConn, fetch_one
from incident_service.observability import MODEL_SCORING
from incident_service.vocabulary import IncidentSeverity

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from models.serving import Artifact, Prediction

log = logging.getLogger(__name__)

# A version registered without a recorded evaluation has not shown it can be trusted.
NO_GATE: dict[str, Any] = {"passed": False, "failed": ["no recorded evaluation"]}


@dataclass(frozen=True, slots=True)
class ServedModel:
    name: str
    version: int
    artifact: Artifact
    # The version's quality gate as recorded at registration (`models.quality.gate`): the
    # response policies act on its predictions only when it passed.
    gate: Mapping[str, Any] = field(default_factory=lambda: NO_GATE)


class Scorer:
    """Holds the active model version of `name`; safe to share across requests."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.model: ServedModel | None = None

    async def refresh(self, conn: AsyncConn) -> None:
        """Load the active version when it changed; drop the model when none is active."""
        row = await fetch_one(
            conn,
            "select version from model_versions where name = %s and status = 'active'",
            (self.name,),
        )
        if row is None:
            if self.model is not None:
                log.info("model %s: no active version any more; scoring off", self.name)
            self.model = None
            return
        version = int(row["version"])
        if self.model is not None and self.model.version == version:
            return
        blob = await fetch_one(
            conn,
            "select artifact, metrics -> 'gate' as gate from model_versions"
            " where name = %s and version = %s",
            (self.name, version),
        )
        if blob is None:  # retired between the two reads: the next refresh settles it
            return
        from models.serving import Artifact

        artifact = await asyncio.to_thread(Artifact.from_bytes, bytes(blob["artifact"]))
        gate = blob["gate"] if isinstance(blob["gate"], dict) else NO_GATE
        self.model = ServedModel(self.name, version, artifact, gate)
        log.info("model %s: serving version %d", self.name, version)

    def score(
        self, incident: Mapping[str, Any], *, trigger: str, now: datetime | None = None
    ) -> dict[str, Any] | None:
        """The `predictions` of an incident row (the `incidents` columns), or None."""
        model = self.model
        if model is None:
            return None
        from models.service_records import opened_from_service

        now = now or datetime.now(UTC)
        elapsed = max(0.0, (now - incident["created_at"]).total_seconds() / 3600.0)
        started = time.perf_counter()
        scored = model.artifact.score(opened_from_service(incident), elapsed)
        MODEL_SCORING.observe(time.perf_counter() - started)
        return predictions_document(
            scored,
            model=model.name,
            version=model.version,
            trigger=trigger,
            scored_at=now,
            elapsed_hours=elapsed,
            gate=model.gate,
        )


def predictions_document(
    scored: Prediction,
    *,
    model: str,
    version: int,
    trigger: str,
    scored_at: datetime,
    elapsed_hours: float,
    gate: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `predictions` of an incident, as stored, returned and read by the policies
    (`predicted.<key>`); the model explorer's what-if (`pipelines/what_if.py`) builds the
    same document.
    `model_gate` says whether the version passed its quality gate (policies skip it if not)."""
    proba = scored.severity_probabilities
    gate = gate if gate is not None else NO_GATE
    return {
        "model": model,
        "model_version": version,
        "trigger": trigger,
        "scored_at": scored_at.isoformat(),
        "elapsed_hours": elapsed_hours,
        "severity_probabilities": proba,
        "suggested_severity": scored.suggested_severity,
        "sev1_probability": proba[IncidentSeverity.SEV1_CRITICAL],
        "high_severity_probability": proba[IncidentSeverity.SEV1_CRITICAL]
        + proba[IncidentSeverity.SEV2_HIGH],
        "ttr_p10_hours": scored.ttr_p10_hours,
        "ttr_p50_hours": scored.ttr_p50_hours,
        "ttr_p90_hours": scored.ttr_p90_hours,
        "expected_remaining_hours": scored.expected_remaining_hours,
        "model_gate": {
            "passed": bool(gate.get("passed")),
            "failed": list(gate.get("failed") or []),
        },
    }


async def keep_fresh(
    scorer: Scorer, pool: AsyncConnectionPool[AsyncConn], every_s: float, stop: asyncio.Event
) -> None:
    """Re-read the active version every `every_s` until `stop` (`load_now` did the first
    read); a failed read keeps the version in use."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if stop.is_set():
            return
        try:
            async with pool.connection() as conn:
                await scorer.refresh(conn)
        except Exception:  # the database may be restarting: keep serving the loaded model
            log.warning("model %s: refresh failed; keeping version in use", scorer.name)


async def load_now(scorer: Scorer, pool: AsyncConnectionPool[AsyncConn]) -> None:
    """The first load, before the app takes requests; a failure leaves scoring off until
    the next refresh."""
    try:
        async with pool.connection() as conn:
            await scorer.refresh(conn)
    except Exception:
        log.warning("model %s: could not load the active version", scorer.name, exc_info=True)
