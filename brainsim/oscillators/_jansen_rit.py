"""Jansen-Rit cortical columns (pyramidal cells and two interneuron populations)."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
from jaxtyping import Array, Float, Int

from ..core._abstract import AbstractDynamics
from ..core._errors import check_positive, is_concrete
from ..core._integrators import AbstractIntegrator, get_integrator
from ._common import check_count, check_vector
from ._delayed import DelayedCoupling


class JansenRitState(eqx.Module):
    """Postsynaptic potentials `y0, y1, y2` (mV) and their derivatives (mV/s), per node.

    `y` has shape `(6, n)`; `eeg = y1 - y2` is the pyramidal membrane potential, the
    model's EEG-like output. `buffer`/`ptr` hold the history of the pyramidal firing
    rate `S(y1 - y2)` (1/s) for delayed coupling, and
    `key` drives the stochastic input.
    """

    y: Float[Array, "6 n"]
    buffer: Float[Array, "length n"]
    ptr: Int[Array, ""]
    key: Array

    @property
    def eeg(self) -> Float[Array, " n"]:
        """`y1 - y2` (mV)."""
        return self.y[1] - self.y[2]


class JansenRit(AbstractDynamics):
    """Jansen and Rit (1995) columns, with the standard parameters as defaults.

    `y0'' = A a S(y1 - y2) - 2 a y0' - a^2 y0`,
    `y1'' = A a (p + C2 S(C1 y0) + G sum_j K_ij S(y1_j - y2_j)(t - d_ij)) - 2 a y1' - a^2 y1`,
    `y2'' = B b C4 S(C3 y0) - 2 b y2' - b^2 y2`, with `S(v) = 2 e0 / (1 + exp(r (v0 - v)))`,
    `C1 = C`, `C2 = 0.8 C`, `C3 = C4 = 0.25 C`.

    Rates are in the literature's units (1/s), time in ms: the vector field returns
    derivatives per ms. The input `p` is drawn independently each step from
    `U(p_min, p_max)` (pulses/s), as in the original paper; set `p_min = p_max` for a
    deterministic drive. The default column shows its alpha rhythm (~10 Hz).

    **Arguments:**

    - `n`: number of columns.
    - `A`, `B`: maximal excitatory / inhibitory PSP amplitudes (mV).
    - `a`, `b`: inverse PSP time constants (1/s).
    - `C`: connectivity constant; `e0` (1/s), `v0` (mV), `r` (1/mV): the sigmoid.
    - `p_min`, `p_max`: bounds of the uniform input (1/s).
    - `coupling`: `K`, `(n, n)` (row `i`: inputs into column `i`), `global_coupling`: G,
      `delays` (ms, scalar or `(n, n)`), `dt`: the step (ms) the delays are counted in.
    - `method`: integrator, `"rk4"` (default) or `"euler"`.

    The input of `step` is an extra pyramidal drive (1/s) or `None`; it outputs `y1 - y2`.
    """

    n: int = eqx.field(static=True)
    A: Float[Array, "*n"]
    B: Float[Array, "*n"]
    a: Float[Array, "*n"]
    b: Float[Array, "*n"]
    C: Float[Array, "*n"]
    e0: Float[Array, "*n"]
    v0: Float[Array, "*n"]
    r: Float[Array, "*n"]
    p_min: Float[Array, "*n"]
    p_max: Float[Array, "*n"]
    global_coupling: Float[Array, ""]
    network: DelayedCoupling
    method: AbstractIntegrator

    def __init__(
        self,
        n: int = 1,
        *,
        A=3.25,
        B=22.0,
        a=100.0,
        b=50.0,
        C=135.0,
        e0=2.5,
        v0=6.0,
        r=0.56,
        p_min=120.0,
        p_max=320.0,
        coupling=None,
        global_coupling=1.0,
        delays=0.0,
        dt: float = 0.1,
        method: str | AbstractIntegrator = "rk4",
    ):
        self.n = check_count("n", n)
        for name, value in (("a", a), ("b", b), ("e0", e0), ("r", r)):
            check_positive(name, value)
        self.A, self.B = check_vector("A", A, n), check_vector("B", B, n)
        self.a, self.b = check_vector("a", a, n), check_vector("b", b, n)
        self.C, self.e0 = check_vector("C", C, n), check_vector("e0", e0, n)
        self.v0, self.r = check_vector("v0", v0, n), check_vector("r", r, n)
        self.p_min = check_vector("p_min", p_min, n)
        self.p_max = check_vector("p_max", p_max, n)
        if is_concrete((self.p_min, self.p_max)) and bool(jnp.any(self.p_max < self.p_min)):
            raise ValueError(f"p_max ({p_max!r}) must not be below p_min ({p_min!r})")
        self.global_coupling = check_vector("global_coupling", global_coupling, 1)
        weights = jnp.zeros((n, n)) if coupling is None else coupling
        self.network = DelayedCoupling(n, weights, delays, dt)
        self.method = get_integrator(method)

    def min_time_constant(self):
        return 1000.0 / jnp.maximum(jnp.max(self.a), jnp.max(self.b))

    def sigmoid(self, v: Array) -> Array:
        """The population firing rate (1/s) at mean potential `v` (mV)."""
        return 2 * self.e0 / (1 + jnp.exp(self.r * (self.v0 - v)))

    def init_state(self, *, key) -> JansenRitState:
        dtype = self.a.dtype
        y = jnp.zeros((6, self.n), dtype)
        buffer = self.network.init_buffer(self.sigmoid(jnp.zeros((self.n,), dtype)))
        return JansenRitState(y, buffer, jnp.zeros((), jnp.int32), key)

    def vector_field(self, t, y, args):
        """`y` `(6, n)`; `args` = pyramidal input (1/s). Returns `dy/dt` per ms."""
        y0, y1, y2, y3, y4, y5 = y
        drive = args
        if self.network.instantaneous:
            drive = drive + self.global_coupling * self.network.now(self.sigmoid(y1 - y2))
        c = self.C
        a, b = self.a, self.b
        d3 = self.A * a * self.sigmoid(y1 - y2) - 2 * a * y3 - a * a * y0
        d4 = self.A * a * (drive + 0.8 * c * self.sigmoid(c * y0)) - 2 * a * y4 - a * a * y1
        d5 = self.B * b * 0.25 * c * self.sigmoid(0.25 * c * y0) - 2 * b * y5 - b * b * y2
        return jnp.stack([y3, y4, y5, d3, d4, d5]) * 1e-3

    def step(self, state: JansenRitState, inputs, t, dt) -> tuple[JansenRitState, Array]:
        self.network.check_dt(dt)
        dtype = state.y.dtype
        key, sub = jr.split(state.key)
        p = jr.uniform(sub, (self.n,), dtype, self.p_min, self.p_max)
        drive = p if inputs is None else p + jnp.asarray(inputs, dtype)
        if not self.network.instantaneous:
            drive = drive + self.global_coupling * self.network.read(state.buffer, state.ptr)
        y = self.method.step(self.vector_field, t, state.y, drive, dt)
        eeg = y[1] - y[2]
        buffer, ptr = self.network.push(state.buffer, state.ptr, self.sigmoid(eeg))
        return JansenRitState(y, buffer, ptr, key), eeg
