"""Tests for smoothgrad.gpu: the CUDA kernels' logic in numba's CUDA simulator (tiny networks), their sm_90
compilation, and the kernels on a real GPU (marked `gpu`, skipped without one).

The simulator must be chosen before numba.cuda is imported, so the `test_sim_*` tests run only in a process
started with NUMBA_ENABLE_CUDASIM=1; `test_simulator_suite` starts such a pytest process on this file.
Directly: NUMBA_ENABLE_CUDASIM=1 pytest tests/test_gpu.py -k sim_"""
import os
import subprocess
import sys
import types

import numpy as np
import pytest

SIM = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
sim_only = pytest.mark.skipif(not SIM, reason="runs under NUMBA_ENABLE_CUDASIM=1 (see test_simulator_suite)")


def test_simulator_suite():
    "Run this file's simulator tests in a pytest process with the CUDA simulator switched on."
    if SIM:
        pytest.skip("already in the simulator process")
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", __file__,
                          "-k", "test_sim_"], env=env, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0 and " passed" in res.stdout and " failed" not in res.stdout, res.stdout + res.stderr


# ---- helpers of the simulator tests ---------------------------------------------------------------------------
def close(a, b, tol):
    "Equal infinities, finite values equal to `tol` relative to the largest."
    fin = np.isfinite(a)
    if not (fin == np.isfinite(b)).all() or not (a[~fin] == b[~fin]).all():
        return False
    return not fin.any() or np.abs(a[fin] - b[fin]).max() < tol * max(1, np.abs(a[fin]).max())


def compare(cpu, sim, XT, y, tol, extra=False):
    "Loss, accuracy, gradients, output times and spike counts; with `extra` also evaluate(), predict() and the VJP."
    lc, ac, gc = cpu.loss_and_grad(XT, y, as_times=True)
    ls, as_, gs = sim.loss_and_grad(XT, y, as_times=True)
    assert abs(lc - ls) < tol and ac == as_, (lc, ls)
    for a, b in zip(gc, gs):
        assert a.dtype == b.dtype == cpu.dtype and close(a, b, tol), np.abs(a - b).max()
    oc, os_ = cpu._run(0, XT), sim._run(0, XT)
    assert close(oc["t_out"], os_["t_out"], tol) and (oc["nspk"] == os_["nspk"]).all()
    assert (oc["nbefore"] == os_["nbefore"]).all() and close(oc["t_first"], os_["t_first"], tol)
    if extra:
        mc, ms = cpu.evaluate(XT, y, as_times=True), sim.evaluate(XT, y, as_times=True)
        assert all(abs(mc[k] - ms[k]) < tol for k in mc), (mc, ms)
        assert (cpu.predict(XT, as_times=True) == sim.predict(XT, as_times=True)).all()
        g = np.random.default_rng(5).normal(size=(len(y), cpu.sizes[-1]))
        _, vc = cpu.output_times_vjp(XT, g, as_times=True)
        _, vs = sim.output_times_vjp(XT, g, as_times=True)
        assert all(close(a, b, tol) for a, b in zip(vc, vs))
    return gs


@pytest.fixture
def small_blocks(monkeypatch):
    "2 blocks per SM (each block runs several samples), blocks of 8 threads for (10, 6, 5, 3): idle threads."
    from smoothgrad import gpu

    monkeypatch.setattr(gpu, "BLOCKS_PER_SM", 2)
    monkeypatch.setattr(gpu, "WARP", 4)
    return gpu


def pair(**kw):
    from smoothgrad.ttfs import TTFSNetwork

    cpu, sim = TTFSNetwork(**kw), TTFSNetwork(**kw, backend="cupy")
    assert sim.backend == "cupy"
    return cpu, sim


# ---- simulator tests ------------------------------------------------------------------------------------------
@sim_only
def test_sim_available():
    from smoothgrad import gpu

    assert gpu.gpu_available() == (True, "numba CUDA simulator")
    assert not gpu.gpu_available(allow_simulator=False)[0]


@sim_only
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("seed,scale", [(1, 6.0), (2, 0.5)])  # spiking hidden layers; silent network
def test_sim_equals_cpu(small_blocks, dtype, tol, seed, scale):
    rng = np.random.default_rng(seed)
    cpu, sim = pair(sizes=(10, 6, 5, 3), seed=seed, w_scale=scale, dtype=dtype)
    XT = np.where(rng.random((5, 10)) < 0.6, rng.uniform(0, 1.5, (5, 10)), np.inf)  # unsorted input times
    XT[:, :2] = 0.3  # simultaneous inputs
    y = rng.integers(0, 3, 5)
    if scale > 1:
        assert cpu._run(0, XT)["nspk"].sum() > 3
    compare(cpu, sim, XT, y, tol, extra=seed == 1 and dtype == np.float64)


@sim_only
def test_sim_simultaneous_spikes_and_determinism(small_blocks):
    """Two identical hidden neurons: multi-event groups in layer 2 and ties in the sort; binarised inputs (the
    sorted fast path); same blocks -> bitwise identical, other block counts -> equal to rounding."""
    rng = np.random.default_rng(0)
    cpu, sim = pair(sizes=(10, 6, 5, 3), seed=4, w_scale=6.0, dtype=np.float64)
    for net in (cpu, sim):
        net.weights[0][1] = net.weights[0][0] = np.abs(net.weights[0][0]) + 1.0
    XT = cpu.input_times((rng.random((4, 10)) < 0.7).astype(np.float32)).astype(np.float64)
    o = cpu._run(0, XT)
    assert o["nspk"][:, 0].min() >= 1 and (o["nspk"][:, 0] == o["nspk"][:, 1]).all()
    y = rng.integers(0, 3, 4)
    g1 = compare(cpu, sim, XT, y, 1e-12)
    g2 = sim.loss_and_grad(XT, y, as_times=True)[2]
    assert all((a == b).all() for a, b in zip(g1, g2))
    small_blocks.BLOCKS_PER_SM = 1
    g3 = sim.loss_and_grad(XT, y, as_times=True)[2]
    assert all(close(a, b, 1e-12) for a, b in zip(g1, g3))


@sim_only
def test_sim_wide_layer_and_capacity_growth(small_blocks, monkeypatch):
    "A layer wider than the block (thread i % nt owns neuron i), several spikes per neuron, capacity growth."
    rng = np.random.default_rng(3)
    monkeypatch.setattr(small_blocks, "MAX_THREADS", 16)  # 40 neurons on 16 threads
    cpu, sim = pair(sizes=(10, 40, 5, 3), seed=3, w_scale=2.0, dtype=np.float64)
    cpu.weights = [np.abs(W) * 20 for W in cpu.weights]
    sim.weights = [W.copy() for W in cpu.weights]
    sim._K = 1
    XT = np.where(rng.random((3, 10)) < 0.8, rng.uniform(0, 0.5, (3, 10)), np.inf)
    assert cpu._run(0, XT)["nspk"].max() >= 2
    compare(cpu, sim, XT, rng.integers(0, 3, 3), 1e-12)
    assert sim._K > 1


# ---- compilation for sm_90 without a device ------------------------------------------------------------------
def test_cuda_kernel_compiles_to_ptx(monkeypatch):
    "Type inference and code generation of the CUDA kernel for sm_90 (H100/H200), where numba-cuda and NVVM exist."
    if SIM:
        pytest.skip("the simulator does not compile")
    pytest.importorskip("numba_cuda")  # the maintained CUDA target (the GPU machines have it)
    import numba.cuda.dispatcher as disp
    from numba import cuda
    from numba import types as nt
    from numba.core.errors import LoweringError, TypingError

    from smoothgrad import gpu

    # device functions ask the current device for its compute capability
    monkeypatch.setattr(disp, "get_current_device", lambda: types.SimpleNamespace(compute_capability=(9, 0)))
    i64 = nt.int64

    def A(t, d):
        return nt.Array(t, d, "C")

    for ft in (nt.float32, nt.float64):
        run = gpu._kernel(ft.name, gpu.block_threads((784, 100, 100, 10)))
        sig = (i64, A(ft, 2), A(i64, 1), A(ft, 2), A(ft, 1), A(ft, 1), A(ft, 1), A(ft, 1), A(i64, 2), A(i64, 2),
               A(i64, 2), A(i64, 2), A(ft, 2), A(i64, 2), A(i64, 3), A(ft, 2), i64, A(ft, 2), A(ft, 2), A(ft, 1),
               A(i64, 1), A(i64, 2), A(i64, 1), A(i64, 1), A(i64, 2))
        try:
            ptx, _ = cuda.compile_ptx(run.py_func, sig, cc=(9, 0))
            ptx2, _ = cuda.compile_ptx(gpu.rowsum.py_func, (A(ft, 2), A(nt.float64, 1)), cc=(9, 0))
        except (TypingError, LoweringError):
            raise
        except Exception as err:  # no NVVM / NVRTC libraries here
            pytest.skip(f"CUDA toolchain libraries missing: {type(err).__name__} {err}")
        assert ".entry" in ptx and ".entry" in ptx2 and "atom." not in ptx  # no atomics: deterministic sums


# ---- real GPU -------------------------------------------------------------------------------------------------
def _real_gpu():
    if SIM:
        return False
    try:
        from smoothgrad.gpu import gpu_available

        return gpu_available(allow_simulator=False)[0]
    except Exception:
        return False


real_gpu = pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@real_gpu
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-9), (np.float32, 2e-3)])
def test_gpu_matches_cpu_fig4(dtype, tol):
    from smoothgrad.ttfs import TTFSNetwork

    rng = np.random.default_rng(0)
    x = (rng.random((300, 784)) < 0.19).astype(np.float32)
    y = rng.integers(0, 10, 300)
    for scale in (1, 20):
        cpu, gpu_net = TTFSNetwork(dtype=dtype), TTFSNetwork(dtype=dtype, backend="cupy")
        cpu.weights = [scale * W for W in cpu.weights]
        gpu_net.weights = [W.copy() for W in cpu.weights]
        lc, ac, gc = cpu.loss_and_grad(x, y)
        lg, ag, gg = gpu_net.loss_and_grad(x, y)
        assert abs(lc - lg) < tol and abs(ac - ag) < 0.01
        for a, b in zip(gc, gg):
            assert np.abs(a - b).max() < tol * np.abs(a).max()
        assert np.abs(cpu.output_times(x) - gpu_net.output_times(x)).max() < tol


@pytest.mark.gpu
@real_gpu
def test_gpu_deterministic_and_block_count_independent(monkeypatch):
    from smoothgrad import gpu
    from smoothgrad.ttfs import TTFSNetwork

    rng = np.random.default_rng(1)
    x = (rng.random((3000, 784)) < 0.19).astype(np.float32)
    y = rng.integers(0, 10, 3000)
    net = TTFSNetwork(dtype=np.float64, backend="cupy")
    net.weights = [20 * W for W in net.weights]
    l1, a1, g1 = net.loss_and_grad(x, y)
    l2, a2, g2 = net.loss_and_grad(x, y)
    assert l1 == l2 and a1 == a2 and all((a == b).all() for a, b in zip(g1, g2))  # bitwise
    monkeypatch.setattr(gpu, "BLOCKS_PER_SM", 1)
    l3, _, g3 = net.loss_and_grad(x, y)
    assert abs(l1 - l3) < 1e-12 and all(np.abs(a - b).max() < 1e-10 * np.abs(a).max() for a, b in zip(g1, g3))


@pytest.mark.gpu
@real_gpu
def test_gpu_accepts_cupy_inputs_and_auto_picks_gpu():
    cupy = pytest.importorskip("cupy")
    from smoothgrad.ttfs import TTFSNetwork

    net = TTFSNetwork((20, 8, 4), backend="auto")
    assert net.backend == "cupy"
    x = cupy.asarray((np.random.default_rng(0).random((6, 20)) < 0.5).astype(np.float32))
    t = net.output_times(x)
    assert t.shape == (6, 4) and np.isfinite(t).all()
    assert net.predict(x).shape == (6,)
