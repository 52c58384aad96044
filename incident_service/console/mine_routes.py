""" "Mine": the incidents a person is in (assigned, or holding a role), the roles they
hold and the follow-ups they own, within the teams their session sees."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from incident_service.console.pages import page
from incident_service.followups import service as followups
from incident_service.incidents import service as incidents
from incident_service.incidents.lifecycle import ACTIVE
from incident_service.principal import Principal
from incident_service.roles import service as roles
from incident_service.routing import Conn


@get("/ui/mine", include_in_schema=False)
async def mine(
    request: Request[Any, Any, Any], conn: Conn, principal: NamedDependency[Principal]
) -> Template:
    user = principal.user_id
    if user is None:
        # A key that acts for nobody has no incidents, roles or follow-ups of its own.
        return page(request, "mine.html", {"nobody": True})
    listed = await incidents.list_incidents(
        conn,
        filters={
            "involving": user,
            "active": [s.value for s in ACTIVE],
            "assigned_team": principal.team,
        },
        cursor=None,
        limit=100,
    )
    owned = await followups.search(
        conn, filters={"owner_id": user, "team": principal.team}, cursor=None, limit=100
    )
    return page(
        request,
        "mine.html",
        {
            "nobody": False,
            "incidents": listed.items,
            "roles": await roles.held_by(conn, user, team=principal.team),
            "follow_ups": [f for f in owned.items if str(f.state) not in ("done", "wont_do")],
        },
    )
