"""A person at Debian's Chromium (driven by Playwright, never a downloaded browser) signs
in with a team key, sees who is on call, covers the rotation with an override, and saves
an escalation policy with a delay past the API's limit, seeing the API's message beside
the field. Screenshots in test-artifacts/screenshots/oncall-*.png."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta

import httpx

from testkit.browser import chromium, screenshots_dir
from testkit.databases import make_api_key
from testkit.server import served


def test_a_person_covers_the_rotation_and_edits_the_policy(database_url: str) -> None:
    team = f"team-{secrets.token_hex(4)}"
    key = make_api_key(
        database_url, name="Ada (on-call)", scopes=["incidents:read", "config:write"], team=team
    )
    auth = {"Authorization": f"Bearer {key}"}
    shots = screenshots_dir()
    with served(database_url, env={"SESSION_COOKIE_SECURE": "false"}) as (base, _proc):
        schedule = httpx.post(
            f"{base}/api/v1/oncall-schedules",
            headers=auth,
            json={
                "name": "Payments primary",
                "timezone": "UTC",
                "layers": [
                    {
                        "name": "day",
                        "rotation": "daily",
                        "participants": ["ann", "bob"],
                        "starts": (date.today() - timedelta(days=3)).isoformat(),
                        "handoff_time": "00:00:00",
                    }
                ],
            },
        )
        assert schedule.status_code == 201, schedule.text
        sid = schedule.json()["id"]
        policy = httpx.post(
            f"{base}/api/v1/escalation-policies",
            headers=auth,
            json={
                "team": team,
                "name": "Payments escalation",
                "levels": [{"delay_minutes": 5, "targets": [{"type": "schedule", "id": sid}]}],
            },
        )
        assert policy.status_code == 201, policy.text
        pid = policy.json()["id"]
        now = httpx.get(f"{base}/api/v1/oncall-schedules/{sid}/oncall", headers=auth).json()

        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{base}/ui/on-call")
            assert "/ui/login" in page.url
            page.get_by_label("API key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/ui/on-call")
            on_call = page.get_by_text("On call now:")
            assert now["person"] in on_call.inner_text()
            page.screenshot(path=shots / "oncall-1-board.png", full_page=True)

            start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
            page.get_by_label("Who").fill("zoe")
            page.get_by_label("From (UTC)").fill(start.strftime("%Y-%m-%dT%H:%M"))
            page.get_by_label("Until (UTC)").fill(
                (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
            )
            page.get_by_role("button", name="Add override").click()
            page.wait_for_url(f"{base}/ui/on-call")
            assert "zoe" in page.get_by_text("On call now:").inner_text()
            page.screenshot(path=shots / "oncall-2-override.png", full_page=True)
            overrides = httpx.get(f"{base}/api/v1/oncall-schedules/{sid}", headers=auth).json()
            assert [(o["person"], o["created_by"]) for o in overrides["overrides"]] == [
                ("zoe", "Ada (on-call)")
            ]

            page.get_by_role("link", name="Payments escalation").click()
            page.wait_for_url(f"{base}/ui/on-call/policies/{pid}")
            delay = page.get_by_label("Minutes before the next level").first
            delay.fill("5000")
            page.get_by_role("button", name="Save policy").click()
            message = page.locator('.field-error[data-field="levels.0.delay_minutes"]')
            assert message.inner_text() == "Input should be less than or equal to 1440"
            assert page.get_by_label("Minutes before the next level").first.input_value() == "5000"
            page.screenshot(path=shots / "oncall-3-policy-refused.png", full_page=True)
            kept = httpx.get(f"{base}/api/v1/escalation-policies/{pid}", headers=auth).json()
            assert kept["levels"][0]["delay_minutes"] == 5
