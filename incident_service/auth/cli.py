"""`incident-service api-keys create|list|revoke`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from uuid import UUID

import msgspec
from pydantic import ValidationError

from incident_service.auth import service
from incident_service.auth.schemas import ApiKeyCreate, Scope
from incident_service.config import Settings
from incident_service.crud import Operator
from incident_service.db import AsyncConn, resolve_database_url, run_in_transaction
from incident_service.errors import IncidentError
from incident_service.migrate import apply_migrations


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _run(settings: Settings, work: Callable[[AsyncConn], Awaitable[int]]) -> int:
    url = resolve_database_url(settings)
    apply_migrations(url)
    return run_in_transaction(url, work)


def _create(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request = ApiKeyCreate(
            name=args.name,
            scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],  # type: ignore[misc]
            team=args.team,
            rate_limit=args.rate_limit,
            user_id=args.user_id,
        )
    except ValidationError as exc:
        for error in exc.errors():
            print(f"invalid {'.'.join(map(str, error['loc']))}: {error['msg']}", file=sys.stderr)
        return 2

    async def work(conn: AsyncConn) -> int:
        try:
            created = await service.create_key(conn, request, actor=_actor())
        except IncidentError as exc:  # a user that is not there, or not in the team
            print(exc.message, file=sys.stderr)
            return 1
        print(created.key)
        print(
            f"created key {created.api_key.prefix}... for {request.name!r}; it is shown only"
            " once: store it now.",
            file=sys.stderr,
        )
        return 0

    return _run(settings, work)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def work(conn: AsyncConn) -> int:
        for key in await service.list_keys(conn):
            print(json.dumps(msgspec.to_builtins(key)))
        return 0

    return _run(settings, work)


def _revoke(args: argparse.Namespace, settings: Settings) -> int:
    async def work(conn: AsyncConn) -> int:
        try:
            key = await service.revoke_key(conn, args.key_id, Operator(_actor()))
        except IncidentError as exc:
            print(exc.message, file=sys.stderr)
            return 1
        print(f"revoked {key.prefix}... ({key.name})")
        return 0

    return _run(settings, work)


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("api-keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="api_keys_command", required=True, metavar="ACTION")

    create = keys_sub.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", required=True, help="who or what uses the key")
    create.add_argument(
        "--scopes",
        required=True,
        help=f"comma-separated, from: {', '.join(s.value for s in Scope)}",
    )
    create.add_argument("--team", help="restrict the key to this team's incidents")
    create.add_argument("--rate-limit", type=int, help="requests per second (default: service's)")
    create.add_argument(
        "--user-id", type=UUID, help="the user the key acts for (the actor on its records)"
    )
    create.set_defaults(func=_create)

    list_ = keys_sub.add_parser("list", help="list keys (one JSON object a line, no secrets)")
    list_.set_defaults(func=_list)

    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id", type=UUID)
    revoke.set_defaults(func=_revoke)
