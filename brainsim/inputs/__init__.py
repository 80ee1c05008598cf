"""Inputs: spike sources (Poisson, given spike times) and time-varying currents."""

from ._currents import step_current as step_current, timed_current as timed_current
from ._sources import (
    PoissonSource as PoissonSource,
    PoissonState as PoissonState,
    SpikeGenerator as SpikeGenerator,
)
