"""Trials per second of the authors' recurrent training loops (chklos/spikegd, experiments/rnn/rnn.py `run`), the
counterpart of benchmarks/bench_recurrent.py. Optional: runs in a separate environment with jax, jaxlib, optax, numpy,
jaxtyping, tqdm and matplotlib (see benchmarks/authors/README.md); smoothgrad is neither imported nor needed.

Fig. 3 ("normal" mode: simulation, gradient and AdaBelief step per trial) and Fig. S7 ("grid" mode: the same plus the
search over 50 candidate step sizes), with the configuration of the authors' notebook (config_qif: seed 7, N = 10,
T = 10, K = 500, float64 as in their notebook; --f32 for float32). Their `run` is called unchanged from a checkout of
spikegd (--spikegd PATH, else $SPIKEGD); only its progress bar `trange` is replaced by a range that records the start
of every trial, and its `jit` by one that remembers the last result, so that the clock waits for JAX's asynchronous
dispatch to finish. The first trial (compilation) is excluded: rate = (n - 1) / (end - start of trial 1), over the
n = Ntrial + 1 trials of their loop. --save FILE writes the loss histories and the inputs and targets for
`compare.py recurrent FILE`.

Usage: python benchmarks/authors/bench_authors_recurrent.py [--spikegd PATH] [--trials-fig3 N] [--trials-s7 N]
       [--repeats R] [--f32] [--save FILE]
"""
import argparse
import importlib
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from spikegd_path import use_spikegd  # this folder (the script's own) is on sys.path


class TrialClock:
    """Replacements of rnn.trange and rnn.jit that time the trials of rnn.run. `trange(n)` is a range that records
    the start time of every step in `stamps` (and the end of the last); `jit(f)` is jax.jit(f) that keeps its last
    result: JAX dispatches asynchronously, so a trial has finished only when that result is ready."""

    def __init__(self, jit):
        self._jit, self.last, self.stamps = jit, None, []

    def jit(self, f):
        g = self._jit(f)

        def wrapper(*args, **kwargs):
            self.last = g(*args, **kwargs)
            return self.last

        return wrapper

    def trange(self, n):
        self.stamps = []
        for i in range(n):
            if i == 1:
                jax.block_until_ready(self.last)  # the first (compiling) trial has finished
            self.stamps.append(time.perf_counter())
            yield i
        jax.block_until_ready(self.last)  # the last trial has finished
        self.stamps.append(time.perf_counter())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spikegd", default=None, help="checkout of chklos/spikegd (default: $SPIKEGD)")
    ap.add_argument("--trials-fig3", type=int, default=1000, help="Ntrial of the Fig. 3 run (0: skip)")
    ap.add_argument("--trials-s7", type=int, default=100, help="Ntrial of the Fig. S7 run (0: skip)")
    ap.add_argument("--repeats", type=int, default=1, help="runs of each loop (each is printed)")
    ap.add_argument("--f32", action="store_true", help="float32 instead of the notebook's float64")
    ap.add_argument("--save", default=None, help="npz file for compare.py recurrent")
    a = ap.parse_args()
    jax.config.update("jax_enable_x64", not a.f32)
    # JAX >= 0.5 changed the default generation of random bits; the old one (JAX 0.4.x, which the authors used) gives
    # the published Fig. 3 inputs and targets (compare.py recurrent checks them against smoothgrad's paper_inputs).
    jax.config.update("jax_threefry_partitionable", False)
    use_spikegd(ap, a.spikegd, "rnn")
    rnn = importlib.import_module("rnn")  # the authors' experiments/rnn/rnn.py
    QIFNeuron = importlib.import_module("spikegd.qif").QIFNeuron
    clock = TrialClock(rnn.jit)
    rnn.trange, rnn.jit = clock.trange, clock.jit  # module globals that run() looks up when called

    config_qif = {  # the authors' experiments/rnn/rnn.ipynb
        "seed": 7, "tau": 1.0, "eps": 1e-6, "alpha": 10.0,
        "N": 10, "w_in_exc": 5.0, "w_in_inh": -5.0, "r_in": 1.0,
        "T": 10.0, "K": 500, "dt": 0.01,
        "Ntar": 2, "r_targets": [1, 1 / 2], "Ntrial": 10_000,
    }
    neuron = QIFNeuron(config_qif["tau"], config_qif["eps"], config_qif["alpha"])
    print(f"authors' spikegd rnn.run, jax {jax.__version__}, x64 {not a.f32}, K={config_qif['K']}, "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS')!r}", flush=True)
    save = {}
    for name, n in (("fig3", a.trials_fig3), ("figS7", a.trials_s7)):
        if n <= 0:
            continue
        for _ in range(a.repeats):
            if name == "fig3":  # as in the notebook
                config = dict(config_qif, Ntrial=n)
                optim = optax.adabelief(optax.exponential_decay(1e-2, int(2e3), 1 / jnp.e))
                mode = "normal"
            else:
                config = dict(config_qif, Ntrial=n, grid=10 ** jnp.linspace(-5, 2, 50), dt_max=0.5)
                optim = optax.adabelief(1e-2, b2=0.99)
                mode = "grid"
            t0 = time.perf_counter()
            metrics, _ = rnn.run(neuron, optim, config, mode)
            total = time.perf_counter() - t0
            s = clock.stamps
            iters = len(s) - 1  # Ntrial + 1 trials
            r = (iters - 1) / (s[-1] - s[1])
            loss = np.asarray(metrics["loss"])
            print(f"{name} ({mode}): {iters} trials, {r:.0f} trials/s excluding the first (compiling) trial; first "
                  f"trial {s[1] - s[0]:.1f} s; whole run() {total:.1f} s; loss[0] {loss[0]:.10g} loss[-1] "
                  f"{loss[-1]:.6g}; NaN losses {int(np.isnan(loss).sum())}", flush=True)
            save[f"{name}_loss"] = loss
            save[f"{name}_rate"] = r
    key = jax.random.PRNGKey(config_qif["seed"])  # the inputs and targets of run(), for compare.py
    key, spikes_in = rnn.init_input(key, config_qif)
    key, t_targets = rnn.init_target(key, config_qif)
    save["input_times"], save["input_sources"] = np.asarray(spikes_in[0]), np.asarray(spikes_in[1])
    for i, t in enumerate(t_targets):
        save[f"target{i}"] = np.asarray(t)
    if a.save:
        np.savez(a.save, **save)


if __name__ == "__main__":
    main()
