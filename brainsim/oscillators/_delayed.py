"""Coupling of neural-mass nodes through a connectivity matrix with per-pair delays."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._common import check_matrix, delay_steps


class DelayedCoupling(eqx.Module):
    """`input_i(t) = sum_j C_ij u_j(t - d_ij)`, the delays rounded to whole steps of `dt`.

    A ring buffer holds the last `max_steps + 1` values of `u` (the history before the
    start is the initial value). A delay of `k` steps reads the value `k` steps before
    the current step's start, held constant within the step. With every delay zero the
    coupling is instantaneous and the models evaluate it inside their vector field, so
    the integrator's order is kept.

    **Arguments:**

    - `n`: number of nodes; `weights`: `C`, `(n, n)` (row `i`: inputs into node `i`).
    - `delays`: ms, scalar or `(n, n)`; `dt`: the step (ms) runs must use.
    """

    weights: Float[Array, "n n"]
    steps: Int[Array, "n n"]
    dt: float = eqx.field(static=True)
    length: int = eqx.field(static=True)

    def __init__(self, n: int, weights, delays=0.0, dt: float = 0.1):
        self.weights = check_matrix("coupling", weights, n)
        steps = delay_steps(delays, n, float(dt))
        self.steps = jnp.asarray(steps)
        self.dt = float(dt)
        self.length = int(steps.max(initial=0)) + 1

    @property
    def instantaneous(self) -> bool:
        return self.length == 1

    def check_dt(self, dt) -> None:
        """`ValueError` when a concrete `dt` differs from the one the delays were built for."""
        if self.instantaneous or not isinstance(dt, float | int | np.floating):
            return
        if not np.isclose(float(dt), self.dt):
            raise ValueError(f"dt ({float(dt)} ms) differs from the delays' dt ({self.dt} ms)")

    def init_buffer(self, u0: Array) -> Array:
        return jnp.broadcast_to(u0, (self.length, *u0.shape))

    def now(self, u: Array) -> Array:
        """The instantaneous input `C u`."""
        return self.weights @ u

    def read(self, buffer: Array, ptr: Array) -> Array:
        """The delayed input, `(n,)`."""
        slot = (ptr - self.steps) % self.length
        cols = jnp.arange(buffer.shape[1])[None, :]
        return jnp.sum(self.weights * buffer[slot, cols], axis=1)

    def push(self, buffer: Array, ptr: Array, u: Array) -> tuple[Array, Array]:
        ptr = (ptr + 1) % self.length
        return buffer.at[ptr].set(u), ptr
