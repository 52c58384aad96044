"""Settings, read once from the environment (and `.env`) when asked for, never at import.

Every knob the service has lives here so that `create_app(settings)` and the CLI take one
object; tests build their own `Settings(...)` instead of patching `os.environ`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class IntegrationSettings(BaseSettings):
    """Vendor endpoints and credentials, with their own `INTEGRATIONS_` prefix (for example
    `INTEGRATIONS_PAGERDUTY_TOKEN`). Credentials are `SecretStr`: they print as
    `**********` in logs, reprs and errors, and are unwrapped only when a client is built."""

    model_config = SettingsConfigDict(env_prefix="INTEGRATIONS_", env_file=".env", extra="ignore")

    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_token: SecretStr | None = None
    # PagerDuty requires the email of a user on writes ("From" header).
    pagerduty_from: str = "incident-service@example.com"
    # The signing secret of the PagerDuty v3 webhook subscription that reports back to us.
    pagerduty_webhook_secret: SecretStr | None = None

    jira_url: str | None = None
    jira_user: str | None = None
    jira_token: SecretStr | None = None

    servicenow_url: str | None = None
    servicenow_user: str | None = None
    servicenow_password: SecretStr | None = None

    # HMAC secrets for inbound webhooks, by name; an integration names the one it uses
    # (`config.secret_name`), so secrets live in the environment and never in the database.
    webhook_secrets: dict[str, SecretStr] = Field(default_factory=dict)

    # A CA bundle for vendors behind a private CA (and the test stand-ins).
    ca_bundle: Path | None = None
    http_timeout_s: float = Field(default=10.0, gt=0)

    # Outbound retries (429, 5xx, timeouts): exponential backoff from base to max, or the
    # vendor's Retry-After when it sends one; a step is abandoned after max_attempts.
    sync_max_attempts: int = Field(default=12, ge=1)
    sync_backoff_base_s: float = Field(default=1.0, gt=0)
    sync_backoff_max_s: float = Field(default=300.0, gt=0)
    # How often the outbound dispatcher reads new events when the feed is idle.
    sync_poll_interval_s: float = Field(default=1.0, gt=0)
    # How often each exported follow-up's Jira issue is looked at (an issue done closes it).
    jira_follow_up_poll_s: float = Field(default=60.0, gt=0)

    # Inbound intake per integration, as PagerDuty's Events API limits a routing key:
    # sustained events per minute and how many may arrive at once; beyond that 429 with
    # Retry-After. An integration's own `rate_limit_per_min`/`rate_limit_burst` override.
    intake_rate_per_min: int = Field(default=120, ge=1)
    intake_burst: int = Field(default=120, ge=1)
    # Signed webhooks (Grafana, PagerDuty v3) whose timestamp is further than this from
    # now, in either direction, are refused; accepted ones are remembered this long (in
    # PostgreSQL, for every replica) so that a captured request cannot be replayed.
    webhook_replay_window_s: float = Field(default=300.0, gt=0, le=86_400)


class Settings(BaseSettings):
    """Service configuration. Environment variables use the field name in upper case."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # Unset means "use the embedded PostgreSQL under data_dir" (pgserver), so a new user
    # needs no server of their own.
    database_url: str | None = None
    data_dir: Path = Path(".data")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    db_pool_min_size: int = Field(default=4, ge=1)
    db_pool_max_size: int = Field(default=16, ge=1)
    # How long a request waits for a pooled connection before answering 503.
    db_pool_timeout_s: float = Field(default=2.0, gt=0)

    # Bodies larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Seconds a client is told to wait (Retry-After) when the database is unreachable.
    retry_after_s: int = Field(default=2, ge=1)
    # Per API key (across replicas: rate_limit_store): sustained requests per second, and
    # how many seconds of that rate may arrive at once. A key's own `rate_limit` overrides.
    rate_limit_per_s: int = Field(default=50, ge=1)
    rate_limit_burst_s: float = Field(default=10.0, gt=0)
    # A verified API key is trusted this long before it is looked up again: a revocation
    # takes effect within this many seconds on every API process.
    api_key_cache_s: float = Field(default=5.0, ge=0)

    # Console sign-in sessions (auth/sessions.py): they end this long after sign-in, or
    # after this long without a request, or at logout. The cookie is `Secure` (sent over
    # HTTPS only) unless this is false, as `make run` sets it for http://127.0.0.1.
    session_ttl_s: float = Field(default=12 * 3600, gt=0)
    session_idle_s: float = Field(default=2 * 3600, gt=0)
    session_cookie_secure: bool = True
    # How often the console's live list looks at the event feed for changes.
    console_stream_s: float = Field(default=1.0, gt=0, le=60)

    log_level: str = "INFO"
    # The OpenAPI document and Swagger UI at /docs need an API key like everything else,
    # unless this is true (`make run` sets it, so a developer can browse them locally).
    public_docs: bool = False
    # The URL clients reach the API at (e.g. https://incidents.example.com behind a proxy),
    # for the absolute links we send (the paging `Link` header). Unset: links are relative.
    # Never the request's Host header, which any client sets.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")

    # Where the analytics write reliability reports (the API lists them).
    reports_dir: Path = Path("reports")

    # --- workflows, responses, escalation, event relay (docs/workflows.md) ---
    # The versioned response-policy file; unset means the one shipped in the package.
    response_policies_path: Path | None = None
    # Where HTTP actions (scale_up_service, restart_service, rollback_deploy, run_runbook)
    # are sent, and the HMAC key they are signed with.
    automation_url: str | None = None
    automation_secret: SecretStr | None = None
    ticket_url: str | None = None
    # Default Slack-compatible webhook for notify_webhook and escalation notifications.
    notify_webhook_url: str | None = None
    notify_webhook_secret: SecretStr | None = None
    # Each HTTP call an action or notification makes gives up after this long.
    action_http_timeout_s: float = Field(default=10.0, gt=0)
    # DBOS queue polling: the start latency of a queued workflow (integration syncs) is
    # about this interval, and each poll is a transaction through DBOS's pool, so a shorter
    # interval costs the worker CPU (docs/performance.md, "Settings").
    workflow_queue_polling_s: float = Field(default=0.25, gt=0)
    # Response workflows one worker runs at once (its intake claims no more): high, so a
    # burst gets every incident's first action going instead of queueing whole incidents
    # behind the first ones' last actions (docs/performance.md, "Settings").
    workflow_worker_concurrency: int = Field(default=2000, ge=1)
    # Outbound integration syncs (the DBOS queue) one worker runs at once: each calls a
    # vendor's API, which rate-limits (429 with Retry-After), so a burst of incidents is
    # spread out rather than fired at the vendor 2,000 at a time.
    integration_sync_concurrency: int = Field(default=20, ge=1)
    # A worker whose heartbeat is older than this is dead; another recovers its workflows.
    worker_heartbeat_s: float = Field(default=2.0, gt=0)
    worker_dead_after_s: float = Field(default=10.0, gt=0)
    # The inbox sweep and event relay wake on LISTEN/NOTIFY and poll at least this often.
    worker_poll_s: float = Field(default=1.0, gt=0)
    # At SIGTERM/SIGINT a worker takes no more work and gives its running workflows this
    # long to finish, then hands the rest to the live workers at once (docs/workflows.md).
    worker_shutdown_grace_s: float = Field(default=5.0, ge=0)
    # A worker's connections: its own pool (steps, intake, relay) and DBOS's (checkpoints).
    worker_db_pool_max_size: int = Field(default=24, ge=2)
    workflow_sys_db_pool_size: int = Field(default=20, ge=2)
    # NATS for the JetStream event relay (subscribers of kind "nats").
    nats_url: str = "nats://127.0.0.1:4222"

    # --- model predictions (docs/models.md) ---
    # The registry name of the model the API scores incidents with; its active version is
    # re-read this often, so a promotion or rollback takes effect without a restart.
    serving_model_name: str = "incident-service"
    model_refresh_s: float = Field(default=30.0, gt=0)

    # --- integrations (docs/integrations.md): vendor URLs and credentials, INTEGRATIONS_* ---
    integrations: IntegrationSettings = Field(default_factory=IntegrationSettings)

    # --- outbound address policy (incident_service/outbound.py) ---
    # URLs that API users set (webhook subscribers) may reach public addresses only; these
    # networks are allowed too (`10.0.0.0/8,fd00::/8`), for receivers inside the network.
    outbound_allow_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)

    @field_validator("outbound_allow_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        # The environment gives one comma-separated string, not JSON.
        return (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )

    # --- console sign-in (docs/operations.md "Sign-in and roles"; sessions: above) ---
    # Failed sign-ins allowed per client address in a minute before it must wait (429).
    login_failures_per_min: int = Field(default=10, ge=1)

    # OIDC sign-in (authorization code + PKCE, through authlib). Unset issuer: API keys only.
    oidc_issuer: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: str = "openid email profile"
    # Email domains allowed to sign in (`example.com,example.org`); empty: any domain.
    oidc_allowed_domains: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The id_token claim holding the user's groups (a dotted path: `realm_access.roles`).
    oidc_groups_claim: str = "groups"
    # Group to team and group to role, `group=value` pairs separated by commas
    # (`payments-oncall=payments,checkout-oncall=checkout`; `sre=responder,ops-leads=admin`).
    # A user's role is the highest their groups give (viewer when none does); their team
    # the first mapped group's in the order of the setting. Only admins may have no team.
    oidc_group_teams: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    oidc_group_roles: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)

    @field_validator("oidc_allowed_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip().lower() for v in value.split(",") if v.strip()]
        return value

    @field_validator("oidc_group_teams", "oidc_group_roles", mode="before")
    @classmethod
    def _split_pairs(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for item in value.split(","):
            if not item.strip():
                continue
            group, sep, target = item.partition("=")
            if not sep or not group.strip() or not target.strip():
                msg = f"{item.strip()!r} is not group=value"
                raise ValueError(msg)
            pairs[group.strip()] = target.strip()
        return pairs

    @field_validator("oidc_group_roles")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(
            {r for r in value.values() if r not in ("viewer", "responder", "manager", "admin")}
        )
        if bad:
            msg = f"unknown roles {bad}: use viewer, responder, manager or admin"
            raise ValueError(msg)
        return value

    # --- rate limits shared across API replicas (auth/ratelimit.py, docs/operations.md) ---
    # "shared": every replica counts a key's requests in one place, Redis when `redis_url`
    # is set, else PostgreSQL (one upsert per request); "process": per API process (N
    # replicas allow N times the rate); "off": no limit (a gateway in front limits).
    rate_limit_store: Literal["shared", "process", "off"] = "shared"
    # Redis for the shared rate limits, e.g. redis://127.0.0.1:6379/0 (may hold a password).
    redis_url: SecretStr | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first call."""
    return Settings()
