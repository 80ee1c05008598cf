"""A COBA network of `--n` neurons on procedural connectivity: time per step and peak RSS.

Run as `python -m bench.kernels_procedural --n 1000000 --steps 1000`. The model is the
COBA benchmark (`configs/coba.yaml`: 80 % E / 20 % I LIF neurons, exponential
conductances, w_e 0.6, w_i 6.7, dt 0.1 ms) with every projection a `ProceduralFanOut`
whose fan-out gives each neuron about 80 inputs (64 E + 16 I) at any size, as the
peers' scripts do with p = 80 / N. No synapse array exists; the kernels regenerate the
targets from the seed every step. `--materialized` runs the same synapses stored as
`ELL` layouts instead (the memory a stored fixed fan-out would take). Prints one
`RESULT {json}` line: peak resident memory of the process (`ru_maxrss`), seconds per
simulated second, compile time, mean rate.
"""

import argparse
import json
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=1000, help="steps of 0.1 ms")
    parser.add_argument("--materialized", action="store_true")
    args = parser.parse_args()

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    from brainsim.kernels import ProceduralFanOut, materialize

    from brainsim.core import Normal
    from brainsim.network import Network, Projection
    from brainsim.neurons import LIF
    from brainsim.synapses import COBA, Exponential

    n_e, n_i = int(0.8 * args.n), args.n - int(0.8 * args.n)
    sizes = {"E": n_e, "I": n_i}
    lif = dict(tau_m=20.0, v_rest=-60.0, v_th=-50.0, v_reset=-60.0, tau_ref=5.0, i_bias=20.0)
    pops = {name: LIF(n, v_init=Normal(-55.0, 5.0), **lif) for name, n in sizes.items()}
    dt = 0.1
    projections = {}
    for seed, (pre, post) in enumerate((("E", "E"), ("E", "I"), ("I", "E"), ("I", "I"))):
        fan_out = round(80 * sizes[post] / args.n)  # 64 onto E, 16 onto I
        w, tau, e_rev = (0.6, 5.0, 0.0) if pre == "E" else (6.7, 10.0, -80.0)
        conn = ProceduralFanOut(
            w, n_pre=sizes[pre], n_post=sizes[post], fan_out=fan_out, seed=seed, dtype=jnp.float32
        )
        layout = materialize(conn) if args.materialized else conn
        projections[pre + post] = Projection(
            pre, post, layout, Exponential(sizes[post], tau), COBA(e_rev)
        )
    net = Network(pops, projections)

    @eqx.filter_jit  # the network is an argument: its arrays are buffers, not constants
    def run(net, key):
        state = net.init_state(key=key)

        def body(carry, i):
            state, count = carry
            state, spikes = net.step(state, None, i * dt, dt)
            return (state, count + sum(jnp.sum(s) for s in spikes.values())), None

        init = (state, jnp.zeros((), jnp.float32))
        (_, count), _ = jax.lax.scan(body, init, jnp.arange(args.steps))
        return count

    tic = time.perf_counter()
    compiled = run.lower(net, jr.key(0)).compile()
    compile_s = time.perf_counter() - tic
    tic = time.perf_counter()
    count = float(compiled(net, jr.key(0)))
    run_s = time.perf_counter() - tic
    sim_s = args.steps * dt / 1000.0
    result = {
        "n": args.n,
        "connectivity": "materialized ELL" if args.materialized else "procedural",
        "synapses": sum(
            p.conn.n_pre * round(80 * sizes[p.post] / args.n) for p in projections.values()
        ),
        "steps": args.steps,
        "compile_s": round(compile_s, 2),
        "run_s": round(run_s, 2),
        "wall_s_per_sim_s": round(run_s / sim_s, 2),
        "mean_rate_hz": round(count / args.n / sim_s, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "backend": f"jax {jax.__version__} {jax.default_backend()}",
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
