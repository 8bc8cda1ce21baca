"""Adversarial tests of TTFSNetwork: hundreds of invalid arguments (each must raise a TypeError/ValueError naming
the argument), corrupt files, and random networks in extreme regimes (never a silent NaN/inf, never a hang)."""
import math
import re
import time

import numpy as np
import pytest

from smoothgrad.neurons import Theta
from smoothgrad.ttfs import MAX_TRIAL_PERIODS, TTFSNetwork

SMALL = (6, 4, 3)


# ---- constructor arguments -----------------------------------------------------------------------------------
BAD_INIT = [
    ("sizes", (6, 2.5, 3)), ("sizes", (6, 3.0, 3)), ("sizes", (6, np.float64(2), 3)), ("sizes", (6,)), ("sizes", ()),
    ("sizes", (6, 0, 3)), ("sizes", (6, -1, 3)), ("sizes", "abc"), ("sizes", None), ("sizes", 5), ("sizes", 5.0),
    ("sizes", (6, True, 3)), ("sizes", [6, [2], 3]), ("sizes", (6, 10**8, 3)), ("sizes", (6, "4", 3)),
    ("sizes", (6, None, 3)), ("sizes", {6: 1, 4: 2}), ("sizes", (6, 4 + 0j, 3)), ("sizes", (6, float("nan"), 3)),
    ("neuron", Theta), ("neuron", "theta"), ("neuron", 1.0), ("neuron", object()), ("neuron", [Theta()]),
    ("T", 0), ("T", 0.0), ("T", -1), ("T", float("nan")), ("T", float("inf")), ("T", 1e10), ("T", "2"), ("T", None),
    ("T", True), ("T", 1 + 2j), ("T", [2.0]), ("T", np.array([2.0, 3.0])), ("T", 6.0 * MAX_TRIAL_PERIODS * 1.01),
    ("seed", -1), ("seed", 1.5), ("seed", "a"), ("seed", True), ("seed", [1, 2]),
    ("w_scale", -1), ("w_scale", float("nan")), ("w_scale", float("inf")), ("w_scale", "x"), ("w_scale", 1e7),
    ("w_scale", None), ("w_scale", False),
    ("dtype", np.int32), ("dtype", "float16"), ("dtype", "banana"), ("dtype", object), ("dtype", np.complex128),
    ("dtype", None), ("dtype", 3),
    ("backend", "tpu"), ("backend", None), ("backend", 1), ("backend", "CPU"), ("backend", ["cpu"]),
    ("t_in", -0.1), ("t_in", 2.0), ("t_in", 3.0), ("t_in", float("nan")), ("t_in", "x"), ("t_in", float("inf")),
    ("t_in", True),
    ("reg", float("nan")), ("reg", -1), ("reg", float("inf")), ("reg", "x"), ("reg", None),
    ("phi0", -1), ("phi0", 7.0), ("phi0", float("nan")), ("phi0", "x"), ("phi0", float("-inf")), ("phi0", True),
]


def _case_id(arg, value):
    "A test id without memory addresses (pytest-xdist workers must collect identical ids)."
    return re.sub(r" at 0x[0-9a-fA-F]+", "", f"{arg}={value!r}")[:40]


@pytest.mark.parametrize("arg,value", BAD_INIT, ids=[_case_id(a, v) for a, v in BAD_INIT])
def test_constructor_rejects(arg, value):
    kw = {"sizes": SMALL, arg: value}
    with pytest.raises((TypeError, ValueError)) as info:
        TTFSNetwork(**kw)
    assert arg in str(info.value) or (arg == "sizes" and "width" in str(info.value)), str(info.value)


def test_constructor_accepts_edges():
    "Valid corner values: numpy integers as sizes, phases 0 and period, T at its limit, t_in = 0, reg = 0."
    net = TTFSNetwork((np.int64(6), np.int32(4), 3), T=6.0 * MAX_TRIAL_PERIODS, t_in=0.0, reg=0.0, phi0=6.0,
                      seed=None, w_scale=0.0, dtype="float64")
    assert net.sizes == (6, 4, 3) and isinstance(net.sizes[0], int)
    TTFSNetwork((6, 4, 3), dtype="float64").output_times(np.ones((2, 6)))  # compiles the kernels, not timed
    t0 = time.perf_counter()
    t = net.output_times(np.ones((2, 6)))  # free-running neurons over 1000 periods: bounded work
    assert np.isfinite(t).all() and time.perf_counter() - t0 < 20


# ---- method arguments -----------------------------------------------------------------------------------------
def _net():
    return TTFSNetwork(SMALL, dtype=np.float64, w_scale=3.0)


BAD_X = [
    np.zeros((2, 5)), np.zeros((2, 7)), np.zeros(6), np.zeros((0, 6)), np.zeros((2, 6, 1)), np.full((2, 6), np.nan),
    np.full((2, 6), np.inf), np.full((2, 6), -np.inf), np.array([["a"] * 6] * 2), None, {"x": 1}, "pixels",
    [[0, 1, 0], [1, 0]], np.zeros((2, 6), complex), np.zeros((2, 6), object), 3.0, np.float64(1.0), [],
]


@pytest.mark.parametrize("method", ["output_times", "predict", "input_times"])
@pytest.mark.parametrize("x", BAD_X, ids=[f"x{i}" for i in range(len(BAD_X))])
def test_bad_inputs(method, x):
    with pytest.raises((TypeError, ValueError)):
        getattr(_net(), method)(x)


BAD_TIMES = [-np.ones((2, 6)), np.full((2, 6), np.nan), np.full((2, 6), -np.inf), np.zeros((2, 5)), None, "t"]


@pytest.mark.parametrize("x", BAD_TIMES, ids=[f"t{i}" for i in range(len(BAD_TIMES))])
@pytest.mark.parametrize("method", ["output_times", "predict"])
def test_bad_input_times(method, x):
    with pytest.raises((TypeError, ValueError)):
        getattr(_net(), method)(x, as_times=True)


@pytest.mark.parametrize("as_times", ["yes", None, 1, 0.0, [True]])
def test_bad_as_times(as_times):
    with pytest.raises(TypeError, match="as_times"):
        _net().output_times(np.zeros((2, 6)), as_times=as_times)


BAD_LABELS = [[0, 3], [0, -1], [0.5, 1], [np.nan, 0], [0, 1, 2], [[0, 1]], "ab", None, [True, False], [0, np.inf],
              np.array([0, 1], complex), np.array([0, 1], object), [1e30, 0]]


@pytest.mark.parametrize("labels", BAD_LABELS, ids=[f"y{i}" for i in range(len(BAD_LABELS))])
@pytest.mark.parametrize("method", ["loss_and_grad", "evaluate"])
def test_bad_labels(method, labels):
    with pytest.raises((TypeError, ValueError), match="labels"):
        getattr(_net(), method)(np.zeros((2, 6)), labels)


BAD_GOUT = [np.zeros((2, 2)), np.zeros((3, 3)), np.full((2, 3), np.nan), np.full((2, 3), np.inf), None, "g",
            np.zeros(3)]


@pytest.mark.parametrize("g", BAD_GOUT, ids=[f"g{i}" for i in range(len(BAD_GOUT))])
def test_bad_cotangents(g):
    with pytest.raises((TypeError, ValueError), match="g_out"):
        _net().output_times_vjp(np.zeros((2, 6)), g)


@pytest.mark.parametrize("bs", [0, -1, 1.5, "a", True, None, float("nan")])
@pytest.mark.parametrize("method", ["evaluate", "predict"])
def test_bad_batch_size(method, bs):
    args = (np.zeros((2, 6)), [0, 1]) if method == "evaluate" else (np.zeros((2, 6)),)
    with pytest.raises(ValueError, match="batch_size"):
        getattr(_net(), method)(*args, batch_size=bs)


def _set(net, what):
    "Corrupt one parameter or attribute of `net` in place."
    kind, l = what
    if kind == "nan_w":
        net.weights[l][0, 0] = np.nan
    elif kind == "inf_w":
        net.weights[l][0, 0] = np.inf
    elif kind == "huge_w":
        net.weights[l][0, 0] = 1e9
    elif kind == "shape_w":
        net.weights[l] = np.zeros((2, 2))
    elif kind == "count_w":
        net.weights = net.weights[:1]
    elif kind == "nan_phi":
        net.phi0[l][0] = np.nan
    elif kind == "neg_phi":
        net.phi0[l][0] = -0.1
    elif kind == "big_phi":
        net.phi0[l][0] = net.period + 0.1
    elif kind == "shape_phi":
        net.phi0[l] = np.zeros(9)
    elif kind == "str_w":
        net.weights[l] = "weights"
    elif kind == "T_nan":
        net.T = float("nan")
    elif kind == "T_huge":
        net.T = 1e10


CORRUPT = [(k, l) for k in ("nan_w", "inf_w", "huge_w", "shape_w", "nan_phi", "neg_phi", "big_phi", "shape_phi", "str_w")
           for l in (0, 1)]  # changed in place: refused at the next use
ASSIGNED = [("count_w", 0), ("T_nan", 0), ("T_huge", 0)]  # assigned attributes: refused where set


@pytest.mark.parametrize("what", CORRUPT, ids=[f"{k}{l}" for k, l in CORRUPT])
@pytest.mark.parametrize("method", ["output_times", "loss_and_grad", "save"])
def test_corrupt_parameters_are_refused(method, what, tmp_path):
    net = _net()
    _set(net, what)
    args = {"output_times": (np.ones((2, 6)),), "loss_and_grad": (np.ones((2, 6)), [0, 1]),
            "save": (tmp_path / "n.npz",)}[method]
    with pytest.raises((TypeError, ValueError)):
        getattr(net, method)(*args)
    assert not list(tmp_path.iterdir())  # save wrote nothing


@pytest.mark.parametrize("what", ASSIGNED, ids=[k for k, _ in ASSIGNED])
def test_bad_assignments_are_refused_where_set(what):
    net = _net()
    before = (net.T, len(net.weights))
    with pytest.raises((TypeError, ValueError), match="weights|T"):
        _set(net, what)
    assert (net.T, len(net.weights)) == before
    assert np.isfinite(net.output_times(np.ones((2, 6)))).all()


# ---- files ----------------------------------------------------------------------------------------------------
def test_save_load_roundtrip(tmp_path):
    net = TTFSNetwork(SMALL, neuron=Theta(1.3, 0.9), T=3.0, t_in=0.5, reg=0.1, dtype=np.float64, w_scale=4.0)
    net.phi0[0][:] = 0.7
    net.save(tmp_path / "a.npz")
    again = TTFSNetwork.load(tmp_path / "a.npz")
    assert (again.sizes, again.T, again.t_in, again.reg, again.dtype) == (net.sizes, net.T, net.t_in, net.reg, net.dtype)
    assert (again.neuron.tau, again.neuron.I0) == (net.neuron.tau, net.neuron.I0)
    assert all((a == b).all() and a.dtype == b.dtype for a, b in zip(again.params(), net.params()))
    x = np.random.default_rng(0).random((5, 6)) < 0.5
    assert (again.output_times(x) == net.output_times(x)).all() and (again.predict(x) == net.predict(x)).all()
    assert not list(tmp_path.glob("*.tmp*"))


def _corruptions(path):
    "Damaged variants of a saved network: (name, bytes) pairs."
    data = path.read_bytes()
    mid = len(data) // 2
    flipped = bytearray(data)
    for k in range(mid, min(mid + 64, len(data))):
        flipped[k] ^= 0xFF
    return [("empty", b""), ("truncated_10", data[:10]), ("truncated_half", data[:mid]), ("truncated_end", data[:-20]),
            ("flipped", bytes(flipped)), ("text", b"not a zip file at all"), ("zeros", bytes(len(data)))]


@pytest.mark.parametrize("kind", ["empty", "truncated_10", "truncated_half", "truncated_end", "flipped", "text", "zeros"])
def test_corrupt_file_raises_value_error_naming_it(tmp_path, kind):
    good = tmp_path / "good.npz"
    _net().save(good)
    bad = tmp_path / f"bad_{kind}.npz"
    bad.write_bytes(dict(_corruptions(good))[kind])
    with pytest.raises(ValueError, match=f"bad_{kind}"):
        TTFSNetwork.load(bad)


@pytest.mark.parametrize("change", ["format", "missing_weights", "shape", "object", "nan", "sizes_float", "config"])
def test_inconsistent_archive_raises_value_error(tmp_path, change):
    net = _net()
    net.save(tmp_path / "n.npz")
    with np.load(tmp_path / "n.npz") as z:
        d = {k: z[k] for k in z.files}
    if change == "format":
        d["format"] = np.array("something else")
    elif change == "missing_weights":
        del d["weights_1"]
    elif change == "shape":
        d["weights_0"] = np.zeros((3, 3))
    elif change == "object":
        d["weights_0"] = np.array([None, 1], dtype=object)
    elif change == "nan":
        d["phi0_0"] = np.full_like(d["phi0_0"], np.nan)
    elif change == "sizes_float":
        d["sizes"] = np.array([6.0, 4.5, 3.0])
    elif change == "config":
        d["config"] = np.array([1.0, 0.1, 2.0, 0.0, 0.0])  # I0 <= 1/4
    np.savez(tmp_path / "m.npz", **d)
    with pytest.raises(ValueError, match="m.npz"):
        TTFSNetwork.load(tmp_path / "m.npz")


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        TTFSNetwork.load(tmp_path / "nope.npz")


# ---- random networks in extreme regimes -----------------------------------------------------------------------
def _random_case(rng):
    "A random network and inputs; regimes from silent to saturated, tiny to huge weights, short to long trials."
    L = rng.integers(1, 4)
    sizes = tuple(int(s) for s in rng.integers(1, 12, L + 1))
    neuron = Theta(tau=float(np.exp(rng.uniform(np.log(0.2), np.log(5)))), I0=float(rng.uniform(0.2501, 5)))
    T = float(min(neuron.period * np.exp(rng.uniform(np.log(0.01), np.log(30))), neuron.period * MAX_TRIAL_PERIODS))
    dtype = (np.float32, np.float64)[rng.integers(2)]
    net = TTFSNetwork(sizes, neuron=neuron, T=T, seed=int(rng.integers(1000)), dtype=dtype,
                      reg=float(rng.choice([0.0, 1e-2, 10.0])), w_scale=1.0)
    scale = float(np.exp(rng.uniform(np.log(1e-4), np.log(1e6))))
    net.weights = [np.clip(W * scale * rng.choice([-1, 1], W.shape), -1e6 * neuron.c, 1e6 * neuron.c).astype(dtype)
                   for W in net.weights]
    for p in net.phi0:
        p[:] = rng.choice([0.0, net.period, rng.uniform(0, net.period)], p.shape)
    B = int(rng.integers(1, 5))
    XT = np.where(rng.random((B, sizes[0])) < 0.6, rng.uniform(0, T * 1.2, (B, sizes[0])), np.inf)
    XT[:, : sizes[0] // 2] = rng.choice([0.0, T * (1 - 1e-7), XT[0, 0]])  # ties at 0, just before T, shared
    if np.isfinite(XT).any() and not (XT < T).any():  # a batch with every input after T is refused (tested apart)
        XT[0, 0] = T * 0.5
    return net, XT, rng.integers(0, sizes[-1], B)


def test_random_extreme_networks_never_return_nan():
    "Every call returns finite times, losses and gradients, or raises a FloatingPointError that says why."
    rng = np.random.default_rng(2024)
    n_ok = n_err = 0
    t0 = time.perf_counter()
    for _ in range(600):
        net, XT, y = _random_case(rng)
        try:
            t = net.output_times(XT, as_times=True)
            loss, acc, grads = net.loss_and_grad(XT, y, as_times=True)
            t2, vjp = net.output_times_vjp(XT, rng.normal(size=t.shape), as_times=True)
            p = net.predict(XT, as_times=True)
            m = net.evaluate(XT, y, as_times=True)
        except FloatingPointError as err:
            assert "non-finite" in str(err)
            n_err += 1
            continue
        n_ok += 1
        assert np.isfinite(t).all() and np.isfinite(loss) and 0 <= acc <= 1 and (t == t2).all()
        assert all(np.isfinite(g).all() for g in grads + vjp)
        assert ((0 <= p) & (p < net.sizes[-1])).all() and all(np.isfinite(v) for v in m.values())
    assert n_ok >= 570, (n_ok, n_err)  # overflow only in rare float32 corners
    assert time.perf_counter() - t0 < 120  # bounded work (about 10 s on 2 cores)


def test_float64_moderate_regime_is_always_finite():
    "In float64 with weights up to 100 (far beyond trained networks) no call overflows."
    rng = np.random.default_rng(7)
    for _ in range(100):
        sizes = tuple(int(s) for s in rng.integers(1, 10, rng.integers(2, 5)))
        net = TTFSNetwork(sizes, T=float(rng.uniform(0.1, 30)), dtype=np.float64, seed=int(rng.integers(100)),
                          w_scale=float(rng.uniform(0, 100)))
        XT = np.where(rng.random((3, sizes[0])) < 0.5, rng.uniform(0, net.T, (3, sizes[0])), np.inf)
        loss, _, grads = net.loss_and_grad(XT, rng.integers(0, sizes[-1], 3), as_times=True)
        assert math.isfinite(loss) and all(np.isfinite(g).all() for g in grads)
