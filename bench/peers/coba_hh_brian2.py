"""Brette et al. (2007) benchmark 3 (COBAHH) in Brian2, the model of `configs/coba_hh.yaml`.

Runs in the peers' venv (`bench/setup_peers.sh`); prints one `RESULT {json}` line in the
format of the anchors' scripts. Traub-Miles Hodgkin-Huxley neurons (membrane area
20,000 um^2), conductance-based exponential synapses, p = 0.02 / scale, dt = 0.1 ms.
Initial state as in our config: v ~ N(-65, 5) mV, gates at their steady state, ge ~
N(40, 15) nS, gi ~ N(200, 120) nS. A spike is an upward crossing of -20 mV (threshold
with a 3 ms refractory period that only blocks re-detection).
"""

import argparse
import json
import time

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="coba_hh", choices=["coba_hh"])
parser.add_argument("--target", default="cython", choices=["cython", "numpy", "cpp_standalone"])
parser.add_argument("--scale", type=float, default=1.0)
parser.add_argument("--duration", type=float, default=1000.0, help="ms")
parser.add_argument("--threads", type=int, default=0)
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--build-dir", default="/tmp/brainsim-bench/brian2")
args = parser.parse_args()

import brian2 as b2  # noqa: E402
from brian2 import ms, mV, nS, pF  # noqa: E402

if args.target == "cpp_standalone":
    b2.set_device(
        "cpp_standalone", directory=f"{args.build_dir}_hh_{args.scale}", build_on_run=False
    )
    if args.threads:
        b2.prefs.devices.cpp_standalone.openmp_threads = args.threads
else:
    b2.prefs.codegen.target = args.target
b2.seed(args.seed)
b2.defaultclock.dt = 0.1 * ms

n_e, n_i = int(3200 * args.scale), int(800 * args.scale)
n = n_e + n_i
p = 0.02 / args.scale
namespace = dict(
    c_m=200 * pF,
    g_l=10 * nS,
    g_na=20000 * nS,
    g_kd=6000 * nS,
    e_l=-60 * mV,
    e_na=50 * mV,
    e_k=-90 * mV,
    v_t=-63 * mV,
    e_e=0 * mV,
    e_i=-80 * mV,
    tau_e=5 * ms,
    tau_i=10 * ms,
)
equations = """
dv/dt = (g_l*(e_l - v) + ge*(e_e - v) + gi*(e_i - v)
         - g_na*m**3*h*(v - e_na) - g_kd*n**4*(v - e_k)) / c_m : volt
dm/dt = a_m*(1 - m) - b_m*m : 1
dh/dt = a_h*(1 - h) - b_h*h : 1
dn/dt = a_n*(1 - n) - b_n*n : 1
dge/dt = -ge/tau_e : siemens
dgi/dt = -gi/tau_i : siemens
a_m = 1.28/exprel((13*mV - v + v_t)/(4*mV))/ms : Hz
b_m = 1.4/exprel((v - v_t - 40*mV)/(5*mV))/ms : Hz
a_h = 0.128*exp((17*mV - v + v_t)/(18*mV))/ms : Hz
b_h = 4/(1 + exp((40*mV - v + v_t)/(5*mV)))/ms : Hz
a_n = 0.16/exprel((15*mV - v + v_t)/(5*mV))/ms : Hz
b_n = 0.5*exp((10*mV - v + v_t)/(40*mV))/ms : Hz
"""
t0 = time.time()
group = b2.NeuronGroup(
    n,
    equations,
    threshold="v > -20*mV",
    refractory=3 * ms,
    method="exponential_euler",
    namespace=namespace,
)
group.v = "-65*mV + 5*mV*randn()"
group.m = "a_m/(a_m + b_m)"
group.h = "a_h/(a_h + b_h)"
group.n = "a_n/(a_n + b_n)"
group.ge = "(40 + 15*randn())*nS"
group.gi = "(200 + 120*randn())*nS"
exc = b2.Synapses(group[:n_e], group, on_pre="ge += 6*nS")
inh = b2.Synapses(group[n_e:], group, on_pre="gi += 67*nS")
exc.connect(p=p)
inh.connect(p=p)
mon_e = b2.SpikeMonitor(group[:n_e], record=False)
mon_i = b2.SpikeMonitor(group[n_e:], record=False)
net = b2.Network(group, exc, inh, mon_e, mon_i)
duration = args.duration * ms
if args.target == "cpp_standalone":
    tic = time.time()
    net.run(duration)
    b2.device.build(directory=b2.device.project_dir, compile=True, run=True, debug=False)
    sim = float(b2.device._last_run_time)
    compile_s = time.time() - tic - sim
else:
    tic = time.time()
    net.run(0 * ms)
    compile_s = time.time() - tic
    net.run(duration)
    sim = float(b2.device._last_run_time)
seconds = args.duration / 1000
result = dict(
    simulator="brian2",
    version=b2.__version__,
    model="coba_hh",
    backend=args.target,
    N=n,
    prob=p,
    sim_s=seconds,
    build_s=None,
    compile_s=round(compile_s, 3),
    sim_wall_s=round(sim, 3),
    rate_E=round(int(mon_e.num_spikes) / n_e / seconds, 3),
    rate_I=round(int(mon_i.num_spikes) / n_i / seconds, 3),
)
print("RESULT " + json.dumps(result), flush=True)
print(f"(setup and run {time.time() - t0:.1f} s)")
