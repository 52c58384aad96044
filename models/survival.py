"""Discrete-time survival in NumPy: bins, quantiles and expected remaining time.

Time is binned in u = log1p(hours); within a bin the distribution is taken as uniform in
u, so the CDF is piecewise linear in u between the bin edges. Shapes: n incidents, B bins,
`edges` (B + 1,) in hours with edges[0] = 0 and edges[B] the last finite edge.
Used by training (to encode targets), evaluation and serving alike.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def make_edges(durations: FloatArray, observed: NDArray[np.bool_], bins: int) -> FloatArray:
    """(B + 1,) edges in hours at quantiles of the resolved durations (distinct, from 0)."""
    resolved = np.log1p(durations[observed])
    if resolved.size == 0:
        resolved = np.log1p(durations)
    inner = np.quantile(resolved, np.linspace(0, 1, bins + 1)[1:-1])
    top = max(float(resolved.max()) * 1.1, float(np.log1p(durations.max())) * 1.02, 1e-3)
    u = np.unique(np.concatenate([[0.0], inner, [top]]))
    return np.asarray(np.expm1(u), dtype=np.float64)


def encode(durations: FloatArray, edges: FloatArray) -> tuple[NDArray[np.int32], FloatArray]:
    """Each duration's bin, and the share of that bin (in u) lying beyond it.

    Returns: bin (n,) int32 in [0, B); frac (n,) in [0, 1].
    """
    u = np.log1p(np.clip(durations, 0.0, None))
    ue = np.log1p(edges)
    b = np.clip(np.searchsorted(ue, u, side="right") - 1, 0, len(edges) - 2).astype(np.int32)
    frac = np.clip((ue[b + 1] - u) / (ue[b + 1] - ue[b]), 0.0, 1.0)
    return b, frac


def _cdf_knots(pmf: FloatArray) -> FloatArray:
    """(n, B) pmf -> (n, B + 1) CDF at the edges."""
    cdf = np.concatenate([np.zeros((pmf.shape[0], 1)), np.cumsum(pmf, axis=1)], axis=1)
    return np.asarray(cdf / cdf[:, -1:], dtype=np.float64)


def quantiles(pmf: FloatArray, edges: FloatArray, qs: tuple[float, ...]) -> FloatArray:
    """(n, B) pmf -> (n, len(qs)) quantiles in hours."""
    cdf = _cdf_knots(pmf)
    ue = np.log1p(edges)
    out = np.empty((pmf.shape[0], len(qs)))
    for i in range(pmf.shape[0]):
        out[i] = np.interp(qs, cdf[i], ue)
    return np.expm1(out)


def survival_at(pmf: FloatArray, edges: FloatArray, hours: FloatArray) -> FloatArray:
    """(n, B) pmf, (n,) times -> (n,) P(T > t)."""
    cdf = _cdf_knots(pmf)
    ue = np.log1p(edges)
    u = np.log1p(np.clip(hours, 0.0, None))
    return np.array([1.0 - np.interp(u[i], ue, cdf[i]) for i in range(pmf.shape[0])])


def expected_remaining(
    pmf: FloatArray, edges: FloatArray, elapsed: FloatArray, grid: int = 256
) -> FloatArray:
    """(n, B) pmf, (n,) hours already elapsed -> (n,) E[T - elapsed | T > elapsed] in hours.

    Integrates the conditional survival curve from `elapsed` to the last edge (mass is not
    assumed beyond it). When nothing is left (P(T > elapsed) ~ 0) the answer is 0.
    """
    cdf = _cdf_knots(pmf)
    ue = np.log1p(edges)
    out = np.zeros(pmf.shape[0])
    for i in range(pmf.shape[0]):
        start = float(np.clip(elapsed[i], 0.0, edges[-1]))
        t = np.linspace(start, edges[-1], grid)
        s = 1.0 - np.interp(np.log1p(t), ue, cdf[i])
        if s[0] <= 1e-9:
            continue
        area = float(np.sum((s[1:] + s[:-1]) * np.diff(t)) / 2.0)
        out[i] = area / s[0]
    return out
