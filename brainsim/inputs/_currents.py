"""Time-varying currents as per-step arrays, the form `integrate` scans over."""

import numpy as np

from ..core._errors import check_positive


def timed_current(values, *, value_dt: float, dt: float, n_steps: int) -> np.ndarray:
    """Sample a piecewise-constant signal given every `value_dt` ms onto `n_steps` of `dt`.

    **Arguments:**

    - `values`: `(m,)` or `(m, n)`: value `k` holds on `[k value_dt, (k + 1) value_dt)`;
      the last value holds afterwards.
    - `value_dt`, `dt`: the two grids (ms); `n_steps`: length of the result.

    **Returns:** `(n_steps,)` or `(n_steps, n)`.

    >>> timed_current([0.0, 1.0], value_dt=1.0, dt=0.5, n_steps=5).tolist()
    [0.0, 0.0, 1.0, 1.0, 1.0]
    """
    check_positive("value_dt", value_dt)
    check_positive("dt", dt)
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 0 or vals.shape[0] == 0:
        raise ValueError("values must hold at least one value per time bin")
    k = np.floor(np.arange(n_steps) * dt / value_dt + 1e-9).astype(int)
    return vals[np.minimum(k, vals.shape[0] - 1)]


def step_current(
    steps: list[tuple[float, float, float]], *, dt: float, n_steps: int, n: int | None = None
) -> np.ndarray:
    """A sum of current pulses `(start_ms, stop_ms, amplitude)` on the grid of `dt`.

    **Returns:** `(n_steps,)`, or `(n_steps, n)` broadcast to `n` neurons when given.

    >>> step_current([(1.0, 2.0, 5.0)], dt=0.5, n_steps=6).tolist()
    [0.0, 0.0, 5.0, 5.0, 0.0, 0.0]
    """
    check_positive("dt", dt)
    t = np.arange(n_steps) * dt
    out = np.zeros(n_steps)
    for start, stop, amp in steps:
        if stop < start:
            raise ValueError(f"a current step ends ({stop} ms) before it starts ({start} ms)")
        out += np.where((t >= start - 1e-9 * dt) & (t < stop - 1e-9 * dt), amp, 0.0)
    return out if n is None else np.repeat(out[:, None], n, axis=1)
