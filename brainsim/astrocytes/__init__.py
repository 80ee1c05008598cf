"""Astrocytes: calcium and IP3 dynamics, gap-junction coupling, tripartite synapses.

- `LiRinzel`: the two-variable calcium model (calcium-induced calcium release) at a
  given IP3 concentration.
- `GChI`: calcium and IP3, with IP3 made by the glutamate of presynaptic spikes
  (De Pitta et al. 2009), optionally coupled by IP3 diffusion (`IP3Coupling`).
- `NALSMAstrocyte`: the global astrocyte of the NALSM (Ivanov & Michmizos 2021), a leaky
  integrator of liquid minus input spiking that sets the STDP depression rate.
- `Gliotransmission` and `TripartiteProjection`: astrocytic calcium releases
  gliotransmitter that changes the release probability of the ensheathed synapses.

Time is in ms; concentrations in uM; rate parameters per second, as in the papers.
"""

from ._coupling import IP3Coupling as IP3Coupling
from ._gchi import GChI as GChI, GChIState as GChIState
from ._li_rinzel import LiRinzel as LiRinzel, LiRinzelState as LiRinzelState
from ._nalsm import NALSMAstrocyte as NALSMAstrocyte, NALSMAstrocyteState as NALSMAstrocyteState
from ._tripartite import (
    Gliotransmission as Gliotransmission,
    GliotransmissionState as GliotransmissionState,
    TripartiteProjection as TripartiteProjection,
    TripartiteState as TripartiteState,
)
