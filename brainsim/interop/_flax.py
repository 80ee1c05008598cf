"""A thin adapter: brainsim neurons and synapses as flax `nnx` layers.

```python
from flax import nnx
from brainsim.interop import DynamicsLayer
from brainsim.neurons import LIF

class Net(nnx.Module):
    def __init__(self, rngs):
        self.fc1 = nnx.Linear(20, 32, rngs=rngs)
        self.lif = DynamicsLayer(LIF(32, v_rest=0.0, v_th=1.0, v_reset=0.0), dt=1.0)
        self.fc2 = nnx.Linear(32, 3, rngs=rngs)

    def __call__(self, x):                      # (batch, n_steps, 20)
        return self.fc2(self.lif(self.fc1(x)))  # spikes in between, surrogate gradients
```

The brainsim model stays an equinox module: each of its array leaves lives in a flax
`nnx.Param` (trained by `nnx.Optimizer(..., wrt=nnx.Param)`) or, with
`trainable=False`, in a plain `nnx.Variable` that optimisers leave alone; the
structure and everything else is kept static. Each call rebuilds the module and runs its pure
`step` in a `lax.scan`, so flax sees an ordinary differentiable function.
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import jax.tree_util as jtu
from jaxtyping import Array, Float

from ..core._abstract import AbstractNeuron
from ..synapses import AbstractSynapse

try:  # flax is optional: without it this module imports, and the layer says what is missing
    from flax import nnx

    _Base: Any = nnx.Module
except ImportError:  # pragma: no cover - exercised only without the extra
    nnx = None  # type: ignore[assignment]
    _Base = object


class DynamicsLayer(_Base):
    """A brainsim neuron population (or synapse) as a flax nnx layer over time.

    **Arguments:**

    - `dynamics`: an `AbstractNeuron` (outputs its spikes, float with surrogate
      gradients) or an `AbstractSynapse` (outputs its `value`), of `n` units.
    - `dt`: the time step (ms).
    - `trainable`: whether its parameters (time constants, thresholds, ...) are
      `nnx.Param`s that optimisers update.

    **Call:** inputs `(*batch, n_steps, n)` (time second to last: a current for a
    neuron, the summed weighted events for a synapse) -> outputs of the same shape.
    Every sequence starts from the model's initial state.
    """

    def __init__(self, dynamics: AbstractNeuron | AbstractSynapse, *, dt: float, trainable=False):
        if nnx is None:
            raise ImportError("DynamicsLayer needs flax: pip install 'brainsim[flax]'")
        if not isinstance(dynamics, AbstractNeuron | AbstractSynapse):
            raise ValueError(
                f"dynamics: expected a brainsim neuron or synapse, got {type(dynamics).__name__}"
            )
        if not dt > 0:
            raise ValueError(f"dt: must be positive, got {dt!r}")
        params, static = eqx.partition(dynamics, eqx.is_inexact_array)
        leaves, self.treedef = jtu.tree_flatten(params)
        kind = nnx.Param if trainable else nnx.Variable
        self.params = nnx.List([kind(leaf) for leaf in leaves])
        self.static = static
        self.dt = float(dt)
        self.n = int(dynamics.n)

    @property
    def dynamics(self) -> AbstractNeuron | AbstractSynapse:
        """The brainsim model with the layer's current parameters."""
        leaves = [p.get_value() for p in self.params]
        return eqx.combine(jtu.tree_unflatten(self.treedef, leaves), self.static)

    def __call__(self, x: Float[Array, "*batch n_steps n"]) -> Float[Array, "*batch n_steps n"]:
        if x.ndim < 2 or x.shape[-1] != self.n:
            raise ValueError(f"x: expected shape (..., n_steps, {self.n}), got {x.shape}")
        model, dt = self.dynamics, self.dt

        def run(seq: Array) -> Array:
            state0 = model.init_state(key=jr.key(0))

            def step(state, xt):
                if isinstance(model, AbstractSynapse):
                    state = model.step(state, xt, 0.0, dt)
                    return state, model.value(state)
                return model.step(state, xt, 0.0, dt)

            return jax.lax.scan(step, state0, seq)[1]

        flat = jnp.reshape(x, (-1, *x.shape[-2:]))
        return jnp.reshape(jax.vmap(run)(flat), x.shape)
