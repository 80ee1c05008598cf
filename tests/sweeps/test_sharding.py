"""A sweep sharded over 4 forced host devices equals the 1-device sweep."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent.parent


def _helper():
    spec = importlib.util.spec_from_file_location(
        "multidevice_helper", HERE / "multidevice_helper.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_on_4_devices(mode: str, out: pathlib.Path) -> dict[str, np.ndarray]:
    """Run the helper in a fresh interpreter that sees 4 CPU devices."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    env["JAX_PLATFORMS"] = "cpu"
    subprocess.run(
        [sys.executable, str(HERE / "multidevice_helper.py"), mode, str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    with np.load(out) as f:
        return dict(f)


def test_sharded_sweep_equals_single_device(tmp_path):
    assert len(jax.devices()) == 1
    single = _helper().sweep_summaries()
    sharded = run_on_4_devices("sweep", tmp_path / "sweep.npz")
    assert int(sharded["n_devices"]) == 4
    assert np.all(single["rate"] > 0)  # the runs spike, so the comparison means something
    for name in ("rate", "cv", "sync", "point", "seed"):
        np.testing.assert_allclose(sharded[name], single[name], rtol=1e-6, err_msg=name)
