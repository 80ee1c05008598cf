"""Custom operators of brainsim (installed as `brainsim.kernels`).

Each operator has one pure-`jax.numpy` reference implementation, which is its
specification, and a public function that takes `impl=` (`"auto"`, `"reference"`,
`"cpu"`, `"pallas"`): `event_matvec` and `event_matmat` (spikes through a sparse layout,
one vector or a batch) and `procedural_matvec` (through a `ProceduralFanOut`, whose
synapses are regenerated from a seed; `materialize` stores them), and
`event_dense_matmat` (a block of spikes through a dense weight matrix, for training).
The sparse layouts are in `formats`. See docs/kernels.md.
"""

from .event_dense import event_dense_matmat as event_dense_matmat
from .event_matvec import event_matmat as event_matmat, event_matvec as event_matvec
from .formats import CSR as CSR, ELL as ELL, ProceduralFanOut as ProceduralFanOut
from .procedural import materialize as materialize, procedural_matvec as procedural_matvec
