"""Where a Fig. 4 sample's time goes: the per-sample kernels of `smoothgrad.ttfs_kernels`, stage by stage, on one
thread, and what a hidden layer's event costs.

A compiled driver runs the steps of `sample_run` for every sample of a batch up to a given stage (input events,
the forward pass of layer 1, of layers 1-2, of layers 1-3, the pseudo passes forward, the outputs and loss, the
pseudo passes backward, the adjoint sweeps); the time added by each stage is the difference of two runs. The
events of each layer are counted, so the cost per event of the hidden and output layers is printed beside the
time a vector unit needs for the same arithmetic (a rotation and a pulse of `n` neurons: about 10 flops per neuron,
8 float32 lanes). Silent (x1) and active (x20) weights, float32, batch 256, random binarised inputs (19 % on).
Run it under `perf stat -e instructions,cycles` for instruction counts where the machine exposes its counters (the
2-core development VM does not). Usage: python benchmarks/ttfs_stages.py
"""
import time
from pathlib import Path

import numpy as np
from numba import njit

from smoothgrad.ttfs import TTFSNetwork
from smoothgrad.ttfs_kernels import (
    P_INVB,
    Batch,
    Outputs,
    Work,
    event_adjoints_to_spikes,
    input_events,
    layer_backward,
    layer_forward,
    pseudo_backward,
    pseudo_forward,
    result_arrays,
    sample_outputs,
    sort_spikes,
    workspace_layout,
)

STAGES = ("input events", "layer 1 forward", "layer 2 forward", "layer 3 forward", "pseudo forward",
          "outputs and loss", "pseudo backward", "adjoint sweeps")


@njit(error_model="numpy")
def drive(upto, batch, net, lay, ws, out, events):
    "Stages 0..`upto` of `sample_run` (MODE_LOSS_GRAD) for every sample; `events[l]` counts layer l's events."
    L = net.LAY.shape[0] - 1
    for b in range(batch.XT.shape[0]):
        input_events(b, batch.XT, net, lay, ws)
        for l in range(1, min(upto, L) + 1):
            layer_forward(l, net, lay, ws)
            events[l] += ws.cnt[l, 0]
            if l < L:
                sort_spikes(l, lay, ws)
        if upto >= 4:
            for l in range(1, L + 1):
                pseudo_forward(l, net, lay, ws)
        if upto >= 5:
            sample_outputs(b, 1, batch, net, lay, ws, out)
        for l in range(L, 0, -1):
            if upto >= 6:
                pseudo_backward(l, net, lay, ws)
            if upto >= 7:
                layer_backward(l, l > 1, l > 1, net, lay, ws)
                if l > 1:
                    event_adjoints_to_spikes(l, lay, ws)


def main():
    import numba

    numba.set_num_threads(1)
    rng = np.random.default_rng(0)
    B = 256
    x = rng.random((B, 784)) < 0.19
    y = rng.integers(0, 10, B).astype(np.int64)
    print(f"Fig. 4 network 784-100-100-10, float32, batch {B}, one thread; microseconds per sample added by each "
          f"stage ({Path(__file__).name})")
    for label, scale in (("silent x1", 1.0), ("active x20", 20.0)):
        net = TTFSNetwork(dtype=np.float32)  # as benchmarks/bench_ttfs.py makes it
        net.weights = [scale * W for W in net.weights]
        net.loss_and_grad(x, y)  # grows the spike capacity to what this batch needs
        XT, _ = net._times(x, False)
        flat = net._flat()
        flat.par[P_INVB] = 1.0 / B
        lay = workspace_layout(net.sizes, int((XT < net.T).sum(1).max()), 1, net._K)
        L = len(net.sizes) - 1
        ws = Work(np.zeros(lay.nf, np.float32), np.zeros(lay.ni, np.int64), np.zeros((L + 1, 3), np.int64),
                  np.zeros(flat.n_w + sum(net.sizes[1:]), np.float32))
        out = Outputs(**result_arrays(np.zeros, B, net.sizes, np.float32, dk1_rows=B))
        batch = Batch(XT, y, np.zeros((1, 1), np.float32))
        prev, cells, per_event = 0.0, [], {}
        for upto in range(len(STAGES)):
            events = np.zeros(L + 1, np.int64)
            drive(upto, batch, flat, lay, ws, out, events)  # compile, warm
            best = np.inf
            for _ in range(7):
                events[:] = 0
                t0 = time.perf_counter()
                drive(upto, batch, flat, lay, ws, out, events)
                best = min(best, time.perf_counter() - t0)
            us = best / B * 1e6
            cells.append(f"{STAGES[upto]} {us - prev:.1f}")
            if 2 <= upto <= 3 and events[upto] >= B:  # layers 2, 3 (events: the previous layer's spikes), if active
                per_event[upto] = ((us - prev) * 1e3 / max(events[upto] / B, 1e-9), events[upto] / B)
            prev = us
        print(f"{label}: total {prev:.1f} us/sample = " + ", ".join(cells))
        for l, (ns, ev) in per_event.items():
            n = net.sizes[l]
            simd = 10 * n / 8 / 3.0  # ns at 3 GHz: ~10 flops per neuron and event, 8 float32 lanes, 1 op per cycle
            print(f"  layer {l} ({n} neurons): {ev:.1f} events/sample, {ns:.0f} ns per event forward "
                  f"(vector arithmetic alone: about {simd:.0f} ns)")


if __name__ == "__main__":
    main()
