"""`brainsim sweep` through the real entry point."""

import csv

from brainsim.cli import main

SMALL = [
    "--set", "populations.E.n=80", "--set", "populations.I.n=20",
    "--set", "projections.EE.connect.p=0.5", "--set", "projections.EI.connect.p=0.5",
    "--set", "projections.IE.connect.p=0.5", "--set", "projections.II.connect.p=0.5",
]  # fmt: skip


def test_sweep_writes_table_and_heat_maps(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", "configs/coba.yaml", *SMALL, "--grid", "projections.EE.weight=0.2:1.0:2",
                 "--grid", "projections.IE.weight=2:6:2", "--seeds", "2", "--duration", "20",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    with (out / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 * 2 * 2
    assert {r["seed"] for r in rows} == {"0", "1"}
    assert (out / "rate_E.png").stat().st_size > 0


def test_sweep_bad_key_exits_2_with_one_line(tmp_path, capsys):
    code = main(
        [
            "sweep",
            "configs/coba.yaml",
            "--grid",
            "model.we=0.2:1.2:11",
            "--out",
            str(tmp_path / "x"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "model.we" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "x").exists()
