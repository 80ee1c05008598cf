"""A tiny driver that steps a plasticity rule through given pre/post spike trains."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest


@eqx.filter_jit
def _run(rule, w0, pre_ids, post_ids, pre, post, dts, modulation, index):
    n_pre, n_post = pre.shape[1], post.shape[1]
    state0 = rule.init_state(n_pre, n_post, w0.shape, w0.dtype)

    def body(carry, xs):
        state, w = carry
        s_pre, s_post, dt, m = xs
        state, w = rule.step(state, w, pre_ids, post_ids, s_pre, s_post, dt, m, index=index)
        return (state, w), w

    (state, w), ws = jax.lax.scan(body, (state0, w0), (pre, post, dts, modulation))
    return state, w, ws


def run_rule(rule, w0, pre_ids, post_ids, pre, post, dt, modulation=None, index=None):
    """Step `rule` over spike trains `pre` (T, n_pre) and `post` (T, n_post).

    `dt` is a scalar or one step length per step (the traces decay exactly, so stepping
    from event to event with variable `dt` is exact). `modulation` is `None` or one value
    per step; `index` an optional `EventIndex`. Returns `(final_state, final_w, w_after_each_step)`.
    """
    w0 = jnp.asarray(w0)
    n_steps = pre.shape[0]
    dts = jnp.broadcast_to(jnp.asarray(dt, w0.dtype), (n_steps,))
    pre_ids, post_ids = jnp.asarray(pre_ids), jnp.asarray(post_ids)
    pre, post = jnp.asarray(pre, w0.dtype), jnp.asarray(post, w0.dtype)
    if modulation is not None:
        modulation = jnp.asarray(modulation, w0.dtype)
    return _run(rule, w0, pre_ids, post_ids, pre, post, dts, modulation, index)


@pytest.fixture(scope="session")
def driver():
    """The `run_rule` driver."""
    return run_rule
