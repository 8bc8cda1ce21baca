"""Tests for smoothgrad.ttfs: kernels vs references, exact gradients, dtypes, metrics, input validation."""
import math
import warnings

import numpy as np
import pytest

from smoothgrad.neurons import Theta, theta_H, theta_H_grad
from smoothgrad.reference import check_network_grad, small_case
from smoothgrad.ttfs import TTFSNetwork, reference_forward, reference_loss
from smoothgrad.ttfs_kernels import kick, kick_grad, rotate, since_spike, spike_delay


@pytest.mark.parametrize("tau,I0", [(6 / math.pi, 1.25), (1.3, 0.9)])
def test_rotation_form_matches_theta_H(tau, I0):
    neuron = Theta(tau, I0)
    c, kappa = neuron.c, neuron.c / neuron.tau
    rng = np.random.default_rng(0)
    for phi, w, dt in zip(rng.uniform(0, neuron.period, 300), rng.normal(0, 3, 300),
                          rng.uniform(0, neuron.period / 2, 300)):
        s = rng.uniform(0.01, 100)
        p, q = s * math.sin(kappa * phi), s * math.cos(kappa * phi)
        pk, qk = kick(p, q, w / c)
        H, dphi, dw = theta_H_grad(phi, w, c, tau)
        assert abs(math.atan2(pk, qk) / kappa - theta_H(phi, w, c, tau)) < 1e-12
        dth, dk = kick_grad(p, q, qk)
        assert abs(dth - dphi) < 1e-12 and abs(dk / (c * kappa) - dw) < 1e-12
        pr, qr = rotate(p, q, math.cos(kappa * dt), math.sin(kappa * dt))
        assert abs((math.atan2(pr, qr) % (2 * math.pi)) / kappa - (phi + dt) % (2 * neuron.period)) < 1e-12
        assert abs(spike_delay(p, q, kappa) - (neuron.period - phi)) < 1e-12
        if phi + dt > neuron.period:
            assert abs(since_spike(pr, qr, kappa) - (phi + dt - neuron.period)) < 1e-12


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_forward_matches_reference(seed):
    net, XT, labels = small_case(seed)
    t_ref, spikes = reference_forward(net, XT)
    assert np.abs(net.output_times(XT, as_times=True) - t_ref).max() < 1e-10
    out = net._run(0, XT)
    counts = np.array([np.concatenate([np.bincount([i for _, i in lay], minlength=n)
                                       for lay, n in zip(s[:-1], net.sizes[1:-1])]) for s in spikes])
    assert (out["nspk"] == counts).all()
    loss, acc = reference_loss(t_ref, labels, net.T)
    l2, a2, _ = net.loss_and_grad(XT, labels, as_times=True)
    assert abs(loss - l2) < 1e-10 and acc == a2


def test_binarised_inputs_match_reference():
    net = TTFSNetwork((30, 10, 10, 5), seed=4, w_scale=8.0, dtype=np.float64)
    x = (np.random.default_rng(1).random((8, 30)) < 0.4).astype(np.float32)
    t_ref, spikes = reference_forward(net, net.input_times(x))
    assert sum(len(lay) for s in spikes for lay in s[:-1]) > 0
    assert np.abs(net.output_times(x) - t_ref).max() < 1e-10
    assert np.allclose(net.input_times(x)[x != 0], net.T * math.log(1 / 0.99))


def test_multiple_spikes_and_capacity_growth():
    net, XT, _ = small_case(3, w_scale=2.0)
    net.weights = [np.abs(W) * 4 for W in net.weights]
    net._K = 1  # force the overflow path: capacities double until every spike fits
    t_ref, spikes = reference_forward(net, XT)
    most = max(np.bincount([i for _, i in lay]).max(initial=0) for s in spikes for lay in s)
    assert most >= 2
    assert np.abs(net.output_times(XT, as_times=True) - t_ref).max() < 1e-10
    assert net._K > 1


@pytest.mark.parametrize("seed", [0, 3])
def test_gradients_match_finite_differences(seed):
    net, XT, labels = small_case(seed)
    assert net._run(0, XT)["nspk"].sum() > 5  # hidden neurons spike
    err, fds = check_network_grad(net, XT, labels)
    assert [fd.shape for fd in fds] == [p.shape for p in net.params()]
    assert err < 1e-6


def test_gradients_silent_network_finite_differences():
    net = TTFSNetwork((12, 6, 5, 3), seed=1, dtype=np.float64)
    XT = net.input_times((np.random.default_rng(0).random((4, 12)) < 0.5).astype(float))
    labels = np.array([0, 1, 2, 0])
    assert net._run(0, XT)["nspk"].sum() == 0
    _, _, grads = net.loss_and_grad(XT, labels, as_times=True)
    assert all(np.abs(g).max() > 0 for g in grads)
    assert check_network_grad(net, XT, labels)[0] < 1e-6


def test_vjp_matches_loss_gradient():
    net, XT, labels = small_case(1)
    t = net.output_times(XT, as_times=True)
    sm = np.exp(-t - (-t).max(1, keepdims=True))
    sm /= sm.sum(1, keepdims=True)
    g = -sm
    rows = np.arange(len(labels))
    g[rows, labels] += 1 + 1e-2 * np.exp(t[rows, labels] / net.T) / net.T
    t2, gv = net.output_times_vjp(XT, g / len(labels), as_times=True)
    _, _, gl = net.loss_and_grad(XT, labels, as_times=True)
    assert np.array_equal(t, t2)
    for a, b in zip(gv, gl):
        assert np.abs(a - b).max() < 1e-12


def _embedded(net):
    "The same 2-layer network as one recurrent network for smoothgrad.simulate (hidden then output neurons)."
    n_in, n_h, n_o = net.sizes
    W1, W2 = (np.asarray(W, np.float64) for W in net.weights)
    w = np.zeros((n_h + n_o, n_h + n_o))
    w[n_h:, :n_h] = W2
    w_in = np.zeros((n_h + n_o, n_in))
    w_in[:n_h] = W1
    x0 = np.concatenate([np.asarray(p, np.float64) for p in net.phi0])
    return w, w_in, x0


def test_matches_general_recurrent_path():
    """One hidden layer: the general simulator's first-type pseudospikes coincide with the layered rule
    (r^(1) = H(phi(T), 0) / Theta = phi(T) / Theta), so output times and gradients must agree."""
    gradients = pytest.importorskip("smoothgrad.gradients")
    pseudo = pytest.importorskip("smoothgrad.pseudo")
    net, XT, _ = small_case(2, sizes=(15, 9, 4), w_scale=5.0, ties=False)
    n_h = net.sizes[1]
    w, w_in, x0 = _embedded(net)
    rng = np.random.default_rng(0)
    for b in range(XT.shape[0]):
        src = np.arange(net.sizes[0])
        t_gen = pseudo.output_times(net.neuron, w, w_in, XT[b], src, net.T, 1, x0=x0)[n_h:, 0]
        t_fast = net.output_times(XT[b:b + 1], as_times=True)[0]
        assert np.abs(t_gen - t_fast).max() < 1e-10
        g = rng.normal(size=net.sizes[-1])
        cot = np.zeros((w.shape[0], 1))
        cot[n_h:, 0] = g
        _, gg = gradients.output_times_vjp(net.neuron, w, w_in, XT[b], src, net.T, 1, cot, x0=x0)
        _, gf = net.output_times_vjp(XT[b:b + 1], g[None], as_times=True)
        assert np.abs(gf[0] - gg["w_in"][:n_h]).max() < 1e-9
        assert np.abs(gf[1] - gg["w"][n_h:, :n_h]).max() < 1e-9
        assert np.abs(np.concatenate(gf[2:]) - gg["x0"]).max() < 1e-9


def test_silent_network_gets_gradients_in_every_layer():
    net = TTFSNetwork(dtype=np.float64)
    x = (np.random.default_rng(0).random((16, 784)) < 0.19).astype(np.float32)
    labels = np.arange(16) % 10
    m = net.evaluate(x, labels)
    assert m["hidden_spikes_per_neuron"] == 0 and m["silent_fraction"] == 1 and m["accuracy_ordinary"] == 0
    t = net.output_times(x)
    assert (t > net.T).all()
    loss, acc, grads = net.loss_and_grad(x, labels)
    assert len(grads) == 6 and [g.shape for g in grads] == [p.shape for p in net.params()]
    assert all(np.abs(g).max() > 0 for g in grads)
    assert np.isfinite(loss) and 0 <= acc <= 1


def test_float32_agrees_with_float64():
    net64, XT, labels = small_case(5)
    net32 = TTFSNetwork(net64.sizes, seed=5, w_scale=6.0, dtype=np.float32)
    l64, _, g64 = net64.loss_and_grad(XT, labels, as_times=True)
    l32, _, g32 = net32.loss_and_grad(XT, labels, as_times=True)
    t32 = net32.output_times(XT, as_times=True)
    assert t32.dtype == np.float32 and all(g.dtype == np.float32 for g in g32)
    assert np.abs(net64.output_times(XT, as_times=True) - t32).max() < 1e-4
    assert abs(l64 - l32) < 1e-4
    for a, b in zip(g64, g32):
        assert np.abs(a - b).max() < 1e-4 * max(1.0, np.abs(a).max())


def test_evaluate_metrics():
    net, XT, labels = small_case(0, B=10)
    m = net.evaluate(XT, labels, as_times=True, batch_size=3)
    out = net._run(0, XT, labels)
    t_first = out["t_first"]
    ok = 0
    for b, y in enumerate(labels):
        others = np.delete(t_first[b], y)
        ok += np.isfinite(t_first[b, y]) and t_first[b, y] < others.min()
    assert m["accuracy_ordinary"] == ok / len(labels)
    assert m["accuracy"] == np.mean(net.output_times(XT, as_times=True).argmin(1) == labels)
    assert abs(m["loss"] - reference_loss(reference_forward(net, XT)[0], labels, net.T)[0]) < 1e-10
    n_hid = sum(net.sizes[1:-1])
    assert m["hidden_spikes_per_neuron"] == out["nspk"].sum() / (len(labels) * n_hid)
    assert m["hidden_spikes_before_output"] <= m["hidden_spikes_per_neuron"]
    assert m["silent_fraction"] == np.mean(out["nspk"].sum(0) == 0)


def test_params_and_clip():
    net = TTFSNetwork((10, 5, 3), seed=0, w_scale=0.5)
    assert net.weights[0].shape == (5, 10) and net.weights[1].shape == (3, 5)
    assert np.abs(net.weights[0]).max() <= 0.5 / math.sqrt(10)
    assert all(np.all(p == 3.0) for p in net.phi0) and net.period == pytest.approx(6.0)
    ps = net.params()
    assert len(ps) == 4 and ps[0] is net.weights[0] and ps[2] is net.phi0[0]
    net.phi0[0][:] = [-1, 0, 3, 6, 7]
    net.clip_params()
    assert net.phi0[0].tolist() == [0, 0, 3, 6, 6]
    net.phi0[0][0] = -0.1
    with pytest.raises(ValueError):
        net.output_times(np.zeros((1, 10)))


def test_phase_edges():
    "Initial phases 0 and period (spike at t = 0) are valid and agree with the reference."
    net, XT, _ = small_case(6)
    net.phi0[0][:2] = [0.0, net.period]
    t_ref, spikes = reference_forward(net, XT)
    assert np.abs(net.output_times(XT, as_times=True) - t_ref).max() < 1e-10


@pytest.mark.parametrize("bad,err", [(np.zeros((2, 19)), ValueError), (np.zeros(20), ValueError),
                                     (np.full((2, 20), np.nan), ValueError), (np.full((2, 20), np.inf), ValueError),
                                     (np.array([["a"] * 20] * 2), TypeError)])
def test_bad_inputs(bad, err):
    net = TTFSNetwork((20, 8, 4), dtype=np.float64)
    with pytest.raises(err):
        net.output_times(bad)


def test_bad_labels_and_times():
    net = TTFSNetwork((20, 8, 4), dtype=np.float64)
    x = np.zeros((2, 20))
    for labels in ([0, 4], [0.5, 1], [0, 1, 2], [-1, 0], [np.nan, 0]):
        with pytest.raises(ValueError):
            net.loss_and_grad(x, np.asarray(labels))
    with pytest.raises(ValueError):
        net.output_times(-np.ones((2, 20)), as_times=True)
    with pytest.raises(ValueError):
        net.output_times_vjp(x, np.zeros((2, 3)))
    with pytest.raises(ValueError):
        TTFSNetwork((20, 8, 4), dtype=np.int32)
    with pytest.raises(ValueError):
        TTFSNetwork((20, 8, 4), backend="tpu")
    net.weights[0][0, 0] = np.nan
    with pytest.raises(ValueError):
        net.output_times(x)


def test_auto_backend_falls_back_to_cpu():
    from smoothgrad import gpu

    ok, _ = gpu.gpu_available()
    if ok:
        pytest.skip("a GPU is available")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        net = TTFSNetwork((10, 4, 3), backend="auto")
    assert net.backend == "cpu" and any("falls back" in str(r.message) for r in rec)
    with pytest.raises(RuntimeError):
        TTFSNetwork((10, 4, 3), backend="cupy")


def test_simultaneous_hidden_spikes():
    """Two identical hidden neurons spike at the same time (one event group of two in the next layer).
    Perturbing both identically keeps the tie: central differences must match the summed gradients; perturbing
    one breaks it, and its gradient must equal one of the two one-sided differences."""
    net, XT, labels = small_case(7, sizes=(12, 6, 5, 3), w_scale=6.0)
    W1 = net.weights[0]
    W1[1] = W1[0]
    net.phi0[0][1] = net.phi0[0][0]
    t_ref, spikes = reference_forward(net, XT)
    assert np.abs(net.output_times(XT, as_times=True) - t_ref).max() < 1e-10
    assert any(sum(1 for _, i in s[0] if i in (0, 1)) >= 2 for s in spikes)  # the twins spike
    _, _, g = net.loss_and_grad(XT, labels, as_times=True)
    h = 1e-6

    def loss():
        return net.loss_and_grad(XT, labels, as_times=True)[0]

    for j in range(12):
        for arr, idx in ((W1, [(0, j), (1, j)]),):
            old = [arr[k] for k in idx]
            for k in idx:
                arr[k] += h
            lp = loss()
            for k, o in zip(idx, old):
                arr[k] = o - h
            lm = loss()
            for k, o in zip(idx, old):
                arr[k] = o
            fd = (lp - lm) / (2 * h)
            assert abs(fd - (g[0][0, j] + g[0][1, j])) < 1e-6 * max(1.0, np.abs(g[0]).max())
    l0 = loss()
    for i in (0, 1):
        for j in range(12):
            old = W1[i, j]
            W1[i, j] = old + h
            fp = (loss() - l0) / h
            W1[i, j] = old - h
            fm = (l0 - loss()) / h
            W1[i, j] = old
            assert min(abs(g[0][i, j] - fp), abs(g[0][i, j] - fm)) < 1e-4 * max(1.0, np.abs(g[0]).max())


def test_long_trial_many_spikes():
    "T > period: free-running neurons spike repeatedly, long intervals are substepped; forward and gradients."
    rng = np.random.default_rng(0)
    net = TTFSNetwork((10, 6, 5, 3), T=13.0, seed=2, w_scale=2.0, dtype=np.float64)
    net.phi0 = [rng.uniform(0.5, 5.5, len(p)) for p in net.phi0]
    XT = np.where(rng.random((4, 10)) < 0.6, rng.uniform(0, 12, (4, 10)), np.inf)
    labels = np.array([0, 1, 2, 1])
    t_ref, spikes = reference_forward(net, XT)
    assert len(spikes[0][0]) >= 12
    assert np.abs(net.output_times(XT, as_times=True) - t_ref).max() < 1e-10
    assert check_network_grad(net, XT, labels)[0] < 1e-6


def test_compile_notice_once_for_smoothgrad_kernels(monkeypatch, capsys):
    "Issue 19: the first numba compilation (a cache miss) of a smoothgrad kernel prints one line to stderr, once."
    from types import SimpleNamespace

    from numba.core import event

    import smoothgrad.ttfs as T

    def miss(module):
        return event.Event("numba:compile", event.EventStatus.START,
                           data=dict(dispatcher=SimpleNamespace(py_func=SimpleNamespace(__module__=module))))

    monkeypatch.setitem(T._NOTICE, "shown", False)
    monkeypatch.setenv("SMOOTHGRAD_COMPILE_NOTICE", "1")
    for m in ("numpy.linalg", "smoothgrad.ttfs_kernels", "smoothgrad.simulate", "smoothgrad.ttfs_kernels"):
        event.broadcast(miss(m))  # the listener is registered with numba itself
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("smoothgrad: compiling kernels (about 20 s per kind of network, once; later runs")
    monkeypatch.setitem(T._NOTICE, "shown", False)
    monkeypatch.setenv("SMOOTHGRAD_COMPILE_NOTICE", "0")
    event.broadcast(miss("smoothgrad.simulate"))
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("SMOOTHGRAD_COMPILE_NOTICE")
    assert T._compile_notice_wanted() == ("ipykernel" not in __import__("sys").modules)


def test_predict_docstring_says_what_as_times_means():
    "Issue 19: predict returns classes whatever as_times is; the docstring says so and what as_times means."
    doc = TTFSNetwork.predict.__doc__
    assert "int64 class indices, never times" in doc and "x` holds input spike times" in doc


@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_sharper_softmax_matches_reference_and_finite_differences(beta):
    net, XT, labels = small_case(0)
    net.beta = beta
    t_ref, _ = reference_forward(net, XT)
    loss, acc = reference_loss(t_ref, labels, net.T, net.reg, beta)
    l2, a2, _ = net.loss_and_grad(XT, labels, as_times=True)
    assert abs(loss - l2) < 1e-10 and acc == a2
    assert abs(loss - reference_loss(t_ref, labels, net.T, net.reg)[0]) > 1e-3  # beta changes the loss
    assert check_network_grad(net, XT, labels)[0] < 1e-6


def test_beta_one_is_the_papers_loss_bit_for_bit():
    for dtype in (np.float32, np.float64):
        nets = [TTFSNetwork((30, 12, 5), seed=2, w_scale=6.0, dtype=dtype, **kw) for kw in ({}, {"beta": 1.0})]
        x = (np.random.default_rng(3).random((16, 30)) < 0.4).astype(np.float32)
        y = np.arange(16) % 5
        (l1, _, g1), (l2, _, g2) = (n.loss_and_grad(x, y) for n in nets)
        t = nets[0].output_times(x).astype(np.float64)
        assert l1 == l2 and all(np.array_equal(a, b) for a, b in zip(g1, g2))
        assert abs(l1 - reference_loss(t, y, nets[0].T, nets[0].reg)[0]) < (1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "2"])
def test_beta_is_checked(bad):
    with pytest.raises((TypeError, ValueError), match="beta"):
        TTFSNetwork((6, 4, 3), beta=bad)
    net = TTFSNetwork((6, 4, 3), beta=2.0)
    with pytest.raises((TypeError, ValueError), match="beta"):
        net.beta = bad
    assert net.beta == 2.0


def test_beta_survives_save_and_load(tmp_path):
    net = TTFSNetwork((6, 4, 3), beta=2.5, reg=0.1)
    net.save(tmp_path / "n.npz")
    again = TTFSNetwork.load(tmp_path / "n.npz")
    assert (again.beta, again.reg) == (2.5, 0.1)
    assert again.loss_and_grad(np.ones((2, 6)), [0, 1])[0] == net.loss_and_grad(np.ones((2, 6)), [0, 1])[0]
