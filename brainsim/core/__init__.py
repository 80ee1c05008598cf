"""The dynamical-system protocol, integrators, the runner and monitors."""

from ._abstract import (
    AbstractDynamics as AbstractDynamics,
    AbstractNeuron as AbstractNeuron,
    SynapticInput as SynapticInput,
    as_synaptic_input as as_synaptic_input,
)
from ._init import (
    AbstractInitializer as AbstractInitializer,
    Constant as Constant,
    Normal as Normal,
    Uniform as Uniform,
)
from ._integrate import Solution as Solution, integrate as integrate
from ._integrators import (
    RK4 as RK4,
    AbstractIntegrator as AbstractIntegrator,
    Euler as Euler,
    ExponentialEuler as ExponentialEuler,
    get_integrator as get_integrator,
    solve_with_diffrax as solve_with_diffrax,
)
from ._io import load_network as load_network, save_network as save_network
from ._monitors import (
    AbstractMonitor as AbstractMonitor,
    ActivityMonitor as ActivityMonitor,
    SpikeMonitor as SpikeMonitor,
    StateMonitor as StateMonitor,
    WeightMonitor as WeightMonitor,
)
from ._results import RESULTS as RESULTS
from ._simulate import (
    NonFiniteStateError as NonFiniteStateError,
    SimulationResult as SimulationResult,
    simulate as simulate,
)
from ._spike import Surrogate as Surrogate, surrogate_derivative as surrogate_derivative
