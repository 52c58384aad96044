"""`incident-service integrations ...`: create and list integrations, run the outbound sync."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from incident_service.config import Settings
from incident_service.integrations.schemas import Integration, IntegrationCreate


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    try:
        request = IntegrationCreate(
            kind=args.kind,
            team=args.team,
            name=args.name,
            severities=args.severity or [],
            config=json.loads(args.config) if args.config else {},
        )
    except (ValidationError, ValueError) as exc:
        print(f"invalid integration: {exc}", file=sys.stderr)
        return 2
    created = asyncio.run(_create_async(settings, request))
    print(f"integration {created.integration_id} ({created.kind.value}) for team {created.team}")
    if created.integration_key is not None:
        # The key is shown this once: only its hash is stored.
        print(f"integration key: {created.integration_key}")
        print(f"send alerts to:  {created.url}")
    return 0


async def _create_async(settings: Settings, request: IntegrationCreate) -> Integration:
    import psycopg
    from psycopg.rows import dict_row

    from incident_service.db import resolve_database_url
    from incident_service.integrations.service import create_integration

    url = resolve_database_url(settings)
    async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
        created = await create_integration(conn, request, actor="cli")
        await conn.commit()
    return created


def _list(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from incident_service.db import resolve_database_url

    with psycopg.connect(resolve_database_url(settings)) as conn:
        rows = conn.execute(
            "select id, kind, team, name, key_prefix, enabled from integrations"
            " where (%(team)s::text is null or team = %(team)s) order by created_at",
            {"team": args.team},
        ).fetchall()
    for row in rows:
        prefix = f" key {row[4]}..." if row[4] else ""
        state = "" if row[5] else " (disabled)"
        print(f"{row[0]}  {row[1]:<12} {row[2]:<20} {row[3]}{prefix}{state}")
    return 0


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("integrations", help="alert sources and vendor syncs")
    actions = group.add_subparsers(dest="integrations_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create an integration (prints inbound keys once)")
    create.add_argument("--team", required=True)
    create.add_argument(
        "--kind",
        required=True,
        choices=["events-v2", "alertmanager", "grafana", "pagerduty", "jira", "servicenow"],
    )
    create.add_argument("--name")
    create.add_argument(
        "--severity",
        action="append",
        choices=["SEV1_CRITICAL", "SEV2_HIGH", "SEV3_MEDIUM", "SEV4_LOW"],
        help="outbound: severities to send (repeatable; default all)",
    )
    create.add_argument(
        "--config", help='JSON options, e.g. \'{"service_id": "PABC123"}\' (no credentials)'
    )
    create.set_defaults(func=_create)

    listing = actions.add_parser("list", help="list integrations (never their keys)")
    listing.add_argument("--team")
    listing.set_defaults(func=_list)
