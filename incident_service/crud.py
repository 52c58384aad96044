"""Configuration resources in one shape: a table whose rows belong to a team, read and
written only through the caller's team.

Schedules, escalation policies, integrations, event subscribers and API keys are all a
`Table`. Every read and write takes `team`, the caller's restriction: None for a key
restricted to no team (and for the system), which sees every team's rows; a team's name
otherwise. The filter is in the SQL, so another team's row is exactly as absent as a
missing one: the same 404 with the same body, and a write to it changes nothing.

Who changed a row and when is written by the caller into the row (`updated_by`,
`created_by`, ...) or into the resource's audit table; an update also stamps
`Table.touched` with the time. Nothing here commits: the request's transaction does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from psycopg.types.json import Jsonb

from incident_service.db import AsyncConn, fetch_all, fetch_one
from incident_service.errors import Conflict, NotFound, ValidationFailed, found

Row = dict[str, Any]


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """A page of a list, and the opaque cursor of the next one (None: the last page)."""

    items: list[T]
    next_cursor: str | None


def one_page(
    rows: list[Row], limit: int, cursor_of: Callable[[Row], str], item: Callable[[Row], T]
) -> Page[T]:
    """The page of a keyset-paged list read with `limit + 1` rows (the one more says that a
    next page exists): the first `limit` rows as `item`s, and the cursor after the last of
    them (`cursor_of` that row) when there is a next page."""
    page = rows[:limit]
    more = len(rows) > limit and page
    return Page([item(r) for r in page], cursor_of(page[-1]) if more else None)


async def newest_first(
    read: Callable[..., Awaitable[list[Row]]],
    cursor: str | None,
    limit: int,
    item: Callable[[Row], T],
) -> Page[T]:
    """A page of a list newest first, keyset-paged on (created_at, id): `read(before=...,
    limit=...)` reads the rows before the cursor's (see `page_where`), one more than
    `limit`, and the page's cursor is its last row's."""
    rows = await read(before=decode_cursor(cursor), limit=limit + 1)
    return one_page(rows, limit, row_cursor, item)


def row_cursor(row: Row) -> str:
    """The cursor after `row` of a list newest first: its (created_at, id)."""
    return encode_cursor(row["created_at"], row["id"])


def encode_cursor(created_at: datetime, row_id: UUID) -> str:
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    """The opaque cursor back into (created_at, id); garbage is a 400 naming `cursor`."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, row_id = raw.split("|")
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed, UUID(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        msg = "invalid cursor"
        raise ValidationFailed(
            msg, [{"key": "cursor", "message": "not a cursor this API issued", "source": "query"}]
        ) from exc


def page_where(
    filters: Mapping[str, Any],
    conditions: Mapping[str, str],
    before: tuple[datetime, UUID] | None,
    *,
    keyset: str,
    params: dict[str, Any],
    also: Sequence[str] = (),
) -> str:
    """The `where` of a page of a newest-first keyset-paged list (" where ...", or ""
    when nothing narrows it): the condition of each filter that is set (not None), from
    `conditions` (SQL reading the parameter of the filter's name); then the conditions
    `also`; then the rows before `before`, the (created_at, id) of the last row already
    seen, compared with `keyset` (e.g. "(created_at, id)"). Adds the values to `params`."""
    clauses: list[str] = []
    for name, condition in conditions.items():
        if filters.get(name) is not None:
            clauses.append(condition)
            params[name] = filters[name]
    clauses += also
    if before is not None:
        clauses.append(f"{keyset} < (%(cursor_at)s, %(cursor_id)s)")
        params["cursor_at"], params["cursor_id"] = before
    return f" where {' and '.join(clauses)}" if clauses else ""


class Caller(Protocol):
    """Who asks: an API key's principal, or an operator at the command line."""

    @property
    def team(self) -> str | None:
        """The team the caller is restricted to (None: every team)."""

    @property
    def name(self) -> str:
        """Who is recorded as having made a change."""


@dataclass(frozen=True, slots=True)
class Operator:
    """An operator at the command line: every team, named by their login."""

    name: str
    team: str | None = None


# The placeholders of the row's id and of the caller's team: prefixed so that they never
# collide with a column of the row (a row has a `team` column of its own).
_ID = "%(_id)s"
_SEES = "(%(_team)s::text is null or team = %(_team)s::text)"


def _quoted(word: str) -> str:
    """A table or column name as an SQL string literal (names are code, never input)."""
    if not word.replace("_", "").isalnum():
        msg = f"not a name: {word!r}"
        raise ValueError(msg)
    return f"'{word}'"


@dataclass(frozen=True, slots=True)
class Table:
    """One configuration table: its rows have a uuid `id` and belong to a team."""

    name: str
    # How a missing row is named in a 404: "schedule", "escalation policy", ...
    noun: str
    # What every read and write returns.
    columns: str
    order_by: str
    # Columns stored as jsonb: their values are wrapped on the way in.
    jsonb: frozenset[str] = frozenset()
    # The `on conflict` target of the uniqueness a create may clash with (None: none).
    unique: str | None = None
    # The column an update sets to now() (None: the table keeps no such time).
    touched: str | None = "updated_at"
    # Columns never copied into the record of a deletion (signing secrets).
    private: frozenset[str] = frozenset()

    def missing(self, row_id: UUID) -> NotFound:
        msg = f"{self.noun} {row_id} not found"
        return NotFound(msg)

    def _params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: Jsonb(v) if k in self.jsonb else v for k, v in values.items()}

    async def get(self, conn: AsyncConn, row_id: UUID, team: str | None) -> Row | None:
        return await fetch_one(
            conn,
            f"select {self.columns} from {self.name} where id = {_ID} and {_SEES}",
            {"_id": row_id, "_team": team},
        )

    async def get_or_404(self, conn: AsyncConn, row_id: UUID, team: str | None) -> Row:
        return found(await self.get(conn, row_id, team), self.missing(row_id))

    async def list(self, conn: AsyncConn, team: str | None) -> list[Row]:
        return await fetch_all(
            conn,
            f"select {self.columns} from {self.name} where {_SEES} order by {self.order_by}",
            {"_team": team},
        )

    async def insert(
        self,
        conn: AsyncConn,
        values: Mapping[str, Any],
        *,
        exprs: Mapping[str, str] | None = None,
        conflict: str = "",
    ) -> Row:
        """The new row. `exprs`: columns set by an SQL expression instead of a value.
        When the row clashes with `unique`, nothing is written and `conflict` is the 409."""
        exprs = exprs or {}
        columns = [*values, *exprs]
        placeholders = [f"%({c})s" for c in values] + list(exprs.values())
        clash = f" on conflict {self.unique} do nothing" if self.unique else ""
        row = await fetch_one(
            conn,
            f"insert into {self.name} ({', '.join(columns)})"
            f" values ({', '.join(placeholders)}){clash} returning {self.columns}",
            self._params(values),
        )
        if row is None:
            raise Conflict(conflict)
        return row

    async def update(
        self,
        conn: AsyncConn,
        row_id: UUID,
        team: str | None,
        values: Mapping[str, Any],
        *,
        exprs: Mapping[str, str] | None = None,
        where: str = "",
    ) -> Row:
        """The row as changed, or 404. `exprs`: columns set by an SQL expression (which may
        read the values' placeholders) instead of their value; `where`: a further condition
        for the row to change (its failure is a 404 too)."""
        exprs = exprs or {}
        sets = [f"{c} = %({c})s" for c in values if c not in exprs]
        sets += [f"{c} = {e}" for c, e in exprs.items()]
        if self.touched is not None:
            sets.append(f"{self.touched} = now()")
        condition = f" and ({where})" if where else ""
        row = await fetch_one(
            conn,
            f"update {self.name} set {', '.join(sets)}"
            f" where id = {_ID} and {_SEES}{condition} returning {self.columns}",
            self._params(values) | {"_id": row_id, "_team": team},
        )
        if row is None:
            raise self.missing(row_id)
        return row

    async def delete(self, conn: AsyncConn, row_id: UUID, team: str | None, *, by: str) -> None:
        """Delete the row, or 404. The same statement records who deleted it, when, and
        the row as it was (without `private` columns) in `config_deletions`."""
        hidden = "".join(f" - {_quoted(c)}" for c in sorted(self.private))
        if (
            await fetch_one(
                conn,
                f"with gone as (delete from {self.name} where id = {_ID} and {_SEES} returning *)"
                " insert into config_deletions (resource, resource_id, team, row, deleted_by)"
                f" select {_quoted(self.name)}, g.id, g.team, to_jsonb(g){hidden}, %(_by)s"
                f" from (select {self.columns} from gone) as g returning resource_id",
                {"_id": row_id, "_team": team, "_by": by[:200]},
            )
            is None
        ):
            raise self.missing(row_id)

    async def taken(self, conn: AsyncConn, row_id: UUID | None, **unique: Any) -> bool:
        """Whether a row other than `row_id` holds these values (a null matches a null):
        the uniqueness an update would clash with, checked across every team."""
        match = " and ".join(f"{c} is not distinct from %({c})s" for c in unique)
        return (
            await fetch_one(
                conn,
                f"select 1 from {self.name} where {match}"
                f" and id is distinct from {_ID}::uuid limit 1",
                self._params(unique) | {"_id": row_id},
            )
            is not None
        )
