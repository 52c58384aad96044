"""Jira through the `jira` client (REST v2: Cloud and Data Center).

Configuration (`config` of a `jira` integration): `project` (required), `issue_type`
(default `Incident`), `fields` (extra fields set on create, e.g. components or a custom
field), `priority_map` (our severity -> Jira priority name), `resolve_transition` and
`close_transition` (transition names, default `Done`). Each issue carries the label
`ims-<incident_id>`; the lookup before a create searches for it.

Follow-ups (`export_follow_ups: true`): each becomes an issue of `follow_up_issue_type`
(default `Task`) labelled `ims-fu-<follow_up_id>`, found by that label before a create;
the issue reaching one of `follow_up_done_statuses` (default `Done`; any status of Jira's
done category counts too) closes the follow-up. The other way, a follow-up closed here
(done or won't do) takes its issue through `follow_up_done_transition` (default: the
first transition leading to a done status), and one reopened here takes it through
`follow_up_reopen_transition` (default: the first leading out of done), when the issue's
workflow offers one from where it stands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import requests
from jira import JIRA, Issue, JIRAError

from incident_service.integrations.base import (
    IncidentFacts,
    RemoteRecord,
    VendorError,
    classify,
    transport_error,
)
from incident_service.integrations.settings import IntegrationSettings
from incident_service.vocabulary import IncidentStatus

SYSTEM = "jira"
# MERGED: the issue of a merged source is resolved (its work goes on in the target's).
_DONE_STATUSES = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED, IncidentStatus.MERGED)


def label_of(incident_id: str) -> str:
    return f"ims-{incident_id}"


def follow_up_label(follow_up_id: str) -> str:
    return f"ims-fu-{follow_up_id}"


def _named(transitions: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The transition called `name` (in any case), if the issue's workflow offers it."""
    return next((t for t in transitions if t["name"].lower() == name.lower()), None)


@dataclass(frozen=True, slots=True)
class FollowUpFacts:
    """What the connector needs to know of a follow-up."""

    follow_up_id: str
    incident_id: str
    title: str
    priority: str
    due_date: date | None


class JiraConnector:
    system = SYSTEM

    def __init__(self, settings: IntegrationSettings, config: dict[str, Any]) -> None:
        if not (settings.jira_url and settings.jira_user and settings.jira_token):
            msg = "INTEGRATIONS_JIRA_URL, _USER and _TOKEN must all be set"
            raise VendorError(msg, retryable=False)
        self.url = settings.jira_url.rstrip("/")
        self.project = str(config["project"])
        self.issue_type = str(config.get("issue_type", "Incident"))
        self.extra_fields: dict[str, Any] = dict(config.get("fields", {}))
        self.priority_map: dict[str, str] = dict(config.get("priority_map", {}))
        self.resolve_transition = str(config.get("resolve_transition", "Done"))
        self.close_transition = str(config.get("close_transition", "Done"))
        self.follow_up_issue_type = str(config.get("follow_up_issue_type", "Task"))
        self.done_statuses = [str(d) for d in config.get("follow_up_done_statuses", ["Done"])]
        self.done_transition: str | None = config.get("follow_up_done_transition")
        self.reopen_transition: str | None = config.get("follow_up_reopen_transition")
        self._settings = settings
        self._client: JIRA | None = None

    @property
    def client(self) -> JIRA:
        if self._client is None:
            s = self._settings
            assert s.jira_user is not None and s.jira_token is not None
            options: dict[str, Any] = {}
            if s.ca_bundle is not None:
                options["verify"] = str(s.ca_bundle)
            self._client = self._guard(
                lambda: JIRA(
                    server=self.url,
                    basic_auth=(
                        s.jira_user or "",
                        s.jira_token.get_secret_value() if s.jira_token else "",
                    ),
                    options=options,
                    max_retries=0,
                    timeout=s.http_timeout_s,
                )
            )
        return self._client

    @staticmethod
    def _guard(call: Any) -> Any:
        try:
            return call()
        except JIRAError as exc:
            detail = exc.text or ""
            headers = exc.response.headers if exc.response is not None else (exc.headers or {})
            raise classify(
                SYSTEM, exc.status_code, str(detail)[:300], headers.get("Retry-After")
            ) from exc
        except requests.RequestException as exc:
            raise transport_error(SYSTEM, exc) from exc

    def _record(self, issue: Issue) -> RemoteRecord:
        return RemoteRecord(
            remote_id=str(issue.id),
            remote_key=str(issue.key),
            url=f"{self.url}/browse/{issue.key}",
            status=str(issue.fields.status.name),
        )

    def _by_label(self, label: str) -> RemoteRecord | None:
        """The project's issue labelled `label` (a create's own mark), if there is one."""
        jql = f'project = "{self.project}" AND labels = "{label}"'
        found = self._guard(lambda: self.client.search_issues(jql, maxResults=1))
        return self._record(found[0]) if found else None

    def find(self, incident: IncidentFacts) -> RemoteRecord | None:
        return self._by_label(label_of(incident.incident_id))

    def create(self, incident: IncidentFacts) -> RemoteRecord:
        fields: dict[str, Any] = {
            **self.extra_fields,
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": f"[{incident.incident_id}] {incident.title}"[:255],
            "description": incident.description[:30_000],
            "labels": [label_of(incident.incident_id)],
        }
        if incident.severity in self.priority_map:
            fields["priority"] = {"name": self.priority_map[incident.severity]}
        issue = self._guard(lambda: self.client.create_issue(fields=fields))
        return self._record(issue)

    def mirror_status(
        self, record: RemoteRecord, incident: IncidentFacts, note: str | None
    ) -> RemoteRecord:
        """Comment the change; transition the issue when we resolve or close."""
        if incident.status not in _DONE_STATUSES:
            return record
        name = (
            self.close_transition
            if incident.status == IncidentStatus.CLOSED
            else self.resolve_transition
        )
        available = self._guard(lambda: self.client.transitions(record.remote_id))
        match = _named(available, name)
        if match is None:
            # Already past it (Done has no "Done" transition) or the workflow lacks it.
            return record
        self._guard(lambda: self.client.transition_issue(record.remote_id, match["id"]))
        issue = self._guard(lambda: self.client.issue(record.remote_id))
        return self._record(issue)

    def add_note(self, record: RemoteRecord, text: str) -> None:
        """Comment unless an earlier attempt (whose answer was lost) already did."""
        body = text[:30_000]
        existing = self._guard(lambda: self.client.comments(record.remote_id))
        if any(getattr(c, "body", None) == body for c in existing):
            return
        self._guard(lambda: self.client.add_comment(record.remote_id, body))

    # --- follow-ups ----------------------------------------------------------------------

    def _done_status(self, category: str | None, name: str) -> bool:
        # Jira's own category says done whatever the workflow names the status.
        names = {d.lower() for d in self.done_statuses}
        return category == "done" or name.lower() in names

    def _done(self, issue: Issue) -> bool:
        status = issue.fields.status
        category = getattr(getattr(status, "statusCategory", None), "key", None)
        return self._done_status(category, str(status.name))

    def find_follow_up(self, follow_up: FollowUpFacts) -> RemoteRecord | None:
        return self._by_label(follow_up_label(follow_up.follow_up_id))

    def create_follow_up(self, follow_up: FollowUpFacts) -> RemoteRecord:
        fields: dict[str, Any] = {
            "project": {"key": self.project},
            "issuetype": {"name": self.follow_up_issue_type},
            "summary": f"[{follow_up.incident_id}] {follow_up.title}"[:255],
            "description": f"Follow-up of incident {follow_up.incident_id}"
            f" (priority {follow_up.priority}).",
            "labels": [follow_up_label(follow_up.follow_up_id)],
        }
        if follow_up.due_date is not None:
            fields["duedate"] = follow_up.due_date.isoformat()
        issue = self._guard(lambda: self.client.create_issue(fields=fields))
        return self._record(issue)

    def ensure_follow_up(self, follow_up: FollowUpFacts) -> tuple[RemoteRecord, bool]:
        """The follow-up's issue, created only when a lookup by its label finds none."""
        found = self.find_follow_up(follow_up)
        if found is not None:
            return found, False
        return self.create_follow_up(follow_up), True

    def follow_up_status(self, remote_id: str) -> tuple[RemoteRecord, bool]:
        """The issue as it is now, and whether it is done."""
        issue = self._guard(lambda: self.client.issue(remote_id, fields="status"))
        return self._record(issue), self._done(issue)

    def _leads_to_done(self, transition: dict[str, Any]) -> bool:
        target = transition.get("to") or {}
        category = (target.get("statusCategory") or {}).get("key")
        return self._done_status(category, str(target.get("name", "")))

    def move_follow_up(self, remote_id: str, *, done: bool) -> tuple[RemoteRecord, bool]:
        """Take the issue to a done status (`done`) or out of one; the issue as it is now,
        and whether it is where it was asked to be (False: its workflow offers no such
        transition from its current status, and it was left there)."""
        issue = self._guard(lambda: self.client.issue(remote_id, fields="status"))
        if self._done(issue) == done:
            return self._record(issue), True
        available = self._guard(lambda: self.client.transitions(remote_id))
        named = self.done_transition if done else self.reopen_transition
        if named is not None:
            # A transition the team named is the only one taken (a workflow may have
            # several ways into done, with different resolutions).
            match = _named(available, named)
        else:
            match = next((t for t in available if self._leads_to_done(t) == done), None)
        if match is None:
            return self._record(issue), False
        self._guard(lambda: self.client.transition_issue(remote_id, match["id"]))
        moved = self._guard(lambda: self.client.issue(remote_id, fields="status"))
        return self._record(moved), self._done(moved) == done
