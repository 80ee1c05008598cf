"""AKOrN layers: sphere, projection, rotation, couplings against hand computations, and
the energy as a Lyapunov function of the symmetric, rotation-free update."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from brainsim.oscillators import (
    AttentionCoupling,
    ConvCoupling,
    KuramotoBlock,
    ReadOut,
    Rotation,
    normalise_groups,
    project_tangent,
)


def test_projection_is_tangent_and_rotation_turns_by_atan(x64, getkey):
    x = normalise_groups(jr.normal(getkey(), (8, 3, 3)), 4)
    y = jr.normal(getkey(), (8, 3, 3))
    p = project_tangent(y, x, 4)
    inner = jnp.sum((p * x).reshape(2, 4, 3, 3), axis=1)
    np.testing.assert_allclose(inner, 0.0, atol=1e-12)
    # projection removes exactly the radial part: P_x(x) = 0, P_x(P_x y) = P_x y
    np.testing.assert_allclose(project_tangent(x, x, 4), 0.0, atol=1e-12)
    np.testing.assert_allclose(project_tangent(p, x, 4), p, atol=1e-12)
    # one step of the rotation alone turns a 2-vector by atan(gamma * omega)
    omega, gamma = 0.7, 0.5
    zero = KuramotoBlock(
        _Zero(),
        channels=2,
        dim=2,
        n_steps=1,
        gamma=gamma,
        omega=Rotation(2, 2, omega=omega),
        normalise_stimulus=False,
    )
    x0 = jnp.array([1.0, 0.0]).reshape(2, 1, 1)
    x1, _ = zero(x0, jnp.zeros_like(x0))
    np.testing.assert_allclose(jnp.arctan2(x1[1, 0, 0], x1[0, 0, 0]), np.arctan(gamma * omega))


class _Zero:
    """No coupling."""

    def __call__(self, x):
        return jnp.zeros_like(x)


def _conv_by_hand(x, w):
    """Zero-padded 'same' cross-correlation by loops: out[o,i,j] = sum w[o,c,a,b] x[c,..]."""
    cout, cin, k, _ = w.shape
    _, h, wd = x.shape
    r = k // 2
    out = np.zeros((cout, h, wd))
    for o in range(cout):
        for i in range(h):
            for j in range(wd):
                for c in range(cin):
                    for a in range(k):
                        for b in range(k):
                            ii, jj = i + a - r, j + b - r
                            if 0 <= ii < h and 0 <= jj < wd:
                                out[o, i, j] += w[o, c, a, b] * x[c, ii, jj]
    return out


def test_conv_coupling_against_loops_and_its_symmetric_form(x64, getkey):
    coupling = ConvCoupling(2, 3, key=getkey())
    x = np.asarray(jr.normal(getkey(), (2, 4, 3)))
    w = np.asarray(coupling.weight)
    np.testing.assert_allclose(coupling(jnp.asarray(x)), _conv_by_hand(x, w), atol=1e-12)
    # a hand case: the centre tap of a 1-channel kernel [[0,0,0],[0,2,1],[0,0,0]]
    kernel = jnp.zeros((1, 1, 3, 3)).at[0, 0, 1, 1].set(2.0).at[0, 0, 1, 2].set(1.0)
    one = eqx.tree_at(lambda m: m.weight, ConvCoupling(1, 3, key=getkey()), kernel)
    row = jnp.array([[[1.0, 10.0, 100.0]]])
    np.testing.assert_allclose(one(row), [[[12.0, 120.0, 200.0]]])
    # the symmetric form is a symmetric linear operator (zero padding keeps it so)
    sym = ConvCoupling(2, 3, symmetric=True, key=getkey())
    dense = jax.jacobian(lambda v: sym(v.reshape(2, 4, 3)).ravel())(jnp.zeros(24))
    np.testing.assert_allclose(dense, dense.T, atol=1e-12)
    assert not np.allclose(
        jax.jacobian(lambda v: coupling(v.reshape(2, 4, 3)).ravel())(jnp.zeros(24)),
        dense.T,
    )


def test_attention_coupling_against_numpy(x64, getkey):
    c, heads = 4, 2
    att = AttentionCoupling(c, heads, n_sites=6, key=getkey())
    bias = jr.normal(getkey(), (heads, 6, 6))
    att = eqx.tree_at(lambda m: m.site_bias, att, bias)
    x = np.asarray(jr.normal(getkey(), (c, 2, 3)))
    wq, wk, wv = np.split(np.asarray(att.w_qkv), 3)
    tokens = x.reshape(c, 6).T  # (L, C)
    dh = c // heads
    out = np.zeros((6, c))
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        q, k, v = tokens @ wq[sl].T, tokens @ wk[sl].T, tokens @ wv[sl].T
        logits = q @ k.T / np.sqrt(dh) + np.asarray(bias[h])
        a = np.exp(logits - logits.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        out[:, sl] = a @ v
    expected = (out @ np.asarray(att.w_out).T).T.reshape(c, 2, 3)
    np.testing.assert_allclose(att(jnp.asarray(x)), expected, atol=1e-12)


def test_norm_is_preserved_with_attention_conv_and_rotation(getkey):
    for coupling in (AttentionCoupling(16, 4, key=getkey()), ConvCoupling(16, 3, key=getkey())):
        block = KuramotoBlock(
            coupling, channels=16, dim=4, n_steps=12, omega=Rotation(16, 4, omega=0.5)
        )
        x, energies = block(jr.normal(getkey(), (16, 5, 5)), jr.normal(getkey(), (16, 5, 5)))
        norms = jnp.linalg.norm(x.reshape(4, 4, 5, 5), axis=1)
        np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
        assert energies.shape == (13,) and bool(jnp.all(jnp.isfinite(energies)))


@pytest.mark.parametrize("dim", [2, 4])
def test_energy_never_increases_with_symmetric_coupling_and_no_rotation(x64, getkey, dim):
    channels = 4 * dim // 2
    coupling = ConvCoupling(channels, 3, symmetric=True, key=getkey())
    block = KuramotoBlock(
        coupling, channels=channels, dim=dim, n_steps=300, gamma=0.05, normalise_stimulus=False
    )
    c = 0.5 * jr.normal(getkey(), (channels, 6, 6))
    x, energies = block(jr.normal(getkey(), (channels, 6, 6)), c)
    steps = np.diff(np.asarray(energies))
    assert np.all(steps <= 1e-12), steps.max()
    assert energies[-1] < energies[0] - 0.1  # it does descend
    # and at the rate of the gradient flow: dE = -gamma |P_x(c + J x)|^2 + O(gamma^2)
    x0 = normalise_groups(jr.normal(getkey(), (channels, 6, 6)), dim)
    drive = project_tangent(c + coupling(x0), x0, dim)
    one = KuramotoBlock(
        coupling, channels=channels, dim=dim, n_steps=1, gamma=1e-4, normalise_stimulus=False
    )
    _, e = one(x0, c)
    np.testing.assert_allclose((e[1] - e[0]) / 1e-4, -jnp.sum(drive**2), rtol=1e-3)


def test_energy_rises_under_rotation_or_asymmetric_coupling(x64, getkey):
    """The control: without the two conditions the energy is not monotone."""
    c = jnp.broadcast_to(jnp.array([1.0, 0.0]).reshape(2, 1, 1), (2, 3, 3))
    rot = KuramotoBlock(
        _Zero(),
        channels=2,
        dim=2,
        n_steps=40,
        gamma=0.1,
        omega=Rotation(2, 2, omega=3.0),
        normalise_stimulus=False,
    )
    _, energies = rot(jr.normal(getkey(), (2, 3, 3)), c)
    assert np.max(np.diff(np.asarray(energies))) > 1e-3
    # a rotation-like (antisymmetric) coupling between the two components
    asym = ConvCoupling(2, 1, key=getkey())
    asym = eqx.tree_at(
        lambda m: m.weight, asym, jnp.array([[0.0, -3.0], [3.0, 0.0]])[..., None, None]
    )
    block = KuramotoBlock(asym, channels=2, dim=2, n_steps=40, gamma=0.1, normalise_stimulus=False)
    _, energies = block(jr.normal(getkey(), (2, 3, 3)), c)
    assert np.max(np.diff(np.asarray(energies))) > 1e-3


def test_readout_is_a_norm_of_a_linear_map(x64, getkey):
    ro = ReadOut(4, 3, 2, key=getkey())
    x = jr.normal(getkey(), (4, 2, 2))
    y = np.einsum("oc,chw->ohw", np.asarray(ro.conv.weight[:, :, 0, 0]), np.asarray(x))
    y = y + np.asarray(ro.conv.bias)
    expected = np.linalg.norm(y.reshape(3, 2, 2, 2), axis=1)
    np.testing.assert_allclose(ro(x), expected, atol=1e-6)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda k: Rotation(6, 4), "channels"),
        (lambda k: Rotation(4, 0), "dim"),
        (lambda k: ConvCoupling(4, 2, key=k), "kernel_size"),
        (lambda k: AttentionCoupling(6, 4, key=k), "heads"),
        (lambda k: KuramotoBlock(_Zero(), channels=4, dim=2, n_steps=0), "n_steps"),
        (lambda k: KuramotoBlock(_Zero(), channels=4, dim=2, n_steps=1, gamma=-1.0), "gamma"),
        (lambda k: Rotation(4, 2, omega=float("nan")), "omega"),
    ],
)
def test_bad_input(getkey, make, name):
    with pytest.raises(ValueError, match=name):
        make(getkey())


def test_dense_akorn_energy_is_a_lyapunov_function(x64, getkey):
    import brainsim as bs
    from brainsim.oscillators import AKOrN

    n, dim = 6, 3
    a = jr.normal(getkey(), (n, n))
    model = AKOrN(n, dim, coupling=(a + a.T) / 2, omega=jnp.zeros((dim, dim)))
    c = 0.5 * jr.normal(getkey(), (n, dim))
    sol = bs.integrate(
        model,
        model.init_state(key=getkey()),
        jnp.broadcast_to(c, (200, n, dim)),
        dt=0.02,
        n_steps=200,
        save=(bs.StateMonitor("x"),),
    )
    energies = jax.vmap(lambda x: model.energy(x, c))(sol.traces["x"])
    assert np.all(np.diff(np.asarray(energies)) <= 1e-12)
    assert energies[-1] < energies[0]
