"""The whole API fuzzed from its own OpenAPI document (schemathesis, bounded examples).

Every operation gets generated valid and invalid requests; every answer must be a non-5xx
that conforms to the document (status code, content type, body schema, headers).

Then every operation, the intake routes included (with real integration keys and the
vendors' own payloads, since their bodies are read by hand), gets hostile requests: one
value of a generated request replaced by bytes that are not UTF-8, a lone surrogate, a
number no float holds (1e400, 2**70, NaN) or a far date (year 1 at +14:00, year 9999 at
-14:00). Dates of every `date`/`date-time` field are drawn from the whole year 1-9999
range too. No answer may be a 5xx.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi import checks

from testkit.server import served

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
# One request per example, each with one hostile value: fewer are needed than to explore.
HOSTILE_EXAMPLES = int(os.environ.get("FUZZ_HOSTILE_EXAMPLES", "8"))
INBOUND = Path(__file__).parent / "data" / "inbound"
# Requests sent, by kind, for the figures the test prints.
SENT: dict[str, int] = {"generated": 0, "hostile": 0}

# Far instants: the first and last days Python can write, at the widest UTC offsets, so
# that converting them to UTC leaves the range.
FAR_DATETIMES = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
)
FAR_DATES = ("0001-01-01", "9999-12-31")
_OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=14))])
schemathesis.openapi.format(
    "date-time",
    st.one_of(
        st.sampled_from(FAR_DATETIMES),
        st.datetimes(timezones=_OFFSETS).map(lambda d: d.isoformat()),
    ),
)
schemathesis.openapi.format(
    "date", st.one_of(st.sampled_from(FAR_DATES), st.dates().map(lambda d: d.isoformat()))
)

# Raw JSON texts put in place of one value of a body.
HOSTILE_JSON = (
    b'"\xff\xfe"',  # not UTF-8
    b'"a\xed\xa0\x80b"',  # a surrogate encoded in UTF-8 (which forbids it)
    b'"\xc3"',  # a truncated sequence
    b'"\\ud800"',  # a lone surrogate, escaped
    b'"x\\udfffy"',
    b"1e400",
    b"-1e400",
    str(2**70).encode(),
    str(-(2**70)).encode(),
    b"NaN",
    b"Infinity",
    *(json.dumps(d).encode() for d in FAR_DATETIMES + FAR_DATES),
)
# Raw (already percent-encoded) texts put in place of a query or path parameter.
HOSTILE_URL = (
    "%FF%FE",
    "%ED%A0%80",
    "1e400",
    str(2**70),
    str(-(2**70)),
    "NaN",
    *(quote(d, safe="") for d in FAR_DATETIMES + FAR_DATES),
)
_PLACEHOLDER = "\x1ehostile\x1e"


@pytest.fixture(scope="session")
def live_server(database_url: str) -> Iterator[str]:
    with served(database_url) as (base, proc):
        yield base
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    # The server logs every unhandled error; none may have happened.
    assert '"level": "ERROR"' not in stderr, stderr[-4000:]


# Schemathesis's own list of answers that reject invalid data, and 413: an oversize
# invalid body is rightly refused for its size first.
_REJECTED = [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429, "5xx"]


# Headers that frame the HTTP message are the HTTP server's to refuse, not the API's: a
# generated `transfer-encoding: mZa2Zf<'z` is answered by uvicorn's own text/plain 400
# ("Invalid HTTP request received.") before any of our code runs.
_FRAMING = frozenset({"transfer-encoding", "content-length", "host", "connection"})


def _config(headers: dict[str, str]) -> SchemathesisConfig:
    bearer = headers["Authorization"].removeprefix("Bearer ")
    return SchemathesisConfig.from_dict(
        {
            # The document's scheme (incident_service/openapi.py), so that no generated
            # Authorization header stands in for the key.
            "auth": {"openapi": {"BearerApiKey": {"bearer": bearer}}},
            "checks": {
                "negative_data_rejection": {
                    "expected-statuses": _REJECTED,
                }
            },
        }
    )


def _fuzz(operation, mode: GenerationMode, base: str, headers: dict[str, str]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case) -> None:
        # Schema-valid is not always meaningful: an opaque cursor or an `after` event id
        # the server never issued fits the schema and is rightly a 400.
        SENT["generated"] += 1
        for name in list(case.headers or {}):
            if name.lower() in _FRAMING:
                del case.headers[name]
        case.call_and_validate(
            base_url=base, headers=headers, excluded_checks=[checks.positive_data_acceptance]
        )

    try:
        run()
    except Unsatisfiable:
        # Negative data needs something to break: an operation without parameters or a
        # body has no invalid request to generate.
        assert mode is GenerationMode.NEGATIVE


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def _hostile_body(body: Any, where: int, token: bytes) -> bytes:
    """`body` as JSON with one value (or the whole of it) replaced by the raw `token`."""
    if not isinstance(body, dict | list):
        body = {"value": body}
    leaves = _leaves(body)
    marked = _replace(body, leaves[where % len(leaves)], _PLACEHOLDER)
    text = json.dumps(marked).encode()
    return text.replace(json.dumps(_PLACEHOLDER).encode(), token)


class Intake:
    """Real keys and real vendor payloads for the intake routes, whose bodies the
    document does not describe (they are read by hand, in the vendor's format)."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.keys: dict[str, str] = {}
        for kind in ("events-v2", "alertmanager", "grafana"):
            created = httpx.post(
                f"{base}/api/v1/integrations",
                json={"kind": kind, "team": "fuzz"},
                headers=headers,
                timeout=30,
            )
            assert created.status_code == 201, created.text
            self.keys[kind] = created.json()["integration_key"]
        trigger = json.loads((INBOUND / "pd_events_v2_trigger.json").read_text())
        self.bodies: dict[str, Any] = {
            "/v2/enqueue": trigger | {"routing_key": self.keys["events-v2"]},
            "/v2/change/enqueue": {
                "routing_key": self.keys["events-v2"],
                "payload": {"summary": "deploy", "timestamp": "2025-06-21T10:00:00Z"},
            },
            "/api/v1/integrations/alertmanager/{integration_key}": json.loads(
                (INBOUND / "alertmanager_v4_firing.json").read_text()
            ),
            "/api/v1/integrations/grafana/{integration_key}": json.loads(
                (INBOUND / "grafana_webhook_v1_firing.json").read_text()
            ),
            "/api/v1/integrations/pagerduty/webhook": {
                "event": {
                    "id": "01ABC",
                    "event_type": "incident.resolved",
                    "resource_type": "incident",
                    "occurred_at": "2025-06-21T10:00:00Z",
                    "data": {"id": "PABC", "type": "incident", "status": "resolved"},
                }
            },
        }

    def prepare(self, path: str, path_parameters: dict[str, Any], body: Any) -> Any:
        if "alertmanager" in path:
            path_parameters["integration_key"] = self.keys["alertmanager"]
        elif "grafana" in path:
            path_parameters["integration_key"] = self.keys["grafana"]
        return self.bodies.get(path, body)


def _hostile(operation, base: str, headers: dict[str, str], intake: Intake) -> None:
    @given(
        case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        where=st.integers(min_value=0, max_value=10_000),
        json_token=st.sampled_from(HOSTILE_JSON),
        url_token=st.sampled_from(HOSTILE_URL),
    )
    @settings(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case, where: int, json_token: bytes, url_token: str) -> None:
        path_parameters = dict(case.path_parameters or {})
        body = intake.prepare(case.path, path_parameters, case.body)
        query = {k: str(v) for k, v in (case.query or {}).items()}
        has_body = case.method.upper() in ("POST", "PUT", "PATCH")
        declared = sorted(p.name for p in operation.query)
        present = (("body", has_body), ("query", declared), ("path", path_parameters))
        targets = [t for t, there in present if there]
        if not targets:
            return  # nothing a client controls: the probes, the parameterless lists
        target = targets[where % len(targets)]
        raw_query = {k: quote(v, safe="") for k, v in query.items()}
        raw_path = {k: quote(str(v), safe="") for k, v in path_parameters.items()}
        if target == "query":
            raw_query[declared[where % len(declared)]] = url_token
        elif target == "path":
            raw_path[sorted(raw_path)[where % len(raw_path)]] = url_token
        content = None
        if has_body:
            body = {} if body is None or isinstance(body, NotSet) else body
            content = json.dumps(body).encode()
            if target == "body":
                content = _hostile_body(body, where, json_token)
        url = base + case.path.format(**raw_path)
        if raw_query:
            url += "?" + "&".join(f"{k}={v}" for k, v in raw_query.items())
        SENT["hostile"] += 1
        response = httpx.request(
            case.method,
            httpx.URL(url),
            content=content,
            headers=headers | {"content-type": "application/json"},
            timeout=30,
        )
        summary = f"{case.method} {url} {content[:300] if content else ''!r}"
        assert response.status_code < 500, f"{summary} -> {response.status_code} {response.text}"
        assert response.headers.get("content-type", "").startswith(
            ("application/json", "text/html", "text/markdown", "text/plain")
        ), summary

    run()


def test_api_conforms_and_never_fails(live_server: str, admin_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(
        f"{live_server}/docs/openapi.json", headers=admin_headers, config=_config(admin_headers)
    )
    intake = Intake(live_server, admin_headers)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE, "hostile"):
            try:
                if mode == "hostile":
                    _hostile(operation, live_server, admin_headers, intake)
                else:
                    _fuzz(operation, mode, live_server, admin_headers)
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failures
                name = mode if isinstance(mode, str) else mode.value
                details = "; ".join(str(e)[:600] for e in getattr(exc, "exceptions", [exc]))
                failures.append(f"{operation.label} [{name}]: {exc} :: {details}"[:2000])
    print(
        f"fuzz: {operations} operations, {SENT['generated']} generated and "
        f"{SENT['hostile']} hostile requests, {len(failures)} operations with failures"
    )
    assert operations > 10
    assert not failures, "\n\n".join(failures)
