"""`brainsim train`: task lookup, config checking and the summary it writes."""

import dataclasses
import json

import pytest

from brainsim.cli import main
from brainsim.models import TrainRun, load_train_config, register_task, run_task


@dataclasses.dataclass(frozen=True)
class _EchoConfig:
    scale: float = 1.0
    steps: int = 3


@register_task("_echo_for_tests", _EchoConfig)
def _echo(config: _EchoConfig, run: TrainRun) -> dict:
    (run.out_dir / "seen.json").write_text(
        json.dumps({"resume": run.resume, "data_dir": str(run.data_dir), "seed": run.seed})
    )
    return {"value": config.scale * config.steps + run.seed}


def _write(tmp_path, text):
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    return path


def test_train_runs_the_task_and_writes_its_summary(tmp_path, capsys):
    cfg = _write(tmp_path, "task: _echo_for_tests\nseed: 2\nscale: 0.5\n")
    out = tmp_path / "out"
    assert main(["train", str(cfg), "--out", str(out), "--set", "steps=4", "--resume"]) == 0
    record = json.loads((out / "summary.json").read_text())
    assert record["task"] == "_echo_for_tests"
    assert record["name"] == "cfg"
    assert record["summary"] == {"value": 0.5 * 4 + 2}
    assert record["config"] == {"scale": 0.5, "steps": 4}
    seen = json.loads((out / "seen.json").read_text())
    assert seen == {"resume": True, "data_dir": "None", "seed": 2}
    assert "value: 4.0" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("scale: 1.0\n", "task: missing required key"),
        ("task: nope\n", "task: unknown task 'nope'"),
        ("task: _echo_for_tests\nscal: 1\n", "scal: unknown key"),
        ("task: _echo_for_tests\nsteps: many\n", "steps: must be an integer"),
        ("task: _echo_for_tests\nseed: 1.5\n", "seed: must be"),
    ],
)
def test_bad_configs_exit_2_with_one_line(tmp_path, capsys, text, needle):
    cfg = _write(tmp_path, text)
    assert main(["train", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err, err


def test_missing_config_and_data_dir_exit_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "absent.yaml")]) == 2
    assert "absent.yaml" in capsys.readouterr().err
    cfg = _write(tmp_path, "task: _echo_for_tests\n")
    assert main(["train", str(cfg), "--data-dir", str(tmp_path / "nodata")]) == 2
    assert "--data-dir" in capsys.readouterr().err


def test_python_api_matches_the_cli(tmp_path):
    config = load_train_config({"task": "_echo_for_tests", "steps": 2}, ["seed=1"])
    assert config.seed == 1 and config.config == _EchoConfig(steps=2)
    assert run_task(config, TrainRun(out_dir=tmp_path / "x", seed=1)) == {"value": 3.0}
