"""Request and response types of the merge API."""

from __future__ import annotations

from typing import Annotated

import msgspec
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from incident_service.incidents.schemas import Incident
from incident_service.text import LongText, storable

IncidentIdText = Annotated[
    str, StringConstraints(min_length=1, max_length=100), AfterValidator(storable)
]

# A merge touches every row of its sources in one statement: a bound keeps it short.
MAX_SOURCES = 50


class MergeRequest(BaseModel):
    """The incidents to fold into the one in the path, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_incident_ids: list[IncidentIdText] = Field(min_length=1, max_length=MAX_SOURCES)
    reason: LongText = ""


class MergeResult(msgspec.Struct, kw_only=True):
    """The target after the merge and each source, now MERGED with `merged_into` set."""

    target: Incident
    merged: list[Incident]
