"""Seeded synthetic incident history for demos, tests, benchmarks and the models.

`generate_history(n_incidents, seed, start, days, as_of)` returns a `SyntheticHistory`
of Polars frames shaped like the service's own tables (plus the platform data the drop
folder carries), so every mart and report runs on it unchanged:

- ``teams``: team, timezone offset, size.
- ``services``: service, owning team, tier (1 = most critical), depends_on (list).
- ``deploys``: deploy_id, service, deployed_at, change_type, risky (bool).
- ``incidents``: the `incidents` table's columns, plus ``service`` (the primary one),
  ``caused_by_deploy_id`` (null unless deploy-induced), ``true_resolve_s`` (the time to
  resolve before censoring; for judging models only, never a feature) and ``censored``.

What is known when an incident is opened: ``created_at``, ``title``, ``severity``,
``service``, ``affected_services``, ``assigned_team``, ``created_by`` and whether a
deploy of the service landed in the previous six hours. Everything else is later.

Times to acknowledge and resolve are lognormal with a location that depends on severity,
service tier, team and deploy cause. Incidents still unresolved at ``as_of`` are
right-censored: their ``resolved_at``/``closed_at`` are null and their status is active.
The generator is vectorised (NumPy), so ten million incidents take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

SEVERITIES = ("SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW")
ACTIVE_STATUSES = ("OPEN", "ACKNOWLEDGED", "INVESTIGATING", "IDENTIFIED", "MONITORING")
CHANGE_TYPES = ("deploy", "config_change", "feature_flag", "schema_migration")

_SYMPTOMS = (
    "High Latency",
    "Error Rate Spike",
    "Elevated 5xx",
    "Queue Backlog",
    "Degraded Throughput",
    "Health Check Failures",
    "Memory Pressure",
    "Disk Full",
)
_DOMAINS = (
    "portfolio_management",
    "payments",
    "checkout",
    "search",
    "auth",
    "notifications",
    "ledger",
    "pricing",
    "inventory",
    "reporting",
    "gateway",
    "recommendations",
)
# Severity mix by tier (rows: tier 1..3; columns: SEV1..SEV4).
_SEVERITY_BY_TIER = np.array(
    [
        [0.08, 0.27, 0.45, 0.20],
        [0.03, 0.17, 0.50, 0.30],
        [0.01, 0.09, 0.45, 0.45],
    ]
)
# log-seconds locations: SEV1 is acknowledged in minutes and resolved in about an hour;
# SEV4 waits hours and takes a day or more.
_ACK_MU = np.array([np.log(150.0), np.log(420.0), np.log(1500.0), np.log(5400.0)])
_RESOLVE_MU = np.array([np.log(3600.0), np.log(4 * 3600.0), np.log(16 * 3600.0), np.log(40 * 3600)])


@dataclass(frozen=True)
class SyntheticHistory:
    """The generated frames; see the module docstring for their columns."""

    teams: pl.DataFrame
    services: pl.DataFrame
    deploys: pl.DataFrame
    incidents: pl.DataFrame
    as_of: datetime


def generate_history(
    n_incidents: int,
    seed: int = 0,
    start: datetime = datetime(2025, 1, 6, tzinfo=UTC),
    days: int = 182,
    as_of: datetime | None = None,
    n_services: int = 24,
    n_teams: int = 6,
    deploys_per_service_per_day: float = 1.5,
    id_prefix: str = "SYN",
) -> SyntheticHistory:
    """A reproducible history of `n_incidents` incidents opened over `days` from `start`.

    Args:
        n_incidents: incidents to generate.
        seed: the only source of randomness; the same arguments give the same frames.
        start: first possible open time (UTC).
        days: length of the history.
        as_of: the observation cut-off; incidents not resolved by then are censored.
            Defaults to the end of the history.
        n_services: services in the catalog (each owned by one team).
        n_teams: teams.
        deploys_per_service_per_day: mean deploy rate.
        id_prefix: incident ids are ``{id_prefix}-{n:08d}`` in open-time order.
    """
    if n_incidents < 0 or days <= 0 or n_services <= 0 or n_teams <= 0:
        msg = "n_incidents must be >= 0 and days, n_services, n_teams > 0"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    start = start.astimezone(UTC)
    end = start + timedelta(days=days)
    as_of = (as_of or end).astimezone(UTC)
    teams = _teams(rng, n_teams)
    services = _services(rng, n_services, teams)
    deploys = _deploys(rng, services, start, days, deploys_per_service_per_day)
    incidents = _incidents(rng, n_incidents, services, teams, deploys, start, days, as_of)
    return SyntheticHistory(
        teams,
        services,
        deploys,
        incidents.with_columns(
            pl.format(
                "{}-{}", pl.lit(id_prefix), pl.col("_seq").cast(pl.String).str.zfill(8)
            ).alias("incident_id")
        )
        .drop("_seq")
        .select(_INCIDENT_ORDER),
        as_of,
    )


_INCIDENT_ORDER = [
    "incident_id",
    "title",
    "description",
    "severity",
    "status",
    "service",
    "affected_services",
    "assigned_team",
    "assignee",
    "created_by",
    "created_at",
    "updated_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "caused_by_deploy_id",
    "true_resolve_s",
    "censored",
]


def _teams(rng: np.random.Generator, n: int) -> pl.DataFrame:
    names = [f"team-{chr(ord('a') + i % 26)}{i // 26 or ''}" for i in range(n)]
    return pl.DataFrame(
        {
            "team": names,
            # On-call engineers are spread over a few timezones: after-hours depends on it.
            "utc_offset_h": rng.choice([-8, -5, 0, 1, 5], size=n).astype(np.int32),
            "size": rng.integers(4, 10, size=n).astype(np.int32),
        }
    )


def _services(rng: np.random.Generator, n: int, teams: pl.DataFrame) -> pl.DataFrame:
    names = [
        f"{_DOMAINS[i % len(_DOMAINS)]}_service"
        + (f"_{i // len(_DOMAINS)}" if i >= len(_DOMAINS) else "")
        for i in range(n)
    ]
    tiers = rng.choice([1, 2, 3], size=n, p=[0.25, 0.45, 0.30]).astype(np.int32)
    owners = rng.integers(0, teams.height, size=n)
    # Dependencies only point at earlier services, so the graph is acyclic.
    depends: list[list[str]] = []
    for i in range(n):
        k = int(rng.integers(0, min(i, 3) + 1))
        depends.append(
            sorted({names[j] for j in rng.choice(i, size=k, replace=False)}) if i else []
        )
    return pl.DataFrame(
        {
            "service": names,
            "team": [teams["team"][int(o)] for o in owners],
            "tier": tiers,
            "depends_on": depends,
            # Noisy services page more often: the weight of each in the incident draw.
            "noise": rng.lognormal(0.0, 0.8, size=n),
        },
        schema_overrides={"depends_on": pl.List(pl.String)},
    )


def _deploys(
    rng: np.random.Generator, services: pl.DataFrame, start: datetime, days: int, rate: float
) -> pl.DataFrame:
    n = int(rng.poisson(rate * days * services.height))
    svc = rng.integers(0, services.height, size=n)
    # Deploys happen in working hours on weekdays, mostly.
    day = rng.integers(0, days, size=n)
    hour = np.clip(rng.normal(14.0, 3.0, size=n), 0, 23.99)
    offs = (day * 86400 + hour * 3600).astype(np.int64)
    order = np.argsort(offs, kind="stable")
    svc, offs = svc[order], offs[order]
    return pl.DataFrame(
        {
            "deploy_id": [f"DEP-{i:07d}" for i in range(n)],
            "service": services["service"].gather(svc).to_list() if n else [],
            "deployed_at": _to_ts(start, offs),
            "change_type": rng.choice(CHANGE_TYPES, size=n, p=[0.7, 0.15, 0.1, 0.05]),
            "risky": rng.random(n) < 0.12,
        },
        schema_overrides={"service": pl.String},
    )


def _take(mask: npt.NDArray[np.bool_], *arrays: npt.NDArray[Any]) -> list[npt.NDArray[Any]]:
    return [a[mask] for a in arrays]


def _to_ts(start: datetime, offsets_s: np.ndarray) -> pl.Series:
    base = np.datetime64(start.replace(tzinfo=None), "us")
    values = base + (offsets_s * 1_000_000).astype("timedelta64[us]")
    return pl.Series(values).dt.replace_time_zone("UTC")


def _incidents(
    rng: np.random.Generator,
    n: int,
    services: pl.DataFrame,
    teams: pl.DataFrame,
    deploys: pl.DataFrame,
    start: datetime,
    days: int,
    as_of: datetime,
) -> pl.DataFrame:
    horizon = days * 86400
    # A share of incidents follows a risky deploy within hours; the rest arrive at random,
    # a little more often in working hours.
    risky = deploys.filter(pl.col("risky"))
    deploy_share = 0.18 if risky.height else 0.0
    from_deploy = rng.random(n) < deploy_share
    weights = services["noise"].to_numpy()
    svc = rng.choice(services.height, size=n, p=weights / weights.sum())
    opened = rng.integers(0, horizon, size=n).astype(np.float64)
    working = rng.random(n) < 0.35
    opened = np.where(working, (opened // 86400) * 86400 + rng.uniform(9, 18, n) * 3600, opened)
    dep_idx = np.full(n, -1, dtype=np.int64)
    if risky.height:
        k = int(from_deploy.sum())
        pick = rng.integers(0, risky.height, size=k)
        dep_start = risky["deployed_at"].dt.replace_time_zone(None).cast(
            pl.Int64
        ).to_numpy() // 1_000_000 - int(start.replace(tzinfo=None).timestamp())
        rows = np.flatnonzero(from_deploy)
        opened[rows] = dep_start[pick] + rng.exponential(1800.0, size=k)
        svc_names = services["service"].to_list()
        index = {s: i for i, s in enumerate(svc_names)}
        risky_svc = np.array([index[s] for s in risky["service"].to_list()])
        svc[rows] = risky_svc[pick]
        dep_idx[rows] = risky["deploy_id"].str.slice(4).cast(pl.Int64).to_numpy()[pick]
    opened = np.clip(opened, 0, horizon - 1)
    order = np.argsort(opened, kind="stable")
    opened, svc, from_deploy, dep_idx = (
        opened[order],
        svc[order],
        from_deploy[order],
        dep_idx[order],
    )

    tier = services["tier"].to_numpy()[svc]
    u = rng.random(n)
    cdf = np.cumsum(_SEVERITY_BY_TIER[tier - 1], axis=1)
    sev = (u[:, None] > cdf).sum(axis=1)
    sev = np.where(from_deploy & (sev > 0) & (rng.random(n) < 0.3), sev - 1, sev)
    sev = np.minimum(sev, 3)

    team_names = teams["team"].to_list()
    team_index = {t: i for i, t in enumerate(team_names)}
    owner = np.array([team_index[t] for t in services["team"].to_list()])[svc]
    team_speed = np.random.default_rng(rng.integers(1 << 31)).normal(0.0, 0.25, teams.height)

    tta = rng.lognormal(_ACK_MU[sev] + team_speed[owner], 0.7)
    ttr = tta + rng.lognormal(
        _RESOLVE_MU[sev] + 0.25 * (tier - 2) + team_speed[owner] - 0.4 * from_deploy, 1.1
    )
    reopen = rng.random(n) < 0.04
    ttr = np.where(reopen, ttr * rng.uniform(1.5, 3.0, n), ttr)
    close_after = rng.lognormal(np.log(86400.0), 0.8, n)

    base = int(start.replace(tzinfo=None).timestamp())
    cut = int(as_of.replace(tzinfo=None).timestamp()) - base
    keep = opened < cut
    opened, svc, from_deploy, dep_idx, sev, owner, tta, ttr, reopen, close_after, tier = _take(
        keep, opened, svc, from_deploy, dep_idx, sev, owner, tta, ttr, reopen, close_after, tier
    )
    m = opened.size
    acked = opened + tta <= cut
    resolved = opened + ttr <= cut
    closed = opened + ttr + close_after <= cut
    symptom = rng.integers(0, len(_SYMPTOMS), size=m)
    assignee_no = rng.integers(1, 6, size=m)
    active_status = np.where(acked, rng.integers(1, 5, size=m), 0)

    svc_s = services["service"].gather(svc)
    team_s = pl.Series(team_names).gather(owner)

    def ts(offsets: np.ndarray, valid: np.ndarray) -> pl.Series:
        s = _to_ts(start, np.where(valid, offsets, 0).astype(np.int64))
        return s.zip_with(pl.Series(valid), pl.Series([None] * m, dtype=s.dtype)) if m else s

    status = np.where(
        closed, "CLOSED", np.where(resolved, "RESOLVED", np.array(ACTIVE_STATUSES)[active_status])
    )
    created = ts(opened, np.ones(m, dtype=bool))
    frame = pl.DataFrame(
        {
            "_seq": np.arange(1, m + 1),
            "severity": np.array(SEVERITIES)[sev],
            "status": status,
            "service": svc_s,
            "assigned_team": team_s,
            "created_at": created,
            "acknowledged_at": ts(opened + tta, acked),
            "resolved_at": ts(opened + ttr, resolved),
            "closed_at": ts(opened + ttr + close_after, closed),
            "reopen_count": (reopen & resolved).astype(np.int32),
            "caused_by_deploy_id": dep_idx,
            "true_resolve_s": ttr,
            "censored": ~resolved,
            "_symptom": np.array(_SYMPTOMS)[symptom],
            "_assignee": assignee_no,
            "_tier": tier,
        }
    )
    return frame.with_columns(
        pl.format(
            "{} {}",
            pl.col("service").str.replace_all("_", " ").str.to_titlecase(),
            pl.col("_symptom"),
        ).alias("title"),
        pl.format(
            "{} on {} (tier {})", pl.col("_symptom"), pl.col("service"), pl.col("_tier")
        ).alias("description"),
        pl.concat_list(pl.col("service")).alias("affected_services"),
        pl.format("{}-oncall-{}", pl.col("assigned_team"), pl.col("_assignee")).alias("assignee"),
        pl.lit("synthetic").alias("created_by"),
        pl.max_horizontal("created_at", "acknowledged_at", "resolved_at", "closed_at").alias(
            "updated_at"
        ),
        pl.when(pl.col("caused_by_deploy_id") >= 0)
        .then(pl.format("DEP-{}", pl.col("caused_by_deploy_id").cast(pl.String).str.zfill(7)))
        .alias("caused_by_deploy_id"),
    ).drop("_symptom", "_assignee", "_tier")


def as_service_rows(incidents: pl.DataFrame, stamp: datetime) -> pl.DataFrame:
    """Generated incidents in the shape of the service's `incidents` table (and of the
    warehouse's `raw.incidents` after an ingest), `updated_at` stamped from `stamp` a
    microsecond apart per row, as one transaction per incident gives."""
    return incidents.select(
        "incident_id",
        "title",
        "description",
        "severity",
        "status",
        pl.format('["{}"]', pl.col("service")).alias("affected_services"),
        "assigned_team",
        "assignee",
        "created_by",
        "created_at",
        (pl.lit(stamp) + pl.duration(microseconds=pl.int_range(pl.len()))).alias("updated_at"),
        "acknowledged_at",
        "resolved_at",
        "closed_at",
        pl.col("reopen_count").cast(pl.Int64),
        # Generated history has no merges; the columns are there as the table has them.
        pl.lit(None, pl.String).alias("merged_into"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("merged_at"),
    )
