"""`python -m bench.stdp_step [--n-post 6400] [--steps 500] [--k 8] [--delay 0]`.

Time of the fused Diehl & Cook STDP step alone (`dense_stdp_step`, or
`delayed_stdp_step` with `--delay` steps of input delay) on a `784 x n_post` matrix:
`--steps` steps in one jitted `lax.scan`, about 4 input spikes per step (Bernoulli, the
rate of an MNIST digit at intensity 2), and three postsynaptic patterns: each neuron
spikes with probability 0, 1.56e-5 and `1 / n_post` per step (at 6400 neurons: 0, 44
and 327 steps of 500 with a spike; seeded). One untimed call compiles; the best of `--reps` timed
calls is reported, in microseconds per step. The rule is the authors' (`nu_pre` 1e-4,
`nu_post` 1e-2, nearest-spike traces). Prints one line per pattern.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import jax.random as jr

from brainsim.plasticity import TripletSTDP
from brainsim.plasticity._dc_delayed import delayed_stdp_step, init_delay_line
from brainsim.plasticity._dc_dense import dense_stdp_step, spike_indices


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-post", type=int, default=6400)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--k", type=int, default=8, help="input rows per pass")
    ap.add_argument("--delay", type=int, default=0, help="longest input delay (steps)")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    rule = TripletSTDP(
        a2_plus=0.0, a3_plus=1e-2, a2_minus=1e-4, a3_minus=0.0, pairing="nearest", w_max=1.0
    )
    n_pre, n_post, steps = 784, args.n_post, args.steps
    pre = jr.bernoulli(jr.key(0), 4 / n_pre, (steps, n_pre))
    idx = spike_indices(pre, args.k)
    line = init_delay_line(n_pre, n_post, args.delay, key=jr.key(2)) if args.delay else None

    @jax.jit
    def run(w, post):
        def body(carry, xs):
            state, w, line = carry
            i, s_pre, s_post = xs
            if line is None:
                state, w, x = dense_stdp_step(rule, state, w, i, s_pre, s_post, 0.5)
            else:
                state, w, line, x = delayed_stdp_step(
                    rule, state, w, line, s_pre, s_post, 0.5, args.k
                )
            return (state, w, line), x[0]

        init = (rule.init_state(n_pre, n_post), w, line)
        return jax.lax.scan(body, init, (idx, pre, post))

    w = jnp.full((n_pre, n_post), 0.1)
    for p_post in (0.0, 1.5625e-5, 1 / n_post):
        post = jr.bernoulli(jr.key(1), p_post, (steps, n_post))
        jax.block_until_ready(run(w, post))
        best = float("inf")
        for _ in range(args.reps):
            t = time.perf_counter()
            jax.block_until_ready(run(w, post))
            best = min(best, time.perf_counter() - t)
        spiking = int(post.any(axis=1).sum())
        print(
            f"n_post {n_post}, k {args.k}, delay {args.delay}: {spiking}/{steps} steps with "
            f"a postsynaptic spike: {best / steps * 1e6:.0f} us/step",
            flush=True,
        )


if __name__ == "__main__":
    main()
