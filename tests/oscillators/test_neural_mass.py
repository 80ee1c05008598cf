"""Wilson-Cowan and Jansen-Rit against scipy's ODE solver and the alpha rhythm."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import brainsim as bs
from brainsim.oscillators import JansenRit, WilsonCowan

# Wilson and Cowan (1972) limit-cycle parameters, the model's defaults
WC = dict(c_ee=16.0, c_ei=12.0, c_ie=15.0, c_ii=3.0, a_e=1.3, th_e=4.0, a_i=2.0, th_i=3.7, p=1.25)


def wc_rhs(t, y, drive=None):
    """An independent numpy transcription of the Wilson-Cowan equations (tau = 10 ms)."""
    e, i = y

    def s(x, a, th):
        return 1 / (1 + np.exp(-a * (x - th))) - 1 / (1 + np.exp(a * th))

    k_e, k_i = (
        1 - 1 / (1 + np.exp(WC["a_e"] * WC["th_e"])),
        1 - 1 / (1 + np.exp(WC["a_i"] * WC["th_i"])),
    )
    x_e = WC["c_ee"] * e - WC["c_ei"] * i + WC["p"] + (0.0 if drive is None else drive(t))
    de = (-e + (k_e - e) * s(x_e, WC["a_e"], WC["th_e"])) / 10.0
    di = (-i + (k_i - i) * s(WC["c_ie"] * e - WC["c_ii"] * i, WC["a_i"], WC["th_i"])) / 10.0
    return [de, di]


def test_wilson_cowan_limit_cycle_matches_solve_ivp(x64):
    dt, t_end = 0.05, 300.0
    n_steps = round(t_end / dt)
    model = WilsonCowan(1, e_init=0.1, i_init=0.05)
    save = (bs.StateMonitor("e"), bs.StateMonitor("i"))
    sol = bs.integrate(
        model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps, save=save
    )
    e = np.asarray(sol.traces["e"][:, 0])
    t = dt * np.arange(1, n_steps + 1)
    ref = solve_ivp(
        wc_rhs, (0, t_end), [0.1, 0.05], t_eval=t, method="DOP853", rtol=1e-11, atol=1e-12
    )
    np.testing.assert_allclose(e, ref.y[0], atol=1e-7)
    # it is a limit cycle: undamped oscillation with a period of several tau
    late = e[t > 150]
    assert np.ptp(late) > 0.1
    ups = np.nonzero((late[:-1] < late.mean()) & (late[1:] >= late.mean()))[0]
    period = np.diff(ups).mean() * dt
    assert 20 < period < 100
    np.testing.assert_allclose(np.ptp(e[(t > 150) & (t < 225)]), np.ptp(e[t >= 225]), rtol=1e-2)


def test_wilson_cowan_delayed_coupling_matches_solve_ivp(x64):
    """Node 1 receives node 0 (uncoupled) through a 5 ms delay."""
    dt, t_end, delay, g = 0.01, 60.0, 5.0, 0.8
    n_steps = round(t_end / dt)
    coupling = np.array([[0.0, 0.0], [1.0, 0.0]])
    model = WilsonCowan(
        2, coupling=coupling, global_coupling=g, delays=delay, dt=dt, e_init=[0.1, 0.02],
        i_init=[0.05, 0.0],
    )  # fmt: skip
    sol = bs.integrate(
        model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps,
        save=(bs.StateMonitor("e"),),
    )  # fmt: skip
    e = np.asarray(sol.traces["e"])
    t = dt * np.arange(1, n_steps + 1)
    src = solve_ivp(wc_rhs, (0, t_end), [0.1, 0.05], dense_output=True, rtol=1e-11, atol=1e-12)

    def delayed(s):  # the history before t = 0 is the initial value
        return g * (0.1 if s - delay < 0 else src.sol(s - delay)[0])

    ref = solve_ivp(lambda s, y: wc_rhs(s, y, delayed), (0, t_end), [0.02, 0.0], t_eval=t,
                    max_step=0.05, rtol=1e-10, atol=1e-12)  # fmt: skip
    np.testing.assert_allclose(e[:, 0], src.sol(t)[0], atol=1e-7)
    err = np.max(np.abs(e[:, 1] - ref.y[0]))
    assert err < 2e-3, err  # the delayed input is held within a step: first order in dt
    # and the delay matters: without it node 1 would differ by far more
    no_delay = solve_ivp(lambda s, y: wc_rhs(s, y, lambda u: g * src.sol(u)[0]), (0, t_end),
                         [0.02, 0.0], t_eval=t, rtol=1e-10, atol=1e-12)  # fmt: skip
    assert np.max(np.abs(no_delay.y[0] - ref.y[0])) > 20 * err


def test_jansen_rit_alpha_rhythm():
    dt, seconds = 0.1, 4.0
    n_steps = round(seconds * 1000 / dt)
    model = JansenRit(1)
    sol = bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=dt, n_steps=n_steps,
                       save=(bs.StateMonitor("eeg", every=10),))  # fmt: skip
    eeg = np.asarray(sol.traces["eeg"][:, 0], np.float64)[1000:]  # drop the first second
    freqs = np.fft.rfftfreq(len(eeg), dt * 10 / 1000)
    power = np.abs(np.fft.rfft(eeg - eeg.mean())) ** 2
    peak = freqs[1:][np.argmax(power[1:])]
    assert 8.0 <= peak <= 12.0, peak
    # and a real oscillation around the known operating point (a few mV, positive mean)
    assert np.ptp(eeg) > 2.0 and 0 < eeg.mean() < 20


def test_jansen_rit_delayed_coupling_reads_the_past(x64):
    """Column 0 receives column 1 through a 10 ms delay: the same as feeding it the
    sigmoid of column 1's output 10 ms earlier (the history before t = 0 is the start)."""
    dt, n_steps, lag = 0.1, 1500, 100
    g = 50.0
    coupling = jnp.array([[0.0, 1.0], [0.0, 0.0]])
    net = JansenRit(2, coupling=coupling, global_coupling=g, delays=lag * dt, dt=dt,
                    p_min=220.0, p_max=220.0)  # fmt: skip
    save = (bs.StateMonitor("eeg"),)
    eeg = bs.integrate(net, net.init_state(key=jr.key(1)), None, dt=dt, n_steps=n_steps,
                       save=save).traces["eeg"]  # fmt: skip
    u = np.concatenate([[0.0], np.asarray(eeg[:, 1])])  # u[k]: column 1 at the start of step k
    past = u[np.maximum(np.arange(n_steps) - lag, 0)]
    single = JansenRit(1, p_min=220.0, p_max=220.0)
    drive = g * np.asarray(single.sigmoid(jnp.asarray(past)))[:, None]
    alone = bs.integrate(single, single.init_state(key=jr.key(1)), drive, dt=dt,
                         n_steps=n_steps, save=save).traces["eeg"]  # fmt: skip
    np.testing.assert_allclose(eeg[:, 0], alone[:, 0], atol=1e-9)
    # the coupling changes column 0
    free = JansenRit(2, p_min=220.0, p_max=220.0)
    eeg_free = bs.integrate(free, free.init_state(key=jr.key(1)), None, dt=dt, n_steps=n_steps,
                            save=save).traces["eeg"]  # fmt: skip
    assert float(jnp.max(jnp.abs(eeg[:, 0] - eeg_free[:, 0]))) > 0.1
    np.testing.assert_allclose(eeg[:, 1], eeg_free[:, 1], atol=1e-9)


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: WilsonCowan(2, coupling=np.zeros((3, 3))), "coupling"),
        (lambda: WilsonCowan(2, tau_e=-1.0), "tau_e"),
        (lambda: JansenRit(2, delays=np.ones((2, 3))), "delays"),
        (lambda: JansenRit(2, a=np.inf), "a"),
        (lambda: JansenRit(-1), "n"),
    ],
)
def test_neural_mass_bad_input(make, name):
    with pytest.raises(ValueError, match=name):
        make()


def test_delay_dt_mismatch_is_an_error():
    model = WilsonCowan(2, coupling=np.ones((2, 2)), delays=2.0, dt=0.1)
    with pytest.raises(ValueError, match="dt"):
        bs.integrate(model, model.init_state(key=jr.key(0)), None, dt=0.05, n_steps=3)
