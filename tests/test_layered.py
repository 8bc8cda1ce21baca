"""Tests for smoothgrad.layered: time change, pseudospike, layered forward vs simulate, exact VJP vs finite
differences, and smoothness of the S2 spike times and derivatives across the transitions."""
import math

import numpy as np
import pytest

from smoothgrad.layered import (
    layered_forward,
    layered_output_times,
    layered_vjp,
    s2_network,
    s2_sweep,
    s2_transitions,
    window_g,
    window_g_grad,
    window_pseudospike,
    window_pseudospike_grad,
)
from smoothgrad.neurons import QIF
from smoothgrad.reference import central, check_grad
from smoothgrad.simulate import simulate

Q = QIF()


@pytest.mark.parametrize("d", [1.0, 2.0, 4.0])
@pytest.mark.parametrize("Theta", [0.25, 0.5, 2.0])
def test_window_g(d, Theta):
    assert window_g(0.0, Theta, d) == 0.0 and window_g_grad(0.0, Theta, d)[1] == 1.0
    assert window_g(Theta, Theta, d) == 1 / d and window_g(2 * Theta, Theta, d) == 1 / d
    s = 1e-3 * Theta  # g'' (0) = 0: g = s + O(s^3)
    assert abs(window_g(s, Theta, d) - s) < 10 * s**3 * (1 / Theta**2 + d * d)
    for r in (0.1, 0.4, 0.8, 0.95):
        g, gs, gT = window_g_grad(r * Theta, Theta, d)
        assert gs > 0 if r <= 0.4 else gs >= 0   # flat to rounding near Theta when d Theta is large
        assert abs(gs - central(lambda x: window_g(x, Theta, d), r * Theta)) < 1e-6 * max(1, abs(gs))
        assert abs(gT - central(lambda x: window_g(r * Theta, x, d), Theta)) < 1e-6 * max(1, abs(gT))


def test_pseudospike_grad_and_limits():
    a0 = (2 * math.pi) ** 2
    for kappa in (0.0, 1.0):
        for V in (-500.0, -1.0, 0.0, 0.7, 3.0, 400.0):
            for I in (-2.0, 0.5):
                args = (5.0, 2.0, 1.0, 10.0, a0, kappa)
                t, tV, tI = window_pseudospike_grad(V, I, *args)
                assert 5.0 < t <= 5.5
                assert abs(tV - central(lambda x: window_pseudospike(x, I, *args), V, 1e-6 * max(1, abs(V)))) < 1e-6
                assert abs(tI - central(lambda x: window_pseudospike(V, x, *args), I)) < 1e-6
    assert window_pseudospike(-math.inf, 0.0, 5.0, 2.0, 1.0, 10.0, a0, 0.0) == 5.5
    assert window_pseudospike(math.inf, 0.0, 5.0, 2.0, 1.0, 10.0, a0, 0.0) == 5.0


def _net(seed):
    rng = np.random.default_rng(seed)
    W = [rng.normal(3, 3, (4, 3)), rng.normal(2, 3, (3, 4)), rng.normal(2, 4, (2, 3))]
    tin, src = rng.uniform(0, 4, 8), rng.integers(0, 3, 8)
    x0 = [np.vstack([rng.normal(0, 0.5, w.shape[0]), rng.normal(0, 1, w.shape[0])]) for w in W]
    return W, tin, src, x0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forward_matches_simulate(seed):
    W, tin, src, x0 = _net(seed)
    tr = layered_forward(Q, W, tin, src, 5.0, 2.0, x0)
    for l, rec in enumerate(tr.layers):
        assert rec.T == 5.0 + 0.5 * l
        assert (rec.input_times < rec.T).all()
        sim = simulate(Q, np.zeros((W[l].shape[0],) * 2), W[l], rec.input_times, rec.input_sources, rec.T, x0[l])
        for i in range(W[l].shape[0]):
            np.testing.assert_allclose(sim.spikes_of(i), rec.spikes[i], rtol=1e-12, atol=1e-12)
        assert ((rec.pseudo > rec.T) & (rec.pseudo <= rec.T + 0.5)).all()
    for out, kinds, rec in zip(tr.output_times(3), tr.output_kinds(3), tr.layers):
        assert ((out < rec.T) == (kinds == 0)).all() and ((out == rec.T + 0.5) == (kinds == 2)).all()


@pytest.mark.parametrize("seed,kappa", [(0, 0.0), (1, 0.0), (2, 0.5)])
def test_vjp_matches_finite_differences(seed, kappa):
    W, tin, src, x0 = _net(seed)
    n = 3
    tr = layered_forward(Q, W, tin, src, 5.0, 2.0, x0, kappa=kappa)
    C = [np.random.default_rng(seed + 10).normal(size=o.shape) for o in tr.output_times(n)]
    g = layered_vjp(tr, C)

    def f(W_, tin_, x0_):
        return sum((c * o).sum() for c, o in zip(C, layered_output_times(Q, W_, tin_, src, 5.0, 2.0, n, x0_,
                                                                          kappa=kappa)))

    swap = lambda arrs, l, v: arrs[:l] + [v] + arrs[l + 1:]
    for l in range(len(W)):
        assert check_grad(lambda v, l=l: f(swap(W, l, v), tin, x0), W[l], g["weights"][l])[0] <= 1e-6
        assert check_grad(lambda v, l=l: f(W, tin, swap(x0, l, v)), x0[l], g["x0"][l])[0] <= 1e-6
    assert check_grad(lambda v: f(W, v, x0), tin, g["input_times"])[0] <= 1e-6


@pytest.fixture(scope="module")
def transitions():
    return s2_transitions()


def test_s2_transitions(transitions):
    names = [t[0] for t in transitions]
    assert names == ["hidden 1", "output", "hidden 2", "output"]
    assert abs(transitions[0][1] - 2.4699) < 1e-4
    assert abs(transitions[2][1] - 3.43) < 1e-6
    net = s2_network(3.0)
    assert net["T1"] == 10.0 and net["d"] == 2.0


def test_s2_caption_states(transitions):
    "Active -> ordinary and simultaneously inactive -> active, in each hidden neuron."
    for r, (_, ws, _, _) in zip((0, 1), (transitions[0], transitions[2])):
        sw = s2_sweep([ws - 1e-3, ws + 1e-3])
        assert list(sw["kinds"][0, r]) == [1, 2] and list(sw["kinds"][1, r]) == [0, 1]
        # the crossing is continuous: both times near T1 and near T2 on either side
        sw = s2_sweep([ws - 1e-6, ws + 1e-6])
        assert abs(sw["times"][0, r, 0] - 10.0) < 1e-3 and abs(sw["times"][1, r, 0] - 10.0) < 1e-3
        assert abs(sw["times"][0, r, 1] - 10.5) < 1e-9 and abs(sw["times"][1, r, 1] - 10.5) < 1e-9


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_s2_steps_shrink_with_grid(transitions, k):
    "Largest step of t(w) and dt/dw between neighbouring grid points halves with the grid spacing."
    ws = transitions[k][1]
    res = []
    for G in (201, 401):
        sw = s2_sweep(np.linspace(ws - 1e-3, ws + 1e-3, G))
        res.append((np.abs(np.diff(sw["times"], axis=0)).max(axis=0), np.abs(np.diff(sw["dtdw"], axis=0)).max(axis=0)))
    moving = res[0][0] > 1e-12
    assert moving.sum() >= 2
    np.testing.assert_allclose(res[0][0][moving] / res[1][0][moving], 2.0, atol=0.1)
    np.testing.assert_allclose(res[0][1][moving] / res[1][1][moving], 2.0, atol=0.1)


def test_s2_sweep_derivative_fd():
    w = np.array([2.35, 2.52, 3.0, 3.5, 3.9])
    sw = s2_sweep(w)
    h = 1e-7
    fd = (s2_sweep(w + h)["times"] - s2_sweep(w - h)["times"]) / (2 * h)
    np.testing.assert_allclose(sw["dtdw"], fd, rtol=1e-5, atol=1e-6)


def test_input_validation():
    with pytest.raises(ValueError):
        layered_forward(Q, [np.ones((2, 3))], [1.0], [5], 5.0, 2.0)
    with pytest.raises(ValueError):
        layered_forward(Q, [np.ones((2, 3)), np.ones((1, 3))], [1.0], [0], 5.0, 2.0)
    with pytest.raises(ValueError):
        layered_forward(Q, [np.ones((2, 3))], [-1.0], [0], 5.0, 2.0)


def test_inactive_pseudospikes_are_ignored_by_the_next_trial(transitions):
    """Just above hidden 1's transition its new pseudospike is inactive: exactly at the output layer's trial end
    T2, where it causes no event and gets no gradient (the output's spike and pseudospike do not depend on it)."""
    from smoothgrad.gradients import trial_vjp

    ws = transitions[0][1]
    tr = layered_forward(**s2_network(ws + 1e-6))
    hid, out = tr.layers
    assert hid.counts[0] == 1 and hid.pseudo[0] == out.T == hid.T + 0.5   # inactive, exactly at T2
    n_in = len(out.trial.input_times)
    assert n_in == len(hid.trial.spike_times) + 2
    assert (out.trial.event_kinds == 0).sum() == n_in - 1   # the inactive pseudospike causes no event
    assert (out.input_times < out.T).all() and len(out.input_times) == n_in - 1
    K = len(hid.trial.spike_times)
    g = trial_vjp(out.trial, np.ones(len(out.trial.spike_times)), np.where(np.isinf(out.state_T), 0.0, 1.0))
    assert g["input_times"][K] == 0.0 and (g["input_times"][:K] != 0).all()
    # through the whole network: the inactive pseudospike's gradient is 0, so hidden 1's state gets none from it
    for m in range(2):
        cot = [np.zeros((2, 2)), np.zeros((1, 2))]
        cot[1][0, m] = 1.0
        assert np.isfinite(layered_vjp(tr, cot)["weights"][0]).all()


def test_layered_vjp_rows():
    "Stacked cotangents (R, N_l, n) give the gradients of each row."
    W, tin, src, x0 = _net(4)
    tr = layered_forward(Q, W, tin, src, 5.0, 2.0, x0)
    rng = np.random.default_rng(4)
    C = [rng.normal(size=(3,) + o.shape) for o in tr.output_times(2)]
    gs = layered_vjp(tr, C)
    for r in range(3):
        g = layered_vjp(tr, [c[r] for c in C])
        assert np.array_equal(gs["input_times"][r], g["input_times"])
        for l in range(len(W)):
            assert np.array_equal(gs["weights"][l][r], g["weights"][l])
            assert np.array_equal(gs["x0"][l][r], g["x0"][l])


@pytest.mark.parametrize("d, word", [(1e300, "too large"), (1e-300, "too small")])
def test_extreme_d_is_a_clear_error(d, word):
    from smoothgrad import QIF, layered_output_times

    with pytest.raises(ValueError, match=f"d = .* is {word}"):
        layered_output_times(QIF(1.0), [np.full((2, 1), 3.0)], [0.5], [0], 10.0, d, 2)
