"""Jira REST v2 stand-in: issues, a To Do -> In Progress -> Done workflow with transitions
by id (400 on an unknown one), comments, label search, basic auth, Jira's error shape."""

from __future__ import annotations

import base64
import itertools
import re
from datetime import UTC, datetime
from typing import Any

from testkit.standin import Answer, Call, StandIn

STATUSES = {"1": "To Do", "3": "In Progress", "10001": "Done"}
# status id -> transitions available from it: (transition id, name, target status id)
WORKFLOW = {
    "1": [("11", "Start Progress", "3"), ("31", "Done", "10001")],
    "3": [("21", "Stop Progress", "1"), ("31", "Done", "10001")],
    "10001": [("41", "Reopen", "1")],
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


class JiraStandIn(StandIn):
    name = "jira"
    routes = [
        ("GET", r"/rest/api/2/serverInfo", "server_info"),
        ("GET", r"/rest/api/2/field", "fields"),
        ("POST", r"/rest/api/2/issue", "create_issue"),
        ("GET", r"/rest/api/2/issue/([A-Z0-9-]+)", "get_issue"),
        ("PUT", r"/rest/api/2/issue/([A-Z0-9-]+)", "edit_issue"),
        ("GET", r"/rest/api/2/issue/([A-Z0-9-]+)/transitions", "transitions"),
        ("POST", r"/rest/api/2/issue/([A-Z0-9-]+)/transitions", "do_transition"),
        ("POST", r"/rest/api/2/issue/([A-Z0-9-]+)/comment", "add_comment"),
        ("GET", r"/rest/api/2/issue/([A-Z0-9-]+)/comment", "list_comments"),
        ("GET", r"/rest/api/2/search", "search"),
        ("POST", r"/rest/api/2/search", "search"),
    ]

    def __init__(self, user: str, token: str, projects: set[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.auth = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        self.projects = projects
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(10000)

    def error_body(self, status: int, message: str) -> Any:
        return {"errorMessages": [message], "errors": {}}

    def _route(self, call: Call) -> Answer:
        if call.headers.get("authorization") != self.auth:
            return 401, {"errorMessages": ["You are not authenticated."], "errors": {}}, {}
        return super()._route(call)

    def _base(self, call: Call) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{call.host}"

    def _find(self, id_or_key: str) -> dict[str, Any] | None:
        return self.issues.get(id_or_key) or next(
            (i for i in self.issues.values() if i["key"] == id_or_key), None
        )

    def _render(self, call: Call, issue: dict[str, Any]) -> dict[str, Any]:
        fields = dict(issue["fields"])
        fields["status"] = {"id": issue["status"], "name": STATUSES[issue["status"]]}
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self._base(call)}/rest/api/2/issue/{issue['id']}",
            "fields": fields,
        }

    def server_info(self, call: Call) -> Answer:
        return (
            200,
            {
                "baseUrl": self._base(call),
                "version": "9.12.2",
                "versionNumbers": [9, 12, 2],
                "deploymentType": "Server",
                "buildNumber": 9120002,
                "serverTitle": "Jira stand-in",
            },
            {},
        )

    def fields(self, call: Call) -> Answer:
        names = ["summary", "description", "labels", "priority", "issuetype", "project"]
        return 200, [{"id": n, "name": n.title(), "custom": False} for n in names], {}

    def create_issue(self, call: Call) -> Answer:
        fields = (call.body or {}).get("fields") or {}
        errors: dict[str, str] = {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            errors["project"] = "valid project is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if not (fields.get("issuetype") or {}).get("name"):
            errors["issuetype"] = "valid issue type is required"
        if errors:
            return 400, {"errorMessages": [], "errors": errors}, {}
        issue_id = str(next(self._ids))
        key = f"{project}-{len([i for i in self.issues.values() if i['project'] == project]) + 1}"
        self.issues[issue_id] = {
            "id": issue_id,
            "key": key,
            "project": project,
            "status": "1",
            "fields": dict(fields, created=_now()),
        }
        self.comments[issue_id] = []
        return (
            201,
            {"id": issue_id, "key": key, "self": f"{self._base(call)}/rest/api/2/issue/{issue_id}"},
            {},
        )

    def get_issue(self, call: Call, id_or_key: str) -> Answer:
        issue = self._find(id_or_key)
        if issue is None:
            return 404, self.error_body(404, "Issue Does Not Exist"), {}
        return 200, self._render(call, issue), {}

    def edit_issue(self, call: Call, id_or_key: str) -> Answer:
        issue = self._find(id_or_key)
        if issue is None:
            return 404, self.error_body(404, "Issue Does Not Exist"), {}
        issue["fields"].update((call.body or {}).get("fields") or {})
        return 204, None, {}

    def transitions(self, call: Call, id_or_key: str) -> Answer:
        issue = self._find(id_or_key)
        if issue is None:
            return 404, self.error_body(404, "Issue Does Not Exist"), {}
        listed = [
            {"id": tid, "name": name, "to": {"id": to, "name": STATUSES[to]}}
            for tid, name, to in WORKFLOW[issue["status"]]
        ]
        return 200, {"expand": "transitions", "transitions": listed}, {}

    def do_transition(self, call: Call, id_or_key: str) -> Answer:
        issue = self._find(id_or_key)
        if issue is None:
            return 404, self.error_body(404, "Issue Does Not Exist"), {}
        wanted = str(((call.body or {}).get("transition") or {}).get("id"))
        for tid, _, to in WORKFLOW[issue["status"]]:
            if tid == wanted:
                issue["status"] = to
                return 204, None, {}
        return (
            400,
            self.error_body(400, f"Transition id '{wanted}' is not valid for this issue."),
            {},
        )

    def add_comment(self, call: Call, id_or_key: str) -> Answer:
        issue = self._find(id_or_key)
        if issue is None:
            return 404, self.error_body(404, "Issue Does Not Exist"), {}
        text = (call.body or {}).get("body")
        if not text:
            return (
                400,
                {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}},
                {},
            )
        comment = {"id": str(next(self._ids)), "body": text, "created": _now()}
        comment["self"] = (
            f"{self._base(call)}/rest/api/2/issue/{issue['id']}/comment/{comment['id']}"
        )
        self.comments[issue["id"]].append(comment)
        return 201, comment, {}

    def comments_of(self, key: str) -> list[dict[str, Any]]:
        issue = self._find(key)
        return self.comments[issue["id"]] if issue else []

    def list_comments(self, call: Call, id_or_key: str) -> Answer:
        found = self.comments_of(id_or_key)
        return 200, {"startAt": 0, "maxResults": 50, "total": len(found), "comments": found}, {}

    def search(self, call: Call) -> Answer:
        jql = call.q("jql") or (call.body or {}).get("jql") or ""
        match = re.search(r'labels\s*=\s*"?([^"\s]+)"?', jql)
        project = re.search(r'project\s*=\s*"?([^"\s]+)"?', jql)
        found = [
            i
            for i in self.issues.values()
            if (match is None or match.group(1) in i["fields"].get("labels", []))
            and (project is None or i["project"] == project.group(1))
        ]
        body = {
            "startAt": 0,
            "maxResults": 50,
            "total": len(found),
            "issues": [self._render(call, i) for i in found],
        }
        return 200, body, {}
