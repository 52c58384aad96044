"""Vendor stand-ins (PagerDuty and ServiceNow over TLS with a test CA, Jira over HTTP),
their responses checked against the vendors' OpenAPI documents, and settings for them."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from incident_service.integrations.settings import IntegrationSettings
from testkit.standin import Call
from tests.standins.jira import JiraStandIn
from tests.standins.pagerduty import PagerDutyStandIn
from tests.standins.servicenow import ServiceNowStandIn

SPECS = Path(__file__).resolve().parents[1] / "data" / "specs"
PD_TOKEN = "pd-test-token-0123456789abcdef"
JIRA_TOKEN = "jira-test-token-0123456789"
SNOW_PASSWORD = "snow-test-password-0123456789"
SECRETS = (PD_TOKEN, JIRA_TOKEN, SNOW_PASSWORD)
PD_SERVICE = "PSVC001"


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    authority = trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    return authority, bundle


def _server_context(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def pagerduty_validator() -> Any:
    from openapi_core import Config, OpenAPI
    from openapi_core.testing import MockRequest, MockResponse

    # PagerDuty's own document fails strict validation of itself; its traffic checks work.
    api = OpenAPI.from_file_path(
        str(SPECS / "pd_rest_openapiv3.json"), config=Config(spec_validator_cls=None)
    )

    def validate(call: Call, status: int, payload: Any) -> str | None:
        request = MockRequest(
            "https://api.pagerduty.com",
            call.method.lower(),
            call.path,
            args={k: v[0] for k, v in call.query.items() if not k.endswith("[]")},
            headers=call.headers,
            data=call.raw,
            content_type="application/json",
        )
        response = MockResponse(
            json.dumps(payload).encode() if payload is not None else b"",
            status_code=status,
            content_type="application/json",
        )
        try:
            api.validate_response(request, response)
        except Exception as exc:
            cause = exc.__cause__ or exc
            return f"{type(exc).__name__}: {cause}"[:500]
        return None

    return validate


@pytest.fixture(scope="session")
def pagerduty(ca: tuple[trustme.CA, Path]) -> Iterator[PagerDutyStandIn]:
    server = PagerDutyStandIn(PD_TOKEN, {PD_SERVICE}, ssl_context=_server_context(ca[0]))
    server.validator = pagerduty_validator()
    server.start()
    yield server
    server.stop()


# REST v2 and v3 share these answers; v3 differs in rich-text fields (description and
# comment bodies are Atlassian documents), so those routes are not checked against it.
_JIRA_CHECKED = ("/serverInfo", "/issue", "/search", "/transitions")


def jira_validator() -> Any:
    from openapi_core import Config, OpenAPI
    from openapi_core.testing import MockRequest, MockResponse

    api = OpenAPI.from_file_path(
        str(SPECS / "jira_cloud_platform_swagger_v3_2022-07.json"),
        config=Config(spec_validator_cls=None),
    )

    def validate(call: Call, status: int, payload: Any) -> str | None:
        if not call.path.endswith(_JIRA_CHECKED) or payload is None or status >= 400:
            return None
        if call.method != "GET" and not call.path.endswith("/issue"):
            return None
        request = MockRequest(
            "https://your-domain.atlassian.net",
            call.method.lower(),
            call.path.replace("/rest/api/2/", "/rest/api/3/"),
            args={k: v[0] for k, v in call.query.items()},
            headers=call.headers,
            data=call.raw,
            content_type="application/json",
        )
        response = MockResponse(
            json.dumps(payload).encode(), status_code=status, content_type="application/json"
        )
        try:
            api.validate_response(request, response)
        except Exception as exc:
            cause = exc.__cause__ or exc
            return f"{type(exc).__name__}: {cause}"[:500]
        return None

    return validate


@pytest.fixture(scope="session")
def jira() -> Iterator[JiraStandIn]:
    server = JiraStandIn("bot@example.com", JIRA_TOKEN, {"OPS"})
    server.validator = jira_validator()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def servicenow(ca: tuple[trustme.CA, Path]) -> Iterator[ServiceNowStandIn]:
    server = ServiceNowStandIn("bot", SNOW_PASSWORD, ssl_context=_server_context(ca[0])).start()
    yield server
    server.stop()


@pytest.fixture
def vendor_settings(ca, pagerduty, jira, servicenow) -> IntegrationSettings:
    return IntegrationSettings(
        pagerduty_api_url=pagerduty.url,
        pagerduty_token=PD_TOKEN,
        pagerduty_from="bot@example.com",
        jira_url=jira.url,
        jira_user="bot@example.com",
        jira_token=JIRA_TOKEN,
        servicenow_url=servicenow.url,
        servicenow_user="bot",
        servicenow_password=SNOW_PASSWORD,
        ca_bundle=ca[1],
        http_timeout_s=2.0,
    )


@pytest.fixture(autouse=True)
def _no_faults_left(pagerduty, jira, servicenow) -> Iterator[None]:
    yield
    for server in (pagerduty, jira, servicenow):
        server.clear_faults()
