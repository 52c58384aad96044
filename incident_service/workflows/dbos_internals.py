"""Everything the worker takes from DBOS beyond its public API, in one place.

Checked against dbos 3.4.0 (the locked version); each use names why no public API does it:

- `Executions` replaces DBOS's registry of the workflows running in this process
  (`ActiveWorkflowById`, read by DBOS itself) and reads each execution's owner token from
  DBOS's context: `heal` needs to know which workflows are running here, by fact, and DBOS
  exposes neither the registry nor the token.
- `install` wraps `SystemDatabase.start_queued_workflows` to note each queue claim (which
  workflows a queue thread took, under which token): no hook exists for it.
- `INTERNAL_QUEUE_NAME`: the queue DBOS's own recovery puts workflows on; not exported.
- `stop_dequeuing`, `workflow_tasks` and `recover_pending` are a graceful stop: DBOS's
  public `destroy` waits for or abandons the running workflows, but cannot stop taking new
  ones, cancel the running ones and put them back on the queue for the live workers.

A DBOS upgrade must re-check these (the lead pins an upper bound on `dbos`).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from dbos import DBOS, WorkflowHandle
from dbos import _dbos as dbos_module
from dbos._context import get_local_dbos_context
from dbos._core import ActiveWorkflowById, ActiveWorkflowEntry
from dbos._sys_db import SystemDatabase
from dbos._utils import INTERNAL_QUEUE_NAME

__all__ = ["INTERNAL_QUEUE_NAME", "Executions", "install"]


class Executions(ActiveWorkflowById):
    """DBOS's registry of the workflows running in this process, which also remembers
    what `heal` needs to find the ones nobody runs, by fact rather than by age.

    An execution is known by its workflow id and owner token (the `owner_xid` DBOS wrote
    to the row when it claimed or started it; checkpoints land only while the row still
    holds it). A token whose execution ended here (`_remove`), or that the queue thread
    claimed and never started, is an orphan if the row is still PENDING under it: nobody
    else can run a workflow under another execution's token.
    """

    def __init__(self) -> None:
        super().__init__()
        self._tokens_lock = threading.Lock()
        self.running: set[tuple[str, str]] = set()
        self.ended: list[tuple[str, str]] = []
        # Per queue thread: the batch it claimed last and is dispatching or has dispatched.
        self.claimed: dict[int, tuple[list[str], str]] = {}
        self.dispatched: list[tuple[str, str]] = []

    @staticmethod
    def _token(key: str) -> str | None:
        ctx = get_local_dbos_context()  # registration and release run in the workflow's
        return ctx.owner_xid if ctx is not None and ctx.workflow_id == key else None

    def add(
        self, key: str, queue_name: str | None = None, queue_partition_key: str | None = None
    ) -> ActiveWorkflowEntry:
        entry = super().add(key, queue_name, queue_partition_key)
        token = self._token(key)
        if token is not None:
            with self._tokens_lock:
                self.running.add((key, token))
        return entry

    def _remove(self, key: str, bucket: Any) -> None:
        super()._remove(key, bucket)
        token = self._token(key)
        if token is not None:
            with self._tokens_lock:
                self.running.discard((key, token))
                self.ended.append((key, token))

    def claiming(self) -> None:
        """A queue thread begins a claim: the batch it claimed before is dispatched (it
        dispatches a batch in full before it polls again)."""
        with self._tokens_lock:
            previous = self.claimed.pop(threading.get_ident(), None)
            if previous is not None:
                self.dispatched.extend((wid, previous[1]) for wid in previous[0])

    def claimed_batch(self, ids: list[str], token: str | None) -> None:
        if ids and token is not None:
            with self._tokens_lock:
                self.claimed[threading.get_ident()] = (ids, token)

    def take_dispatched(self) -> list[tuple[str, str]]:
        with self._tokens_lock:
            taken, self.dispatched = self.dispatched, []
        return taken

    def take_orphan_candidates(self, dispatched: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """Executions that ended here, and claims of `dispatched` that never started."""
        with self._tokens_lock:
            ended, self.ended = self.ended, []
            never_started = [c for c in dispatched if c not in self.running]
        return ended + never_started


def _installed() -> Executions | None:
    dbos = dbos_module._dbos_global_instance
    executions = getattr(dbos, "_active_workflows_set", None)
    return executions if isinstance(executions, Executions) else None


def install(dbos: DBOS) -> Executions:
    """Install `Executions` in a DBOS not yet launched, and note each queue claim."""
    executions = Executions()
    dbos._active_workflows_set = executions
    # On the class: DBOS creates its system database (and starts the queue threads that
    # claim) inside launch. The wrapper reports to the registry of the running DBOS.
    if not getattr(SystemDatabase.start_queued_workflows, "_noted", False):
        claim = SystemDatabase.start_queued_workflows

        def start_queued_workflows(self: SystemDatabase, *args: Any, **kwargs: Any) -> Any:
            noting = _installed()
            if noting is not None:
                noting.claiming()
            ids, reason = claim(self, *args, **kwargs)
            if noting is not None:
                noting.claimed_batch(list(ids), kwargs.get("owner_xid"))
            return ids, reason

        start_queued_workflows._noted = True  # type: ignore[attr-defined]
        SystemDatabase.start_queued_workflows = start_queued_workflows  # type: ignore[method-assign]
    return executions


def stop_dequeuing() -> None:
    """Stop the queue threads: this process takes no more workflows."""
    for event in dbos_module._get_dbos_instance().background_thread_stop_events:
        event.set()


def workflow_tasks() -> list[asyncio.Task[Any]]:
    """The asyncio tasks of the workflows running in this process."""
    return list(dbos_module._get_dbos_instance()._workflow_tasks)


def recover_pending(executor_id: str) -> list[WorkflowHandle[Any]]:
    """Put `executor_id`'s PENDING workflows back on their queue (DBOS's own recovery)."""
    return DBOS._recover_pending_workflows([executor_id])
