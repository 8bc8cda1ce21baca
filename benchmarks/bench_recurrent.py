"""Trials per second of the recurrent training loops of Figs. 3/S6 (simulate + adjoint + AdaBelief step) and
Fig. S7 (the same plus the step-size search over 50 candidate factors), old against new, side by side.

"old" is the training loop of an earlier commit of smoothgrad/tasks.py (default 4e20f65, before the candidates were
batched: one `recurrent_loss` per candidate, two forward simulations per trial), loaded from git and run on the
*current* simulator, so the ratio measures the loop alone. Both start from the published inputs, run the same
number of trials, and must give the same loss history (asserted: the batched search picks the same factors).

The ratio to the authors' code (chklos/spikegd, JAX) is implied: the old loop was measured side by side with the
authors' loops on this kind of machine (benchmarks/authors/, 2026-12-02: about 15x for Fig. 3 and 4x for Fig. S7),
and the implied ratio now is that baseline times the speed-up measured here (the same measurement gave the current
loops 22-26x and 27-28x directly). Timings on a shared machine are noisy (best of
`--repeats` runs). Usage: python benchmarks/bench_recurrent.py [--trials-fig3 N] [--trials-s7 N] [--repeats R]
"""
import argparse
import subprocess
import time
import types
from pathlib import Path

import numpy as np

import smoothgrad
from smoothgrad.tasks import PAPER, train_recurrent

BASELINE_VS_AUTHORS = {"Fig. 3/S6": 15.0, "Fig. S7": 4.0}  # old loop / authors' code, measured side by side


def load_old(commit):
    "smoothgrad/tasks.py of `commit`, executed as a module of the package (its relative imports resolve)."
    root = Path(smoothgrad.__file__).resolve().parent.parent
    src = subprocess.run(["git", "-C", str(root), "show", f"{commit}:smoothgrad/tasks.py"], check=True,
                         capture_output=True, text=True).stdout
    mod = types.ModuleType("smoothgrad._tasks_old")
    mod.__package__ = "smoothgrad"
    exec(compile(src, f"{commit}:smoothgrad/tasks.py", "exec"), mod.__dict__)

    class OldAdaBelief(mod.AdaBelief):
        "The optimiser as the old loop used it: its step-size search steps on fresh arrays (refused since `reset()`)."

        def step(self, params, grads):
            self._params = None  # forget which arrays the moments belong to: the old loop's arrays are new each trial
            return super().step(params, grads)

    mod.AdaBelief = OldAdaBelief
    return mod


def timed(f, repeats):
    "Best wall time of `repeats` calls of f and its last result."
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        r = f()
        best = min(best, time.perf_counter() - t0)
    return best, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials-fig3", type=int, default=1000)
    ap.add_argument("--trials-s7", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--old", default="4e20f65", help="git commit of the old tasks.py")
    a = ap.parse_args()
    old = load_old(a.old)
    rows = []
    for name, key, n in (("Fig. 3/S6", "fig3", a.trials_fig3), ("Fig. S7", "figS7", a.trials_s7)):
        settings = dict(PAPER[key], n_trials=n, progress=False)
        old.train_recurrent(**dict(settings, n_trials=2))  # compile
        train_recurrent(**dict(settings, n_trials=2))
        t_old, r_old = timed(lambda: old.train_recurrent(**settings), a.repeats)
        t_new, r_new = timed(lambda: train_recurrent(**settings), a.repeats)
        same = np.array_equal(r_old["loss"], r_new["loss"])
        assert same, f"{name}: the new loop's loss history differs from the old one"
        speedup = t_old / t_new
        rows.append((name, n, n / t_old, n / t_new, speedup, BASELINE_VS_AUTHORS[name] * speedup))
    print("| loop | trials | old trials/s | new trials/s | new/old | implied new/authors |")
    print("|---|---|---|---|---|---|")
    for name, n, r_old, r_new, s, impl in rows:
        print(f"| {name} | {n} | {r_old:.0f} | {r_new:.0f} | {s:.2f} | {impl:.1f} "
              f"(= {BASELINE_VS_AUTHORS[name]:g} x {s:.2f}) |")
    print("Loss histories of old and new are identical (bit for bit).")


if __name__ == "__main__":
    main()
