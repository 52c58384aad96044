"""`incident-service integrations ...`: create, list, disable, enable and rotate the key of
integrations. Every change is recorded (`integration_audit`) with the operator's login."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from uuid import UUID

from incident_service.config import Settings
from incident_service.integrations.schemas import Integration, IntegrationCreate
from incident_service.vocabulary import IncidentSeverity

if TYPE_CHECKING:
    from incident_service.db import AsyncConn


def _create(args: argparse.Namespace, settings: Settings) -> int:
    from pydantic import ValidationError

    from incident_service.integrations.service import create_integration

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
    actor = _actor()
    created = _in_transaction(settings, lambda conn: create_integration(conn, request, actor=actor))
    print(f"integration {created.integration_id} ({created.kind.value}) for team {created.team}")
    if created.integration_key is not None:
        # The key is shown this once: only its hash is stored.
        print(f"integration key: {created.integration_key}")
        print(f"send alerts to:  {created.url}")
    return 0


def _in_transaction(
    settings: Settings, work: Callable[[AsyncConn], Awaitable[Integration]]
) -> Integration:
    from incident_service.db import resolve_database_url, run_in_transaction

    return run_in_transaction(resolve_database_url(settings), work)


def _actor() -> str:
    """Who runs the command, as the audit trail names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "cli"


def _change(args: argparse.Namespace, settings: Settings) -> int:
    from incident_service.crud import Operator
    from incident_service.errors import IncidentError
    from incident_service.integrations import service

    try:
        integration_id = UUID(args.integration_id)
    except ValueError:
        print(f"not an integration id: {args.integration_id!r}", file=sys.stderr)
        return 2
    action = args.integrations_command
    try:
        operator = Operator(_actor())
        if action == "rotate":
            changed = _in_transaction(
                settings, lambda conn: service.rotate_key(conn, integration_id, operator)
            )
        else:
            enabled = action == "enable"
            changed = _in_transaction(
                settings,
                lambda conn: service.set_enabled(conn, integration_id, enabled, operator),
            )
    except IncidentError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    state = "enabled" if changed.enabled else "disabled"
    print(f"integration {changed.integration_id} ({changed.kind.value}) {state}")
    if changed.integration_key is not None:
        # The new key is shown this once; the old one no longer works.
        print(f"integration key: {changed.integration_key}")
        print(f"send alerts to:  {changed.url}")
    return 0


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
        choices=[s.value for s in IncidentSeverity],
        help="outbound: severities to send (repeatable; default all)",
    )
    create.add_argument(
        "--config", help='JSON options, e.g. \'{"service_id": "PABC123"}\' (no credentials)'
    )
    create.set_defaults(func=_create)

    listing = actions.add_parser("list", help="list integrations (never their keys)")
    listing.add_argument("--team")
    listing.set_defaults(func=_list)

    for name, text in (
        ("disable", "refuse the integration's key at once (as an unknown key); stop its syncs"),
        ("enable", "enable a disabled integration again"),
        ("rotate", "give an inbound integration a new key (printed once); the old one stops"),
    ):
        change = actions.add_parser(name, help=text)
        change.add_argument("integration_id", metavar="ID")
        change.set_defaults(func=_change)
