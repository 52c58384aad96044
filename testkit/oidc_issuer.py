"""A stand-in OpenID Connect issuer on 127.0.0.1, for the console's OIDC sign-in tests.

A real HTTP server (`testkit.standin`) with discovery, JWKS, an `/authorize` that approves
the configured `user` at once (checking the client, the redirect URI and a PKCE S256
challenge) and redirects with a one-time code, and a `/token` endpoint that checks the
client secret, the code (used once), the redirect URI and the PKCE verifier, and answers
an RS256 id_token signed with joserfc (authlib's JOSE library).

The `next_token` knobs make the next id_token wrong in one way (a wrong audience, expired,
signed by another key, another nonce or issuer), to show the service refuses it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey

from testkit.standin import Answer, Call, StandIn


@dataclass
class IssuedCode:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    user: dict[str, Any]
    used: bool = False


@dataclass
class TokenFaults:
    """How the next id_token is wrong (all unset: a good token)."""

    audience: str | None = None
    expired: bool = False
    foreign_key: bool = False
    nonce: str | None = None
    issuer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class OIDCIssuer(StandIn):
    name = "oidc"
    routes = [
        ("GET", r"/\.well-known/openid-configuration", "discovery"),
        ("GET", r"/jwks", "jwks"),
        ("GET", r"/authorize", "authorize"),
        ("POST", r"/token", "token"),
    ]

    def __init__(self, client_id: str = "incident-console", client_secret: str = "s3cret") -> None:
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        # The same kid, another key: a token it signs must fail the signature check.
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.user: dict[str, Any] = {
            "sub": "alice-1",
            "email": "alice@example.com",
            "email_verified": True,
            "name": "Alice Example",
            "groups": ["payments-oncall"],
        }
        self.codes: dict[str, IssuedCode] = {}
        self.next_token = TokenFaults()

    # --- endpoints ------------------------------------------------------------------
    def discovery(self, call: Call) -> Answer:
        base = self.url
        return (
            200,
            {
                "issuer": base,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
            },
            {},
        )

    def jwks(self, call: Call) -> Answer:
        return 200, {"keys": [self.key.as_dict(private=False)]}, {}

    def authorize(self, call: Call) -> Answer:
        problems = []
        if call.q("client_id") != self.client_id:
            problems.append("unknown client_id")
        if call.q("response_type") != "code":
            problems.append("response_type must be code")
        if call.q("code_challenge_method") != "S256" or not call.q("code_challenge"):
            problems.append("PKCE S256 is required")
        if "openid" not in (call.q("scope") or "").split():
            problems.append("scope must include openid")
        redirect_uri = call.q("redirect_uri") or ""
        if problems or not redirect_uri:
            return 400, {"error": "invalid_request", "error_description": "; ".join(problems)}, {}
        code = secrets.token_urlsafe(16)
        self.codes[code] = IssuedCode(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            nonce=call.q("nonce"),
            challenge=call.q("code_challenge") or "",
            user=dict(self.user),
        )
        query = urlencode({"code": code, "state": call.q("state") or ""})
        return 302, None, {"Location": f"{redirect_uri}?{query}"}

    def _client_ok(self, call: Call, form: dict[str, str]) -> bool:
        auth = call.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            decoded = base64.b64decode(auth[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and secrets.compare_digest(secret, self.client_secret)

    def token(self, call: Call) -> Answer:
        form = {k: v[0] for k, v in parse_qs(call.raw.decode()).items()}
        if not self._client_ok(call, form):
            return 401, {"error": "invalid_client"}, {}
        issued = self.codes.get(form.get("code", ""))
        if issued is None or issued.used:
            return 400, {"error": "invalid_grant", "error_description": "code unknown or used"}, {}
        issued.used = True  # a code is good once, even when the rest of the request is wrong
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}, {}
        if form.get("redirect_uri") != issued.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri"}, {}
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != issued.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier"}, {}
        faults, self.next_token = self.next_token, TokenFaults()
        now = int(time.time())
        claims = {
            "iss": faults.issuer or self.url,
            "aud": faults.audience or self.client_id,
            "iat": now - (7200 if faults.expired else 0),
            "exp": now + (-3600 if faults.expired else 300),
            **issued.user,
            **faults.extra,
        }
        nonce = faults.nonce or issued.nonce
        if nonce is not None:
            claims["nonce"] = nonce
        key = self.other_key if faults.foreign_key else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
        return (
            200,
            {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token,
            },
            {"Cache-Control": "no-store"},
        )
