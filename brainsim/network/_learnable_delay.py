"""Learnable continuous per-synapse delays (DCLS) as a projection's delay.

A `LearnableDelay` gives every synapse a continuous delay `d` (in steps) inside a kernel
of `n_taps` taps, spread by a Gaussian of width `sigma` (Hammouamri et al. 2024). In a
simulation it reads the same ring buffer as `Delay`: each synapse takes the
Gaussian-weighted sum of its presynaptic neuron's last `n_taps` steps. With
`sigma=None` each delay is rounded to the nearest step, which is what `rounded()` turns
into an integer `Delay` that the ring buffer runs exactly. Training runs the whole
sequence at once through `brainsim.kernels.delay_conv` instead of step by step.
"""

from typing import Any

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..core._errors import check_positive, is_concrete
from ..kernels import CSR, ELL
from ..kernels.delay_conv import gaussian_taps
from ._delay import Delay, DelayState


class LearnableDelay(eqx.Module):
    """Continuous per-synapse delays on a grid of `dt`, spread over `n_taps` taps.

    **Arguments:**

    - `steps`: one delay per synapse (in the order of `conn.indices`), in steps, within
      `[0, n_taps - 1]` (floats; the trainable leaf).
    - `n_taps`: the kernel length; the largest delay is `n_taps - 1` steps.
    - `dt`: the time step (ms) the delays are counted in; runs must use this `dt`.
    - `sigma`: the Gaussian width in steps (positive), or `None` to round the delays
      (one-hot taps, the evaluation mode of DCLS).

    >>> d = LearnableDelay(jnp.array([0.4, 2.6]), n_taps=4, dt=1.0)
    >>> d.rounded().steps.tolist()
    [0, 3]
    """

    steps: Float[Array, " nnz"]
    sigma: Float[Array, ""] | None
    n_taps: int = eqx.field(static=True)
    dt: float = eqx.field(static=True)

    def __init__(self, steps, *, n_taps: int, dt: float, sigma=None):
        if not isinstance(n_taps, int) or n_taps < 1:
            raise ValueError(f"n_taps: must be a positive integer, got {n_taps!r}")
        check_positive("dt", dt)
        steps = jnp.asarray(steps)
        if not jnp.issubdtype(steps.dtype, jnp.floating):
            steps = steps.astype(jnp.result_type(float))
        if steps.ndim != 1:
            raise ValueError(f"steps: must be one delay per synapse (1-D), got shape {steps.shape}")
        if is_concrete(steps) and steps.size:
            lo, hi = float(jnp.min(steps)), float(jnp.max(steps))
            if lo < 0 or hi > n_taps - 1:
                raise ValueError(
                    f"steps: delays must lie inside the kernel [0, {n_taps - 1}] steps, got "
                    f"values in [{lo}, {hi}]; raise n_taps or initialise the delays inside it"
                )
        if sigma is not None:
            check_positive("sigma", sigma)
            sigma = jnp.asarray(sigma, steps.dtype)
        self.steps = steps
        self.sigma = sigma
        self.n_taps = n_taps
        self.dt = float(dt)

    @property
    def homogeneous(self) -> bool:
        return False

    @property
    def length(self) -> int:
        """Ring-buffer length (delays 0 .. n_taps - 1 steps)."""
        return self.n_taps

    def check_dt(self, dt) -> None:
        if is_concrete(dt) and not np.isclose(float(dt), self.dt):
            raise ValueError(
                f"dt ({float(dt)} ms) differs from the dt the delays were built for ({self.dt} ms)"
            )

    def init_state(self, n_pre: int, dtype) -> DelayState:
        return DelayState(jnp.zeros((self.n_taps, n_pre), dtype), jnp.zeros((), jnp.int32))

    def push(self, state: DelayState, spikes: Array) -> DelayState:
        """Write this step's spikes into the buffer (the same ring as `Delay.push`)."""
        ptr = (state.ptr + 1) % self.n_taps
        return DelayState(state.buffer.at[ptr].set(spikes.astype(state.buffer.dtype)), ptr)

    def taps(self) -> Float[Array, "n_taps nnz"]:
        """Each synapse's normalised tap weights (one-hot when `sigma` is `None`)."""
        return gaussian_taps(self.steps, self.sigma, self.n_taps)

    def transmit(self, conn: CSR | ELL, state: DelayState) -> Float[Array, " n_post"]:
        """Summed weighted delayed events at each postsynaptic neuron."""
        slots = (
            state.ptr - jnp.arange(self.n_taps, dtype=state.ptr.dtype)
        ) % self.n_taps  # slot of `n` steps ago
        history = state.buffer[slots][:, conn.pre_ids]  # (n_taps, nnz)
        events = jnp.sum(self.taps().astype(history.dtype) * history, axis=0)
        w = conn.synapse_weights()
        return jnp.zeros((conn.n_post,), w.dtype).at[conn.post_ids].add(w * events)

    def rounded(self) -> Delay:
        """The integer `Delay` of the rounded delays (needs concrete values)."""
        steps = np.rint(np.asarray(self.steps, np.float64))
        return Delay(steps * self.dt, dt=self.dt, max_ms=(self.n_taps - 1) * self.dt)

    def with_sigma(self, sigma) -> "LearnableDelay":
        """The same delays with another Gaussian width (`None` rounds)."""
        return LearnableDelay(self.steps, n_taps=self.n_taps, dt=self.dt, sigma=sigma)


def round_delays(projection: Any) -> Any:
    """`projection` with its `LearnableDelay` replaced by the integer `Delay` of its
    rounded delays, which the ring buffer runs exactly (other projections unchanged)."""
    delay = getattr(projection, "delay", None)
    if not isinstance(delay, LearnableDelay):
        return projection
    return eqx.tree_at(lambda p: p.delay, projection, delay.rounded())
