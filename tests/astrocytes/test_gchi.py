"""G-ChI astrocytes: synaptically driven IP3 against scipy; IP3 gap-junction coupling."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.astrocytes import GChI, GChIState, IP3Coupling
from brainsim.network import symmetrize

# Stimberg et al. (2018), Fig. 2, written out again for the independent scipy reference.
P = dict(
    o_p=0.9,
    k_p=0.1,
    c_t=2.0,
    rho_a=0.18,
    o_c=6.0,
    o_l=0.1,
    d1=0.13,
    d2=1.05,
    o_2=0.2,
    d3=0.9434,
    d5=0.08,
    o_beta=5.0,
    o_n=0.3,
    omega_n=0.5,
    k_kc=0.5,
    zeta=10.0,
    o_delta=0.2,
    kappa_delta=1.5,
    k_delta=0.3,
    omega_5p=0.1,
    k_d=0.5,
    k_3k=1.0,
    o_3k=4.5,
    omega_c=40.0,
)


run = eqx.filter_jit(bs.integrate)


def reference_rhs(t, state, y_bias, f_gap):
    """G-ChI for one or two cells (`f_gap` couples two), per ms; state (c, h, i, g, y)."""
    p = P
    c, h, i, g, y = np.reshape(state, (5, -1))
    m = i / (i + p["d1"]) * c / (c + p["d5"])
    dc = (p["o_c"] * m**3 * h**3 + p["o_l"]) * (p["c_t"] - (1 + p["rho_a"]) * c)
    dc = dc - p["o_p"] * c**2 / (c**2 + p["k_p"] ** 2)
    q2 = p["d2"] * (i + p["d1"]) / (i + p["d3"])
    dh = p["o_2"] * (q2 * (1 - h) - c * h)
    di = (
        p["o_beta"] * g
        + p["o_delta"] / (1 + i / p["kappa_delta"]) * c**2 / (c**2 + p["k_delta"] ** 2)
        - p["o_3k"] * c**4 / (c**4 + p["k_d"] ** 4) * i / (i + p["k_3k"])
        - p["omega_5p"] * i
    )
    if len(c) == 2:
        di = di + f_gap * (i[::-1] - i)
    dg = p["o_n"] * y * (1 - g) - p["omega_n"] * (1 + p["zeta"] * c / (c + p["k_kc"])) * g
    dy = p["omega_c"] * (y_bias - y)
    return np.concatenate([dc, dh, di, dg, dy]) * 1e-3


def test_spike_driven_trajectory_matches_scipy(x64):
    """Presynaptic spikes every 300 ms release glutamate; 3 s at dt = 1 ms."""
    dt, n_steps, every = 1.0, 3000, 300
    model = GChI(1)
    spikes = np.zeros((n_steps, 1))
    spikes[::every] = 1.0
    sol = run(
        model,
        model.init_state(key=jr.key(0)),
        jnp.asarray(spikes),
        dt=dt,
        n_steps=n_steps,
        save=[bs.StateMonitor(name) for name in ("c", "ip3", "gamma_a")],
    )
    # scipy: integrate between spikes; each spike adds 500 uM of glutamate at its step start
    state = np.array([0.05, 0.9, 0.1, 0.0, 0.0])
    ts = dt * np.arange(1, n_steps + 1)
    out = []
    for start in range(0, n_steps, every):
        state[4] += 500.0
        seg = ts[start : start + every]
        r = solve_ivp(
            reference_rhs,
            (start * dt, seg[-1]),
            state,
            args=(0.0, 0.0),
            t_eval=seg,
            method="DOP853",
            rtol=1e-9,
            atol=1e-12,
        )
        assert r.success
        out.append(r.y)
        state = r.y[:, -1].copy()
    ref = np.concatenate(out, axis=1)
    # RK4 at 1 ms against scipy at rtol 1e-9; the largest error is in the fast receptor
    # binding right after a spike (rate o_n * 500 uM = 150/s), measured 1.1e-6
    for k, name, atol in ((0, "c", 5e-8), (2, "ip3", 5e-7), (3, "gamma_a", 5e-6)):
        np.testing.assert_allclose(np.asarray(sol.traces[name])[:, 0], ref[k], atol=atol)
    # the drive matters: IP3 rises well above its unstimulated value
    assert np.asarray(sol.traces["ip3"]).max() > 0.5


def test_ambient_glutamate_oscillation_matches_scipy(x64):
    """An unstimulated astrocyte in 0.1 uM glutamate oscillates (period about 6.3 s)."""
    dt, n_steps = 10.0, 4000
    model = GChI(1, y_bias=0.1)
    sol = run(
        model,
        model.init_state(key=jr.key(0)),
        dt=dt,
        n_steps=n_steps,
        save=[bs.StateMonitor("c")],
    )
    ts = dt * np.arange(1, n_steps + 1)
    r = solve_ivp(
        reference_rhs,
        (0.0, ts[-1]),
        [0.05, 0.9, 0.1, 0.0, 0.1],
        args=(0.1, 0.0),
        t_eval=ts,
        method="DOP853",
        rtol=1e-9,
        atol=1e-12,
    )
    c = np.asarray(sol.traces["c"])[:, 0]
    np.testing.assert_allclose(c, r.y[0], atol=1e-6)
    assert np.ptp(c[ts > 20_000]) > 0.25


def test_coupling_flux_by_hand():
    """A chain 0 - 1 - 2 with permeabilities 0.5 and 2 (1/s), both directions."""
    g = np.array([[0.0, 0.5, 0.0], [0.5, 0.0, 2.0], [0.0, 2.0, 0.0]])
    coupling = IP3Coupling(g)
    ip3 = jnp.array([1.0, 0.4, 0.1])
    expected = [0.5 * (0.4 - 1.0), 0.5 * (1.0 - 0.4) + 2.0 * (0.1 - 0.4), 2.0 * (0.4 - 0.1)]
    np.testing.assert_allclose(coupling.flux(ip3), expected, rtol=1e-6)
    # a one-way junction 0 -> 1 only feeds cell 1
    one_way = IP3Coupling(np.array([[0.0, 1.5], [0.0, 0.0]]))
    np.testing.assert_allclose(one_way.flux(jnp.array([1.0, 0.2])), [0.0, 1.5 * 0.8], rtol=1e-6)


def test_symmetric_coupling_conserves_ip3(getkey):
    n = 40
    rng = np.random.default_rng(0)
    pre, post = rng.integers(0, n, 120), rng.integers(0, n, 120)
    keep = pre != post
    order = np.argsort(pre[keep], kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(pre[keep], minlength=n))])
    w = rng.uniform(0.1, 1.0, keep.sum())
    conn = CSR(indptr, post[keep][order], w[order], n_pre=n, n_post=n, major="pre")
    ip3 = jr.uniform(getkey(), (n,), minval=0.1, maxval=2.0)
    asym = IP3Coupling(conn).flux(ip3)
    sym = IP3Coupling(symmetrize(conn)).flux(ip3)
    scale = float(jnp.abs(sym).max())
    assert abs(float(jnp.sum(sym))) < 1e-5 * scale
    assert abs(float(jnp.sum(asym))) > 1e-2 * scale  # one-way junctions do not conserve
    # inside the model the gap flux also sums to zero at every state
    model = GChI(n, coupling=IP3Coupling(symmetrize(conn)))
    c = jr.uniform(getkey(), (n,), minval=0.05, maxval=0.5)
    fluxes = model.ip3_fluxes(c, ip3, jnp.zeros((n,)))
    assert abs(float(jnp.sum(fluxes["gap"]))) < 1e-5 * scale


def _two_cells(f_gap):
    g = CSR([0, 1, 2], [1, 0], f_gap, n_pre=2, n_post=2, major="pre")
    model = GChI(2, y_bias=0.1, coupling=IP3Coupling(g))
    state = GChIState(
        c=jnp.array([0.05, 0.3]),
        h=jnp.array([0.9, 0.6]),
        ip3=jnp.array([0.1, 0.5]),
        gamma_a=jnp.array([0.0, 0.05]),
        y=jnp.array([0.1, 0.1]),
    )
    sol = run(model, state, dt=10.0, n_steps=8_000, save=[bs.StateMonitor("c")])
    return np.asarray(sol.traces["c"])


def test_two_coupled_astrocytes_synchronise(x64):
    """Uncoupled, two identical oscillators keep their phase difference; coupled by IP3
    diffusion (0.5/s) they lock in phase within 80 s."""
    last = slice(-1000, None)  # the last 10 s
    apart = _two_cells(0.0)
    together = _two_cells(0.5)
    assert np.abs(apart[last, 0] - apart[last, 1]).max() > 0.1
    assert np.abs(together[last, 0] - together[last, 1]).max() < 1e-6
    assert np.ptp(together[last, 0]) > 0.25  # still oscillating


def test_bad_input():
    with pytest.raises(ValueError, match="omega_c"):
        GChI(2, omega_c=0.0)
    with pytest.raises(ValueError, match="y_bias"):
        GChI(2, y_bias=-1.0)
    with pytest.raises(ValueError, match="coupling"):
        GChI(3, coupling=IP3Coupling(np.zeros((2, 2))))
    with pytest.raises(ValueError, match="square"):
        IP3Coupling(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="permeability"):
        IP3Coupling(np.array([[0.0, -1.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="n_pre == n_post"):
        IP3Coupling(CSR([0, 1], [2], 1.0, n_pre=1, n_post=3, major="pre"))
