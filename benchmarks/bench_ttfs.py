"""Throughput of TTFSNetwork.loss_and_grad on the Fig. 4 architecture (784-100-100-10, batch 256).

Random binarised inputs with ~19% of the pixels on (like MNIST), (a) the initial, silent network and
(b) all weights x20 (hidden layers active, ~0.43 spikes per hidden neuron and sample, about the trained
network's 0.42). CPU float32 and float64; the GPU backend too where one is usable. For comparison: the general
recurrent path (smoothgrad.gradients.output_times_vjp_batch on the same network embedded as one 210-neuron
recurrent network; its theta pseudospike rule differs in the last layer, the work is the same), and the slow
phase-form reference (forward only). Usage: python benchmarks/bench_ttfs.py [--seconds S] [--batch N]

GPU: python benchmarks/bench_ttfs.py --backend cupy --batch 1000 60000 [--dtype float32] times loss_and_grad on
the GPU backend (whole calls: host-side input coding and checks, transfers, kernels, gradient row-sum) and the
GPU backend alone (smoothgrad.gpu.GPUBackend.run on prepared arguments: transfers, kernels, results; no host-side checks
or input coding), and the CPU kernels on the same batch for the ratio.
"""
import argparse
import time

import numpy as np

from smoothgrad.ttfs import TTFSNetwork, reference_forward
from smoothgrad.ttfs_kernels import P_INVB, workspace_layout

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="timing budget per measurement")
    ap.add_argument("--batch", type=int, nargs="+", default=[256])
    ap.add_argument("--backend", choices=("cpu", "cupy"), default="cpu",
                    help="cpu: the CPU table (and the GPU where usable); cupy: the GPU table with CPU ratios")
    ap.add_argument("--dtype", nargs="+", default=["float32", "float64"], choices=("float32", "float64"))
    ap.add_argument("--no-cpu", action="store_true", help="with --backend cupy: skip the CPU timings")
    args = ap.parse_args()
    args.dtype = [np.dtype(d).type for d in args.dtype]
    if args.backend == "cupy":
        return gpu_main(args)
    import numba

    rng = np.random.default_rng(0)
    B = args.batch[0]
    x = (rng.random((B, 784)) < 0.19).astype(np.float32)
    y = rng.integers(0, 10, B)
    backends = ["cpu"]
    try:
        from smoothgrad.gpu import gpu_available

        if gpu_available(allow_simulator=False)[0]:
            backends.append("cupy")
    except ImportError:
        pass
    print(f"Fig. 4 network 784-100-100-10, batch {B}, {x.mean():.1%} pixels on, numba threads "
          f"{numba.get_num_threads()}")
    print(f"{'weights':18s} {'backend':7s} {'dtype':8s} {'fwd+bwd samples/s':>18s} {'fwd samples/s':>14s}  activity")
    results = {}
    for label, scale in (("(a) initial x1", 1.0), ("(b) active x20", 20.0)):
        for backend in backends:
            for dtype in args.dtype:
                net = make_net(scale, dtype, backend)
                r_fb = rate(lambda: net.loss_and_grad(x, y), B, args.seconds)
                r_f = rate(lambda: net.output_times(x), B, args.seconds / 2)
                m = net.evaluate(x, y)
                results[(scale, backend, np.dtype(dtype).name)] = r_fb
                print(f"{label:18s} {backend:7s} {np.dtype(dtype).name:8s} {r_fb:18,.0f} {r_f:14,.0f}  "
                      f"{m['hidden_spikes_per_neuron']:.3f} hidden spikes/neuron/sample")
    print("\nbaselines (float64, smaller batches):")
    for label, scale in (("(a) initial x1", 1.0), ("(b) active x20", 20.0)):
        net = make_net(scale, np.float64)
        nb = 16
        r_gen = general_path_rate(net, x[:nb], y[:nb], args.seconds)
        t0 = time.perf_counter()
        reference_forward(net, net.input_times(x[:4]))
        r_ref = 4 / (time.perf_counter() - t0)
        ours64, ours32 = results[(scale, "cpu", "float64")], results[(scale, "cpu", "float32")]
        if r_gen is not None:
            print(f"{label}: general simulate/output_times_vjp path {r_gen:,.0f} samples/s -> TTFSNetwork is "
                  f"{ours64 / r_gen:,.0f}x (float64) / {ours32 / r_gen:,.0f}x (float32) faster")
        print(f"{label}: NumPy/phase-form reference (forward only) {r_ref:,.1f} samples/s -> TTFSNetwork fwd+bwd is "
              f"{ours64 / r_ref:,.0f}x (float64) faster")
    target = results[(20.0, "cpu", "float32")]
    print(f"\ntarget >= 30,000 samples/s (float32, active, CPU, 2 cores): {target:,.0f} -> "
          f"{'met' if target >= 30000 else 'MISSED (on a shared machine, compare side by side)'}")
    lo, hi = AUTHORS_ACTIVE_F32
    print(f"the authors' JAX code on this workload (benchmarks/authors/, measured side by side on a 2-core machine): "
          f"{lo}-{hi} samples/s -> about {target / hi:,.0f}-{target / lo:,.0f}x")


if __name__ == "__main__":
    main()
