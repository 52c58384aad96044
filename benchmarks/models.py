"""Models: training time on 20,000 incidents, and scoring latency on the service's path.

Training: `models.train.fit` (validation, early stopping, the refit ensemble) on the first
20,000 incidents of the seeded synthetic history. Scoring: `Artifact.score` (featurize +
NumPy forward pass + quantiles + remaining time) one incident at a time, and the API's
in-request path (`Scorer.score`: map the row, score, build the `predictions` document), over
the last 2,000 of those incidents; the floor, measured in the same run, is `featurize` alone
on the same incidents.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC

import numpy as np

from incident_service.predictions.scorer import Scorer, ServedModel
from models.config import get_config
from models.features import featurize
from models.synthetic import to_history
from models.train import fit
from pipelines.synthetic import generate_history

N_TRAIN = 20_000
N_SCORE = 2_000


def _timings(fn, items) -> np.ndarray:  # type: ignore[no-untyped-def]
    out = np.empty(len(items))
    for i, item in enumerate(items):
        start = time.perf_counter()
        fn(item)
        out[i] = time.perf_counter() - start
    return out * 1e6


def main(argv: Sequence[str]) -> int:
    history = to_history(generate_history(int(N_TRAIN * 1.05), seed=0))
    history = history.take(np.arange(len(history)) < N_TRAIN)
    print(f"training on {len(history)} synthetic incidents ...", flush=True)
    start = time.perf_counter()
    artifact = fit(get_config(), history, lambda m: print(f"  {m}", flush=True))
    seconds = time.perf_counter() - start
    print(f"fit: {seconds:.1f} s for {len(history)} incidents (target: under 60 s)")

    incidents = history.incidents[-N_SCORE:]
    for inc in incidents[:50]:  # warm-up
        artifact.score(inc)
    floor = _timings(lambda inc: featurize(inc, artifact.spec), incidents)
    score = _timings(artifact.score, incidents)
    # What the API does in the request: the incident row mapped by opened_from_service,
    # scored, and the `predictions` document built (incident_service/predictions/scorer.py).
    scorer = Scorer("bench")
    scorer.model = ServedModel("bench", 1, artifact)
    rows = [
        {
            "title": inc.text,
            "description": "",
            "assigned_team": inc.fields.get("team", ""),
            "created_by": inc.fields.get("created_by", ""),
            "affected_services": list(inc.services),
            "labels": {},
            "created_at": inc.opened_at.replace(tzinfo=UTC),
        }
        for inc in incidents
    ]
    served = _timings(lambda row: scorer.score(row, trigger="created", now=row["created_at"]), rows)
    print(f"{'per incident (us)':28s} {'median':>8s} {'p99':>8s}")
    for name, t in (
        ("featurize (floor)", floor),
        ("Artifact.score", score),
        ("in the request (Scorer)", served),
    ):
        print(f"{name:28s} {np.median(t):8.1f} {np.percentile(t, 99):8.1f}")
    ratio = np.median(served) / np.median(floor)
    print(f"in-request scoring / floor (median): {ratio:.1f}x; target: under 1000 us")
    return 0
