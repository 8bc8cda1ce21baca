"""Adversarial tests of the core chapters (neurons, reference, simulate, pseudo, gradients, layered).

1. Hundreds of invalid arguments: each raises a TypeError/ValueError that names the argument (never NaN, a
   hang, or an obscure error from deep inside NumPy or numba).
2. Thousands of random networks of every neuron kind across extreme regimes (weights from 1e-3 to 1e3, alpha from
   0.1 to 100, trials from 0.01 to 100 tau, inputs just before T): outputs and gradients are finite, or a
   ValueError names the limit that was hit. Zero silent NaN or inf.
3. Loops that depend on the input are bounded: extreme trial lengths and drives return (or raise) quickly.
"""
import math
import time

import numpy as np
import pytest

from smoothgrad.gradients import output_times_vjp, output_times_vjp_batch, trial_vjp
from smoothgrad.layered import (
    layered_forward,
    layered_output_times,
    layered_traces,
    layered_vjp,
    s2_network,
    s2_sweep,
    s2_transitions,
)
from smoothgrad.neurons import LIF, QIF, Theta
from smoothgrad.pseudo import (
    output_times,
    pseudo_phases,
    theta_ff_pseudo,
    theta_ff_pseudo_vjp,
    trial_output_times,
)
from smoothgrad.reference import check_grad
from smoothgrad.simulate import simulate, simulate_batch

qif, lif, theta = QIF(), LIF(), Theta()
NAN, INF = math.nan, math.inf

# the limits a valid but extreme network may hit; every other ValueError in the sweeps is a failure
LIMITS = ("max_events", "float64 range", "overflowed float64")

# ---------------------------------------------------------------------------------------------------------------
# 1. invalid arguments
# ---------------------------------------------------------------------------------------------------------------

SINGLE = dict(neuron=qif, w=[[0.0]], w_in=[[1.0]], input_times=[0.5], input_sources=[0], T=2.0)
BATCH = dict(neuron=qif, w=[[0.0]], w_in=[[1.0]], input_times=[[0.5]], input_sources=[[0]], T=2.0)

NEURONS = [QIF, LIF, Theta, None, "QIF", 1.0, object(), [qif]]
MATRICES = [None, "a", [["a"]], [[NAN]], [[INF]], [[-INF]], np.zeros((1, 2)), np.zeros((0, 0)), [1.0], 3.0,
            np.zeros((2, 2)), [[1 + 2j]]]
W_INS = [None, "a", [[NAN]], [[INF]], np.zeros((2, 1)), [1.0], np.zeros((1, 1, 1))]
TIMES = [None, "a", [-0.1], [NAN], [-INF], [[0.5]], [0.5, 0.6], [0.5j]]
SOURCES = [None, [1], [-1], [0.5], [0, 0], [NAN], ["a"], [[0]]]
LENGTHS = [None, "1", True, 0.0, -1.0, NAN, INF, -INF, [1.0], np.zeros(2)]
MAX_EVENTS = [None, 0, -5, 2.5, True, "10", NAN]
X0S = ["x", np.zeros(2), np.zeros((2, 2)), [[NAN], [0.0]], [[INF], [0.0]], [[0.0], [INF]], [[0.0], [NAN]],
       np.zeros((3, 1))]
NS = [0, -1, 2.5, True, None, "2", 10**7, NAN]


def _cases():
    "(function, base kwargs, argument, bad value) for every public entry point of the simulator."
    bad = dict(neuron=NEURONS, w=MATRICES, w_in=W_INS, input_times=TIMES, input_sources=SOURCES, T=LENGTHS,
               max_events=MAX_EVENTS, x0=X0S)
    entries = [("simulate", simulate, SINGLE), ("output_times", output_times, SINGLE | dict(n=2)),
               ("output_times_vjp", output_times_vjp, SINGLE | dict(n=2, cotangent=np.ones((1, 2))))]
    for name, f, base in entries:
        for arg, values in bad.items():
            for k, v in enumerate(values):
                yield pytest.param(f, base, arg, v, id=f"{name}-{arg}-{k}")
        if "n" in base:
            for k, v in enumerate(NS):
                yield pytest.param(f, base, "n", v, id=f"{name}-n-{k}")
    for k, v in enumerate([None, np.ones((1, 3)), np.ones(2), [[NAN, 0.0]], [[INF, 0.0]], "a"]):
        yield pytest.param(output_times_vjp, SINGLE | dict(n=2, cotangent=np.ones((1, 2))), "cotangent", v,
                           id=f"output_times_vjp-cotangent-{k}")
    batch_bad = dict(neuron=NEURONS[:5], w=MATRICES[:7], T=LENGTHS[:7], max_events=MAX_EVENTS[:5],
                     input_times=[None, [[-1.0]], [[NAN]], [0.5], [[0.5], [0.5, 0.6]]],
                     input_sources=[None, [[1]], [[-1]], [[0.5]], [[0, 0]]])
    batch_entries = [("simulate_batch", simulate_batch, BATCH),
                     ("vjp_batch", output_times_vjp_batch, BATCH | dict(n=1, cotangent=np.ones((1, 1, 1))))]
    for name, f, base in batch_entries:
        for arg, values in batch_bad.items():
            for k, v in enumerate(values):
                yield pytest.param(f, base, arg, v, id=f"{name}-{arg}-{k}")


@pytest.mark.parametrize("f, base, arg, value", list(_cases()))
def test_bad_argument_names_itself(f, base, arg, value):
    with pytest.raises((TypeError, ValueError)) as err:
        f(**(base | {arg: value}))
    assert arg.split("_")[0] in str(err.value) or arg in str(err.value), str(err.value)


def _theta_trial():
    return simulate(theta, [[0.0, 0.0], [0.5, 0.0]], [[1.0], [0.2]], [0.3], [0], 2.0)


def _layered():
    return layered_forward(qif, [np.ones((2, 1)), np.ones((1, 2))], [0.5], [0], 5.0, 2.0)


OTHER = [
    # neuron models and their array methods
    ("QIF tau", lambda: QIF(tau=0.0), "tau"), ("QIF tau str", lambda: QIF(tau="1"), "tau"),
    ("QIF tau nan", lambda: QIF(tau=NAN), "tau"), ("QIF alpha", lambda: QIF(alpha=-1.0), "alpha"),
    ("QIF alpha None", lambda: QIF(alpha=None), "alpha"), ("QIF alpha inf", lambda: QIF(alpha=INF), "alpha"),
    ("LIF threshold", lambda: LIF(threshold=0.0), "threshold"), ("LIF tau bool", lambda: LIF(tau=True), "tau"),
    ("Theta I0", lambda: Theta(I0=0.25), "I0"), ("Theta I0 inf", lambda: Theta(I0=INF), "I0"),
    ("Theta tau", lambda: Theta(tau=-1.0), "tau"),
    ("flow dt<0", lambda: qif.flow(0.0, 1.0, -1.0), "dt"), ("flow dt nan", lambda: qif.flow(0.0, 1.0, NAN), "dt"),
    ("flow I inf", lambda: qif.flow(0.0, INF, 1.0), "I"), ("flow V nan", lambda: qif.flow(NAN, 1.0, 1.0), "V"),
    ("flow V str", lambda: qif.flow("a", 1.0, 1.0), "V"), ("flow I complex", lambda: qif.flow(0.0, 1j, 1.0), "I"), ("flow shapes", lambda: qif.flow([1, 2], [1, 2, 3], 1), "V"),
    ("lif flow V -inf", lambda: lif.flow(-INF, 1.0, 1.0), "V"), ("lif tts I inf", lambda: lif.time_to_spike(0, INF), "I"),
    ("tts I nan", lambda: qif.time_to_spike(0.0, NAN), "I"), ("tts I -inf", lambda: qif.time_to_spike(0.0, -INF), "I"),
    ("theta H phi<0", lambda: theta.H(-1.0, 0.5), "phi"), ("theta H phi>period", lambda: theta.H(7.0, 0.5), "phi"),
    ("theta H w inf", lambda: theta.H(1.0, INF), "w"), ("theta H w nan", lambda: theta.H(1.0, NAN), "w"),
    ("theta voltage phi", lambda: theta.voltage(100.0), "phi"), ("theta phase nan", lambda: theta.phase(NAN), "V"),
    # pseudo phases, trials, feed-forward theta
    ("pseudo_phases neuron", lambda: pseudo_phases(QIF, [[0.0]], np.zeros((2, 1))), "neuron"),
    ("pseudo_phases w", lambda: pseudo_phases(qif, None, np.zeros((2, 1))), "w"),
    ("pseudo_phases state", lambda: pseudo_phases(qif, [[0.0]], np.zeros(3)), "state_T"),
    ("pseudo_phases state I inf", lambda: pseudo_phases(qif, [[0.0]], [[0.0], [INF]]), "state_T"),
    ("pseudo_phases state nan", lambda: pseudo_phases(qif, [[0.0]], [[NAN], [0.0]]), "state_T"),
    ("pseudo_phases theta relay", lambda: pseudo_phases(theta, np.ones((3, 3)), np.ones(3)), "w"),
    ("trial_output_times trial", lambda: trial_output_times("trial", 2), "trial"),
    ("trial_output_times n", lambda: trial_output_times(_theta_trial(), 0), "n"),
    ("trial_vjp trial", lambda: trial_vjp(None), "trial"),
    ("trial_vjp spike bar shape", lambda: trial_vjp(_theta_trial(), np.ones(7)), "spike_times_bar"),
    ("trial_vjp state bar nan", lambda: trial_vjp(_theta_trial(), None, [NAN, 0.0]), "state_T_bar"),
    ("trial_vjp pole theta", lambda: trial_vjp(_theta_trial(), None, None, np.ones(2)), "pole_bar"),
    ("ff neuron", lambda: theta_ff_pseudo(qif, [np.ones((2, 2))], [np.ones(2)]), "neuron"),
    ("ff weights None", lambda: theta_ff_pseudo(theta, None, None), "weights"),
    ("ff weights nan", lambda: theta_ff_pseudo(theta, [np.full((2, 2), NAN)], [np.ones(2)]), "weights"),
    ("ff phases nan", lambda: theta_ff_pseudo(theta, [np.ones((2, 2))], [np.array([NAN, 1.0])]), "phases"),
    ("ff phases range", lambda: theta_ff_pseudo(theta, [np.ones((2, 2))], [np.array([-1.0, 1.0])]), "phases"),
    ("ff chain", lambda: theta_ff_pseudo(theta, [np.ones((2, 2)), np.ones((1, 3))], [np.ones(2), np.ones(1)]),
     "layer"),
    ("ff count", lambda: theta_ff_pseudo(theta, [np.ones((2, 2))], [np.ones(2), np.ones(2)]), "phases"),
    ("ff vjp cot nan", lambda: theta_ff_pseudo_vjp(theta, [np.ones((2, 2))], [np.ones(2)], [[NAN, 1.0]]),
     "cotangents"),
    ("ff vjp cot count", lambda: theta_ff_pseudo_vjp(theta, [np.ones((2, 2))], [np.ones(2)], []), "cotangents"),
    ("ff vjp cot shape", lambda: theta_ff_pseudo_vjp(theta, [np.ones((2, 2))], [np.ones(2)], [np.ones(3)]),
     "cotangents"),
    # layered networks and the S2 helpers
    ("layered class", lambda: layered_forward(QIF, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0), "neuron"),
    ("layered theta", lambda: layered_forward(theta, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0), "neuron"),
    ("layered weights None", lambda: layered_forward(qif, None, [0.5], [0], 5.0, 2.0), "weights"),
    ("layered weights empty", lambda: layered_forward(qif, [], [0.5], [0], 5.0, 2.0), "weights"),
    ("layered weights nan", lambda: layered_forward(qif, [[[NAN]]], [0.5], [0], 5.0, 2.0), "weights"),
    ("layered weights chain", lambda: layered_forward(qif, [np.ones((2, 1)), np.ones((1, 3))], [0.5], [0], 5.0,
                                                      2.0), "weights"),
    ("layered sources", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [3], 5.0, 2.0), "input_sources"),
    ("layered sources shape", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0, 0], 5.0, 2.0),
     "input_sources"),
    ("layered times", lambda: layered_forward(qif, [np.ones((1, 1))], [-0.5], [0], 5.0, 2.0), "input_times"),
    ("layered T1", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], NAN, 2.0), "T1"),
    ("layered T1 None", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], None, 2.0), "T1"),
    ("layered d", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 0.0), "d"),
    ("layered d tiny", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 1e-300), "d"),
    ("layered a0", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0, a0=NAN), "a0"),
    ("layered kappa", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0, kappa=-1.0), "kappa"),
    ("layered kappa str", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0, kappa="x"),
     "kappa"),
    ("layered x0", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0, x0=[np.zeros(3)]), "x0"),
    ("layered x0 count", lambda: layered_forward(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0, x0=[]), "x0"),
    ("layered n", lambda: layered_output_times(qif, [np.ones((1, 1))], [0.5], [0], 5.0, 2.0, 0), "n"),
    ("layered_vjp trial", lambda: layered_vjp(None, []), "trial"),
    ("layered_vjp count", lambda: layered_vjp(_layered(), [np.ones((2, 1))]), "cotangents"),
    ("layered_vjp shape", lambda: layered_vjp(_layered(), [np.ones((3, 1)), np.ones((1, 1))]), "cotangents"),
    ("layered_vjp nan", lambda: layered_vjp(_layered(), [np.full((2, 1), NAN), np.ones((1, 1))]), "cotangents"),
    ("traces trial", lambda: layered_traces("x"), "trial"),
    ("traces n_points", lambda: layered_traces(_layered(), 0), "n_points"),
    ("traces n_pseudo", lambda: layered_traces(_layered(), 10, 2.5), "n_pseudo"),
    ("s2_network nan", lambda: s2_network(NAN), "w"), ("s2_network str", lambda: s2_network("3"), "w"),
    ("s2_sweep nan", lambda: s2_sweep([NAN]), "w_grid"), ("s2_sweep n", lambda: s2_sweep([3.0], n=0), "n"),
    ("s2_sweep None", lambda: s2_sweep(None), "w_grid"),
    ("s2_transitions order", lambda: s2_transitions(4.0, 2.0, 11), "w_lo"),
    ("s2_transitions grid", lambda: s2_transitions(2.0, 4.0, 1), "n_grid"),
    ("s2_transitions tol", lambda: s2_transitions(2.0, 4.0, 11, tol=0.0), "tol"),
    ("s2_transitions tol nan", lambda: s2_transitions(2.0, 4.0, 11, tol=NAN), "tol"),
    # the finite-difference checker
    ("check_grad h=0", lambda: check_grad(lambda x: x.sum(), [1.0], [1.0], h=0), "h"),
    ("check_grad h<0", lambda: check_grad(lambda x: x.sum(), [1.0], [1.0], h=-1e-6), "h"),
    ("check_grad h nan", lambda: check_grad(lambda x: x.sum(), [1.0], [1.0], h=NAN), "h"),
    ("check_grad h str", lambda: check_grad(lambda x: x.sum(), [1.0], [1.0], h="1"), "h"),
    ("check_grad f", lambda: check_grad(None, [1.0], [1.0]), "f"),
    ("check_grad f array", lambda: check_grad(lambda x: x, [1.0, 2.0], [1.0, 1.0]), "f"),
    ("check_grad shape", lambda: check_grad(lambda x: x.sum(), [1.0, 2.0], [1.0]), "grad"),
]


@pytest.mark.parametrize("call, name", [pytest.param(c, n, id=i) for i, c, n in OTHER])
def test_other_bad_arguments(call, name):
    with pytest.raises((TypeError, ValueError)) as err:
        call()
    assert name in str(err.value), str(err.value)


def test_check_grad_never_passes_nan():
    x = np.array([1.0, 2.0])
    assert check_grad(lambda v: NAN, x, [1.0, 1.0])[0] == INF
    assert check_grad(lambda v: v.sum(), x, [NAN, 1.0])[0] == INF
    assert check_grad(lambda v: INF * v.sum(), x, [1.0, 1.0])[0] == INF
    assert check_grad(lambda v: v.sum(), x, [1.0, 1.0])[0] < 1e-8


def test_theta_relay_networks_are_refused_feed_forward_ones_work():
    w = np.zeros((3, 3))
    w[1, 0], w[2, 1] = 0.8, 0.5   # 0 -> 1 -> 2: neuron 1 is a relay
    for call in (lambda: output_times(theta, w, np.ones((3, 1)), [0.1], [0], 2.0, 1),
                 lambda: output_times_vjp(theta, w, np.ones((3, 1)), [0.1], [0], 2.0, 1, np.ones((3, 1))),
                 lambda: output_times_vjp_batch(theta, w, np.ones((3, 1)), [[0.1]], [[0]], 2.0, 1, np.ones((1, 3, 1))),
                 lambda: trial_output_times(simulate(theta, w, np.ones((3, 1)), [0.1], [0], 2.0), 1)):
        with pytest.raises(ValueError, match="path of length"):
            call()
    w_self = np.diag([0.3, 0.0, 0.0])
    w_self[0, 1] = 0.5   # 1 -> 0 -> 0 (self-loop): 0 is a relay
    with pytest.raises(ValueError, match="path of length"):
        output_times(theta, w_self, np.ones((3, 1)), [0.1], [0], 2.0, 1)
    w[2, 1] = 0.0
    w[2, 0] = 0.4   # 0 -> 1, 0 -> 2: paths of length one only
    out, g = output_times_vjp(theta, w, np.ones((3, 1)), [0.1], [0], 2.0, 2, np.ones((3, 2)))
    assert np.isfinite(out).all() and all(np.isfinite(v).all() for v in g.values())


# ---------------------------------------------------------------------------------------------------------------
# 2. random networks across extreme regimes
# ---------------------------------------------------------------------------------------------------------------

def _random_network(rng, kind):
    N, N_in = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    scale = 10 ** rng.uniform(-3, 3)
    T = 10 ** rng.uniform(-2, 2)
    neuron = (QIF(alpha=10 ** rng.uniform(-1, 2)), LIF(threshold=10 ** rng.uniform(-1, 1)), Theta())[kind]
    w = rng.normal(0, scale, (N, N)) * (rng.random((N, N)) < 0.7)
    w_in = rng.normal(rng.choice([-1, 0, 1]) * scale, scale, (N, N_in))
    if kind == 2:   # relay-free: neuron 0 may drive the others, which drive no one
        w[0], w[:, 1:] = 0.0, 0.0
    n_in = int(rng.integers(0, 8))
    tin = rng.uniform(0, T, n_in)
    if rng.random() < 0.3:   # inputs just before T (strong late inhibition or excitation)
        tin = np.maximum(T - 10 ** rng.uniform(-12, -1, n_in), 0.0)
    if rng.random() < 0.1:
        tin = np.append(tin, [INF, 2 * T])[: max(n_in, 1)]
    src = rng.integers(0, N_in, len(tin))
    if kind == 2:
        x0 = rng.uniform(0, neuron.period, N) * (rng.random() < 0.5) if rng.random() < 0.5 else None
    else:
        x0 = np.stack([rng.uniform(-3, 0.9, N), rng.normal(0, scale, N)]) if rng.random() < 0.5 else None
        if x0 is not None and kind == 0 and rng.random() < 0.3:
            x0[0, 0] = -INF   # a neuron that has just been reset
    return neuron, w, w_in, tin, src, T, int(rng.integers(1, 4)), x0


def _assert_clean(kind, out, grads):
    if kind == 1:   # LIF: no pseudospikes, missing outputs are +inf
        assert not np.isnan(out).any() and not (out == -INF).any()
    else:
        assert np.isfinite(out).all(), out
    for name, g in grads.items():
        assert np.isfinite(g).all(), (name, g)


@pytest.mark.parametrize("kind", [0, 1, 2], ids=["QIF", "LIF", "Theta"])
def test_random_networks_never_silently_nan(kind):
    rng = np.random.default_rng(1000 + kind)
    counts = {"ok": 0, "limit": 0}
    for _ in range(1200):
        neuron, w, w_in, tin, src, T, n, x0 = _random_network(rng, kind)
        try:
            out = output_times(neuron, w, w_in, tin, src, T, n, x0, max_events=3000)
            cot = np.where(np.isfinite(out), rng.normal(size=out.shape), 0.0)
            out2, g = output_times_vjp(neuron, w, w_in, tin, src, T, n, cot, x0, max_events=3000)
        except ValueError as err:
            assert any(s in str(err) for s in LIMITS), str(err)
            counts["limit"] += 1
            continue
        assert np.array_equal(out, out2)
        _assert_clean(kind, out, g)
        counts["ok"] += 1
    assert counts["ok"] > 900, counts   # the sweep mostly exercises working networks


@pytest.mark.parametrize("alpha", [0.1, 1.0, 10.0])
def test_random_recurrent_qif_batches_small_alpha(alpha):
    "The regime of the reported NaN gradients (alpha 0.1 or 1, moderate weights), in batches of 32 trials."
    rng = np.random.default_rng(int(alpha * 10))
    neuron = QIF(alpha=alpha)
    for _ in range(40):
        N, N_in, T = int(rng.integers(2, 8)), 3, float(rng.uniform(1, 10))
        w, w_in = rng.normal(0, 3, (N, N)), rng.normal(0, 5, (N, N_in))
        tin, src = rng.uniform(0, T, (32, 8)), rng.integers(0, N_in, (32, 8))
        cot = rng.normal(size=(32, N, 2))
        try:
            out, g = output_times_vjp_batch(neuron, w, w_in, tin, src, T, 2, cot, max_events=5000)
        except ValueError as err:
            assert any(s in str(err) for s in LIMITS), str(err)
            continue
        _assert_clean(0, out, g)


def test_strong_inhibition_just_before_T():
    "w_in = -1e4 just before T: the pseudo drive underflows softplus, yet outputs and gradients are exact."
    f = lambda v: output_times(qif, [[0.0]], [[v]], [4.99], [0], 5.0, 2)
    out, g = output_times_vjp(qif, [[0.0]], [[-1e4]], [4.99], [0], 5.0, 2, np.array([[1.0, 0.0]]))
    assert np.isfinite(out).all() and out[0, 0] > 1e200 and np.isfinite(g["w_in"]).all()
    h = 1e-3   # d log t / d w by central differences of log t (t itself is ~1e217)
    dlog = (math.log(f(-1e4 + h)[0, 0]) - math.log(f(-1e4 - h)[0, 0])) / (2 * h)
    assert g["w_in"][0, 0] / out[0, 0] == pytest.approx(dlog, rel=1e-6)
    for alpha in (0.1, 1.0):   # beyond the float64 range: a clear error naming the limit
        with pytest.raises(ValueError, match="float64 range"):
            output_times(QIF(alpha=alpha), [[0.0]], [[-1e4]], [4.99], [0], 5.0, 2)


def test_layered_strong_inhibition_with_current_drive():
    tr = layered_forward(qif, [np.full((1, 1), -1e4)], [4.99], [0], 5.0, 2.0, a0=0.0, kappa=1.0)
    g = layered_vjp(tr, [np.ones((1, 2))])
    assert np.isfinite(tr.output_times(2)[0]).all() and np.isfinite(g["weights"][0]).all()


def test_overflowing_weights_raise():
    for call in (lambda: simulate(qif, [[0.0]], [[-1e308]], [0.5, 0.6], [0, 0], 5.0),
                 lambda: output_times_vjp(qif, [[0.0]], [[-1e308]], [0.5, 0.6], [0, 0], 5.0, 1, np.ones((1, 1))),
                 lambda: simulate(lif, [[0.0]], [[-1e308]], [0.5, 0.6], [0, 0], 5.0)):
        with pytest.raises(ValueError, match="overflowed float64|float64 range"):
            call()


# ---------------------------------------------------------------------------------------------------------------
# 3. bounded loops
# ---------------------------------------------------------------------------------------------------------------

HANG_CASES = [
    ("theta T=1e10", lambda: simulate(theta, [[0.0]], [[1.0]], [0.5], [0], 1e10)),
    ("qif huge drive", lambda: simulate(qif, [[0.0]], [[1.0]], [0.5], [0], 100.0, x0=[[0.0], [1e300]])),
    ("qif T=1e300", lambda: output_times_vjp(qif, [[0.0]], [[1.0]], [0.5], [0], 1e300, 2, np.ones((1, 2)))),
    ("lif T=1e300", lambda: simulate(lif, [[0.0]], [[5.0]], [0.5], [0], 1e300)),
    ("theta I0 huge", lambda: output_times(Theta(I0=1e300), [[0.0]], [[1.0]], [0.0], [0], 1.0, 2)),
    ("tiny tau", lambda: output_times_vjp(QIF(tau=1e-300), [[0.0]], [[3.0]], [0.0], [0], 1.0, 2, np.ones((1, 2)))),
    ("s2 bisection tol 1e-300", lambda: s2_transitions(2.4, 2.5, 3, tol=1e-300)),
    ("batch of huge drives", lambda: simulate_batch(qif, [[0.0]], [[1.0]], [[0.5]] * 4, [[0]] * 4, 50.0,
                                                    x0=[[0.0], [1e6]], max_events=1000)),
]


@pytest.fixture(scope="module")
def compiled():
    "Compile the batch kernels before timing (numba compiles on first use; the timing is about the loops)."
    simulate_batch(qif, [[0.0]], [[1.0]], [[0.5]] * 4, [[0]] * 4, 1.0, x0=[[0.0], [1.0]], max_events=1000)
    output_times_vjp_batch(qif, [[0.0]], [[1.0]], [[0.5]], [[0]], 1.0, 1, np.ones((1, 1, 1)))
    output_times_vjp(QIF(tau=0.5), [[0.0]], [[3.0]], [0.0], [0], 1.0, 2, np.ones((1, 2)))


@pytest.mark.parametrize("call", [pytest.param(c, id=i) for i, c in HANG_CASES])
def test_extreme_lengths_return_quickly(call, compiled):
    t0 = time.perf_counter()
    try:
        res = call()
    except ValueError as err:
        assert any(s in str(err) for s in LIMITS), str(err)
    else:
        arrays = res if isinstance(res, tuple) else (res,)
        for a in arrays:
            if isinstance(a, np.ndarray):
                assert not np.isnan(a).any()
    assert time.perf_counter() - t0 < 60.0   # generous: the machine may be shared; a hang never returns
