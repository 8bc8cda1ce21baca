"""Fig. S7's chaotic spread, ours beside the authors' code: is the difference in final loss chance or systematic?

Runs smoothgrad's Fig. S7 training (`train_recurrent(**PAPER["figS7"])`: AdaBelief "previous", lr 1e-2, b2 = 0.99,
the 50-factor step search, 20,000 trials) on the published inputs with every in-trial input time shifted by
U(-1e-12, 1e-12) (`inputs="perturbed"`, seeds FIRST .. LAST - 1) and once on the published inputs, the same perturbation as the authors' reruns
(`run_authors_claims.py figS7 --perturb SEED`). Writes figures/authors/figS7_spread_ours.json (final loss and loss
after 10,000 updates per seed, with provenance), then compares the final losses with the authors' runs in
figures/authors/figS7.json (their run of record) and figS7_perturbed.json: medians, geometric means and an exact
two-sided Mann-Whitney test. An existing output file is extended: seeds already in it are not rerun.

`--scale S` perturbs by U(-S, S) instead (NumPy's default_rng(seed), as for 1e-12) and writes
figS7_spread_ours_<S>.json; the published run is then left out. Every run records its loss after 50 updates too: by
then each run has taken one of two branches of the step search (about 2.05e-2 or 1.74e-2), see the README.

Usage: python benchmarks/authors/spread_figS7.py [--seeds FIRST LAST] [--scale S] [--out FILE]
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
AUTHORS = [REPO / "figures" / "authors" / "figS7.json", REPO / "figures" / "authors" / "figS7_perturbed.json"]


def authors_losses(after=None):
    """The authors' S7 losses after `after` updates (None: the final loss, after 20,000) of every run with their
    paper's optax (<= 0.2.3), by run key."""
    out = {}
    for path in AUTHORS:
        for key, run in json.loads(path.read_text())["runs"].items():
            v = run["values"]
            if "optax0.2.3" in key and v.get("loss_final_after_updates") == 20000:
                curve = dict(zip(v["loss_curve"]["rows"], v["loss_curve"]["loss"]))
                out[f"{path.stem}:{key}"] = float(v["loss_final"] if after is None else curve[after])
    return out


def compare(ours, theirs):
    "Medians, geometric means and the exact two-sided Mann-Whitney p of two samples of losses."
    from scipy.stats import mannwhitneyu

    a, b = np.array(list(theirs.values())), np.array(list(ours.values()))
    res = mannwhitneyu(a, b, alternative="two-sided", method="exact")
    return {"n_authors": len(a), "n_ours": len(b), "median_authors": float(np.median(a)),
            "median_ours": float(np.median(b)), "geomean_authors": float(np.exp(np.log(a).mean())),
            "geomean_ours": float(np.exp(np.log(b).mean())), "mann_whitney_u_authors_vs_ours": float(res.statistic),
            "mann_whitney_p_two_sided": float(res.pvalue),
            "authors_below_our_median": int((a < np.median(b)).sum())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs=2, default=(0, 25), metavar=("FIRST", "LAST"))
    ap.add_argument("--scale", type=float, default=1e-12, help="perturbation U(-S, S) of every input time")
    ap.add_argument("--out", default=None, help="default: figures/authors/figS7_spread_ours[_<S>].json")
    a = ap.parse_args()
    from smoothgrad.core import atomic_write_json, provenance
    from smoothgrad.tasks import PAPER, PERTURBATION, paper_inputs, train_recurrent

    library = a.scale == PERTURBATION  # the library's own "perturbed" inputs

    def inputs(seed):
        if library:
            return dict(inputs="perturbed", seed=seed)
        P = paper_inputs("fig3")
        t = np.asarray(P["input_times"], float) + np.random.default_rng(seed).uniform(-a.scale, a.scale,
                                                                                     len(P["input_times"]))
        return dict(inputs=dict(input_times=list(np.clip(t, 0.0, np.nextafter(P["T"], 0.0)))))

    name = "figS7_spread_ours" + ("" if library else f"_{a.scale:g}")
    a.out = a.out or str(REPO / "figures" / "authors" / f"{name}.json")

    out = Path(a.out)
    doc = json.loads(out.read_text()) if out.exists() else {"runs": {}}
    for s in ["published"] * library + list(range(*a.seeds)):  # the run of record (1e-12 only), then perturbed ones
        if str(s) in doc["runs"]:
            continue
        t0 = time.perf_counter()
        r = train_recurrent(**dict(PAPER["figS7"], progress=False, **({} if s == "published" else inputs(s))))
        doc["runs"][str(s)] = {"loss_final": float(r["loss"][-1]), "loss_after_10000_updates": float(r["loss"][10000]),
                               "loss_after_50_updates": float(r["loss"][50]),
                               "wall_time_s": time.perf_counter() - t0, "provenance": provenance()}
        print(f"{s}: final loss {r['loss'][-1]:.3g}", flush=True)
        atomic_write_json(out, doc)
    ours = {s: r["loss_final"] for s, r in doc["runs"].items()}
    early = {s: r["loss_after_50_updates"] for s, r in doc["runs"].items()}
    theirs, theirs_early = authors_losses(), authors_losses(50)
    doc.update(description=f"smoothgrad's Fig. S7 (PAPER['figS7'], 20,000 trials) on the published inputs shifted by "
               f"U(-{a.scale:g}, {a.scale:g}) (default_rng(seed), one seed per run)"
               + (" and on the published inputs ('published')" if library else "") + ", beside the authors' runs",
               comparison=compare(ours, theirs), authors_runs=theirs,
               comparison_after_50_updates=compare(early, theirs_early), authors_after_50_updates=theirs_early)
    atomic_write_json(out, doc)
    print(json.dumps(doc["comparison"], indent=1))


if __name__ == "__main__":
    main()
