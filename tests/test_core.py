"""smoothgrad.core: atomic writes survive failures and concurrency, keys and hashes separate what differs."""
import functools
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from smoothgrad import core


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    p = core.atomic_write(tmp_path / "r.json", "old")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(core.os, "replace", full_disk)
    with pytest.raises(OSError, match="No space"):
        core.atomic_write(p, "new" * 1000)
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["r.json"]


def test_write_to_a_folder_under_a_file_is_an_error_naming_it(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OSError):
        core.atomic_write(tmp_path / "f" / "g.json", "x")


def test_data_must_be_bytes_or_str(tmp_path):
    with pytest.raises(TypeError, match="data must be bytes or str"):
        core.atomic_write(tmp_path / "x", 1.5)


def test_json_is_safe_for_numpy_and_non_finite_values(tmp_path):
    p = core.atomic_write_json(tmp_path / "a.json", {"a": np.float32(0.25), "b": np.arange(3), "c": [math.nan, -np.inf]})
    assert json.loads(p.read_text()) == {"a": 0.25, "b": [0, 1, 2], "c": ["nan", "-inf"]}


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_interrupt_just_after_the_temporary_file_is_created_leaves_nothing(interrupt, tmp_path, monkeypatch):
    """A Ctrl-C (or a SIGTERM, an exit) that lands as soon as the temporary file exists, before the call that created
    it returns: the old file stays and no temporary file is left (with `mkstemp` the name was not yet bound)."""
    p = core.atomic_write(tmp_path / "a.txt", "old")
    real_open = os.open

    def open_then_interrupt(*a, **k):
        fd = real_open(*a, **k)
        os.close(fd)
        raise interrupt()

    monkeypatch.setattr(os, "open", open_then_interrupt)
    with pytest.raises(interrupt):
        core.atomic_write(p, "new")
    monkeypatch.undo()
    assert p.read_text() == "old" and sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]


WRITER = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from smoothgrad.core import atomic_write_json, locked
    p, i = Path(sys.argv[1]), int(sys.argv[2])
    for k in range(5):
        with locked(p):
            log = json.loads(p.read_text()) if p.exists() else []
            atomic_write_json(p, log + [[i, k]])
""")


def test_concurrent_processes_updating_one_file_under_the_lock_keep_every_entry(tmp_path):
    p = tmp_path / "log[1].json"  # glob metacharacters in the name
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(p), str(i)]) for i in range(4)]
    assert all(q.wait(timeout=120) == 0 for q in procs)
    assert sorted(map(tuple, json.loads(p.read_text()))) == [(i, k) for i in range(4) for k in range(5)]
    assert not [x for x in tmp_path.iterdir() if x.name.endswith(".tmp")]


def test_lock_times_out_with_a_clear_error(tmp_path):
    p = tmp_path / "x.json"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from smoothgrad.core import locked
        with locked({str(p)!r}):
            print("held", flush=True)
            time.sleep(30)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TimeoutError, match="x.json.lock"):
            with core.locked(p, timeout=0.3):
                pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("a, b", [
    ({"lr": 0.01}, {"lr": 0.010000000000000002}),
    ({"p": 0.5}, {"p": 0.0}),
    ({"x": np.zeros(3)}, {"x": np.zeros(3, np.float32)}),
    ({"x": np.zeros(3)}, {"x": np.zeros((3, 1))}),
    ({"x": np.arange(3.0)}, {"x": np.arange(3.0)[::-1]}),
    ({"a": [1, 2]}, {"a": [2, 1]}),
    ({"a": None}, {"a": "None"}),
    ({"tau": 10.0, "alpha": 10.0}, {"tau": 10.0, "alpha": 5.0}),
])
def test_different_configurations_never_share_a_key(a, b):
    assert core.config_key(a) != core.config_key(b)


def test_key_ignores_key_order_and_includes_the_code_hash(monkeypatch):
    k = core.config_key({"a": 1, "b": [1.5, "x"]})
    assert k == core.config_key({"b": [1.5, "x"], "a": 1})
    monkeypatch.setattr(core, "code_hash", lambda lib_dir=None: "0" * 16)
    assert core.config_key({"a": 1, "b": [1.5, "x"]}) != k


@pytest.mark.parametrize("fn", [lambda x: x, np.fliplr, functools.partial(np.roll, shift=1), math.exp])
def test_callables_are_refused_with_the_place_named(fn):
    with pytest.raises(TypeError, match=r"config\.train\.augment is a callable"):
        core.config_key({"train": {"augment": fn}})


def test_objects_that_are_not_plain_data_are_refused():
    with pytest.raises(TypeError, match="config.x: set cannot enter"):
        core.config_key({"x": {1, 2}})


def test_code_hash_follows_the_sources_only(tmp_path):
    for name, text in (("a.py", "x = 1\n"), ("b.py", "y = 2\n"), ("_modidx.py", "d = {}\n")):
        (tmp_path / name).write_text(text)
    h = core.code_hash(tmp_path)
    (tmp_path / "_modidx.py").write_text("d = {1: 2}\n")
    (tmp_path / "notes.txt").write_text("not code")
    core._CODE_HASH.clear()
    assert core.code_hash(tmp_path) == h
    (tmp_path / "b.py").write_text("y = 3\n")
    core._CODE_HASH.clear()
    assert core.code_hash(tmp_path) != h
    assert len(h) == 16 and int(h, 16) >= 0


def test_provenance_names_the_code_and_the_machine():
    p = core.provenance(mode="quick")
    assert p["code_hash"] == core.code_hash() and p["mode"] == "quick"
    assert {"commit", "dirty", "numpy", "numba", "python", "cpu", "threads", "cpu_target"} <= set(p)
    assert p["commit"] is None or len(p["commit"]) == 40
    json.dumps(p)


def test_kernel_cache_goes_to_a_folder_keyed_by_code_in_the_user_cache_or_the_chosen_one(tmp_path):
    code = "import os, smoothgrad, numba.core.config as c; print(os.environ['NUMBA_CACHE_DIR']); print(c.CACHE_DIR)"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "SMOOTHGRAD_CACHE")}
    keyed = f"numba-{core.code_hash()}"
    r = subprocess.run([sys.executable, "-c", code], env=dict(env, XDG_CACHE_HOME=str(tmp_path)),
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == [str(tmp_path / "smoothgrad"), str(tmp_path / "smoothgrad" / keyed)], r.stderr
    r = subprocess.run([sys.executable, "-c", code], env=dict(env, NUMBA_CACHE_DIR=str(tmp_path / "mine")),
                       capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == [str(tmp_path / "mine"), str(tmp_path / "mine" / keyed)], r.stderr


def test_written_files_keep_or_get_ordinary_permissions(tmp_path):
    p = core.atomic_write(tmp_path / "new.txt", "x")
    assert p.stat().st_mode & 0o777 == 0o666 & ~core._UMASK
    os.chmod(p, 0o640)
    core.atomic_write(p, "y")
    assert p.stat().st_mode & 0o777 == 0o640


def test_digest_of_a_scalar_array_keeps_its_shape():
    assert core.array_digest(np.float64(1.5))["shape"] == []
    assert core.array_digest(np.zeros((2, 0)))["shape"] == [2, 0]


def test_git_state_is_dirty_only_for_changes_of_the_code(tmp_path):
    def git(*a):
        subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)

    for name in ("settings.ini", "smoothgrad/a.py", "figures/fig1.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    assert core.git_state(tmp_path / "smoothgrad") == {"commit": core.git_state(tmp_path)["commit"], "dirty": False}
    (tmp_path / "figures" / "fig1.json").write_text("y\n")  # a run writing its results
    assert core.git_state(tmp_path)["dirty"] is False
    (tmp_path / "smoothgrad" / "a.py").write_text("y\n")
    assert core.git_state(tmp_path)["dirty"] is True
    assert core.git_state(tmp_path.parent)["commit"] is None  # not a checkout of this project


@pytest.mark.parametrize("x, expected", [(0.5, 0.5), (np.float32(0.25), 0.25), (np.int64(3), 3.0), (np.array(2.0), 2.0),
                                         (7, 7.0)])
def test_check_real_returns_a_python_float(x, expected):
    v = core.check_real("x", x, 0, 10, lo_open=True)
    assert type(v) is float and v == pytest.approx(expected, abs=0)


@pytest.mark.parametrize("bad", [True, np.bool_(False), "1", None, 1j, [1.0], np.ones(2)])
def test_check_real_refuses_what_is_not_a_real_number_with_a_type_error_naming_it(bad):
    with pytest.raises(TypeError, match=r"^tau must be a finite positive number, got "):
        core.check_real("tau", bad, 0, lo_open=True)


@pytest.mark.parametrize("bad, args, msg", [
    (math.nan, (), r"finite real number, got nan"), (-math.inf, (), r"finite real number, got -inf"),
    (10**400, (), r"got inf"), (0.0, (0, math.inf, True), r"finite positive number, got 0.0"),
    (1.0, (0, 1, False, True), r"in \[0, 1\), got 1.0"), (-0.5, (0, 1), r"in \[0, 1\], got -0.5"),
    (6000.5, (0, 6000, True), r"in \(0, 6000\], got 6000.5"),
    (3.0, (0, 2.6787715179656683e+300), None), (-1.0, (0, 2.6787715179656683e+300), r"2.6787715179656683e\+300\]")])
def test_check_real_bounds_are_stated_in_the_message(bad, args, msg):
    if msg is None:
        assert core.check_real("reg", bad, *args) == 3.0
        return
    with pytest.raises(ValueError, match=r"^reg must be a .*" + msg):
        core.check_real("reg", bad, *args)


def test_check_real_array_keeps_the_dtype_unless_asked_and_refuses_bad_entries():
    assert core.check_real_array("images", np.arange(3, dtype=np.uint8)).dtype == np.uint8
    assert core.check_real_array("x", [1, 2], dtype=np.float64).dtype == np.float64
    for bad in ([True], ["a"], [1j], [object()]):
        with pytest.raises(TypeError, match="^x must be an array of real numbers"):
            core.check_real_array("x", bad)
    with pytest.raises(ValueError, match=r"^x must hold only finite real numbers, got nan \(1 of 2 entries\)"):
        core.check_real_array("x", [1.0, np.nan])
    with pytest.raises(ValueError, match=r"finite numbers in \[0, 1\], got 1.5 \(2 of 3 entries\)"):
        core.check_real_array("x", [0.5, 1.5, 2.0], 0, 1)


def test_notebook_digest_ignores_outputs_and_metadata_but_not_sources_or_cell_types(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# t"]},
             {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None}]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    digest = lambda: core.notebook_digest(core.atomic_write_json(tmp_path / "a.ipynb", nb))
    h = digest()
    assert len(h) == 16 and int(h, 16) >= 0
    cells[1].update(outputs=[{"output_type": "stream", "name": "stdout", "text": "1\n"}], execution_count=3,
                    metadata={"tags": ["x"]}, id="abc")
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "python3", "language": "python"}
    assert digest() == h  # executing, tagging or a kernelspec: same sources, same hash
    cells[1]["source"] = "x = 1\r\n"
    h_crlf = digest()
    cells[1]["source"] = "x = 1\n"
    assert digest() == h_crlf != h  # line endings do not count, a new line does
    cells[1]["source"] = "x = 2"
    assert digest() != h
    cells[1]["source"] = "x = 1"
    cells[0] = {"cell_type": "code", "metadata": {}, "source": "# t", "outputs": [], "execution_count": None}
    assert digest() != h  # the same text as code is another notebook
