"""A person at Debian's Chromium (driven by Playwright, never a downloaded browser) signs
in with an API key, opens an incident from the list, acknowledges it from the keyboard,
adds a note, changes its severity, resolves it and reads its post-mortem. Screenshots of
each step are kept in test-artifacts/screenshots/."""

from __future__ import annotations

import secrets

import httpx

from testkit.browser import chromium, screenshots_dir
from testkit.databases import make_api_key
from testkit.server import served
from tests.conftest import new_incident


def test_a_person_works_an_incident_end_to_end(database_url: str) -> None:
    team = f"team-{secrets.token_hex(4)}"
    key = make_api_key(
        database_url,
        name="Ada (browser)",
        scopes=["incidents:read", "incidents:write"],
        team=team,
    )
    title = f"Checkout latency {secrets.token_hex(3)}"
    shots = screenshots_dir()
    with served(database_url, env={"SESSION_COOKIE_SECURE": "false"}) as (base, _proc):
        created = httpx.post(
            f"{base}/api/v1/incidents",
            json=new_incident(team, title=title),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert created.status_code == 201, created.text
        iid = created.json()["incident_id"]

        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # Signed out: the console sends the person to sign in, then back.
            page.goto(f"{base}/ui/")
            assert "/ui/login" in page.url
            page.get_by_label("API key").fill(key)
            page.screenshot(path=shots / "01-sign-in.png")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/ui/")
            page.get_by_role("link", name=title).wait_for()
            # A new incident appears in the open list by itself (the event feed over SSE).
            live_title = f"Queue backlog {secrets.token_hex(3)}"
            live = httpx.post(
                f"{base}/api/v1/incidents",
                json=new_incident(team, title=live_title, severity="SEV3_MEDIUM"),
                headers={"Authorization": f"Bearer {key}"},
            )
            assert live.status_code == 201, live.text
            page.get_by_role("link", name=live_title).wait_for(timeout=15_000)
            page.screenshot(path=shots / "02-incident-list.png", full_page=True)

            page.get_by_role("link", name=title).click()
            page.wait_for_url(f"{base}/ui/incidents/{iid}*")
            status = page.get_by_test_id("status")
            assert status.inner_text() == "OPEN"
            page.screenshot(path=shots / "03-incident-open.png", full_page=True)

            # Acknowledge from the keyboard ("a", the button's shortcut).
            page.locator("body").press("a")
            page.get_by_test_id("status").filter(has_text="ACKNOWLEDGED").wait_for()

            page.get_by_label("Add a note (Markdown)").fill("Rolled back **v2.3.1**")
            page.get_by_role("button", name="Add note").click()
            page.locator(".note-item strong", has_text="v2.3.1").wait_for()

            page.get_by_label("Severity").select_option("SEV1_CRITICAL")
            page.get_by_role("button", name="Change severity").click()
            page.get_by_test_id("severity").filter(has_text="SEV1_CRITICAL").wait_for()
            page.screenshot(path=shots / "04-incident-worked.png", full_page=True)

            page.get_by_label("Move to").select_option("RESOLVED")
            page.get_by_label("Note", exact=True).fill("latency back to normal")
            page.get_by_role("button", name="Change status").click()
            page.get_by_test_id("status").filter(has_text="RESOLVED").wait_for()
            page.screenshot(path=shots / "05-incident-resolved.png", full_page=True)

            page.get_by_role("link", name="Read the post-mortem").click()
            page.wait_for_url(f"{base}/api/v1/incidents/{iid}/postmortem*")
            body = page.locator("body").inner_text()
            assert title in body
            assert "Rolled back" in body or "latency back to normal" in body
            page.screenshot(path=shots / "06-postmortem.png", full_page=True)

        # Everything was recorded as the person who signed in.
        answer = httpx.get(
            f"{base}/api/v1/incidents/{iid}/timeline",
            headers={"Authorization": f"Bearer {key}"},
        )
        actors = {e["actor"] for e in answer.json()[1:]}
        assert actors == {"Ada (browser)"}, answer.json()
        incident = httpx.get(
            f"{base}/api/v1/incidents/{iid}", headers={"Authorization": f"Bearer {key}"}
        ).json()
        assert incident["status"] == "RESOLVED" and incident["severity"] == "SEV1_CRITICAL"
