"""Package layout and the native build.

`brainsim/` plus `kernels/`, which installs as `brainsim.kernels`. The native CPU
kernels (`kernels/CMakeLists.txt`, XLA FFI handlers in C++) are built by CMake into one
shared library that lands inside `brainsim.kernels`: in the wheel for `pip install .`,
next to the sources (`kernels/`) for `pip install -e .`. The build needs CMake, a C++17
compiler and JAX's FFI headers (`jax.ffi.include_dir()`; `jax` is a build requirement).
If any of them is missing or the build fails, the package installs without the
library, and `brainsim.kernels` runs its pure-JAX reference with one warning.
Set `BRAINSIM_REQUIRE_NATIVE=1` to make a failed native build an error instead.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent

packages = find_packages(include=["brainsim", "brainsim.*"])
packages += ["brainsim.kernels"] + [f"brainsim.kernels.{p}" for p in find_packages("kernels")]


class CMakeLibrary(Extension):
    """A shared library that CMake builds from `source_dir` (loaded with ctypes, not imported)."""

    def __init__(self, name: str, source_dir: Path):
        super().__init__(name, sources=[])
        self.source_dir = source_dir


class BuildNative(build_ext):
    """Runs CMake for `CMakeLibrary` extensions; a failure leaves the package pure Python."""

    def build_extension(self, ext):
        if not isinstance(ext, CMakeLibrary):
            return super().build_extension(ext)
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        try:
            built = self._cmake(ext)
        except (OSError, RuntimeError, subprocess.CalledProcessError, ImportError) as err:
            if os.environ.get("BRAINSIM_REQUIRE_NATIVE", "") not in ("", "0"):
                raise
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            print(
                f"brainsim: native CPU kernels not built ({reason}); "
                "brainsim.kernels will use the pure-JAX reference",
                file=sys.stderr,
            )
            target.unlink(missing_ok=True)  # never leave a stale library behind
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # A new file renamed over the old one: processes that have the old library
        # mapped keep their copy (overwriting it in place could crash them).
        staging = target.with_name(target.name + ".tmp")
        shutil.copyfile(built, staging)
        os.replace(staging, target)

    def _cmake(self, ext: CMakeLibrary) -> Path:
        cmake = shutil.which("cmake")
        if cmake is None:
            raise RuntimeError("cmake not found on PATH")
        import jax  # a build requirement; imported late so a missing jax is reported above

        include_dir = jax.ffi.include_dir()
        build_dir = Path(self.build_temp).resolve() / "brainsim_kernels"
        build_dir.mkdir(parents=True, exist_ok=True)
        config = "Debug" if self.debug else "Release"
        subprocess.run(
            [
                cmake,
                "-S",
                str(ext.source_dir),
                "-B",
                str(build_dir),
                f"-DCMAKE_BUILD_TYPE={config}",
                f"-DXLA_FFI_INCLUDE_DIR={include_dir}",
            ],
            check=True,
        )
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", "2")
        subprocess.run(
            [cmake, "--build", str(build_dir), "--config", config, "-j", jobs], check=True
        )
        candidates = sorted(build_dir.rglob("_brainsim_kernels.*"))
        built = [p for p in candidates if p.suffix in (".so", ".dylib", ".dll")]
        if not built:
            raise RuntimeError(f"CMake produced no _brainsim_kernels library in {build_dir}")
        return built[0]


setup(
    packages=packages,
    package_dir={"brainsim.kernels": "kernels"},
    ext_modules=[CMakeLibrary("brainsim.kernels._brainsim_kernels", ROOT / "kernels")],
    cmdclass={"build_ext": BuildNative},
)
