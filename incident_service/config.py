"""Settings, read once from the environment (and `.env`) when asked for, never at import.

Every knob the service has lives here so that `create_app(settings)` and the CLI take one
object; tests build their own `Settings(...)` instead of patching `os.environ`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    db_pool_timeout_s: float = Field(default=5.0, gt=0)

    # Bodies larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # Seconds a client is told to wait (Retry-After) when the database is unreachable.
    retry_after_s: int = Field(default=2, ge=1)

    log_level: str = "INFO"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first call."""
    return Settings()
