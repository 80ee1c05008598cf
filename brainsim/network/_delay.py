"""Transmission delays through a ring buffer of presynaptic spikes."""

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ..core._errors import check_nonnegative, check_positive, is_concrete


class DelayState(eqx.Module):
    """`buffer[(ptr - d) % length]` holds the spikes emitted `d` steps ago."""

    buffer: Float[Array, "length n_pre"]
    ptr: Int[Array, ""]


class Delay(eqx.Module):
    """Homogeneous (scalar) or per-synapse delays, in ms, on a grid of `dt`.

    **Arguments:**

    - `ms`: the delay (scalar) or one delay per synapse, in ms (rounded to steps).
    - `dt`: the time step (ms) the delays are counted in; runs must use this `dt`.
    - `max_ms`: the buffer's span (default: the largest delay). A delay beyond it is an
      error.
    """

    steps: Int[Array, "*nnz"]
    dt: float = eqx.field(static=True)
    length: int = eqx.field(static=True)

    def __init__(self, ms, *, dt: float, max_ms: float | None = None):
        check_positive("dt", dt)
        check_nonnegative("delay", ms)
        ms_np = np.asarray(ms, dtype=np.float64)
        steps = np.rint(ms_np / dt).astype(np.int32)
        max_steps = int(steps.max(initial=0))
        if max_ms is not None:
            check_nonnegative("max_delay", max_ms)
            buffer_steps = int(round(max_ms / dt))
            if max_steps > buffer_steps:
                raise ValueError(
                    f"delay ({float(ms_np.max())} ms) exceeds the delay buffer "
                    f"(max_delay = {max_ms} ms); raise max_delay or shorten the delay"
                )
            max_steps = buffer_steps
        self.steps = jnp.asarray(steps)
        self.dt = float(dt)
        self.length = max_steps + 1

    @property
    def homogeneous(self) -> bool:
        return self.steps.ndim == 0

    def check_dt(self, dt) -> None:
        if is_concrete(dt) and not np.isclose(float(dt), self.dt):
            raise ValueError(
                f"dt ({float(dt)} ms) differs from the dt the delays were built for ({self.dt} ms)"
            )

    def init_state(self, n_pre: int, dtype) -> DelayState:
        return DelayState(jnp.zeros((self.length, n_pre), dtype), jnp.zeros((), jnp.int32))

    def push(self, state: DelayState, spikes: Array) -> DelayState:
        """Write this step's spikes into the buffer."""
        ptr = (state.ptr + 1) % self.length
        return DelayState(state.buffer.at[ptr].set(spikes.astype(state.buffer.dtype)), ptr)

    def read(self, state: DelayState) -> Array:
        """Spikes emitted `steps` ago: `(n_pre,)`, or `(nnz,)` rows for per-synapse delays."""
        slot = (state.ptr - self.steps) % self.length
        return state.buffer[slot]
