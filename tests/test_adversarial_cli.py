"""Command-line misuse of `smoothgrad reproduce` / `python -m smoothgrad.reproduce`: every bad argument ends in
one line on stderr and exit status 2, never a traceback, and never runs a notebook."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from smoothgrad import reproduce as R

REAL_RUN_ALL = R.run_all


@pytest.fixture(autouse=True)
def no_runs(monkeypatch, tmp_path):
    "Misuse must be caught before anything runs; the working directory is an empty temporary folder."
    def ran(*a, **k):
        raise AssertionError("a notebook was run for a bad command line")
    monkeypatch.setattr(R, "run_all", ran)
    monkeypatch.setattr(R, "run_notebook", ran)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")  # a symbolic link to itself
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "x")


BAD_VALUES = {
    "--jobs": ["0", "-1", "-5", "abc", "1.5", "", "nan", "inf", "1e3", "0x2", "99999999999", "2000", " ", "None"],
    "--timeout": ["0", "-1", "nan", "inf", "-inf", "abc", "", "1e999", "0.0"],
    "--progress-every": ["-1", "nan", "inf", "abc", "", "-0.5"],
    "--mode": ["slow", "", "QUICK", "paper ", "fast", "None"],
    "--out": ["a_file", "", " ", "a_file/sub/..", "a\0b", "a_file/sub", "a_file/sub/deeper", "loop", "loop/sub"],
    "--runs": ["a_file", "", " ", "a\0b"],
    "--only": ["fig99", "../fig1", "fig1.ipynb", "FIG1", "", "figS99", "*"],
    "-p": ["x", "=3", "1a=2", "a b=3", "mode=paper", "out_dir=/tmp", "runs_dir=x", "n=1e999", "n=-1e999",
           "n=[1, 1e999]", "n={'a': 1e999}", "n=1j", "class=1", "n=(1e999,)", " =1", "n.x=1", "-=1"],
    "--notebooks": ["nowhere", "a_file", ""],
    "--scheduler": ["", "   "],
}
CASES = [[opt, v] for opt, vals in BAD_VALUES.items() for v in vals]
CASES += [["--only"], ["--jobs"], ["--out"], ["-p"], ["--bogus"], ["--mode"], ["positional"], ["--timeout"],
          ["--scheduler", "tcp://x:1", "--serial"], ["--only", "fig1", "fig99"], ["--jobs", "2", "--jobs", "0"],
          ["--results-only", "--out", "a_file"], ["--serial", "--runs", "a_file"], ["-p", "x", "-p", "y=1"]]
CONTEXTS = [[], ["--results-only"], ["--serial", "--mode", "paper"]]


def one_line_error(capsys):
    out, err = capsys.readouterr()
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "error" in lines[0].lower(), err
    return lines[0]


@pytest.mark.parametrize("context", CONTEXTS, ids=["plain", "results-only", "serial-paper"])
@pytest.mark.parametrize("bad", CASES, ids=[" ".join(c) or "empty" for c in CASES])
def test_misuse_is_one_line_and_status_2(bad, context, capsys):
    assert R.main(context + bad) == 2
    one_line_error(capsys)


@pytest.mark.parametrize("bad", CASES[::3], ids=[" ".join(c) or "empty" for c in CASES[::3]])
def test_console_command_misuse(bad, capsys):
    assert R.cli(["reproduce", *bad]) == 2
    line = one_line_error(capsys)
    assert line.startswith(("smoothgrad reproduce: error", "error: ")), line


@pytest.mark.parametrize("argv", [["bogus"], ["reproduce-all"], ["--bogus"], [""], ["figures"]])
def test_unknown_command(argv, capsys):
    assert R.cli(argv) == 2
    assert "unknown command" in one_line_error(capsys)


def test_no_command_prints_usage(capsys):
    assert R.cli([]) == 2
    assert "usage: smoothgrad" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["reproduce", "--help"], ["--version"]])
def test_help_and_version(argv, capsys):
    assert R.cli(argv) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_messages_name_the_problem(capsys):
    assert R.main(["--out", "a_file"]) == 2
    line = one_line_error(capsys)
    assert "--out" in line and "a_file" in line and "existing file" in line
    assert R.main(["--only", "fig99"]) == 2
    line = one_line_error(capsys)
    assert "no notebook named fig99" in line and "fig1" in line  # lists what exists
    assert R.main(["--jobs", "0"]) == 2
    assert "--jobs" in one_line_error(capsys)
    assert R.main(["-p", "mode=paper"]) == 2
    assert "own option" in one_line_error(capsys)
    assert R.main(["-p", "n=1e999"]) == 2
    assert "finite" in one_line_error(capsys)


UNWRITABLE = ["a_file/sub", "loop", "loop/sub"] + (["/sys"] if os.path.isdir("/sys") and not os.access("/sys", os.W_OK)
                                                   else [])


@pytest.mark.parametrize("opt", ["--out", "--runs"])
@pytest.mark.parametrize("path", UNWRITABLE)
def test_unwritable_folders_are_refused_before_anything_runs(opt, path, capsys):
    "A folder under a file, a looping link, one nobody may write (/sys): one line naming the option, exit 2."
    assert R.main([opt, path, "--only", "fig1"]) == 2
    line = one_line_error(capsys)
    assert line.startswith(f"error: {opt}: ") and path.split("/")[0] in line, line
    assert not (Path("figures") / "runs.json").exists()


def test_read_only_out_is_refused_before_anything_runs(tmp_path, capsys):
    "A folder without write permission (as root every folder is writable: then /sys stands in, above)."
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions do not stop writing")
        assert R.main(["--out", str(ro), "--only", "fig1"]) == 2
        assert "--out" in one_line_error(capsys)
    finally:
        ro.chmod(0o755)


def test_jobs_capped_at_the_number_of_notebooks(monkeypatch, capsys):
    "`--jobs 8 --only fig1` asks for one worker (each idle worker costs about 170 MB)."
    seen = []
    monkeypatch.setattr(R, "run_all", lambda nbs, out, runs, mode, jobs, *a, **k: seen.append((len(nbs), jobs)) or [])
    assert R.main(["--only", "fig1", "--jobs", "8"]) == 0
    assert R.main(["--only", "fig1", "fig2", "figS3", "--jobs", "2"]) == 0
    assert seen == [(1, 1), (3, 2)]


def test_run_all_starts_no_more_workers_than_notebooks(monkeypatch, tmp_path):
    seen = []

    class Started(Exception):
        pass

    def client(jobs, scheduler):
        seen.append(jobs)
        raise Started

    monkeypatch.setattr(R, "_dask_client", client)
    for nbs, jobs, want in (([tmp_path / "fig1.ipynb"], 8, 1), ([tmp_path / "a.ipynb", tmp_path / "b.ipynb"], 1024, 2),
                            ([tmp_path / "a.ipynb", tmp_path / "b.ipynb"], 1, 1)):
        with pytest.raises(Started):
            REAL_RUN_ALL(nbs, tmp_path / "out", tmp_path / "runs", jobs=jobs)
        assert seen[-1] == want


def test_good_parameters_parse():
    a = R.parse_args(["-p", "n=3", "-p", "name=abc", "-p", "xs=[1, 2.5]", "-p", "flag=True", "--jobs", "3"])
    assert dict(a.param) == {"n": 3, "name": "abc", "xs": [1, 2.5], "flag": True} and a.jobs == 3
    assert R.parse_args(["--only", "fig1", "fig1"]).only == ["fig1", "fig1"]  # duplicates run once:
    assert [p.stem for p in R.list_notebooks(R.notebooks_dir(), ["fig1", "fig1"])] == ["fig1"]


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--out", "a_file"], ["--only", "fig99"], ["-p", "x"]])
def test_real_process_exit_status(argv, tmp_path):
    "As a process: exit status 2 and one stderr line (no traceback), also for `python -m`."
    r = subprocess.run([sys.executable, "-m", "smoothgrad.reproduce", *argv], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "figures").exists()


@pytest.mark.parametrize("kw", [dict(notebooks=None), dict(notebooks="fig1.ipynb"), dict(notebooks=3),
                                dict(jobs=0), dict(jobs=1.5), dict(jobs=True), dict(jobs="2"), dict(mode="slow"),
                                dict(mode=None), dict(parameters=[("n", 1)]), dict(parameters="n=1"),
                                dict(timeout=0), dict(timeout=float("nan")), dict(timeout="10"),
                                dict(progress_every=-1), dict(progress_every=float("inf")),
                                dict(out_dir="a_file"), dict(runs_dir="a_file"), dict(out_dir=3), dict(runs_dir="")])
def test_run_all_rejects_bad_arguments(kw):
    "The Python API checks its arguments before starting anything."
    args = dict(notebooks=[], out_dir=None, runs_dir=None) | kw
    with pytest.raises((TypeError, ValueError)) as e:
        REAL_RUN_ALL(**args)  # the real one: it must fail before running anything
    name = next(iter(kw))
    assert name.split("_")[0] in str(e.value), str(e.value)
