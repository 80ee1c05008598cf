#!/usr/bin/env python
"""A (w_e, w_i) sweep of the 4,000-neuron COBA network in BrainPy 2.9 (`brainpy.state`).

The model is the one of ../shared/anchors/perf/coba_brainpy.py (--api state): LIFRef,
AlignPostProj with brainstate's EventFixedProb and Expon, COBA outputs, dt 0.1 ms. The
network is built and compiled once; each point writes its weights into the
projections' weight states and resets the neuron and synapse states, then runs the
same compiled program (the weights are states, so nothing recompiles). Compile is
excluded: one warm-up run first. Prints one `RESULT {json}` line with the points per
second and the mean E rate of every point.
"""

import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--duration", type=float, default=1000.0, help="ms")
parser.add_argument("--values", required=True, help="JSON list of [w_e, w_i] pairs")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

import brainevent  # noqa: E402
import brainpy  # noqa: E402
import brainstate  # noqa: E402
import braintools  # noqa: E402
import brainunit as u  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

NE, NI = 3200, 800
N = NE + NI
PROB, DT = 0.02, 0.1
values = json.loads(args.values)
brainstate.random.seed(args.seed)


class EINet(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        g0 = braintools.init.Constant(0.0 * u.siemens)
        self.N = brainpy.state.LIFRef(
            N,
            R=1.0 * u.ohm,
            V_rest=-60.0 * u.mV,
            V_th=-50.0 * u.mV,
            V_reset=-60.0 * u.mV,
            tau=20.0 * u.ms,
            tau_ref=5.0 * u.ms,
            V_initializer=braintools.init.Normal(-55.0 * u.mV, 5.0 * u.mV),
            spk_reset="hard",
        )
        self.E = brainpy.state.AlignPostProj(
            comm=brainstate.nn.EventFixedProb(
                NE, N, conn_num=PROB, conn_weight=0.6 * u.siemens, seed=args.seed
            ),
            syn=brainpy.state.Expon.desc(N, tau=5.0 * u.ms, g_initializer=g0),
            out=brainpy.state.COBA.desc(E=0.0 * u.mV),
            post=self.N,
        )
        self.I = brainpy.state.AlignPostProj(
            comm=brainstate.nn.EventFixedProb(
                NI, N, conn_num=PROB, conn_weight=6.7 * u.siemens, seed=args.seed + 1
            ),
            syn=brainpy.state.Expon.desc(N, tau=10.0 * u.ms, g_initializer=g0),
            out=brainpy.state.COBA.desc(E=-80.0 * u.mV),
            post=self.N,
        )

    def update(self, t):
        with brainstate.environ.context(t=t):
            spk = self.N.get_spike() != 0.0
            self.E(spk[:NE])
            self.I(spk[NE:])
            self.N(20.0 * u.mA)
            return u.math.sum(self.N.get_spike()[:NE] != 0.0)


net = EINet()
brainstate.nn.init_all_states(net)


def _weight_state(comm):
    """The state that holds a projection's weight (a ParamState in brainstate)."""
    w = comm.weight
    if not isinstance(w, brainstate.State):
        raise SystemExit(f"EventFixedProb.weight is {type(w).__name__}, not a State")
    return w


w_e, w_i = _weight_state(net.E.comm), _weight_state(net.I.comm)


@brainstate.transform.jit
def simulate(times):
    return brainstate.transform.for_loop(net.update, times)


def run_point(we, wi):
    w_e.value = jax.numpy.full_like(u.get_mantissa(w_e.value), we) * u.get_unit(w_e.value)
    w_i.value = jax.numpy.full_like(u.get_mantissa(w_i.value), wi) * u.get_unit(w_i.value)
    brainstate.nn.reset_all_states(net)
    with brainstate.environ.context(dt=DT * u.ms):
        times = u.math.arange(0.0 * u.ms, args.duration * u.ms, brainstate.environ.get_dt())
        n_e = jax.block_until_ready(simulate(times))
    return float(np.asarray(n_e).sum()) / NE / (args.duration / 1000.0)


run_point(*values[0])  # compile
tic = time.perf_counter()
rates = [run_point(we, wi) for we, wi in values]
sec = time.perf_counter() - tic
print(
    "RESULT "
    + json.dumps(
        {
            "simulator": "brainpy",
            "version": brainpy.__version__,
            "brainevent": brainevent.__version__,
            "jax": jax.__version__,
            "points": len(values),
            "seconds": sec,
            "points_per_s": len(values) / sec,
            "rates": rates,
        }
    ),
    flush=True,
)
