"""`incident-service analytics ...`: run the pipelines without the Dagster UI."""

from __future__ import annotations

import argparse
import sys

from incident_service.config import Settings

JOBS = ("ingest_job", "reliability_report_job", "incident_model_job", "model_calibration_job")


def _run(args: argparse.Namespace, settings: Settings) -> int:
    import dagster as dg

    from pipelines.definitions import build_definitions, resources_for

    defs = build_definitions(resources_for(settings))
    job = defs.resolve_job_def(args.job)
    print(f"running {args.job}: {len(job.nodes_in_topological_order)} steps", flush=True)
    # Dagster's console log reports each step live as it starts and finishes.
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION" and event.asset_key:
            print(f"  materialized {event.asset_key.to_user_string()}")
    failed_checks = [c for c in result.get_asset_check_evaluations() if not c.passed]
    for check in failed_checks:
        print(f"  check failed: {check.asset_key.to_user_string()} {check.check_name}")
    if not result.success:
        print(f"{args.job} failed", file=sys.stderr)
        return 1
    if args.job == "reliability_report_job":
        print(f"reports written to {settings.reports_dir}/")
    return 1 if failed_checks else 0


def _postmortems(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    from datetime import UTC, datetime

    import psycopg
    from psycopg.rows import dict_row

    from incident_service.db import resolve_database_url
    from incident_service.postmortems import service

    async def generate() -> list[str]:
        url = resolve_database_url(settings)
        async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
            done = await service.generate_pending(
                conn, datetime(1970, 1, 1, tzinfo=UTC), generated_by="cli", limit=args.limit
            )
            await conn.commit()
        return done

    done = asyncio.run(generate())
    for incident_id in done:
        print(f"post-mortem generated: {incident_id}")
    print(f"{len(done)} post-mortem(s) generated")
    return 0


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    analytics = sub.add_parser("analytics", help="warehouse, SQL models, reports, post-mortems")
    commands = analytics.add_subparsers(dest="analytics_command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "run", help="run a pipeline job now (ingest + models, or everything + the report)"
    )
    run.add_argument("--job", choices=JOBS, default="reliability_report_job")
    run.set_defaults(func=_run)
    pms = commands.add_parser(
        "postmortems", help="generate the post-mortems of resolved incidents that lack one"
    )
    pms.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    pms.set_defaults(func=_postmortems)
