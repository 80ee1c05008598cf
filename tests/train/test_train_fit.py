"""fit: a small SNN learns Randman; metrics, best model, early stopping, NaN, groups."""

import json
import sys
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from brainsim.data import DataLoader
from brainsim.train import (
    Checkpoints,
    checkpoint_position,
    fit,
    group_optimizer,
    make_train_step,
)

sys.path.insert(0, str(Path(__file__).parent))
import randman_task  # noqa: E402


def test_snn_learns_randman(tmp_path):
    path = tmp_path / "metrics.jsonl"
    result = randman_task.train(epochs=15, val=True, metrics_path=path)
    lines = [json.loads(s) for s in path.read_text().splitlines()]
    assert lines == result.history and len(lines) == 15
    assert {"epoch", "step", "loss", "accuracy", "seconds", "val_loss", "val_accuracy"} <= set(
        lines[0]
    )
    assert lines[-1]["step"] == 150
    # Chance is 1/3. Measured: validation accuracy 0.97 at epoch 14, >= 0.9 from epoch 8.
    best = max(r["val_accuracy"] for r in lines)
    assert best >= 0.85
    assert lines[result.best_epoch]["val_accuracy"] == best
    assert lines[-1]["loss"] < 0.5 * lines[0]["loss"]
    # the returned model is the best one by validation accuracy
    x, y = randman_task.make_data()
    v = jax.vmap(result.model)(jnp.asarray(x[120:]))
    assert float(jnp.mean(jnp.argmax(v.max(1), -1) == y[120:])) == pytest.approx(best)


def _quadratic_problem(n=32):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], np.float32)
    return x, y


class Linear(eqx.Module):
    w: jax.Array
    b: jax.Array


def _mse(model, batch, key):
    x, y = batch
    return jnp.mean((x @ model.w + model.b - y) ** 2)


def test_learning_rate_schedule_logged_and_early_stopping(tmp_path):
    x, y = _quadratic_problem()
    schedule = optax.exponential_decay(0.1, transition_steps=4, decay_rate=0.5)
    model = Linear(jnp.zeros(3), jnp.zeros(()))
    result = fit(
        model,
        _mse,
        DataLoader((x, y), 8, seed=0),
        optimizer=optax.sgd(schedule),
        epochs=3,
        key=jr.key(0),
        lr_schedule=schedule,
        progress=False,
    )
    rates = [r["learning_rate"] for r in result.history]
    np.testing.assert_allclose(rates, [0.1 * 0.5**1, 0.1 * 0.5**2, 0.1 * 0.5**3], rtol=1e-6)
    # the same schedule read from an inject_hyperparams optimiser's state (the rate that
    # the last step of each epoch used, at step count 3, 7, 11)
    injected = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)
    result = fit(model, _mse, DataLoader((x, y), 8), optimizer=injected, epochs=3, key=jr.key(0))
    rates = [r["learning_rate"] for r in result.history]
    np.testing.assert_allclose(
        rates, [0.1 * 0.5**0.75, 0.1 * 0.5**1.75, 0.1 * 0.5**2.75], rtol=1e-6
    )

    # training grows |w| + |b|; the validation batch (sign -1) scores exactly that, so
    # validation only gets worse: stop after `patience` epochs and keep epoch 0's model
    def size_loss(model, batch, key):
        sign = jnp.mean(batch[2])
        return -sign * (jnp.sum(jnp.abs(model.w)) + jnp.abs(model.b))

    ones = np.ones(len(x), np.float32)
    result = fit(
        Linear(jnp.ones(3), jnp.ones(())),
        size_loss,
        DataLoader((x, y, ones), 8, seed=0),
        optimizer=optax.sgd(0.1),
        epochs=20,
        key=jr.key(0),
        val_data=[(x, y, -ones)],
        early_stopping_patience=2,
        progress=False,
    )
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 0


def test_nan_loss_stops_before_checkpoint(tmp_path):
    x, y = _quadratic_problem()
    x[13, 0] = np.nan
    loader = DataLoader((x, y), 8, seed=0)
    b = next(i for i, (xb, _) in enumerate(loader.epoch(0)) if np.isnan(xb).any())
    with pytest.raises(FloatingPointError, match=f"not finite at step {b} \\(epoch 0, batch {b}"):
        fit(
            Linear(jnp.zeros(3), jnp.zeros(())),
            _mse,
            loader,
            optimizer=optax.sgd(0.01),
            epochs=2,
            key=jr.key(0),
            checkpoint_dir=tmp_path / "ckpt",
            checkpoint_every_steps=1,
            progress=False,
        )
    # the newest checkpoint is the last good step, and its parameters are finite
    assert checkpoint_position(tmp_path / "ckpt") == (0, b, b)
    ckpt = Checkpoints(tmp_path / "ckpt")
    saved = ckpt.restore()
    ckpt.close()
    assert all(np.all(np.isfinite(v)) for k, v in saved.items() if k.startswith("params/"))


def test_group_optimizer_zero_learning_rate_freezes_group():
    x, y = _quadratic_problem()
    model = Linear(jnp.ones(3), jnp.ones(()))
    opt = group_optimizer(model, {"bias": (lambda m: m.b, optax.sgd(0.0))}, optax.sgd(0.1))
    params, static = eqx.partition(model, eqx.is_inexact_array)
    with jax.numpy_dtype_promotion("standard"):
        state = opt.init(params)
    step = make_train_step(_mse, opt)
    for _ in range(3):
        params, state, loss, _, finite = step(params, static, state, (x, y), jr.key(0))
        assert bool(finite)
    assert float(params.b) == 1.0  # frozen group
    assert not np.allclose(params.w, 1.0)  # default group moved
    with pytest.raises(ValueError, match="reserved"):
        group_optimizer(model, {"default": (lambda m: m.b, optax.sgd(0.0))}, optax.sgd(0.1))


def test_bad_arguments():
    x, y = _quadratic_problem()
    loader = DataLoader((x, y), 8)
    model = Linear(jnp.zeros(3), jnp.zeros(()))
    kw = dict(optimizer=optax.sgd(0.1), key=jr.key(0), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        fit(model, _mse, loader, epochs=0, **kw)
    with pytest.raises(ValueError, match="checkpoint_dir: required"):
        fit(model, _mse, loader, epochs=1, resume=True, **kw)
    with pytest.raises(ValueError, match="early_stopping_patience: needs val_data"):
        fit(model, _mse, loader, epochs=1, early_stopping_patience=2, **kw)


def test_group_optimizer_takes_a_callable_model():
    # A model with `__call__` must not be taken for optax's labelling function.
    model = eqx.nn.Linear(3, 2, key=jr.key(0))
    opt = group_optimizer(model, {"bias": (lambda m: m.bias, optax.sgd(0.0))}, optax.sgd(0.1))
    params = eqx.filter(model, eqx.is_inexact_array)
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    with jax.numpy_dtype_promotion("standard"):
        updates, _ = opt.update(grads, opt.init(params), params)
    np.testing.assert_array_equal(updates.bias, 0.0)
    np.testing.assert_allclose(updates.weight, -0.1)


def test_logged_learning_rate_of_an_optax_schedule_under_strict_promotion():
    from brainsim.train._fit import _learning_rate

    schedule = optax.cosine_onecycle_schedule(100, 0.1)
    with jax.numpy_dtype_promotion("standard"):
        expected = float(schedule(10))
    assert _learning_rate(schedule, 10, None) == pytest.approx(expected)
    assert _learning_rate(0.5, 3, None) == 0.5


class _SlowLoader:
    """Four batches, each taking 0.3 s to arrive."""

    def __init__(self, x, y):
        self.inner = DataLoader((x, y), 8)

    def __len__(self):
        return len(self.inner)

    def epoch(self, epoch, start=0):
        for batch in self.inner.epoch(epoch, start):
            time.sleep(0.3)
            yield batch


def test_time_budget_ends_a_partial_epoch_validated_and_checkpointed(tmp_path):
    x, y = _quadratic_problem()
    kw = dict(optimizer=optax.sgd(0.01), key=jr.key(0), progress=False)

    def run(**extra):
        return fit(
            Linear(jnp.zeros(3), jnp.zeros(())),
            _mse,
            _SlowLoader(x, y),
            epochs=5,
            val_data=[(x, y)],
            max_seconds=0.5,
            checkpoint_dir=tmp_path / "ckpt",
            metrics_path=tmp_path / "m.jsonl",
            **kw,
            **extra,
        )

    result = run()
    # the budget is spent after the first or second of four 0.3 s batches
    assert result.out_of_time and not result.stopped_early
    (record,) = result.history
    assert record["partial"] and 1 <= record["step"] <= 2 and "val_loss" in record
    assert checkpoint_position(tmp_path / "ckpt") == (5, 0, record["step"])
    # resuming a run that ran out of time does not train further
    again = run(resume=True)
    assert again.history == result.history
    np.testing.assert_array_equal(again.final_model.w, result.final_model.w)
    with pytest.raises(ValueError, match="max_seconds"):
        fit(
            Linear(jnp.zeros(3), jnp.zeros(())),
            _mse,
            _SlowLoader(x, y),
            epochs=1,
            max_seconds=0.0,
            **kw,
        )
