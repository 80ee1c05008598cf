"""The native CPU kernels: find the shared library, load it, register its FFI targets.

The package build (setup.py runs CMake on `kernels/CMakeLists.txt`) puts one shared
library, `_brainsim_kernels<extension suffix>`, inside this package. It holds XLA FFI
handlers; `ctypes` loads it and `jax.ffi.register_ffi_target` registers each handler
for the CPU platform. The library is loaded on first use, once per process. Where it
is missing or cannot be loaded, the operators run their pure-JAX reference instead and
`warn_native_unavailable` says so once.
"""

import ctypes
import functools
import importlib.machinery
import warnings
from pathlib import Path

import jax

LIBRARY_STEM = "_brainsim_kernels"

# FFI target name -> exported handler symbol (event_matvec/event_matvec.cc,
# procedural/procedural.cc).
TARGETS: dict[str, str] = {
    "brainsim_ell_scatter": "BrainsimEllScatter",
    "brainsim_ell_gather": "BrainsimEllGather",
    "brainsim_csr_scatter": "BrainsimCsrScatter",
    "brainsim_csr_gather": "BrainsimCsrGather",
    "brainsim_procedural_scatter": "BrainsimProceduralScatter",
    "brainsim_procedural_gather": "BrainsimProceduralGather",
}


class NativeKernelWarning(UserWarning):
    """The native CPU kernels are not available; the pure-JAX reference runs instead."""


def library_path() -> Path | None:
    """The built shared library inside this package, or `None` if there is none."""
    here = Path(__file__).resolve().parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        candidate = here / f"{LIBRARY_STEM}{suffix}"
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _load() -> tuple[ctypes.CDLL | None, str | None]:
    """Load the library and register its targets: `(library, None)` or `(None, reason)`."""
    path = library_path()
    if path is None:
        here = Path(__file__).resolve().parent
        return None, f"no {LIBRARY_STEM} library in {here}: the package build did not make it"
    try:
        lib = ctypes.cdll.LoadLibrary(str(path))
    except OSError as err:
        return None, f"cannot load {path.name}: {err}"
    try:
        for target, symbol in TARGETS.items():
            capsule = jax.ffi.pycapsule(getattr(lib, symbol))
            jax.ffi.register_ffi_target(target, capsule, platform="cpu")
    except (AttributeError, ValueError, RuntimeError) as err:
        return None, f"cannot register the FFI targets of {path.name}: {err}"
    return lib, None


def native_available() -> bool:
    """Whether the native CPU kernels are loaded and registered with XLA."""
    return _load()[0] is not None


def native_unavailable_reason() -> str | None:
    """Why the native CPU kernels are not available, or `None` if they are."""
    return _load()[1]


@functools.cache
def warn_native_unavailable() -> None:
    """Warn, once per process, that the reference runs in place of the native kernels."""
    warnings.warn(
        f"brainsim.kernels: native CPU kernels not available ({native_unavailable_reason()}); "
        "using the pure-JAX reference",
        NativeKernelWarning,
        stacklevel=4,
    )
