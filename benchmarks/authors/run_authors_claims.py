"""The paper's numbers as the authors' own code gives them here: Figs. 2, 3/S6, S7 and Fig. 4 (on smoothgrad's embedded
digits) run once with chklos/spikegd, unchanged, with the configurations of their notebooks. Optional: runs in the
authors' environment (jax, jaxlib, optax, numpy, jaxtyping, tqdm, matplotlib; see benchmarks/authors/README.md);
smoothgrad is neither imported nor needed. Writes figures/authors/<fig>.json (data: numbers, settings, versions, wall
time; no code of theirs).

Subcommands (each one run, all settings from the authors' notebooks unless stated):
  fig3   experiments/rnn: run(mode="normal"), config_qif (seed 7, N = 10, T = 10, K = 500, float64), AdaBelief with
         lr 1e-2 exp(-trial/2000); 10,000 trials. Fig. 3 and Fig. S6 are the same run (their notebook plots both from it).
  figS7  experiments/rnn: run(mode="grid"), the same plus the search over 10**linspace(-5, 2, 50) with dt_max = 0.5,
         AdaBelief 1e-2 with b2 = 0.99; 20,000 trials in their notebook (--trials to run fewer; recorded).
  fig2   experiments/singleneuron: run(), config_qif (seed 3, 22 inputs, 2 trainable, targets 2.5 and 7.5, clip 0.02 +
         SGD 0.1, 3000 trials, float64). No AdaBelief: the optax version does not enter.
  fig4   experiments/mnist: run(), config_theta (float32, 784-100-100-10, K = 200, lr 4e-3 exp(-epoch/100), betas
         0.9/0.999, p_flip 0.02) with the quick setup of smoothgrad's nbs/experiments/fig4.ipynb: the embedded digits
         (6,000 training, 1,000 test; --data NPZ written by the project's .venv, see the README), batch 100, 30 epochs,
         one seed (their notebook's first). Their run() loads MNIST through torch/torchvision; here a minimal NumPy
         stand-in of the few torch names it uses serves the embedded digits instead (see `torch_stand_in`); their
         own transform_image binarises them (pixel >= 128 spikes), which is checked against smoothgrad's binarize.

The AdaBelief variant follows the installed optax: optax <= 0.2.3 builds the second moment from (g_t - m_{t-1})^2
("previous", the form of every optax release before 0.2.4 of 2024-11-12, and so of the published figures), later
releases from (g_t - m_t)^2 ("current"). The JSON keeps one entry per (JAX, optax) environment under "runs", so running
a subcommand in both environments records both.

JAX >= 0.5 changed the default generation of random bits; `jax_threefry_partitionable = False` (the JAX 0.4.x
behaviour the authors used) is set before anything is drawn, so their seeds give the published inputs and targets
(checked against smoothgrad's assets/paper_inputs.json; the check is recorded).

Usage: python benchmarks/authors/run_authors_claims.py {fig3,figS7,fig2,fig4} [--spikegd PATH] [--trials N]
       [--out FILE] [--data NPZ] [--epochs E] [--n-train N]
"""
import argparse
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
TAU_MS = 10.0  # the paper's time unit: tau = 10 ms (their plots multiply times by 10 to get ms)


# ----------------------------------------------------------------------------------------------------------- helpers
def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def spikegd_commit(root):
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def version(mod):
    try:
        return importlib.import_module(mod).__version__
    except Exception:  # noqa: BLE001 - not installed or no version
        return None


def belief_variant(optax_version):
    "'previous' ((g_t - m_{t-1})^2, optax <= 0.2.3) or 'current' ((g_t - m_t)^2, optax >= 0.2.4)."
    parts = tuple(int(p) for p in optax_version.split(".")[:3] if p.isdigit())
    return "previous" if parts <= (0, 2, 3) else "current"


def environment(root):
    import jax
    import optax
    return dict(spikegd_commit=spikegd_commit(root), jax=jax.__version__, jaxlib=version("jaxlib"),
                optax=optax.__version__, numpy=np.__version__, python=platform.python_version(),
                adabelief=belief_variant(optax.__version__),
                jax_threefry_partitionable=bool(jax.config.jax_threefry_partitionable),
                jax_enable_x64=bool(jax.config.jax_enable_x64), device=str(jax.devices()[0]),
                cpu=cpu_model(), cpu_count=os.cpu_count(), nice=os.nice(0),
                xla_flags=os.environ.get("XLA_FLAGS"), host_load_1min_at_start=os.getloadavg()[0])


def jsonable(x):
    "Plain JSON types (NaN/inf as strings, as JSON has none)."
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist") and not isinstance(x, (str, bytes)):
        return jsonable(np.asarray(x).tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return jsonable(x.item())
    return x


def save_run(path, figure, header, run):
    """Merge `run` into the JSON at `path` under runs[<key>], key = 'jax<j>-optax<o>' (one entry per environment);
    `header` (figure-level facts) is rewritten. Written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(path.read_text()) if path.exists() else {}
    data.update(jsonable(header), figure=figure)
    runs = data.setdefault("runs", {})
    key = f"jax{run['environment']['jax']}-optax{run['environment']['optax']}"
    if run.get("perturbation_seed") is not None:  # a rerun on perturbed inputs: its own entry, beside the run of record
        key += f"-perturbed{run['perturbation_seed']}"
    runs[key] = jsonable(run)
    data["runs"] = dict(sorted(runs.items()))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)
    print(f"wrote {path} (runs: {', '.join(data['runs'])})", flush=True)


class Progress:
    "A range that prints every `every` steps (the authors' tqdm.notebook trange needs a notebook)."

    def __init__(self, label, every):
        self.label, self.every, self.t0 = label, every, None

    def __call__(self, n):
        self.t0 = time.perf_counter()
        for i in range(n):
            if i and i % self.every == 0:
                dt = time.perf_counter() - self.t0
                print(f"  {self.label}: {i}/{n} after {dt:.0f} s ({i / dt:.1f}/s, dispatched)", flush=True)
            yield i


def paper_inputs(path):
    return json.loads(Path(path).read_text())


def leave_row(t_surplus, T):
    """Row (number of updates done) from which on the surplus output stays >= T after having been < T: last row
    inside + 1; NaN if never inside, inf if inside at the end (the same rule as smoothgrad.tasks.leave_trial)."""
    inside = np.asarray(t_surplus) < T
    if not inside.any():
        return math.nan
    if inside[-1]:
        return math.inf
    return int(np.flatnonzero(inside)[-1] + 1)


def log_rows(n, k=120):
    "About k log-spaced row indices 0..n (for a compact loss curve)."
    return sorted(set([0] + np.unique(np.round(np.logspace(0, math.log10(max(n, 1)), k))).astype(int).tolist() + [n]))


# ----------------------------------------------------------------------------------------------- Figs. 3/S6 and S7
CONFIG_QIF = {  # the authors' experiments/rnn/rnn.ipynb
    "seed": 7, "tau": 1.0, "eps": 1e-6, "alpha": 10.0,
    "N": 10, "w_in_exc": 5.0, "w_in_inh": -5.0, "r_in": 1.0,
    "T": 10.0, "K": 500, "dt": 0.01,
    "Ntar": 2, "r_targets": [1, 1 / 2], "Ntrial": 10_000,
}


PERTURBATION = 1e-12  # smoothgrad.tasks.PERTURBATION: the chaotic spread of the published-inputs runs


def perturb_inputs(rnn, seed, T):
    """Make their `rnn.init_input` return the published inputs with every input time inside the trial shifted by
    U(-1e-12, 1e-12) (NumPy's generator of `seed`), kept in [0, T), as smoothgrad's "perturbed" reruns do; the
    spikes queued after the trial, and the order, stay as drawn. Their code is not changed, only this one name."""
    import jax.numpy as jnp
    draw = rnn.init_input

    def init_input(key, config):
        key, (times, neurons) = draw(key, config)
        t = np.asarray(times, np.float64).copy()
        inside = t < T
        t[inside] = np.clip(t[inside] + np.random.default_rng(seed).uniform(-PERTURBATION, PERTURBATION,
                                                                            inside.sum()), 0.0, np.nextafter(T, 0.0))
        return key, (jnp.asarray(t), neurons)
    rnn.init_input = init_input


def run_rnn(a, root, figure):
    import jax
    import jax.numpy as jnp
    import optax
    rnn = importlib.import_module("rnn")  # their experiments/rnn/rnn.py
    QIFNeuron = importlib.import_module("spikegd.qif").QIFNeuron
    grid_mode = figure == "figS7"
    n = a.trials if a.trials is not None else (20_000 if grid_mode else 10_000)
    rnn.trange = Progress(figure, 1000 if n >= 2000 else max(1, n // 5))  # their tqdm.notebook bar needs a notebook
    if grid_mode:  # their notebook's second run
        config = dict(CONFIG_QIF, Ntrial=n, grid=10 ** jnp.linspace(-5, 2, 50), dt_max=0.5)
        optim = optax.adabelief(1e-2, b2=0.99)
        optim_text = "optax.adabelief(1e-2, b2=0.99); step factor from grid 10**linspace(-5, 2, 50), dt_max 0.5"
    else:
        config = dict(CONFIG_QIF, Ntrial=n)
        optim = optax.adabelief(optax.exponential_decay(1e-2, int(2e3), 1 / jnp.e))
        optim_text = "optax.adabelief(optax.exponential_decay(1e-2, 2000, 1/e)) (b1 0.9, b2 0.999, eps 1e-16)"
    neuron = QIFNeuron(config["tau"], config["eps"], config["alpha"])
    T = config["T"]
    if a.perturb is not None:
        perturb_inputs(rnn, a.perturb, T)
    env = environment(root)
    print(f"{figure}: authors' rnn.run(mode={'grid' if grid_mode else 'normal'}), {n} trials, jax {env['jax']}, "
          f"optax {env['optax']} (AdaBelief '{env['adabelief']}')", flush=True)
    t0 = time.perf_counter()
    metrics, examples = rnn.run(neuron, optim, config, "grid" if grid_mode else "normal")
    loss = np.asarray(metrics["loss"])  # (n + 1,): loss[k] = loss of the parameters after k updates
    wall = time.perf_counter() - t0

    targets = [np.asarray(t) for t in metrics["t_targets"]]
    t_out = [np.array([np.asarray(ts[i]) for ts in metrics["t_out"]]) for i in range(config["Ntar"])]  # (n+1, M_i)
    # inputs and targets against the published ones (smoothgrad's assets/paper_inputs.json)
    key = jax.random.PRNGKey(config["seed"])
    key, (tin, src) = rnn.init_input(key, config)
    tin, src = np.asarray(tin), np.asarray(src)
    fin = tin < T  # the published file lists the input spikes inside the trial (theirs also queues later ones)
    pub = paper_inputs(a.paper_inputs)["fig3"]
    same_inputs = (fin.sum() == len(pub["input_times"]) and np.array_equal(src[fin], pub["input_sources"]))
    d_in = float(np.abs(tin[fin] - np.asarray(pub["input_times"])).max()) if same_inputs else None
    d_tg = (float(max(np.abs(t - np.asarray(p)).max() for t, p in zip(targets, pub["targets"])))
            if all(len(t) == len(p) for t, p in zip(targets, pub["targets"])) else None)

    final = [t[-1] for t in t_out]  # output times after n updates (the row of the final parameters)
    dev = [np.abs(f[:-1] - tg[:-1]) for f, tg in zip(final, targets)]
    out_end = examples["outs"][1]  # simulation with the final parameters (their panel "Trial n" raster)
    times, spike_in, neurons = (np.asarray(v) for v in out_end[:3])
    raster = {str(i): (times[(~spike_in) & (neurons == i) & (times < T)] * TAU_MS).tolist()
              for i in range(config["N"])}
    norec = [np.asarray(t) for t in examples["t_outs"][2]]  # final, weights onto non-target neurons set to 0
    leaves = [leave_row(t[:, -1], T) for t in t_out]
    finite_leaves = [x for x in leaves if not math.isnan(x)]
    rows = log_rows(n)

    def at(k):
        return float(loss[k]) if k < len(loss) else math.nan

    values = {
        "n_trials": n,
        "loss_initial": at(0),
        # 1-based trials as in the paper's text and smoothgrad's figures/*.json: trial k = loss[k - 1]
        **{f"loss_trial{k}_1based": at(k - 1) for k in (1, 10, 100, 500, 1000, 5000, 10_000, 20_000) if k <= n + 1},
        # as drawn in the authors' loss panel: loss[k] at x = k on the 'Trials+1' axis
        **{f"loss_after_{k}_updates": at(k) for k in (1, 10, 100, 1000, 10_000, 20_000) if k <= n},
        "loss_final": float(loss[-1]),
        "loss_final_after_updates": n,
        "loss_min": float(np.nanmin(loss)),
        "nan_losses": int(np.isnan(loss).sum()),
        "final_max_abs_t_minus_target_tau": float(max(d.max() for d in dev)),
        "final_max_abs_t_minus_target_ms": float(max(d.max() for d in dev)) * TAU_MS,
        "final_abs_t_minus_target_tau": [d.tolist() for d in dev],
        "final_output_times_ms": [(f * TAU_MS).tolist() for f in final],
        "targets_ms": [(tg * TAU_MS).tolist() for tg in targets],
        "final_outputs_ordinary": [(f[:-1] < T).tolist() for f in final],
        "final_output_times_without_nontarget_weights_ms": [(t * TAU_MS).tolist() for t in norec],
        "surplus_leave_row_per_target_neuron": leaves,
        "surplus_leave_row": max(finite_leaves) if finite_leaves else math.nan,
        "final_raster_ms": raster,
        "initial_target_spikes_in_trial": [int((t[0, :] < T).sum()) for t in t_out],
        "final_target_spikes_in_trial": [int((t[-1, :] < T).sum()) for t in t_out],
        "loss_curve": {"rows": rows, "loss": [float(loss[k]) for k in rows]},
    }
    if grid_mode:
        steps = np.max([np.abs(np.diff(t, axis=0)).max() for t in t_out])
        values["max_output_time_change_per_trial_tau"] = float(steps)
    run = dict(
        environment=env,
        settings=dict(config={k: (np.asarray(v).tolist() if k == "grid" else v) for k, v in config.items()},
                      mode="grid" if grid_mode else "normal", optimizer=optim_text, dtype="float64",
                      inputs="their seed 7 with jax_threefry_partitionable = False" + (
                          "" if a.perturb is None else f"; every input time in the trial shifted by U(-{PERTURBATION:g}, "
                          f"{PERTURBATION:g}) from numpy.random.default_rng({a.perturb})")),
        inputs_check=dict(in_trial_sources_match_published=bool(same_inputs), max_abs_input_time_diff_tau=d_in,
                          max_abs_target_diff_tau=d_tg, reference="smoothgrad/assets/paper_inputs.json"),
        values=values, perturbation_seed=a.perturb, wall_time_s=wall, wall_time_note="whole run() call incl. compilation, nice -n 19, shared host",
    )
    header = dict(
        description=("Fig. 3 / Fig. S6 (one run: the authors' notebook draws both from it)" if not grid_mode else
                     "Fig. S7 (step-size search)") + " with the authors' code, unchanged (chklos/spikegd).",
        units="times in ms (tau = 10 ms) where the key says _ms, in tau where it says _tau; loss dimensionless",
        conventions=("loss[k] is the loss of the parameters after k updates (k = 0..n). 'trial k (1-based)' = "
                     "loss[k - 1], as in smoothgrad's figures/*.json; the authors' loss panel draws loss[k] at x = k "
                     "on its 'Trials+1' axis (so its point at 1e4 is loss[10000], the final loss). "
                     "surplus_leave_row: the row (updates done) from which on the output tied to the removal target "
                     "1.1 T stays >= T after having been < T (max over the two target neurons; NaN: never inside, "
                     "inf: inside at the end); the authors' spike-time panels draw row r at x = r + 1."),
        paper_adabelief="previous",
        paper_adabelief_reason=(
            "The published renderings (shared/paper/figures/fig3.png, figS6.png, figS7.png) are byte-identical to "
            "the PNG outputs stored in experiments/rnn/rnn.ipynb at spikegd commit bc64e2e (2024-07-19). Every optax "
            "release up to 0.2.3 (2024-07-09) computes s_t from g_t - m_{t-1}; optax changed it to g_t - m_t in "
            "commit 723e6bf ('Fix AdaBelief implementation', 2024-11-08), first released in 0.2.4 (2024-11-12)."),
    )
    save_run(a.out or REPO / "figures" / "authors" / f"{figure}.json", figure, header, run)
    v = values
    print(f"{figure}: wall {wall:.0f} s; loss {v['loss_initial']:.7g} -> {v['loss_final']:.4g}; trial 1000 (1-based) "
          f"{v.get('loss_trial1000_1based', math.nan):.4g}; max |t - t*| {v['final_max_abs_t_minus_target_tau']:.3f} "
          f"tau; surplus leaves at row {v['surplus_leave_row']}; outputs (ms) {v['final_output_times_ms']}; inputs "
          f"match: {same_inputs} ({d_in}), targets {d_tg}", flush=True)


# ---------------------------------------------------------------------------------------------------------- Fig. 2
def run_fig2(a, root):
    import jax.numpy as jnp
    single = importlib.import_module("single")  # their experiments/singleneuron/single.py
    QIFNeuron = importlib.import_module("spikegd.qif").QIFNeuron
    n = a.trials if a.trials is not None else 3000
    config = {  # their experiments/singleneuron/single.ipynb
        "seed": 3, "tau": 1.0, "eps": 1e-6, "alpha": 10.0, "Nin": 22, "Ntrain": 2,
        "T": 10.0, "K": 25, "dt": 0.01, "t_targets": jnp.array([2.5, 7.5]), "Ntrial": n, "lr": 0.1,
    }
    neuron = QIFNeuron(config["tau"], config["eps"], config["alpha"])
    env = environment(root)
    print(f"fig2: authors' single.run, {n} trials, jax {env['jax']}", flush=True)
    t0 = time.perf_counter()
    metrics, examples = single.run(neuron, config)
    t_out = np.asarray(metrics["t_out"])  # (n, 2): output times before each update
    wall = time.perf_counter() - t0
    loss = np.asarray(metrics["loss"])
    p = np.asarray(metrics["p"])  # (n, 2, 2): parameters before each update ([weights, times])
    T = config["T"]
    # the fixed inputs against the published ones: rerun their input draw (the lines of run(), which is not split)
    import jax
    key = jax.random.PRNGKey(config["seed"])
    key, k1, k2, _ = jax.random.split(key, 4)
    times_fixed = np.asarray(jax.random.uniform(k1, (20,), minval=0, maxval=T))
    w_fixed = np.asarray(jax.random.normal(k2, (20,)))
    pub = paper_inputs(a.paper_inputs)["fig2"]
    d_t = float(np.abs(times_fixed - np.asarray(pub["fixed_input_times"])).max())
    d_w = float(np.abs(w_fixed - np.asarray(pub["fixed_input_weights"])).max())
    arc = np.cumsum(np.sum(np.abs(np.diff(t_out * TAU_MS, axis=0, prepend=t_out[:1] * TAU_MS)), axis=1))
    values = {
        "n_trials": n,
        "trial0_output_times_tau": t_out[0].tolist(),
        "trial0_outputs_ordinary": (t_out[0] < T).tolist(),
        "final_output_times_tau": t_out[-1].tolist(),
        "final_outputs_ordinary": (t_out[-1] < T).tolist(),
        "final_max_abs_t_minus_target_tau": float(np.abs(t_out[-1] - np.array([2.5, 7.5])).max()),
        "loss_initial": float(loss[0]), "loss_final": float(loss[-1]),
        "first_row_both_ordinary": int(np.flatnonzero((t_out < T).all(axis=1))[0]) if (t_out < T).all(axis=1).any()
        else None,
        "arc_length_ms": float(arc[-1]),
        "final_trainable_input_times_tau": p[-1, 1].tolist(), "final_trainable_weights": p[-1, 0].tolist(),
        "nan_losses": int(np.isnan(loss).sum()),
    }
    run = dict(environment=env, settings=dict(config={k: np.asarray(v).tolist() if k == "t_targets" else v
                                                      for k, v in config.items()},
                                              optimizer="optax.chain(optax.clip(2e-2), optax.sgd(0.1)); times "
                                                        "clipped to [0, T]", dtype="float64"),
               inputs_check=dict(max_abs_fixed_time_diff_tau=d_t, max_abs_fixed_weight_diff=d_w,
                                 reference="smoothgrad/assets/paper_inputs.json"),
               values=values, wall_time_s=wall,
               wall_time_note="whole run() call incl. compilation, nice -n 19, shared host")
    header = dict(description="Fig. 2 (single QIF neuron) with the authors' code, unchanged (chklos/spikegd).",
                  units="times in tau (tau = 10 ms) unless the key says _ms",
                  conventions=("t_out rows are the output times before each update (row 0: initial parameters; "
                               "their run() records n rows, the last before the n-th update). arc_length_ms = "
                               "sum over trials of sum |dt| of the two outputs, in ms (their panel (d) x axis)."),
                  adabelief_note="no AdaBelief (clip + SGD): the optax version does not enter")
    save_run(a.out or REPO / "figures" / "authors" / "fig2.json", "fig2", header, run)
    print(f"fig2: wall {wall:.0f} s; trial 0 {t_out[0]} -> {t_out[-1]}; loss {loss[-1]:.3g}; arc {arc[-1]:.1f} ms; "
          f"inputs diff {d_t:.2g} / {d_w:.2g}", flush=True)


# ---------------------------------------------------------------------------------------------------------- Fig. 4
def torch_stand_in(data):
    """Minimal NumPy stand-ins of the torch / torchvision names that the authors' mnist.py uses (import-time
    annotations, and in run(): torch.manual_seed, torch.flatten, TensorDataset, DataLoader(batch_size, shuffle),
    datasets.MNIST(root, train, download) with .data (n, 28, 28) uint8 and .targets). MNIST serves the digits of
    `data` (a dict: x_train, y_train, x_test, y_test; smoothgrad's embedded subset); DataLoader shuffles with NumPy's default_rng(torch.manual_seed's seed),
    a new permutation every epoch (torch's own order is not reproducible without torch, and is immaterial)."""
    state = {"rng": np.random.default_rng(0)}
    torch = types.ModuleType("torch")
    torch.Tensor = type("Tensor", (), {})
    torch.manual_seed = lambda s: state.update(rng=np.random.default_rng(int(s)))
    torch.flatten = lambda x, start_dim=0: x.reshape(x.shape[:start_dim] + (-1,))

    class TensorDataset:
        def __init__(self, *arrays):
            self.arrays = arrays

        def __len__(self):
            return len(self.arrays[0])

    class DataLoader:
        def __init__(self, dataset, batch_size=1, shuffle=False):
            self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle

        def __len__(self):
            return -(-len(self.dataset) // self.batch_size)

        def __iter__(self):
            n = len(self.dataset)
            order = state["rng"].permutation(n) if self.shuffle else np.arange(n)
            for s in range(0, n, self.batch_size):
                idx = order[s:s + self.batch_size]
                yield tuple(a[idx] for a in self.dataset.arrays)

    class MNIST:
        def __init__(self, root, train=True, download=False):
            split = "train" if train else "test"
            self.data = np.asarray(data[f"x_{split}"]).reshape(-1, 28, 28).astype(np.uint8)
            self.targets = np.asarray(data[f"y_{split}"]).astype(np.int64)

    torch.utils = types.ModuleType("torch.utils")
    torch.utils.data = types.ModuleType("torch.utils.data")
    torch.utils.data.DataLoader, torch.utils.data.TensorDataset = DataLoader, TensorDataset
    tv = types.ModuleType("torchvision")
    tv.datasets = types.ModuleType("torchvision.datasets")
    tv.datasets.MNIST = MNIST
    sys.modules.update({"torch": torch, "torch.utils": torch.utils, "torch.utils.data": torch.utils.data,
                        "torchvision": tv, "torchvision.datasets": tv.datasets})


def run_fig4(a, root):
    import jax
    import jax.numpy as jnp
    if not a.data:
        raise SystemExit("fig4 needs --data NPZ (the embedded digits exported by the project's .venv; see README)")
    with np.load(a.data) as d:
        data = {k: d[k] for k in d.files}
    if a.n_train:  # as the fig4 notebook's n_train: evenly spaced
        step = max(1, len(data["y_train"]) // a.n_train)
        sel = np.arange(0, len(data["y_train"]), step)[:a.n_train]
        for k in ("x_train", "y_train", "binarized_train"):
            data[k] = data[k][sel]
    x_tr, y_tr, x_te = data["x_train"], data["y_train"], data["x_test"]
    bin_tr, bin_te = data["binarized_train"], data["binarized_test"]  # smoothgrad.data.binarize of the same digits
    torch_stand_in(data)
    mnist = importlib.import_module("mnist")  # their experiments/mnist/mnist.py
    ThetaNeuron = importlib.import_module("spikegd.theta").ThetaNeuron
    # their transform (pixel -> virtual input index; 0 = spike) against smoothgrad's binarize
    cfg_bin = {"Nin_virtual": 1}
    same_bin = bool(np.array_equal(mnist.transform_image(x_tr.reshape(-1, 28, 28), cfg_bin) == 0, bin_tr)
                    and np.array_equal(mnist.transform_image(x_te.reshape(-1, 28, 28), cfg_bin) == 0, bin_te))
    # their notebook's seeds: random.randint(PRNGKey(0), (10,), 0, 2**32 - 1, uint32); one run with the first
    seeds = jax.random.randint(jax.random.PRNGKey(0), (10,), 0, jnp.uint32(2**32 - 1), dtype=jnp.uint32)
    seed = int(seeds[0]) if a.seed is None else a.seed
    config = {  # their config_theta (experiments/mnist/mnist.ipynb) with the quick setup's batch and epochs
        "seed": seed, "tau": 6 / np.pi, "I0": 5 / 4, "eps": 1e-6,
        "Nin": 784, "Nin_virtual": 1, "Nhidden": 100, "Nlayer": 3, "Nout": 10, "w_scale": 0.5,
        "T": 2.0, "K": 200, "dt": 0.001,
        "gamma": 1e-2, "Nbatch": a.batch, "lr": 4e-3, "tau_lr": 1e2, "beta1": 0.9, "beta2": 0.999,
        "p_flip": 0.02, "Nepochs": a.epochs,
    }
    neuron = ThetaNeuron(config["tau"], config["I0"], config["eps"])
    env = environment(root)
    epoch_times = []

    def epochs_range(n, **kw):  # replaces their tqdm trange (progress_bar="script"): prints and times each epoch
        t0 = time.perf_counter()
        for i in range(n):
            yield i
            epoch_times.append(time.perf_counter() - t0)
            print(f"  fig4: epoch {i + 1}/{n} done after {epoch_times[-1]:.0f} s", flush=True)

    mnist.trange_script = epochs_range
    print(f"fig4: authors' mnist.run, {len(y_tr)} training / {len(x_te)} test digits, batch {a.batch}, {a.epochs} "
          f"epochs, seed {seed}, jax {env['jax']}, optax {env['optax']} (AdaBelief '{env['adabelief']}'), binarisation "
          f"identical to smoothgrad's: {same_bin}", flush=True)
    t0 = time.perf_counter()
    metrics = mnist.run(neuron, config, progress_bar="script")
    wall = time.perf_counter() - t0
    hist = {k: np.asarray(v).tolist() for k, v in metrics.items() if k not in ("p_init", "p_end")}
    n_test_batches = -(-len(x_te) // 1000)
    fix = n_test_batches * 1000 / a.batch  # their probe divides by Nbatch, not by the test batch (1000)
    last = {k: v[-1] for k, v in hist.items()}
    first = {k: v[0] for k, v in hist.items()}
    values = {
        "acc_pseudo_before": first["acc"], "acc_pseudo_after": last["acc"],
        "acc_ordinary_argmin_before": first["acc_ord"], "acc_ordinary_argmin_after": last["acc_ord"],
        "loss_before": first["loss"], "loss_after": last["loss"],
        "hidden_silent_before": first["silent_neurons"], "hidden_silent_after": last["silent_neurons"],
        "hidden_rate_after": last["activity"] / fix, "hidden_rate_first_after": last["activity_first"] / fix,
        "activity_as_their_probe_reports_after": last["activity"],
        "epochs": a.epochs, "n_train": int(len(y_tr)), "n_test": int(len(x_te)),
        "history": hist,
    }
    run = dict(environment=env,
               settings=dict(config=config, seed_source="first of their notebook's 10 seeds"
                             if a.seed is None else "--seed", dtype="float32 (their MNIST notebook leaves x64 off)",
                             data=("smoothgrad.data.load_embedded_mnist('train'/'test') (uint8, exported to an npz by "
                                   "the project's .venv), served by a NumPy stand-in of torchvision.datasets.MNIST; "
                                   "binarised by their transform_image (pixel >= 128 spikes)"),
                             binarisation_identical_to_smoothgrad=same_bin,
                             shuffling="NumPy default_rng(seed).permutation per epoch (torch's DataLoader order "
                                       "cannot be reproduced without torch)",
                             setup="smoothgrad's fig4 quick setup: 6,000 embedded training digits, 1,000 test, "
                                   "batch 100 (60 updates per epoch as the paper's 60,000 / 1000), 30 epochs, "
                                   "lr 4e-3 exp(-epoch/100), flips 0.02"),
               values=values, wall_time_s=wall, epoch_end_times_s=epoch_times,
               wall_time_note="whole run() call incl. compilation and their per-epoch test probes, nice -n 19")
    header = dict(description="Fig. 4 network (784-100-100-10 theta neurons) trained with the authors' code, "
                              "unchanged (chklos/spikegd), on smoothgrad's embedded digits (quick setup, one seed).",
                  units="accuracies as fractions of the test digits; hidden_rate: spikes per hidden neuron and "
                        "test digit",
                  conventions=("acc_pseudo: their 'acc' (earliest output, pseudospikes count); "
                               "acc_ordinary_argmin: their 'acc_ord' (outputs without an ordinary spike set to T, "
                               "then argmin: ties at T go to the lowest class index). hidden_rate = their 'activity' "
                               "divided by (test batch 1000 / Nbatch): their probe normalises by Nbatch, so with "
                               "batch 100 its raw number is 10x the rate (raw value kept as "
                               "activity_as_their_probe_reports_after). hidden_silent: fraction of hidden neurons "
                               "silent on every test digit."),
                  paper_adabelief="previous")
    save_run(a.out or REPO / "figures" / "authors" / "fig4.json", "fig4", header, run)
    print(f"fig4: wall {wall:.0f} s; acc {first['acc']:.3f} -> {last['acc']:.3f}, ordinary {last['acc_ord']:.3f}; "
          f"hidden rate {values['hidden_rate_after']:.3f}; silent {last['silent_neurons']:.3f}", flush=True)


# ------------------------------------------------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("figure", choices=["fig3", "figS7", "fig2", "fig4"])
    ap.add_argument("--spikegd", default=None, help="checkout of chklos/spikegd (default: $SPIKEGD)")
    ap.add_argument("--trials", type=int, default=None, help="trials (default: their notebook's 10,000 / 20,000 / 3000)")
    ap.add_argument("--out", default=None, help="JSON to write/merge (default: figures/authors/<figure>.json)")
    ap.add_argument("--paper-inputs", default=str(REPO / "smoothgrad" / "assets" / "paper_inputs.json"))
    ap.add_argument("--data", default=None, help="fig4: npz with x_train, y_train, x_test, y_test, binarized_*")
    ap.add_argument("--epochs", type=int, default=30, help="fig4: epochs (quick setup: 30)")
    ap.add_argument("--batch", type=int, default=100, help="fig4: batch size (quick setup: 100)")
    ap.add_argument("--n-train", type=int, default=None, help="fig4: use n evenly spaced training digits (smoke test)")
    ap.add_argument("--seed", type=int, default=None, help="fig4: seed (default: their notebook's first seed)")
    ap.add_argument("--perturb", type=int, default=None, metavar="SEED",
                    help="fig3/figS7: rerun on the published inputs shifted by U(-1e-12, 1e-12) (NumPy seed SEED), "
                         "the chaotic spread; recorded as its own entry")
    a = ap.parse_args()
    if a.perturb is not None and a.figure not in ("fig3", "figS7"):
        ap.error(f"--perturb applies to fig3 and figS7 (the published inputs of the recurrent task), not {a.figure}")
    import jax
    jax.config.update("jax_enable_x64", a.figure != "fig4")  # their rnn/single notebooks: x64; MNIST: float32
    jax.config.update("jax_threefry_partitionable", False)  # JAX 0.4.x random bits (the authors' seeds)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from spikegd_path import use_spikegd
    experiment = {"fig3": "rnn", "figS7": "rnn", "fig2": "singleneuron", "fig4": "mnist"}[a.figure]
    if experiment == "singleneuron":  # their folder is experiments/singleneuron/single.py
        root = Path(a.spikegd or os.environ.get("SPIKEGD", "")).expanduser().resolve()
        if not (root / "experiments" / "singleneuron" / "single.py").is_file():
            ap.error(f"{root} is not a checkout of chklos/spikegd (experiments/singleneuron/single.py not found)")
        sys.path[:0] = [str(root), str(root / "experiments" / "singleneuron")]
    else:
        root = use_spikegd(ap, a.spikegd, experiment)
    if a.figure in ("fig3", "figS7"):
        run_rnn(a, root, a.figure)
    elif a.figure == "fig2":
        run_fig2(a, root)
    else:
        run_fig4(a, root)


if __name__ == "__main__":
    main()
