"""How a change is recorded: its `incident_timeline` entry and its `outbox` event.

Every write that changes an incident is ONE statement: the change itself, its timeline
entry and its event are data-modifying CTEs of that statement (see docs/performance.md
for what a statement per row costs). These functions write the timeline and outbox parts
of such statements, so each domain's repository states only what differs: the kind, who,
and which fields; the columns, the event's shape and the JSON building live here once.

Each returns the body of a CTE (or a whole statement): an `insert ... select` whose
values are SQL expressions over `source` (a CTE of the statement) or over the statement's
own parameters when `source` is None. Names of kinds and event types are SQL literals,
checked here, never values from a request.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z][a-z0-9_]*")


def _literal(word: str) -> str:
    if not _WORD.fullmatch(word):
        msg = f"not a kind or event type: {word!r}"
        raise ValueError(msg)
    return f"'{word}'"


def json_object(*columns: str, of: str | None = None, **expressions: str) -> str:
    """`jsonb_build_object(...)` of `columns` (each under its own name; of the table or
    CTE `of` when given) and of `expressions` (SQL, under the keyword's name)."""
    prefix = f"{of}." if of is not None else ""
    pairs = [(c, prefix + c) for c in columns] + list(expressions.items())
    return "jsonb_build_object(" + ", ".join(f"{_literal(k)}, {v}" for k, v in pairs) + ")"


def _select(
    columns: list[str],
    values: list[str],
    table: str,
    source: str | None,
    where: str | None,
    order_by: str | None,
) -> str:
    sql = f"insert into {table} ({', '.join(columns)}) select {', '.join(values)}"
    if source is not None:
        sql += f" from {source}"
    if where is not None:
        sql += f" where {where}"
    if order_by is not None:
        sql += f" order by {order_by}"
    return sql


def timeline_entry(
    kind: str,
    *,
    source: str | None,
    actor: str,
    note: str | None = None,
    details: str | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    occurred_at: str | None = None,
    incident_id: str = "incident_id",
    where: str | None = None,
    order_by: str | None = None,
) -> str:
    """One timeline entry of `kind` per row of `source`; every other argument is a SQL
    expression (None: the column's default)."""
    columns, values = ["incident_id", "kind", "actor"], [incident_id, _literal(kind), actor]
    optional = {
        "from_status": from_status,
        "to_status": to_status,
        "note": note,
        "details": details,
        "occurred_at": occurred_at,
    }
    for column, value in optional.items():
        if value is not None:
            columns.append(column)
            values.append(value)
    return _select(columns, values, "incident_timeline", source, where, order_by)


def outbox_event(
    event_type: str,
    *,
    source: str | None,
    payload: str,
    created_at: str | None = None,
    incident_id: str = "incident_id",
    where: str | None = None,
    order_by: str | None = None,
) -> str:
    """One event of `event_type` per row of `source`; `payload` is a SQL expression (most
    often a `json_object`). The relay, the integrations and the feed read these rows."""
    columns = ["event_type", "incident_id", "payload"]
    values = [_literal(event_type), incident_id, payload]
    if created_at is not None:
        columns.append("created_at")
        values.append(created_at)
    return _select(columns, values, "outbox", source, where, order_by)


def entry_of_parameters(kind: str, *, details: str | None = "%(details)s") -> str:
    """A whole statement: one timeline entry of `kind` from the parameters `incident_id`,
    `actor`, `note` (and `details`, unless None), for a change that writes nothing else."""
    return timeline_entry(
        kind,
        source=None,
        incident_id="%(incident_id)s",
        actor="%(actor)s",
        note="%(note)s",
        details=details,
    )
