from __future__ import annotations

import numpy as np

from models.survival import encode, expected_remaining, make_edges, quantiles, survival_at


def test_edges_start_at_zero_and_cover_every_duration():
    rng = np.random.default_rng(0)
    d = rng.lognormal(2, 1.5, 500)
    obs = rng.random(500) < 0.8
    edges = make_edges(d, obs, 10)
    assert edges[0] == 0 and np.all(np.diff(edges) > 0) and edges[-1] > d.max()
    b, frac = encode(d, edges)
    assert np.all((edges[b] <= d) & (d <= edges[b + 1]))
    assert np.all((frac >= 0) & (frac <= 1))


def _sample(pmf, edges, n, rng):
    """Monte-Carlo draws from the piecewise-uniform-in-log1p distribution."""
    b = rng.choice(len(pmf), size=n, p=pmf)
    ue = np.log1p(edges)
    u = ue[b] + rng.random(n) * (ue[b + 1] - ue[b])
    return np.expm1(u)


def test_quantiles_survival_and_remaining_match_sampling():
    rng = np.random.default_rng(1)
    edges = np.array([0.0, 0.5, 2.0, 8.0, 30.0, 200.0])
    pmf = np.array([0.1, 0.3, 0.2, 0.3, 0.1])
    draws = _sample(pmf, edges, 400_000, rng)
    q = quantiles(pmf[None], edges, (0.1, 0.5, 0.9))[0]
    np.testing.assert_allclose(q, np.quantile(draws, [0.1, 0.5, 0.9]), rtol=0.02)
    s = survival_at(pmf[None].repeat(3, 0), edges, np.array([1.0, 5.0, 50.0]))
    np.testing.assert_allclose(s, [(draws > t).mean() for t in (1.0, 5.0, 50.0)], atol=0.005)
    for elapsed in (0.0, 3.0, 40.0):
        left = draws[draws > elapsed] - elapsed
        got = expected_remaining(pmf[None], edges, np.array([elapsed]), grid=4096)[0]
        np.testing.assert_allclose(got, left.mean(), rtol=0.02)


def test_remaining_time_is_zero_past_the_last_edge():
    edges = np.array([0.0, 1.0, 10.0])
    assert expected_remaining(np.array([[0.5, 0.5]]), edges, np.array([20.0]))[0] == 0.0
