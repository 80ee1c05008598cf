"""The training-throughput step in snnTorch: the anchor script, run as it is.

`../shared/anchors/perf/train_snn_snntorch.py` (snnTorch 1.0, torch 2.13.0 CPU, eager,
2 threads) is the peer's side that `../shared/anchors/perf/RESULTS.md` measured (6.5
steps/s): the same sizes and schedule as BrainPy's (100 steps, batch 64, 700 Bernoulli
inputs -> 256 recurrent neurons -> 20 leaky readouts, cross-entropy of the time-averaged
readout, Adam 1e-3, median of 20 steps after the first), with snnTorch's own neuron
(`RSynaptic`, all-to-all recurrence, reset to zero) and surrogate (fast sigmoid) in
place of BrainPy's Expon + LIF (soft reset) and ReluGrad. This wrapper only finds and
runs it, so `bench/train_throughput.py --peers` times the anchor unchanged.

Run in the venv of `bench/setup_train_peers.sh`; prints the anchor's `RESULT {json}`.
"""

import runpy
from pathlib import Path

ANCHOR = (
    Path(__file__).resolve().parents[3] / "shared" / "anchors" / "perf" / "train_snn_snntorch.py"
)

if __name__ == "__main__":
    if not ANCHOR.is_file():
        raise SystemExit(f"train_snn_snntorch: the anchor script {ANCHOR} is missing")
    runpy.run_path(str(ANCHOR), run_name="__main__")
