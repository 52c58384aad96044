"""OIDC sign-in end to end: the real server (a subprocess) and the stand-in issuer
(`testkit.oidc_issuer`) on 127.0.0.1, an httpx client with a cookie jar following every
redirect: login -> issuer -> callback -> the console. Each wrong token, code or state is
refused with the reason on the sign-in page, and opens no session."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from incident_service.auth.oidc import OidcProvider, SignInRefused
from incident_service.auth.sessions import SESSION_COOKIE
from incident_service.config import Settings
from incident_service.outbound import OutboundPolicy
from testkit.databases import make_api_key
from testkit.oidc_issuer import OIDCIssuer, TokenFaults
from testkit.server import served


@dataclass
class Site:
    base: str
    issuer: OIDCIssuer
    team: str
    admin: dict[str, str]


@pytest.fixture(scope="module")
def site(database_url: str) -> Iterator[Site]:
    issuer = OIDCIssuer()
    issuer.start()
    team = f"payments-{secrets.token_hex(3)}"
    admin = {
        "Authorization": "Bearer "
        + make_api_key(database_url, name="oidc admin", scopes=["admin"], rate_limit=100_000)
    }
    env = {
        "OIDC_ISSUER": issuer.url,
        "OIDC_CLIENT_ID": issuer.client_id,
        "OIDC_CLIENT_SECRET": issuer.client_secret,
        "OIDC_ALLOWED_DOMAINS": "example.com, example.org",
        "OIDC_GROUPS_CLAIM": "groups",
        "OIDC_GROUP_TEAMS": f"payments-oncall={team},payments-viewers={team}",
        "OIDC_GROUP_ROLES": "payments-oncall=responder,sre-leads=admin",
        "SESSION_COOKIE_SECURE": "false",
        "OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    try:
        with served(database_url, env=env) as (base, _proc):
            created = httpx.post(
                f"{base}/api/v1/teams", json={"slug": team, "name": "Payments"}, headers=admin
            )
            assert created.status_code == 201, created.text
            yield Site(base=base, issuer=issuer, team=team, admin=admin)
    finally:
        issuer.stop()


@pytest.fixture
def browser(site: Site) -> Iterator[httpx.Client]:
    site.issuer.next_token = TokenFaults()
    site.issuer.user = {
        "sub": f"alice-{secrets.token_hex(3)}",
        "email": f"alice-{secrets.token_hex(3)}@example.com",
        "email_verified": True,
        "name": "Alice Example",
        "groups": ["payments-oncall"],
    }
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        yield client


def sign_in(browser: httpx.Client, site: Site, next_path: str = "/ui/") -> httpx.Response:
    return browser.get(f"{site.base}/ui/login/oidc", params={"next": next_path})


def assert_refused(answer: httpx.Response, browser: httpx.Client, site: Site, why: str) -> None:
    assert answer.status_code in (400, 403), answer.text
    assert urlsplit(str(answer.url)).path == "/ui/login/oidc/callback"
    assert "Sign-in refused" in answer.text and why in answer.text, answer.text
    assert SESSION_COOKIE not in browser.cookies
    assert browser.get(f"{site.base}/api/v1/me").status_code == 401


def test_login_page_offers_the_issuer(browser: httpx.Client, site: Site) -> None:
    page = browser.get(f"{site.base}/ui/login")
    assert f"Sign in with {site.issuer.url}" in page.text


def test_the_code_flow_signs_a_new_user_in(browser: httpx.Client, site: Site) -> None:
    answer = sign_in(browser, site, "/ui/?status=OPEN")
    assert answer.status_code == 200, answer.text
    assert str(answer.url) == f"{site.base}/ui/?status=OPEN"
    hops = [urlsplit(str(r.url)).path for r in answer.history]
    assert hops == ["/ui/login/oidc", "/authorize", "/ui/login/oidc/callback"]
    # PKCE S256, state and nonce went to the issuer.
    authorize = site.issuer.requests("GET", "/authorize")[-1]
    assert authorize.q("code_challenge_method") == "S256"
    assert authorize.q("state") and authorize.q("nonce")
    assert "Alice Example" in answer.text
    me = browser.get(f"{site.base}/api/v1/me").json()
    assert me["team"] == site.team
    assert me["scopes"] == ["incidents:read", "incidents:write"]
    assert me["user"]["email"] == site.issuer.user["email"]
    # Provisioned in the directory, in the team, by the sign-in (recorded).
    users = httpx.get(f"{site.base}/api/v1/users", headers=site.admin).json()
    user = next(u for u in users if u["email"] == site.issuer.user["email"])
    assert user["teams"] == [site.team] and user["role"] == "responder"
    assert user["created_by"] == f"OIDC sign-in ({site.issuer.url})"
    # A second sign-in finds the same user.
    browser.cookies.clear()
    assert sign_in(browser, site).status_code == 200
    users = httpx.get(f"{site.base}/api/v1/users", headers=site.admin).json()
    assert sum(u["email"] == site.issuer.user["email"] for u in users) == 1


def test_a_wrong_audience_is_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.next_token = TokenFaults(audience="another-client")
    assert_refused(sign_in(browser, site), browser, site, "aud")


def test_an_expired_token_is_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.next_token = TokenFaults(expired=True)
    assert_refused(sign_in(browser, site), browser, site, "expired")


def test_a_bad_signature_is_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.next_token = TokenFaults(foreign_key=True)
    assert_refused(sign_in(browser, site), browser, site, "signature does not verify")


def test_a_nonce_mismatch_is_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.next_token = TokenFaults(nonce="not-the-one-we-sent")
    assert_refused(sign_in(browser, site), browser, site, "nonce")


def test_another_issuer_is_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.next_token = TokenFaults(issuer="https://evil.example")
    assert_refused(sign_in(browser, site), browser, site, "iss")


def test_a_disallowed_email_domain_is_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.user["email"] = "mallory@evil.test"
    assert_refused(sign_in(browser, site), browser, site, "accounts of evil.test may not sign in")
    users = httpx.get(f"{site.base}/api/v1/users", headers=site.admin).json()
    assert not any(u["email"] == "mallory@evil.test" for u in users)


def test_groups_without_a_team_are_refused(browser: httpx.Client, site: Site) -> None:
    site.issuer.user["groups"] = ["marketing"]
    assert_refused(sign_in(browser, site), browser, site, "none of your groups maps to a team")


def _callback_url(browser: httpx.Client, site: Site) -> str:
    """Start a sign-in and stop where the issuer sends the browser back (not followed)."""
    start = browser.get(f"{site.base}/ui/login/oidc", follow_redirects=False)
    assert start.status_code == 303
    authorize = browser.get(start.headers["location"], follow_redirects=False)
    assert authorize.status_code == 302
    return authorize.headers["location"]


def test_a_replayed_callback_or_code_is_refused(browser: httpx.Client, site: Site) -> None:
    callback = _callback_url(browser, site)
    assert browser.get(callback).status_code == 200  # signed in
    browser.cookies.clear()
    # The same callback again: its state was used.
    assert_refused(browser.get(callback), browser, site, "already used")
    # A new sign-in with the old code: the issuer refuses the used code.
    used_code = parse_qs(urlsplit(callback).query)["code"][0]
    fresh = urlsplit(_callback_url(browser, site))
    state = parse_qs(fresh.query)["state"][0]
    replayed = f"{site.base}{fresh.path}?{urlencode({'code': used_code, 'state': state})}"
    assert_refused(browser.get(replayed), browser, site, "refused the sign-in code (invalid_grant)")


def test_a_bad_state_is_refused(browser: httpx.Client, site: Site) -> None:
    callback = urlsplit(_callback_url(browser, site))
    code = parse_qs(callback.query)["code"][0]
    forged = f"{site.base}{callback.path}?{urlencode({'code': code, 'state': 'forged'})}"
    assert_refused(browser.get(forged), browser, site, "unknown, expired or already used")


def test_a_state_from_another_browser_is_refused(browser: httpx.Client, site: Site) -> None:
    callback = _callback_url(browser, site)
    with httpx.Client(timeout=30) as other:  # the victim of a login CSRF
        assert_refused(other.get(callback), other, site, "started in another browser")


async def test_the_issuer_obeys_the_outbound_address_rules() -> None:
    settings = Settings(oidc_issuer="http://127.0.0.1:9", oidc_client_id="x")
    with pytest.raises(SignInRefused, match="loopback"):
        await OidcProvider(settings, OutboundPolicy()).start("http://127.0.0.1/cb")


def test_groups_give_the_role_and_follow_it_later(browser: httpx.Client, site: Site) -> None:
    # An admin group without a team group: an admin of every team.
    site.issuer.user["groups"] = ["sre-leads"]
    assert sign_in(browser, site).status_code == 200
    me = browser.get(f"{site.base}/api/v1/me").json()
    assert me["scopes"] == ["admin"] and me["team"] is None
    # Later the person is only on call for payments: the role and team follow the groups.
    browser.cookies.clear()
    site.issuer.user["groups"] = ["payments-oncall"]
    assert sign_in(browser, site).status_code == 200
    me = browser.get(f"{site.base}/api/v1/me").json()
    assert me["scopes"] == ["incidents:read", "incidents:write"] and me["team"] == site.team
    users = httpx.get(f"{site.base}/api/v1/users", headers=site.admin).json()
    user = next(u for u in users if u["email"] == site.issuer.user["email"])
    assert user["role"] == "responder"
    history = httpx.get(f"{site.base}/api/v1/users/{user['id']}/history", headers=site.admin)
    assert [c["change"] for c in history.json()] == ["created", "updated"]
    assert history.json()[1]["fields"] == ["role"]
