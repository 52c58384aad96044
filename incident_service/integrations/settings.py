"""Integration settings: vendor endpoints and credentials, read from the environment.

Credentials are `SecretStr`: they print as `**********` in logs, reprs and errors, and
are unwrapped only at the moment a client is built. Environment variables carry the
`INTEGRATIONS_` prefix (for example `INTEGRATIONS_PAGERDUTY_TOKEN`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IntegrationSettings(BaseSettings):
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

    # Inbound intake per integration, as PagerDuty's Events API limits a routing key:
    # sustained events per minute and how many may arrive at once; beyond that 429 with
    # Retry-After. An integration's own `rate_limit_per_min`/`rate_limit_burst` override.
    intake_rate_per_min: int = Field(default=120, ge=1)
    intake_burst: int = Field(default=120, ge=1)
    # Signed webhooks (Grafana, PagerDuty v3) whose timestamp is further than this from
    # now, in either direction, are refused; accepted ones are remembered this long (in
    # PostgreSQL, for every replica) so that a captured request cannot be replayed.
    webhook_replay_window_s: float = Field(default=300.0, gt=0, le=86_400)
