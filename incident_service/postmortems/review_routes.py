"""HTTP routes for what people add to a post-mortem (contributing factors, action items)."""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody

from incident_service.auth.schemas import Principal
from incident_service.errors import NotFound
from incident_service.postmortems import reviews, service, states
from incident_service.postmortems.reviews import Review, ReviewRequest
from incident_service.postmortems.schemas import Postmortem
from incident_service.routing import Conn, IncidentId


class PostmortemReviewController(Controller):
    path = "/api/v1/incidents/{incident_id:str}/postmortem/review"
    tags = ["postmortems"]

    @get("/", summary="The contributing factors and action items people wrote")
    async def get_review(self, conn: Conn, incident_id: IncidentId) -> Review:
        found = await reviews.get(conn, incident_id)
        if found is None:
            msg = f"incident {incident_id} has no post-mortem review yet"
            raise NotFound(msg)
        return found

    @put(
        "/",
        summary="Save the contributing factors and action items of a post-mortem",
        description="Replaces the previous review, records who saved it in the incident's "
        "timeline and regenerates the post-mortem with it, which is returned. Its action "
        "items are the incident's follow-ups from the review (matched by title: new ones "
        "added, changed ones updated, those no longer listed withdrawn as `wont_do`). 404 "
        "for an unknown incident, 409 while it is not resolved (it has no post-mortem yet) "
        "and once it is published (move it back to draft first).",
    )
    async def save_review(
        self,
        conn: Conn,
        principal: NamedDependency[Principal],
        incident_id: IncidentId,
        data: JSONBody[ReviewRequest],
    ) -> Postmortem:
        # Refuses an unknown or unresolved incident before anything is written.
        await service.build(conn, incident_id, generated_by=principal.name)
        await states.refuse_if_published(conn, incident_id)
        await reviews.save(conn, incident_id, data, actor=principal.name)
        return await service.generate(conn, incident_id, generated_by=principal.name)
