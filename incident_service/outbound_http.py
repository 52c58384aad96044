"""Signed outbound JSON: the POST every action, notification and relay webhook makes.

The body carries `Idempotency-Key` (the caller's key: a response, notification or event
id) and is signed with HMAC-SHA256 (`X-Incident-Signature: t=<unix seconds>,v1=<hex of
HMAC(secret, "<t>." + body)>`), so a receiver can drop the repeats that at-least-once
steps produce after a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

from incident_service.executor import ActionFailed
from incident_service.http import HttpClient, HttpResponse, HttpTimeout, HttpUnreachable


def sign(secret: str | None, body: bytes, now: float | None = None) -> dict[str, str]:
    """The signature header for `body`; nothing when no secret is configured."""
    if not secret:
        return {}
    stamp = str(int(now if now is not None else time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Incident-Signature": f"t={stamp},v1={digest}"}


async def post_json(
    client: HttpClient,
    url: str,
    payload: dict[str, Any],
    *,
    idempotency_key: str,
    secret: str | None,
    timeout_s: float,
) -> HttpResponse:
    """POST signed JSON; 2xx returns, anything else raises ActionFailed."""
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": idempotency_key,
        **sign(secret, body),
    }
    try:
        response = await client.post(url, body, headers, timeout_s)
    except HttpTimeout as exc:
        msg = f"no answer from {_host(url)} within {timeout_s:.1f}s"
        raise ActionFailed(msg, retryable=True) from exc
    except HttpUnreachable as exc:
        msg = f"cannot reach {_host(url)}: {exc}"
        raise ActionFailed(msg, retryable=True) from exc
    if response.is_success:
        return response
    retryable = response.status in (408, 409, 425, 429) or response.status >= 500
    # The status only: the target's answer is not ours to show to every reader of the
    # timeline (it can carry internal details, or probe results for a hostile URL).
    msg = f"{_host(url)} answered HTTP {response.status}"
    raise ActionFailed(msg, retryable=retryable)


def _host(url: str) -> str:
    """Only scheme and host in messages: URLs may carry tokens in their path or query."""
    parsed = urlsplit(url)
    return f"{parsed.scheme}://{parsed.hostname}" + (f":{parsed.port}" if parsed.port else "")


def slack_message(text: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Slack-compatible webhook JSON: `text` plus one section block with the fields."""
    lines = "\n".join(f"*{k}*: {v}" for k, v in fields.items() if v not in (None, "", []))
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{text}\n{lines}"}},
        ],
    }
