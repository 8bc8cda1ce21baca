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
    assert os.environ["NUMBA_ENABLE_CUDASIM"] == "1"
    import numpy as np
    from smoothgrad import gpu
    from smoothgrad.ttfs import TTFSNetwork

    assert gpu.gpu_available() == (True, "numba CUDA simulator")
    assert not gpu.gpu_available(allow_simulator=False)[0]
    rng = np.random.default_rng(0)
    for dtype, tol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        for seed, scale in ((1, 6.0), (2, 0.5)):  # spiking hidden layers; silent network
            kw = dict(sizes=(10, 6, 5, 3), seed=seed, w_scale=scale, dtype=dtype)
            cpu, sim = TTFSNetwork(**kw), TTFSNetwork(**kw, backend="cupy")
            assert sim.backend == "cupy"
            XT = np.where(rng.random((5, 10)) < 0.6, rng.uniform(0, 1.5, (5, 10)), np.inf)
            XT[:, :2] = 0.3
            y = rng.integers(0, 3, 5)
            lc, ac, gc = cpu.loss_and_grad(XT, y, as_times=True)
            ls, as_, gs = sim.loss_and_grad(XT, y, as_times=True)
            assert abs(lc - ls) < tol and ac == as_, (lc, ls)
            for a, b in zip(gc, gs):
                assert a.dtype == b.dtype == dtype and np.abs(a - b).max() < tol * max(1, np.abs(a).max())
            assert np.abs(cpu.output_times(XT, as_times=True) - sim.output_times(XT, as_times=True)).max() < tol
            mc, ms = cpu.evaluate(XT, y, as_times=True), sim.evaluate(XT, y, as_times=True)
            assert all(abs(mc[k] - ms[k]) < tol for k in mc), (mc, ms)
            g = rng.normal(size=(5, 3))
            _, vc = cpu.output_times_vjp(XT, g, as_times=True)
            _, vs = sim.output_times_vjp(XT, g, as_times=True)
            assert all(np.abs(a - b).max() < tol * max(1, np.abs(a).max()) for a, b in zip(vc, vs))
    # several spikes per neuron and the capacity-growth path
    kw = dict(sizes=(10, 6, 5, 3), seed=3, w_scale=2.0, dtype=np.float64)
    cpu, sim = TTFSNetwork(**kw), TTFSNetwork(**kw, backend="cupy")
    cpu.weights = [np.abs(W) * 20 for W in cpu.weights]
    sim.weights = [W.copy() for W in cpu.weights]
    sim._K = 1
    XT = np.where(rng.random((4, 10)) < 0.8, rng.uniform(0, 0.5, (4, 10)), np.inf)
    assert cpu._run(0, XT)["nspk"].max() >= 2
    assert np.abs(cpu.output_times(XT, as_times=True) - sim.output_times(XT, as_times=True)).max() < 1e-12
    assert sim._K > 1
    print("SIMULATOR OK")
""")


def test_cuda_kernels_in_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    res = subprocess.run([sys.executable, "-c", SIM_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
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

    kernel = gpu._kernel()
    i64 = nt.int64
    for ft in (nt.float32, nt.float64):
        A = lambda t, d: nt.Array(t, d, "C")
        sig = (i64, A(ft, 2), A(i64, 1), A(ft, 2), A(ft, 1), A(ft, 1), A(ft, 1), A(ft, 1), A(i64, 2), A(i64, 2),
               A(i64, 2), A(i64, 2), A(ft, 2), A(i64, 2), A(i64, 3), A(ft, 1), i64, A(ft, 2), A(ft, 2), A(ft, 1),
               A(i64, 1), A(i64, 2), A(i64, 1), A(i64, 1))
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(9, 0))
        except (TypingError, LoweringError):
            raise
        except Exception as err:  # no NVVM / NVRTC libraries here
            print("SKIP: CUDA toolchain libraries missing:", type(err).__name__, err)
            sys.exit(0)
        assert ".entry" in ptx
    print("PTX OK")
""")


def test_cuda_kernel_compiles_to_ptx():
    "Type inference and code generation of the CUDA kernel for sm_90 (H100/H200), where numba-cuda and NVVM exist."
    res = subprocess.run([sys.executable, "-c", PTX_SCRIPT], capture_output=True, text=True, timeout=600)
    if res.returncode == 0 and res.stdout.startswith("SKIP"):
        pytest.skip(res.stdout.strip())
    assert res.returncode == 0 and "PTX OK" in res.stdout, res.stdout + res.stderr
