"""The flax nnx adapter: a flax model with a brainsim LIF layer trains."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

nnx = pytest.importorskip("flax.nnx", reason="the flax adapter needs the optional `flax` package")

from brainsim.data import make_randman, times_to_raster  # noqa: E402
from brainsim.interop import DynamicsLayer  # noqa: E402
from brainsim.neurons import LIF  # noqa: E402
from brainsim.synapses import Exponential  # noqa: E402
from brainsim.train import max_membrane_cross_entropy  # noqa: E402

N_IN, N_HIDDEN, N_OUT, N_STEPS = 20, 32, 3, 30


class FlaxSNN(nnx.Module):
    """flax Linear -> brainsim LIF (trainable time constants) -> flax Linear -> readout."""

    def __init__(self, rngs):
        self.fc1 = nnx.Linear(N_IN, N_HIDDEN, rngs=rngs)
        lif = LIF(N_HIDDEN, tau_m=jnp.full(N_HIDDEN, 10.0), v_rest=0.0, v_th=1.0, v_reset=0.0)
        self.lif = DynamicsLayer(lif, dt=1.0, trainable=True)
        self.fc2 = nnx.Linear(N_HIDDEN, N_OUT, rngs=rngs)
        self.readout = DynamicsLayer(Exponential(N_OUT, tau=10.0), dt=1.0)

    def __call__(self, x):
        return self.readout(self.fc2(self.lif(5.0 * self.fc1(x))))


def _is_var(x):
    return isinstance(x, nnx.Variable)


def _loss(model, x, y):
    return max_membrane_cross_entropy(model(x), y)


def test_a_flax_model_with_a_brainsim_lif_layer_trains():
    times, labels = make_randman(
        n_classes=N_OUT, n_units=N_IN, n_steps=N_STEPS, n_samples=20, seed=1
    )
    x, y = jnp.asarray(times_to_raster(times, N_STEPS)), jnp.asarray(labels)
    model = FlaxSNN(nnx.Rngs(0))
    assert model.lif(jnp.zeros((2, N_STEPS, N_HIDDEN))).shape == (2, N_STEPS, N_HIDDEN)
    with jax.numpy_dtype_promotion("standard"):
        optimizer = nnx.Optimizer(model, optax.adam(2e-2), wrt=nnx.Param)

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(_loss)(model, x, y)
        with jax.numpy_dtype_promotion("standard"):
            optimizer.update(model, grads)
        return loss, grads

    loss0, grads = train_step(model, optimizer, x, y)
    # gradients reach the flax layer below the spikes and the LIF's own parameters
    assert float(jnp.abs(grads["fc1"]["kernel"].get_value()).sum()) > 0
    lif_grads = [g.get_value() for g in jax.tree.leaves(grads["lif"], is_leaf=_is_var)]
    assert len(lif_grads) == 6  # tau_m, v_rest, v_th, v_reset, tau_ref, i_bias
    tau_grad = lif_grads[0]  # the first field of LIF
    assert tau_grad.shape == (N_HIDDEN,) and float(jnp.abs(tau_grad).sum()) > 0
    assert "readout" not in grads  # not trainable: a plain Variable
    tau_before = np.asarray(model.lif.dynamics.tau_m)
    losses = [float(loss0)] + [float(train_step(model, optimizer, x, y)[0]) for _ in range(25)]
    assert losses[-1] < 0.6 * losses[0], losses
    assert not np.allclose(np.asarray(model.lif.dynamics.tau_m), tau_before)
    np.testing.assert_allclose(np.asarray(model.readout.dynamics.tau), 10.0)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="dynamics: expected a brainsim neuron or synapse"):
        DynamicsLayer(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), dt=1.0)
    with pytest.raises(ValueError, match="dt: must be positive"):
        DynamicsLayer(LIF(2), dt=0.0)
    with pytest.raises(ValueError, match=r"x: expected shape \(..., n_steps, 2\)"):
        DynamicsLayer(LIF(2), dt=1.0)(jnp.zeros((5, 3)))
