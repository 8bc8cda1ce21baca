"""Tests of the ensembles of the recurrent task (smoothgrad.tasks: ensemble_specs, recurrent_ensemble,
run_summary, leave_trial, ensemble_stats, ensemble_band) and of the batched step-size search."""
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from smoothgrad.optim import AdaBelief
from smoothgrad.tasks import (
    ENSEMBLE,
    FACTORS,
    PAPER,
    PERTURBATION,
    ensemble_band,
    ensemble_specs,
    ensemble_stats,
    leave_trial,
    paper_inputs,
    recurrent_ensemble,
    recurrent_loss,
    recurrent_setup,
    train_recurrent,
)

SHORT = dict(PAPER["fig3"], n_trials=15)


def test_ensemble_specs():
    s = ensemble_specs(5)
    assert [x["inputs"] for x in s] == ["perturbed"] * 3 + ["random"] * 2
    assert [x["seed"] for x in s] == [0, 1, 2, 1000, 1001]
    assert len(ensemble_specs(10, n_perturbed=10)) == 10
    for bad in (dict(n_runs=0), dict(n_runs=2, n_perturbed=3), dict(n_runs=2.5)):
        with pytest.raises(ValueError):
            ensemble_specs(**bad)
    assert ENSEMBLE["paper"]["fig3"] == dict(n_perturbed=4, n_random=5) and ENSEMBLE["quick"]["figS7"]["n_random"] >= 2


def test_perturbed_inputs_are_tiny_shifts():
    P = np.asarray(paper_inputs("fig3")["input_times"])
    a, b = recurrent_setup("perturbed", seed=0), recurrent_setup("perturbed", seed=1)
    for S in (a, b):
        d = np.abs(S["input_times"] - P)
        assert d.max() <= PERTURBATION and d.max() > 0
    assert a["inputs_hash"] != b["inputs_hash"] != recurrent_setup()["inputs_hash"]
    assert [list(t) for t in a["targets"]] == paper_inputs("fig3")["targets"]


def test_leave_trial():
    T = 10.0
    assert leave_trial([12, 11, 9, 9.5, 10.5, 11], T) == 4
    assert leave_trial([12, 9, 11, 9, 10.2], T) == 4  # the last exit counts
    assert math.isnan(leave_trial([12, 11, 11.5], T))  # never inside
    assert leave_trial([12, 9, 9.5], T) == math.inf  # still inside at the end


def test_ensemble_stats():
    v = [1.0, 2.0, 3.0, 4.0, 5.0, float("nan")]
    s = ensemble_stats(v)
    assert s["n_runs"] == 5 and s["median"] == 3.0
    assert np.isclose(s["low"], np.percentile([1, 2, 3, 4, 5], 10)) and np.isclose(s["high"], 4.6)
    assert s["runs"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert ensemble_stats([float("nan")])["n_runs"] == 0
    assert ensemble_stats([1.0, 2.0, math.inf])["high"] == math.inf


def test_recurrent_ensemble_checkpointed_and_reused(tmp_path):
    ens = recurrent_ensemble(SHORT, n_runs=3, runs_dir=tmp_path, at_trials=(1, 10, 1000))
    assert [e["inputs"] for e in ens] == ["perturbed", "perturbed", "random"]
    assert len(list(tmp_path.glob("recurrent-*.npz"))) == 3
    for e in ens:
        assert set(e["loss_at"]) == {1, 10} and e["loss"].shape == (16,)
        assert e["loss_at"][10] == e["loss"][9]
    # perturbed runs start from (almost) the same loss; the random task differs
    assert abs(ens[0]["loss"][0] - ens[1]["loss"][0]) < 1e-9 and abs(ens[0]["loss"][0] - ens[2]["loss"][0]) > 1e-3
    # a second call resumes the finished runs (same numbers), also through an executor
    with ThreadPoolExecutor(2) as ex:
        again = recurrent_ensemble(SHORT, n_runs=3, runs_dir=tmp_path, executor=ex, at_trials=(1, 10, 1000))
    for a, b in zip(ens, again):
        assert np.array_equal(a["loss"], b["loss"]) and a["max_dev"] == b["max_dev"]
    assert len(list(tmp_path.glob("recurrent-*.npz"))) == 3
    t, lo, med, hi = ensemble_band(ens)
    assert t[0] == 1 and len(t) == 16 and np.all(lo <= med) and np.all(med <= hi)
    assert np.isclose(med[0], np.median([e["loss"][0] for e in ens]))


def _search_by_loop(setup, w, x0, dw, dx0, outs, max_shift, factors):
    ref, best_f, best_loss = np.concatenate(outs), factors[0], math.inf
    for f in factors:
        try:
            loss, o, _, _ = recurrent_loss(setup, w + f * dw, x0 + f * dx0, grad=False)
        except ValueError:
            continue
        if np.max(np.abs(np.concatenate(o) - ref)) <= max_shift and loss < best_loss:
            best_f, best_loss = f, loss
    return best_f


@pytest.mark.parametrize("inputs", ["paper", "random"])
def test_batched_search_picks_the_loop_factor(inputs):
    "The batched candidates give the factors (and so the whole history) of one recurrent_loss per candidate."
    n = 12
    R = train_recurrent(n, inputs=inputs, seed=3, lr=1e-2, decay=None, beta2=0.99, step_search=True, progress=False)
    S = recurrent_setup(inputs, seed=3)
    w, x = np.zeros((10, 10)), np.zeros((2, 10))
    opt = AdaBelief(1e-2, betas=(0.9, 0.99), belief_error="previous")
    new = [np.empty_like(w), np.empty_like(x)]  # the optimiser steps the same arrays every trial
    for k in range(n):
        loss, o, gw, gx = recurrent_loss(S, w, x)
        assert loss == R["loss"][k]
        new[0][...], new[1][...] = w, x
        opt.step(new, [gw, gx])
        f = _search_by_loop(S, w, x, new[0] - w, new[1] - x, o, 0.5, FACTORS)
        assert f == R["factor"][k]
        w, x = w + f * (new[0] - w), x + f * (new[1] - x)
    assert np.array_equal(w, R["w"]) and np.array_equal(x, R["x0"])


def test_ensemble_progress_lines_are_throttled_switchable_and_change_no_number(capsys, monkeypatch):
    import smoothgrad.tasks as tasks

    settings = dict(SHORT, n_trials=4)
    quiet = recurrent_ensemble(settings, n_runs=2, progress=False)
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(tasks, "PROGRESS_EVERY_S", 0.0)  # a line at every call of the compiled loop ...
    monkeypatch.setattr(tasks, "TRAIN_CHUNK", 1)  # ... which runs one trial per call
    loud = recurrent_ensemble(settings, n_runs=2, progress="fig3 ensemble")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8 and lines[0].startswith("fig3 ensemble: run 1/2, trial 1/4, loss ")
    assert lines[-1].startswith("fig3 ensemble: run 2/2, trial 4/4, loss ")
    assert float(lines[-1].rsplit(" ", 1)[1]) == pytest.approx(loud[1]["loss"][3], rel=0.06)  # printed to 2 digits
    for a, b in zip(quiet, loud):
        assert np.array_equal(a["loss"], b["loss"]) and a["max_dev"] == b["max_dev"]
    monkeypatch.setattr(tasks, "PROGRESS_EVERY_S", 3600.0)  # a short ensemble within the interval: silent
    recurrent_ensemble(settings, n_runs=2)
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="progress"):
        recurrent_ensemble(settings, n_runs=1, progress=1)
