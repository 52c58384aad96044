"""The networks (JAX): a wide-and-deep MLP over sparse inputs, and the two losses.

Shapes: n rows, k non-zeros per row (padded), D input dimension, H hidden units, C outputs.
Params are a dict of arrays:
    wide (D, C), embed (D, H), b1 (H,), w2 (H, C), b2 (C,)
logits = gather_sum(wide) + relu(gather_sum(embed) + b1) @ w2 + b2.
`models/serving.py` computes exactly this in NumPy.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

Params = dict[str, jax.Array]


class Batch(NamedTuple):
    """indices (n, k) int32; values (n, k) float32; plus the loss's targets."""

    indices: jax.Array
    values: jax.Array
    label: jax.Array  # severity: (n,) int class; ttr: (n,) int bin
    weight: jax.Array  # (n,) per-row loss weight
    frac: jax.Array  # ttr: (n,) share of the row's bin beyond its censoring time
    observed: jax.Array  # ttr: (n,) 1.0 resolved, 0.0 censored


def init_params(key: jax.Array, dim: int, hidden: int, outputs: int) -> Params:
    """Small random embeddings; zero wide path and biases."""
    k1, k2 = jax.random.split(key)
    return {
        "wide": jnp.zeros((dim, outputs), jnp.float32),
        "embed": jax.random.normal(k1, (dim, hidden), jnp.float32) * 0.05,
        "b1": jnp.zeros((hidden,), jnp.float32),
        "w2": jax.random.normal(k2, (hidden, outputs), jnp.float32) * (1.0 / hidden**0.5),
        "b2": jnp.zeros((outputs,), jnp.float32),
    }


def _gather_sum(table: jax.Array, indices: jax.Array, values: jax.Array) -> jax.Array:
    """(D, m) table, (n, k) sparse rows -> (n, m): the sparse-dense product."""
    return jnp.einsum("nkm,nk->nm", table[indices], values)


def forward(
    params: Params,
    indices: jax.Array,
    values: jax.Array,
    dropout_key: jax.Array | None = None,
    dropout: float = 0.0,
) -> jax.Array:
    """(n, k) sparse rows -> (n, C) logits; dropout on the hidden layer when a key is given."""
    hidden = jax.nn.relu(_gather_sum(params["embed"], indices, values) + params["b1"])
    if dropout_key is not None and dropout > 0.0:
        keep = jax.random.bernoulli(dropout_key, 1.0 - dropout, hidden.shape)
        hidden = jnp.where(keep, hidden / (1.0 - dropout), 0.0)
    wide = _gather_sum(params["wide"], indices, values)
    return wide + hidden @ params["w2"] + params["b2"]


def severity_loss(logits: jax.Array, batch: Batch) -> jax.Array:
    """Class-weighted cross-entropy, averaged over the batch's weights. logits (n, C)."""
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch.label)
    return jnp.sum(nll * batch.weight) / jnp.maximum(jnp.sum(batch.weight), 1e-9)


def ttr_loss(logits: jax.Array, batch: Batch) -> jax.Array:
    """Discrete-time survival negative log-likelihood with right-censoring.

    logits (n, B) over B time bins. A resolved row contributes log p[bin]; a row censored
    inside `bin` contributes log P(T > c) = log(frac * p[bin] + sum of p beyond bin).
    """
    logp = jax.nn.log_softmax(logits)
    p = jnp.exp(logp)
    n_bins = logits.shape[1]
    own = jnp.take_along_axis(logp, batch.label[:, None], axis=1)[:, 0]
    beyond_mask = jnp.arange(n_bins)[None, :] > batch.label[:, None]
    own_p = jnp.take_along_axis(p, batch.label[:, None], axis=1)[:, 0]
    survive = batch.frac * own_p + jnp.sum(jnp.where(beyond_mask, p, 0.0), axis=1)
    ll = jnp.where(batch.observed > 0.5, own, jnp.log(jnp.maximum(survive, 1e-12)))
    return -jnp.sum(ll * batch.weight) / jnp.maximum(jnp.sum(batch.weight), 1e-9)


LOSSES = {"severity": severity_loss, "ttr": ttr_loss}


def loss_fn(params: Params, batch: Batch, key: jax.Array, dropout: float, task: str) -> jax.Array:
    """The pure training objective of `task` ("severity" or "ttr")."""
    logits = forward(params, batch.indices, batch.values, key, dropout)
    return LOSSES[task](logits, batch)


def make_optimizer(
    learning_rate: float, weight_decay: float, clip_norm: float, warmup: int
) -> optax.GradientTransformation:
    """Clipped AdamW; a linear warm-up, then constant (early stopping decides when to stop)."""
    schedule = optax.join_schedules(
        [
            optax.linear_schedule(0.0, learning_rate, max(warmup, 1)),
            optax.constant_schedule(learning_rate),
        ],
        [max(warmup, 1)],
    )
    return optax.chain(
        optax.clip_by_global_norm(clip_norm), optax.adamw(schedule, weight_decay=weight_decay)
    )


@functools.lru_cache(maxsize=16)
def make_train_step(
    task: str,
    dropout: float,
    learning_rate: float,
    weight_decay: float,
    clip_norm: float,
    warmup: int,
) -> tuple[optax.GradientTransformation, jax.stages.Wrapped]:
    """The optimizer and a jitted `train_step(params, opt_state, batch, key)`.

    `train_step` returns (params, opt_state, loss). Cached by its (hashable) settings, so
    every training run with the same settings and batch shape reuses one compilation.
    """
    optimizer = make_optimizer(learning_rate, weight_decay, clip_norm, warmup)

    def train_step(
        params: Params, opt_state: optax.OptState, batch: Batch, key: jax.Array
    ) -> tuple[Params, optax.OptState, jax.Array]:
        loss, grads = jax.value_and_grad(loss_fn)(params, batch, key, dropout, task)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return optimizer, jax.jit(train_step)


@functools.lru_cache(maxsize=16)
def make_eval_loss(task: str) -> jax.stages.Wrapped:
    """A jitted `eval_loss(params, batch)`: the objective without dropout."""
    return jax.jit(lambda params, batch: loss_fn(params, batch, jax.random.PRNGKey(0), 0.0, task))
