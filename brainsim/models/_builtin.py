"""Imports every module that registers a built-in training task."""
from . import _snn  # noqa: F401
from . import _akorn  # noqa: F401
from . import _dcls  # noqa: F401
from . import _lsm  # noqa: F401
from . import _diehl_cook_task  # noqa: F401
from . import _nalsm  # noqa: F401
