"""Beyond the paper: the Yin-Yang and Fashion-MNIST experiment notebooks run under papermill in quick mode
(about 17 s each on an idle 2-core machine) and reach their quick-mode accuracy floors."""
import json

import pytest

from smoothgrad import reproduce as R


def _run(name, tmp_path, **params):
    nb = R.notebooks_dir() / f"{name}.ipynb"
    if not nb.exists():
        pytest.skip(f"{name} notebook not present")
    rec = R.run_notebook(nb, tmp_path / "figs", tmp_path / "runs", "quick", params)
    assert rec["status"] == "ok", R.describe_failure(rec)
    for ext in ("pdf", "png", "json"):
        assert (tmp_path / "figs" / f"{name}.{ext}").stat().st_size > 0
    assert not list((tmp_path / "figs").glob(f"{name}_paper.*"))  # quick mode never writes the paper files
    doc = json.loads((tmp_path / "figs" / f"{name}.json").read_text())
    assert doc["name"] == name and doc["mode"] == "quick"
    return doc["values"], doc


def _check_yinyang(v):
    assert v["hidden_silent_fraction_before"]["mean"] == 1.0  # initially silent
    # without pseudospikes the silent network has no gradient: nothing changes
    assert v["acc_test_no_pseudo"]["mean"] == v["acc_test_before"]["mean"]
    assert v["acc_test_no_pseudo_ordinary"]["mean"] == 0.0


def test_yinyang_quick_accuracy(tmp_path):
    v, doc = _run("yinyang", tmp_path)
    prov = doc["provenance"]
    assert prov["data"]["name"].startswith("Yin-Yang") and prov["data"]["sizes"]["x_train"] == 5000
    assert prov["data"]["params"]["splits (n, seed)"]["train"] == [5000, 42]
    assert prov["data"]["sizes"]["x_validation"] == 1000 and prov["data"]["sizes"]["x_test"] == 1000
    assert prov["seeds"] == [0, 100, 99]  # final run, selection run, gradient probe
    _check_yinyang(v)
    # the settings were chosen on the validation split: the chosen candidate has the best validation score
    best = max(v["selection"], key=lambda r: (r["val_ordinary"], r["val_pseudo"]))
    setting = {k: best[k] for k in best if k not in ("val_ordinary", "val_pseudo", "seeds")}
    assert v["chosen"] == setting and set(setting) == {"hidden", "T", "reg", "beta", "gamma", "margin"}
    assert len(v["selection"]) == 2
    assert v["acc_test_ordinary"]["mean"] <= v["acc_test"]["mean"] + 1e-12
    assert v["acc_test_ordinary"]["mean"] >= 0.85, v["acc_test_ordinary"]  # quick-mode floor (paper mode aims at 0.98)


def test_fashion_quick_accuracy(tmp_path):
    v, doc = _run("fashion", tmp_path)
    data = doc["provenance"]["data"]
    assert data["fallback"] is None or data["name"].startswith("embedded MNIST digits")  # a fallback says so
    assert data["sizes"] == {"x_train": 6000, "y_train": 6000, "x_test": 1000, "y_test": 1000}
    assert doc["provenance"]["seeds"] == [0] and doc["provenance"]["notebook"] == "fashion.ipynb"
    floor = 0.75 if data["fallback"] is None else 0.85  # the MNIST-digit fallback is easier
    assert v["acc_pseudo_after"]["mean"] >= floor, (data["name"], v["acc_pseudo_after"])
    assert v["acc_ordinary_before"]["mean"] == 0.0 and v["acc_pseudo_before"]["mean"] < 0.2
    assert v["acc_ordinary_after"]["mean"] <= v["acc_pseudo_after"]["mean"]
    assert v["seconds_per_epoch"] > 0
    assert 0.5 < v["mlp_binary_acc"] < 1 and 0.5 < v["mlp_grey_acc"] < 1  # the conventional reference ran
    assert v["snn_minus_mlp_binary"] == pytest.approx(v["acc_pseudo_after"]["mean"] - v["mlp_binary_acc"])


def test_fashion_grey_code_quick(tmp_path):
    "code='grey': grey levels as spike times; its own files, still a silent start, at least the binary floor."
    nb = R.notebooks_dir() / "fashion.ipynb"
    if not nb.exists():
        pytest.skip("fashion notebook not present")
    rec = R.run_notebook(nb, tmp_path / "figs", tmp_path / "runs", "quick", {"code": "grey"})
    assert rec["status"] == "ok", R.describe_failure(rec)
    doc = json.loads((tmp_path / "figs" / "fashion_grey.json").read_text())
    assert (tmp_path / "figs" / "fashion_grey.png").stat().st_size > 0
    assert not (tmp_path / "figs" / "fashion.json").exists()
    v = doc["values"]
    # input code, network, flips, loss weight and softmax sharpness chosen on a held-out validation split, never on
    # the test images: the short round's winner, then the width at full length (twice as wide or not)
    keys = ("code", "hidden", "T", "flip", "reg", "beta")

    def settings(runs):
        best = max(runs, key=lambda r: (r["val_ordinary"], r["val_pseudo"]))
        return {k: best[k] for k in keys}

    short = settings(v["selection"])
    assert [{k: r[k] for k in keys} for r in v["selection_full"]] == [short, dict(short, hidden=[2 * n for n in
                                                                                               short["hidden"]])]
    assert v["chosen"] == settings(v["selection_full"])
    assert len(v["selection"]) >= 9 and any(r["beta"] != 1 for r in v["selection"])
    assert doc["input_code"] == v["chosen"]["code"]
    assert (f"network 784-{'-'.join(map(str, v['chosen']['hidden']))}-10, T {v['chosen']['T']:g}, softmax beta "
            f"{v['chosen']['beta']:g}") in doc["optimiser"]
    data = doc["provenance"]["data"]
    assert data["sizes"]["x_train"] == 5000 and data["sizes"]["x_validation"] == 1000 and data["sizes"]["x_test"] == 1000
    # with every setting fixed, the final runs train on all training images, the validation split included
    assert doc["n_train"] == 6000 and "the final runs then train on all training images" in doc["protocol"]
    history = doc["history"]
    assert len(history["train_acc"]) == v["epochs"] + 1 and not any(k.startswith("test_") for k in history)
    assert v["hidden_silent_before"]["mean"] >= 0.9 and v["acc_pseudo_before"]["mean"] < 0.2
    floor = 0.65 if data["fallback"] is None else 0.75  # 8 epochs of 5,000 images; the fallback digits are easier
    assert v["acc_pseudo_after"]["mean"] >= floor, (data["name"], v["acc_pseudo_after"])
    assert v["acc_ordinary_after"]["mean"] <= v["acc_pseudo_after"]["mean"]
    assert not any(k.startswith("mlp") for k in v)  # the MLP reference runs with the binary code only
