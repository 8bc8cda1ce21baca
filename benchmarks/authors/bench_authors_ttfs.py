"""Throughput of the authors' JAX code (chklos/spikegd) on the Fig. 4 theta network (784-100-100-10), the counterpart
of benchmarks/bench_ttfs.py. Optional: runs in a separate environment with jax, jaxlib, optax, numpy, jaxtyping, tqdm
and matplotlib (see benchmarks/authors/README.md); smoothgrad is neither imported nor needed.

The functions of the authors' experiments/mnist/mnist.py (eventffwd, outfn, simulatefn, init_phi0) and their
ThetaNeuron are imported from a checkout of spikegd (--spikegd PATH, else $SPIKEGD) and used unchanged, with the
configuration of their notebook (config_theta). The gradient function is built as in their `run()`:
jit(value_and_grad(simulatefn, has_aux=True)) over p = [weights, phi0]. A timing waits for the result
(block_until_ready); the first call (compilation) is excluded; the rate is the best of repeated calls.

Weights: those of smoothgrad's TTFSNetwork(seed=0) (numpy default_rng(0), uniform in +-0.5/sqrt(fan_in), cast to
the dtype) times each of --scales (x20: active hidden layers; x1: the silent initial network). Inputs, as in
bench_ttfs.py: rng = default_rng(0); x = rng.random((B, 784)) < 0.19; y = rng.integers(0, 10, B). The authors'
binarised input coding with Nin_virtual = 1: index 0 = an input spike at T ln(1/0.99), index 1 = no spike.
--save FILE writes weights, inputs, output times, loss and gradients for `compare.py ttfs FILE`.

Usage: python benchmarks/authors/bench_authors_ttfs.py [--spikegd PATH] [--x64] [--seconds S] [--batch B]
       [--scales 20 1] [--K 200] [--save FILE]
"""
import argparse
import importlib
import os
import sys
import time
import types

import jax
import jax.numpy as jnp
import numpy as np
from spikegd_path import use_spikegd  # this folder (the script's own) is on sys.path


def stub_torch():
    """Empty torch / torchvision modules in sys.modules. The authors' mnist.py imports them for its MNIST data loading
    only (and names torch.Tensor, DataLoader, TensorDataset and datasets.MNIST in annotations, evaluated at import);
    this benchmark never loads data through them, so the authors' environment needs no PyTorch and its import time and
    threads do not enter the measurement."""
    torch = types.ModuleType("torch")
    torch.Tensor = type("Tensor", (), {})
    torch.utils = types.ModuleType("torch.utils")
    torch.utils.data = types.ModuleType("torch.utils.data")
    torch.utils.data.DataLoader = torch.utils.data.TensorDataset = object
    tv = types.ModuleType("torchvision")
    tv.datasets = types.ModuleType("torchvision.datasets")
    tv.datasets.MNIST = object
    sys.modules.update({"torch": torch, "torch.utils": torch.utils, "torch.utils.data": torch.utils.data,
                        "torchvision": tv, "torchvision.datasets": tv.datasets})


def weights_like_ours(scale, ftype, sizes=(784, 100, 100, 10)):
    "The weights of smoothgrad's TTFSNetwork(seed=0, dtype=ftype) times `scale` (the same cast order)."
    rng = np.random.default_rng(0)
    Ws = [rng.uniform(-0.5 / np.sqrt(a), 0.5 / np.sqrt(a), (b, a)).astype(ftype) for a, b in zip(sizes[:-1], sizes[1:])]
    return [(ftype(scale) * W).astype(ftype) if scale != 1 else W for W in Ws]


def rate(f, B, seconds):
    "Samples per second of f() on a batch of B: best of repeated timings within about `seconds` (after a warm-up)."
    jax.block_until_ready(f())
    best, t_end, n = np.inf, time.perf_counter() + seconds, 0
    while True:
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        best = min(best, time.perf_counter() - t0)
        n += 1
        if time.perf_counter() > t_end and n >= 3:
            return B / best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spikegd", default=None, help="checkout of chklos/spikegd (default: $SPIKEGD)")
    ap.add_argument("--x64", action="store_true", help="float64 (jax_enable_x64); default float32")
    ap.add_argument("--seconds", type=float, default=5.0, help="timing budget of value_and_grad (forward: half)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--scales", type=float, nargs="+", default=[20.0, 1.0], help="factors of the initial weights")
    ap.add_argument("--K", type=int, default=200, help="max simulated events per sample (authors' MNIST: 200)")
    ap.add_argument("--save", default=None, help="npz file for compare.py ttfs")
    a = ap.parse_args()
    jax.config.update("jax_enable_x64", a.x64)  # before any array exists (also the authors' modules' imports)
    use_spikegd(ap, a.spikegd, "mnist")
    stub_torch()
    mnist = importlib.import_module("mnist")  # the authors' experiments/mnist/mnist.py
    ThetaNeuron = importlib.import_module("spikegd.theta").ThetaNeuron

    config = {  # the authors' config_theta of experiments/mnist/mnist.ipynb (training-only entries dropped)
        "seed": 0, "tau": 6 / jnp.pi, "I0": 5 / 4, "eps": 1e-6,
        "Nin": 784, "Nin_virtual": 1, "Nhidden": 100, "Nlayer": 3, "Nout": 10, "w_scale": 0.5,
        "T": 2.0, "K": a.K, "dt": 0.001, "gamma": 1e-2, "Nbatch": a.batch,
    }
    neuron = ThetaNeuron(config["tau"], config["I0"], config["eps"])
    ftype = np.float64 if a.x64 else np.float32
    B = a.batch

    @jax.jit
    def gradfn(p, inp, labels):  # as in the authors' run(): jit(value_and_grad(simulatefn, has_aux=True))
        return jax.value_and_grad(lambda p: mnist.simulatefn(neuron, p, inp, labels, config), has_aux=True)(p)

    @jax.jit
    def forward(p, inp):  # output times and the event record (times, input flags, neurons) of every sample
        outs = jax.vmap(mnist.eventffwd, in_axes=(None, None, 0, None))(neuron, p, inp, config)
        t_outs = jax.vmap(mnist.outfn, in_axes=(None, 0, None, None))(neuron, outs, p, config)
        return t_outs, outs[0], outs[1], outs[2]

    rng = np.random.default_rng(0)
    x = rng.random((B, 784)) < 0.19
    y = rng.integers(0, 10, B)
    inp = jnp.asarray(np.where(x, 0, 1).astype(np.int32))  # authors' virtual-input index: 0 spike, 1 none
    lab = jnp.asarray(y.astype(np.int32))
    print(f"authors' spikegd, jax {jax.__version__}, {jax.devices()}, dtype {np.dtype(ftype).name}, batch {B}, "
          f"K={a.K}, {x.mean():.1%} pixels on, XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}", flush=True)
    save = {"x": x, "y": y}
    for scale in a.scales:
        Ws = weights_like_ours(scale, ftype)
        p = [[jnp.asarray(W) for W in Ws], mnist.init_phi0(neuron, config)]
        t0 = time.perf_counter()
        (loss, acc), grads = jax.block_until_ready(gradfn(p, inp, lab))
        t_compile = time.perf_counter() - t0
        t_outs, ts, spike_in, neurons = (np.asarray(v) for v in jax.block_until_ready(forward(p, inp)))
        n_hidden = config["Nhidden"] * (config["Nlayer"] - 1)
        hidden = (~spike_in) & (neurons >= 0) & (neurons < n_hidden)
        events = (neurons >= 0).sum(axis=1)  # events in [0, T) per sample (input and network spikes)
        r = rate(lambda: gradfn(p, inp, lab), B, a.seconds)
        rf = rate(lambda: forward(p, inp), B, a.seconds / 2)
        print(f"x{scale:g}: loss {float(loss):.6f} acc {float(acc):.3f}  value_and_grad {r:,.0f} samples/s  "
              f"forward {rf:,.0f} samples/s  (first call incl. compile {t_compile:.1f} s)  "
              f"hidden spikes/neuron/sample {hidden.sum() / (B * n_hidden):.3f}, events/sample max {events.max()} of "
              f"K={a.K}, NaN outputs {int(np.isnan(t_outs).sum())}", flush=True)
        tag = f"s{scale:g}"
        save.update({f"{tag}_loss": float(loss), f"{tag}_acc": float(acc), f"{tag}_tout": t_outs,
                     f"{tag}_rate": r, f"{tag}_rate_fwd": rf, f"{tag}_gphi0": np.asarray(grads[1])})
        for i, W in enumerate(Ws):
            save[f"{tag}_W{i}"] = W
            save[f"{tag}_gW{i}"] = np.asarray(grads[0][i])
    if a.save:
        np.savez(a.save, **save)


if __name__ == "__main__":
    main()
