"""The weekly reliability mart in Polars: the same definitions as
``dbt_like_sql/marts/rpt_reliability_weekly.sql`` (team/service/week rows only).

The SQL is the mart the platform serves; this is the comparison the analytics
benchmark times against it, and a parity test keeps the two in agreement.
"""

from __future__ import annotations

import polars as pl

_SEVERITIES = ("SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW")


def incident_facts(
    incidents: pl.LazyFrame, teams: pl.LazyFrame, slo_targets: pl.LazyFrame
) -> pl.LazyFrame:
    """Per incident: times to acknowledge/resolve, week, after-hours, repeat, SLO met."""
    local = pl.col("created_at") + pl.duration(hours=pl.col("team_utc_offset_h"))
    return (
        incidents.join(
            teams.select(pl.col("team").alias("assigned_team"), "utc_offset_h"),
            on="assigned_team",
            how="left",
        )
        .join(slo_targets, on="severity", how="left")
        .with_columns(
            (pl.col("acknowledged_at") - pl.col("created_at"))
            .dt.total_microseconds()
            .truediv(1e6)
            .alias("time_to_acknowledge_s"),
            (pl.col("resolved_at") - pl.col("created_at"))
            .dt.total_microseconds()
            .truediv(1e6)
            .alias("time_to_resolve_s"),
            pl.col("created_at").dt.truncate("1w").alias("week"),
            pl.col("utc_offset_h").fill_null(0).alias("team_utc_offset_h"),
        )
        .sort("service", "created_at")
        .with_columns(
            (~local.dt.hour().is_between(9, 17) | (local.dt.weekday() >= 6)).alias(
                "is_after_hours"
            ),
            (
                (pl.col("created_at") - pl.col("created_at").shift(1).over("service"))
                <= pl.duration(days=7)
            )
            .fill_null(False)
            .alias("is_repeat"),
            (pl.col("time_to_acknowledge_s") <= pl.col("ack_target_s"))
            .fill_null(False)
            .alias("met_ack_slo"),
            (pl.col("time_to_resolve_s") <= pl.col("resolve_target_s"))
            .fill_null(False)
            .alias("met_resolve_slo"),
        )
    )


def reliability_weekly(facts: pl.LazyFrame) -> pl.LazyFrame:
    """Team x service x week rows of `rpt_reliability_weekly` (merged duplicates left out)."""
    facts = facts.filter(pl.col("status") != "MERGED")
    tta, ttr = pl.col("time_to_acknowledge_s"), pl.col("time_to_resolve_s")
    after = pl.col("is_after_hours")
    return facts.group_by(pl.col("assigned_team").alias("team"), "service", "week").agg(
        pl.len().alias("incidents"),
        *[
            (pl.col("severity") == sev).sum().alias(f"sev{i + 1}_incidents")
            for i, sev in enumerate(_SEVERITIES)
        ],
        tta.mean().alias("mtta_mean_s"),
        tta.quantile(0.5, "linear").alias("mtta_p50_s"),
        tta.quantile(0.9, "linear").alias("mtta_p90_s"),
        ttr.mean().alias("mttr_mean_s"),
        ttr.quantile(0.5, "linear").alias("mttr_p50_s"),
        ttr.quantile(0.9, "linear").alias("mttr_p90_s"),
        pl.col("met_ack_slo").cast(pl.Float64).mean().alias("ack_slo_attainment"),
        pl.col("met_resolve_slo").cast(pl.Float64).mean().alias("resolve_slo_attainment"),
        pl.col("is_repeat").sum().alias("repeat_incidents"),
        after.sum().alias("after_hours_pages"),
        pl.col("assignee").drop_nulls().n_unique().alias("oncall_engineers"),
        (after.sum() / pl.col("assignee").drop_nulls().n_unique()).alias(
            "after_hours_pages_per_engineer"
        ),
    )
