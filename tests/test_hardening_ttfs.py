"""Hardening of TTFSNetwork (issue 18): attributes validated where they are set (so `save` writes only what `load`
accepts), bounded reads of network files, and neuron parameters that the dtype cannot represent refused up front
(no hang, no silent zeros, no false "NaN or inf")."""
import io
import math
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from test_hardening_data import peak_mib  # one helper for peak memory

import smoothgrad.core as core
import smoothgrad.ttfs as ttfs
from smoothgrad.neurons import Theta
from smoothgrad.ttfs import MAX_ABS_WEIGHT, MAX_PARAM_BYTES, MAX_TRIAL_PERIODS, TTFSNetwork, reference_forward


def _same(a, b):
    "Two networks with identical configuration and bit-identical parameters."
    assert (a.sizes, a.T, a.t_in, a.reg, a.dtype) == (b.sizes, b.T, b.t_in, b.reg, b.dtype)
    assert (a.neuron.tau, a.neuron.I0) == (b.neuron.tau, b.neuron.I0)
    assert all(x.dtype == y.dtype == a.dtype and np.array_equal(x, y) for x, y in zip(a.params(), b.params()))


# ---- item 3: attributes validated where they are set --------------------------------------------------------
def test_issue_reproduction_T_below_t_in_is_refused_naming_both(tmp_path):
    n = TTFSNetwork((12, 8, 3), T=2.0, t_in=1.5)
    with pytest.raises(ValueError) as e:
        n.T = 1.0
    assert "T" in str(e.value) and "t_in" in str(e.value) and "1.5" in str(e.value)
    assert n.T == 2.0
    n.save(tmp_path / "n.npz")
    _same(TTFSNetwork.load(tmp_path / "n.npz"), n)


@pytest.mark.parametrize("name,value,exc", [
    ("t_in", 5.0, ValueError), ("t_in", 2.0, ValueError), ("t_in", float("nan"), ValueError), ("t_in", -1, ValueError),
    ("t_in", "0.1", TypeError), ("reg", -5, ValueError), ("reg", float("nan"), ValueError), ("reg", float("inf"), ValueError),
    ("reg", None, TypeError), ("T", float("nan"), ValueError), ("T", 0.0, ValueError), ("T", 1e10, ValueError),
    ("T", True, TypeError), ("neuron", Theta, TypeError), ("neuron", Theta(0.1, 1.25), ValueError),
    ("weights", [np.zeros((8, 12))], ValueError), ("weights", np.zeros((8, 12)), TypeError),
    ("weights", [np.zeros((8, 12), bool), np.zeros((3, 8))], TypeError),
    ("weights", [np.zeros((8, 12), complex), np.zeros((3, 8))], TypeError),
    ("weights", [np.full((8, 12), "w"), np.zeros((3, 8))], TypeError),
    ("weights", [np.full((8, 12), np.nan), np.zeros((3, 8))], ValueError),
    ("weights", [np.full((8, 12), 2 * MAX_ABS_WEIGHT), np.zeros((3, 8))], ValueError),
    ("weights", [np.zeros((12, 8)), np.zeros((3, 8))], ValueError),
    ("phi0", [np.full(8, -0.1), np.zeros(3)], ValueError), ("phi0", [np.full(8, 6.1), np.zeros(3)], ValueError),
    ("phi0", [np.zeros(8)], ValueError), ("phi0", [np.zeros(8), np.zeros(3, bool)], TypeError),
])
def test_bad_assignment_is_refused_and_changes_nothing(tmp_path, name, value, exc):
    n = TTFSNetwork((12, 8, 3), T=2.0, t_in=1.5, dtype=np.float64)
    before = {k: getattr(n, k) for k in ("T", "t_in", "reg", "neuron", "weights", "phi0")}
    with pytest.raises(exc) as e:
        setattr(n, name, value)
    assert name in str(e.value), str(e.value)
    assert all(getattr(n, k) is v for k, v in before.items())
    n.save(tmp_path / "n.npz")
    _same(TTFSNetwork.load(tmp_path / "n.npz"), n)


def test_reg_nan_says_nan_is_not_allowed():
    n = TTFSNetwork((6, 4, 3))
    with pytest.raises(ValueError) as e:
        n.reg = float("nan")
    assert "reg" in str(e.value) and "got nan" in str(e.value).lower() and "extreme" not in str(e.value)


def test_sizes_and_dtype_are_fixed():
    n = TTFSNetwork((6, 4, 3))
    for name, value in (("sizes", (6, 5, 3)), ("dtype", np.float64)):
        with pytest.raises(AttributeError):
            setattr(n, name, value)
    assert n.sizes == (6, 4, 3) and n.dtype == np.float32


def test_assigned_arrays_are_kept_or_converted():
    "Arrays of the network's dtype are kept (optimisers update params() in place); others are converted exactly."
    n = TTFSNetwork((6, 4, 3), dtype=np.float32)
    ws = [np.full((4, 6), 0.5, np.float32), np.full((3, 4), -0.25, np.float32)]
    n.weights = ws
    assert n.weights[0] is ws[0] and n.params()[1] is ws[1]
    n.weights = [w.astype(np.float16) for w in ws]
    assert all(w.dtype == np.float32 and np.array_equal(w, v) for w, v in zip(n.weights, ws))
    n.phi0 = [np.arange(4) % 3, np.array([0, 1, 2])]  # integer phases
    assert all(p.dtype == np.float32 for p in n.phi0) and n.phi0[1].tolist() == [0.0, 1.0, 2.0]


def test_vars_still_describe_the_network():
    "The values live under their public names in vars(net): run configurations (train.run_config) see them."
    a, b = TTFSNetwork((6, 4, 3), T=2.0), TTFSNetwork((6, 4, 3), T=3.0)
    assert {"sizes", "neuron", "T", "t_in", "reg", "dtype", "weights", "phi0"} <= set(vars(a))
    assert vars(a)["T"] == 2.0 and vars(b)["T"] == 3.0
    b.T = 2.5
    assert vars(b)["T"] == 2.5 == b.T


def _configs():
    "Valid networks, including every corner of the configuration space, and after valid assignments."
    out = [
        TTFSNetwork((12, 8, 3)),
        TTFSNetwork((6, 4, 3), neuron=Theta(1.3, 0.9), T=3.0, t_in=0.5, reg=0.1, dtype=np.float64, w_scale=4.0),
        TTFSNetwork((5, 3), T=6.0 * MAX_TRIAL_PERIODS, t_in=0.0, reg=0.0, phi0=0.0, dtype=np.float64, seed=None),
        TTFSNetwork((5, 7, 7, 2), phi0=6 / math.pi * math.pi, w_scale=MAX_ABS_WEIGHT, seed=3),
        TTFSNetwork((4, 3), neuron=Theta(1e-25, 1.25), T=2e-25, dtype=np.float32),
        TTFSNetwork((4, 3), neuron=Theta(1e25, 1.25), T=2e25, dtype=np.float32),
        TTFSNetwork((4, 3), neuron=Theta(1e-290, 3.0), T=1e-289, dtype=np.float64),
        TTFSNetwork((4, 3), neuron=Theta(1e290, 3.0), T=1e290, dtype=np.float64),
    ]
    n = TTFSNetwork((6, 4, 3), dtype=np.float64)
    n.t_in, n.T, n.reg = 0.5, 0.75, 7.0
    n.weights = [np.full((4, 6), -MAX_ABS_WEIGHT), np.full((3, 4), MAX_ABS_WEIGHT)]
    n.phi0 = [np.full(4, n.period), np.zeros(3)]
    n.neuron = Theta(6 / math.pi, 1.25)
    out.append(n)
    m = TTFSNetwork((6, 4, 3), dtype=np.float32)
    m.phi0[0][:] = 10.0
    m.clip_params()  # float32(period) may exceed the float64 period by rounding: still valid
    out.append(m)
    return out


@pytest.mark.parametrize("k", range(10))
def test_save_round_trips_every_valid_network(tmp_path, k):
    net = _configs()[k]
    net.save(tmp_path / "n.npz")
    again = TTFSNetwork.load(tmp_path / "n.npz")
    _same(again, net)
    x = np.random.default_rng(k).random((3, net.sizes[0])) < 0.5
    np.testing.assert_array_equal(again.output_times(x), net.output_times(x))


def test_random_assignments_never_let_save_write_what_load_refuses(tmp_path):
    "Random valid and invalid assignments (and in-place changes): save either refuses or writes a loadable file."
    rng = np.random.default_rng(18)
    pool = {"T": [0.5, 1.0, 2.0, 5.0, -1.0, float("nan"), 1e10, 0.01], "t_in": [0.0, 0.3, 1.5, 4.0, -1.0, float("nan")],
            "reg": [0.0, 0.5, 1e3, -5.0, float("nan"), float("inf")],
            "neuron": [Theta(6 / math.pi, 1.25), Theta(1.0, 0.5), Theta(0.01, 1.25), Theta(1e-39, 1.25)]}
    saved = 0
    for trial in range(60):
        net = TTFSNetwork((5, 4, 3), dtype=(np.float32, np.float64)[trial % 2], seed=trial)
        for _ in range(6):
            name = list(pool)[rng.integers(len(pool))]
            value = pool[name][rng.integers(len(pool[name]))]
            value = Theta(value.tau, value.I0) if isinstance(value, Theta) else value  # no neuron shared by networks
            try:
                setattr(net, name, value)
            except (TypeError, ValueError):
                pass
        if trial % 5 == 0:
            net.neuron.tau = float(rng.choice([1e-45, 6 / math.pi, 1e45]))  # changed in place
        p = tmp_path / f"n{trial}.npz"
        try:
            net.save(p)
        except ValueError:
            assert not p.exists()
            continue
        _same(TTFSNetwork.load(p), net)
        saved += 1
    assert saved >= 30


def test_inputs_all_after_T_are_refused_not_ignored():
    net = TTFSNetwork((6, 4, 3), T=1.0, dtype=np.float64)
    late = np.full((4, 6), 1.5)
    late[:, 3:] = np.inf
    for call in (lambda: net.loss_and_grad(late, [0, 1, 2, 0], as_times=True),
                 lambda: net.output_times(late, as_times=True), lambda: net.evaluate(late, [0, 1, 2, 0], as_times=True)):
        with pytest.raises(ValueError, match=r"x: every input spike time lies at or after T = 1\.0"):
            call()
    blank = np.full((2, 6), np.inf)  # no input spikes at all (blank images) is a valid batch
    assert np.isfinite(net.output_times(blank, as_times=True)).all()
    late[0, 0] = 0.5  # one input inside the trial: the late ones are ignored, as documented
    assert np.isfinite(net.loss_and_grad(late, [0, 1, 2, 0], as_times=True)[0])


def test_predict_returns_classes_and_refuses_ambiguous_inputs():
    net = TTFSNetwork((6, 4, 3), dtype=np.float64, w_scale=3.0)
    x = np.random.default_rng(1).random((5, 6)) < 0.5
    p = net.predict(net.input_times(x), as_times=True)
    assert p.dtype == np.int64 and p.shape == (5,) and np.array_equal(p, net.predict(x))
    np.testing.assert_array_equal(p, net.output_times(x).argmin(axis=1))
    assert "never times" in TTFSNetwork.predict.__doc__
    for method in ("predict", "output_times"):
        with pytest.raises(TypeError, match="as_times"):
            getattr(net, method)(x, as_times=True)  # booleans are binarised inputs, not times


# ---- item 9: time scales the dtype cannot represent --------------------------------------------------------
HANG = """
import numpy as np
from smoothgrad.neurons import Theta
from smoothgrad.ttfs import TTFSNetwork
for tau in (1e-39, 1e-40):
    try:
        TTFSNetwork((10, 5, 3), neuron=Theta(tau, 1.25), T=2 * tau, dtype=np.float32).output_times(np.ones((3, 10)))
    except ValueError as e:
        assert "period" in str(e) and "float32" in str(e), e
    else:
        raise SystemExit("accepted")
print("refused")
"""


def test_tiny_tau_in_float32_is_refused_not_a_hang():
    r = subprocess.run([sys.executable, "-c", HANG], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "refused" in r.stdout, r.stderr[-2000:]


@pytest.mark.parametrize("tau", [1e-39, 1e-300, 1e40])
def test_extreme_tau_float32_refused_with_the_limit_float64_exact(tau):
    neuron = Theta(tau, 1.25)
    with pytest.raises(ValueError) as e:
        TTFSNetwork((10, 5, 3), neuron=neuron, T=2 * neuron.period / 6, dtype=np.float32)
    msg = str(e.value)
    assert "neuron" in msg and "period" in msg and "float32" in msg and "NaN" not in msg
    lo, hi = ttfs._time_range(np.float32)
    assert f"{lo:.2g}" in msg and f"{hi:.2g}" in msg
    net = TTFSNetwork((10, 5, 3), neuron=neuron, T=2 * neuron.period / 6, dtype=np.float64, w_scale=3.0)
    x = np.ones((3, 10))
    t, ref = net.output_times(x), reference_forward(net, net.input_times(x))[0]
    assert np.isfinite(t).all() and (t > 0).all()
    np.testing.assert_allclose(t, ref, rtol=1e-9, atol=0)


def test_neuron_changed_in_place_is_refused_at_use():
    net = TTFSNetwork((10, 5, 3), dtype=np.float32)
    net.neuron.tau = 1e-39
    with pytest.raises(ValueError, match="T must|period"):
        net.output_times(np.ones((3, 10)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_scales_just_inside_the_range_compute(dtype):
    "At both ends of the representable range: finite outputs, loss and gradients (the edges are not too generous)."
    lo, hi = ttfs._time_range(dtype)
    rng = np.random.default_rng(5)
    for period in (lo * 1.01, hi * 0.99):
        neuron = Theta(period / math.pi, 1.25)
        net = TTFSNetwork((8, 5, 3), neuron=neuron, T=neuron.period, dtype=dtype, w_scale=4.0)
        x = rng.random((4, 8)) < 0.5
        loss, _, grads = net.loss_and_grad(x, [0, 1, 2, 0])
        t = net.output_times(x)
        assert np.isfinite(t).all() and (t > 0).all() and math.isfinite(loss)
        assert all(np.isfinite(g).all() for g in grads)
        too_far = Theta(period * (0.5 if period < 1 else 2.0) / math.pi, 1.25)
        with pytest.raises(ValueError, match="neuron"):
            TTFSNetwork((8, 5, 3), neuron=too_far, T=too_far.period, dtype=dtype)


def test_T_outside_the_range_is_refused_naming_T():
    with pytest.raises(ValueError, match=r"^T = 1e-35 lies outside"):
        TTFSNetwork((4, 3), T=1e-35, dtype=np.float32)
    TTFSNetwork((4, 3), T=1e-35, dtype=np.float64)  # fine in float64


# ---- item 8: bounded reads of network files ----------------------------------------------------------------
def _npy(a) -> bytes:
    f = io.BytesIO()
    np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)
    return f.getvalue()


def _members(net) -> dict:
    "The members of the file `net.save` writes, by name."
    p = io.BytesIO()
    np.savez(p, format=np.array(ttfs._FORMAT), sizes=np.array(net.sizes, np.int64), dtype=np.array(net.dtype.name),
             config=np.array([net.neuron.tau, net.neuron.I0, net.T, net.t_in, net.reg, net.beta]),
             **{f"weights_{l}": w for l, w in enumerate(net.weights)}, **{f"phi0_{l}": q for l, q in enumerate(net.phi0)})
    with zipfile.ZipFile(io.BytesIO(p.getvalue())) as z:
        return {n: z.read(n) for n in z.namelist()}


def _write_zip(path, members, compress=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compress) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_file_without_beta_loads_with_the_papers_loss(tmp_path):
    net = TTFSNetwork((6, 4, 3), reg=0.2, dtype=np.float64)
    members = _members(net)
    members["config.npy"] = _npy(np.array([net.neuron.tau, net.neuron.I0, net.T, net.t_in, net.reg]))
    again = TTFSNetwork.load(_write_zip(tmp_path / "old.npz", members))
    assert (again.beta, again.reg, again.T) == (1.0, 0.2, net.T)
    members["config.npy"] = _npy(np.array([net.neuron.tau, net.neuron.I0, net.T, net.t_in, net.reg, 0.0]))
    with pytest.raises(ValueError, match="beta"):
        TTFSNetwork.load(_write_zip(tmp_path / "zero.npz", members))




def _small():
    return TTFSNetwork((6, 4, 3), dtype=np.float64, seed=1)


def test_declared_widths_without_the_data_allocate_nothing(tmp_path):
    "The issue's 2 KiB file declaring sizes=[784, 100000, 10]: refused before any allocation from the widths."
    m = _members(_small())
    m["sizes.npy"] = _npy(np.array([784, 100000, 10], np.int64))
    p = _write_zip(tmp_path / "wide.npz", m)
    assert p.stat().st_size < 4096
    err, peak = peak_mib(lambda: TTFSNetwork.load(p))
    assert isinstance(err, ValueError) and "wide.npz" in str(err), err
    assert peak < 5, peak


def test_a_header_claiming_a_large_array_is_not_believed(tmp_path):
    "A weight member whose .npy header declares (100000, 784) but holds a few bytes: refused before reading it."
    m = _members(_small())
    hdr = io.BytesIO()
    np.lib.format.write_array_header_1_0(hdr, {"descr": "<f8", "fortran_order": False, "shape": (4, 6)})
    m["weights_0.npy"] = hdr.getvalue() + b"\0" * 10  # declares 192 bytes, holds 10
    p = _write_zip(tmp_path / "short.npz", m)
    err, peak = peak_mib(lambda: TTFSNetwork.load(p))
    assert isinstance(err, ValueError) and "short.npz" in str(err) and "weights_0" in str(err), err
    assert peak < 5


def test_unexpected_members_are_refused_unread(tmp_path):
    m = _members(_small())
    m["extra.npy"] = b"\0" * (32 * 2**20)  # 32 MiB, deflated to a few KiB
    p = _write_zip(tmp_path / "extra.npz", m, zipfile.ZIP_DEFLATED)
    assert p.stat().st_size < 2**20
    err, peak = peak_mib(lambda: TTFSNetwork.load(p))
    assert isinstance(err, ValueError) and "extra.npy" in str(err) and "not written by save" in str(err), err
    assert peak < 5, peak


def test_oversized_member_is_refused_from_the_zip_directory(tmp_path):
    "A member larger than its declared shape allows (data appended after the array) is refused before reading."
    net = _small()
    m = _members(net)
    m["weights_1.npy"] = _npy(net.weights[1]) + b"\0" * (32 * 2**20)
    p = _write_zip(tmp_path / "fat.npz", m, zipfile.ZIP_DEFLATED)
    err, peak = peak_mib(lambda: TTFSNetwork.load(p))
    assert isinstance(err, ValueError) and "weights_1.npy" in str(err) and "more than" in str(err), err
    assert peak < 5, peak


@pytest.mark.parametrize("kind", ["complex", "str", "bool", "object", "longdouble", "structured"])
def test_weights_of_a_non_real_dtype_are_refused(tmp_path, kind):
    net = _small()
    m = _members(net)
    w = net.weights[0]
    bad = {"complex": w.astype(complex), "str": w.astype(str), "bool": w > 0, "longdouble": w.astype(np.longdouble),
           "structured": np.zeros((4, 6), [("a", "<f8")])}
    if kind == "object":
        hdr = io.BytesIO()
        np.lib.format.write_array_header_1_0(hdr, {"descr": "|O", "fortran_order": False, "shape": (4, 6)})
        m["weights_0.npy"] = hdr.getvalue() + b"\0" * 192
    else:
        if kind == "longdouble" and np.dtype(np.longdouble).itemsize == 8:
            pytest.skip("long double is float64 here")
        m["weights_0.npy"] = _npy(bad[kind])
    p = _write_zip(tmp_path / f"{kind}.npz", m)
    with pytest.raises(ValueError, match=f"{kind}.npz.*weights_0.npy"):
        TTFSNetwork.load(p)


def test_float16_and_fortran_weights_are_read_exactly(tmp_path):
    net = _small()
    net.weights = [np.round(w * 64) / 64 for w in net.weights]  # exact in float16
    m = _members(net)
    m["weights_0.npy"] = _npy(net.weights[0].astype(np.float16))
    m["weights_1.npy"] = _npy(np.asfortranarray(net.weights[1]))
    p = _write_zip(tmp_path / "half.npz", m)
    again = TTFSNetwork.load(p)
    _same(again, net)


def test_huge_declared_widths_are_a_clear_error_not_a_memory_error(tmp_path):
    m = _members(_small())
    m["sizes.npy"] = _npy(np.array([10**7, 10**7], np.int64))
    p = _write_zip(tmp_path / "huge.npz", m)
    with pytest.raises(ValueError, match="huge.npz.*MAX_PARAM_BYTES"):
        TTFSNetwork.load(p)
    with pytest.raises(ValueError, match="sizes .* MAX_PARAM_BYTES"):
        TTFSNetwork((10**7, 10**7))
    assert MAX_PARAM_BYTES <= 2**31


def test_duplicate_and_missing_members_are_refused(tmp_path):
    net = _small()
    m = _members(net)
    p = tmp_path / "dup.npz"
    with zipfile.ZipFile(p, "w") as z:
        for name, data in m.items():
            z.writestr(name, data)
        with pytest.warns(UserWarning):
            z.writestr("phi0_0.npy", data)
    with pytest.raises(ValueError, match="dup.npz.*duplicate"):
        TTFSNetwork.load(p)
    del m["phi0_1.npy"]
    with pytest.raises(ValueError, match="missing"):
        TTFSNetwork.load(_write_zip(tmp_path / "miss.npz", m))


# ---- atomic writes --------------------------------------------------------------------------------------------
def test_save_goes_through_core_atomic_write(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(ttfs, "atomic_write", lambda path, data: calls.append(path) or core.atomic_write(path, data))
    _small().save(tmp_path / "a.npz")
    assert calls == [tmp_path / "a.npz"]


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    old, new = _small(), TTFSNetwork((6, 4, 3), dtype=np.float64, seed=2)
    p = tmp_path / "n.npz"
    old.save(p)

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        new.save(p)
    monkeypatch.undo()
    _same(TTFSNetwork.load(p), old)
    assert sorted(os.listdir(tmp_path)) == ["n.npz"]
