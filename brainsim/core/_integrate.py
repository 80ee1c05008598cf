"""`integrate`: the pure, traceable run of a model (a `lax.scan` over `step`)."""

import math
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
from jaxtyping import Array, Int

from ._errors import is_concrete
from ._monitors import AbstractMonitor, SpikeMonitor, check_monitors
from ._results import RESULTS


class Solution(eqx.Module):
    """What `integrate` returns.

    - `state`: the final state.
    - `traces`: monitor name -> array with a leading time axis (one row per `every`
      steps; row `k` is the value after step `(k + 1) * every - 1`).
    - `result`: a `RESULTS` code.
    - `nonfinite_step`: component name (population, projection, or `"state"`) -> the
      first step whose state was not finite, or -1 (only with `check_finite=True`).
    """

    state: Any
    traces: dict[str, Array]
    result: RESULTS
    nonfinite_step: dict[str, Int[Array, ""]]


def _components(state: Any) -> dict[str, Any]:
    pops = getattr(state, "populations", None)
    projs = getattr(state, "projections", None)
    if isinstance(pops, dict) and isinstance(projs, dict):
        return {
            **{f"population {k}": v for k, v in pops.items()},
            **{f"projection {k}": v for k, v in projs.items()},
        }
    return {"state": state}


def _all_finite(tree: Any) -> Array:
    leaves = [x for x in jtu.tree_leaves(tree) if jnp.issubdtype(jnp.asarray(x).dtype, jnp.inexact)]
    if not leaves:
        return jnp.array(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def _check_inputs(inputs: Any, n_steps: int) -> None:
    for leaf in jtu.tree_leaves(inputs):
        shape = np.shape(leaf)
        if not shape or shape[0] != n_steps:
            raise ValueError(
                f"inputs must have a leading time axis of length n_steps ({n_steps}), "
                f"got an array of shape {shape}"
            )


def check_run_arguments(model: Any, dt: Any, n_steps: Any) -> Any:
    """Validate `dt` and `n_steps` against the model's time constants.

    Concrete values raise `ValueError`; traced ones (sweeps) go through `eqx.error_if`
    with the same wording. Returns `dt`.
    """
    if not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be a non-negative integer, got {n_steps!r}")
    tau = model.min_time_constant() if hasattr(model, "min_time_constant") else None
    if is_concrete(dt):
        dtv = float(np.asarray(dt))
        if not np.isfinite(dtv) or dtv <= 0:
            raise ValueError(f"dt must be positive and finite, got {dtv!r}")
    if tau is None:
        return dt
    if is_concrete(dt) and is_concrete(tau):
        tauv = float(np.asarray(tau))
        if tauv <= 0:
            raise ValueError(f"time constants must be positive, got a smallest of {tauv!r} ms")
        if dtv > tauv:
            raise ValueError(
                f"dt ({dtv} ms) must not exceed the smallest time constant ({tauv} ms)"
            )
        return dt
    dt = jnp.asarray(dt, jnp.result_type(float))
    dt = eqx.error_if(dt, ~(dt > 0), "dt must be positive and finite")
    dt = eqx.error_if(dt, ~(jnp.asarray(tau) > 0), "time constants must be positive")
    return eqx.error_if(dt, dt > tau, "dt must not exceed the smallest time constant")


def integrate(
    model: Any,
    state0: Any,
    inputs: Any = None,
    *,
    dt: Any,
    n_steps: int,
    t0: Any = 0.0,
    save: tuple[AbstractMonitor, ...] | list[AbstractMonitor] = (),
    throw: bool = True,
    check_finite: bool = False,
) -> Solution:
    """Run `model` for `n_steps` steps of `dt` from `state0`; pure and traceable.

    **Arguments:**

    - `model`: any dynamical system (`step(state, inputs, t, dt) -> (state, outputs)`).
    - `state0`: its initial state (`model.init_state(key=...)`).
    - `inputs`: `None`, or a pytree whose leaves have a leading axis of `n_steps`; step
      `i` receives slice `i` (e.g. `{"E": currents}` for a `Network`).
    - `dt`: step (ms); `n_steps`: number of steps (static); `t0`: start time (ms).
    - `save`: monitors (`SpikeMonitor`, `StateMonitor`, `WeightMonitor`).
    - `throw`: raise on a failed run (with `check_finite`); otherwise read `result`.
    - `check_finite`: watch the state for NaN or infinity.

    **Returns:** a `Solution`.
    """
    save = tuple(save)
    dt = check_run_arguments(model, dt, n_steps)
    if is_concrete(inputs):
        _check_inputs(inputs, n_steps)
    check_monitors(model, state0, save)
    spike_mons = [m for m in save if isinstance(m, SpikeMonitor)]
    state_mons = [m for m in save if not isinstance(m, SpikeMonitor)]
    block = math.gcd(*[m.every for m in state_mons]) if state_mons else max(n_steps, 1)
    n_blocks, rest = divmod(n_steps, block)
    comps = list(_components(state0))
    dtype = jnp.result_type(float)

    def one_step(carry, x):
        state, bad, i = carry
        t = t0 + i.astype(dtype) * dt
        state, spikes = model.step(state, x, t, dt)
        if check_finite:
            ok = [_all_finite(c) for c in _components(state).values()]
            bad = jnp.where((bad < 0) & ~jnp.stack(ok), i, bad)
        rec = {m.name: m.select(model, state, spikes) for m in spike_mons}
        return (state, bad, i + 1), (rec, spikes)

    def run_steps(carry, xs, length):
        carry, (rec, spikes) = jax.lax.scan(lambda c, x: one_step(c, x), carry, xs, length=length)
        return carry, rec, spikes

    def one_block(carry, xs):
        carry, rec, spikes = run_steps(carry, xs, block)
        last = jtu.tree_map(lambda s: s[-1], spikes)
        snap = {m.name: m.select(model, carry[0], last) for m in state_mons}
        return carry, (rec, snap)

    bad0 = jnp.full((len(comps),), -1, jnp.int32)
    carry = (state0, bad0, jnp.zeros((), jnp.int32))
    split = block * n_blocks
    xs_main = jtu.tree_map(
        lambda a: jnp.reshape(jnp.asarray(a)[:split], (n_blocks, block, *jnp.shape(a)[1:])), inputs
    )
    xs_rest = jtu.tree_map(lambda a: jnp.asarray(a)[split:], inputs)
    traces: dict[str, Array] = {}
    if n_blocks:
        carry, (rec, snap) = jax.lax.scan(one_block, carry, xs_main, length=n_blocks)
        for name, arr in rec.items():
            traces[name] = jnp.reshape(arr, (n_blocks * block, *arr.shape[2:]))
        for m in state_mons:
            stride = m.every // block
            traces[m.name] = snap[m.name][stride - 1 :: stride]
    if rest:
        carry, rec, _ = run_steps(carry, xs_rest, rest)
        for name, arr in rec.items():
            traces[name] = jnp.concatenate([traces[name], arr]) if name in traces else arr
    missing = [m for m in save if m.name not in traces]
    if missing:  # fewer steps than one recording interval: empty traces of the right shape
        x0 = jtu.tree_map(lambda a: jnp.asarray(a)[0], inputs) if n_steps else None
        shapes = jax.eval_shape(
            lambda s: {m.name: m.select(model, *model.step(s, x0, t0, dt)) for m in missing}, state0
        )
        for name, sd in shapes.items():
            traces[name] = jnp.zeros((0, *sd.shape), sd.dtype)
    state, bad, _ = carry
    failed = jnp.any(bad >= 0)
    result = RESULTS.where(failed, RESULTS.nonfinite_state, RESULTS.successful)  # type: ignore[arg-type]
    if throw and check_finite:
        state = eqx.error_if(state, failed, "a state variable became NaN or infinite")
    return Solution(state, traces, result, dict(zip(comps, list(bad))))
