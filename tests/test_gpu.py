"""Tests for smoothgrad.gpu: the CUDA kernels' logic in numba's CUDA simulator (subprocess, tiny networks),
and on a real GPU (marked `gpu`, skipped without one)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SIM_SCRIPT = textwrap.dedent("""
    import os
    import sys
    import time
    assert os.environ["NUMBA_ENABLE_CUDASIM"] == "1"
    import numpy as np
    from smoothgrad import gpu
    from smoothgrad.ttfs import TTFSNetwork

    t0 = time.perf_counter()
    assert gpu.gpu_available() == (True, "numba CUDA simulator")
    assert not gpu.gpu_available(allow_simulator=False)[0]
    gpu.BLOCKS_PER_SM = 2  # 2 blocks: each block runs several samples (per-block gradient rows, sample loop)
    gpu.WARP = 4  # blocks of 8 threads for (10, 6, 5, 3): idle threads in every layer, few Python threads
    rng = np.random.default_rng(0)

    def close(a, b, tol):
        "Equal infinities, finite values equal to `tol` relative to the largest."
        fin = np.isfinite(a)
        if not (fin == np.isfinite(b)).all() or not (a[~fin] == b[~fin]).all():
            return False
        return not fin.any() or np.abs(a[fin] - b[fin]).max() < tol * max(1, np.abs(a[fin]).max())

    def compare(cpu, sim, XT, y, tol, extra=False):
        "Loss, accuracy, gradients, output times and spike counts; with `extra` also evaluate() and the VJP."
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
            g = rng.normal(size=(len(y), cpu.sizes[-1]))
            _, vc = cpu.output_times_vjp(XT, g, as_times=True)
            _, vs = sim.output_times_vjp(XT, g, as_times=True)
            assert all(close(a, b, tol) for a, b in zip(vc, vs))
        return gs

    def pair(**kw):
        cpu, sim = TTFSNetwork(**kw), TTFSNetwork(**kw, backend="cupy")
        assert sim.backend == "cupy"
        return cpu, sim

    PART = sys.argv[1]
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)) if PART == "basic" else ():
        for seed, scale in ((1, 6.0), (2, 0.5)):  # spiking hidden layers; silent network
            cpu, sim = pair(sizes=(10, 6, 5, 3), seed=seed, w_scale=scale, dtype=dtype)
            XT = np.where(rng.random((5, 10)) < 0.6, rng.uniform(0, 1.5, (5, 10)), np.inf)  # unsorted input times
            XT[:, :2] = 0.3  # simultaneous inputs
            y = rng.integers(0, 3, 5)
            compare(cpu, sim, XT, y, tol, extra=seed == 1)
    print("basic", time.perf_counter() - t0)
    if PART == "basic":
        print("SIMULATOR OK")
        sys.exit(0)
    # simultaneous hidden spikes (two identical neurons): multi-event groups in layer 2 and ties in the sort;
    # binarised inputs (one input time: the sorted fast path)
    cpu, sim = pair(sizes=(10, 6, 5, 3), seed=4, w_scale=6.0, dtype=np.float64)
    for net in (cpu, sim):
        net.weights[0][1] = net.weights[0][0] = np.abs(net.weights[0][0]) + 1.0
    x = (rng.random((4, 10)) < 0.7).astype(np.float32)
    XT = cpu.input_times(x).astype(np.float64)
    o = cpu._run(0, XT)
    assert o["nspk"][:, 0].min() >= 1 and (o["nspk"][:, 0] == o["nspk"][:, 1]).all()
    y = rng.integers(0, 3, 4)
    g1 = compare(cpu, sim, XT, y, 1e-12)
    # determinism: same blocks -> bitwise identical; other block counts -> equal to rounding
    g2 = sim.loss_and_grad(XT, y, as_times=True)[2]
    assert all((a == b).all() for a, b in zip(g1, g2))
    gpu.BLOCKS_PER_SM = 1
    g3 = sim.loss_and_grad(XT, y, as_times=True)[2]
    assert all(close(a, b, 1e-12) for a, b in zip(g1, g3))
    gpu.BLOCKS_PER_SM = 2
    print("ties", time.perf_counter() - t0)
    # a layer wider than the block (thread i % NT owns neuron i), several spikes per neuron, capacity growth
    gpu.MAX_THREADS = 16  # 40 neurons on 16 threads
    cpu, sim = pair(sizes=(10, 40, 5, 3), seed=3, w_scale=2.0, dtype=np.float64)
    cpu.weights = [np.abs(W) * 20 for W in cpu.weights]
    sim.weights = [W.copy() for W in cpu.weights]
    sim._K = 1
    XT = np.where(rng.random((3, 10)) < 0.8, rng.uniform(0, 0.5, (3, 10)), np.inf)
    assert cpu._run(0, XT)["nspk"].max() >= 2
    compare(cpu, sim, XT, rng.integers(0, 3, 3), 1e-12)
    assert sim._K > 1
    print("wide", time.perf_counter() - t0)
    print("SIMULATOR OK")
""")


@pytest.mark.parametrize("part", ["basic", "special"])
def test_cuda_kernels_in_simulator(part):
    "basic: float64/float32, spiking and silent; special: simultaneous spikes, determinism, wide layers, capacity."
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", SIM_SCRIPT, part], env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and "SIMULATOR OK" in res.stdout, res.stdout + res.stderr


def _real_gpu():
    try:
        from smoothgrad.gpu import gpu_available

        return gpu_available(allow_simulator=False)[0]
    except Exception:
        return False


@pytest.mark.gpu
@pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU")
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
@pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU")
def test_gpu_deterministic_and_block_count_independent():
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
    old = gpu.BLOCKS_PER_SM
    try:
        gpu.BLOCKS_PER_SM = 1
        l3, _, g3 = net.loss_and_grad(x, y)
    finally:
        gpu.BLOCKS_PER_SM = old
    assert abs(l1 - l3) < 1e-12 and all(np.abs(a - b).max() < 1e-10 * np.abs(a).max() for a, b in zip(g1, g3))


@pytest.mark.gpu
@pytest.mark.skipif(not _real_gpu(), reason="needs a CUDA GPU")
def test_gpu_accepts_cupy_inputs_and_auto_picks_gpu():
    cupy = pytest.importorskip("cupy")
    from smoothgrad.ttfs import TTFSNetwork

    net = TTFSNetwork((20, 8, 4), backend="auto")
    assert net.backend == "cupy"
    x = cupy.asarray((np.random.default_rng(0).random((6, 20)) < 0.5).astype(np.float32))
    t = net.output_times(x)
    assert t.shape == (6, 4) and np.isfinite(t).all()


PTX_SCRIPT = textwrap.dedent("""
    import sys
    try:
        import numba_cuda  # noqa: F401  (the maintained CUDA target; the GPU machines have it)
        from numba import cuda, types as nt
        import numba.cuda.dispatcher as disp
        from numba.core.errors import LoweringError, TypingError
    except Exception as err:
        print("SKIP: numba-cuda not usable:", err)
        sys.exit(0)
    import types

    # compile for sm_90 without a device: device functions ask the current device for its compute capability
    disp.get_current_device = lambda: types.SimpleNamespace(compute_capability=(9, 0))
    from smoothgrad import gpu

    i64 = nt.int64
    A = lambda t, d: nt.Array(t, d, "C")
    for ft in (nt.float32, nt.float64):
        run, rowsum = gpu._build(ft.name, gpu.block_threads((784, 100, 100, 10)))
        sig = (i64, A(ft, 2), A(i64, 1), A(ft, 2), A(ft, 1), A(ft, 1), A(ft, 1), A(ft, 1), A(i64, 2), A(i64, 2),
               A(i64, 2), A(i64, 2), A(ft, 2), A(i64, 2), A(i64, 3), A(ft, 2), i64, A(ft, 2), A(ft, 2), A(ft, 1),
               A(i64, 1), A(i64, 2), A(i64, 1), A(i64, 1), A(i64, 2))
        try:
            ptx, _ = cuda.compile_ptx(run.py_func, sig, cc=(9, 0))
            ptx2, _ = cuda.compile_ptx(rowsum.py_func, (A(ft, 2), A(nt.float64, 1)), cc=(9, 0))
        except (TypingError, LoweringError):
            raise
        except Exception as err:  # no NVVM / NVRTC libraries here
            print("SKIP: CUDA toolchain libraries missing:", type(err).__name__, err)
            sys.exit(0)
        assert ".entry" in ptx and ".entry" in ptx2 and "atom." not in ptx  # no atomics: deterministic sums
    print("PTX OK")
""")


def test_cuda_kernel_compiles_to_ptx():
    "Type inference and code generation of the CUDA kernel for sm_90 (H100/H200), where numba-cuda and NVVM exist."
    res = subprocess.run([sys.executable, "-c", PTX_SCRIPT], capture_output=True, text=True, timeout=600)
    if res.returncode == 0 and res.stdout.startswith("SKIP"):
        pytest.skip(res.stdout.strip())
    assert res.returncode == 0 and "PTX OK" in res.stdout, res.stdout + res.stderr
