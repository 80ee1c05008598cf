"""Runs shared by the multi-device tests, in-process (1 device) or as a script.

`python multidevice_helper.py MODE OUT.npz` is started by the tests with
`XLA_FLAGS=--xla_force_host_platform_device_count=4` (the flag must be set before JAX
is imported, hence the subprocess). MODE is `sweep` or `partition`.
"""

import sys

import jax
import jax.random as jr
import numpy as np

from brainsim.config import build_network, load_config
from brainsim.network._partition import integrate_partitioned, neuron_mesh, partition
from brainsim.sweeps import CVISI, MeanRate, Synchrony, grid, sweep


def coba(n_e: int, n_i: int, p: float, *, duration: float = 100.0):
    """The COBA benchmark network (configs/coba.yaml) at another size and density."""
    overrides = [f"populations.E.n={n_e}", f"populations.I.n={n_i}", f"duration={duration}"]
    overrides += [f"projections.{k}.connect.p={p}" for k in ("EE", "EI", "IE", "II")]
    config = load_config("configs/coba.yaml", overrides=overrides)
    network, _ = build_network(config)
    return network, config


def sweep_summaries() -> dict[str, np.ndarray]:
    """A sharded (when there are several devices) sweep of (w_e, w_i), 8 runs."""
    network, config = coba(160, 40, 0.2, duration=60.0)
    params = grid(
        {"projections.EE.conn.weights": [0.4, 1.0], "projections.IE.conn.weights": [3.0, 8.0]}
    )
    result = sweep(
        network,
        params,
        duration=config.duration,
        dt=config.dt,
        seeds=2,
        chunk=4,
        summaries={"rate": MeanRate("E"), "cv": CVISI("E"), "sync": Synchrony("E")},
    )
    return {**result.summaries, "point": result.point, "seed": result.seed}


def partition_spikes(n_devices: int, n_steps: int = 200) -> dict[str, np.ndarray]:
    """Spikes of a 2000-neuron COBA network partitioned over `n_devices` devices."""
    network, config = coba(1600, 400, 0.02)
    state0 = network.init_state(key=jr.key(0))
    spikes = integrate_partitioned(
        partition(network), state0, dt=config.dt, n_steps=n_steps, mesh=neuron_mesh(n_devices)
    )
    return {k: np.asarray(v) for k, v in spikes.items()}


def main(mode: str, out: str) -> None:
    if mode == "sweep":
        result = {"n_devices": np.array(len(jax.devices())), **sweep_summaries()}
    else:
        result = {f"{n}:{k}": v for n in (2, 4) for k, v in partition_spikes(n).items()}
    np.savez(out, **result)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
