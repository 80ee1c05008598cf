"""Peak memory of BPTT through a long spiking sequence, plain scan vs `checkpointed_scan`.

The network: 100 inputs -> 512 recurrent LIF neurons (brainsim `LIF`, surrogate
gradients) -> 10 leaky readouts, advanced together in one time loop of 2,000 steps of
1 ms, on a batch of Bernoulli input spikes; the loss is the cross-entropy of the
time-averaged readout and the gradient is taken with respect to the three weight
matrices (what a train step computes).

Two measurements per variant:

- XLA's own accounting of the compiled gradient
  (`jax.jit(f).lower(...).compile().memory_analysis()`: arguments, outputs and the
  temporaries that BPTT keeps), for several batch sizes, without running anything;
- the peak resident set size of a fresh process that compiles and runs the gradient
  (`resource.getrusage(...).ru_maxrss`), with the time per gradient evaluation.

Run: `python bench/train_memory.py [--batch 64] [--steps 2000] [--chunk 45]`; each
run-variant goes in its own subprocess so that the peak RSS is its own.
"""

import argparse
import json
import math
import resource
import subprocess
import sys
import time

N_IN, N_HIDDEN, N_OUT = 100, 512, 10


def _network(chunk):
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr

    from brainsim.neurons import LIF
    from brainsim.train import checkpointed_scan

    class RecurrentSNN(eqx.Module):
        """One scan carries the LIF state, last spikes and readout: BPTT stores only its
        per-step residuals (nothing of size steps x 512 lives outside the loop)."""

        w_in: jax.Array
        w_rec: jax.Array
        w_out: jax.Array
        lif: LIF
        decay: float = eqx.field(static=True)
        chunk: int | None = eqx.field(static=True)

        def __call__(self, x):  # (steps, N_IN) -> readout potentials (steps, N_OUT)
            def step(carry, xt):
                state, s_prev, v_out = carry
                state, s = self.lif.step(state, self.w_in @ xt + self.w_rec @ s_prev, 0.0, 1.0)
                v_out = self.decay * v_out + self.w_out @ s
                return (state, s, v_out), v_out

            carry = (self.lif.init_state(key=jr.key(0)), jnp.zeros(N_HIDDEN), jnp.zeros(N_OUT))
            if self.chunk is None:
                return jax.lax.scan(step, carry, x)[1]
            return checkpointed_scan(step, carry, x, self.chunk)[1]

    k1, k2, k3 = jr.split(jr.key(0), 3)
    return RecurrentSNN(
        w_in=jr.normal(k1, (N_HIDDEN, N_IN)) * 20.0 / math.sqrt(N_IN),
        w_rec=jr.normal(k2, (N_HIDDEN, N_HIDDEN)) * 20.0 / math.sqrt(N_HIDDEN),
        w_out=jr.normal(k3, (N_OUT, N_HIDDEN)) / math.sqrt(N_HIDDEN),
        lif=LIF(N_HIDDEN, tau_m=20.0, v_rest=0.0, v_reset=0.0, v_th=1.0),
        decay=math.exp(-1.0 / 20.0),
        chunk=chunk,
    )


def _grad_fn():
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from brainsim.train import sum_membrane_cross_entropy

    def loss(params, static, x, y):
        model = eqx.combine(params, static)
        return sum_membrane_cross_entropy(jax.vmap(model)(x), y)

    def grad(model, x, y):
        params, static = eqx.partition(model, lambda a: eqx.is_inexact_array(a) and a.ndim == 2)
        return eqx.filter_grad(loss)(params, static, x, y)

    return jax.jit(grad), jnp


def _inputs(batch, steps):
    import jax.numpy as jnp
    import jax.random as jr

    x = jr.bernoulli(jr.key(1), 0.05, (batch, steps, N_IN)).astype(jnp.float32)
    y = jnp.arange(batch, dtype=jnp.int32) % N_OUT
    return x, y


def compiled_memory(batch, steps, chunk):
    """XLA's memory analysis of the compiled gradient (bytes), without running it."""
    grad, _ = _grad_fn()
    model = _network(chunk)
    x, y = _inputs(batch, steps)
    tic = time.perf_counter()
    compiled = grad.lower(model, x, y).compile()
    stats = compiled.memory_analysis()
    return {
        "batch": batch,
        "steps": steps,
        "chunk": chunk,
        "temp_bytes": int(stats.temp_size_in_bytes),
        "argument_bytes": int(stats.argument_size_in_bytes),
        "output_bytes": int(stats.output_size_in_bytes),
        "compile_s": time.perf_counter() - tic,
    }


def run_and_measure(batch, steps, chunk, repeats):
    """Compile and run the gradient; peak RSS of this process and seconds per gradient."""
    import jax

    grad, jnp = _grad_fn()
    model = _network(chunk)
    x, y = _inputs(batch, steps)
    tic = time.perf_counter()
    g = grad(model, x, y)
    jax.block_until_ready(g)
    first = time.perf_counter() - tic
    tic = time.perf_counter()
    for _ in range(repeats):
        g = grad(model, x, y)
    jax.block_until_ready(g)
    per = (time.perf_counter() - tic) / repeats
    norm = float(sum(jnp.sum(a**2) for a in jax.tree_util.tree_leaves(g)))
    return {
        "batch": batch,
        "steps": steps,
        "chunk": chunk,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "first_call_s": first,
        "seconds_per_gradient": per,
        "grad_sq_norm": norm,
    }


def _child(args):
    chunk = args.chunk if args.chunk > 0 else None
    print(json.dumps(run_and_measure(args.batch, args.steps, chunk, args.repeats)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64, help="batch of the measured runs")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--chunk", type=int, default=0, help="checkpoint chunk (0: sqrt(steps))")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--analysis-batches", default="16,64,256")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    chunk = args.chunk or int(round(math.sqrt(args.steps)))
    print(f"BPTT over {args.steps} steps, {N_IN} -> {N_HIDDEN} recurrent LIF -> {N_OUT}")
    print("XLA memory analysis of the compiled gradient (temporaries = what BPTT stores):")
    for batch in [int(b) for b in args.analysis_batches.split(",")]:
        for c in (None, chunk):
            r = compiled_memory(batch, args.steps, c)
            name = "plain scan" if c is None else f"checkpointed_scan(chunk={c})"
            print(
                f"  batch {batch:4d} {name:32s} temp {r['temp_bytes'] / 2**20:10.1f} MiB"
                f"  (args {r['argument_bytes'] / 2**20:.1f} MiB, compile {r['compile_s']:.1f} s)"
            )
    print(f"Measured in a fresh process each (batch {args.batch}):")
    for c in (0, chunk):
        cmd = [sys.executable, __file__, "--child", "--batch", str(args.batch)]
        cmd += ["--steps", str(args.steps), "--chunk", str(c), "--repeats", str(args.repeats)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        name = "plain scan" if c == 0 else f"checkpointed_scan(chunk={c})"
        print(
            f"  {name:32s} peak RSS {r['peak_rss_mib']:8.0f} MiB, "
            f"{r['seconds_per_gradient']:.2f} s per gradient "
            f"(first call {r['first_call_s']:.1f} s), |grad|^2 {r['grad_sq_norm']:.6g}"
        )


if __name__ == "__main__":
    main()
