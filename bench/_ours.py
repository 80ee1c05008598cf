"""One brainsim run of the COBA / CUBA / COBAHH benchmark; prints one `RESULT {json}` line.

Run as `python -m bench._ours --model coba --scale 1 --duration 1000`. The network is
`configs/<model>.yaml` with N = 4000 * scale neurons (80 % E) and p = 0.02 / scale, so
every size keeps about 80 inputs per neuron, as in the peers' scripts.
"""

import argparse
import json
import pathlib
import time

CONFIGS = pathlib.Path(__file__).resolve().parent.parent / "configs"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", choices=("coba", "cuba", "coba_hh"), default="coba")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=1000.0, help="ms")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    import jax
    import jax.random as jr

    import brainsim as bs
    from brainsim.config import build_network, load_config

    n_e, n_i = int(3200 * args.scale), int(800 * args.scale)
    p = 0.02 / args.scale
    overrides = [f"populations.E.n={n_e}", f"populations.I.n={n_i}", f"duration={args.duration}"]
    overrides += [f"projections.{name}.connect.p={p}" for name in ("EE", "EI", "IE", "II")]
    tic = time.perf_counter()
    config = load_config(CONFIGS / f"{args.model}.yaml", overrides=overrides)
    net, monitors = build_network(config)
    build_s = time.perf_counter() - tic
    res = bs.simulate(
        net, config.duration, dt=config.dt, key=jr.key(args.seed), monitors=monitors, progress=False
    )
    seconds = config.duration / 1000.0
    rate = {
        k.split(":")[1]: len(v[0]) / net.size(k.split(":")[1]) / seconds
        for k, v in res.spikes.items()
    }
    result = {
        "simulator": "brainsim",
        "version": bs.__version__,
        "model": args.model,
        "backend": f"jax {jax.__version__} {jax.default_backend()}",
        "N": n_e + n_i,
        "prob": p,
        "sim_s": seconds,
        "build_s": round(build_s, 3),
        "compile_s": round(res.timing["compile_s"], 3),
        "sim_wall_s": round(res.timing["run_s"], 3),
        "rate_E": round(rate["E"], 3),
        "rate_I": round(rate["I"], 3),
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
