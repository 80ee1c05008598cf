"""The Brette et al. (2007) benchmark networks against the peers' rates for the same model.

The peers (Brian2 2.11 and BrainPy 2.9) ran exactly the model of configs/coba.yaml and
configs/cuba.yaml (/work/shared/anchors/perf/coba_brian2.py, coba_brainpy.py); their
rates are in /work/shared/anchors/perf/RESULTS.md. configs/coba_hh.yaml is compared with
Brian2's own examples/COBAHH.py, run here. Which numbers and how they are combined:
tests/fixtures/README.md, "COBA reference rates".
"""

import json
from pathlib import Path

import pytest

from brainsim.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# Means over the N = 4000 rows of RESULTS.md (Hz); see tests/fixtures/README.md.
COBA_PEERS = {"E": 20.14, "I": 20.95}  # 8 rows: BrainPy 4 (dyn/state x numba/jax_raw), Brian2 4
CUBA_PEERS = {"E": 5.44, "I": 5.58}  # 5 rows: BrainPy 2, Brian2 3
# Brian2 2.11 examples/COBAHH.py, seeds 0-3, rate over the first 300 ms (Hz).
COBA_HH_BRIAN2 = {"E": 34.36, "I": 34.60}
TOLERANCE = 0.15


def run_config(name: str, out: Path, *overrides: str) -> dict:
    args = [
        "run",
        str(CONFIGS / f"{name}.yaml"),
        "--out",
        str(out),
        "--set",
        "outputs.raster=false",
    ]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 0
    return json.loads((out / "summary.json").read_text())


def test_coba_4000_neurons_one_second_matches_the_peers(tmp_path, capsys):
    summary = run_config("coba", tmp_path)
    capsys.readouterr()
    assert summary["config"]["duration"] == 1000.0
    for pop, peer in COBA_PEERS.items():
        rate = summary["populations"][pop]["rate_hz"]
        assert rate == pytest.approx(peer, rel=TOLERANCE), (pop, rate)
    # Asynchronous irregular firing: CV of inter-spike intervals near or above 1.
    assert summary["populations"]["E"]["cv_isi"] > 0.7


def test_cuba_4000_neurons_matches_the_peers(tmp_path, capsys):
    # 300 ms instead of the peers' 1000 ms: the initial burst (every neuron starts
    # between reset and threshold, above El) raises the rate by ~3 % at this length.
    summary = run_config("cuba", tmp_path, "duration=300")
    capsys.readouterr()
    for pop, peer in CUBA_PEERS.items():
        rate = summary["populations"][pop]["rate_hz"]
        assert rate == pytest.approx(peer, rel=TOLERANCE), (pop, rate)


def test_coba_hh_4000_neurons_matches_brian2(tmp_path, capsys):
    # Brian2's examples/COBAHH.py, first 300 ms, mean of 4 seeds (tests/fixtures/README.md).
    summary = run_config("coba_hh", tmp_path, "duration=300")
    capsys.readouterr()
    for pop, peer in COBA_HH_BRIAN2.items():
        rate = summary["populations"][pop]["rate_hz"]
        assert rate == pytest.approx(peer, rel=TOLERANCE), (pop, rate)
