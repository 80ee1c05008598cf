"""Surrogate spike functions: Heaviside forward, hand-derived derivatives backward."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.core import Surrogate, surrogate_derivative

XS = np.array([-0.7, -0.1, 0.0, 0.05, 0.3])


def hand_derived(kind, alpha, x):
    if kind == "sigmoid":
        s = 1 / (1 + np.exp(-alpha * x))
        return alpha * s * (1 - s)
    if kind == "fast_sigmoid":
        return 1 / (1 + alpha * abs(x)) ** 2
    if kind == "arctan":
        return alpha / 2 / (1 + (np.pi / 2 * alpha * x) ** 2)
    return alpha * max(0.0, 1 - alpha * abs(x))


@pytest.mark.parametrize("kind", ["sigmoid", "fast_sigmoid", "arctan", "triangle"])
def test_forward_is_a_step_and_gradient_is_the_surrogate(x64, kind):
    fn = Surrogate(kind, alpha=4.0)
    xs = jnp.asarray(XS)
    np.testing.assert_array_equal(np.asarray(fn(xs)), (XS > 0).astype(float))
    grads = jax.vmap(jax.grad(fn))(xs)
    np.testing.assert_allclose(
        np.asarray(grads), [hand_derived(kind, 4.0, x) for x in XS], rtol=1e-12
    )
    np.testing.assert_allclose(np.asarray(surrogate_derivative(kind, 4.0, xs)), np.asarray(grads))


@pytest.mark.parametrize("kind", ["sigmoid", "fast_sigmoid", "arctan", "triangle"])
def test_smooth_mode_derivative_is_the_surrogate(x64, kind):
    fn = Surrogate(kind, alpha=4.0, smooth=True)
    grads = jax.vmap(jax.grad(fn))(jnp.asarray(XS))
    np.testing.assert_allclose(
        np.asarray(grads), [hand_derived(kind, 4.0, x) for x in XS], rtol=1e-9
    )
    assert float(fn(jnp.asarray(0.0))) == pytest.approx(0.5)


def test_bad_surrogate():
    with pytest.raises(ValueError, match="surrogate kind"):
        Surrogate("relu")
    with pytest.raises(ValueError, match="alpha"):
        Surrogate("sigmoid", alpha=-1.0)
