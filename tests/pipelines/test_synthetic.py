"""The synthetic history: reproducible, censored at as_of, shaped like the service's table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from pipelines.synthetic import SEVERITIES, generate_history

START = datetime(2025, 1, 6, tzinfo=UTC)


def test_same_seed_same_history_other_seed_other_history() -> None:
    a = generate_history(500, seed=7, start=START, days=30)
    b = generate_history(500, seed=7, start=START, days=30)
    c = generate_history(500, seed=8, start=START, days=30)
    assert a.incidents.equals(b.incidents)
    assert not a.incidents.equals(c.incidents)


def test_censoring_at_as_of() -> None:
    as_of = START + timedelta(days=20)
    h = generate_history(2000, seed=1, start=START, days=30, as_of=as_of)
    inc = h.incidents
    assert inc["created_at"].max() < as_of  # type: ignore[operator]
    censored = inc.filter(pl.col("censored"))
    assert censored.height > 0
    assert censored["resolved_at"].null_count() == censored.height
    assert set(censored["status"].unique()) <= {
        "OPEN",
        "ACKNOWLEDGED",
        "INVESTIGATING",
        "IDENTIFIED",
        "MONITORING",
    }
    done = inc.filter(~pl.col("censored"))
    assert (done["resolved_at"] <= as_of).all()
    ttr = (done["resolved_at"] - done["created_at"]).dt.total_seconds()
    assert ((ttr - done["true_resolve_s"]).abs() < 1.5).all()


def test_shape_and_dependencies() -> None:
    h = generate_history(3000, seed=3, start=START, days=60)
    inc = h.incidents
    assert inc["incident_id"].is_unique().all()
    assert set(inc["severity"].unique()) <= set(SEVERITIES)
    assert (
        inc["acknowledged_at"].drop_nulls()
        >= inc.filter(pl.col("acknowledged_at").is_not_null())["created_at"]
    ).all()
    # Severity depends on the service tier: tier 1 has a larger SEV1+SEV2 share than tier 3.
    tiers = inc.join(h.services.select("service", "tier"), on="service")
    high = (
        tiers.group_by("tier")
        .agg(pl.col("severity").is_in(["SEV1_CRITICAL", "SEV2_HIGH"]).mean().alias("share"))
        .sort("tier")
    )
    assert high["share"][0] > high["share"][-1]
    # Deploy-induced incidents point at a risky deploy of their own service, opened after it.
    caused = inc.filter(pl.col("caused_by_deploy_id").is_not_null()).join(
        h.deploys, left_on="caused_by_deploy_id", right_on="deploy_id", suffix="_d"
    )
    assert caused.height > 0
    assert (caused["service"] == caused["service_d"]).all()
    assert caused["risky"].all()
    assert (caused["created_at"] >= caused["deployed_at"]).all()
    # Services depend only on earlier ones: the graph is acyclic.
    names = h.services["service"].to_list()
    for i, deps in enumerate(h.services["depends_on"].to_list()):
        assert all(names.index(d) < i for d in deps)
