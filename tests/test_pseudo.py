"""Tests for smoothgrad.pseudo: pseudospike formulas, continuity across T, theta feed-forward rates."""
import math

import numpy as np
import pytest

from smoothgrad.neurons import LIF, QIF, Theta, phase
from smoothgrad.pseudo import (
    output_times,
    pseudo_phases,
    softplus,
    softplus_grad,
    theta_ff_pseudo,
    theta_ff_pseudo_vjp,
    trial_output_times,
)
from smoothgrad.reference import bracket, check_grad, one_sided
from smoothgrad.simulate import simulate

qif, lif, theta = QIF(), LIF(), Theta()


def test_softplus():
    for x in (-1e4, -30.0, -1.0, 0.0, 2.0, 50.0, 1e4):
        ref = 10 * np.logaddexp(0, x / 10)
        assert math.isclose(softplus(x, 10.0), ref, rel_tol=1e-14, abs_tol=1e-300)
        h = 1e-5 * max(1.0, abs(x))
        fd = (softplus(x + h, 10.0) - softplus(x - h, 10.0)) / (2 * h)
        assert abs(softplus_grad(x, 10.0) - fd) < 1e-7


def test_single_neuron_formula():
    T = 3.0
    tr = simulate(qif, [[0.0]], [[1.0]], [0.5], [0], T)
    V, I = tr.state_T[:, 0]
    c = math.sqrt(10 * math.log1p(math.exp(I / 10)))  # u = 0 for a single neuron
    out = output_times(qif, [[0.0]], [[1.0]], [0.5], [0], T, 3)[0]
    per = math.pi / c
    assert np.allclose(out, T + np.arange(1, 4) * per - phase(V, c, 1.0), rtol=1e-14)


def test_recurrent_rate_convention():
    # neuron 1 receives u = w10 * r0 with r0 from the zero-input drive alpha ln 2
    state = np.array([[0.3, -0.2], [0.5, 1.0]])
    w = np.array([[0.0, 0.0], [2.0, 0.0]])
    phi, per = pseudo_phases(qif, w, state)
    c0 = math.sqrt(10 * math.log(2))
    r0 = phase(0.3, c0, 1.0) / (math.pi / c0)
    c1 = math.sqrt(softplus(1.0 + 2.0 * r0, 10.0))
    assert np.isclose(per[1], math.pi / c1) and np.isclose(phi[1], phase(-0.2, c1, 1.0))


def test_lif_has_no_pseudospikes():
    out = output_times(lif, [[0.0]], [[5.0]], [0.5], [0], 5.0, 3)
    assert np.isfinite(out[0, 0]) and np.isinf(out[0, 1:]).all()


def net2(w1, n=3, T=5.0, w21=3.0):
    return output_times(qif, [[0.0, 0.0], [w21, 0.0]], [[w1], [0.0]], [0.5], [0], T, n)


@pytest.mark.parametrize("T", [3.0, 5.0, 8.0])
def test_c2_across_T(T):
    """As a spike crosses T, the n-th output time is continuous with continuous 1st and 2nd derivative."""
    for m in range(2):  # the first and then the second spike cross T
        f = lambda x: net2(x, T=T)[0, m]
        lo, hi = bracket(lambda x, f=f: f(x) > T, QIF.w_min, 60.0)
        for out in range(3):
            g = lambda x: net2(x, T=T)[0, out]
            L, R = one_sided(g, lo, 1e-5, -1), one_sided(g, lo, 1e-5, 1)
            assert abs(L[0] - R[0]) < 1e-9
            assert abs(L[1] - R[1]) < 1e-5 * max(1, abs(L[1]))
            assert abs(L[2] - R[2]) < 1e-3 * max(10, abs(L[2]))
        # the downstream neuron stays continuous
        g = lambda x: net2(x, T=T)[1, 0]
        assert abs(g(lo * (1 - 1e-12)) - g(lo * (1 + 1e-12))) < 1e-8


@pytest.mark.parametrize("seed", range(3))
def test_random_recurrent_qif_continuous(seed):
    rng = np.random.default_rng(seed)
    N, N_in, T = 4, 2, 3.0
    w = rng.normal(0, 1.0, (N, N))
    w_in = rng.normal(1.0, 1.5, (N, N_in))
    tin, src = rng.uniform(0, T, 6), rng.integers(0, N_in, 6)
    f = lambda x: output_times(qif, w, w_in + x * np.eye(N, N_in), tin, src, T, 3)
    xs = np.linspace(0, 15, 301)
    curves = np.array([f(x) for x in xs])
    steps = np.abs(np.diff(curves, axis=0))
    k = np.unravel_index(steps.argmax(), steps.shape)
    fine = np.array([f(x)[k[1], k[2]] for x in np.linspace(xs[k[0]], xs[k[0] + 1], 101)])
    assert np.abs(np.diff(fine)).max() < 0.05 * steps.max() + 1e-9
    assert np.isfinite(curves).all()


def test_theta_outputs_and_trial():
    tr = simulate(theta, [[0.0]], np.zeros((1, 0)), [], [], 2.0, x0=[1.0])
    out = trial_output_times(tr, 2)
    assert np.allclose(out[0], 2.0 + theta.period * np.arange(1, 3) - 3.0)
    with pytest.raises(ValueError, match="n"):
        trial_output_times(tr, 0)


def test_theta_ff_single_layer_and_chain():
    rng = np.random.default_rng(0)
    Ws = [rng.normal(size=(3, 2)), rng.normal(size=(2, 3))]
    phis = [rng.uniform(0, theta.period, 3), rng.uniform(0, theta.period, 2)]
    H = theta_ff_pseudo(theta, Ws, phis)
    assert np.allclose(H[0], phis[0])
    assert np.allclose(H[1], theta.H(phis[1], Ws[1] @ (phis[0] / theta.period)))
    with pytest.raises(ValueError):
        theta_ff_pseudo(theta, Ws, phis[:1])
    with pytest.raises(ValueError):
        theta_ff_pseudo(theta, [Ws[1], Ws[0]], phis)


def test_theta_ff_vjp_batched():
    rng = np.random.default_rng(1)
    Ws = [rng.normal(size=(4, 3)), rng.normal(size=(3, 4))]
    phis = [rng.uniform(0, theta.period, (5, 4)), rng.uniform(0, theta.period, (5, 3))]
    cots = [rng.normal(size=p.shape) for p in phis]
    gW, gphi = theta_ff_pseudo_vjp(theta, Ws, phis, cots)
    loss = lambda Ws, phis: sum((c * h).sum() for c, h in zip(cots, theta_ff_pseudo(theta, Ws, phis)))
    swap = lambda arrs, l, v: arrs[:l] + [v] + arrs[l + 1:]
    for l in range(2):
        assert check_grad(lambda v, l=l: loss(swap(Ws, l, v), phis), Ws[l], gW[l])[0] < 1e-6
        assert check_grad(lambda v, l=l: loss(Ws, swap(phis, l, v)), phis[l], gphi[l])[0] < 1e-6
