"""Training throughput: one BPTT train step of a recurrent LIF network, brainsim vs peers.

The setting is BrainPy's, matched exactly
(`../shared/anchors/perf/train_snn_brainpy.py`, brainpy 2.9.0 `brainpy.state`):

- 100 steps of dt = 1 ms, batch 64, 700 Bernoulli(p = 0.05) input spikes per step;
- input layer: `Linear(700 -> 256)` with bias, into an exponential synapse (tau 5 ms;
  `g <- g exp(-dt/tau) + input`, as `brainpy.state.Expon`);
- 256 LIF neurons, tau 20 ms, V_rest = V_reset = 0, V_th = 1, integrated exactly
  (`V <- V e + (1 - e) g`, `e = exp(-dt/tau)`: BrainPy's exponential Euler on this
  linear equation), spike `s = H(V - V_th)` with `H(0) = 1`, soft reset at the next step
  (`V <- V - (V_th - V_reset) s`, the gradient flowing through `s`, BrainPy's default
  `spk_reset="soft"`), surrogate derivative braintools' `ReluGrad(alpha=0.3, width=1)`:
  `max(0, 0.3 (1 - |x|))` at `x = (V - V_th) / (V_th - V_reset)`;
- recurrent `Linear(256 -> 256)`, no bias, on the previous step's spikes, added to the
  synapse's input;
- readout `Linear(256 -> 20)` with bias into an exponential synapse (tau 10 ms);
- loss: softmax cross-entropy of the readout averaged over the 100 steps; Adam, lr 1e-3;
- initial weights as braintools' `KaimingNormal` gives them (normal, variance
  `scale / fan_in`): scale 7 for the input layer, 1 for the recurrent one, 2 for the
  readout; biases 0. They set the firing rate, hence the sparsity;
- state reset to zero at every train step; time = median of 20 jitted steps after a
  first (compile) call.

How brainsim computes it (the same function, not the same program): the input layer
does not depend on the network's state, so it is applied to all 100 x 64 input vectors
at once, before the time loop; likewise the readout layer after it. The readout
synapse is linear, so the time average of its potential is a fixed weighted sum of its
inputs, computed as such (`readout_average`; `readout_by_steps` steps
`brainsim.synapses.Exponential` instead, and the checks compare the two). The time loop
carries only the hidden synapse (`brainsim.synapses.Exponential`), the membrane
potential and the last spikes. Variants:

- `event_bptt` (the fast one): the input, recurrent and readout layers through
  `brainsim.kernels.event_dense_matmat`, which visits only the non-zero spikes, forward
  and in the weight gradient; the hidden layer's backward pass is written out
  (`lif_layer`'s custom VJP: one reverse loop for the synaptic input's cotangent, then
  the recurrent weights' gradient as one event-driven product over all steps);
- `event_rec`: the same kernels, with `jax.grad` through the time loop (the recurrent
  weights' gradient is then one small outer product per step);
- `event`: as `event_rec` with a dense recurrent product;
- `dense`: the same program with dense `jnp.matmul`s only (what spike sparsity buys).

The LIF step and the ReluGrad surrogate are written here: `brainsim.neurons.LIF`
resets hard (`v <- v_reset`) and spikes on `v > v_th`, and none of brainsim's surrogate
kinds is ReluGrad, so neither matches BrainPy. The train step is brainsim's
(`brainsim.train.make_train_step`, optax Adam).

Every variant and every peer runs in its own process; peak RSS is that process's
(`os.wait4`'s `ru_maxrss`). Run on a quiet machine:

    python bench/train_throughput.py --peers

(`--peers` first needs `bash bench/setup_peers.sh` (BrainPy) and
`bash bench/setup_train_peers.sh` (snnTorch, spyx)). `--steps 3` for a quick check.
Prints one `RESULT {json}` line per run, then a markdown table.

Checks (no timing): `--check` compares every variant's loss and gradients with the
`dense` variant's `jax.grad`; `--check-brainpy [NPZ]` runs BrainPy's network (built and
seeded as the anchor builds it) once in BrainPy's venv, exports its weights, inputs,
readout, loss and gradients, and compares every variant's on the same weights and
inputs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

T, B, N_IN, N_HID, N_OUT = 100, 64, 700, 256, 20
P_IN = 0.05
DT = 1.0  # ms
TAU_SYN, TAU_M, TAU_OUT = 5.0, 20.0, 10.0
V_TH, V_RESET = 1.0, 0.0
INIT_SCALES = {"w_in": 7.0, "w_rec": 1.0, "w_out": 2.0}  # KaimingNormal variance scales
VARIANTS = ("event_bptt", "event_rec", "event", "dense")

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = ROOT.parent / "shared" / "anchors" / "perf"
PEER_VENV = Path(os.environ.get("BRAINSIM_BENCH_VENV", "/tmp/brainsim-bench/venv"))
PEER_VENV311 = Path(os.environ.get("BRAINSIM_BENCH_VENV311", "/tmp/brainsim-bench/venv311"))
PEER_VENV_SPYX = Path(os.environ.get("BRAINSIM_BENCH_VENV_SPYX", "/tmp/brainsim-bench/venv-spyx"))


# --- the brainsim model --------------------------------------------------------------


class Model(NamedTuple):
    """The brainsim side: trainable weights and the functions of `build`."""

    weights: Any  # an eqx.Module of the five weight arrays
    loss_fn: Callable  # loss_fn(weights, (x, labels), key) -> (loss, {"rate": ...})
    forward: Callable  # forward(weights, x) -> (readout layer outputs, hidden spikes)
    readout_average: Callable  # time average of the readout synapse, closed form
    readout_by_steps: Callable  # the same, by stepping `Exponential` (the check)


def init_weights(seed: int) -> dict:
    """KaimingNormal weights (variance `scale / fan_in`) and zero biases, as numpy arrays."""
    rng = np.random.default_rng(seed)

    def kaiming(shape, scale):
        return (rng.standard_normal(shape) * np.sqrt(scale / shape[0])).astype(np.float32)

    return dict(
        w_in=kaiming((N_IN, N_HID), INIT_SCALES["w_in"]),
        b_in=np.zeros((N_HID,), np.float32),
        w_rec=kaiming((N_HID, N_HID), INIT_SCALES["w_rec"]),
        w_out=kaiming((N_HID, N_OUT), INIT_SCALES["w_out"]),
        b_out=np.zeros((N_OUT,), np.float32),
    )


def build(variant: str, weights: dict, *, unroll: int = 1) -> Model:
    """The brainsim model of `variant`, starting from `weights` (as `init_weights` gives).

    `unroll`: time steps per iteration of the compiled loop (`jax.lax.scan`'s `unroll`).
    """
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax
    from brainsim.kernels import event_dense_matmat

    from brainsim.synapses import Exponential

    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")

    @jax.custom_jvp
    def spike(x):
        """Heaviside `x >= 0` with braintools' ReluGrad(0.3, 1) surrogate derivative."""
        return (x >= 0).astype(x.dtype)

    @spike.defjvp
    def _spike_jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        return spike(x), jnp.maximum(0.3 - 0.3 * jnp.abs(x), 0.0) * dx

    def layer(s, w, *, event: bool):
        return event_dense_matmat(s, w) if event else jnp.matmul(s, w)

    class Weights(eqx.Module):
        w_in: jax.Array  # (N_IN, N_HID)
        b_in: jax.Array
        w_rec: jax.Array  # (N_HID, N_HID), presynaptic rows
        w_out: jax.Array  # (N_HID, N_OUT)
        b_out: jax.Array

    params = Weights(**{name: jnp.asarray(value) for name, value in weights.items()})
    syn = Exponential(N_HID, tau=TAU_SYN)
    readout = Exponential(N_OUT, tau=TAU_OUT)
    decay_m = float(np.exp(-DT / TAU_M))
    event_io = variant != "dense"
    event_rec = variant in ("event_rec", "event_bptt")
    v_scale = V_TH - V_RESET

    def lif_scan(i_in, w_rec):
        """The hidden layer over time: spikes `(T, B, N_HID)` and potentials after each step."""

        def step(carry, i_t):
            g, v, s_prev = carry  # s_prev = spike((v - V_TH) / v_scale)
            g = syn.step(g, i_t + layer(s_prev, w_rec, event=event_rec), 0.0, DT)
            v = v - v_scale * s_prev  # soft reset
            v = v * decay_m + (1.0 - decay_m) * g
            s = spike((v - V_TH) / v_scale)
            return (g, v, s), (s, v)

        zeros = jnp.zeros((B, N_HID), jnp.float32)
        _, (s, v) = jax.lax.scan(step, (zeros, zeros, zeros), i_in, unroll=unroll)
        return s, v

    @jax.custom_vjp
    def lif_layer(i_in, w_rec):
        """`lif_scan`'s spikes, with the backward pass below (variant `event_bptt`)."""
        return lif_scan(i_in, w_rec)[0]

    def lif_layer_fwd(i_in, w_rec):
        s, v = lif_scan(i_in, w_rec)
        return s, (s, v, w_rec)

    def lif_layer_bwd(residuals, ds):
        """BPTT of `lif_scan` written out: one reverse loop for the cotangents of the
        synaptic input (`dG`), then the recurrent weights' gradient as one event-driven
        outer product over all steps (`S_prev.T @ dG`) instead of one per step.

        Per step t, going back, with `cG`, `cV`, `cS` the cotangents of `g_t`, `v_t`,
        `s_t` from step t+1 (zero after the last step), `e = exp(-dt/tau_m)`,
        `a = exp(-dt/tau_syn)`:
        `dS = ds_t + cS`; `dV = cV + ReluGrad'(v_t) dS`; `dG = cG + (1 - e) dV`;
        then, for step t-1: `cG = a dG`, `cV = e dV` (through the soft reset's
        `v - s`), `cS = dG @ W.T - e dV`.
        """
        s, v, w_rec = residuals
        a = jnp.exp(-DT / syn.tau)
        w_t = w_rec.T  # (post, pre), once for all steps

        def back(carry, xs):
            c_g, c_v, c_s = carry
            ds_t, v_t = xs
            x = (v_t - V_TH) / v_scale
            d_s = ds_t + c_s
            d_v = c_v + jnp.maximum(0.3 - 0.3 * jnp.abs(x), 0.0) / v_scale * d_s
            d_g = c_g + (1.0 - decay_m) * d_v
            d_vp = decay_m * d_v  # cotangent of v_t before the leak, after the reset
            c_s = jnp.matmul(d_g, w_t) - v_scale * d_vp
            return (a * d_g, d_vp, c_s), d_g

        zeros = jnp.zeros((B, N_HID), jnp.float32)
        _, d_g = jax.lax.scan(back, (zeros, zeros, zeros), (ds, v), reverse=True)
        s_prev = jnp.concatenate([jnp.zeros_like(s[:1]), s[:-1]]).reshape(T * B, N_HID)
        _, pullback = jax.vjp(lambda w: event_dense_matmat(s_prev, w), w_rec)
        (d_w,) = pullback(d_g.reshape(T * B, N_HID))
        return d_g, d_w

    lif_layer.defvjp(lif_layer_fwd, lif_layer_bwd)

    def forward(w: Weights, x):
        """Readout layer outputs `(T, B, N_OUT)` and hidden spikes `(T, B, N_HID)`."""
        i_in = layer(x.reshape(T * B, N_IN), w.w_in, event=event_io).reshape(T, B, N_HID)
        i_in = i_in + w.b_in
        if variant == "event_bptt":
            s = lif_layer(i_in, w.w_rec)
        else:
            s = lif_scan(i_in, w.w_rec)[0]
        y = layer(s.reshape(T * B, N_HID), w.w_out, event=event_io).reshape(T, B, N_OUT)
        return y + w.b_out, s

    # The readout synapse is linear: started at 0 and fed y_1..y_T, its potential at
    # step t is sum_{k<=t} a^(t-k) y_k (a = exp(-dt/tau)), so its time average is the
    # fixed combination sum_k c_k y_k with c_k = (1 - a^(T-k+1)) / (T (1 - a)),
    # k = 1..T. `readout_average` computes it so (exactly what stepping
    # `Exponential` T times and averaging gives: `readout_by_steps`, which the checks
    # compare with it).
    a = np.exp(-DT / TAU_OUT)
    weights_t = jnp.asarray((1.0 - a ** np.arange(T, 0, -1)) / (T * (1.0 - a)), jnp.float32)

    def readout_average(y):
        return jnp.einsum("t,tbo->bo", weights_t, y)

    def readout_by_steps(y):
        def filter_step(o, y_t):
            o = readout.step(o, y_t, 0.0, DT)
            return o, o

        _, o = jax.lax.scan(filter_step, jnp.zeros(y.shape[1:], y.dtype), y)
        return jnp.mean(o, axis=0)

    def loss_fn(w: Weights, batch, key):
        del key
        x, labels = batch
        y, s = forward(w, x)
        logits = readout_average(y)
        loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
        return loss, {"rate": jnp.mean(s)}

    return Model(params, loss_fn, forward, readout_average, readout_by_steps)


def make_batch(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli(0.05) input spikes `(T, B, N_IN)` (float32) and labels `(B,)`, by numpy.

    (numpy, not `jax.random`: drawing the 4.5 million numbers in JAX raised the
    process's peak memory by about 90 MiB here, which is not the train step's.)
    """
    rng = np.random.default_rng(seed)
    x = (rng.random((T, B, N_IN), dtype=np.float32) < P_IN).astype(np.float32)
    return x, rng.integers(0, N_OUT, (B,)).astype(np.int32)


def run_variant(variant: str, n_steps: int) -> dict:
    """Compile and time the train step of one variant in this process."""
    import equinox as eqx
    import jax
    import optax
    from brainsim.kernels.event_dense.cpu import native_ready

    from brainsim.train import make_train_step

    model = build(variant, init_weights(0))
    batch = tuple(jax.numpy.asarray(a) for a in make_batch(1))
    optimizer = optax.adam(1e-3)
    params, static = eqx.partition(model.weights, eqx.is_inexact_array)
    opt_state = optimizer.init(params)
    step = make_train_step(model.loss_fn, optimizer)
    key = jax.random.key(2)

    t0 = time.perf_counter()
    params, opt_state, loss, aux, _ = step(params, static, opt_state, batch, key)
    loss_first = float(jax.block_until_ready(loss))
    rate = float(aux["rate"])
    first = time.perf_counter() - t0
    times = []
    for _ in range(n_steps):
        t0 = time.perf_counter()
        params, opt_state, loss, aux, _ = step(params, static, opt_state, batch, key)
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    return dict(
        framework=f"brainsim {variant} (jax {jax.__version__})",
        native_kernel=bool(native_ready(model.weights.w_in)),
        config=f"T={T} B={B} {N_IN}-{N_HID}(rec)-{N_OUT} LIF, ReluGrad, Adam",
        first_call_s=round(first, 3),
        step_s=round(median, 5),
        steps_per_s=round(1.0 / median, 3),
        loss_first=round(loss_first, 4),
        loss_last=round(float(loss), 4),
        hidden_rate=round(rate, 5),
    )


# --- the check against BrainPy ------------------------------------------------------

# Run in BrainPy's venv (argument: an .npz path): the anchor's network, built and seeded
# as the anchor builds it, one forward and gradient on the anchor's inputs; saves the
# weights, inputs, time-averaged readout, loss and gradients.
BRAINPY_EXPORT = """\
import sys

import brainpy
import brainstate
import braintools
import brainunit as u
import numpy as np

T, B, NIN, NH, NOUT = 100, 64, 700, 256, 20
init = braintools.init


class RSNN(brainstate.nn.Module):  # the anchor's network, verbatim in substance
    def __init__(self):
        super().__init__()
        self.i2r = brainstate.nn.Linear(
            NIN, NH, w_init=init.KaimingNormal(scale=7.0, unit=u.mA),
            b_init=init.ZeroInit(unit=u.mA))
        self.r2r = brainstate.nn.Linear(
            NH, NH, w_init=init.KaimingNormal(scale=1.0, unit=u.mA), b_init=None)
        self.syn = brainpy.state.Expon(
            NH, tau=5.0 * u.ms, g_initializer=init.Constant(0.0 * u.mA))
        self.r = brainpy.state.LIF(
            NH, tau=20.0 * u.ms, V_reset=0.0 * u.mV, V_rest=0.0 * u.mV, V_th=1.0 * u.mV,
            spk_fun=braintools.surrogate.ReluGrad())
        self.r2o = brainstate.nn.Linear(NH, NOUT, w_init=init.KaimingNormal())
        self.o = brainpy.state.Expon(NOUT, tau=10.0 * u.ms, g_initializer=init.Constant(0.0))

    def update(self, x):
        rec = self.r2r(self.r.get_spike())
        spk = self.r(self.syn(self.i2r(x) + rec))
        return self.o(self.r2o(spk)), spk


with brainstate.environ.context(dt=1.0 * u.ms):
    brainstate.random.seed(0)
    net = RSNN()
    brainstate.nn.init_all_states(net, batch_size=B)
    x = u.math.asarray(brainstate.random.rand(T, B, NIN) < 0.05, dtype=float)
    y = brainstate.random.randint(0, NOUT, (B,))

    def run():
        brainstate.nn.init_all_states(net, batch_size=B)
        out, spk = brainstate.transform.for_loop(net.update, x)
        logits = u.math.mean(out, axis=0)
        loss = braintools.metric.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (logits, spk)

    params = net.states(brainstate.ParamState)
    grad = brainstate.transform.grad(run, params, return_value=True, has_aux=True)
    grads, loss, (logits, spk) = grad()
    m = u.get_mantissa
    out = dict(
        x=x, y=y, loss=loss, logits=m(logits), rate=m(spk).mean(),
        w_in=m(net.i2r.weight.value["weight"]), b_in=m(net.i2r.weight.value["bias"]),
        w_rec=m(net.r2r.weight.value["weight"]),
        w_out=m(net.r2o.weight.value["weight"]), b_out=m(net.r2o.weight.value["bias"]))
    names = {"i2r": ("w_in", "b_in"), "r2r": ("w_rec", None), "r2o": ("w_out", "b_out")}
    for path, g in grads.items():
        w_name, b_name = names[path[0] if isinstance(path, tuple) else str(path)]
        out["grad_" + w_name] = m(g["weight"])
        if b_name:
            out["grad_" + b_name] = m(g["bias"])
    np.savez(sys.argv[1], **{k: np.asarray(v) for k, v in out.items()})
"""


def check_brainpy(npz_path: Path | None) -> dict:
    """brainsim's loss, readout and gradients on BrainPy's weights and inputs, against BrainPy's.

    Runs `BRAINPY_EXPORT` in BrainPy's venv (unless `npz_path` already holds its output),
    then every variant here on the same weights and inputs; returns the largest absolute
    differences.
    """
    import jax
    import jax.numpy as jnp

    if npz_path is None or not npz_path.exists():
        npz_path = npz_path or Path(tempfile.mkdtemp()) / "brainpy_export.npz"
        python = PEER_VENV / "bin" / "python"
        subprocess.run([str(python), "-c", BRAINPY_EXPORT, str(npz_path)], check=True)
    ref = np.load(npz_path)
    weights = {k: ref[k].astype(np.float32) for k in ("w_in", "b_in", "w_rec", "w_out", "b_out")}
    x, labels = jnp.asarray(ref["x"], jnp.float32), jnp.asarray(ref["y"], jnp.int32)
    out: dict = dict(brainpy_loss=float(ref["loss"]), brainpy_hidden_rate=float(ref["rate"]))
    for variant in VARIANTS:
        model = build(variant, weights)

        def loss(w, model=model):
            return model.loss_fn(w, (x, labels), None)

        (value, aux), grads = jax.value_and_grad(loss, has_aux=True)(model.weights)
        y, _ = model.forward(model.weights, x)
        by_steps = model.readout_by_steps(y)
        row = dict(
            loss_abs_diff=abs(float(value) - float(ref["loss"])),
            readout_max_abs_diff=float(np.max(np.abs(np.asarray(by_steps) - ref["logits"]))),
            closed_form_vs_steps=float(jnp.max(jnp.abs(model.readout_average(y) - by_steps))),
            hidden_rate=float(aux["rate"]),
        )
        for name in weights:
            diff = np.abs(np.asarray(getattr(grads, name)) - ref["grad_" + name])
            row[f"grad_{name}_max_abs_diff"] = float(diff.max())
            row[f"grad_{name}_max_abs"] = float(np.abs(ref["grad_" + name]).max())
        out[variant] = row
    return out


def check_variants(seed: int = 3) -> dict:
    """Every variant's loss and gradients against the `dense` one (plain autodiff).

    `event_bptt`'s hand-written backward pass and the event kernels must give what
    `jax.grad` of the dense program gives, to float32 rounding. Returns the largest
    absolute differences, and the gradients' largest magnitudes for scale.
    """
    import jax
    import jax.numpy as jnp

    weights = init_weights(seed)
    x, labels = (jnp.asarray(a) for a in make_batch(seed + 1))
    results = {}
    for variant in ("dense", *(v for v in VARIANTS if v != "dense")):
        model = build(variant, weights)
        value, grads = jax.value_and_grad(lambda w, m=model: m.loss_fn(w, (x, labels), None)[0])(
            model.weights
        )
        results[variant] = (float(value), grads)
    ref_loss, ref_grads = results["dense"]
    out: dict = {}
    for variant, (value, grads) in results.items():
        if variant == "dense":
            continue
        row = dict(loss_abs_diff=abs(value - ref_loss))
        for name in ("w_in", "b_in", "w_rec", "w_out", "b_out"):
            ref = np.asarray(getattr(ref_grads, name))
            row[f"grad_{name}_max_abs_diff"] = float(
                np.abs(np.asarray(getattr(grads, name)) - ref).max()
            )
            row[f"grad_{name}_max_abs"] = float(np.abs(ref).max())
        out[variant] = row
    return out


# --- the driver ----------------------------------------------------------------------


def _run_child(cmd: list[str], name: str, env: dict | None = None) -> dict:
    """Run `cmd`; its last `RESULT` line, plus its own peak RSS (`os.wait4`)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    lines = [ln for ln in text.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(text.splitlines()[-15:])
        return dict(name=name, error=f"exit {proc.returncode}: {tail}")
    res = json.loads(lines[-1][len("RESULT ") :])
    res["name"] = name
    res["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # Linux: KiB
    return res


def _peer_commands(n_steps: int) -> list[tuple[str, list[str]]]:
    here = Path(__file__).resolve().parent
    return [
        (
            "BrainPy 2.9 (brainpy.state)",
            [str(PEER_VENV / "bin/python"), str(ANCHORS / "train_snn_brainpy.py")],
        ),
        ("snnTorch", [str(PEER_VENV311 / "bin/python"), str(here / "peers/train_snn_snntorch.py")]),
        (
            "spyx",
            [
                str(PEER_VENV_SPYX / "bin/python"),
                str(here / "peers/train_snn_spyx.py"),
                "--steps",
                str(n_steps),
            ],
        ),
    ]


def _table(results: list[dict]) -> str:
    """Markdown: one row per run, with speed ratios to BrainPy and snnTorch."""

    def peer(prefix: str) -> dict | None:
        ok = (r for r in results if r["name"].startswith(prefix) and "error" not in r)
        return next(ok, None)

    bases = {"BrainPy": peer("BrainPy"), "snnTorch": peer("snnTorch")}
    lines = [
        "| run | steps/s | x BrainPy | x snnTorch | first call s | peak RSS MiB "
        "| loss first -> last | hidden rate |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | failed | | | | | | |")
            continue
        ratios = [
            f"{r['steps_per_s'] / b['steps_per_s']:.2f}" if b else "n/a" for b in bases.values()
        ]
        lines.append(
            f"| {r['name']} | {r['steps_per_s']:.2f} | {ratios[0]} | {ratios[1]} | "
            f"{r['first_call_s']} | {r['peak_rss_mib']} | {r['loss_first']} -> {r['loss_last']} "
            f"| {r.get('hidden_rate', '')} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps after the first")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--peers", action="store_true", help="also run BrainPy, snnTorch, spyx")
    parser.add_argument(
        "--check-brainpy",
        nargs="?",
        const="",
        metavar="NPZ",
        help="compare loss, readout and gradients with BrainPy's on its weights and inputs "
        "(runs BrainPy in its venv; NPZ: keep or reuse its export there)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare every variant's loss and gradients with the dense autodiff variant",
    )
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    if args.check:
        print("CHECK " + json.dumps(check_variants()), flush=True)
        return
    if args.check_brainpy is not None:
        path = Path(args.check_brainpy) if args.check_brainpy else None
        print("CHECK " + json.dumps(check_brainpy(path)), flush=True)
        return
    if args.child:
        print("RESULT " + json.dumps(run_variant(args.child, args.steps)), flush=True)
        return

    results = []
    for variant in args.variants:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            variant,
            "--steps",
            str(args.steps),
        ]
        results.append(_run_child(cmd, f"brainsim {variant}"))
        print("RESULT " + json.dumps(results[-1]), flush=True)
    if args.peers:
        for name, cmd in _peer_commands(args.steps):
            if not Path(cmd[0]).exists():
                results.append(dict(name=name, error=f"{cmd[0]} missing: run the setup scripts"))
            else:
                results.append(_run_child(cmd, name))
            print("RESULT " + json.dumps(results[-1]), flush=True)
    print()
    print(_table(results))


if __name__ == "__main__":
    main()
