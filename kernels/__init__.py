"""Custom operators of brainsim (installed as `brainsim.kernels`).

Each operator has one pure-`jax.numpy` reference implementation, which is its
specification, and a public function that takes `impl=`. The sparse layouts the
operators read are in `formats`.
"""

from .event_matvec import event_matmat as event_matmat, event_matvec as event_matvec
from .formats import CSR as CSR, ELL as ELL, ProceduralFanOut as ProceduralFanOut
from .procedural import materialize as materialize, procedural_matvec as procedural_matvec
