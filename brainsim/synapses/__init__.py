"""Synapse dynamics (traces driven by events) and output rules (how they reach the cell)."""

from ._abstract import AbstractOutput as AbstractOutput, AbstractSynapse as AbstractSynapse
from ._dual_exponential import (
    Alpha as Alpha,
    DualExponential as DualExponential,
    DualExponentialState as DualExponentialState,
)
from ._exponential import Delta as Delta, Exponential as Exponential
from ._nmda import NMDA as NMDA, MgBlock as MgBlock, NMDAState as NMDAState
from ._outputs import COBA as COBA, CUBA as CUBA, VoltageJump as VoltageJump
from ._stp import TsodyksMarkram as TsodyksMarkram, TsodyksMarkramState as TsodyksMarkramState
