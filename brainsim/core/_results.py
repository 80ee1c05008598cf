"""Outcome codes returned by `integrate` and `simulate`."""

import equinox as eqx


class RESULTS(eqx.Enumeration):
    """Why a run ended. `successful` is the only good outcome."""

    successful = ""
    nonfinite_state = "a state variable became NaN or infinite"
