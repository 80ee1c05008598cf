"""The jit-compiled train step and per-group optimisers."""

import functools
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import optax


def _with_aux(loss_fn: Callable[..., Any]) -> Callable[..., tuple[Any, dict]]:
    def wrapped(params, static, batch, key):
        out = loss_fn(eqx.combine(params, static), batch, key)
        if isinstance(out, tuple):
            loss, aux = out
            return loss, dict(aux)
        return out, {}

    return wrapped


def _all_finite(tree: Any) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jtu.tree_leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


@eqx.filter_jit
def _train_step(loss_fn, optimizer, params, static, opt_state, batch, key):
    value_and_grad = eqx.filter_value_and_grad(_with_aux(loss_fn), has_aux=True)
    (loss, aux), grads = value_and_grad(params, static, batch, key)
    # optax mixes Python floats with int32 counts (e.g. Adam's bias correction), which
    # strict dtype promotion rejects: the optimiser runs under standard promotion.
    with jax.numpy_dtype_promotion("standard"):
        updates, opt_state = optimizer.update(grads, opt_state, params)
    params = eqx.apply_updates(params, updates)
    finite = jnp.isfinite(loss) & _all_finite(grads)
    return params, opt_state, loss, aux, finite


@eqx.filter_jit
def _eval_step(loss_fn, params, static, batch, key):
    return _with_aux(loss_fn)(params, static, batch, key)


def make_train_step(
    loss_fn: Callable[..., Any], optimizer: optax.GradientTransformation
) -> Callable[..., tuple[Any, Any, jax.Array, dict, jax.Array]]:
    """Build the compiled train step for `loss_fn` and `optimizer`.

    The compiled code is cached on `(loss_fn, optimizer)` and the shapes, so later
    calls (and later `fit` runs) with the same function and optimiser objects reuse it.

    **Arguments:**

    - `loss_fn`: `loss_fn(model, batch, key) -> loss` or `-> (loss, metrics)`, with
      `metrics` a dict of scalars (e.g. `{"accuracy": ...}`).
    - `optimizer`: an optax transformation over the trainable leaves.

    **Returns:** `step(params, static, opt_state, batch, key) -> (params, opt_state,
    loss, metrics, finite)`, jit-compiled, where `params, static = eqx.partition(model,
    filter_spec)` splits the model into trainable leaves and the rest, and `finite` is
    False when the loss or a gradient is NaN or infinite.
    """
    return functools.partial(_train_step, loss_fn, optimizer)


def make_eval_step(loss_fn: Callable[..., Any]) -> Callable[..., tuple[jax.Array, dict]]:
    """The compiled evaluation of `loss_fn`: `evaluate(params, static, batch, key)`."""
    return functools.partial(_eval_step, loss_fn)


def group_optimizer(
    model: Any,
    groups: dict[str, tuple[Callable[[Any], Any], optax.GradientTransformation]],
    default: optax.GradientTransformation,
    *,
    filter_spec: Any = eqx.is_inexact_array,
) -> optax.GradientTransformation:
    """One optimiser per parameter group, via `optax.multi_transform`.

    **Arguments:**

    - `model`: the model (only its structure is used).
    - `groups`: `{name: (where, optimizer)}`; `where(model)` picks a subtree (as for
      `eqx.tree_at`) whose trainable leaves that optimiser updates.
    - `default`: the optimiser of every other trainable leaf.
    - `filter_spec`: the trainable leaves, as passed to `fit` (same value).

    **Returns:** an optax transformation for `eqx.filter(model, filter_spec)`.
    """
    if "default" in groups:
        raise ValueError("groups: the name 'default' is reserved for the other leaves")
    params = eqx.filter(model, filter_spec)
    labels = jtu.tree_map(lambda _: "default", params)
    for name, (where, _) in groups.items():
        try:
            sub = where(labels)
        except (AttributeError, IndexError, KeyError, TypeError) as e:
            raise ValueError(f"groups: {name!r}: `where` does not select a subtree ({e})") from None
        labels = eqx.tree_at(where, labels, jtu.tree_map(lambda _, n=name: n, sub))
    transforms = {name: opt for name, (_, opt) in groups.items()}
    transforms["default"] = default
    # A callable label tree would be taken for a labelling function (any model with
    # `__call__` is one), so pass a function that returns it.
    return optax.multi_transform(transforms, lambda _: labels)
