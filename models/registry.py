"""The model registry in PostgreSQL: versioned artifacts, promotion only on improvement, rollback.

Tables `model_versions` and `model_version_events` (migration 0040). Functions take an open
psycopg connection and never commit: the caller's transaction is the boundary. Every state
change appends an event naming who and why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from models.service_records import SERVICE_MODEL
from models.serving import Artifact

Conn = psycopg.Connection[Any]
# One name throughout: the model the API serves, which `models train`, `models list` and
# `models rollback` and the Dagster asset all default to.
DEFAULT_NAME = SERVICE_MODEL


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: int
    status: str
    metrics: dict[str, Any]
    train_as_of: datetime
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def beats(candidate: dict[str, Any], incumbent: dict[str, Any]) -> Decision:
    """Whether `candidate` beats `incumbent`, both measured on the same evaluation window.

    It must be no worse on severity macro-F1 and on time-to-resolve MAE, and strictly
    better on at least one of them.
    """
    f1_c, f1_i = candidate["severity"]["macro_f1"], incumbent["severity"]["macro_f1"]
    mae_c, mae_i = candidate["ttr"]["mae_hours"], incumbent["ttr"]["mae_hours"]
    summary = f"macro-F1 {f1_c:.4f} vs {f1_i:.4f}, MAE {mae_c:.2f} h vs {mae_i:.2f} h"
    if f1_c < f1_i or mae_c > mae_i:
        return Decision(False, f"worse than the active version: {summary}")
    if f1_c == f1_i and mae_c == mae_i:
        return Decision(False, f"no better than the active version: {summary}")
    return Decision(True, f"beats the active version: {summary}")


def _lock(conn: Conn, name: str) -> None:
    # Serialises registrations, promotions and rollbacks of one model name.
    conn.execute("select pg_advisory_xact_lock(hashtext('model_versions:' || %s))", (name,))


def _event(conn: Conn, name: str, version: int, event: str, reason: str, actor: str) -> None:
    conn.execute(
        "insert into model_version_events (name, version, event, reason, actor)"
        " values (%s, %s, %s, %s, %s)",
        (name, version, event, reason, actor),
    )


def register(
    conn: Conn,
    artifact: Artifact,
    metrics: dict[str, Any],
    window: tuple[datetime | None, datetime | None, datetime],
    actor: str,
    name: str = DEFAULT_NAME,
) -> int:
    """Store a new candidate version; returns its number (1, 2, ... per name)."""
    _lock(conn, name)
    opened_from, opened_to, as_of = window
    row = conn.execute(
        "insert into model_versions (name, version, artifact, feature_spec, metrics, config,"
        " train_opened_from, train_opened_to, train_as_of, created_by)"
        " select %s, coalesce(max(version), 0) + 1, %s, %s, %s, %s, %s, %s, %s, %s"
        " from model_versions where name = %s returning version",
        (
            name,
            artifact.to_bytes(),
            json.dumps(artifact.spec.to_json()),
            json.dumps(metrics),
            json.dumps(artifact.training),
            opened_from,
            opened_to,
            as_of,
            actor,
            name,
        ),
    ).fetchone()
    assert row is not None
    version = int(row[0])
    _event(conn, name, version, "registered", "", actor)
    return version


def active(conn: Conn, name: str = DEFAULT_NAME) -> tuple[int, Artifact] | None:
    """The active version and its artifact, or None when no model is active."""
    row = conn.execute(
        "select version, artifact from model_versions where name = %s and status = 'active'",
        (name,),
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), Artifact.from_bytes(bytes(row[1]))


def load(conn: Conn, version: int, name: str = DEFAULT_NAME) -> Artifact:
    row = conn.execute(
        "select artifact from model_versions where name = %s and version = %s", (name, version)
    ).fetchone()
    if row is None:
        msg = f"model {name} has no version {version}"
        raise LookupError(msg)
    return Artifact.from_bytes(bytes(row[0]))


def _activate(conn: Conn, name: str, version: int, event: str, reason: str, actor: str) -> None:
    current = conn.execute(
        "update model_versions set status = 'retired' where name = %s and status = 'active'"
        " returning version",
        (name,),
    ).fetchone()
    if current is not None:
        _event(conn, name, int(current[0]), "retired", f"replaced by version {version}", actor)
    conn.execute(
        "update model_versions set status = 'active' where name = %s and version = %s",
        (name, version),
    )
    _event(conn, name, version, event, reason, actor)


def promote_if_better(
    conn: Conn,
    version: int,
    candidate_metrics: dict[str, Any],
    incumbent_metrics: dict[str, Any] | None,
    actor: str,
    name: str = DEFAULT_NAME,
) -> Decision:
    """Activate `version` when it beats the active one (metrics on the same window).

    With no active version, the first candidate is promoted. A rejection is recorded too.
    """
    _lock(conn, name)
    if incumbent_metrics is None or active(conn, name) is None:
        decision = Decision(True, "no active version")
    else:
        decision = beats(candidate_metrics, incumbent_metrics)
    if decision.promote:
        _activate(conn, name, version, "promoted", decision.reason, actor)
    else:
        _event(conn, name, version, "rejected", decision.reason, actor)
    return decision


def rollback(conn: Conn, actor: str, name: str = DEFAULT_NAME) -> int:
    """Reactivate the version that was active before the current one; returns its number."""
    _lock(conn, name)
    current = active(conn, name)
    if current is None:
        msg = f"model {name} has no active version to roll back"
        raise LookupError(msg)
    row = conn.execute(
        "select version from model_version_events where name = %s and version <> %s"
        " and event in ('promoted', 'rolled_back') order by id desc limit 1",
        (name, current[0]),
    ).fetchone()
    if row is None:
        msg = f"model {name} has no earlier active version to roll back to"
        raise LookupError(msg)
    previous = int(row[0])
    _activate(conn, name, previous, "rolled_back", f"rolled back from version {current[0]}", actor)
    return previous


def versions(conn: Conn, name: str = DEFAULT_NAME) -> list[VersionInfo]:
    """Every version of `name`, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "select name, version, status, metrics, train_as_of, created_by, created_at"
            " from model_versions where name = %s order by version desc",
            (name,),
        ).fetchall()
    return [VersionInfo(**r) for r in rows]
