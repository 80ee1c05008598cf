"""The `brainsim` command line: files and formats, bad input, seeds, the console script."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml

from brainsim.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.fixture
def tiny(tmp_path) -> Path:
    """configs/coba.yaml scaled down to 100 neurons (same ~80 inputs each) for 50 ms."""
    raw = yaml.safe_load((CONFIGS / "coba.yaml").read_text())
    raw.update(name="tiny", duration=50.0)
    raw["populations"]["E"]["n"], raw["populations"]["I"]["n"] = 80, 20
    for proj in raw["projections"].values():
        proj["connect"]["p"] = 0.8
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_writes_spikes_summary_and_raster(tiny, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "run", tiny, "--out", out_dir)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"JAX {jax.__version__}, backend {jax.default_backend()}, devices:")
    assert any(line.startswith("E: rate ") and "CV ISI" in line for line in lines)
    assert {p.name for p in out_dir.iterdir()} == {"spikes.npz", "summary.json", "raster.png"}
    assert (out_dir / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    summary = json.loads((out_dir / "summary.json").read_text())
    assert set(summary) >= {"populations", "timing", "config", "jax"}
    assert set(summary["timing"]) >= {"compile_s", "run_s", "build_s"}
    assert all(summary["timing"][k] > 0 for k in ("compile_s", "run_s", "build_s"))
    assert summary["jax"]["version"] == jax.__version__
    assert summary["jax"]["backend"] == jax.default_backend()
    assert summary["jax"]["devices"] == [str(d) for d in jax.devices()]
    assert summary["config"]["populations"]["E"]["n"] == 80
    assert summary["config"]["projections"]["EE"]["connect"]["p"] == 0.8

    spikes = np.load(out_dir / "spikes.npz")
    assert set(spikes.files) == {"E_times", "E_indices", "I_times", "I_indices"}
    for name, n in (("E", 80), ("I", 20)):
        pop = summary["populations"][name]
        assert set(pop) >= {"rate_hz", "cv_isi", "n"} and pop["n"] == n
        times, idx = spikes[f"{name}_times"], spikes[f"{name}_indices"]
        assert times.size > 0 and np.all((times >= 0) & (times < 50.0))
        assert np.all((idx >= 0) & (idx < n))
        # The rate is spikes / (neurons * seconds), counted from the file.
        assert pop["rate_hz"] == pytest.approx(times.size / (n * 0.05), rel=1e-12)
        assert pop["cv_isi"] is None or pop["cv_isi"] >= 0


def test_default_out_dir_is_out_slash_name(tiny, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ("--set", "duration=2", "--set", "outputs.raster=false", "--device", "cpu")
    code, _, err = run(capsys, "run", tiny, *args)
    assert code == 0, err
    assert {p.name for p in (tmp_path / "out" / "tiny").iterdir()} == {"spikes.npz", "summary.json"}


def spikes_of(capsys, tiny, out_dir, *extra):
    code, _, err = run(
        capsys, "run", tiny, "--out", out_dir, "--set", "outputs.raster=false", *extra
    )
    assert code == 0, err
    with np.load(out_dir / "spikes.npz") as f:
        return {k: f[k] for k in f.files}


def test_same_seed_same_spikes_other_seed_other_spikes(tiny, tmp_path, capsys):
    a = spikes_of(capsys, tiny, tmp_path / "a", "--seed", "1")
    b = spikes_of(capsys, tiny, tmp_path / "b", "--seed", "1")
    c = spikes_of(capsys, tiny, tmp_path / "c", "--seed", "2")
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert any(a[k].shape != c[k].shape or np.any(a[k] != c[k]) for k in a)
    summary = json.loads((tmp_path / "c" / "summary.json").read_text())
    assert summary["config"]["seed"] == 2


def bad_run(capsys, *args) -> str:
    code, out, err = run(capsys, "run", *args)
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    "setting, prefix",
    [
        ("bogus=1", "brainsim: error: bogus: unknown key"),
        (
            "projections.EE.synapse.bogus=1",
            "brainsim: error: projections.EE.synapse.bogus: unknown key",
        ),
        (
            "populations.E.params.bogus=1",
            "brainsim: error: populations.E.params.bogus: unknown parameter",
        ),
        (
            "populations.E.n=many",
            "brainsim: error: populations.E.n: must be an integer, got 'many'",
        ),
        (
            "populations.E.params.tau_m=0",
            "brainsim: error: populations.E.params.tau_m: "
            "tau_m must be positive and finite, got 0.0",
        ),
        (
            "projections.II.synapse.tau=-10",
            "brainsim: error: projections.II.synapse.tau: "
            "tau must be positive and finite, got -10.0",
        ),
        ("dt=0", "brainsim: error: dt: dt must be positive and finite, got 0.0"),
        ("dt=-0.1", "brainsim: error: dt: dt must be positive and finite, got -0.1"),
        ("dt=7.5", "brainsim: error: dt: dt (7.5 ms) must not exceed the smallest time constant"),
        (
            "projections.EE.connect.p=1.5",
            "brainsim: error: projections.EE.connect.p: p must be a probability in [0, 1], got 1.5",
        ),
        ("projections.EI.post=X", "brainsim: error: projections.EI.post: unknown population 'X'"),
        ("monitors.spikes=[E, Q]", "brainsim: error: monitors.spikes.1: unknown population 'Q'"),
    ],
)
def test_bad_input_is_one_line_naming_the_key(tiny, tmp_path, capsys, setting, prefix):
    line = bad_run(capsys, tiny, "--out", tmp_path / "never", "--set", setting)
    assert line.startswith(prefix), line
    assert not (tmp_path / "never").exists()


def test_bad_input_in_the_file_itself(tiny, tmp_path, capsys):
    raw = yaml.safe_load(tiny.read_text())
    raw["projections"]["EE"]["delay"] = 4.0
    raw["projections"]["EE"]["max_delay"] = 2.0
    path = tmp_path / "delayed.yaml"
    path.write_text(yaml.safe_dump(raw))
    line = bad_run(capsys, path)
    assert line == (
        "brainsim: error: projections.EE.delay: delay (4.0 ms) exceeds the delay buffer "
        "(max_delay = 2.0 ms); raise max_delay or shorten the delay"
    )
    raw["projections"]["EE"]["connect"]["sparsity"] = 0.1
    path.write_text(yaml.safe_dump(raw))
    assert bad_run(capsys, path).startswith("brainsim: error: projections.EE.connect.sparsity: ")


def test_missing_config_file_names_the_path(tmp_path, capsys):
    missing = tmp_path / "nowhere.yaml"
    line = bad_run(capsys, missing)
    assert line == f"brainsim: error: config file not found: {missing}"


def test_usage_errors_exit_2(tiny, capsys):
    assert bad_run(capsys, tiny, "--device", "tpu").startswith("brainsim: error: argument --device")
    assert bad_run(capsys, tiny, "--seed", "x").startswith("brainsim: error: argument --seed")


def test_gpu_request_without_a_gpu_never_falls_back(tiny, tmp_path, capsys):
    if jax.default_backend() == "gpu":
        pytest.skip("this machine has a GPU")
    expected = (
        f"brainsim: error: device: gpu requested but JAX sees no GPU "
        f"(backend: {jax.default_backend()})"
    )
    assert bad_run(capsys, tiny, "--device", "gpu", "--out", tmp_path / "x") == expected
    assert bad_run(capsys, tiny, "--set", "device=gpu") == expected
    assert not (tmp_path / "x").exists()


def test_info(capsys):
    import brainsim

    code, out, _ = run(capsys, "info")
    assert code == 0
    assert f"brainsim {brainsim.__version__}" in out
    assert f"JAX {jax.__version__}, backend {jax.default_backend()}" in out
    assert all(str(d) in out for d in jax.devices())


def test_console_script_runs(tiny, tmp_path):
    """One real process through the installed `brainsim` entry point."""
    script = shutil.which("brainsim", path=str(Path(sys.executable).parent))
    assert script is not None, "the brainsim console script is not installed"
    out_dir = tmp_path / "proc"
    proc = subprocess.run(
        [
            script,
            "run",
            str(tiny),
            "--set",
            "duration=5",
            "--set",
            "outputs.raster=false",
            "--out",
            str(out_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("JAX ")
    assert json.loads((out_dir / "summary.json").read_text())["config"]["duration"] == 5.0
