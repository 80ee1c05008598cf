"""Imports every module that registers a built-in training task."""

from . import (  # noqa: F401
    _akorn,
    _dcls,
    _diehl_cook_task,
    _lsm,
    _nalsm,
    _snn,
)
