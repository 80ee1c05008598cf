"""Per-point summaries computed on the device from a `Solution`.

A summary names the monitors it needs and reduces their traces to one scalar. Any
function `fn(solution) -> scalar` can serve as well (pass its monitors to `sweep`).
"""

import abc
import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from ..core import ActivityMonitor, SpikeMonitor, StateMonitor
from ..core._integrate import Solution
from ..core._monitors import AbstractMonitor


class AbstractSummary(eqx.Module):
    """One scalar per run, from the traces of the monitors it asks for."""

    @abc.abstractmethod
    def monitors(self) -> tuple[AbstractMonitor, ...]:
        """The monitors whose traces this summary reads."""

    @abc.abstractmethod
    def __call__(self, solution: Solution, dt: float) -> Float[Array, ""]:
        """The summary of one run (`dt` in ms)."""


def _spikes(solution: Solution, population: str | None) -> Array:
    return solution.traces[SpikeMonitor(population).name]


def mean_rate(spikes: Bool[Array, "t n"], dt: float) -> Float[Array, ""]:
    """Mean firing rate per neuron (Hz) of a `(steps, n)` raster with step `dt` (ms)."""
    return jnp.mean(spikes.astype(jnp.result_type(float))) * (1000.0 / dt)


def mean_cv_isi(spikes: Bool[Array, "t n"], dt: float) -> Float[Array, ""]:
    """Mean over neurons with at least 3 spikes of `std(ISI) / mean(ISI)` (ddof 0).

    One pass over time, so memory stays `O(n)` however long the run. Intervals are
    counted in whole steps and accumulated shifted by each neuron's first interval
    (sums of `d` and `d^2`, `d = isi - isi_1`), so regular firing gives exactly 0. The
    CV does not depend on `dt`. NaN when no neuron has 3 spikes.
    """
    del dt
    dtype = jnp.result_type(float)
    n = spikes.shape[1]

    def add(carry, x):
        last, first, count, s1, s2 = carry
        k, s = x
        valid = s & (last >= 0)
        isi = k - last
        first = jnp.where(valid & (first < 0), isi, first)
        d = jnp.where(valid, isi - first, 0).astype(dtype)
        count = count + valid.astype(dtype)
        return (jnp.where(s, k, last), first, count, s1 + d, s2 + d * d), None

    zero = jnp.zeros((n,), dtype)
    minus = jnp.full((n,), -1, jnp.int32)
    steps = jnp.arange(spikes.shape[0], dtype=jnp.int32)
    init = (minus, minus, zero, zero, zero)
    (_, first, count, s1, s2), _ = jax.lax.scan(add, init, (steps, spikes.astype(bool)))
    c = jnp.maximum(count, 1.0)
    mean = first.astype(dtype) + s1 / c  # in steps
    var = jnp.maximum(s2 / c - (s1 / c) ** 2, 0.0)
    ok = (count >= 2) & (mean > 0)
    cv = jnp.sqrt(var) / jnp.where(ok, mean, 1.0)
    n_ok = jnp.sum(ok).astype(dtype)
    return jnp.where(n_ok > 0, jnp.sum(jnp.where(ok, cv, 0.0)) / jnp.maximum(n_ok, 1.0), jnp.nan)


def golomb_synchrony(spikes: Bool[Array, "t n"], bin_steps: int) -> Float[Array, ""]:
    """Golomb's chi^2: the variance of the population activity over the mean variance
    of single neurons, both of spike counts in bins of `bin_steps` steps.

    1 for identical spike trains, about `1/n` for independent ones; NaN when silent.
    """
    n_bins = spikes.shape[0] // bin_steps
    x = spikes[: n_bins * bin_steps].astype(jnp.result_type(float))
    counts = jnp.sum(jnp.reshape(x, (n_bins, bin_steps, x.shape[1])), axis=1)
    pop_var = jnp.var(jnp.mean(counts, axis=1))
    single = jnp.mean(jnp.var(counts, axis=0))
    return jnp.where(single > 0, pop_var / jnp.where(single > 0, single, 1.0), jnp.nan)


class MeanRate(AbstractSummary):
    """Mean firing rate (Hz) of a population (`None`: a single neuron model)."""

    population: str | None = eqx.field(static=True, default=None)

    def monitors(self):
        return (ActivityMonitor(self.population),)

    def __call__(self, solution, dt):
        activity = solution.traces[ActivityMonitor(self.population).name]
        return jnp.mean(activity) * (1000.0 / dt)


class CVISI(AbstractSummary):
    """Mean coefficient of variation of the inter-spike intervals of a population."""

    population: str | None = eqx.field(static=True, default=None)

    def monitors(self):
        return (SpikeMonitor(self.population),)

    def __call__(self, solution, dt):
        return mean_cv_isi(_spikes(solution, self.population), dt)


class Synchrony(AbstractSummary):
    """Golomb's synchrony chi^2 of a population's spike counts in bins of `bin_ms`."""

    population: str | None = eqx.field(static=True, default=None)
    bin_ms: float = eqx.field(static=True, default=5.0)

    def monitors(self):
        return (SpikeMonitor(self.population),)

    def __call__(self, solution, dt):
        bin_steps = max(int(round(self.bin_ms / dt)), 1)
        return golomb_synchrony(_spikes(solution, self.population), bin_steps)


class OrderParameter(AbstractSummary):
    """Time-averaged Kuramoto order parameter `|mean_j exp(i theta_j)|` of a phase
    state variable (dotted path, e.g. `"theta"` or `"osc.theta"`, radians), recorded
    every `every` steps and averaged over the records at times >= `t_min` (ms)."""

    path: str = eqx.field(static=True, default="theta")
    every: int = eqx.field(static=True, default=1)
    t_min: float = eqx.field(static=True, default=0.0)

    def monitors(self):
        return (StateMonitor(self.path, every=self.every),)

    def __call__(self, solution, dt):
        # record k holds the state after step (k + 1) * every - 1, at time (k + 1) * every * dt
        first = max(int(math.ceil(self.t_min / (self.every * dt) - 1e-9)) - 1, 0)
        theta = solution.traces[self.path][first:]
        r = jnp.hypot(jnp.mean(jnp.cos(theta), axis=-1), jnp.mean(jnp.sin(theta), axis=-1))
        return jnp.mean(r)
