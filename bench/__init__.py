"""Side-by-side benchmarks of brainsim against its peers (`python -m bench ...`).

Not part of the installed package. The peers (BrainPy 2.9, Brian2 2.11) run from their
own virtual environment, made by `bench/setup_peers.sh`; their scripts are the ones in
`../shared/anchors/perf/`, so both sides simulate the same model.
"""
