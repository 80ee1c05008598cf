"""Brette et al. (2007) benchmark 3 (COBAHH) in BrainPy 2.9's `brainpy.state` API.

The model of `configs/coba_hh.yaml` and of `coba_hh_brian2.py`, written the way
brainpy.state writes its own neurons: a `brainpy.state.Neuron` whose voltage and gates
advance by `brainstate.nn.exp_euler_step`, with conductances driven through
`brainstate.nn.EventFixedProb` (brainevent's event-driven fixed-probability operator, as
in the anchors' COBA script). brainpy.state ships only the squid-axon HH (Hodgkin &
Huxley's rate functions), so the Traub-Miles rates are defined here.

Traub-Miles neurons (membrane area 20,000 um^2: C = 200 pF, g_L = 10 nS, g_Na = 20 uS,
g_K = 6 uS), conductance-based exponential synapses (6 nS excitatory, 67 nS inhibitory,
tau 5 / 10 ms), p = 0.02 / scale, dt = 0.1 ms. Initial state: v ~ N(-65, 5) mV, gates at
their steady state, ge ~ N(40, 15) nS, gi ~ N(200, 120) nS. A spike is a crossing of
-20 mV outside a 3 ms refractory period that only blocks re-detection.

Runs in the peers' venv (`bench/setup_peers.sh`). The whole run is one jitted
`for_loop`; the first call (trace + compile + run) and a second call (after resetting the
state) are timed, compile_s = first - second. Prints one `RESULT {json}` line in the
format of the anchors' scripts.
"""

import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="coba_hh", choices=["coba_hh"])
parser.add_argument("--scale", type=float, default=1.0)
parser.add_argument("--duration", type=float, default=1000.0, help="ms")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

import brainpy  # noqa: E402
import brainstate  # noqa: E402
import braintools  # noqa: E402
import brainunit as u  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

N_E, N_I = int(3200 * args.scale), int(800 * args.scale)
N = N_E + N_I
PROB = 0.02 / args.scale
DT = 0.1 * u.ms
V_T = -63.0  # mV, the Traub-Miles offset


def _rate(scale: float, x):
    """scale * x / (exp(x) - 1), finite at x = 0 (Brian2's `1/exprel`)."""
    safe = jnp.where(jnp.abs(x) < 1e-6, 1.0, x)
    return scale * jnp.where(jnp.abs(x) < 1e-6, 1.0, safe / jnp.expm1(safe))


class TraubMiles(brainpy.state.Neuron):
    """Traub-Miles HH with exponential-Euler steps; voltages in mV, times in ms."""

    def __init__(self, size):
        super().__init__(size)
        self.c_m = 200.0 * u.pF
        self.g_l, self.g_na, self.g_kd = 10.0 * u.nS, 20000.0 * u.nS, 6000.0 * u.nS
        self.e_l, self.e_na, self.e_k = -60.0 * u.mV, 50.0 * u.mV, -90.0 * u.mV
        self.e_e, self.e_i = 0.0 * u.mV, -80.0 * u.mV

    # opening and closing rates in 1/ms of the membrane potential in mV (no units)
    def rates(self, v):
        a_m = _rate(1.28, (13.0 - v + V_T) / 4.0)
        b_m = _rate(1.4, (v - V_T - 40.0) / 5.0)
        a_h = 0.128 * jnp.exp((17.0 - v + V_T) / 18.0)
        b_h = 4.0 / (1.0 + jnp.exp((40.0 - v + V_T) / 5.0))
        a_n = _rate(0.16, (15.0 - v + V_T) / 5.0)
        b_n = 0.5 * jnp.exp((10.0 - v + V_T) / 40.0)
        return (a_m, b_m), (a_h, b_h), (a_n, b_n)

    def _init(self):
        v = braintools.init.param(braintools.init.Normal(-65.0, 5.0), self.varshape)
        (m, h, n) = [a / (a + b) for a, b in self.rates(v)]
        ge = braintools.init.param(braintools.init.Normal(40.0, 15.0), self.varshape)
        gi = braintools.init.param(braintools.init.Normal(200.0, 120.0), self.varshape)
        return v, m, h, n, ge, gi

    def init_state(self, batch_size=None, **kwargs):
        v, m, h, n, ge, gi = self._init()
        self.V = brainstate.HiddenState(v * u.mV)
        self.m, self.h, self.n = (brainstate.HiddenState(x) for x in (m, h, n))
        self.ge = brainstate.HiddenState(ge * u.nS)
        self.gi = brainstate.HiddenState(gi * u.nS)
        self.spike = brainstate.ShortTermState(jnp.zeros(self.varshape, bool))
        self.t_last = brainstate.ShortTermState(jnp.full(self.varshape, -1e7) * u.ms)

    def reset_state(self, batch_size=None, **kwargs):
        v, m, h, n, ge, gi = self._init()
        self.V.value = v * u.mV
        self.m.value, self.h.value, self.n.value = m, h, n
        self.ge.value, self.gi.value = ge * u.nS, gi * u.nS
        self.spike.value = jnp.zeros(self.varshape, bool)
        self.t_last.value = jnp.full(self.varshape, -1e7) * u.ms

    def update(self, x=None):
        t = brainstate.environ.get("t")
        v0, m0, h0, n0 = self.V.value, self.m.value, self.h.value, self.n.value
        ge, gi = self.ge.value, self.gi.value
        g_na = self.g_na * m0**3 * h0
        g_k = self.g_kd * n0**4

        def dv(v):
            current = (
                self.g_l * (self.e_l - v)
                + ge * (self.e_e - v)
                + gi * (self.e_i - v)
                + g_na * (self.e_na - v)
                + g_k * (self.e_k - v)
            )
            return current / self.c_m

        rates = self.rates(v0.to_decimal(u.mV))
        gates = []
        for x0, (a, b) in zip((m0, h0, n0), rates):
            gates.append(
                brainstate.nn.exp_euler_step(lambda x, a=a, b=b: (a * (1.0 - x) - b * x) / u.ms, x0)
            )
        v = brainstate.nn.exp_euler_step(dv, v0)
        self.V.value = v
        self.m.value, self.h.value, self.n.value = gates
        spike = (v > -20.0 * u.mV) & (t - self.t_last.value >= 3.0 * u.ms)
        self.t_last.value = u.math.where(spike, t, self.t_last.value)
        self.spike.value = spike
        # the synaptic conductances decay exactly (exponential synapses)
        self.ge.value = ge * np.exp(-0.1 / 5.0)
        self.gi.value = gi * np.exp(-0.1 / 10.0)
        return spike


class Network(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.neurons = TraubMiles(N)
        self.exc = brainstate.nn.EventFixedProb(
            N_E, N, conn_num=PROB, conn_weight=6.0 * u.nS, seed=args.seed
        )
        self.inh = brainstate.nn.EventFixedProb(
            N_I, N, conn_num=PROB, conn_weight=67.0 * u.nS, seed=args.seed + 1
        )

    def update(self, t):
        with brainstate.environ.context(t=t):
            spike = self.neurons.spike.value
            # spikes of the previous step arrive as conductance jumps (Brian2's order)
            self.neurons.ge.value = self.neurons.ge.value + self.exc(spike[:N_E])
            self.neurons.gi.value = self.neurons.gi.value + self.inh(spike[N_E:])
            s = self.neurons.update()
            return jnp.sum(s[:N_E]), jnp.sum(s[N_E:])


brainstate.random.seed(args.seed)
t0 = time.time()
net = Network()
brainstate.nn.init_all_states(net)
build_s = time.time() - t0


@brainstate.transform.jit
def simulate(times):
    return brainstate.transform.for_loop(net.update, times)


with brainstate.environ.context(dt=DT):
    times = u.math.arange(0.0 * u.ms, args.duration * u.ms, DT)
    t0 = time.time()
    n_e, n_i = jax.block_until_ready(simulate(times))
    first = time.time() - t0
    brainstate.nn.reset_all_states(net)
    t0 = time.time()
    n_e, n_i = jax.block_until_ready(simulate(times))
    second = time.time() - t0

seconds = args.duration / 1000.0
result = dict(
    simulator="brainpy",
    version=brainpy.__version__,
    api="state",
    model="coba_hh",
    N=N,
    prob=PROB,
    sim_s=seconds,
    build_s=round(build_s, 3),
    compile_s=round(first - second, 3),
    sim_wall_s=round(second, 3),
    rate_E=round(float(np.asarray(n_e).sum()) / N_E / seconds, 3),
    rate_I=round(float(np.asarray(n_i).sum()) / N_I / seconds, 3),
)
print("RESULT " + json.dumps(result), flush=True)
