"""Throughput of TTFSNetwork.loss_and_grad on the Fig. 4 architecture (784-100-100-10, batches 256 and 1000), side by
side with the previous kernels, one epoch of the Fig. 4 protocol, and the authors' code.

Random binarised inputs with ~19% of the pixels on (like MNIST), (a) the initial, silent network and
(b) all weights x20 (hidden layers active, ~0.43 spikes per hidden neuron and sample, about the trained
network's 0.42). CPU float32 and float64; the GPU backend too where one is usable. Each row times the current
kernels and the kernels of an earlier commit (`--previous`, default PREVIOUS_KERNELS: smoothgrad/ttfs_kernels.py of
that commit from git, on the same network, inputs and host code) alternately in one process, and prints the ratio.
Then one epoch of the Fig. 4 protocol (60,000 images, batch 1000, AdaBelief, pixel flips, evaluation of 10,000;
random images, active weights) with both. For comparison: the general recurrent path
(smoothgrad.gradients.output_times_vjp_batch on the same network embedded as one 210-neuron
recurrent network; its theta pseudospike rule differs in the last layer, the work is the same), the slow
phase-form reference (forward only), and the authors' JAX code (benchmarks/authors/bench_authors_ttfs.py, run now
where $SPIKEGD names their checkout and ~/spikegd-venv or $SPIKEGD_PYTHON their environment; else the rate measured
side by side earlier). The CPU and the numba target are printed: `NUMBA_CPU_NAME=generic` times the kernels as
compiled for any x86-64. Usage: python benchmarks/bench_ttfs.py [--seconds S] [--batch N ...] [--previous COMMIT]

GPU: python benchmarks/bench_ttfs.py --backend cupy --batch 1000 60000 [--dtype float32] times loss_and_grad on
the GPU backend (whole calls: host-side input coding and checks, transfers, kernels, gradient row-sum) and the
GPU backend alone (smoothgrad.gpu.GPUBackend.run on prepared arguments: transfers, kernels, results; no host-side checks
or input coding), and the CPU kernels on the same batch for the ratio.
"""
import argparse
import importlib.util
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from smoothgrad.ttfs import TTFSNetwork, reference_forward
from smoothgrad.ttfs_kernels import P_INVB, workspace_layout

PREVIOUS_KERNELS = "8af1229"  # the kernels of 2026-12-07 before the batch-level layer-1 gradient and the lane sums
AUTHORS_ACTIVE_F32 = (398, 493)  # samples/s of chklos/spikegd (bc64e2e, JAX 0.10.2), float32, active, batch 256


def rate(f, B, seconds):
    "Samples per second of f() on a batch of B: best of repeated timings within about `seconds`."
    f()  # compile / warm up
    best, t_end = np.inf, time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            return B / best


def make_net(scale, dtype, backend="cpu"):
    net = TTFSNetwork(dtype=dtype, backend=backend)
    net.weights = [scale * W for W in net.weights]
    return net


def general_path_rate(net, x, y, seconds):
    "Samples/s of the general recurrent simulator's forward + adjoint on the embedded network."
    try:
        from smoothgrad import gradients
        from smoothgrad.gradients import output_times_vjp_batch
    except ImportError:
        return None
    # The general path refuses theta networks with relays (their first-type pseudospikes jump when a hidden spike
    # crosses T; the layered network uses the feed-forward rule instead). The simulation and adjoint work do not
    # depend on that rule, so the check is switched off for this timing only.
    if hasattr(gradients, "check_pseudo_network"):
        gradients.check_pseudo_network = lambda p, w: None
    sizes = net.sizes
    N = sum(sizes[1:])
    w, w_in = np.zeros((N, N)), np.zeros((N, sizes[0]))
    w_in[:sizes[1]] = net.weights[0]
    off = sizes[1]
    for l in range(2, len(sizes)):
        w[off:off + sizes[l], off - sizes[l - 1]:off] = net.weights[l - 1]
        off += sizes[l]
    x0 = np.concatenate(net.phi0).astype(np.float64)
    XT = net.input_times(x).astype(np.float64)
    src = np.broadcast_to(np.arange(sizes[0]), XT.shape).copy()
    cot = np.zeros((len(x), N, 1))
    cot[:, -sizes[-1]:, 0] = np.random.default_rng(0).normal(size=(len(x), sizes[-1]))
    return rate(lambda: output_times_vjp_batch(net.neuron, w, w_in, XT, src, net.T, 1, cot, x0=x0), len(x), seconds)


def gpu_main(args):
    "Samples/s of loss_and_grad on the GPU backend vs the CPU kernels, per batch size, silent and x20 weights."
    import numba

    from smoothgrad import gpu

    ok, why = gpu.gpu_available(allow_simulator=False)
    if not ok:
        raise SystemExit(f"no usable GPU: {why}")
    dev = numba.cuda.get_current_device()
    print(f"GPU {dev.name.decode() if isinstance(dev.name, bytes) else dev.name}, {gpu._n_sms()} SMs, "
          f"{gpu.BLOCKS_PER_SM} blocks/SM; CPU numba threads {numba.get_num_threads()}")
    print(f"{'weights':16s} {'batch':>6s} {'dtype':8s} {'GPU samples/s':>14s} {'GPU backend only':>16s} "
          f"{'CPU samples/s':>14s} {'GPU/CPU':>8s}  activity")
    rng = np.random.default_rng(0)
    for B in args.batch:
        x = (rng.random((B, 784)) < 0.19).astype(np.float32)
        y = rng.integers(0, 10, B)
        for label, scale in (("(a) silent x1", 1.0), ("(b) active x20", 20.0)):
            for dtype in args.dtype:
                net = make_net(scale, dtype, "cupy")
                r_gpu = rate(lambda: net.loss_and_grad(x, y), B, args.seconds)
                XT = net.input_times(x)
                lab = y.astype(np.int64)
                flat = net._flat()
                flat.par[P_INVB] = 1.0 / B
                layout = workspace_layout(net.sizes, max(1, int((XT < net.T).sum(axis=1).max())), 1, net._K)
                backend = gpu.GPUBackend()

                def kernel_only():
                    backend.run(1, XT, lab, np.zeros((1, 1), net.dtype), flat, layout)
                    numba.cuda.synchronize()

                r_k = rate(kernel_only, B, args.seconds / 2)
                cpu = make_net(scale, dtype, "cpu")
                r_cpu = rate(lambda: cpu.loss_and_grad(x, y), B, args.seconds) if not args.no_cpu else float("nan")
                m = net.evaluate(x[:1000], y[:1000])
                print(f"{label:16s} {B:6d} {np.dtype(dtype).name:8s} {r_gpu:14,.0f} {r_k:16,.0f} {r_cpu:14,.0f} "
                      f"{r_gpu / r_cpu:8.1f}  {m['hidden_spikes_per_neuron']:.3f} hidden spikes/neuron/sample",
                      flush=True)


def previous_backend(commit):
    """The `CPUBackend` class of smoothgrad/ttfs_kernels.py at `commit`, from git, imported from a temporary file (so
    numba can cache it); None where the checkout has no git history."""
    root = Path(__file__).resolve().parent.parent
    r = subprocess.run(["git", "-C", str(root), "show", f"{commit}:smoothgrad/ttfs_kernels.py"], capture_output=True,
                       text=True)
    if r.returncode:
        return None
    path = Path(tempfile.mkdtemp(prefix="smoothgrad-bench-")) / f"ttfs_kernels_{commit}.py"
    path.write_text(r.stdout)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod.CPUBackend


def cpu_model():
    "The CPU's model name (/proc/cpuinfo on Linux, else what the platform module knows)."
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def side_by_side(f_new, f_old, B, seconds):
    "Samples/s of `f_new` and `f_old` (None: only `f_new`), alternating, best of repeated timings within `seconds`."
    fs = [f for f in (f_new, f_old) if f is not None]
    for f in fs:
        f()  # compile / warm up
    best, t_end = [np.inf] * len(fs), time.perf_counter() + seconds
    while True:
        for k, f in enumerate(fs):
            t0 = time.perf_counter()
            f()
            best[k] = min(best[k], time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            return [B / b for b in best] + [None] * (2 - len(fs))


def epoch_seconds(backend_class, n_train=60_000, n_test=10_000, batch=1000, repeats=2):
    """Wall seconds of one epoch of the Fig. 4 protocol: `train` on `n_train` random binarised images (19 % of the
    pixels on, 2 % flipped per batch), batch `batch`, AdaBelief, then `evaluate` on `n_test`; active weights (x20).
    Best of `repeats` epochs, each from the same start."""
    from smoothgrad.data import flip_pixels
    from smoothgrad.optim import AdaBelief
    from smoothgrad.train import train

    rng = np.random.default_rng(1)
    x = rng.random((n_train + n_test, 784)) < 0.19
    y = rng.integers(0, 10, n_train + n_test)
    best = np.inf
    for _ in range(repeats):
        net = make_net(20.0, np.float32)
        if backend_class is not None:
            net._backend = backend_class()
        t0 = time.perf_counter()
        train(net, AdaBelief(1e-3), x[:n_train], y[:n_train], x[n_train:], y[n_train:], epochs=1, batch_size=batch,
              augment=lambda xb, r: flip_pixels(xb, 0.02, r), progress=False, evaluate_initial=False)
        best = min(best, time.perf_counter() - t0)
    return best


def authors_rates(batches, seconds):
    """Samples/s of the authors' JAX code (float32, active x20) per batch size, run side by side through
    benchmarks/authors/bench_authors_ttfs.py where its environment exists ($SPIKEGD: their checkout;
    $SPIKEGD_PYTHON, else ~/spikegd-venv/bin/python); else None."""
    py = Path(os.environ.get("SPIKEGD_PYTHON", Path.home() / "spikegd-venv" / "bin" / "python"))
    if not os.environ.get("SPIKEGD") or not py.is_file():
        return None
    script = Path(__file__).resolve().parent / "authors" / "bench_authors_ttfs.py"
    rates = {}
    for B in batches:
        r = subprocess.run([str(py), str(script), "--seconds", str(seconds), "--batch", str(B), "--scales", "20"],
                           capture_output=True, text=True)
        m = re.search(r"value_and_grad ([0-9,]+) samples/s", r.stdout)
        if r.returncode or not m:
            print(f"the authors' code did not run (exit {r.returncode}): {r.stderr.strip()[-300:]}")
            return None
        rates[B] = float(m.group(1).replace(",", ""))
    return rates


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="timing budget per measurement")
    ap.add_argument("--batch", type=int, nargs="+", default=[256, 1000])
    ap.add_argument("--backend", choices=("cpu", "cupy"), default="cpu",
                    help="cpu: the CPU table (and the GPU where usable); cupy: the GPU table with CPU ratios")
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=("float32", "float64"))
    ap.add_argument("--no-cpu", action="store_true", help="with --backend cupy: skip the CPU timings")
    ap.add_argument("--previous", default=PREVIOUS_KERNELS,
                    help="git commit of the kernels to compare with (smoothgrad/ttfs_kernels.py of that commit)")
    ap.add_argument("--no-epoch", action="store_true", help="skip the one-epoch timing")
    args = ap.parse_args()
    args.dtype = [np.dtype(d).type for d in args.dtype]
    if args.backend == "cupy":
        return gpu_main(args)
    import numba
    from llvmlite import binding

    target = numba.config.CPU_NAME or f"host ({binding.get_host_cpu_name()})"
    print(f"Fig. 4 network 784-100-100-10, CPU {cpu_model()} ({os.cpu_count()} cores, numba threads "
          f"{numba.get_num_threads()}, numba target {target}), previous kernels: {args.previous}")
    Old = previous_backend(args.previous)
    if Old is None:
        print(f"(no git history here: the previous kernels of {args.previous} are not timed)")
    backends = ["cpu"]
    try:
        from smoothgrad.gpu import gpu_available

        if gpu_available(allow_simulator=False)[0]:
            backends.append("cupy")
    except ImportError:
        pass
    print(f"{'weights':16s} {'batch':>5s} {'backend':7s} {'dtype':8s} {'fwd+bwd samples/s':>18s} "
          f"{'previous':>9s} {'ratio':>6s} {'fwd samples/s':>14s}  activity")
    results = {}
    rng = np.random.default_rng(0)
    for B in args.batch:
        x = (rng.random((B, 784)) < 0.19).astype(np.float32)
        y = rng.integers(0, 10, B)
        for label, scale in (("(a) initial x1", 1.0), ("(b) active x20", 20.0)):
            for backend in backends:
                for dtype in args.dtype:
                    net = make_net(scale, dtype, backend)
                    old = None
                    if Old is not None and backend == "cpu":
                        old = make_net(scale, dtype, backend)
                        old._backend = Old()
                    r_fb, r_old = side_by_side(lambda: net.loss_and_grad(x, y),
                                               old and (lambda: old.loss_and_grad(x, y)), B, args.seconds)
                    r_f = rate(lambda: net.output_times(x), B, args.seconds / 2)
                    m = net.evaluate(x, y)
                    results[(B, scale, backend, np.dtype(dtype).name)] = r_fb, r_old
                    prev = f"{r_old:9,.0f} {r_fb / r_old:6.2f}" if r_old else f"{'-':>9s} {'-':>6s}"
                    print(f"{label:16s} {B:5d} {backend:7s} {np.dtype(dtype).name:8s} {r_fb:18,.0f} {prev} "
                          f"{r_f:14,.0f}  {m['hidden_spikes_per_neuron']:.3f} hidden spikes/neuron/sample", flush=True)
    if not args.no_epoch:
        t_new = epoch_seconds(None)
        t_old = epoch_seconds(Old) if Old is not None else None
        print(f"\none epoch of the Fig. 4 protocol (60,000 training images, batch 1000, AdaBelief, flips, then 10,000 "
              f"evaluated; float32, active weights): {t_new:.2f} s"
              + (f", previous kernels {t_old:.2f} s ({t_old / t_new:.2f}x)" if t_old else "")
              + f" -> 10 seeds x 100 epochs in about {1000 * t_new / 60:.0f} min (goal: epoch <= 1.3 s)", flush=True)
    print("\nbaselines (float64, smaller batches):")
    x = (np.random.default_rng(0).random((16, 784)) < 0.19).astype(np.float32)
    y = np.random.default_rng(0).integers(0, 10, 16)
    B0 = args.batch[0]
    for label, scale in (("(a) initial x1", 1.0), ("(b) active x20", 20.0)):
        net = make_net(scale, np.float64)
        r_gen = general_path_rate(net, x, y, args.seconds)
        t0 = time.perf_counter()
        reference_forward(net, net.input_times(x[:4]))
        r_ref = 4 / (time.perf_counter() - t0)
        ours64 = results[(B0, scale, "cpu", "float64")][0] if (B0, scale, "cpu", "float64") in results else None
        if r_gen is not None and ours64:
            print(f"{label}: general simulate/output_times_vjp path {r_gen:,.0f} samples/s -> TTFSNetwork (batch "
                  f"{B0}) is {ours64 / r_gen:,.0f}x faster (float64)")
        if ours64:
            print(f"{label}: NumPy/phase-form reference (forward only) {r_ref:,.1f} samples/s -> TTFSNetwork fwd+bwd "
                  f"is {ours64 / r_ref:,.0f}x (float64) faster")
    authors = authors_rates(args.batch, args.seconds)
    print("\nthe authors' JAX code (chklos/spikegd), float32, active x20, "
          + ("measured now, side by side:" if authors else
             f"not run here (set $SPIKEGD, see benchmarks/authors/README.md); measured side by side on a 2-core "
             f"machine at batch 256: {AUTHORS_ACTIVE_F32[0]}-{AUTHORS_ACTIVE_F32[1]} samples/s"))
    for B in args.batch:
        if (B, 20.0, "cpu", "float32") not in results:
            continue
        ours, old = results[(B, 20.0, "cpu", "float32")]
        lo, hi = (authors[B], authors[B]) if authors else AUTHORS_ACTIVE_F32
        line = f"  batch {B}: ours {ours:,.0f} samples/s = {ours / hi:,.0f}x" + (f"-{ours / lo:,.0f}x" if lo != hi else "")
        line += " the authors' code (goal >= 150x)"
        if old:
            line += f", {ours / old:.2f}x the previous kernels (goal >= 3x)"
        print(line + ("" if authors else " [authors' rate of batch 256]"))


if __name__ == "__main__":
    main()
