"""`smoothgrad reproduce --scheduler` against a real Dask cluster: a `dask scheduler` and `dask worker` processes on
127.0.0.1, started as the README says, each test bounded in time and its processes always ended.

What a cluster run must hold: relative `--notebooks`/`--out`/`--runs` are the client's folders (made absolute
before they leave it), the notebooks' progress lines reach the client's terminal, a worker killed in the middle of
a notebook is retried and the retry reported, and a scheduler that dies ends the run with one line per unfinished
notebook, a run log and a results table, never a traceback."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("distributed")

DASK = Path(sys.executable).with_name("dask")  # the `dask` command of this environment
pytestmark = pytest.mark.skipif(not DASK.exists(), reason="no `dask` command next to the interpreter")

PARAMS = 'mode = "quick"\nseed = 0\nout_dir = None\nruns_dir = None'

WRITE = """
import json, os, sys, time
from pathlib import Path
Path(out_dir).mkdir(parents=True, exist_ok=True)
Path(out_dir, NAME + ".json").write_text(json.dumps(dict(name=NAME, mode=mode, cwd=os.getcwd(), runs_dir=runs_dir)))
"""

PROGRESS = WRITE + """
for i in range(4):
    print(f"step {i + 1}/4", file=sys.stderr, flush=True)
    time.sleep(0.4)
"""

# Stops on a marker: the first run writes `<marker>` with its worker's pid and waits (to be killed with it);
# a kernel whose worker has gone exits by itself, so no kernel outlives the test.
STALL = """
import os, time
from pathlib import Path
marker, parent = Path(MARKER), os.getppid()
if not marker.exists():
    marker.write_text(str(parent))
    for _ in range(900):
        if os.getppid() != parent:
            os._exit(0)
        time.sleep(0.1)
    raise RuntimeError("not killed")
""" + WRITE


def make_nb(path, body, marker=None):
    cells = [nbformat.v4.new_code_cell(PARAMS),
             nbformat.v4.new_code_cell(f"NAME = {path.stem!r}\nMARKER = {str(marker)!r}"),
             nbformat.v4.new_code_cell(body)]
    cells[0].metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


class Cluster:
    "A scheduler and `n` workers as separate process groups; `close()` ends every one of them."

    def __init__(self, tmp, n_workers, **scheduler_env):
        self.tmp, self.procs = tmp, []
        sched_file = tmp / "scheduler.json"
        self.scheduler = self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0",
                                                   "--no-dashboard", "--scheduler-file", sched_file], scheduler_env)
        deadline = time.monotonic() + 60
        while True:
            assert self.scheduler.poll() is None and time.monotonic() < deadline, self.log("scheduler")
            try:
                self.address = json.loads(sched_file.read_text())["address"]
                break
            except (OSError, ValueError, KeyError):  # not written yet
                time.sleep(0.2)
        self.workers = [self._start(f"worker{i}", [DASK, "worker", self.address, "--nthreads", "1", "--host",
                                                   "127.0.0.1", "--no-dashboard", "--death-timeout", "30"])
                        for i in range(n_workers)]
        from distributed import Client
        with Client(self.address, timeout=60) as c:
            c.wait_for_workers(n_workers, timeout=90)

    def _start(self, name, cmd, env=None):
        log = open(self.tmp / f"{name}.log", "wb")
        p = subprocess.Popen([str(c) for c in cmd], stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                             start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})
        log.close()
        self.procs.append(p)
        return p

    def log(self, name):
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            p.wait(timeout=30)


@pytest.fixture
def cluster_factory(tmp_path):
    made = []

    def make(n_workers, **scheduler_env):
        c = Cluster(tmp_path, n_workers, **scheduler_env)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def reproduce(work, address, *extra):
    "Start the client as a user would, from `work`, with relative folders."
    cmd = [sys.executable, "-m", "smoothgrad.reproduce", "--scheduler", address, "--notebooks", "nbs",
           "--out", "figs", "--runs", "runs", "--progress-every", "0.1", *extra]
    return subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for(path, proc, seconds=120):
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)
    time.sleep(0.3)
    return int(path.read_text())


def finish(proc, seconds=180):
    try:
        out, err = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the client did not end within {seconds} s:\n{out}\n{err}") from None
    return proc.returncode, out, err


def kill_midrun(client, marker, kill, seconds=180):
    "Wait until the stalling notebook has started, `kill(pid of its worker)`, let the client end; never leave it running."
    try:
        kill(wait_for(marker, client))
        return finish(client, seconds)
    finally:
        if client.poll() is None:
            client.kill()


def start_run(tmp_path, cluster_factory, workers, stalled, others=(), **env):
    """A client running, on a fresh cluster of `workers`, the notebook `stalled` (it stalls after touching a start
    marker) and `others` ((name, body) pairs) in `tmp_path/work`. Returns `(work, marker, cluster, client)`."""
    work, marker = tmp_path / "work", tmp_path / f"{stalled}.started"
    for name, body in others:
        make_nb(work / "nbs" / f"{name}.ipynb", body)
    make_nb(work / "nbs" / f"{stalled}.ipynb", STALL, marker)
    cluster = cluster_factory(workers, **env)
    return work, marker, cluster, reproduce(work, cluster.address)


def test_cluster_paths_progress_and_a_killed_worker(tmp_path, cluster_factory):
    work, marker, cluster, client = start_run(tmp_path, cluster_factory, 2, "fig2", [("fig1", PROGRESS)])
    # the worker process running fig2 dies mid-notebook
    rc, out, err = kill_midrun(client, marker, lambda pid: os.kill(pid, signal.SIGKILL))
    assert rc == 0, out + err
    assert "Traceback" not in err
    for name in ("fig1", "fig2"):  # relative folders are the client's, not the workers'
        doc = json.loads((work / "figs" / f"{name}.json").read_text())
        assert doc["cwd"] == str(work) and doc["runs_dir"] == str(work / "runs")
        assert (work / "runs" / "quick" / f"{name}.ipynb").exists()
    assert "[fig1] step 4/4" in err  # progress from a worker process, printed by the client
    retry = [ln for ln in err.splitlines() if ln.startswith("[fig2]") and "2" in ln]
    assert len(retry) == 1, err  # the retry, in one line
    log = json.loads((work / "figs" / "runs.json").read_text())
    assert log["fig2"]["status"] == "ok" and log["fig2"]["attempts"] == 2
    assert log["fig1"]["status"] == "ok" and "attempts" not in log["fig1"]


def test_cluster_lost_scheduler_is_one_line_per_notebook(tmp_path, cluster_factory):
    work, marker, cluster, client = start_run(tmp_path, cluster_factory, 1, "figS1", [("fig1", WRITE)])
    # the scheduler dies while figS1 runs
    rc, out, err = kill_midrun(client, marker, lambda _: os.killpg(cluster.scheduler.pid, signal.SIGKILL), 120)
    assert rc == 1, out + err
    assert "Traceback" not in err and "Traceback" not in out, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    about = [ln for ln in lines if "figS1" in ln and "fig1 " not in ln]
    assert len([ln for ln in lines if ln.startswith("UNFINISHED")]) == 1, err  # one line for the one notebook
    assert about, err
    assert len(lines) <= 3, err  # that line and the summary: no log noise
    log = json.loads((work / "figs" / "runs.json").read_text())
    assert log["fig1"]["status"] == "ok"
    assert log["figS1"]["status"] == "failed" and log["figS1"]["unfinished"] is True
    md = (work / "figs" / "results.md").read_text()
    assert "fig1" in md


def test_cluster_notebook_whose_workers_keep_dying_is_one_line(tmp_path, cluster_factory):
    "With no retries allowed, one killed worker is Dask's KilledWorker: one line, a record, the exit status 1."
    work, marker, cluster, client = start_run(tmp_path, cluster_factory, 1, "figS2",
                                              DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="0")
    rc, out, err = kill_midrun(client, marker, lambda pid: os.kill(pid, signal.SIGKILL), 120)
    assert rc == 1, out + err
    assert "Traceback" not in err, err
    assert len([ln for ln in err.splitlines() if ln.startswith("UNFINISHED figS2")]) == 1, err
    log = json.loads((work / "figs" / "runs.json").read_text())
    assert log["figS2"]["status"] == "failed" and log["figS2"]["unfinished"] is True
    assert (work / "figs" / "results.md").exists()
