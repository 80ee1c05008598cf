"""Spike sources: Poisson processes and spike-time generators.

Sources are populations without membrane: `step(state, inputs, t, dt) -> (state,
spikes)`. The Poisson source carries its PRNG key in its state, so runs are pure and a
seed fixes them.
"""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
from jaxtyping import Array, Float

from ..core._abstract import AbstractDynamics
from ..core._errors import as_param, check_nonnegative


class PoissonState(eqx.Module):
    key: Array


class PoissonSource(AbstractDynamics):
    """`n` independent Poisson spike trains.

    **Arguments:**

    - `n`: number of trains.
    - `rate_hz`: firing rate (Hz), scalar or `(n,)`. A step's external input, when given,
      replaces it (a time-varying rate array, e.g. from `integrate`'s `inputs`).
    """

    n: int = eqx.field(static=True)
    rate_hz: Float[Array, "*n"]

    def __init__(self, n: int, rate_hz=10.0):
        check_nonnegative("rate_hz", rate_hz)
        self.n = n
        self.rate_hz = as_param(rate_hz, "rate_hz", n)

    def init_state(self, *, key) -> PoissonState:
        return PoissonState(key)

    def step(self, state, inputs, t, dt):
        rate = self.rate_hz if inputs is None else jnp.asarray(inputs, self.rate_hz.dtype)
        key, sub = jr.split(state.key)
        p = jnp.clip(rate * dt * 1e-3, 0.0, 1.0)
        spikes = (jr.uniform(sub, (self.n,), self.rate_hz.dtype) < p).astype(self.rate_hz.dtype)
        return PoissonState(key), spikes


class SpikeGenerator(AbstractDynamics):
    """Emits given spikes: neuron `indices[k]` fires at `times_ms[k]`.

    A spike at time `s` is emitted in the step whose interval `[t, t + dt)` contains it.
    """

    n: int = eqx.field(static=True)
    times_ms: Float[Array, " k"]
    indices: Array

    def __init__(self, n: int, times_ms, indices):
        times = np.asarray(times_ms, dtype=np.float64).reshape(-1)
        idx = np.asarray(indices).reshape(-1)
        if times.shape != idx.shape:
            raise ValueError(
                f"times_ms and indices must have the same length, got {times.size} and {idx.size}"
            )
        if not np.all(np.isfinite(times)):
            raise ValueError("times_ms must be finite")
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(
                f"indices must lie in [0, {n}), got values in [{idx.min()}, {idx.max()}]"
            )
        self.n = n
        self.times_ms = as_param(times)
        self.indices = jnp.asarray(idx, jnp.int32)

    def init_state(self, *, key) -> None:
        return None

    def step(self, state, inputs, t, dt):
        # Half a step of slack keeps a spike at exactly t + dt out of this step despite rounding.
        now = (self.times_ms >= t - 1e-6 * dt) & (self.times_ms < t + dt - 1e-6 * dt)
        spikes = (
            jnp.zeros((self.n,), self.times_ms.dtype)
            .at[self.indices]
            .add(now.astype(self.times_ms.dtype))
        )
        return state, jnp.minimum(spikes, 1.0)
