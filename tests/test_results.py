"""The claims table: agreement rules, notebook-declared claims, results.json, the README section, stable figures."""
import json
import math

import pytest

from smoothgrad import results as R
from smoothgrad.results import ABOUT, agreement, claim, summarize_value


def agrees(c, v):
    return agreement(c, summarize_value(v))[0]


# ---------------------------------------------------------------- the rules


def test_tolerance_single_value():
    c = claim("figX", "a", "a number", 3.1957)  # printed precision: +- 5e-5
    assert c["tolerance"] == pytest.approx(5e-5)
    assert agrees(c, 3.19574) is True
    assert agrees(c, 3.19576) is False
    assert agrees(c, 3.1956) is False
    wide = claim("figX", "a", "read off a plot", 10.73, tolerance=0.05)
    assert agrees(wide, 10.692) is True and agrees(wide, 10.67) is False


@pytest.mark.parametrize("text, tol", [("0.098", 5e-4), ("3.1957", 5e-5), ("4", 0.5), ("about 1.18", 5e-3),
                                       ("2.5e-4", 5e-6), ("no number", None)])
def test_printed_tolerance(text, tol):
    got = R.printed_tolerance(text)
    assert got == (None if tol is None else pytest.approx(tol))


def test_range_overlap_alone_never_agrees():
    c = claim("figX", "b", "ensemble", 0.5, tolerance=0)
    assert agrees(c, {"median": 0.6, "low": 0.45, "high": 0.7, "n_runs": 10}) is None  # the range holds 0.5
    s = summarize_value({"median": 0.6, "low": 0.45, "high": 0.7, "runs": [0.4, 0.6, 0.8]})
    assert s["kind"] == "ensemble" and s["n_runs"] == 3 and (s["low"], s["high"]) == (0.45, 0.7)


def test_seeds_are_judged_by_their_mean():
    c = claim("figX", "c", "seeds", 0.976, "0.976 +- 0.001", tolerance=0.002)
    s = summarize_value({"mean": 0.971, "std": 0.0015}, n_seeds=10)
    assert (s["low"], s["high"], s["n_runs"]) == (pytest.approx(0.968), pytest.approx(0.974), 10)
    assert agreement(c, s)[0] is False  # mean + 2 std meets 0.974, the mean does not
    assert agrees(c, {"mean": 0.975, "std": 0.0034}) is True
    assert agrees(c, {"mean": 0.96, "std": 0.0, "low": 0.95, "high": 0.98, "n_runs": 5}) is False


def test_factor_rule_and_chaotic_spread():
    c = claim("figX", "d", "about 1e-4", 1e-4, "about 1e-4", factor=ABOUT)
    assert agrees(c, 3.1e-4) is True and agrees(c, 3.2e-4) is False and agrees(c, 3.2e-5) is True
    assert agrees(c, 3.1e-5) is False
    loss = claim("figX", "l", "loss", 1.8e-4, factor=1.2)
    assert agrees(loss, 3.2e-4) is False
    s = R.chaos_spread(loss, 3.2e-4, [1.5e-4, 6e-4, 2e-4])
    assert s == pytest.approx(0.263, abs=0.005)  # decades
    assert agreement(loss, summarize_value(3.2e-4), None, s)[0] is True  # within sqrt(0.079^2 + s^2) decades
    assert agreement(loss, summarize_value(1e-3), None, s)[0] is False  # 0.74 decades off: still fails
    assert R.chaos_spread(loss, 3.2e-4, None) is None and R.chaos_spread(loss, 3.2e-4, []) is None
    t = claim("figX", "t", "offset", 0.15, tolerance=0.05)
    assert agreement(t, summarize_value(0.24), None, R.chaos_spread(t, 0.24, [0.24, 0.24]))[0] is False


def test_not_the_papers_setup_gives_none_with_a_computed_reason():
    c = claim("figX", "f", "accuracy", 0.976, tolerance=0.002, setup={"n_train": 60000, "epochs": 100})
    quick = {"mode": "quick", "values": {"epochs": 30}, "n_train": 6000}
    assert agreement(c, summarize_value({"mean": 0.976, "std": 0.001}), quick) == (
        None, "quick: n_train 6000 (paper 60000), epochs 30 (paper 100)")
    full = {"mode": "paper", "values": {"epochs": 100}, "n_train": 60000}
    assert agreement(c, summarize_value({"mean": 0.9, "std": 0.001}), full) == (False, "")
    f = claim("figX", "g", "fashion", 0.89, rule="at_least", data="Fashion-MNIST")
    fb = {"mode": "paper", "values": {}, "provenance": {"data": {"name": "MNIST digits", "fallback": "no files"}}}
    ok, why = agreement(f, summarize_value(0.92), fb)
    assert ok is None and why.startswith("fallback data: MNIST digits, not Fashion-MNIST")
    legacy = {"mode": "paper", "values": {}, "data": "Fashion-MNIST"}
    assert agreement(f, summarize_value(0.92), legacy) == (True, "")
    n = claim("figX", "n", "seeds", 0.98, rule="at_least", setup={"n_seeds": {">=": 10}})
    assert agreement(n, summarize_value(0.99), {"mode": "quick", "values": {"n_seeds": 1}})[0] is None
    assert agreement(n, summarize_value(0.99), {"mode": "paper", "values": {"n_seeds": 10}})[0] is True


def test_bounds_lists_and_non_finite():
    assert agrees(claim("figX", "e", "below 57", 57.0, rule="at_most"), 55.8) is True
    assert agrees(claim("figX", "e", "below 57", 57.0, rule="at_most"), 57.5) is False
    assert agrees(claim("figX", "e", "kinks", 0.05, rule="at_least"), 0.9) is True
    assert agrees(claim("figX", "e", "kinks", 0.05, rule="at_least"), 0.01) is False
    lst = claim("figX", "f", "finite, large negative", [None, -10.0, -10.0], rule="at_most")
    assert agrees(lst, [-1.1, -489.0, -156.0]) is True
    assert agrees(lst, [-1.1, -489.0, -5.0]) is False
    assert agrees(lst, [-1.1, "-inf", -156.0]) is False  # a divergence is not "finite"
    assert agrees(lst, [-1.1, -489.0]) is None  # lengths differ: not comparable
    assert agrees(claim("figX", "g", "no spike", math.inf, "inf"), "inf") is True
    assert agrees(claim("figX", "g", "a number", 1.0), "inf") is False
    assert agrees(claim("figX", "g", "a number", 1.0), float("nan")) is False


def test_rows_that_cannot_be_compared():
    assert agreement(claim("figX", "h", "no number", None), summarize_value(1.0)) == (
        None, "the paper states no number for this row")
    assert agreement(claim("figX", "h", "a number", 1.0), summarize_value("a text")) == (
        None, "the reported value is not a number")
    assert agreement(claim("figX", "h", "a number", 1.0), summarize_value(None)) == (None, "not reported")


@pytest.mark.parametrize("bad, match", [
    (dict(figure="", key="k", claim="c"), "figure"),
    (dict(figure="f", key=None, claim="c"), "key"),
    (dict(figure="f", key="k", claim="c", paper=1, rule="close"), "rule"),
    (dict(figure="f", key="k", claim="c", paper=1, rule="factor", factor=0.5), "factor"),
    (dict(figure="f", key="k", claim="c", paper=1, tolerance=-1), "tolerance"),
    (dict(figure="f", key="k", claim="c", paper=1, tolerance="0.1"), "tolerance"),
    (dict(figure="f", key="k", claim="c", paper="about 2"), "paper"),
    (dict(figure="f", key="k", claim="c", paper=[1.0, "x"]), "paper"),
])
def test_malformed_claims_are_rejected(bad, match):
    with pytest.raises(ValueError, match=match):
        R._as_claim(bad)
    with pytest.raises(TypeError):
        R._as_claim("fig1 qif 3.19")


def test_numeric_strings_are_numbers():
    c = R._as_claim(dict(figure="f", key="k", claim="c", paper="1e-4", paper_text="about 1e-4", factor=ABOUT))
    assert c["paper"] == 1e-4 and agrees(c, 2e-4) is True and R.rule_text(c) == "within a factor 3.16 of 0.0001"


def test_every_static_claim_has_units_a_source_a_kind_and_no_duplicate():
    keys = [(c["figure"], c["key"]) for c in R.CLAIMS]
    assert len(keys) == len(set(keys))
    texts = [(c["figure"], c["claim"]) for c in R.CLAIMS]
    assert len(texts) == len(set(texts))
    for c in R.CLAIMS:
        assert c["rule"] in R.RULES and c["kind"] in R.KINDS
        assert isinstance(c.get("units"), str) and c["units"], c
        assert isinstance(c.get("paper_source"), str) and c["paper_source"], c
        if c["paper"] is None:  # rows beyond the paper only
            assert c["kind"] == "beyond", c
        assert R.rule_text(c)
    # Fig. 3 and Fig. S6 are one run: no quantity is a row of both
    strip = lambda k: k.replace("_published_inputs", "").replace("final_loss", "loss_trial10000")
    f3 = {strip(k) for f, k in keys if f == "fig3"}
    s6 = {strip(k) for f, k in keys if f == "figS6" and not k.endswith("_random")}
    assert not f3 & s6
    assert {c["kind"] for c in R.CLAIMS if c["figure"] in ("yinyang", "fashion_grey")} == {"beyond"}
    assert R.CLAIMS[[k for k in keys].index(("fig1", "qif_tsp_1.15"))]["kind"] == "self-check"


# ---------------------------------------------------------------- results.json, results.md, README

RECORD_FIELDS = {"figure", "key", "claim", "paper", "paper_text", "value", "low", "high", "mode", "n_runs", "agrees",
                 "note", "rule"}


@pytest.fixture
def figs(tmp_path):
    R.save_results("figX", {"a": 1.23456789, "b": {"mean": 0.976, "std": 0.001}, "c": "inf",
                            "e": {"median": 2e-4, "low": 5e-5, "high": 9e-4, "n_runs": 10, "runs": [1e-4] * 10},
                            "t": "a text", "new": 2.3, "n_trials": 500},
                   tmp_path, "quick", seed=0,
                   claims=[{"key": "a", "claim": "a number (declared)", "paper": 1.2346, "paper_text": "1.2346",
                            "kind": "paper"},
                           {"key": "new", "claim": "declared only", "paper": 2.0, "paper_text": "about 2",
                            "tolerance": 0.5, "kind": "paper"},
                           {"key": "t", "claim": "legacy declaration (no kind): ignored", "paper": 5.0}])
    claims = [("figX", "a", "a number", "1.2"),
              claim("figX", "b", "a statistic", 0.976, "0.976 +- 0.001", tolerance=0.002),
              claim("figX", "c", "no spike", math.inf, "inf"),
              claim("figX", "e", "an ensemble", 1e-4, "about 1e-4", factor=ABOUT, setup={"n_trials": 20000}),
              claim("figX", "t", "a text", 1.0),
              ("figY", "z", "not run", "1")]
    return tmp_path, claims


def test_declared_claims_merge_and_override(figs):
    d, claims = figs
    doc = json.loads((d / "figX.json").read_text())
    merged = R.merge_claims(claims, {"figX": doc})
    by_key = {(c["figure"], c["key"]): c for c in merged}
    assert len(merged) == 7
    assert by_key["figX", "a"]["claim"] == "a number (declared)" and by_key["figX", "a"]["source"] == "figX.json"
    assert by_key["figX", "new"]["tolerance"] == 0.5 and by_key["figX", "b"]["source"] == "CLAIMS"
    assert [c["figure"] for c in merged] == ["figX"] * 6 + ["figY"]  # declared ones join their figure
    with pytest.raises(ValueError, match="key"):
        R.save_results("figX", {}, d, "quick", claims=[{"claim": "no key", "paper": 1}])


def test_results_json_schema_and_computed_agreement(figs):
    d, claims = figs
    md = R.write_results(d, claims, notebooks=["figX"])
    assert md == d / "results.md"
    doc = json.loads((d / "results.json").read_text())
    recs = {(r["figure"], r["key"]): r for r in doc["claims"]}
    for r in doc["claims"]:
        assert RECORD_FIELDS <= set(r), RECORD_FIELDS - set(r)
        assert r["agrees"] in (True, False, None)
    assert recs["figX", "a"]["agrees"] is True and recs["figX", "a"]["n_runs"] == 1
    b = recs["figX", "b"]
    assert (b["value"], b["low"], b["high"], b["agrees"]) == (0.976, pytest.approx(0.974), pytest.approx(0.978), True)
    assert recs["figX", "c"]["agrees"] is True and recs["figX", "c"]["value"] == "inf"
    e = recs["figX", "e"]
    assert (e["value"], e["low"], e["high"], e["n_runs"], e["agrees"]) == (2e-4, 5e-5, 9e-4, 10, None)
    assert e["note"] == "quick: n_trials 500 (paper 20000)"  # another setup: not judged, the reason computed
    assert recs["figX", "t"]["agrees"] is None and "not a number" in recs["figX", "t"]["note"]
    assert recs["figX", "new"]["agrees"] is True
    z = recs["figY", "z"]
    assert z["agrees"] is None and z["mode"] is None and z["note"].startswith("not reproduced (no notebook yet)")
    text = md.read_text()
    assert "| figX | a number (declared) | - | 1.2346 | - | - | 1.235 † (quick) | yes |" not in text  # ours: 1.2346
    assert "| figX | a number (declared) | - | 1.2346 | - | - | 1.235 (quick) | yes |" in text
    assert "| figX | an ensemble | - | about 1e-4 | - | - | median 0.0002, 10-90 %: [5e-05, 0.0009] (10 runs) (quick) | - |" in text
    assert "| figY | not run | - | 1 | - | - | not reproduced (no notebook yet) | - |" in text
    assert "**7 claims of the paper: 4 reproduced, 0 not reproduced, 3 not comparable here**" in text
    assert recs["figX", "t"]["claim"] == "legacy declaration (no kind): ignored"  # save_results gives it a kind
    legacy = {"values": {"q": 1.0}, "claims": [{"key": "q", "claim": "declared before kinds", "paper": 1.0}]}
    assert R.merge_claims([], {"figL": legacy}) == []  # JSON written before claims had a kind: superseded


def test_agreement_is_computed_from_the_values(figs):
    d, claims = figs
    R.save_results("figX", {"a": 1.3}, d, "paper", claims=[{"key": "a", "claim": "a", "paper": 1.2346}])
    R.write_results(d, claims)
    recs = {r["key"]: r for r in json.loads((d / "results.json").read_text())["claims"]}
    assert recs["a"]["agrees"] is False and recs["a"]["mode"] == "paper"


def test_a_paper_run_in_the_paper_folder_is_the_one_compared(figs):
    "figures/paper/<name>.json (a paper run of a figure whose quick run keeps the name) replaces the quick run's rows."
    d, claims = figs
    R.save_results("figX", {"a": 1.3, "new": 2.1}, d / R.PAPER_SUBDIR, "paper")
    R.save_results("figZ", {"q": 1.0}, d / R.PAPER_SUBDIR, "quick")
    R.write_results(d, claims, notebooks=["figX"])
    recs = {(r["figure"], r["key"]): r for r in json.loads((d / "results.json").read_text())["claims"]}
    assert recs["figX", "a"]["mode"] == "paper" and recs["figX", "a"]["run"] == "figX_paper"
    assert recs["figX", "a"]["agrees"] is False and recs["figX", "new"]["agrees"] is True
    assert not any(f.startswith("figZ") or f.endswith("_paper") for f, _ in recs)  # one row per claim
    assert "- **figX_paper** (paper mode" in (d / "results.md").read_text()


def test_readme_section_from_results_json_and_idempotent(figs):
    d, claims = figs
    md = R.write_results(d, claims, notebooks=["figX"])
    readme = d / "README.md"
    readme.write_text(f"intro\n{R.README_START}\nold table\n{R.README_END}\nrest\n")
    assert R.update_readme(readme, md) is True
    first = readme.read_text()
    assert "old table" not in first and first.startswith("intro\n") and first.endswith(f"{R.README_END}\nrest\n")
    assert "| figX | a number (declared) | - | 1.2346 | - | - | 1.235 (quick) | yes |" in first
    assert first.index("claims of the paper:") < first.index("### The paper's claims")
    mtime = readme.stat().st_mtime_ns
    assert R.update_readme(readme, md) is False  # nothing changed: not rewritten, not reported
    assert readme.read_text() == first and readme.stat().st_mtime_ns == mtime
    # rewriting results from unchanged JSON leaves both files untouched
    before = {p: p.read_bytes() for p in (d / "results.json", md)}
    R.write_results(d, claims, notebooks=["figX"])
    assert {p: p.read_bytes() for p in before} == before
    plain = d / "PLAIN.md"
    plain.write_text("no markers\n")
    assert R.update_readme(plain, md) is False and plain.read_text() == "no markers\n"


def test_repository_results_json_matches_the_figures():
    "The committed figures/results.json is what write_results makes of the committed figure JSON files."
    from pathlib import Path
    figs = Path(__file__).resolve().parents[1] / "figures"
    doc = R.load_json(figs / "results.json")
    if doc is None:
        pytest.skip("no figures/results.json")
    assert doc["claims"] and all(RECORD_FIELDS <= set(r) for r in doc["claims"])
    fresh = R.claim_records(figs, R.CLAIMS, [r["figure"] for r in doc["claims"]])
    assert [(r["figure"], r["key"], r["agrees"]) for r in fresh] == [
        (r["figure"], r["key"], r["agrees"]) for r in doc["claims"]], (
        "figures/results.json is stale: rebuild it with `python -m smoothgrad.reproduce --results-only`")


# ---------------------------------------------------------------- reproducible figures


def _figure():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    R.use_style()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, 1, 0.5], label="a line")
    ax.set_xlabel("Time $t$")
    ax.legend()
    return fig


def test_savefig_same_bytes_twice(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # without the Makefile's fixed date
    fig = _figure()
    paths = R.savefig(fig, "figX", tmp_path / "a")
    assert [p.suffix for p in paths] == [".pdf", ".png"]
    first = [p.read_bytes() for p in paths]
    assert b"CreationDate" not in first[0] and b"Software" not in first[1]
    second = [p.read_bytes() for p in R.savefig(_figure(), "figX", tmp_path / "b")]  # a fresh, identical figure
    assert second == first
    with pytest.raises(ValueError, match="name"):
        R.savefig(fig, "a/b", tmp_path)
