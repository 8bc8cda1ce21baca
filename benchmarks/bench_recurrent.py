"""Trials per second of the recurrent training loops of Figs. 3/S6 (simulate + adjoint + AdaBelief step) and
Fig. S7 (the same plus the step-size search over 50 candidate factors): this checkout, the whole library of an
earlier commit (`--previous`, default `PREVIOUS`: the loop and simulator before they were compiled into one loop),
and, where its environment exists, the authors' JAX code, in one run.

Each library runs in a fresh process of its own (the previous one exported from git into a temporary folder as the
package `smoothgrad_prev`), alternating over `--rounds`, best of `--repeats` runs per process: in one process the
previous library's Python loop measured up to 1.6x slower after the other library had run. Both start from the
published inputs, run the same trials and must give the same loss history, bit for bit (asserted through its
SHA-256). The authors' loops run through `benchmarks/authors/bench_authors_recurrent.py` where `$SPIKEGD` names their
checkout and `~/spikegd-venv` (or `$SPIKEGD_PYTHON`) their environment; their rates exclude their first (compiling)
trial. Timings on a shared machine are noisy. Usage: python benchmarks/bench_recurrent.py [--trials-fig3 N]
[--trials-s7 N] [--repeats R] [--rounds R] [--previous COMMIT]
"""
import argparse
import gc
import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

from smoothgrad.tasks import PAPER

PREVIOUS = "1c31995"  # the last commit before the compiled loop (stop 29)
GOAL = 100  # x the authors' code (issue 21)
ROOT = Path(__file__).resolve().parent.parent


def load_previous(commit):
    "`smoothgrad.tasks` of `commit`, imported as the package `smoothgrad_prev` from a temporary export; None without git."
    r = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, "smoothgrad"], capture_output=True)
    if r.returncode:
        return None
    tmp = Path(tempfile.mkdtemp(prefix="smoothgrad-bench-"))
    with tarfile.open(fileobj=BytesIO(r.stdout)) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "smoothgrad").rename(tmp / "smoothgrad_prev")
    sys.path.insert(0, str(tmp))
    return importlib.import_module("smoothgrad_prev.tasks")


def authors_rates(n_fig3, n_s7):
    "Trials/s of the authors' Fig. 3 and S7 loops, measured now where their environment exists; else None."
    py = Path(os.environ.get("SPIKEGD_PYTHON", Path.home() / "spikegd-venv" / "bin" / "python"))
    if not os.environ.get("SPIKEGD") or not py.is_file():
        return None
    script = ROOT / "benchmarks" / "authors" / "bench_authors_recurrent.py"
    r = subprocess.run([str(py), str(script), "--trials-fig3", str(n_fig3), "--trials-s7", str(n_s7)],
                       capture_output=True, text=True)
    rates = dict(re.findall(r"^(fig3|figS7) \S+: \d+ trials, ([0-9.,]+) trials/s", r.stdout, re.M))
    if r.returncode or set(rates) != {"fig3", "figS7"}:
        print(f"the authors' code did not run (exit {r.returncode}): {r.stderr.strip()[-300:]}")
        return None
    return {k: float(v.replace(",", "")) for k, v in rates.items()}


def worker(library, key, n, repeats):
    """In a fresh process: the best of `repeats` rates (trials/s) of one loop of `library` ("this" or a commit) and
    the SHA-256 of its loss history, as one JSON line (a process of its own: neither library pays for the other's
    objects, threads or caches)."""
    tasks = importlib.import_module("smoothgrad.tasks") if library == "this" else load_previous(library)
    settings = dict(PAPER[key], n_trials=n, progress=False)
    tasks.train_recurrent(**dict(settings, n_trials=2))  # compile (or load from the cache)
    best = np.inf
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        loss = tasks.train_recurrent(**settings)["loss"]
        best = min(best, time.perf_counter() - t0)
    print(json.dumps({"rate": n / best, "loss": hashlib.sha256(np.asarray(loss).tobytes()).hexdigest()}))


def measure(library, key, n, repeats):
    "`worker` in a subprocess: (trials/s, digest of the loss history)."
    r = subprocess.run([sys.executable, __file__, "--worker", library, key, str(n), str(repeats)], capture_output=True,
                       text=True, check=True)
    d = json.loads(r.stdout.strip().splitlines()[-1])
    return d["rate"], d["loss"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials-fig3", type=int, default=2000)
    ap.add_argument("--trials-s7", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of fresh processes")
    ap.add_argument("--previous", default=PREVIOUS, help="git commit of the library to compare with")
    ap.add_argument("--worker", nargs=4, metavar=("LIBRARY", "KEY", "N", "REPEATS"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker[0], a.worker[1], int(a.worker[2]), int(a.worker[3]))
    import numba
    from llvmlite import binding

    target = numba.config.CPU_NAME or f"host ({binding.get_host_cpu_name()})"
    print(f"recurrent loops (N = 10 QIF neurons, the published inputs), numba threads {numba.get_num_threads()}, "
          f"numba target {target}, previous library: {a.previous}")
    has_git = subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", a.previous], capture_output=True).returncode == 0
    if not has_git:
        print(f"(no git history here: the library of {a.previous} is not timed)")
    rows = []
    for name, key, n in (("Fig. 3/S6", "fig3", a.trials_fig3), ("Fig. S7", "figS7", a.trials_s7)):
        r_new, r_prev = 0.0, 0.0
        for _ in range(a.rounds):  # alternately, each in a fresh process
            r, loss_new = measure("this", key, n, a.repeats)
            r_new = max(r_new, r)
            if has_git:
                r, loss_prev = measure(a.previous, key, n, a.repeats)
                r_prev = max(r_prev, r)
                assert loss_prev == loss_new, f"{name}: the loss histories differ"
        rows.append((name, key, n, r_new, r_prev if has_git else None))
    authors = authors_rates(a.trials_fig3 // 2, max(a.trials_s7 // 4, 10))
    print(f"| loop | trials | trials/s | previous | ratio | authors' | ours/authors' (goal >= {GOAL}x) |")
    print("|---|---|---|---|---|---|---|")
    for name, key, n, r_new, r_prev in rows:
        p = f"{r_prev:,.0f} | {r_new / r_prev:.2f}x" if r_prev else "- | -"
        au = f"{authors[key]:,.1f} | {r_new / authors[key]:.0f}x" if authors else "not run | -"
        print(f"| {name} | {n} | {r_new:,.0f} | {p} | {au} |")
    if has_git:
        print("Loss histories of this checkout and the previous library are identical (bit for bit).")
    if not authors:
        print("The authors' loops were not run (set $SPIKEGD, see benchmarks/authors/README.md).")


if __name__ == "__main__":
    main()
