"""Nothing lost: every file of the results and the runner is replaced atomically (a full disk keeps the old file),
read-modify-write files are updated under a lock (concurrent runs keep every entry), and a corrupt run log is moved
aside with a warning, never overwritten."""
import errno
import json
import multiprocessing
import os
import sys
import threading

import pytest

from smoothgrad import reproduce as RP
from smoothgrad import results as R


def _full_disk_on_replace(monkeypatch):
    "Every os.replace fails as on a full disk (the temporary file was written, the rename never happens)."
    def boom(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", boom)


def _full_disk_on_write(monkeypatch):
    "The data reach the temporary file only in part: fsync reports the full disk, as a write would."
    def boom(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", boom)


FAULTS = [_full_disk_on_replace, _full_disk_on_write]


def _no_temp_files(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def _rec(name, status="ok", seconds=1.0):
    return dict(name=name, mode="quick", status=status, seconds=seconds, output="", cell=None, exec_count=None,
                source="", error="" if status == "ok" else "RuntimeError: boom")


@pytest.mark.parametrize("fault", FAULTS)
def test_save_results_keeps_the_old_json_on_a_full_disk(tmp_path, monkeypatch, fault):
    R.save_results("fig2", {"a": 1.0}, tmp_path, "quick", seed=0)
    before = (tmp_path / "fig2.json").read_bytes()
    fault(monkeypatch)
    with pytest.raises(OSError) as e:
        R.save_results("fig2", {"a": 2.0}, tmp_path, "quick", seed=0)
    assert e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert (tmp_path / "fig2.json").read_bytes() == before and _no_temp_files(tmp_path) == []


@pytest.mark.parametrize("fault", FAULTS)
def test_results_and_readme_survive_a_full_disk(tmp_path, monkeypatch, fault):
    R.save_results("figX", {"a": 1.0}, tmp_path, "quick")
    claims = [R.claim("figX", "a", "a number", 1.0)]
    md = R.write_results(tmp_path, claims)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{R.README_START}\nold table\n{R.README_END}\n\n## Text after the table\n\nkept\n")
    before = {p: p.read_bytes() for p in (tmp_path / "results.json", md, readme)}
    R.save_results("figX", {"a": 5.0}, tmp_path, "quick")  # new numbers to write
    fault(monkeypatch)
    with pytest.raises(OSError):
        R.write_results(tmp_path, claims)
    with pytest.raises(OSError):
        R.update_readme(readme, md)
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in before} == before  # results.json valid, README with the text after the table
    json.loads((tmp_path / "results.json").read_text())
    assert _no_temp_files(tmp_path) == []


@pytest.mark.parametrize("fault", FAULTS)
def test_savefig_keeps_the_old_figure_on_a_full_disk(tmp_path, monkeypatch, fault):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [0, 1])
    paths = R.savefig(fig, "figX", tmp_path)
    before = [p.read_bytes() for p in paths]
    ax.plot([0, 1], [1, 0])
    fault(monkeypatch)
    with pytest.raises(OSError):
        R.savefig(fig, "figX", tmp_path)
    monkeypatch.undo()
    plt.close(fig)
    assert [p.read_bytes() for p in paths] == before and _no_temp_files(tmp_path) == []


@pytest.mark.parametrize("fault", FAULTS)
def test_run_log_survives_a_full_disk(tmp_path, monkeypatch, fault):
    RP.update_run_log(tmp_path, [_rec(f"fig{i}") for i in range(10)])
    before = (tmp_path / "runs.json").read_bytes()
    fault(monkeypatch)
    with pytest.raises(OSError):
        RP.update_run_log(tmp_path, [_rec("fig2", "failed")])
    monkeypatch.undo()
    assert (tmp_path / "runs.json").read_bytes() == before and len(json.loads(before)) == 10


@pytest.mark.parametrize("content, why", [(b'{"fig1": {"mode": "quick", "sta', "not valid JSON"),
                                          (b"", "not valid JSON"), (b"\xff\xfe\x00garbage", "not valid JSON"),
                                          (b"[1, 2]", "a JSON list"), (b'"runs"', "a JSON str")])
def test_corrupt_run_log_is_moved_aside(tmp_path, content, why):
    (tmp_path / "runs.json").write_bytes(content)
    (tmp_path / "runs.json.corrupt-1").write_bytes(b"an earlier one")
    with pytest.warns(RuntimeWarning, match=why) as w:
        log = RP.update_run_log(tmp_path, [_rec("fig2")])
    assert "runs.json.corrupt-2" in str(w[0].message)
    assert (tmp_path / "runs.json.corrupt-2").read_bytes() == content  # kept, not overwritten
    assert (tmp_path / "runs.json.corrupt-1").read_bytes() == b"an earlier one"
    assert set(log) == {"fig2"} and json.loads((tmp_path / "runs.json").read_text()) == log


@pytest.mark.parametrize("entry", [{"mode": "quick", "status": "ok"}, {"mode": "quick", "status": "ok", "seconds": "12"},
                                   {"seconds": None}, {"seconds": True}, "not a record", None, [1, 2]])
def test_malformed_run_log_entries_render(tmp_path, entry):
    "A run log written by hand or by other code: missing or string `seconds`, entries that are not records."
    (tmp_path / "runs.json").write_text(json.dumps({"fig1": entry, "fig2": {"mode": "quick", "status": "ok",
                                                                           "seconds": 3.25, "finished": "x"}}))
    text = R.results_table(tmp_path, [R.claim("fig1", "a", "a", 1.0)])
    assert "| fig2 | quick | ok | 3.2 | x |" in text
    row = next(ln for ln in text.split("## Latest runs")[1].splitlines() if ln.startswith("| fig1 |"))
    assert row.split(" | ")[3] == "-"  # the seconds cell
    log = RP.update_run_log(tmp_path, [_rec("fig3")])  # merging keeps the odd entry as it is
    assert log["fig1"] == entry and set(log) == {"fig1", "fig2", "fig3"}


def _log_many(out_dir, k, n):
    for i in range(n):
        RP.update_run_log(out_dir, [_rec(f"p{k}_{i}")])


def test_concurrent_run_log_updates_keep_every_entry(tmp_path):
    "Four processes, 10 updates each, one runs.json: all 40 entries and the 5 earlier ones survive."
    RP.update_run_log(tmp_path, [_rec(f"early{i}") for i in range(5)])
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    procs = [ctx.Process(target=_log_many, args=(tmp_path, k, 10)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * 4
    log = json.loads((tmp_path / "runs.json").read_text())
    assert set(log) == {f"early{i}" for i in range(5)} | {f"p{k}_{i}" for k in range(4) for i in range(10)}
    assert _no_temp_files(tmp_path) == []


def test_readers_never_see_a_half_written_results_json(tmp_path):
    "While results.json is rewritten again and again, every read parses."
    claims = [R.claim("figX", "a", "a number", 1.0)]
    R.save_results("figX", {"a": 1.0}, tmp_path, "quick")
    R.write_results(tmp_path, claims)
    stop, errors = threading.Event(), []

    def write():
        for i in range(30):
            R.save_results("figX", {"a": 1.0 + i, "pad": list(range(2000))}, tmp_path, "quick")
            R.write_results(tmp_path, claims)
        stop.set()

    t = threading.Thread(target=write)
    t.start()
    reads = 0
    while not stop.is_set():
        for name in ("results.json", "figX.json"):
            try:
                json.loads((tmp_path / name).read_text())
                reads += 1
            except ValueError as e:
                errors.append(e)
    t.join()
    assert errors == [] and reads > 0
