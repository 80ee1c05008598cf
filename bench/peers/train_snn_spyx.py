"""The training-throughput step of `bench/train_throughput.py` in spyx (JAX, flax nnx).

Same sizes and schedule as BrainPy's anchor (`train_snn_brainpy.py`): 100 steps,
batch 64, 700 Bernoulli(0.05) input spikes -> `nnx.Linear(700, 256)` -> spyx
`RCuBaLIF(256)` (current-based LIF with an all-to-all recurrent weight on the last
spikes, subtractive reset, threshold 1) -> `nnx.Linear(256, 20)` -> spyx `LI(20)`
readout, run by `spyx.nn.run` (a `lax.scan`); loss: softmax cross-entropy of the
time-averaged readout; Adam 1e-3 (optax); time = median of the timed jitted steps
after a first (compile) call.

What differs from the BrainPy model, as spyx's neurons are written:

- spyx integrates `U <- beta U + I` (no `1 - beta` on the input), so its potential
  is BrainPy's `V / (1 - beta)`: the threshold (and the subtractive reset) is set to
  `1 / (1 - beta)` and the surrogate derivative rescaled to match, which gives the
  same function of the same weights (KaimingNormal as in BrainPy: variance scales 7,
  1 and 2, zero biases), hence the same spikes and the same gradients;
- `alpha` (synapse decay, exp(-1/5)) and `beta` (membrane decay, exp(-1/20)) are scalar
  `nnx.Param`s of `RCuBaLIF`, trained along with the weights (two more scalars);
- spikes are `V - 1 > 0` (BrainPy: `>= 0`); the surrogate derivative is BrainPy's
  ReluGrad, `max(0, 0.3 (1 - |x|))`, through `spyx.axn.custom`;
- `RCuBaLIF` returns the spikes of the potential it started the step with, so the
  readout sees each spike one step later than BrainPy's does (the same work per step).

Run: `python train_snn_spyx.py [--steps 20]` in the venv of `bench/setup_train_peers.sh`.
Prints one line `RESULT {json}`.
"""

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import spyx
from flax import nnx

T, B, N_IN, N_HID, N_OUT = 100, 64, 700, 256, 20


def build(seed: int) -> nnx.Module:
    alpha, beta, beta_out = np.exp(-1 / 5), np.exp(-1 / 20), np.exp(-1 / 10)
    # x = U - 1 / (1 - beta) = (V - 1) / (1 - beta); d spike / dU = ReluGrad(V - 1) (1 - beta).
    scale = 1.0 - beta

    def relu_grad(x):
        return scale * jnp.maximum(0.3 - 0.3 * jnp.abs(scale * x), 0.0)

    rngs = nnx.Rngs(seed)
    model = spyx.nn.Sequential(
        nnx.Linear(N_IN, N_HID, rngs=rngs),
        spyx.nn.RCuBaLIF(
            (N_HID,),
            alpha=alpha,
            beta=beta,
            threshold=1.0 / scale,
            activation=spyx.axn.custom(bwd=relu_grad),
            rngs=rngs,
        ),
        nnx.Linear(N_HID, N_OUT, rngs=rngs),
        spyx.nn.LI((N_OUT,), beta=beta_out, rngs=rngs),
    )
    rng = np.random.default_rng(seed)

    def kaiming(shape, scale):
        return jnp.asarray(rng.standard_normal(shape) * np.sqrt(scale / shape[0]), jnp.float32)

    fc_in, lif, fc_out, _ = model.layers
    fc_in.kernel.value = kaiming((N_IN, N_HID), 7.0)
    fc_in.bias.value = jnp.zeros((N_HID,), jnp.float32)
    lif.recurrent_w.value = kaiming((N_HID, N_HID), 1.0)
    fc_out.kernel.value = kaiming((N_HID, N_OUT), 2.0)
    fc_out.bias.value = jnp.zeros((N_OUT,), jnp.float32)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    model = build(0)
    optimizer = nnx.Optimizer(model, optax.adam(1e-3), wrt=nnx.Param)
    rng = np.random.default_rng(1)
    x = jnp.asarray((rng.random((T, B, N_IN), dtype=np.float32) < 0.05).astype(np.float32))
    labels = jnp.asarray(rng.integers(0, N_OUT, (B,)), jnp.int32)

    def loss_fn(model):
        out, _ = spyx.nn.run(model, x)  # (T, B, N_OUT), time-major
        logits = jnp.mean(out, axis=0)
        return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))

    @nnx.jit
    def train_step(model, optimizer):
        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    t0 = time.perf_counter()
    loss_first = float(jax.block_until_ready(train_step(model, optimizer)))
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = jax.block_until_ready(train_step(model, optimizer))
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    result = dict(
        framework=f"spyx {spyx.__version__} (flax nnx, jax {jax.__version__})",
        config=f"T={T} B={B} {N_IN}-{N_HID}(rec)-{N_OUT} RCuBaLIF, ReluGrad, Adam",
        first_call_s=round(first, 3),
        step_s=round(median, 5),
        steps_per_s=round(1.0 / median, 3),
        loss_first=round(loss_first, 4),
        loss_last=round(float(loss), 4),
    )
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
