"""Losses for spiking outputs, firing-rate regularisers and accuracy.

Outputs are `(..., n_steps, n_classes)` (time second to last), labels `(...)` ints; a
label outside `0..n_classes - 1` is an error (an `EqxRuntimeError` under `jit`).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Int


def _labels(labels: ArrayLike, n_classes: int) -> Array:
    """Labels as an int array; out of `0..n_classes - 1` raises (also under `jit`)."""
    labels = jnp.asarray(labels)
    bad = jnp.any((labels < 0) | (labels >= n_classes))
    return eqx.error_if(labels, bad, f"labels: out of range 0..{n_classes - 1}")


def _nll(logits: Array, labels: ArrayLike) -> Array:
    labels = _labels(labels, logits.shape[-1])
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, labels[..., None].astype(jnp.int32), axis=-1)
    return -jnp.mean(picked)


def spike_count_cross_entropy(
    spikes: Float[Array, "*batch n_steps n_classes"], labels: Int[ArrayLike, "*batch"]
) -> Float[Array, ""]:
    """Cross-entropy with the output spike counts as logits.

    **Arguments:**

    - `spikes`: output spikes, time second to last.
    - `labels`: class indices.

    **Returns:** the mean cross-entropy (a scalar).

    >>> s = jnp.zeros((4, 2)).at[:, 0].set(1.0)  # 4 spikes for class 0, none for 1
    >>> round(float(spike_count_cross_entropy(s, jnp.array(0))), 4)  # log(1 + e^-4)
    0.0181
    """
    return _nll(jnp.sum(spikes, axis=-2), labels)


def max_membrane_cross_entropy(
    v: Float[Array, "*batch n_steps n_classes"], labels: Int[ArrayLike, "*batch"]
) -> Float[Array, ""]:
    """Cross-entropy with each output's maximum membrane potential over time as logit.

    **Arguments:**

    - `v`: readout membrane potentials (non-spiking integrators), time second to last.
    - `labels`: class indices.

    **Returns:** the mean cross-entropy.
    """
    return _nll(jnp.max(v, axis=-2), labels)


def sum_membrane_cross_entropy(
    v: Float[Array, "*batch n_steps n_classes"], labels: Int[ArrayLike, "*batch"]
) -> Float[Array, ""]:
    """Cross-entropy with the time-averaged membrane potential as logit.

    **Arguments:**

    - `v`: readout membrane potentials, time second to last.
    - `labels`: class indices.

    **Returns:** the mean cross-entropy.
    """
    return _nll(jnp.mean(v, axis=-2), labels)


def spike_count_mse(
    spikes: Float[Array, "*batch n_steps n_classes"],
    labels: Int[ArrayLike, "*batch"],
    *,
    correct_count: float,
    incorrect_count: float = 0.0,
) -> Float[Array, ""]:
    """Mean squared error between output spike counts and target counts.

    The output of the true class should fire `correct_count` spikes, the others
    `incorrect_count` (as snnTorch's `mse_count_loss`, with counts instead of rates).

    **Arguments:**

    - `spikes`: output spikes, time second to last.
    - `labels`: class indices.
    - `correct_count`, `incorrect_count`: target spike counts.

    **Returns:** the MSE averaged over samples and outputs.

    >>> s = jnp.zeros((10, 2)).at[:3, 0].set(1.0)
    >>> float(spike_count_mse(s, jnp.array(0), correct_count=5.0))  # ((3-5)^2 + 0) / 2
    2.0
    """
    counts = jnp.sum(spikes, axis=-2)
    onehot = jax.nn.one_hot(_labels(labels, counts.shape[-1]), counts.shape[-1], dtype=counts.dtype)
    target = incorrect_count + (correct_count - incorrect_count) * onehot
    return jnp.mean((counts - target) ** 2)


def firing_rate_l2(
    spikes: Float[Array, "*batch n_steps n"], *, target: float = 0.0
) -> Float[Array, ""]:
    """Mean squared deviation of each neuron's spikes per step from `target`.

    **Arguments:**

    - `spikes`: spikes, time second to last.
    - `target`: target spikes per step (rate times `dt`).

    **Returns:** `mean((mean_t spikes - target)^2)` over samples and neurons.
    """
    return jnp.mean((jnp.mean(spikes, axis=-2) - target) ** 2)


def firing_rate_bounds(
    spikes: Float[Array, "*batch n_steps n"],
    *,
    lower: float | None = None,
    upper: float | None = None,
) -> Float[Array, ""]:
    """Squared hinge penalty on spike counts outside `[lower, upper]` (Zenke & Vogels 2021).

    **Arguments:**

    - `spikes`: spikes, time second to last.
    - `lower`: penalise neurons firing fewer spikes per sample than this.
    - `upper`: penalise neurons firing more.

    **Returns:** the penalty, averaged over samples and neurons.

    >>> s = jnp.ones((5, 2)).at[:, 1].set(0.0)  # counts 5 and 0
    >>> float(firing_rate_bounds(s, lower=1.0, upper=3.0))  # ((5-3)^2 + (1-0)^2) / 2
    2.5
    """
    counts = jnp.sum(spikes, axis=-2)
    penalty = jnp.zeros_like(counts)
    if upper is not None:
        penalty = penalty + jax.nn.relu(counts - upper) ** 2
    if lower is not None:
        penalty = penalty + jax.nn.relu(lower - counts) ** 2
    return jnp.mean(penalty)


def accuracy(
    logits: Float[Array, "*batch n_classes"], labels: Int[ArrayLike, "*batch"]
) -> Float[Array, ""]:
    """Fraction of samples whose largest logit is the label's.

    >>> float(accuracy(jnp.array([[2.0, 1.0], [0.0, 3.0]]), jnp.array([0, 0])))
    0.5
    """
    pred = jnp.argmax(logits, axis=-1)
    labels = _labels(labels, logits.shape[-1])
    return jnp.mean((pred == labels).astype(jnp.result_type(float)))
