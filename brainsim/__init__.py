"""brainsim: a JAX-native differentiable brain simulator."""

from . import (
    analysis as analysis,
    astrocytes as astrocytes,
    config as config,
    connect as connect,
    data as data,
    inputs as inputs,
    kernels as kernels,
    models as models,
    network as network,
    neurons as neurons,
    oscillators as oscillators,
    plasticity as plasticity,
    sweeps as sweeps,
    synapses as synapses,
    train as train,
)
from .core import (
    RESULTS as RESULTS,
    ActivityMonitor as ActivityMonitor,
    Solution as Solution,
    SpikeMonitor as SpikeMonitor,
    StateMonitor as StateMonitor,
    Surrogate as Surrogate,
    SynapticInput as SynapticInput,
    WeightMonitor as WeightMonitor,
    integrate as integrate,
    load_network as load_network,
    save_network as save_network,
    simulate as simulate,
)
from .network import Delay as Delay, Network as Network, Projection as Projection
from .sweeps import SweepResult as SweepResult, sweep as sweep

__version__ = "0.1.0"
