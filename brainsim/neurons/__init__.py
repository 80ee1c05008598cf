"""Neuron models: one file each, re-exported here."""

from ._adex import NAUD_2008_PRESETS as NAUD_2008_PRESETS, AdEx as AdEx, AdExState as AdExState
from ._alif import ALIF as ALIF, ALIFState as ALIFState
from ._hh import HH as HH, HHState as HHState, traub_miles_rates as traub_miles_rates
from ._izhikevich import (
    IZHIKEVICH_PRESETS as IZHIKEVICH_PRESETS,
    Izhikevich as Izhikevich,
    IzhikevichState as IzhikevichState,
)
from ._lif import LIF as LIF, LIFState as LIFState
