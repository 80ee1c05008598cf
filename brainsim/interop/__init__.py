"""Interoperability: NIR export/import and a flax nnx adapter.

`export_nir` / `import_nir` need the `nir` package (`pip install 'brainsim[nir]'`);
`DynamicsLayer` needs flax (`pip install 'brainsim[flax]'`). Both are imported only
when used.
"""

from typing import Any

from ._nir import export_nir as export_nir, import_nir as import_nir


def __getattr__(name: str) -> Any:
    if name == "DynamicsLayer":
        from ._flax import DynamicsLayer

        return DynamicsLayer
    raise AttributeError(f"module 'brainsim.interop' has no attribute {name!r}")


__all__ = ["DynamicsLayer", "export_nir", "import_nir"]
