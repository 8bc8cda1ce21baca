"""A seed fixes every number: compiled in the process or loaded from numba's cache, on 1 or 2 threads, and compiled
for this CPU or for a generic x86-64.

Each scenario runs in a subprocess with its own numba cache folder and thread count, computes the Fig. 4 network's
output times, loss gradient and a few training steps in float32 and float64, and prints a digest of the raw
bytes; the digests must agree exactly."""
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent("""
    import hashlib, json, sys
    import numpy as np
    from smoothgrad import TTFSNetwork
    from smoothgrad.data import binarize, load_embedded_mnist
    from smoothgrad.optim import AdaBelief
    from smoothgrad.train import train
    from smoothgrad.ttfs_kernels import run_samples

    x, y = load_embedded_mnist("train")
    x, y = binarize(x[:300]), y[:300]
    out = {}
    for dtype in (np.float32, np.float64):
        net = TTFSNetwork(sizes=(784, 100, 100, 10), T=2.0, seed=0, dtype=dtype)
        net.weights = [20 * W for W in net.weights]  # active hidden layers: every code path of the kernels
        times = net.output_times(x[:200])
        loss, _, grads = net.loss_and_grad(x[:256], y[:256])
        train(net, AdaBelief(4e-3), x, y, epochs=1, batch_size=100, progress=False, evaluate_initial=False)
        raw = [np.asarray(times), np.asarray(loss)] + [np.asarray(g) for g in grads] + list(net.weights)
        out[np.dtype(dtype).name] = hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in raw)).hexdigest()
    out["cache_hits"] = sum(run_samples.stats.cache_hits.values())
    print(json.dumps(out))
""")


def _run(cache_dir, threads, env_extra=None):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), NUMBA_NUM_THREADS=str(threads))
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(os.cpu_count() < 2, reason="needs 2 cores for the 2-thread run")
def test_compiled_and_cached_kernels_and_thread_counts_give_identical_bits(tmp_path):
    compiled = _run(tmp_path, 2)  # empty cache folder: every kernel is compiled in the process
    cached_1 = _run(tmp_path, 1)  # the same kernels loaded from the cache, one thread
    cached_2 = _run(tmp_path, 2)
    assert compiled["cache_hits"] == 0 and cached_1["cache_hits"] > 0 and cached_2["cache_hits"] > 0
    for dtype in ("float32", "float64"):
        assert compiled[dtype] == cached_1[dtype] == cached_2[dtype], dtype


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="the generic target is x86-64's")
def test_generic_cpu_gives_identical_bits(tmp_path):
    """Compiled for a generic x86-64 (no FMA, no AVX), the kernels compute and train to the same bits as compiled for
    this CPU: no fast-math flag lets LLVM round differently per target (chapter 05; with `contract` float32 training
    differed). With NumPy, OpenBLAS and glibc's libm on their plain SSE paths too
    (`scripts/notebook_outputs.generic_cpu_env`), float32 stays identical; float64 then depends on which variant of
    libm's double functions (exp, atan2, ...) glibc picks, FMA or SSE2, which differ in the last bit on some inputs."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import notebook_outputs

    generic_env = notebook_outputs.generic_cpu_env(tmp_path / "generic")
    numba_generic = {k: generic_env[k] for k in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")}
    host = _run(tmp_path / "host", 2)
    generic = _run(tmp_path / "generic", 2, numba_generic)
    everything_generic = _run(tmp_path / "generic", 2, generic_env)  # the same compiled kernels, plain libm/NumPy
    for dtype in ("float32", "float64"):
        assert host[dtype] == generic[dtype], dtype
    assert everything_generic["float32"] == host["float32"]


def test_thread_count_in_process_does_not_change_the_gradient():
    import numba

    from smoothgrad import TTFSNetwork

    rng = np.random.default_rng(7)
    x = (rng.random((300, 784)) < 0.19).astype(float)
    y = rng.integers(0, 10, 300)
    net = TTFSNetwork(sizes=(784, 100, 100, 10), T=2.0, seed=1, dtype=np.float32)
    net.weights = [20 * W for W in net.weights]
    before = numba.get_num_threads()
    results = []
    try:
        for threads in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(threads)
            loss, _, grads = net.loss_and_grad(x, y)
            results.append((loss, [np.array(g) for g in grads]))
    finally:
        numba.set_num_threads(before)
    for loss, grads in results[1:]:
        assert loss == results[0][0]
        assert all(np.array_equal(a, b) for a, b in zip(grads, results[0][1]))
