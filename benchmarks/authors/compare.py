"""Agreement of smoothgrad with the authors' JAX code (chklos/spikegd) on the files that bench_authors_ttfs.py and
bench_authors_recurrent.py write with --save. Runs in the project's environment (smoothgrad; no JAX needed).

ttfs FILE [--ref FILE64]: recomputes the output times, loss, accuracy and gradients of TTFSNetwork on the same weights
  (checked bit for bit) and inputs, in the dtype of the saved weights, and prints the largest differences (gradients:
  max|diff| / max|g| per parameter array). --ref: an authors' float64 file of the same weights, against which the
  errors of both float32 results are printed.
recurrent FILE: compares the inputs and targets (the published ones, smoothgrad.tasks.paper_inputs("fig3")) and
  reruns train_recurrent with the saved number of trials for both AdaBelief variants. The authors' environment has
  optax >= 0.2.4, whose AdaBelief tracks (g_t - m_t)^2 (smoothgrad: belief_error="current"); the published figures
  and smoothgrad's default used optax <= 0.2.3 ("previous"), so only "current" is expected to agree trial by trial.

Usage: python benchmarks/authors/compare.py ttfs FILE [--ref FILE64]
       python benchmarks/authors/compare.py recurrent FILE
"""
import argparse

import numpy as np


def compare_ttfs(path, ref_path=None):
    "Print the differences of TTFSNetwork from the authors' results in `path` (bench_authors_ttfs.py --save)."
    from smoothgrad.ttfs import TTFSNetwork

    d = np.load(path)
    ref = np.load(ref_path) if ref_path else None
    x, y = d["x"].astype(np.float32), d["y"]
    for tag in sorted({k.split("_")[0] for k in d.files if k.startswith("s")}):
        scale = float(tag[1:])
        dtype = d[f"{tag}_W0"].dtype.type  # the dtype of the authors' run
        net = TTFSNetwork(dtype=dtype)
        net.weights = [dtype(scale) * W if scale != 1 else W for W in net.weights]
        same_w = all(np.array_equal(W, d[f"{tag}_W{i}"]) for i, W in enumerate(net.weights))
        t_ours = net.output_times(x)
        loss, acc, grads = net.loss_and_grad(x, y)
        t_auth = d[f"{tag}_tout"]
        dt = np.abs(t_ours - t_auth)
        gW, gphi = grads[:3], np.concatenate(grads[3:])
        rel = [np.abs(gW[i] - d[f"{tag}_gW{i}"]).max() / np.abs(d[f"{tag}_gW{i}"]).max() for i in range(3)]
        a = d[f"{tag}_gphi0"]
        rel_phi = np.abs(gphi - a).max() / np.abs(a).max()
        loss_a, acc_a = float(d[f"{tag}_loss"]), float(d[f"{tag}_acc"])
        print(f"x{scale:g} ({np.dtype(dtype).name}): same weights {same_w}; output times max|diff| {dt.max():.2e} "
              f"(samples with a diff > 1e-4: {(dt.max(axis=1) > 1e-4).sum()} of {len(x)}); loss ours {loss:.7f} "
              f"theirs {loss_a:.7f} (diff {abs(loss - loss_a):.1e}); acc {acc:.3f} vs {acc_a:.3f}; grad max rel diff "
              f"(max|diff|/max|g|) W1 {rel[0]:.1e} W2 {rel[1]:.1e} W3 {rel[2]:.1e} phi0 {rel_phi:.1e}")
        if ref is not None:
            t64 = ref[f"{tag}_tout"]
            e_o, e_a = np.abs(t_ours - t64), np.abs(t_auth - t64)
            g64 = [ref[f"{tag}_gW{i}"] for i in range(3)]
            ge_o = max(np.abs(gW[i] - g64[i]).max() / np.abs(g64[i]).max() for i in range(3))
            ge_a = max(np.abs(d[f"{tag}_gW{i}"] - g64[i]).max() / np.abs(g64[i]).max() for i in range(3))
            print(f"   vs float64 (authors' x64 = ours x64 to 1e-12): output-time error max / mean: ours "
                  f"{e_o.max():.1e} / {e_o.mean():.1e}, authors' {e_a.max():.1e} / {e_a.mean():.1e}; weight-grad max "
                  f"rel error ours {ge_o:.1e}, authors' {ge_a:.1e}")


def compare_recurrent(path):
    "Print the differences of the recurrent Fig. 3 / S7 loops from the authors' (bench_authors_recurrent.py --save)."
    from smoothgrad.tasks import PAPER, paper_inputs, train_recurrent

    d = np.load(path)
    P = paper_inputs("fig3")
    tin, src = np.asarray(P["input_times"]), np.asarray(P["input_sources"])
    fin = d["input_times"] < P["T"]  # the authors' inputs beyond the trial are padding
    at, asrc = d["input_times"][fin], d["input_sources"][fin]
    same_n = len(at) == len(tin)
    o = np.lexsort((src, tin))
    print(f"inputs: ours {len(tin)} spikes, authors' {len(at)} in [0, T); max|time diff| "
          f"{np.abs(np.sort(at) - np.sort(tin)).max() if same_n else 'n/a'}; same sources in time order "
          f"{same_n and np.array_equal(asrc, src[o])}")
    for i, t in enumerate(P["targets"]):
        print(f"target train {i}: max|diff| {np.abs(np.asarray(t) - d[f'target{i}']).max():.1e}")
    for key in ("fig3", "figS7"):
        if f"{key}_loss" not in d.files:
            continue
        theirs = d[f"{key}_loss"]
        n = len(theirs) - 1  # their run() does Ntrial + 1 trials
        for be in ("current", "previous"):
            r = train_recurrent(**dict(PAPER[key], n_trials=n, progress=False, belief_error=be))
            ours = np.asarray(r["loss"])
            m = min(len(ours), len(theirs))
            rel = np.abs(ours[:m] - theirs[:m]) / np.abs(theirs[:m])
            first_bad = int(np.argmax(rel > 1e-6)) if (rel > 1e-6).any() else None
            print(f"{key} belief_error={be}: loss[0] ours {ours[0]:.12g} theirs {theirs[0]:.12g}; over {m} trials max "
                  f"rel diff {rel.max():.1e}, first trial with rel diff > 1e-6: {first_bad}; last loss ours "
                  f"{ours[m - 1]:.6g} theirs {theirs[m - 1]:.6g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("ttfs", help="Fig. 4 network: a file of bench_authors_ttfs.py --save")
    t.add_argument("file")
    t.add_argument("--ref", default=None, help="an authors' float64 file (same weights) for the float32 errors")
    r = sub.add_parser("recurrent", help="Figs. 3 / S7 loops: a file of bench_authors_recurrent.py --save")
    r.add_argument("file")
    a = ap.parse_args()
    if a.what == "ttfs":
        compare_ttfs(a.file, a.ref)
    else:
        compare_recurrent(a.file)


if __name__ == "__main__":
    main()
