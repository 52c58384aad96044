"""Where the database is, the connection pool, and the one-transaction-per-request dependency."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import msgspec
import psycopg
from psycopg import sql
from psycopg.abc import Params, QueryNoTemplate
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from incident_service.config import Settings
from incident_service.errors import Unavailable

log = logging.getLogger(__name__)

AsyncConn = psycopg.AsyncConnection[dict[str, Any]]
T = TypeVar("T")


# psycopg reads a statement's rows through a cursor: a read is execute, then fetch. These
# are that pair in one call (asyncpg's `fetchrow` and `fetch`), for every repository.
async def fetch_one(
    conn: AsyncConn, query: QueryNoTemplate, params: Params | None = None
) -> dict[str, Any] | None:
    """The statement's first row (a dict), or None when it returns none."""
    cur = await conn.execute(query, params)
    return await cur.fetchone()


async def fetch_all(
    conn: AsyncConn, query: QueryNoTemplate, params: Params | None = None
) -> list[dict[str, Any]]:
    """The statement's rows (dicts)."""
    cur = await conn.execute(query, params)
    return await cur.fetchall()


# Kept alive for the life of the process: pgserver stops the embedded server when the last
# process holding a handle to it exits.
_embedded: dict[Path, Any] = {}


# psycopg caches the parsing of a statement's placeholders only for statements shorter
# than this (psycopg._queries.MAX_CACHED_STATEMENT_LENGTH); a longer one is re-parsed,
# with a regular expression over the whole text, on every execution.
PSYCOPG_CACHED_STATEMENT_CHARS = 4096

# How long the outbox's listeners (event relay, acknowledgement watcher) let notifications
# gather after the first before they read: at 50 incidents/s the outbox takes about 450
# events a second, and each read serves all of them.
LISTEN_SETTLE_S = 0.05


def compact_sql(statement: str) -> str:
    """`statement` without its indentation and its whole-line `--` comments: the same SQL
    in fewer characters, so that a long hot statement stays under psycopg's parse cache
    limit (the incident's create statement was 4,102 characters, 3,478 compacted)."""
    lines = (line.strip() for line in statement.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("--"))


async def wait_notified(
    listen: psycopg.AsyncConnection[Any], timeout_s: float, settle_s: float = 0.0
) -> None:
    """Until `listen` gets a notification (or `timeout_s` passes), then `settle_s` more,
    and then swallow the ones already received: every transaction that writes the outbox
    or the inbox sends one, and one read of the table serves them all. Without this, a
    listener woke, and queried, once per committed transaction (hundreds a second at 50
    incidents/s). `settle_s` gathers a burst's notifications into one read, for listeners
    that can wait that long (the event relay, the acknowledgement watcher); the inbox,
    which starts the responses, does not wait."""
    async for _ in listen.notifies(timeout=timeout_s, stop_after=1):
        if settle_s > 0:
            await asyncio.sleep(settle_s)
    async for _ in listen.notifies(timeout=0.0):
        pass


# How long a listener waits before connecting again after its connection failed.
RECONNECT_PAUSE_S = 1.0


async def listen_loop(
    url: str,
    channel: str,
    *,
    poll_s: float,
    stop: asyncio.Event,
    each_round: Callable[[], Awaitable[bool]],
    settle_s: float = 0.0,
    name: str,
) -> None:
    """Until `stop`: `each_round`, then `wait_notified` on a connection that LISTENs on
    `channel` (at most `poll_s`, then `settle_s`); at once again instead when `each_round`
    says there is more to do (it read a full batch). The connection is the listener's own,
    not the pool's; when it fails (the database restarting), `name` logs it and the loop
    connects again after RECONNECT_PAUSE_S. What `each_round` raises otherwise ends it."""
    statement = sql.SQL("listen {}").format(sql.Identifier(channel))
    while not stop.is_set():
        try:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute(statement)
                while not stop.is_set():
                    if not await each_round():
                        await wait_notified(conn, poll_s, settle_s)
        except (psycopg.OperationalError, OSError):
            log.warning("%s: database unavailable; retrying", name, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=RECONNECT_PAUSE_S)


def resolve_database_url(settings: Settings) -> str:
    """`DATABASE_URL` when set, else the URL of an embedded PostgreSQL under `data_dir`.

    The embedded server (pgserver) is started on first use and shared by every process of
    this checkout; it listens on a Unix socket inside the data folder only.
    """
    if settings.database_url:
        return settings.database_url
    return _embedded_url(settings.data_dir / "pg")


def _embedded_url(pgdata: Path) -> str:
    import pgserver  # imported lazily: it is only needed when no DATABASE_URL is given

    pgdata = pgdata.resolve()
    if pgdata not in _embedded:
        pgdata.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded PostgreSQL in %s", pgdata)
        _forget_dead_handles(pgdata)
        _embedded[pgdata] = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
    uri: str = _embedded[pgdata].get_uri()
    return uri


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop the processes that are gone from pgserver's list of the server's users.

    pgserver stops the server when the last process on `.handle_pids.json` exits through
    its exit hooks. A process killed without running them (SIGKILL, a crash) stays on the
    list, and then no later clean exit is ever the last one: the server would run for good.
    """
    import json

    from pgserver.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        pids = json.loads(handles.read_text() or "[]")
        alive = [pid for pid in pids if _alive(pid)]
        if alive != pids:
            log.info("embedded PostgreSQL: forgetting exited processes %s", set(pids) - set(alive))
            handles.write_text(json.dumps(alive))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process with that pid: alive
        return True
    return True


def with_database(url: str, dbname: str) -> str:
    """The same server URL pointing at another database (for tests and admin tasks)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "dbname"]
    return urlunsplit(parts._replace(path=f"/{dbname}", query=urlencode(query)))


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    if info.get("password"):
        info["password"] = "***"  # noqa: S105 - a mask, not a secret
    return psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]


# psycopg prepares a statement on the server after its fifth execution, and PostgreSQL
# then keeps one generic plan for it per connection, made with the table sizes of that
# moment. The worker's statements run from a service's first minutes, when its tables are
# nearly empty: their generic plans scanned workflow_inbox and automated_responses whole
# (a 60-s run at 50 incidents/s: 5,729 sequential scans of automated_responses reading
# 25.7 million rows), so the work per incident grew with the tables until autovacuum's
# first ANALYZE, and a 120-s run fell behind for good. Planning each execution costs a
# little CPU and keeps the indexes in use.
CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"


def make_pool(
    url: str, settings: Settings, *, custom_plans: bool = False
) -> AsyncConnectionPool[AsyncConn]:
    """An unopened pool; `app.py`'s lifespan opens and closes it. `custom_plans`: every
    execution of a prepared statement is planned for its parameters and the tables as
    they are now (see `CUSTOM_PLANS`)."""
    kwargs: dict[str, Any] = {"row_factory": dict_row, "autocommit": False}
    if custom_plans:
        kwargs["options"] = CUSTOM_PLANS
    return AsyncConnectionPool(
        url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        timeout=settings.db_pool_timeout_s,
        kwargs=kwargs,
        open=False,
        configure=_configure,
        check=_check_if_idle,
        reset=_stamp_return,
        name="incident-service",
    )


async def _configure(conn: AsyncConn) -> None:
    # jsonb in and out through msgspec (as the HTTP layer does): measured ~3% of a create
    # request's CPU in the standard library's json.
    set_json_dumps(msgspec.json.encode, context=conn)
    set_json_loads(msgspec.json.decode, context=conn)


# A connection that sat idle in the pool (for instance across a PostgreSQL restart) is
# pinged before it is handed out, and replaced if dead, so the service heals by itself.
# A connection returned moments ago is not: the ping would be one more round trip on
# every request of a busy service, and a connection that breaks mid-request is discarded
# by the pool anyway (that request gets a 503 with Retry-After).
_IDLE_BEFORE_CHECK_S = 1.0
_returned_at: dict[int, float] = {}


async def _stamp_return(conn: AsyncConn) -> None:
    _returned_at[id(conn)] = time.monotonic()
    if conn.autocommit:  # lent by `autocommit`: back to one transaction per checkout
        await conn.set_autocommit(False)


async def _check_if_idle(conn: AsyncConn) -> None:
    returned = _returned_at.pop(id(conn), None)
    if returned is None or time.monotonic() - returned > _IDLE_BEFORE_CHECK_S:
        await AsyncConnectionPool.check_connection(conn)


async def transaction(
    db_pool: AsyncConnectionPool[AsyncConn], retry_after_s: int
) -> AsyncGenerator[AsyncConn, None]:
    """One connection and one transaction per request: commit on success, else roll back.

    Services never commit; this is the only transaction boundary of the HTTP side.
    """
    try:
        async with db_pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        msg = "the database is unreachable; retry shortly"
        raise Unavailable(msg, retry_after=retry_after_s) from exc


@contextlib.asynccontextmanager
async def autocommit(db_pool: AsyncConnectionPool[AsyncConn]) -> AsyncIterator[AsyncConn]:
    """A pooled connection in autocommit mode, for work that is one statement at a time
    (each then commits itself: no BEGIN and COMMIT round trips). The pool's reset turns
    autocommit off again when the connection goes back."""
    async with db_pool.connection() as conn:
        await conn.set_autocommit(True)
        yield conn


async def single_statement(
    db_pool: AsyncConnectionPool[AsyncConn], retry_after_s: int
) -> AsyncGenerator[AsyncConn, None]:
    """A connection in autocommit mode, for a request whose whole write is one statement
    (an incident's creation writes everything in one statement of data-modifying CTEs):
    the statement commits itself, which saves the BEGIN and COMMIT round trips. A handler
    that needs more than one statement opens `conn.transaction()` on it."""
    try:
        async with autocommit(db_pool) as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        msg = "the database is unreachable; retry shortly"
        raise Unavailable(msg, retry_after=retry_after_s) from exc


def run_in_transaction(url: str, work: Callable[[AsyncConn], Awaitable[T]]) -> T:
    """`work` on one connection and in one transaction, committed when it returns (rolled
    back when it raises): the transaction boundary of a command-line command."""

    async def go() -> T:
        async with await psycopg.AsyncConnection.connect(url, row_factory=dict_row) as conn:
            result = await work(conn)
            await conn.commit()
            return result

    return asyncio.run(go())
