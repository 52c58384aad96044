"""Every answer carries the request id, `nosniff`, a Content-Security-Policy and no framing
(observability.response_headers_middleware); log lines are redacted (redact_secrets)."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar, Response, get
from litestar.testing import AsyncTestClient

from incident_service.observability import redact_secrets, response_headers_middleware
from tests.conftest import new_incident

STRICT = "default-src 'none'; frame-ancestors 'none'"


def assert_stamped(headers: object, request_id: str | None = None) -> None:
    assert isinstance(headers, dict) or hasattr(headers, "get_list")
    get_list = headers.get_list  # type: ignore[attr-defined]
    assert get_list("x-content-type-options") == ["nosniff"]
    assert get_list("x-frame-options") == ["DENY"]
    assert len(get_list("content-security-policy")) == 1
    ids = get_list("x-request-id")
    assert len(ids) == 1
    if request_id is None:
        assert re.fullmatch(r"[0-9a-f]{32}", ids[0])
    else:
        assert ids[0] == request_id


async def test_every_kind_of_answer_is_stamped(
    client: AsyncTestClient,  # type: ignore[type-arg]
    admin_headers: dict[str, str],
    team: str,
) -> None:
    created = await client.post(
        "/api/v1/incidents",
        json=new_incident(team),
        headers={**admin_headers, "X-Request-ID": "req-create-1"},
    )
    assert created.status_code == 201
    assert_stamped(created.headers, "req-create-1")
    assert created.headers["content-security-policy"] == STRICT

    answers = [
        await client.get("/api/v1/incidents/INC-nope", headers=admin_headers),  # 404
        await client.get("/api/v1/incidents", headers={"Authorization": "Bearer isk_nope"}),
        await client.post("/api/v1/incidents", json={"title": 5}, headers=admin_headers),  # 400
        await client.get("/health"),
    ]
    assert [a.status_code for a in answers] == [404, 401, 400, 200]
    for answer in answers:
        assert_stamped(answer.headers)
        assert answer.headers["content-security-policy"] == STRICT


@pytest.mark.parametrize("sent", ["has space", "x" * 129, "semi;colon"])
async def test_an_unsafe_request_id_is_replaced(
    client: AsyncTestClient,  # type: ignore[type-arg]
    sent: str,
) -> None:
    answer = await client.get("/health", headers={"X-Request-ID": sent})
    assert_stamped(answer.headers)


async def test_headers_a_handler_sets_are_kept_or_replaced_once() -> None:
    page_policy = "default-src 'self'"

    @get("/page", media_type="text/html")
    async def page() -> Response[str]:
        return Response(
            "<p>x</p>",
            media_type="text/html",
            headers={
                "Content-Security-Policy": page_policy,
                "X-Frame-Options": "SAMEORIGIN",
                "X-Request-ID": "from-the-handler",
            },
        )

    app = Litestar([page], middleware=[response_headers_middleware])
    async with AsyncTestClient(app=app) as local:
        answer = await local.get("/page", headers={"X-Request-ID": "req-7"})
    assert_stamped(answer.headers, "req-7")
    assert answer.headers["content-security-policy"] == page_policy


def test_redaction_still_redacts() -> None:
    cases = {
        "key isk_abc-DEF_1 refused": "key isk_*** refused",
        "POST /api/v1/integrations/alertmanager/0123abcd": (
            "POST /api/v1/integrations/alertmanager/***"
        ),
        "integration 0123456789abcdef0123456789abcdef failed": "integration *** failed",
        "Token=abc&x=1": "Token=***&x=1",
        '{"PASSWORD": "hunter2"}': '{"PASSWORD": "***"}',
        "postgresql://app:s3cret@db/app": "postgresql://app:***@db/app",
        # Not ASCII: every pattern runs (the long s folds to "s" in the regex).
        "\u017fecret=abc": "\u017fecret=***",
        "nothing to hide on POST /api/v1/incidents": "nothing to hide on POST /api/v1/incidents",
    }
    for text, redacted in cases.items():
        assert redact_secrets(text) == redacted, text
