"""The README's code examples run and print what they claim; nbdev's README/docs commands leave it alone."""
import configparser
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_ci_runs_the_readme_quick_start_in_its_order():
    "The README's quick start is two commands (figures, then tests), and CI runs exactly those first, in that order."
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick.splitlines() if line.startswith("    ")]
    commands = [c for c in commands if c]
    assert len(commands) == 2 and "figures" in commands[0] and "test" in commands[1], commands
    ci = [line.strip() for line in (README.parent / ".ci" / "run").read_text().splitlines()
          if line.strip() and not line.strip().startswith("#")]
    ci_make = [line for line in ci if line.startswith(("make ", ".venv/bin/smoothgrad ", "smoothgrad "))]
    assert ci_make[:2] == commands, (ci_make, commands)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    namespace = {}
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), namespace)
    if "trial" in namespace:
        np.testing.assert_allclose(namespace["trial"].spike_times, [2.1955], atol=1e-4)
        assert namespace["grads"]["input_times"][0] == pytest.approx(1.0)
        assert namespace["grads"]["w_in"][0, 0] < 0
    if "history" in namespace:
        assert namespace["history"]["test_accuracy"][-1] > 0.7


# --------------------------------------------------------------------------- nbdev's README and docs commands
# README.md is hand-written (the reproduce runner writes its results table between markers, the blocks
# above are tested), so no notebook is its source: settings.ini's `readme_nb` names a notebook that does
# not exist. nbdev 2.4.14's `nbdev_readme` renders `readme_nb` with Quarto (`quarto render ... -t gfm`),
# which cannot be installed here; `nbdev_docs` and `nbdev_prepare` call it as `nbdev_readme --chk_time`,
# which returns without touching README.md when `readme_nb` is missing. Without Quarto on the PATH,
# `nbdev_proc_nbs`/`nbdev_docs` try `sudo` and then `pip install -e .[dev]` of the current folder, so
# these tests put a stand-in `quarto` first on the PATH (it records its calls and does nothing).

ROOT = README.parent
BIN = Path(sys.executable).parent


def _repo_copy(tmp_path):
    """settings.ini, README.md, nbs/ and the package in a temp folder, and a PATH with a stand-in quarto."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ("settings.ini", "README.md", "setup.py", "pyproject.toml"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, repo / name)
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.nbi", "*.nbc")
    shutil.copytree(ROOT / "nbs", repo / "nbs", ignore=ignore)
    shutil.copytree(ROOT / "smoothgrad", repo / "smoothgrad", ignore=ignore)
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "quarto").write_text(f'#!/bin/sh\necho "$@" >> "{tmp_path}/quarto_calls"\n')
    (fake / "quarto").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake}:{BIN}:{os.environ.get('PATH', '')}", PYTHONPATH=str(repo),
               MPLBACKEND="Agg")
    return repo, env


def test_readme_nb_is_not_claimed():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "settings.ini")
    readme_nb = cfg["DEFAULT"]["readme_nb"]
    assert not (ROOT / cfg["DEFAULT"]["nbs_path"] / readme_nb).exists(), \
        f"{readme_nb} would make nbdev_readme/nbdev_docs overwrite the hand-written README.md"


def test_nbdev_readme_as_nbdev_docs_calls_it(tmp_path):
    repo, env = _repo_copy(tmp_path)
    before = (repo / "README.md").read_bytes()
    r = subprocess.run([str(BIN / "nbdev_readme"), "--chk_time"], cwd=repo, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Could not find" in r.stdout
    assert (repo / "README.md").read_bytes() == before
    assert not (tmp_path / "quarto_calls").exists()


def test_nbdev_proc_nbs_runs(tmp_path):
    """nbdev's docs processing (the part of nbdev_docs before `quarto render`) runs on every notebook.
    It executes the cells with imports, exports or show_doc: a cell mixing imports with code that needs an
    earlier, not executed cell fails here (nbdev's FAQ: keep imports in cells of their own)."""
    repo, env = _repo_copy(tmp_path)
    r = subprocess.run([str(BIN / "nbdev_proc_nbs"), "--n_workers", "2"], cwd=repo, env=env,
                       capture_output=True, text=True, timeout=900)
    err = [ln for ln in (r.stdout + r.stderr).splitlines() if "Error" in ln or "Exception" in ln]
    assert r.returncode == 0, "\n".join(err[-20:]) + "\n" + r.stderr[-3000:]
    procs = {p.relative_to(repo / "_proc").as_posix() for p in (repo / "_proc").rglob("*.ipynb")}
    nbs = {p.relative_to(repo / "nbs").as_posix() for p in (repo / "nbs").rglob("*.ipynb")
           if not any(part.startswith(("_", ".")) for part in p.relative_to(repo / "nbs").parts)}
    assert nbs and nbs <= procs
    assert (tmp_path / "quarto_calls").exists() is False  # proc_nbs itself renders nothing


def test_readme_results_section_is_the_table_of_results_json():
    "The README's results section is what `update_readme` renders from figures/results.json (marks included)."
    from smoothgrad import results as R
    rj = R.load_json(ROOT / "figures" / "results.json")
    if rj is None:
        pytest.skip("no figures/results.json")
    text = README.read_text()
    assert text.count(R.README_START) == 1 and text.count(R.README_END) == 1
    section = text.split(R.README_START)[1].split(R.README_END)[0]
    assert section.strip("\n") == "\n".join(R.results_sections(rj["claims"])), (
        "the README's results table is stale: rebuild it with `smoothgrad reproduce --results-only`")


def test_readme_reproduce_commands_parse(tmp_path, monkeypatch):
    "Every `smoothgrad reproduce ...` command the README shows (cluster ones included) is a valid command line."
    import shlex

    from smoothgrad import reproduce as RP
    monkeypatch.chdir(tmp_path)
    lines = [ln.split("  #")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
             for ln in block.splitlines()]
    commands = [shlex.split(ln)[2:] for ln in lines if ln.startswith("smoothgrad reproduce")]
    assert any("--scheduler" in c for c in commands), "the README shows no cluster command"
    for argv in commands:
        if "--help" in argv:
            continue
        RP.parse_args(argv)  # a usage error exits with status 2
    cluster = " ".join(lines)
    assert "dask scheduler" in cluster and "dask worker tcp://" in cluster  # how to start a cluster
