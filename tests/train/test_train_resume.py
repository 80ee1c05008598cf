"""A run killed with SIGKILL mid-epoch and resumed ends with the uninterrupted parameters."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax.random as jr
import numpy as np

from brainsim.train import checkpoint_position

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import randman_task  # noqa: E402


def _complete_checkpoints(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if p.name.isdigit()]


def test_sigkill_mid_epoch_then_resume(tmp_path):
    ckpt = tmp_path / "ckpt"
    out = tmp_path / "killed.npz"
    log = tmp_path / "child.log"
    with log.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, str(HERE / "randman_task.py"), str(ckpt), str(out), "--slow"],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.monotonic() + 120
    try:
        while not _complete_checkpoints(ckpt):
            assert child.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not out.exists()  # it never finished
    epoch, batch, step = checkpoint_position(ckpt)
    assert epoch == 0 and 0 < batch < 10  # killed mid-epoch (10 batches per epoch)

    resumed = randman_task.train(ckpt, resume=True, every=2).final_model
    reference = randman_task.train().final_model
    np.testing.assert_array_equal(np.asarray(resumed.w_in), np.asarray(reference.w_in))
    np.testing.assert_array_equal(np.asarray(resumed.w_out), np.asarray(reference.w_out))
    initial = randman_task.SNN(key=jr.key(0))
    assert not np.allclose(np.asarray(resumed.w_in), np.asarray(initial.w_in))
