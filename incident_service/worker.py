"""`incident-service worker`: runs the durable workflows, the inbox intake, the
heartbeat/recovery of dead workers, and the event relay. Several may run at once."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from incident_service.config import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, url: str, *, relay: bool = True) -> None:
    """Build the worker from `settings` (`worker_app.compose_worker`) and run it until the
    first SIGTERM/SIGINT; then stop gracefully (a second signal cuts the grace short)."""
    from incident_service.db import make_pool
    from incident_service.durable import Resources
    from incident_service.http import HttpClient  # aiohttp: not for `incident-service --help`
    from incident_service.outbound import OutboundPolicy
    from incident_service.relay import relay as event_relay
    from incident_service.runtime import freeze_startup_heap
    from incident_service.worker_app import compose_worker
    from incident_service.workflows import inbox
    from incident_service.workflows.engine import Engine

    stop = asyncio.Event()  # the first SIGTERM/SIGINT: stop gracefully
    hurry = asyncio.Event()  # a second one: skip what is left of the grace period
    retired = asyncio.Event()  # the heartbeat beats until the hand-over is done

    def on_signal() -> None:
        (hurry if stop.is_set() else stop).set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    # Steps wait for a connection rather than fail: a burst queues for the pool, and a
    # PostgreSQL restart is waited out (DB steps also retry, see durable.DB_STEP).
    pool = make_pool(
        url,
        settings.model_copy(
            update={
                "db_pool_max_size": settings.worker_db_pool_max_size,
                "db_pool_timeout_s": max(settings.db_pool_timeout_s, 30.0),
            }
        ),
        custom_plans=True,
    )
    await pool.open()
    policy = OutboundPolicy.from_networks(settings.outbound_allow_networks)
    engine = Engine(settings, url)
    async with HttpClient(max_connections=200, policy=policy) as client:
        resources = Resources(settings=settings, pool=pool, http=client, start_now=engine.start_now)
        parts = compose_worker(resources)
        intake = inbox.Inbox(
            pool=pool,
            handlers=parts.inbox_handlers,
            running=engine.running,
            concurrency=settings.workflow_worker_concurrency,
            poll_s=settings.worker_poll_s,
        )
        await engine.register()  # beating before any workflow of ours exists
        await engine.launch()
        freeze_startup_heap()
        print(
            f"worker {engine.executor_id} running"
            f" (queue polling {settings.workflow_queue_polling_s}s)",
            flush=True,
        )
        heartbeat = asyncio.create_task(engine.heartbeat_and_recover(retired))
        tasks = [
            asyncio.create_task(inbox.run(intake, url, stop)),
            asyncio.create_task(parts.escalation.watch_acknowledgements(url, stop)),
            asyncio.create_task(parts.sync.run(stop)),  # incident events -> vendor syncs
            asyncio.create_task(parts.sweeps.run(stop)),  # overdue updates, follow-ups
        ]
        if relay:
            tasks.append(asyncio.create_task(event_relay.run(resources, url, stop)))
        try:
            await stop.wait()
        finally:
            # Graceful stop: no more inbox rows or events taken, running workflows get
            # the grace period, the rest go back to the live workers at once. Still
            # beating meanwhile, so nobody takes this worker for dead.
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            try:
                handed = await engine.hand_over(settings.worker_shutdown_grace_s, hurry)
                print(
                    f"worker {engine.executor_id} stopped; handed over {handed} workflows",
                    flush=True,
                )
            except Exception:  # the database may be gone: the heartbeat rule recovers them
                log.warning(
                    "hand-over failed; live workers recover this one's workflows", exc_info=True
                )
            retired.set()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            with contextlib.suppress(Exception):
                await engine.retire(pool)
            await asyncio.to_thread(engine.shutdown)
            await pool.close()


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from incident_service.db import resolve_database_url
    from incident_service.migrate import apply_migrations

    url = resolve_database_url(settings)
    apply_migrations(url)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run_worker(settings, url, relay=not args.no_relay))
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when it is installed (it comes with uvicorn[standard]): the worker's event
    loop runs every workflow, step and HTTP call, and is its busiest thread."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser(
        "worker",
        help="run automated responses, escalations and the event relay (DBOS workflows)",
    )
    worker.add_argument(
        "--no-relay", action="store_true", help="do not deliver events to subscribers"
    )
    worker.set_defaults(func=_worker)


def main() -> int:
    """`python -m incident_service.worker`: the worker without the whole CLI."""
    from incident_service.config import get_settings

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    parser = argparse.ArgumentParser(prog="incident-service worker")
    parser.add_argument("--no-relay", action="store_true")
    return _worker(parser.parse_args(), settings)


if __name__ == "__main__":
    raise SystemExit(main())
