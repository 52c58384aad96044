"""The service's commands: serve, migrate, database-url, and the domains' admin commands.

`incident_cli.main` (the `incident-service` entry point) adds the analytics, models and
notebooks commands on top; this module knows nothing of them, so the service imports
neither the pipelines nor the training code. ``python -m incident_service.cli`` runs the
service's commands alone.
"""

from __future__ import annotations

import argparse
import logging.config
import os
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence

from incident_service.auth.cli import register_cli as api_keys_cli
from incident_service.config import Settings, get_settings
from incident_service.integrations.cli import register_cli as integrations_cli
from incident_service.worker import register_cli as worker_cli

# A domain's commands: a function that takes `sub` and adds its parsers (importing what
# they run lazily inside, so `--help` stays fast).
CommandGroup = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


# A server bound to every interface answers on the loopback one.
_EVERY_INTERFACE = frozenset({"0.0.0.0", "::", ""})  # noqa: S104


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from incident_service.db import redact, resolve_database_url
    from incident_service.migrate import apply_migrations

    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    # Resolve (and, when embedded, start) the database once here, so that every uvicorn
    # worker process connects to the same server by URL.
    url = resolve_database_url(settings)
    applied = apply_migrations(url)
    bootstrap_key = _bootstrap_admin_key(url)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    base = f"http://{host}:{port}"
    banner = _banner(base, redact(url), applied, settings.public_docs, bootstrap_key)
    # The banner ends the start-up: printed once /ready answers, after the server's (and
    # the worker's, under `make run`) start-up lines, so the key is not lost among them.
    # If the server never gets there (a port in use...), the key is printed on the way out
    # all the same: it exists now, and no other one would be made on the next start.
    probe = f"http://{'127.0.0.1' if host in _EVERY_INTERFACE else host}:{port}/ready"
    printed = threading.Event()
    threading.Thread(target=_print_when_ready, args=(probe, banner, printed), daemon=True).start()
    try:
        _run_uvicorn(host, port, args, settings)
    finally:
        if bootstrap_key is not None and not printed.is_set():
            print(f"admin API key (shown once, store it now): {bootstrap_key}", flush=True)
    return 0


def _run_uvicorn(host: str, port: int, args: argparse.Namespace, settings: Settings) -> None:
    import uvicorn

    from incident_service.observability import logging_config

    uvicorn.run(
        "incident_service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=logging_config(settings.log_level),
        timeout_graceful_shutdown=args.graceful_timeout,
    )


def _banner(
    base: str, database: str, applied: list[str], public_docs: bool, key: str | None
) -> str:
    docs = "open" if public_docs else "needs an API key; PUBLIC_DOCS=true opens it"
    lines = [
        f"incident-service {_version()} is ready",
        f"  console:  {base}/ui/",
        f"  API:      {base}/api/v1/incidents",
        f"  docs:     {base}/docs  ({docs}; the document: {base}/docs/openapi.json)",
        f"  database: {database}" + (f" (applied {len(applied)} migrations)" if applied else ""),
    ]
    if key is not None:
        lines += [
            f"  admin API key (shown once, store it now): {key}",
            f"    export KEY={key}",
            f'    curl -H "Authorization: Bearer $KEY" {base}/api/v1/incidents',
        ]
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _print_when_ready(
    probe: str, banner: str, printed: threading.Event, within_s: float = 300.0
) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(probe, timeout=2) as answer:  # noqa: S310 (our URL)
                if answer.status == 200:
                    break
        except OSError:
            pass
        time.sleep(0.2)
    printed.set()
    print(banner, flush=True)


def _bootstrap_admin_key(url: str) -> str | None:
    """On a database without any active API key, create an admin key (printed once)."""
    import asyncio

    import psycopg
    from psycopg.rows import dict_row

    from incident_service.auth.service import ensure_bootstrap_key

    async def go() -> str | None:
        async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
            key = await ensure_bootstrap_key(conn)
            await conn.commit()
            return key

    return asyncio.run(go())


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from incident_service.db import resolve_database_url
    from incident_service.migrate import apply_migrations

    applied = apply_migrations(resolve_database_url(settings))
    if applied:
        print(f"applied {len(applied)} migrations (latest: {applied[-1]})")
    else:
        print("database is up to date")
    return 0


def _database_url(args: argparse.Namespace, settings: Settings) -> int:
    from incident_service.db import resolve_database_url

    print(resolve_database_url(settings))
    return 0


def _version() -> str:
    from incident_service import __version__

    return __version__


def build_parser(groups: Sequence[CommandGroup] = ()) -> argparse.ArgumentParser:
    """The service's commands, then `groups` (the entry point's analytics, models, ...)."""
    parser = argparse.ArgumentParser(
        prog="incident-service",
        description="Incident management service. The database is DATABASE_URL, or an "
        "embedded PostgreSQL under .data/ when it is unset.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="apply migrations and serve the HTTP API")
    serve.add_argument("--host", help="interface to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default: PORT or 8000)")
    serve.add_argument("--workers", type=int, default=1, help="API processes (default: 1)")
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=20,
        help="seconds in-flight requests get to finish on shutdown (default: 20)",
    )
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="apply pending database migrations and exit")
    migrate.set_defaults(func=_migrate)

    db_url = sub.add_parser(
        "database-url", help="print the database URL in use (starts the embedded one if needed)"
    )
    db_url.set_defaults(func=_database_url)

    for register in (*SERVICE_COMMANDS, *groups):
        register(sub)
    return parser


# Each service domain that has commands registers them here with one line.
SERVICE_COMMANDS: tuple[CommandGroup, ...] = (api_keys_cli, integrations_cli, worker_cli)


def main(
    argv: Sequence[str] | None = None,
    groups: Sequence[CommandGroup] = (),
    explain_missing: Callable[[str, ModuleNotFoundError], str | None] | None = None,
) -> int:
    """Run one command. `explain_missing` turns a missing library of a command's optional
    dependency group into one line saying how to install it (None: the traceback)."""
    # SIGTERM (kill, systemd, docker stop, Kubernetes) stops the process the way Ctrl-C
    # does: uvicorn and the worker finish gracefully and then re-raise it, and the default
    # action would end the process there without its exit hooks, the embedded
    # PostgreSQL's stop among them (it would then run for good).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    args = build_parser(groups).parse_args(argv)
    settings = get_settings()
    from incident_service.observability import logging_config

    logging.config.dictConfig(logging_config(settings.log_level))
    logging.captureWarnings(True)  # warnings too, as JSON lines
    try:
        result: int = args.func(args, settings)
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as exc:
        hint = explain_missing(args.command, exc) if explain_missing else None
        if hint is None:
            raise
        print(hint, file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
