from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from models.config import get_config
from models.features import FeatureSpec, featurize_many
from models.nets import Batch, forward, init_params, make_eval_loss, make_train_step, ttr_loss
from models.serving import ensemble_proba, forward_np, softmax
from models.survival import encode, make_edges

from .factories import tiny_history

SPEC = FeatureSpec(512, ("created_lag_hours",), ("all_24h",))


def _params(seed=0, outputs=4, hidden=8):
    params = init_params(jax.random.PRNGKey(seed), SPEC.dim, hidden, outputs)
    # Non-zero wide weights and biases, so the parity test covers every term.
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed + 1))
    params["wide"] = jax.random.normal(k1, params["wide"].shape) * 0.1
    params["b2"] = jax.random.normal(k2, params["b2"].shape)
    return params


def test_forward_shapes():
    x = featurize_many(tiny_history(7).incidents, SPEC)
    logits = forward(_params(), jnp.asarray(x.indices), jnp.asarray(x.values))
    assert logits.shape == (7, 4)


def test_numpy_forward_matches_jax():
    x = featurize_many(tiny_history(64).incidents, SPEC)
    params = _params()
    jax_logits = np.asarray(forward(params, jnp.asarray(x.indices), jnp.asarray(x.values)))
    np_params = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    np.testing.assert_allclose(forward_np(np_params, x.indices, x.values), jax_logits, atol=1e-5)
    stacked = {k: v[None] for k, v in np_params.items()}
    np.testing.assert_allclose(
        ensemble_proba(stacked, x.indices, x.values),
        np.asarray(jax.nn.softmax(jax_logits)),
        atol=1e-6,
    )


def test_ttr_loss_matches_numpy():
    rng = np.random.default_rng(0)
    n, bins = 32, 6
    logits = rng.normal(size=(n, bins)).astype(np.float32)
    label = rng.integers(0, bins, n).astype(np.int32)
    frac = rng.random(n).astype(np.float32)
    observed = (rng.random(n) < 0.6).astype(np.float32)
    weight = rng.random(n).astype(np.float32) + 0.5
    batch = Batch(
        jnp.zeros((n, 1), jnp.int32),
        jnp.zeros((n, 1)),
        jnp.asarray(label),
        jnp.asarray(weight),
        jnp.asarray(frac),
        jnp.asarray(observed),
    )
    p = softmax(logits.astype(np.float64))
    ll = np.empty(n)
    for i in range(n):
        if observed[i]:
            ll[i] = np.log(p[i, label[i]])
        else:
            ll[i] = np.log(frac[i] * p[i, label[i]] + p[i, label[i] + 1 :].sum())
    expected = -(ll * weight).sum() / weight.sum()
    assert np.isclose(float(ttr_loss(jnp.asarray(logits), batch)), expected, rtol=1e-5)


def _batch(history, task, edges=None):
    x = featurize_many(history.incidents, SPEC)
    n = len(history)
    if task == "severity":
        label = history.outcomes.severity.astype(np.int32)
        frac = np.zeros(n, np.float32)
    else:
        b, f = encode(history.outcomes.duration_hours, edges)
        label, frac = b, f.astype(np.float32)
    return Batch(
        jnp.asarray(x.indices),
        jnp.asarray(x.values),
        jnp.asarray(label),
        jnp.ones(n),
        jnp.asarray(frac),
        jnp.asarray(history.outcomes.observed.astype(np.float32)),
    )


def test_one_epoch_on_tiny_data_lowers_both_losses():
    cfg = get_config()
    history = tiny_history(256)
    edges = make_edges(history.outcomes.duration_hours, history.outcomes.observed, 8)
    for task, outputs in (("severity", 4), ("ttr", len(edges) - 1)):
        full = _batch(history, task, edges)
        params = init_params(jax.random.PRNGKey(0), SPEC.dim, 16, outputs)
        optimizer, step = make_train_step(task, 0.0, 1e-2, 0.0, 1.0, 1)
        state = optimizer.init(params)
        before = float(make_eval_loss(task)(params, full))
        key = jax.random.PRNGKey(1)
        for start in range(0, 256, 32):
            key, sub = jax.random.split(key)
            mini = Batch(*(f[start : start + 32] for f in full))
            params, state, loss = step(params, state, mini, sub)
            assert np.isfinite(float(loss))
        after = float(make_eval_loss(task)(params, full))
        assert after < before * 0.9, (task, before, after)
    assert cfg.hidden > 0
