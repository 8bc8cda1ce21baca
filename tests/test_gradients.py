"""Tests for smoothgrad.gradients: exact gradients vs central finite differences, continuity, batches, errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smoothgrad.gradients import output_times_vjp, output_times_vjp_batch
from smoothgrad.neurons import LIF, QIF, Theta
from smoothgrad.pseudo import output_times
from smoothgrad.reference import bracket, check_grad

qif, lif, theta = QIF(), LIF(), Theta()
TOL = 1e-6


def relay_free(w):
    "Theta networks: keep only weights from neurons 0, 1 (which receive none) onto the others (chapter 02)."
    w = np.array(w, dtype=float)
    w[:2], w[:, 2:] = 0.0, 0.0
    return w


def fd_errors(neuron, w, w_in, tin, src, T, n, cot, x0=None, names=("w", "w_in", "input_times", "x0"), h=1e-6):
    out, g = output_times_vjp(neuron, w, w_in, tin, src, T, n, cot, x0)
    base = dict(w=w, w_in=w_in, input_times=tin, input_sources=src, T=T, n=n, x0=x0)
    if x0 is None:
        base["x0"] = np.zeros((2, w.shape[0])) if neuron.kind != 2 else np.full(w.shape[0], neuron.period / 2)
    errs = {}
    for name in names:
        f = lambda v, name=name: (cot * output_times(neuron, **(base | {name: v}))).sum()
        keep = list(zip(*np.nonzero(base["w"]))) if name == "w" and neuron.kind == 2 else None  # stay relay-free
        errs[name] = check_grad(f, base[name], g[name], h=h.get(name, 1e-6) if isinstance(h, dict) else h,
                                indices=keep)[0]
    return out, g, errs


@pytest.mark.parametrize("seed", range(6))
def test_random_recurrent_qif(seed):
    rng = np.random.default_rng(100 + seed)
    N = int(rng.integers(5, 9))
    N_in, n, T = 3, 3, 4.0
    w = rng.normal(0, 1.5, (N, N))
    w_in = rng.normal(2.5, 2.5, (N, N_in))
    w_in[0] = -1.0  # a neuron that stays silent (outputs are pseudospikes only)
    n_in = rng.poisson(3 * T)
    tin, src = rng.uniform(0, T, n_in), rng.integers(0, N_in, n_in)
    x0 = np.stack([rng.uniform(-1, 0.5, N), rng.normal(0, 1, N)])
    cot = rng.normal(size=(N, n))
    out, g, errs = fd_errors(qif, w, w_in, tin, src, T, n, cot, x0)
    K = (out < T).sum(1)
    assert K[0] == 0 and K.max() >= 2  # silent neuron and neurons with several spikes
    assert max(errs.values()) < TOL, errs


def test_input_close_to_output_spike():
    # an input arrives 1e-3 after / before the output spike
    t_sp = output_times(qif, [[0.0]], [[8.0, 1.0]], [0.2, 5.0], [0, 1], 3.0, 1)[0, 0]
    for d in (1e-3, -1e-3):
        tin = np.array([0.2, t_sp + d])
        _, _, errs = fd_errors(qif, np.zeros((1, 1)), np.array([[8.0, 1.0]]), tin, [0, 1], 3.0, 2, np.ones((1, 2)))
        assert max(errs.values()) < TOL, errs


@pytest.mark.parametrize("T", [3.0, 10.0])
def test_single_neuron_across_w_min_and_T(T):
    """d t_n / d w on both sides of the weight where a spike crosses T (and near w_min) agrees with FD and is
    continuous across the crossing."""
    f = lambda x: output_times(qif, [[0.0]], [[x]], [0.5], [0], T, 2)[0, 0]
    lo, hi = bracket(lambda x: f(x) > T, QIF.w_min, 40.0)
    grads = []
    for x in (lo * (1 - 1e-11), lo * (1 + 1e-11), 0.99 * QIF.w_min, 1.01 * QIF.w_min, 0.5 * lo, 2 * lo):
        out, g, errs = fd_errors(qif, np.zeros((1, 1)), np.array([[x]]), [0.5], [0], T, 2, np.array([[1.0, 0.0]]),
                                 names=("w_in", "input_times", "x0"), h=dict(w_in=1e-7, x0=1e-7))  # steep near w_min
        assert max(errs.values()) < TOL, (x, errs)
        grads.append(g["w_in"][0, 0])
    assert abs(grads[0] - grads[1]) < 1e-5 * abs(grads[0])  # C1 across T


def test_gradient_continuous_when_input_crosses_output_spike():
    """d t_sp / d t_in -> 0 as the input time approaches the output spike from either side."""
    w_in = np.array([[8.0, 1.5]])
    t_sp = output_times(qif, [[0.0]], w_in, [0.2, 9.0], [0, 1], 3.0, 1)[0, 0]
    vals = []
    for d in (-1e-2, -1e-3, -1e-4, 1e-4, 1e-3):
        _, g = output_times_vjp(qif, [[0.0]], w_in, [0.2, t_sp + d], [0, 1], 3.0, 1, np.ones((1, 1)))
        vals.append(g["input_times"][1])
    vals = np.abs(vals)
    assert vals[0] > vals[1] > vals[2] and vals[2] < 1e-6 and vals[3] == 0.0 and vals[4] == 0.0


def test_output_derivative_continuous_across_T():
    """The derivative of the n-th output with respect to a weight is continuous as a spike crosses T, also for
    the second neuron driven through its pseudo rate."""
    T = 5.0
    w, x_in = np.array([[0.0, 0.0], [3.0, 0.0]]), lambda x: np.array([[x], [0.0]])
    f = lambda x: output_times(qif, w, x_in(x), [0.5], [0], T, 2)[0, 0]
    lo, hi = bracket(lambda x: f(x) > T, QIF.w_min, 40.0)
    cot = np.array([[1.0, 0.5], [0.0, 0.0]])
    gl = output_times_vjp(qif, w, x_in(lo * (1 - 1e-10)), [0.5], [0], T, 2, cot)[1]
    gr = output_times_vjp(qif, w, x_in(lo * (1 + 1e-10)), [0.5], [0], T, 2, cot)[1]
    assert np.allclose(gl["w_in"], gr["w_in"], rtol=1e-6) and np.allclose(gl["x0"], gr["x0"], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_theta_networks(seed):
    rng = np.random.default_rng(200 + seed)
    N, N_in, n, T = 5, 3, 2, 2.0
    w = relay_free(rng.normal(0, 0.5, (N, N)))
    w_in = rng.normal(0.8, 0.6, (N, N_in))
    tin, src = rng.uniform(0, T, 10), rng.integers(0, N_in, 10)
    x0 = rng.uniform(0, theta.period, N)
    cot = rng.normal(size=(N, n))
    out, g, errs = fd_errors(theta, w, w_in, tin, src, T, n, cot, x0)
    assert (out < T).any()
    assert max(errs.values()) < TOL, errs


def test_lif_network():
    rng = np.random.default_rng(7)
    N, N_in, T = 4, 2, 3.0
    w = rng.normal(0, 1.0, (N, N))
    w_in = rng.normal(5.0, 1.0, (N, N_in))
    tin, src = rng.uniform(0, T, 8), rng.integers(0, N_in, 8)
    x0 = np.stack([rng.uniform(0, 0.5, N), rng.normal(0, 1, N)])
    out = output_times(lif, w, w_in, tin, src, T, 2, x0)
    cot = np.where(np.isfinite(out), rng.normal(size=out.shape), 0.0)
    assert np.isfinite(out).sum() >= 3
    out2, g = output_times_vjp(lif, w, w_in, tin, src, T, 2, cot, x0)
    base = dict(w=w, w_in=w_in, input_times=tin, input_sources=src, T=T, n=2, x0=x0)
    for name in ("w", "w_in", "input_times", "x0"):
        f = lambda v, name=name: np.where(cot != 0, cot * output_times(lif, **(base | {name: v})), 0.0).sum()
        assert check_grad(f, base[name], g[name])[0] < TOL
    with pytest.raises(ValueError, match="cotangent"):  # a silent LIF neuron has inf outputs
        output_times_vjp(lif, [[0.0]], [[1.0]], [0.5], [0], T, 1, np.ones((1, 1)))
    out, g = output_times_vjp(lif, [[0.0]], [[1.0]], [0.5], [0], T, 1, np.zeros((1, 1)))
    assert np.isinf(out).all() and (g["w_in"] == 0).all()


def test_silent_network_gets_gradients():
    rng = np.random.default_rng(9)
    N, N_in, T = 5, 2, 3.0
    w = rng.normal(0, 0.5, (N, N))
    w_in = rng.uniform(0.1, 0.5, (N, N_in))
    tin, src = [0.5, 1.0, 2.0], [0, 1, 0]
    cot = np.zeros((N, 2))
    cot[2] = [1.0, 1.0]
    out, g = output_times_vjp(qif, w, w_in, tin, src, T, 2, cot)
    assert (out > T).all()
    assert (g["w"][2] != 0).all() and (g["w_in"][2] != 0).all() and (g["input_times"] != 0).all()
    # weights not on a path to the loss: rows of other neurons
    assert (g["w"][np.arange(N) != 2] == 0).all()
    # a gradient step pulls the pseudospike towards the trial
    out2 = output_times(qif, w - 0.5 * g["w"], w_in - 0.5 * g["w_in"], tin, src, T, 2)
    assert out2[2, 0] < out[2, 0]


def test_batch_matches_single():
    rng = np.random.default_rng(11)
    N, N_in, T, n, B = 5, 3, 4.0, 2, 6
    w, w_in = rng.normal(0, 1.5, (N, N)), rng.normal(3, 2, (N, N_in))
    trains = [rng.uniform(0, T, k) for k in rng.integers(0, 12, B)]
    sources = [rng.integers(0, N_in, len(x)) for x in trains]
    cots = rng.normal(size=(B, N, n))
    out, g = output_times_vjp_batch(qif, w, w_in, trains, sources, T, n, cots)
    gw, gwin = 0.0, 0.0
    for b in range(B):
        o, g1 = output_times_vjp(qif, w, w_in, trains[b], sources[b], T, n, cots[b])
        assert np.allclose(o, out[b], rtol=1e-14)
        assert np.allclose(g1["input_times"], g["input_times"][b, : len(trains[b])])
        assert np.allclose(g1["x0"], g["x0"][b])
        gw, gwin = gw + g1["w"], gwin + g1["w_in"]
    assert np.allclose(gw, g["w"]) and np.allclose(gwin, g["w_in"])
    # theta batch
    wt = relay_free(0.3 * w)
    th_out, th_g = output_times_vjp_batch(theta, wt, 0.3 * w_in, trains, sources, 2.0, n, cots)
    o, g1 = output_times_vjp(theta, wt, 0.3 * w_in, trains[0], sources[0], 2.0, n, cots[0])
    assert np.allclose(o, th_out[0]) and np.allclose(g1["x0"], th_g["x0"][0])


@pytest.mark.parametrize("kw, msg", [
    (dict(cotangent=np.ones((1, 3))), "cotangent"), (dict(cotangent=[[np.nan, 0.0]]), "cotangent"),
    (dict(n=0), "n"), (dict(w=[[np.nan]]), "w"), (dict(T=-1.0), "T"), (dict(input_times=[-1.0]), "input_times"),
])
def test_bad_input(kw, msg):
    args = dict(neuron=qif, w=[[0.0]], w_in=[[1.0]], input_times=[0.5], input_sources=[0], T=2.0, n=2,
                cotangent=np.ones((1, 2))) | kw
    with pytest.raises(ValueError, match=msg):
        output_times_vjp(**args)


def test_check_grad():
    import smoothgrad.gradients

    assert not hasattr(smoothgrad.gradients, "check_grad")  # one home, one import path: smoothgrad.reference
    assert smoothgrad.check_grad is check_grad
    f = lambda x: (x ** 3).sum()
    x = np.array([1.0, -2.0, 0.5])
    err, fd = check_grad(f, x, 3 * x ** 2)
    assert err < 1e-8 and np.allclose(fd, 3 * x ** 2)
    assert check_grad(f, x, 3 * x ** 2 + 1e-3)[0] > 1e-4
    with pytest.raises(ValueError, match="grad"):
        check_grad(f, x, np.zeros(2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["qif", "theta"]), N=st.integers(1, 4), seed=st.integers(0, 2**31),
       scale=st.sampled_from([0.3, 2.0, 10.0]), T=st.floats(0.1, 8.0))
def test_property_gradients_finite(kind, N, seed, scale, T):
    rng = np.random.default_rng(seed)
    neuron = qif if kind == "qif" else theta
    w, w_in = rng.normal(0, scale, (N, N)), rng.normal(scale, scale, (N, 2))
    if kind == "theta":
        w = relay_free(w)
    tin = np.round(rng.uniform(0, T, 6), 1)
    src = rng.integers(0, 2, 6)
    try:
        out, g = output_times_vjp(neuron, w, w_in, tin, src, T, 2, np.ones((N, 2)), max_events=20_000)
    except ValueError as err:
        assert "max_events" in str(err)
        return
    assert np.isfinite(out).all()
    for v in g.values():
        assert not np.isnan(v).any()


# --- trial_vjp: the adjoint of one trial's ordinary results (spike times, state at T) -------------------------

from smoothgrad.gradients import trial_vjp  # noqa: E402
from smoothgrad.simulate import simulate  # noqa: E402


def trial_fd_errors(neuron, w, w_in, tin, src, T, sb, xb, x0, h=1e-6):
    "Worst |g - fd| / max(1, |fd|) of trial_vjp per parameter, FD of simulate (same spike count required)."
    tr = simulate(neuron, w, w_in, tin, src, T, x0)
    g = trial_vjp(tr, sb, xb)
    base = dict(w=w, w_in=w_in, input_times=tin, input_sources=src, T=T, x0=x0)

    def f(name, v):
        t = simulate(neuron, **(base | {name: v}))
        assert len(t.spike_times) == len(sb)
        return (sb * t.spike_times).sum() + (xb * t.state_T).sum()

    return {name: check_grad(lambda v, name=name: f(name, v), base[name], g[name], h=h)[0]
            for name in ("w", "w_in", "input_times", "x0")}


@pytest.mark.parametrize("kind,seed", [("qif", 0), ("qif", 1), ("qif", 3), ("lif", 0), ("lif", 1), ("theta", 0),
                                       ("theta", 1)])
def test_trial_vjp_matches_finite_differences(kind, seed):
    neuron, (ws, wm, wsd), T = {"qif": (qif, (1.5, 3.0, 2.0), 4.0), "lif": (lif, (1.0, 5.0, 2.0), 3.0),
                                "theta": (theta, (0.4, 0.8, 0.4), 2.0)}[kind]
    rng = np.random.default_rng(300 + seed)
    N, N_in = 5, 3
    w, w_in = rng.normal(0, ws, (N, N)), rng.normal(wm, wsd, (N, N_in))
    tin, src = rng.uniform(0, T, 10), rng.integers(0, N_in, 10)
    if kind == "theta":
        x0 = rng.uniform(0, theta.period, N)
    else:
        x0 = np.stack([rng.uniform(-1, 0.5 if kind == "qif" else 0.9, N), rng.normal(0, 1, N)])
    tr = simulate(neuron, w, w_in, tin, src, T, x0)
    assert len(tr.spike_times) >= 3
    assert np.isfinite(tr.state_T).all()
    sb, xb = rng.normal(size=tr.spike_times.shape), rng.normal(size=tr.state_T.shape)
    errs = trial_fd_errors(neuron, w, w_in, tin, src, T, sb, xb, x0)
    assert max(errs.values()) < TOL, errs


@pytest.mark.parametrize("neuron", [qif, lif])
def test_trial_vjp_voltage_at_T_after_a_spike(neuron):
    """V_T of a neuron that spiked (its voltage restarted from the reset) has the derivative of central
    differences; only V_T carries a cotangent."""
    w_in = np.array([[9.0, 1.5]]) if neuron is qif else np.array([[7.0, 1.5]])
    tin, src, T = np.array([0.3, 2.0]), np.array([0, 1]), 3.0
    x0 = np.array([[0.2], [0.5]])
    tr = simulate(neuron, np.zeros((1, 1)), w_in, tin, src, T, x0)
    K = len(tr.spike_times)
    assert K >= 1 and tr.spike_times[-1] < tin[1] and np.isfinite(tr.state_T).all()
    xb = np.array([[1.0], [0.0]])
    g = trial_vjp(tr, np.zeros(K), xb)
    assert g["w_in"][0, 0] != 0 and g["input_times"][0] != 0 and g["x0"][1, 0] != 0
    if neuron is qif:
        assert g["x0"][0, 0] != 0   # V_T still depends on V0 through the first spike's time
    errs = trial_fd_errors(neuron, np.zeros((1, 1)), w_in, tin, src, T, np.zeros(K), xb, x0)
    assert max(errs.values()) < TOL, errs


def test_trial_vjp_rows_and_output_times_vjp():
    "Stacked cotangents = one at a time; with ordinary outputs only, output_times_vjp = trial_vjp."
    rng = np.random.default_rng(12)
    N, N_in, T = 4, 2, 4.0
    w, w_in = rng.normal(0, 1.0, (N, N)), rng.normal(4.0, 1.0, (N, N_in))
    tin, src = rng.uniform(0, T, 8), rng.integers(0, N_in, 8)
    tr = simulate(qif, w, w_in, tin, src, T)
    K = tr.spike_counts
    assert K.min() >= 1
    sb = rng.normal(size=(3,) + tr.spike_times.shape)
    xb = rng.normal(size=(3, 2, N))
    gs = trial_vjp(tr, sb, xb)
    for r in range(3):
        g1 = trial_vjp(tr, sb[r], xb[r])
        assert all(np.array_equal(gs[k][r], g1[k]) for k in g1)
    # first output of every neuron is an ordinary spike: the same gradient through both functions
    cot = rng.normal(size=(N, 1))
    first = np.array([np.flatnonzero(tr.spike_neurons == i)[0] for i in range(N)])
    sb1 = np.zeros(len(tr.spike_times))
    sb1[first] = cot[:, 0]
    g_t = trial_vjp(tr, sb1)
    _, g_o = output_times_vjp(qif, w, w_in, tin, src, T, 1, cot)
    for k in g_t:
        np.testing.assert_allclose(g_t[k], g_o[k], rtol=1e-13, atol=1e-13)


def test_trial_vjp_pole_bar():
    """A neuron whose flow ends at its pole at T: pole_bar gives the derivative of the blow-up time, the limit of
    the spike time's derivative from the side where the spike is inside the trial."""
    T, w_in_of = 5.0, lambda x: np.array([[x]])
    # bisect the weight at which the spike leaves the trial through T
    lo, hi = bracket(lambda x: len(simulate(qif, [[0.0]], w_in_of(x), [0.5], [0], T).spike_times) == 0,
                     QIF.w_min, 40.0, tol=0.0, rtol=1e-15)
    tr = simulate(qif, [[0.0]], w_in_of(lo), [0.5], [0], T)
    assert len(tr.spike_times) == 0 and tr.state_T[0, 0] == np.inf
    g = trial_vjp(tr, None, None, np.ones(1))
    inside = simulate(qif, [[0.0]], w_in_of(lo * (1 + 1e-9)), [0.5], [0], T)
    gs = trial_vjp(inside, np.ones(1))
    for k in ("w_in", "input_times", "x0"):
        np.testing.assert_allclose(g[k], gs[k], rtol=1e-5)
    with pytest.raises(ValueError, match="state_T_bar"):
        trial_vjp(tr, None, np.ones((2, 1)))
    with pytest.raises(ValueError, match="pole_bar"):
        trial_vjp(inside, None, None, np.ones(1))
    with pytest.raises(ValueError, match="spike_times_bar"):
        trial_vjp(inside, np.ones(2))


# An input that arrives a hair before a QIF spike, inside the window where the simulator's flow snaps the neuron
# onto its pole (s within 1e-13 of s*): the spike is still caused by the state before the input, so its time and
# derivatives are the limits from both sides (regression: the spike used to snap to the input time, dt/dw = 0).
POLE_NEURON = QIF(1.0, 10.0)
W_EARLY, T_EARLY = 3.0, 0.5
S_STAR = np.pi / (2 * np.sqrt(W_EARLY))  # blow-up s of the flow from V = 0 with I = W_EARLY (chapter 00)
T_STAR = T_EARLY - np.log1p(-S_STAR)  # closed-form spike time
DT_DW = -np.pi / 4 * W_EARLY**-1.5 / (1 - S_STAR)  # closed-form d t_sp / d w_early
OFFSETS = [0.0, 1e-15, 1e-13, 1e-12, 1e-10, 1e-8]


def late_input_trial(offset, w_early=W_EARLY, w=((0.0,),), w_in=None):
    "Output times and gradients (n = 1, cotangent on neuron `len(w) - 1`) with the late input at `T_STAR + offset`."
    w = np.array(w)
    w_in = np.array([[w_early, -1.0]]) if w_in is None else w_in(w_early)
    cot = np.zeros((len(w), 1))
    cot[-1] = 1.0
    args = (POLE_NEURON, w, w_in, [T_EARLY, T_STAR + offset], [0, 1], 10.0, 1)
    return output_times(*args)[:, 0], output_times_vjp(*args, cot)[1]


@pytest.mark.parametrize("offset", [s * d for d in OFFSETS for s in (-1, 1)][1:])
def test_input_at_the_pole_single_neuron(offset):
    out, g = late_input_trial(offset)
    assert abs(out[0] - T_STAR) < 2e-14  # the late input (at most 1e-8 before) moves the spike by < 1e-20
    assert abs(g["w_in"][0, 0] - DT_DW) < 1e-7 * abs(DT_DW)
    assert abs(g["input_times"][1]) < 1e-6  # d t_sp / d t_in -> 0 from both sides (was 1 inside the window)
    if abs(offset) >= 1e-8:  # central differences whose step keeps the input on one side of the spike
        h = abs(offset) / 10
        f = lambda x: late_input_trial(offset, x)[0][0]
        assert abs((f(W_EARLY + h) - f(W_EARLY - h)) / (2 * h) - DT_DW) < 1e-5


@pytest.mark.parametrize("offset", [s * d for d in OFFSETS for s in (-1, 1)][1:])
def test_input_at_the_pole_network(offset):
    """Neuron 1 receives both the late input and neuron 0's spike: its output and gradient are continuous."""
    w, w_in = ((0.0, 0.0), (2.0, 0.0)), lambda x: np.array([[x, -1.0], [0.5, 1.0]])
    out0, g0 = late_input_trial(0.0, w=w, w_in=w_in)
    out, g = late_input_trial(offset, w=w, w_in=w_in)
    assert abs(out[0] - T_STAR) < 2e-14
    assert abs(out[1] - out0[1]) < abs(offset) + 1e-14  # moves with the input, by less than |offset|
    for k in ("w", "w_in", "x0"):
        np.testing.assert_allclose(g[k], g0[k], rtol=1e-5, atol=1e-9)
    if abs(offset) >= 1e-8:
        h = abs(offset) / 10
        f = lambda x: late_input_trial(offset, x, w=w, w_in=w_in)[0][1]
        fd = (f(W_EARLY + h) - f(W_EARLY - h)) / (2 * h)
        assert abs(fd - g["w_in"][0, 0]) < 1e-4 * max(1.0, abs(fd))


@pytest.mark.parametrize("late", [None, -1e-12, 0.0, 1e-8])
def test_two_spikes_at_one_pole(late):
    """Neurons 0 and 1 blow up at the same time (the flow to neuron 0's spike snaps neuron 1 onto its pole); neuron 2
    listens to both with weights 1 and 2. Each spike time keeps its own derivative (the split was 1:0 before), which
    is the limit from both sides, checked by central differences that move neuron 1's spike by +-1.6e-6."""
    w = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    w_in_of = lambda x: np.array([[W_EARLY, -1.0], [x, -0.5], [0.3, 1.0]])
    tin = [T_EARLY, np.inf if late is None else T_STAR + late]
    cot = np.zeros((3, 1))
    cot[2] = 1.0
    out, g = output_times_vjp(POLE_NEURON, w, w_in_of(W_EARLY), tin, [0, 1], 10.0, 1, cot)
    assert abs(out[0, 0] - T_STAR) < 2e-14 and out[1, 0] == out[0, 0]
    assert g["w_in"][0, 0] < -0.1  # an earlier spike of neuron 0 makes neuron 2 spike earlier
    assert abs(g["w_in"][1, 0] - 2 * g["w_in"][0, 0]) < 1e-12  # ratio of the weights onto neuron 2
    h = 1e-6
    f = lambda x: output_times(POLE_NEURON, w, w_in_of(x), tin, [0, 1], 10.0, 1)[2, 0]
    assert abs((f(W_EARLY + h) - f(W_EARLY - h)) / (2 * h) - g["w_in"][1, 0]) < 1e-6
