"""vmap over sweep points of the COBA network against a Python loop over the same points.

Run as `python -m bench.kernels_matmat --points 256 --steps 1000 --reps 3`. The network
is `configs/coba.yaml` (4,000 LIF neurons, presynaptic-major CSR, scalar weights); each
point is one `(w_e, w_i)` pair (the weights of the four projections), so under `vmap`
the spikes are `(points, n_pre)` and the weights `(points,)` while the connectivity is
shared: the batched event product (`event_matvec` batching rule). The loop calls one
per-point function, jitted once, for every point. Compile time is excluded from both.
Prints one `RESULT {json}` line with points per second of each and their ratio.
"""

import argparse
import dataclasses
import json
import pathlib
import statistics
import time

CONFIG = pathlib.Path(__file__).resolve().parent.parent / "configs" / "coba.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000, help="steps of 0.1 ms per point")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--impl", default="auto", help="event_matvec impl of the projections")
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()

    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import jax.random as jr
    import numpy as np

    from brainsim.config import build_network, load_config
    from brainsim.network import Network

    config = load_config(CONFIG)
    net, _ = build_network(config)
    projections = {k: dataclasses.replace(p, impl=args.impl) for k, p in net.projections.items()}
    net = Network(net.populations, projections)
    dt = config.dt
    rng = np.random.default_rng(0)
    w_e = jnp.asarray(rng.uniform(0.3, 0.9, args.points), jnp.float32)
    w_i = jnp.asarray(rng.uniform(4.0, 9.0, args.points), jnp.float32)
    seeds = jnp.arange(args.points)

    def run(w_e, w_i, seed):
        model = net
        for name, w in (("EE", w_e), ("EI", w_e), ("IE", w_i), ("II", w_i)):
            model = eqx.tree_at(lambda m, n=name: m.projections[n].conn.weights, model, w)
        state = model.init_state(key=jr.key(seed))

        def body(carry, i):
            state, count = carry
            state, spikes = model.step(state, None, i * dt, dt)
            return (state, count + sum(jnp.sum(s) for s in spikes.values())), None

        (_, count), _ = jax.lax.scan(
            body, (state, jnp.zeros((), jnp.float32)), jnp.arange(args.steps)
        )
        return count

    batched = jax.jit(jax.vmap(run))
    single = jax.jit(run)

    cpu_times: dict[str, list[float]] = {}

    def timed(fn, name):
        times, cpu = [], []
        out = None
        for _ in range(args.reps):
            tic, cpu_tic = time.perf_counter(), time.process_time()
            out = jax.block_until_ready(fn())
            times.append(time.perf_counter() - tic)
            cpu.append(time.process_time() - cpu_tic)
        cpu_times[name] = cpu
        return statistics.median(times), times, out

    tic = time.perf_counter()
    jax.block_until_ready(batched(w_e, w_i, seeds))
    compile_vmap = time.perf_counter() - tic
    t_vmap, times_vmap, counts_vmap = timed(lambda: batched(w_e, w_i, seeds), "vmap")
    result = {
        "points": args.points,
        "steps": args.steps,
        "impl": args.impl,
        "vmap_s": round(t_vmap, 3),
        "vmap_runs_s": [round(t, 3) for t in times_vmap],
        "vmap_first_call_s": round(compile_vmap, 3),
        "vmap_points_per_s": round(args.points / t_vmap, 2),
    }
    if not args.skip_loop:
        jax.block_until_ready(single(w_e[0], w_i[0], seeds[0]))

        def loop():
            return jnp.stack([single(w_e[i], w_i[i], seeds[i]) for i in range(args.points)])

        t_loop, times_loop, counts_loop = timed(loop, "loop")
        np.testing.assert_allclose(counts_vmap, counts_loop, rtol=1e-6)
        result |= {
            "loop_s": round(t_loop, 3),
            "loop_runs_s": [round(t, 3) for t in times_loop],
            "loop_points_per_s": round(args.points / t_loop, 2),
            "vmap_over_loop_speed": round(t_loop / t_vmap, 2),
        }
    result["cpu_s"] = {k: [round(t, 3) for t in v] for k, v in cpu_times.items()}
    result["mean_rate_hz"] = round(
        float(jnp.mean(counts_vmap)) / 4000 / (args.steps * dt / 1000), 2
    )
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
