"""A served model with known outputs, registered and active under its own name, so each
test's app scores with it while the rest of the session's tests see no model."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest
from litestar.testing import AsyncTestClient

from incident_service.app import create_app
from incident_service.config import Settings
from models import registry
from models.features import FeatureSpec
from models.serving import Artifact

EDGES = np.array([0.0, 1.0, 10.0, 100.0])


def fixed_artifact(sev_logits: list[float], ttr_logits: list[float], seed: int = 0) -> Artifact:
    """A network whose inputs barely matter (tiny weights): its outputs are set by the
    biases, so a test knows what the model will say whatever the incident."""
    rng = np.random.default_rng(seed)
    spec = FeatureSpec(64, (), ())

    def net(biases: list[float]) -> dict[str, np.ndarray]:
        k = len(biases)
        return {
            "wide": (rng.normal(size=(1, spec.dim, k)) * 1e-3).astype(np.float32),
            "embed": (rng.normal(size=(1, spec.dim, 4)) * 1e-3).astype(np.float32),
            "b1": np.zeros((1, 4), np.float32),
            "w2": (rng.normal(size=(1, 4, k)) * 1e-3).astype(np.float32),
            "b2": np.array([biases], np.float32),
        }

    return Artifact(spec, net(sev_logits), np.zeros(4), net(ttr_logits), EDGES)


# What a version that passed its quality gate records (the policies act on its predictions).
PASSED = {"passed": True, "failed": []}


def activate(
    database_url: str, name: str, artifact: Artifact, f1: float = 0.5, gate: dict | None = None
) -> int:
    metrics = {
        "severity": {"macro_f1": f1},
        "ttr": {"mae_hours": 10.0},
        "gate": PASSED if gate is None else gate,
    }
    with psycopg.connect(database_url) as conn:
        version = registry.register(
            conn, artifact, metrics, (None, None, datetime.now(UTC)), "tests", name=name
        )
        registry.promote_if_better(conn, version, metrics, None, "tests", name=name)
        conn.commit()
    return version


@pytest.fixture
def model_name() -> str:
    return f"test-model-{secrets.token_hex(4)}"


@pytest.fixture
def likely_sev1(database_url: str, model_name: str) -> Iterator[Artifact]:
    """P(SEV1) about 0.87; time to resolve mostly in the 1-10 h bin."""
    artifact = fixed_artifact([3.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0])
    activate(database_url, model_name, artifact)
    yield artifact


@pytest.fixture
async def scored_client(
    settings: Settings, admin_headers: dict[str, str], model_name: str, likely_sev1: Artifact
) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    app = create_app(settings.model_copy(update={"serving_model_name": model_name}))
    async with AsyncTestClient(app=app) as client:
        client.headers.update(admin_headers)
        yield client
