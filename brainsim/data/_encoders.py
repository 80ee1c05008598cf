"""Spike encoders (rate, latency, delta) and event binning."""

from functools import partial

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jax.scipy.special import gammaln, xlogy
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray


def bernoulli_encode(
    prob: ArrayLike, n_steps: int, *, key: PRNGKeyArray
) -> Float[Array, "n_steps ..."]:
    """Rate coding: an independent spike with probability `prob` in every step.

    **Arguments:**

    - `prob`: spike probability per step, in [0, 1] (e.g. pixel intensity / 255).
    - `n_steps`: number of time steps.
    - `key`: PRNG key.

    **Returns:** float spikes (0 or 1) of shape `(n_steps, *prob.shape)`.
    """
    p = jnp.clip(jnp.asarray(prob, jnp.result_type(float)), 0.0, 1.0)
    return jr.bernoulli(key, jnp.broadcast_to(p, (n_steps, *p.shape))).astype(p.dtype)


def poisson_encode(
    rate_hz: ArrayLike,
    n_steps: int,
    *,
    dt: float,
    key: PRNGKeyArray,
    max_count: int | None = None,
) -> Float[Array, "n_steps ..."]:
    """Rate coding by a Poisson process: the spike count of each step of `dt` ms.

    Counts are Poisson with mean `lam = rate_hz * dt / 1000`; more than one spike per
    step is possible (use `bernoulli_encode` for at most one). They are drawn by
    inverting the Poisson CDF truncated at `max_count`, which by default lies 8 standard
    deviations (plus 8) above the largest mean, so the truncation is immaterial; a
    uniform draw and a comparison compile far faster than `jax.random.poisson`. Under
    `jit` with traced rates and no `max_count` it falls back to `jax.random.poisson`.

    **Arguments:**

    - `rate_hz`: firing rate (Hz), any shape.
    - `n_steps`: number of steps; `dt`: step (ms).
    - `key`: PRNG key.
    - `max_count`: the largest count drawn per step.

    **Returns:** float counts of shape `(n_steps, *rate_hz.shape)`.
    """
    lam = jnp.asarray(rate_hz, jnp.result_type(float)) * (dt / 1000.0)
    if max_count is None:
        if isinstance(lam, jax.core.Tracer):
            return jr.poisson(key, lam, (n_steps, *lam.shape)).astype(lam.dtype)
        top = float(jnp.max(lam)) if lam.size else 0.0
        max_count = int(top + 8.0 * top**0.5 + 8.0)
    return _poisson_inverse_cdf(key, lam, n_steps, max_count)


@partial(jax.jit, static_argnums=(2, 3))
def _poisson_inverse_cdf(key, lam: Array, n_steps: int, max_count: int) -> Array:
    k = jnp.arange(max_count + 1, dtype=lam.dtype).reshape((1,) * lam.ndim + (-1,))
    log_pmf = -lam[..., None] + xlogy(k, lam[..., None]) - gammaln(k + 1.0)
    cdf = jnp.cumsum(jnp.exp(log_pmf), axis=-1)
    u = jr.uniform(key, (n_steps, *lam.shape), lam.dtype)
    return jnp.sum(u[..., None] > cdf[None], axis=-1).astype(lam.dtype)


def latency_encode(
    intensity: ArrayLike, n_steps: int, *, tau: float | None = None, threshold: float = 0.0
) -> Float[Array, "n_steps ..."]:
    """Latency coding: one spike per input, earlier for stronger inputs.

    With `tau=None` the spike step is linear, `round((1 - x) * (n_steps - 1))`. With a
    `tau` (in steps) it is the time an RC circuit driven by `x` takes to reach
    `threshold`: `tau * log(x / (x - threshold))`. Inputs at or below `threshold`, and
    those whose spike would fall after the last step, do not spike.

    **Arguments:**

    - `intensity`: inputs in [0, 1].
    - `n_steps`: number of steps.
    - `tau`: RC time constant (steps), or `None` for linear latency.
    - `threshold`: inputs at or below it never spike.

    **Returns:** float spikes `(n_steps, *intensity.shape)`, at most one per input.

    >>> latency_encode(jnp.array([1.0, 0.5, 0.0]), 5).T.tolist()
    [[1.0, 0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]]
    """
    x = jnp.clip(jnp.asarray(intensity, jnp.result_type(float)), 0.0, 1.0)
    return _latency(x, n_steps, tau, threshold)


@partial(jax.jit, static_argnums=(1, 2, 3))
def _latency(x: Array, n_steps: int, tau: float | None, threshold: float) -> Array:
    fires = x > threshold
    if tau is None:
        step = jnp.round((1.0 - x) * (n_steps - 1))
    else:
        safe = jnp.where(fires, x, 1.0)
        step = jnp.round(tau * jnp.log(safe / (safe - threshold)))
    step = jnp.where(fires, step, n_steps).astype(jnp.int32)
    t = jnp.arange(n_steps, dtype=jnp.int32).reshape((n_steps,) + (1,) * x.ndim)
    return (t == step[None]).astype(x.dtype)


def delta_encode(
    signal: ArrayLike, threshold: float, *, off_spikes: bool = True
) -> Float[Array, "n_steps ..."]:
    """Delta (send-on-delta) coding of a signal `(n_steps, ...)`.

    Each channel keeps a reference, initially its first sample. When the signal rises
    `threshold` or more above it an ON spike (+1) is sent; when it falls `threshold` or
    more below it an OFF spike (-1), or nothing if `off_spikes=False`. The reference then
    moves to the current sample.

    **Arguments:**

    - `signal`: samples, time first.
    - `threshold`: the change that triggers a spike (units of `signal`, > 0).
    - `off_spikes`: emit -1 on decreases.

    **Returns:** float spikes in {-1, 0, 1}, same shape as `signal`.

    >>> delta_encode(jnp.array([0.0, 0.5, 1.0, 1.5, 2.0, 1.0]), 1.0).tolist()
    [0.0, 0.0, 1.0, 0.0, 1.0, -1.0]
    """
    if threshold <= 0:
        raise ValueError(f"threshold: must be positive, got {threshold}")
    return _delta(jnp.asarray(signal, jnp.result_type(float)), threshold, off_spikes)


@partial(jax.jit, static_argnums=(1, 2))
def _delta(x: Array, threshold: float, off_spikes: bool) -> Array:
    def step(ref, xt):
        diff = xt - ref
        on = diff >= threshold
        off = diff <= -threshold
        out = on.astype(x.dtype) - (off & off_spikes).astype(x.dtype)
        return jnp.where(on | off, xt, ref), out

    _, spikes = jax.lax.scan(step, x[0], x)
    return spikes


def bin_events(
    times: np.ndarray,
    channels: np.ndarray,
    *,
    n_channels: int,
    bin_size: float,
    n_bins: int,
    t_start: float = 0.0,
) -> np.ndarray:
    """Count events into `(n_bins, n_channels)` time bins (numpy, for preprocessing).

    Events at `t` go to bin `floor((t - t_start) / bin_size)`; those outside
    `[t_start, t_start + n_bins * bin_size)` are dropped.

    **Arguments:**

    - `times`: event times (any unit, the same as `bin_size`); `channels`: their channels.
    - `n_channels`: number of channels; `bin_size`: bin width; `n_bins`: number of bins.
    - `t_start`: start of the first bin.

    **Returns:** float32 counts `(n_bins, n_channels)`.

    >>> bin_events(np.array([0.5, 1.5, 1.7]), np.array([0, 1, 1]),
    ...            n_channels=2, bin_size=1.0, n_bins=2).tolist()
    [[1.0, 0.0], [0.0, 2.0]]
    """
    if bin_size <= 0:
        raise ValueError(f"bin_size: must be positive, got {bin_size}")
    times = np.asarray(times, np.float64)
    channels = np.asarray(channels, np.int64)
    if times.shape != channels.shape:
        raise ValueError(f"channels: shape {channels.shape} differs from times {times.shape}")
    if channels.size and (channels.min() < 0 or channels.max() >= n_channels):
        raise ValueError(f"channels: values must lie in 0..{n_channels - 1}")
    b = np.floor((times - t_start) / bin_size).astype(np.int64)
    keep = (b >= 0) & (b < n_bins)
    counts = np.zeros((n_bins, n_channels), np.float32)
    np.add.at(counts, (b[keep], channels[keep]), 1.0)
    return counts


def downsample_channels(counts: ArrayLike, factor: int) -> np.ndarray:
    """Sum groups of `factor` neighbouring channels (the last axis): 700 -> 140 for 5.

    **Arguments:**

    - `counts`: `(..., n_channels)`, with `n_channels` a multiple of `factor`.
    - `factor`: channels per group.

    **Returns:** `(..., n_channels // factor)`.

    >>> downsample_channels(np.arange(6.0), 3).tolist()
    [3.0, 12.0]
    """
    counts = np.asarray(counts)
    n = counts.shape[-1]
    if factor < 1 or n % factor:
        raise ValueError(f"factor: must divide the {n} channels, got {factor}")
    return counts.reshape(*counts.shape[:-1], n // factor, factor).sum(-1)


def random_shift(
    images: ArrayLike, max_shift: int, *, key: PRNGKeyArray, shape: tuple[int, int] = (28, 28)
) -> Array:
    """Augmentation: move each image by a random whole number of pixels, filling with 0.

    **Arguments:**

    - `images`: a batch of flattened images, `(batch, height * width)`.
    - `max_shift`: the largest shift in pixels; each image moves by independent uniform
      offsets in `[-max_shift, max_shift]` along both axes (0 returns the images).
    - `key`: PRNG key.
    - `shape`: `(height, width)` of one image.

    **Returns:** the shifted batch, of the shape and dtype of `images`.
    """
    x = jnp.asarray(images)
    if max_shift < 0:
        raise ValueError(f"max_shift: must be >= 0, got {max_shift}")
    if x.ndim != 2 or x.shape[1] != shape[0] * shape[1]:
        raise ValueError(f"images: expected (batch, {shape[0] * shape[1]}), got {x.shape}")
    if max_shift == 0:
        return x
    s = max_shift
    padded = jnp.pad(x.reshape(-1, *shape), ((0, 0), (s, s), (s, s)))
    corners = jr.randint(key, (x.shape[0], 2), 0, 2 * s + 1)

    def crop(image: Array, corner: Array) -> Array:
        return jax.lax.dynamic_slice(image, (corner[0], corner[1]), shape)

    return jax.vmap(crop)(padded, corners).reshape(x.shape)
