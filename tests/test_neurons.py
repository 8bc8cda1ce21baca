"""Closed forms of the neuron models against ODE integration and finite differences."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smoothgrad import LIF, QIF, Theta
from smoothgrad import neurons as nm
from smoothgrad.reference import central, ode_flow, ode_spike_time

W_MIN = math.pi ** 2 / 4


REGIMES = ["I>0", "I=0", "I<0 |V|>sqrt(-I)", "I<0 |V|<sqrt(-I)", "|V|=sqrt(-I)"]


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("tau", [1.0, 2.5])
def test_flow_matches_ode_in_every_regime(regime, tau):
    rng = np.random.default_rng([REGIMES.index(regime), int(10 * tau)])  # the same draws in every process
    n = 100
    if regime == "I>0":
        V, I = rng.uniform(-3, 3, n), rng.uniform(1e-3, 5, n)
    elif regime == "I=0":
        V, I = rng.uniform(-3, 3, n), np.zeros(n)
    elif regime == "I<0 |V|>sqrt(-I)":
        I = -rng.uniform(0.01, 4, n)
        V = np.sqrt(-I) * rng.choice([-1, 1], n) * rng.uniform(1.01, 3, n)
    elif regime == "I<0 |V|<sqrt(-I)":
        I = -rng.uniform(0.01, 4, n)
        V = np.sqrt(-I) * rng.uniform(-0.99, 0.99, n)
    else:
        I = -rng.uniform(0.01, 4, n)
        V = np.sqrt(-I) * rng.choice([-1, 1], n)
    qif = QIF(tau=tau)
    dt = np.minimum(rng.uniform(0.01, 3, n), 0.9 * qif.time_to_spike(V, I))
    V1, I1 = qif.flow(V, I, dt)
    ref = np.array([ode_flow(qif, *x) for x in zip(V, I, dt)])
    assert np.max(np.abs(V1 - ref[:, 0]) / np.maximum(1, np.abs(ref[:, 0]))) < 1e-9
    np.testing.assert_allclose(I1, ref[:, 1], rtol=1e-11, atol=1e-13)  # atol: the ODE reference's own accuracy


def test_spike_time_matches_integrated_blowup():
    rng = np.random.default_rng(3)
    qif = QIF(tau=1.3)
    V, I = rng.uniform(-2, 4, 150), rng.uniform(-3, 10, 150)
    closed = qif.time_to_spike(V, I)
    ode = np.array([ode_spike_time(qif, v, c) for v, c in zip(V, I)])
    finite = np.isfinite(closed)
    assert finite.sum() > 40 and (~finite).sum() > 10
    assert np.array_equal(finite, np.isfinite(ode) & (ode < 59))
    np.testing.assert_allclose(closed[finite], ode[finite], rtol=1e-9, atol=1e-9)


def test_paper_spike_times_and_reset():
    qif = QIF()
    np.testing.assert_allclose(0.5 + qif.time_to_spike(0.0, [1.5 * W_MIN, 1.15 * W_MIN]), [2.1955, 3.1957], atol=5e-5)
    assert np.isinf(qif.time_to_spike(0.0, W_MIN * (1 - 1e-12)))
    # from reset the phase must cover pi: s* = pi / sqrt(I)
    I = 40.0
    assert qif.time_to_spike(-np.inf, I) == pytest.approx(-math.log1p(-math.pi / math.sqrt(I)), rel=1e-14)
    V1, _ = qif.flow(-np.inf, 3.0, 0.2)
    assert np.isfinite(V1) and V1 < 0


def test_flow_is_a_semigroup_and_smooth_through_zero_current():
    qif = QIF()
    V, I = 0.7, 1.3
    Va, Ia = qif.flow(V, I, 0.3)
    np.testing.assert_allclose(qif.flow(Va, Ia, 0.4), qif.flow(V, I, 0.7), rtol=1e-13)
    vals = [float(qif.flow(0.4, c, 0.8)[0]) for c in (-1e-9, 0.0, 1e-9)]
    assert abs(vals[0] - vals[1]) < 1e-9 and abs(vals[2] - vals[1]) < 1e-9
    t = [float(qif.time_to_spike(1.5, c)) for c in (-1e-9, 0.0, 1e-9)]
    assert abs(t[0] - t[1]) < 1e-8 and abs(t[2] - t[1]) < 1e-8


STATES = [(v, i, d) for v in (-np.inf, -2.0, -0.3, 0.0, 0.5, 1.7, 6.0)
          for i in (-5.0, -0.2, -1e-8, 0.0, 1e-8, 0.9, 12.0) for d in (0.05, 0.6)]


@pytest.mark.parametrize("V,I,dt", STATES)
def test_qif_derivatives_match_finite_differences(V, I, dt):
    tau = 1.2
    if not np.isfinite(nm.qif_flow(V, I, dt, tau)[0]) or dt > 0.9 * nm.qif_time_to_spike(V, I, tau):
        pytest.skip("flow passes a spike")
    V1, I1, dV, dI, ddt = nm.qif_flow_grad(V, I, dt, tau)
    assert (V1, I1) == nm.qif_flow(V, I, dt, tau)
    fdV = central(lambda v: nm.qif_flow(v, I, dt, tau)[0], V) if np.isfinite(V) else 0.0
    fdI = central(lambda c: nm.qif_flow(V, c, dt, tau)[0], I)
    fdt = central(lambda d: nm.qif_flow(V, I, d, tau)[0], dt)
    for got, want in ((dV, fdV), (dI, fdI), (ddt, fdt)):
        assert abs(got - want) <= 1e-6 * max(1.0, abs(want))
    if np.isfinite(nm.qif_time_to_spike(V, I, tau)):
        gV, gI = nm.qif_spike_grad(V, I, tau)
        fV = central(lambda v: nm.qif_time_to_spike(v, I, tau), V) if np.isfinite(V) else 0.0
        fI = central(lambda c: nm.qif_time_to_spike(V, c, tau), I)
        assert abs(gV - fV) <= 1e-6 * max(1.0, abs(fV))
        assert abs(gI - fI) <= 1e-6 * max(1.0, abs(fI))


def test_lif_closed_form_and_derivatives():
    lif = LIF(tau=0.8)
    rng = np.random.default_rng(5)
    V, I = rng.uniform(-1, 0.9, 60), rng.uniform(-2, 10, 60)
    dt = rng.uniform(0.01, 2, 60)
    V1, I1 = lif.flow(V, I, dt)
    for k in range(60):
        ref = ode_flow(lif, V[k], I[k], dt[k])
        np.testing.assert_allclose([V1[k], I1[k]], ref, rtol=1e-10, atol=1e-12)
    t = lif.time_to_spike(V, I)
    for k in np.flatnonzero(np.isfinite(t)):
        assert lif.flow(V[k], I[k], t[k])[0] == pytest.approx(1.0, abs=1e-12)
        grid = np.linspace(0, t[k], 200)[:-1]
        assert np.all(lif.flow(V[k], I[k], grid)[0] < 1.0)
        gV, gI = nm.lif_spike_grad(V[k], I[k], 0.8, 1.0)
        assert gV == pytest.approx(central(lambda v: nm.lif_time_to_spike(v, I[k], 0.8, 1.0), V[k]), rel=1e-6, abs=1e-8)
        assert gI == pytest.approx(central(lambda c: nm.lif_time_to_spike(V[k], c, 0.8, 1.0), I[k]), rel=1e-6, abs=1e-8)


def test_lif_spike_vanishes_abruptly_qif_continuously():
    lif, qif = LIF(), QIF()
    above, below = lif.time_to_spike(0.0, [4.0 + 1e-9, 4.0 - 1e-9])
    assert above == pytest.approx(math.log(2), abs=1e-4) and np.isinf(below)
    t = qif.time_to_spike(0.0, W_MIN * (1 + np.logspace(-1, -8, 8)))
    # grows without bound towards w_min, logarithmically: each decade closer adds tau ln 10
    assert np.all(np.diff(t) > 0) and t[-1] > 19
    assert np.diff(t)[-1] == pytest.approx(math.log(10), rel=1e-5)


def test_theta_neuron():
    th = Theta()
    assert th.c == 1.0 and th.period == pytest.approx(6.0)
    phi = np.linspace(0.01, 5.99, 50)
    np.testing.assert_allclose(th.phase(th.voltage(phi)), phi, atol=1e-12)
    assert th.H(0.0, 3.0) == 0.0  # a neuron at reset (V = -inf) is not moved by a pulse
    np.testing.assert_allclose(th.H(phi, 0.0), phi, atol=1e-12)
    np.testing.assert_allclose(th.H(th.H(phi, 0.3), -0.3), phi, atol=1e-10)
    assert np.all(np.diff(th.H(2.0, np.linspace(-3, 3, 20))) > 0)


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_parameters_raise(bad):
    with pytest.raises(ValueError, match="tau"):
        QIF(tau=bad)
    with pytest.raises(ValueError, match="tau"):
        LIF(tau=bad)
    with pytest.raises(ValueError, match="alpha"):
        QIF(alpha=bad)


def test_bad_arguments_raise():
    with pytest.raises(TypeError, match="tau"):
        QIF(tau="1")
    with pytest.raises(ValueError, match="I0"):
        Theta(I0=0.2)
    with pytest.raises(ValueError, match="dt"):
        QIF().flow(0.0, 1.0, -0.1)
    with pytest.raises(ValueError, match="V"):
        QIF().time_to_spike(np.nan, 1.0)


@settings(max_examples=300, deadline=None)
@given(V=st.one_of(st.floats(-1e6, 1e6), st.just(-math.inf)), I=st.floats(-1e6, 1e6), dt=st.floats(0, 50))
def test_no_nan_anywhere(V, I, dt):
    tau = 1.0
    t = nm.qif_time_to_spike(V, I, tau)
    assert not math.isnan(t) and t >= 0
    if dt < t:
        V1, I1 = nm.qif_flow(V, I, dt, tau)
        assert not math.isnan(V1) and not math.isnan(I1)
