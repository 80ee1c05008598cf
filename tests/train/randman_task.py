"""A small spiking classification task for the training tests (also run as a script).

A 2-layer network: inputs -> LIF hidden layer (brainsim LIF, surrogate gradients) ->
leaky non-spiking readout, trained with the max-membrane cross-entropy on Randman.
Run as `python randman_task.py CKPT_DIR OUT.npz [--resume] [--slow]`: trains, saves the
final parameters; `--slow` sleeps in the loader so a parent can kill it mid-epoch.
"""

import sys
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax

from brainsim.data import DataLoader, make_randman, times_to_raster
from brainsim.neurons import LIF
from brainsim.train import accuracy, fit, max_membrane_cross_entropy

N_IN, N_HIDDEN, N_OUT, N_STEPS, DT = 20, 32, 3, 30, 1.0


class SNN(eqx.Module):
    w_in: jax.Array
    w_out: jax.Array
    hidden: LIF
    decay: float = eqx.field(static=True)

    def __init__(self, *, key):
        k1, k2 = jr.split(key)
        self.w_in = jr.normal(k1, (N_IN, N_HIDDEN)) * 1.5
        self.w_out = jr.normal(k2, (N_HIDDEN, N_OUT)) * 0.5
        self.hidden = LIF(N_HIDDEN, tau_m=10.0, v_rest=0.0, v_th=1.0, v_reset=0.0)
        self.decay = float(np.exp(-DT / 10.0))

    def __call__(self, x):
        """`x`: input spikes `(n_steps, N_IN)` -> readout potentials `(n_steps, N_OUT)`."""

        def step(carry, xt):
            state, v_out = carry
            state, s = self.hidden.step(state, xt @ self.w_in, 0.0, DT)
            v_out = self.decay * v_out + s @ self.w_out
            return (state, v_out), v_out

        state0 = self.hidden.init_state(key=jr.key(0))
        _, v = jax.lax.scan(step, (state0, jnp.zeros(N_OUT)), x)
        return v


OPTIMIZER = optax.adam(5e-2)  # one object, so repeated fits reuse the compiled step


def trainable(model):
    """Train the weights only, not the LIF parameters."""
    spec = jax.tree_util.tree_map(lambda _: False, model)
    return eqx.tree_at(lambda m: (m.w_in, m.w_out), spec, (True, True))


def loss_fn(model, batch, key):
    x, y = batch
    v = jax.vmap(model)(x)
    return max_membrane_cross_entropy(v, y), {"accuracy": accuracy(jnp.max(v, axis=1), y)}


def make_data(seed=1, n_samples=60):
    times, labels = make_randman(
        n_classes=N_OUT, n_units=N_IN, n_steps=N_STEPS, n_samples=n_samples, seed=seed
    )
    return times_to_raster(times, N_STEPS), labels


def train(ckpt_dir=None, *, resume=False, slow=False, epochs=3, every=None, val=False, **kw):
    x, y = make_data()
    collate = None
    if slow:

        def collate(xb, yb):
            time.sleep(0.15)
            return xb, yb

    train_data = DataLoader((x[:120], y[:120]), 12, seed=3, collate=collate)
    val_data = DataLoader((x[120:], y[120:]), 60, shuffle=False) if val else None
    model = SNN(key=jr.key(0))
    return fit(
        model,
        loss_fn,
        train_data,
        optimizer=OPTIMIZER,
        epochs=epochs,
        key=jr.key(7),
        val_data=val_data,
        filter_spec=trainable(model),
        checkpoint_dir=ckpt_dir,
        checkpoint_every_steps=every,
        resume=resume,
        progress=False,
        **kw,
    )


if __name__ == "__main__":
    ckpt, out = sys.argv[1], sys.argv[2]
    result = train(ckpt, resume="--resume" in sys.argv, slow="--slow" in sys.argv, every=2)
    m = result.final_model
    np.savez(out, w_in=np.asarray(m.w_in), w_out=np.asarray(m.w_out))
