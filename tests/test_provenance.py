"""Every result says where it came from: the provenance of a figure's JSON (`save_results`), the data identity, the
notebook's hash, and the rows of results.json / results.md / the README marked when made by other code."""
import json

import numpy as np
import pytest

from smoothgrad import core
from smoothgrad import results as R

CORE_FIELDS = {"commit", "dirty", "code_hash", "python", "numpy", "numba", "cpu", "cpu_target", "threads", "platform"}
RUN_FIELDS = {"notebook", "notebook_sha256", "mode", "seeds", "data", "wall_seconds", "wall_from"}


def _doc(d, name="figX"):
    return json.loads((d / f"{name}.json").read_text())


# ---------------------------------------------------------------- save_results


def test_save_results_records_provenance(tmp_path, monkeypatch):
    monkeypatch.delenv(R.NOTEBOOK_ENV, raising=False)
    R.start_clock()
    x = np.arange(20, dtype=np.uint8).reshape(4, 5)
    data = R.data_identity("toy", x_train=x, y_train=np.array([0, 1, 2, 3]))
    R.save_results("figX", {"a": 1.0}, tmp_path, "paper", seed=3, data=data, seeds=[3, 4, np.int64(5)])
    doc = _doc(tmp_path)
    prov = doc["provenance"]
    assert set(prov) == CORE_FIELDS | RUN_FIELDS
    assert prov["code_hash"] == core.code_hash() and len(prov["code_hash"]) == 16
    assert prov["mode"] == "paper" and prov["seeds"] == [3, 4, 5] and prov["data"] == data
    assert prov["wall_from"] == "start_clock" and 0 <= prov["wall_seconds"] < 60
    assert prov["threads"] >= 1 and prov["numpy"] == np.__version__
    assert prov["commit"] == core.git_state()["commit"]
    assert prov["notebook"] is None and prov["notebook_sha256"] is None  # no notebook writes "figX"
    assert doc["mode"] == "paper" and doc["seed"] == 3 and doc["values"] == {"a": 1.0}


def test_seeds_default_to_the_seed_and_are_ints(tmp_path):
    R.save_results("figX", {}, tmp_path, "quick", seed=7)
    assert _doc(tmp_path)["provenance"]["seeds"] == [7]
    R.save_results("figX", {}, tmp_path, "quick")
    assert _doc(tmp_path)["provenance"]["seeds"] == []
    R.save_results("figX", {}, tmp_path, "quick", seed=0, seeds=[])  # deterministic: the seed parameter is unused
    assert _doc(tmp_path)["provenance"]["seeds"] == []
    for bad in ([1.5], ["0"], [True], "0", 3):
        with pytest.raises(TypeError, match="seeds"):
            R.save_results("figX", {}, tmp_path, "quick", seeds=bad)


@pytest.mark.parametrize("bad", ["MNIST", {"name": "MNIST"}, 3, ["MNIST"]])
def test_data_must_be_a_data_identity(tmp_path, bad):
    with pytest.raises(TypeError, match="data_identity"):
        R.save_results("figX", {}, tmp_path, "quick", data=bad)
    assert not (tmp_path / "figX.json").exists()


def test_provenance_is_reserved(tmp_path):
    with pytest.raises(ValueError, match="provenance"):
        R.save_results("figX", {}, tmp_path, "quick", provenance={"commit": "forged"})


def test_the_runner_names_the_notebook(tmp_path, monkeypatch):
    "With SMOOTHGRAD_NOTEBOOK (set by the runner for the kernel) the notebook is named and hashed."
    nb = R.CHECKOUT_NOTEBOOKS / "fig1.ipynb" if R.is_checkout() else R.PACKAGED_NOTEBOOKS / "fig1.ipynb"
    if not nb.is_file():
        pytest.skip("no shipped fig1 notebook")
    monkeypatch.setenv(R.NOTEBOOK_ENV, str(nb))
    R.save_results("anything", {}, tmp_path, "quick")
    prov = _doc(tmp_path, "anything")["provenance"]
    assert prov["notebook"] == "fig1.ipynb" and prov["notebook_sha256"] == core.notebook_digest(nb)


def test_without_the_runner_the_notebook_is_found_by_name(monkeypatch):
    monkeypatch.delenv(R.NOTEBOOK_ENV, raising=False)
    folder = R.CHECKOUT_NOTEBOOKS if R.is_checkout() else R.PACKAGED_NOTEBOOKS
    if not (folder / "fashion.ipynb").is_file():
        pytest.skip("no shipped fashion notebook")
    assert R.source_notebook("fashion_grey_paper") == folder / "fashion.ipynb"
    assert R.source_notebook("yinyang_paper") == folder / "yinyang.ipynb"
    assert R.source_notebook("figS6") == folder / "figS6.ipynb"
    assert R.source_notebook("nothing_here") is None


# ---------------------------------------------------------------- data identity


def test_data_identity_hashes_the_arrays():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (50, 784), dtype=np.uint8), rng.integers(0, 10, 50).astype(np.uint8)
    d = R.data_identity("digits", params={"n_train": 50}, x_train=x, y_train=y)
    assert d["name"] == "digits" and d["fallback"] is None and d["params"] == {"n_train": 50}
    assert d["sizes"] == {"x_train": 50, "y_train": 50}
    assert d["arrays"]["x_train"] == core.array_digest(x)
    assert R.data_identity("other name", params={"n_train": 50}, x_train=x, y_train=y)["sha256"] == d["sha256"]
    x2 = x.copy()
    x2[17, 300] ^= 1
    assert R.data_identity("digits", params={"n_train": 50}, x_train=x2, y_train=y)["sha256"] != d["sha256"]
    assert R.data_identity("digits", params={"n_train": 49}, x_train=x, y_train=y)["sha256"] != d["sha256"]
    assert R.data_identity("digits", params={"n_train": 50}, x_train=y, y_train=x)["sha256"] != d["sha256"]
    json.dumps(d)  # plain JSON


def test_data_identity_fallback_and_tables():
    d = R.data_identity("embedded MNIST digits", fallback="Fashion-MNIST files absent", x=np.zeros((3, 2)))
    assert d["fallback"] == "Fashion-MNIST files absent"
    t = R.data_identity("published inputs", T=10.0, targets=[[1.0, 2.0], [3.0]], rule="text")
    assert set(t["arrays"]["targets"]) == {"json_sha256"} and t["sizes"] == {}  # ragged: hashed as JSON
    assert t["arrays"]["T"] == {"value": 10.0} and t["arrays"]["rule"] == {"value": "text"}  # kept as they are
    assert R.data_identity("published inputs", T=20.0, targets=[[1.0, 2.0], [3.0]], rule="text")["sha256"] != t["sha256"]
    assert R.data_identity("published inputs", T=10.0, targets=[[1.0, 2.0], [3.5]], rule="text")["sha256"] != t["sha256"]


@pytest.mark.parametrize("kw, err", [(dict(name=""), ValueError), (dict(name=3), ValueError),
                                     (dict(name="d", fallback=""), ValueError), (dict(name="d", params=[1]), TypeError),
                                     (dict(name="d", x=[object()]), TypeError), (dict(name="d", f=len), TypeError)])
def test_data_identity_rejects_bad_input(kw, err):
    with pytest.raises(err):
        R.data_identity(**kw)


# ---------------------------------------------------------------- results.json, results.md, README


@pytest.fixture
def two_figures(tmp_path):
    "figN: written now (this code); figL: a JSON without provenance (as before provenance existed); figO: other code."
    R.save_results("figN", {"v": 2.0}, tmp_path, "quick")
    (tmp_path / "figL.json").write_text(json.dumps({"name": "figL", "mode": "paper", "values": {"v": 2.0}}))
    doc = _doc(tmp_path, "figN")
    doc["provenance"].update(commit="0" * 40, dirty=False, code_hash="0123456789abcdef")
    (tmp_path / "figO.json").write_text(json.dumps(dict(doc, name="figO")))
    claims = [R.claim(f, "v", f"value of {f}", 2.0) for f in ("figN", "figL", "figO", "figM")]
    return tmp_path, claims


def test_results_json_carries_commit_and_code_per_row(two_figures):
    d, claims = two_figures
    R.write_results(d, claims)
    recs = {r["figure"]: r for r in json.loads((d / "results.json").read_text())["claims"]}
    assert recs["figN"]["code_hash"] == core.code_hash() and recs["figN"]["other_code"] is False
    assert recs["figN"]["commit"] == core.git_state()["commit"]
    assert recs["figL"]["code_hash"] is None and recs["figL"]["commit"] is None and recs["figL"]["other_code"] is True
    assert recs["figO"]["code_hash"] == "0123456789abcdef" and recs["figO"]["commit"] == "0" * 40
    assert recs["figO"]["other_code"] is True
    assert recs["figM"]["other_code"] is None  # not reproduced: nothing to mark


def test_tables_mark_rows_from_other_code(two_figures):
    d, claims = two_figures
    md = R.write_results(d, claims)
    rows = {ln.split(" | ")[0][2:]: ln for ln in md.read_text().splitlines() if ln.startswith("| fig")}
    assert "| 2 (quick) |" in rows["figN"] and R.OTHER_CODE_MARK not in rows["figN"]
    assert f"| 2 {R.OTHER_CODE_MARK} (paper) |" in rows["figL"]
    assert f"| 2 {R.OTHER_CODE_MARK} (quick) |" in rows["figO"]
    assert R.OTHER_CODE_MARK not in rows["figM"]
    assert md.read_text().count(R.OTHER_CODE_NOTE) == 1
    text = md.read_text()
    assert "- **figL** (paper mode, seed None; no provenance recorded)" in text
    assert f"- **figO** (quick mode, seed None; commit 0000000000, code 0123456789abcdef {R.OTHER_CODE_MARK})" in text
    readme = d / "README.md"
    readme.write_text(f"intro\n{R.README_START}\nold\n{R.README_END}\nafter the table\n")
    assert R.update_readme(readme, md) is True
    section = readme.read_text().split(R.README_START)[1].split(R.README_END)[0]
    assert f"| 2 {R.OTHER_CODE_MARK} (paper) |" in section and section.rstrip().endswith(R.OTHER_CODE_NOTE)
    assert readme.read_text().endswith(f"{R.README_END}\nafter the table\n")
    # from results.md alone (no results.json beside it) the note comes along with the table
    (d / "results.json").unlink()
    readme.write_text(f"intro\n{R.README_START}\nold\n{R.README_END}\nafter the table\n")
    assert R.update_readme(readme, md) is True
    assert readme.read_text().split(R.README_START)[1].split(R.README_END)[0] == section


def test_no_mark_when_every_row_is_current(tmp_path):
    R.save_results("figN", {"v": 2.0}, tmp_path, "quick")
    lines = R.claims_table(R.claim_records(tmp_path, [R.claim("figN", "v", "v", 2.0)]))
    assert R.OTHER_CODE_NOTE not in lines and R.OTHER_CODE_MARK not in "\n".join(lines)


def test_kernel_env_names_the_notebook_and_leaves_numba_alone(tmp_path):
    from smoothgrad import reproduce
    env = reproduce._kernel_env(tmp_path / "fig1.ipynb")
    assert env[R.NOTEBOOK_ENV] == str((tmp_path / "fig1.ipynb").resolve())
    assert "NUMBA_CACHE_DIR" not in env  # the kernel inherits what `import smoothgrad` set (core.kernel_cache_dir)
    assert R.NOTEBOOK_ENV not in reproduce._kernel_env()
