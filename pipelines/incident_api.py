"""The incident explorer notebook's client for the incident API: post-mortems and their
reviews, similar past incidents.

``INCIDENT_API_URL`` (default http://127.0.0.1:8000, as `make run` serves) and
``INCIDENT_API_KEY`` (sent as a bearer token when set) come from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import msgspec

from incident_service.predictions.schemas import SimilarIncident, SimilarIncidents


def client_from_env(env: dict[str, str] | None = None, timeout_s: float = 5.0) -> httpx.Client:
    env = dict(os.environ) if env is None else env
    headers = {"Accept": "application/json"}
    if env.get("INCIDENT_API_KEY"):
        headers["Authorization"] = f"Bearer {env['INCIDENT_API_KEY']}"
    return httpx.Client(
        base_url=env.get("INCIDENT_API_URL", "http://127.0.0.1:8000"),
        headers=headers,
        timeout=timeout_s,
    )


@dataclass(frozen=True)
class Fetched:
    """A post-mortem, or why there is none (``reason``)."""

    postmortem: dict[str, Any] | None
    markdown: str
    reason: str


def fetch_postmortem(client: httpx.Client, incident_id: str) -> Fetched:
    """The incident's post-mortem as JSON and Markdown; never raises for a missing one."""
    url = f"/api/v1/incidents/{incident_id}/postmortem"
    try:
        response = client.get(url)
        if response.status_code != 200:
            detail = response.json().get("detail", response.text) if response.content else ""
            return Fetched(None, "", f"{response.status_code}: {detail}")
        markdown = client.get(url, params={"format": "markdown"}).text
    except httpx.HTTPError as exc:
        return Fetched(None, "", f"the incident API at {client.base_url} is unreachable: {exc}")
    document: dict[str, Any] = response.json()
    return Fetched(document, markdown, "")


@dataclass(frozen=True)
class SimilarFetched:
    """The incident's similar past incidents, or why there are none (``reason``)."""

    similar: list[SimilarIncident]
    reason: str


def fetch_similar(client: httpx.Client, incident_id: str, limit: int = 5) -> SimilarFetched:
    """Similar past incidents as the API (and the post-mortem) define them: the one
    definition, `incident_service.predictions.similar`; never raises."""
    url = f"/api/v1/incidents/{incident_id}/similar"
    try:
        response = client.get(url, params={"limit": limit})
    except httpx.HTTPError as exc:
        return SimilarFetched([], f"the incident API at {client.base_url} is unreachable: {exc}")
    if response.status_code != 200:
        detail = response.json().get("detail", response.text) if response.content else ""
        return SimilarFetched([], f"{response.status_code}: {detail}")
    found = msgspec.json.decode(response.content, type=SimilarIncidents)
    return SimilarFetched(found.similar, "")


class ReviewInputError(ValueError):
    """A line of the review form that cannot be read; the message names it."""


def parse_review(factors_text: str, actions_text: str) -> dict[str, Any]:
    """The review body from the form: one factor per line; one action per line as
    ``action | owner | due (YYYY-MM-DD, optional)``. Blank lines are ignored."""
    factors = [line.strip() for line in factors_text.splitlines() if line.strip()]
    actions: list[dict[str, str]] = []
    for number, line in enumerate(actions_text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            msg = f"action line {number}: write it as 'action | owner | due date (optional)'"
            raise ReviewInputError(msg)
        item = {"action": parts[0], "owner": parts[1]}
        if len(parts) == 3 and parts[2]:
            try:
                item["due"] = date.fromisoformat(parts[2]).isoformat()
            except ValueError as exc:
                msg = f"action line {number}: due date {parts[2]!r} is not YYYY-MM-DD"
                raise ReviewInputError(msg) from exc
        actions.append(item)
    return {"contributing_factors": factors, "action_items": actions}


def fetch_review(client: httpx.Client, incident_id: str) -> dict[str, Any] | None:
    """The review saved before (factors, action items, who and when), or None."""
    try:
        response = client.get(f"/api/v1/incidents/{incident_id}/postmortem/review")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    review: dict[str, Any] = response.json()
    return review


def review_text(review: dict[str, Any] | None) -> tuple[str, str]:
    """A saved review as the form's two texts (the inverse of `parse_review`)."""
    if not review:
        return "", ""
    factors = "\n".join(review["contributing_factors"])
    actions = "\n".join(
        " | ".join([a["action"], a["owner"], *([a["due"]] if a.get("due") else [])])
        for a in review["action_items"]
    )
    return factors, actions


def save_review(client: httpx.Client, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """PUT the review; returns the regenerated post-mortem. Raises on a refusal, with the
    API's answer (which names the bad field) in the message."""
    response = client.put(f"/api/v1/incidents/{incident_id}/postmortem/review", json=body)
    if response.status_code != 200:
        msg = f"the API refused the review ({response.status_code}): {response.text}"
        raise ReviewInputError(msg)
    saved: dict[str, Any] = response.json()
    return saved
