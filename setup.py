"""Package layout: `brainsim/` plus `kernels/`, which installs as `brainsim.kernels`."""

from setuptools import find_packages, setup

packages = find_packages(include=["brainsim", "brainsim.*"])
packages += ["brainsim.kernels"] + [f"brainsim.kernels.{p}" for p in find_packages("kernels")]

setup(packages=packages, package_dir={"brainsim.kernels": "kernels"})
