"""The figure runner: papermill execution, Dask scale-out, failure reports and the results table."""
import json
import os
import re

import nbformat
import pytest

from smoothgrad import reproduce as R
from smoothgrad.results import OTHER_CODE_NOTE

PARAMS = 'mode = "quick"\nseed = 0\nout_dir = None\nruns_dir = None\nx = 1\nsleep = 0.0'

BODY = """
import json, os, time
from pathlib import Path
time.sleep(sleep)
Path(out_dir).mkdir(parents=True, exist_ok=True)
Path(out_dir, NAME + ".png").write_bytes(b"png")
doc = dict(name=NAME, mode=mode, seed=seed,
           values={"qif_tsp_1.15": 3.1957 * x, "cwd": os.path.basename(os.getcwd())},
           worker_pid=os.getppid(), backend=os.environ.get("MPLBACKEND"), runs_dir=runs_dir,
           epoch=os.environ.get("SOURCE_DATE_EPOCH"), numba_cache=os.environ.get("NUMBA_CACHE_DIR"),
           notebook=os.environ.get("SMOOTHGRAD_NOTEBOOK"))
Path(out_dir, NAME + ".json").write_text(json.dumps(doc))
"""


def make_nb(path, body=BODY, tagged=True, fail=False):
    cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"),
             nbformat.v4.new_code_cell(PARAMS),
             nbformat.v4.new_code_cell(f"NAME = {path.stem!r}"),
             nbformat.v4.new_code_cell(body)]
    if tagged:
        cells[1].metadata["tags"] = ["parameters"]
    if fail:
        cells.insert(3, nbformat.v4.new_code_cell("y = 1\nraise RuntimeError('boom in ' + NAME)"))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    "Notebooks, output and runs folders; the working directory is a fresh folder `work`."
    nbs = tmp_path / "repo" / "nbs" / "experiments"
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    return nbs, tmp_path / "figs", tmp_path / "runs"


def args(nbs, out, runs, *extra):
    return ["--notebooks", str(nbs), "--out", str(out), "--runs", str(runs), *extra]


def test_local_cluster_runs_notebooks_and_writes_results(dirs, capsys):
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb")
    make_nb(nbs / "figS3.ipynb")
    make_nb(nbs / "_draft.ipynb", fail=True)  # ignored: leading underscore
    rc = R.main(args(nbs, out, runs, "--jobs", "2", "-p", "x=2", "-p", "sleep=1.5"))
    log = capsys.readouterr().out
    assert rc == 0, log
    assert "local Dask cluster with 2 worker" in log and "[2/2] ok" in log
    docs = {n: json.loads((out / f"{n}.json").read_text()) for n in ("fig1", "figS3")}
    for n, d in docs.items():
        assert d["mode"] == "quick" and d["values"]["qif_tsp_1.15"] == pytest.approx(2 * 3.1957)  # injected x=2
        assert d["values"]["cwd"] == "work"  # the kernel runs in the caller's working directory
        assert d["backend"] == "Agg" and d["epoch"] == "0"  # fixed PDF dates unless SOURCE_DATE_EPOCH is set
        assert d["runs_dir"] == str(runs)  # the runner passes absolute folders
        assert d["notebook"] == str((nbs / f"{n}.ipynb").resolve())  # named for save_results' provenance
        assert d["numba_cache"] == os.environ["NUMBA_CACHE_DIR"]  # inherited (set by `import smoothgrad`)
        assert (runs / "quick" / f"{n}.ipynb").exists()  # executed copies go to runs/<mode>/
        assert (out / f"{n}.png").exists()
    assert docs["fig1"]["worker_pid"] != docs["figS3"]["worker_pid"]  # two worker processes in parallel
    md = (out / "results.md").read_text()
    # these notebooks write their JSON without save_results: no provenance, so the row is marked as other code
    row = next(line for line in md.splitlines() if line.startswith("| fig1 | QIF spike time for one input of weight 1.15"))
    assert "| 3.1957 |" in row and "| 6.391 † (quick) | **no** |" in row, row  # the injected x=2 doubles the value
    assert OTHER_CODE_NOTE in md
    assert "Not reproduced (no results yet): " in md and "fig4" in md.split("Not reproduced (no results yet): ")[1]
    assert "| fig1 | quick | ok |" in md  # run log
    assert not (nbs / "fig1.ipynb").read_text().count("injected-parameters")  # source untouched


def test_failure_names_notebook_and_cell(dirs, capsys):
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb")
    make_nb(nbs / "fig2.ipynb", fail=True)
    rc = R.main(args(nbs, out, runs, "--jobs", "2"))
    err = capsys.readouterr().err
    assert rc == 1
    assert "FAILED fig2: cell 4 of the executed copy (In [4]" in err
    assert "line 2: raise RuntimeError" in err and "boom in fig2" in err
    assert "error: 1 of 2 notebook(s) failed: fig2" in err
    assert (out / "fig1.json").exists() and (out / "results.md").exists()
    assert json.loads((out / "runs.json").read_text())["fig2"]["status"] == "failed"


def test_missing_parameters_tag_is_an_error(dirs, capsys):
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb", tagged=False)
    assert R.main(args(nbs, out, runs, "--serial")) == 1
    assert "no cell tagged 'parameters'" in capsys.readouterr().err


def test_existing_scheduler(dirs):
    from dask.distributed import LocalCluster
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cl:
        assert R.main(args(nbs, out, runs, "--scheduler", cl.scheduler_address, "--only", "fig1")) == 0
    assert (out / "fig1.json").exists()


def test_clear_errors(dirs, capsys, tmp_path):
    nbs, out, runs = dirs
    assert R.main(args(tmp_path / "nowhere", out, runs)) == 2
    assert "experiment notebooks not found" in capsys.readouterr().err
    make_nb(nbs / "fig1.ipynb")
    assert R.main(args(nbs, out, runs, "--only", "fig9")) == 2
    assert "no notebook named fig9" in capsys.readouterr().err


def test_results_only(dirs):
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb")
    assert R.main(args(nbs, out, runs, "--results-only")) == 0
    md = (out / "results.md").read_text()
    assert "not reproduced (notebook not run yet)" in md


def test_repo_experiment_notebooks_have_parameters():
    "Every shipped experiment notebook keeps its `parameters` tag (nbdev_clean must not strip it)."
    nbs = R.list_notebooks(R.notebooks_dir())
    assert nbs, "no experiment notebooks"
    for p in nbs:
        assert R.has_parameters_cell(p), p
        nb = json.loads(p.read_text())
        src = next("".join(c["source"]) for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
        for name in ("mode", "seed", "out_dir"):
            assert f"{name} =" in src, (p.name, name)
        assert re.search(r"^out_dir = None\b", src, flags=re.M), (p.name, "out_dir must default to None (./figures)")
        assert "../" not in src, (p.name, "no paths relative to the notebook's folder")
        code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
        if "checkpoint" in code or "runs_dir" in code:
            assert re.search(r"^runs_dir = None\b", src, flags=re.M), (p.name, "runs_dir = None (./runs)")
        assert not any("default_exp" in "".join(c["source"]) for c in nb["cells"]), p  # nothing exported


def test_reproduce_holds_no_experiment_logic():
    "The runner's module is only the runner and the results table; experiments live in smoothgrad.tasks."
    for name in ("trial_traces", "paper_inputs", "recurrent_task", "target_loss", "train_target_trains"):
        assert not hasattr(R, name), name


PROGRESS_BODY = BODY + """
import sys
for i in range(3):
    print(f"\\rstep {i + 1}/3", end="", file=sys.stderr, flush=True)
    time.sleep(0.3)
print(file=sys.stderr)
"""


@pytest.mark.parametrize("serial", [True, False], ids=["serial", "dask-worker"])
def test_progress_lines_reach_the_terminal(dirs, capfd, serial):
    "A notebook's stderr (e.g. tqdm) shows up as `[name] <latest line>`, from this process and from Dask workers."
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb", body=PROGRESS_BODY)
    mode = ["--serial"] if serial else ["--jobs", "1"]
    assert R.main(args(nbs, out, runs, *mode, "--progress-every", "0.2")) == 0
    err = capfd.readouterr().err
    assert "[fig1] step 3/3" in err, err
    assert "SOURCE_DATE_EPOCH" not in __import__("os").environ  # set for the kernel only, then restored


def test_no_progress_lines_when_disabled(dirs, capfd):
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb", body=PROGRESS_BODY)
    assert R.main(args(nbs, out, runs, "--serial", "--progress-every", "0")) == 0
    assert "[fig1]" not in capfd.readouterr().err


def test_default_folders_are_in_the_working_directory(dirs, tmp_path):
    "Without --out/--runs the outputs go to ./figures and ./runs of the working directory (here `work`)."
    nbs, _, _ = dirs
    make_nb(nbs / "fig1.ipynb")
    assert R.main(["--notebooks", str(nbs), "--serial"]) == 0
    work = tmp_path / "work"
    assert (work / "figures" / "fig1.json").exists() and (work / "runs" / "quick" / "fig1.ipynb").exists()
    assert json.loads((work / "figures" / "fig1.json").read_text())["runs_dir"] == str(work / "runs")


def test_unwritable_run_log_still_reports_the_failures(dirs, capsys, monkeypatch):
    "The notebooks ran, the run log cannot be written: the failure report comes, then one line for the log."
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb")
    failed = dict(name="fig1", mode="quick", status="failed", seconds=1.0, output="runs/quick/fig1.ipynb", cell=3,
                  exec_count=3, source="x = 1", line="", error="RuntimeError: boom")
    monkeypatch.setattr(R, "run_all", lambda *a, **k: [failed])

    def full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(R, "update_run_log", full)
    assert R.main(args(nbs, out, runs, "--serial")) == 1
    err = capsys.readouterr().err
    assert "FAILED fig1: cell 3" in err and "error: 1 of 1 notebook(s) failed: fig1" in err
    assert "error: run log" in err and "No space left on device" in err and "Traceback" not in err
    assert (out / "results.md").exists()  # the results table is still written


CTRL_C_BODY = """
from pathlib import Path
Path(out_dir).mkdir(parents=True, exist_ok=True)
Path(out_dir, "started").write_text("x")
import time
time.sleep(120)
"""


def test_ctrl_c_with_serial_is_one_line(dirs):
    "Ctrl-C in the terminal (SIGINT to the process group) while a notebook runs: `interrupted`, exit status 130."
    import signal
    import subprocess
    import sys
    import time
    nbs, out, runs = dirs
    make_nb(nbs / "fig1.ipynb", body=CTRL_C_BODY)
    p = subprocess.Popen([sys.executable, "-m", "smoothgrad.reproduce", *args(nbs, out, runs, "--serial")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        while not (out / "started").exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "started").exists(), p.communicate(timeout=60)
        time.sleep(0.5)
        os.killpg(p.pid, signal.SIGINT)
        stdout, stderr = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == 130, stderr
    assert _without_dead_kernel_teardown([ln for ln in stderr.splitlines() if ln.strip()]) == ["interrupted"], stderr


def _without_dead_kernel_teardown(lines):
    """`lines` without what nbclient and asyncio log when the kernel, which gets the same SIGINT, dies while nbclient
    still waits for its reply: seen once in CI under load (2026-12-08), never in a dozen runs on an idle or a busy
    machine; a race of the two processes' handling of one Ctrl-C, not the runner's output. Only exactly that is
    dropped: "Kernel died while waiting for execute reply." and asyncio's "Task exception was never retrieved" block
    that ends in nbclient's DeadKernelError; any other line still fails the test."""
    kept, i = [], 0
    while i < len(lines):
        if lines[i] == "Kernel died while waiting for execute reply.":
            i += 1
        elif lines[i] == "Task exception was never retrieved":
            end = next((k for k in range(i, len(lines)) if lines[k].startswith("nbclient.exceptions.DeadKernelError")),
                       None)
            if end is None:
                kept.extend(lines[i:])
                break
            i = end + 1
        else:
            kept.append(lines[i])
            i += 1
    return kept


def test_dead_kernel_teardown_filter_drops_only_that():
    seen = ["Kernel died while waiting for execute reply.", "interrupted", "Task exception was never retrieved",
            "future: <Task finished name='Task-17' coro=<NotebookClient.async_execute_cell() done> "
            "exception=DeadKernelError('Kernel died')>", "Traceback (most recent call last):",
            '  File "nbclient/client.py", line 1009, in async_execute_cell', '    raise DeadKernelError("Kernel died")',
            "nbclient.exceptions.DeadKernelError: Kernel died"]
    assert _without_dead_kernel_teardown(seen) == ["interrupted"]
    other = ["interrupted", "Task exception was never retrieved", "Traceback (most recent call last):",
             "ValueError: something else"]
    assert _without_dead_kernel_teardown(other) == other
    assert _without_dead_kernel_teardown(["interrupted", "error: x"]) == ["interrupted", "error: x"]


def test_help_lists_every_notebook_with_its_run_times(capsys):
    "`--help` names every shipped notebook with a typical quick and paper run time (or `?` where none was timed)."
    assert R.main(["--help"]) == 0
    out = capsys.readouterr().out
    rows = {ln.split()[0]: ln for ln in out.splitlines() if ln.startswith("  ") and " / " in ln}
    names = [p.stem for p in R.list_notebooks(R.notebooks_dir())]
    assert names and set(names) <= set(rows), (names, out)
    for n in names:
        quick, paper = rows[n].split(None, 1)[1].split(" / ")
        assert re.fullmatch(r"~?\d+ (s|min)", quick.strip()), rows[n]  # every quick run was timed
        assert re.fullmatch(r"~?\d+ (s|min)|\?", paper.strip()), rows[n]


def test_relative_folders_are_made_absolute_on_the_client(tmp_path, monkeypatch):
    "A cluster's workers read the paths in their own working directory: the client sends absolute ones."
    monkeypatch.chdir(tmp_path)
    a = R.parse_args(["--notebooks", "nbs", "--out", "figs", "--runs", "../runs"])
    assert a.notebooks == tmp_path / "nbs" and a.out == tmp_path / "figs" and a.runs == tmp_path.parent / "runs"
