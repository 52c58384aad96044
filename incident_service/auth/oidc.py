"""OpenID Connect sign-in, the protocol half: discovery, the authorization request
(authorization code with PKCE S256, state and nonce), the code exchange and the id_token's
validation. Every step is the libraries': authlib's OAuth 2 client builds the request and
exchanges the code, joserfc (authlib's JOSE library) checks the id_token's signature
against the issuer's JWKS (RS256/PS256/ES256 only, the key chosen by `kid`) and its
claims: `iss`, `aud`, `exp` (60 s leeway), `iat`, `sub` and `nonce`. Nothing is checked by
hand.

The issuer and the endpoints its discovery document names are URLs the service fetches:
each is checked against the outbound address policy (`incident_service.outbound`, as for
the URLs API users set) before it is fetched, so a discovery document cannot point the
service at the metadata endpoint or an internal port. An issuer inside the network needs
its network in `OUTBOUND_ALLOW_NETWORKS`.

The console half (who may sign in, provisioning, the session) is `console/oidc_routes.py`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from incident_service.config import Settings
from incident_service.outbound import AddressRefused, OutboundPolicy

_ALGORITHMS = ["RS256", "PS256", "ES256"]
# Discovery and keys are re-read this often (keys also at once on an unknown `kid`).
_METADATA_TTL_S = 3600.0
_TIMEOUT_S = 10.0


class SignInRefused(Exception):
    """The sign-in cannot go on; the message says why, fit to show the person."""


@dataclass(frozen=True, slots=True)
class Started:
    url: str
    state: str
    nonce: str
    code_verifier: str


class OidcProvider:
    """One configured issuer (settings `OIDC_*`), its discovery and keys cached."""

    def __init__(self, settings: Settings, policy: OutboundPolicy) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        secret = settings.oidc_client_secret
        self._client_secret = secret.get_secret_value() if secret else None
        self._scope = settings.oidc_scopes
        self._policy = policy
        self._metadata: tuple[dict[str, Any], float] | None = None
        self._keys: tuple[KeySet, float] | None = None

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=self._scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=_TIMEOUT_S,
            # Through a proxy the address reached would not be the one the policy checked.
            trust_env=False,
        )

    async def _check_url(self, url: str, what: str) -> None:
        """The outbound address policy's check of an identity provider's URL, refused as a
        sign-in refusal naming which URL."""
        try:
            await self._policy.check_url(url)
        except AddressRefused as exc:
            msg = f"the identity provider's {what} URL is refused: {exc}"
            raise SignInRefused(msg) from exc

    async def _get_json(self, url: str, what: str) -> dict[str, Any]:
        await self._check_url(url, what)
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT_S, trust_env=False) as http:
                answer = await http.get(url, headers={"Accept": "application/json"})
            answer.raise_for_status()
            body = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            msg = f"the identity provider's {what} could not be read ({type(exc).__name__})"
            raise SignInRefused(msg) from exc
        if not isinstance(body, dict):
            msg = f"the identity provider's {what} is not a JSON object"
            raise SignInRefused(msg)
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and self._metadata[1] > time.monotonic():
            return self._metadata[0]
        found = await self._get_json(
            f"{self.issuer}/.well-known/openid-configuration", "discovery document"
        )
        if str(found.get("issuer", "")).rstrip("/") != self.issuer:
            msg = "the identity provider's discovery document names another issuer"
            raise SignInRefused(msg)
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(name), str):
                msg = f"the identity provider's discovery document has no {name}"
                raise SignInRefused(msg)
        self._metadata = (found, time.monotonic() + _METADATA_TTL_S)
        return found

    async def _key_set(self, refresh: bool) -> KeySet:
        if not refresh and self._keys is not None and self._keys[1] > time.monotonic():
            return self._keys[0]
        metadata = await self.metadata()
        try:
            keys = KeySet.import_key_set(await self._get_json(metadata["jwks_uri"], "key set"))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            msg = "the identity provider's key set (JWKS) cannot be read"
            raise SignInRefused(msg) from exc
        self._keys = (keys, time.monotonic() + _METADATA_TTL_S)
        return keys

    async def start(self, redirect_uri: str) -> Started:
        """The URL to send the browser to, with its fresh state, nonce and PKCE verifier."""
        metadata = await self.metadata()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                nonce=nonce,
                code_verifier=verifier,
            )
        return Started(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def finish(
        self, redirect_uri: str, code: str, code_verifier: str, nonce: str
    ) -> dict[str, Any]:
        """Exchange `code` and return the id_token's validated claims; else SignInRefused."""
        metadata = await self.metadata()
        token_endpoint = metadata["token_endpoint"]
        await self._check_url(token_endpoint, "token")
        try:
            async with self._client(redirect_uri) as client:
                token = await client.fetch_token(
                    token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                )
        except OAuthError as exc:
            msg = f"the identity provider refused the sign-in code ({exc.error})"
            raise SignInRefused(msg) from exc
        except httpx.HTTPError as exc:
            msg = f"the identity provider's token endpoint failed ({type(exc).__name__})"
            raise SignInRefused(msg) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            msg = "the identity provider answered without an id_token"
            raise SignInRefused(msg)
        return await self._validate(id_token, nonce)

    async def _validate(self, id_token: str, nonce: str) -> dict[str, Any]:
        decoded = None
        for refresh in (False, True):  # an unknown kid: the keys may have rotated
            keys = await self._key_set(refresh)
            try:
                decoded = jwt.decode(id_token, keys, algorithms=_ALGORITHMS)
                break
            except (ValueError, JoseError) as exc:
                if refresh or not isinstance(exc, InvalidKeyIdError):
                    msg = f"the id_token's signature does not verify ({_why(exc)})"
                    raise SignInRefused(msg) from exc
        assert decoded is not None
        registry = jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            registry.validate(decoded.claims)
        except JoseError as exc:
            msg = f"the id_token is not valid for this service ({_why(exc)})"
            raise SignInRefused(msg) from exc
        return dict(decoded.claims)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def claim(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted `path` (`realm_access.roles`), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
