"""The examples in docstrings run and print what they say."""

import doctest
import importlib
import pkgutil

import pytest

import brainsim

PACKAGES = [(brainsim.__path__, "brainsim."), (brainsim.kernels.__path__, "brainsim.kernels.")]
MODULES = sorted(
    {
        m.name
        for path, prefix in PACKAGES
        for m in pkgutil.walk_packages(path, prefix=prefix)
        if str(m.module_finder.find_spec(m.name).origin).endswith(".py")  # type: ignore[call-arg, union-attr]
    }
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
