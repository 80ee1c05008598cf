"""Gliotransmission and the tripartite synapse: hand-computed cases and the closed loop."""

import equinox as eqx
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from brainsim.kernels import CSR

import brainsim as bs
from brainsim.astrocytes import (
    GChI,
    Gliotransmission,
    LiRinzel,
    TripartiteProjection,
)
from brainsim.inputs import SpikeGenerator
from brainsim.network import Network, Projection
from brainsim.neurons import LIF
from brainsim.synapses import CUBA, Exponential, TsodyksMarkram

run = eqx.filter_jit(bs.integrate)
U_A, G_RELEASE, OMEGA_E, O_G, OMEGA_A = 0.6, 130.0, 60.0, 1.5, 0.6


def test_gliotransmitter_release_by_hand(x64):
    """Two threshold crossings 1 s apart, no receptor unbinding (omega_g = 0)."""
    glio = Gliotransmission(1, omega_g=0.0, alpha=0.9)
    state = glio.init_state()
    step = eqx.filter_jit(glio.step)
    dt = 1.0
    calcium = np.concatenate([np.zeros(5), np.ones(300), np.zeros(700), np.ones(10)])
    events = []
    for k, c in enumerate(calcium):
        before = state
        state, _ = step(state, jnp.array([c]), jnp.asarray(k * dt), dt)
        if float(state.g_a[0]) > float(before.g_a[0]) + 1.0:
            events.append(k)
        if k == 5:  # the first crossing: 60 % of the full resources go out
            np.testing.assert_allclose(state.x_a, [1 - U_A], rtol=1e-12)
            np.testing.assert_allclose(state.g_a, [G_RELEASE * U_A], rtol=1e-12)
        if k == 304:  # 299 steps later, still above threshold: no second release
            g0 = G_RELEASE * U_A
            np.testing.assert_allclose(state.g_a, [g0 * np.exp(-OMEGA_E * 0.299)], rtol=1e-5)
            # all the gliotransmitter has been bound: gamma = 1 - exp(-o_g int g dt)
            bound = 1 - np.exp(-O_G * g0 / OMEGA_E * (1 - np.exp(-OMEGA_E * 0.299)))
            np.testing.assert_allclose(state.gamma_s, [bound], rtol=1e-6)
            gamma_1 = bound
        if k == 1005:  # the second release takes 60 % of the resources recovered in 1 s
            x_before = 1 - U_A * np.exp(-OMEGA_A * 1.0)
            np.testing.assert_allclose(state.x_a, [x_before * (1 - U_A)], rtol=1e-6)
    assert events == [5, 1005]
    np.testing.assert_allclose(
        glio.release_probability(jnp.array([gamma_1]), 0.3), [(1 - gamma_1) * 0.3 + 0.9 * gamma_1]
    )


def _projection(stp=None):
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]])  # (n_pre, n_post)
    pre, post = np.nonzero(w)
    conn = CSR([0, 2, 4, 6, 8], post, w[pre, post], n_pre=4, n_post=2, major="pre")
    return Projection("A", "B", conn, Exponential(2, 5.0), CUBA(), stp=stp), w


@pytest.mark.parametrize("with_stp", [False, True])
def test_release_modulation_by_hand(x64, getkey, with_stp):
    """Astrocyte 0 holds presynaptic neurons 0 and 1, astrocyte 1 neuron 2, none neuron 3.
    With gamma_s = (0.5, 0) and alpha = 1, u0 = 0.5, the synapses of neurons 0 and 1
    release with U = 0.75 instead of 0.5."""
    stp = TsodyksMarkram(4, U=0.5, tau_f=0.0, tau_d=0.0) if with_stp else None
    proj, w = _projection(stp)
    tri = TripartiteProjection(
        proj,
        GChI(2),
        Gliotransmission(2, alpha=1.0),
        territory=[0, 0, 1, -1],
        u0=None if with_stp else 0.5,
    )
    state = tri.init_state(key=getkey())
    state = eqx.tree_at(lambda s: s.release.gamma_s, state, jnp.array([0.5, 0.0]))
    np.testing.assert_allclose(tri.release_probability(state), [0.75, 0.75, 0.5, 0.5])
    spikes = jnp.ones(4)
    new = eqx.filter_jit(tri.update)(state, spikes, 0.0, 1.0)
    # without STP each spike is scaled by U / u0; with TsodyksMarkram (rested every step
    # here) the efficacy is U itself
    scale = np.array([0.75, 0.75, 0.5, 0.5]) / (1.0 if with_stp else 0.5)
    np.testing.assert_allclose(new.projection.synapse, scale @ w, rtol=1e-12)
    # the astrocytes received the glutamate of their own territories: 2 and 1 spikes
    y = new.astrocytes.y
    z = 40.0 * 1e-3  # omega_c dt: RK4 of the exponential clearance over one step
    decay = 1 - z + z**2 / 2 - z**3 / 6 + z**4 / 24
    np.testing.assert_allclose(y, [1000.0 * decay, 500.0 * decay], rtol=1e-12)


def _network(territory):
    pre = SpikeGenerator(2, np.arange(0, 1000, 100.0).repeat(2), np.tile([0, 1], 10))
    conn = CSR([0, 1, 2], [0, 0], 1.0, n_pre=2, n_post=1, major="pre")
    proj = Projection("A", "B", conn, Exponential(1, 5.0), CUBA())
    tri = TripartiteProjection(
        proj, GChI(1), Gliotransmission(1, alpha=0.0), territory=territory, u0=0.6
    )
    return Network({"A": pre, "B": LIF(1, v_th=1e9)}, {"AB": tri})


def test_closed_loop_depresses_release():
    """10 Hz presynaptic firing drives the astrocyte's IP3; its calcium crosses 0.5 uM
    within 0.4 s, releases gliotransmitter, and the release probability falls from 0.6
    towards alpha = 0 (De Pitta et al. 2011's depressing gliotransmission)."""
    results = {}
    for name, territory in (("astrocyte", [0, 0]), ("none", [-1, -1])):
        net = _network(territory)
        sol = run(
            net,
            net.init_state(key=jr.key(0)),
            dt=1.0,
            n_steps=1000,
            save=[bs.StateMonitor("AB.astrocytes.c", every=10)],
        )
        tri = net.projections["AB"]
        results[name] = (
            np.asarray(sol.traces["AB.astrocytes.c"])[:, 0],
            np.asarray(tri.release_probability(sol.state.projections["AB"])),
        )
    c, u = results["astrocyte"]
    assert c.max() > 0.5 and np.argmax(c > 0.5) < 50  # crossed within 0.5 s
    assert np.all(u < 0.2)  # gamma_s about 0.85: U = 0.6 (1 - gamma_s)
    c_none, u_none = results["none"]
    assert c_none.max() < 0.5  # an astrocyte without synapses stays at rest
    np.testing.assert_allclose(u_none, 0.6)


def test_with_li_rinzel_astrocytes(getkey):
    """A LiRinzel astrocyte takes no synaptic input: its calcium follows its own IP3."""
    proj, _ = _projection()
    tri = TripartiteProjection(proj, LiRinzel(1, ip3=0.5))
    state = tri.init_state(key=getkey())
    new = eqx.filter_jit(tri.update)(state, jnp.ones(4), 0.0, 1.0)
    ref, _ = eqx.filter_jit(tri.astrocytes.step)(state.astrocytes, None, 0.0, 1.0)
    np.testing.assert_array_equal(new.astrocytes.c, ref.c)


def test_bad_input():
    proj, _ = _projection()
    with pytest.raises(ValueError, match="territory is required"):
        TripartiteProjection(proj, GChI(3))
    with pytest.raises(ValueError, match="territory must be 4 integers"):
        TripartiteProjection(proj, GChI(2), territory=[0, 1])
    with pytest.raises(ValueError, match="territory values"):
        TripartiteProjection(proj, GChI(2), territory=[0, 1, 2, 0])
    with pytest.raises(ValueError, match="release must be"):
        TripartiteProjection(proj, GChI(1), Gliotransmission(2))
    with pytest.raises(ValueError, match="astrocytes must be"):
        TripartiteProjection(proj, LIF(1))
    with pytest.raises(ValueError, match="alpha"):
        Gliotransmission(1, alpha=1.5)
    with pytest.raises(ValueError, match="u0"):
        TripartiteProjection(proj, GChI(1), u0=0.0)
    with pytest.raises(ValueError, match="u0 must not be given"):
        stp_proj, _ = _projection(TsodyksMarkram(4))
        TripartiteProjection(stp_proj, GChI(1), u0=0.5)
