"""Issue 18: a full disk or a signal never destroys an existing file the package writes.

Each writer (core.atomic_write/atomic_write_json, results.save_results/write_results/update_readme, the run log of
reproduce, train.atomic_savez/save_checkpoint, TTFSNetwork.save) first writes a file on a small folder, then runs
again with the disk full: it must raise an OSError and leave the old file byte for byte, with no temporary file
beside it. The disk is really full on a 1 MiB tmpfs where the test may mount one (root); everywhere a second
variant injects the failure into the write itself (half the bytes written, then ENOSPC) and into `os.replace`."""
import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from smoothgrad import core, results
from smoothgrad.reproduce import update_run_log
from smoothgrad.train import atomic_savez
from smoothgrad.ttfs import TTFSNetwork


# ---- the two kinds of full disk ---------------------------------------------------------------------------------
def _fill(folder: Path):
    "Write a filler file in `folder` until its filesystem is full (ENOSPC)."
    with open(folder / "filler", "wb", buffering=0) as f:
        for size in (4096, 512, 1):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError as err:
                assert err.errno == errno.ENOSPC
    assert os.statvfs(folder).f_bavail == 0


@pytest.fixture
def tmpfs(tmp_path):
    "A 1 MiB tmpfs mounted at a fresh folder (skipped where mounting is not permitted)."
    mnt = tmp_path / "small"
    mnt.mkdir()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip(f"mount not permitted here: {r.stderr.decode().strip()[:80]}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


class _HalfWriter(io.RawIOBase):
    "A file object that writes half of what it is given, then fails as a full disk does."

    def __init__(self, f):
        self.f = f

    def write(self, b):
        b = bytes(b)
        self.f.write(b[: len(b) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, "No space left on device (injected)")

    def writable(self):
        return True

    def fileno(self):
        return self.f.fileno()

    def close(self):
        self.f.close()
        super().close()


def _inject_write(monkeypatch):
    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: _HalfWriter(real(fd, *a, **k)))


def _inject_replace(monkeypatch):
    def fail(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device (injected into os.replace)")
    monkeypatch.setattr(os, "replace", fail)


# ---- the writers ---------------------------------------------------------------------------------------------
def _net():
    return TTFSNetwork((6, 4, 3), T=2.0, dtype=np.float64, seed=1)


def _readme_case(d: Path):
    "results.json/results.md of an empty folder, and a README with the markers and text after them."
    results.write_results(d)
    readme = d / "README.md"
    readme.write_text(f"# Title\n\n{results.README_START}\nold table\n{results.README_END}\n\n## After\n" + "x" * 3000)
    return readme


WRITERS = {  # name: (setup(d) -> the file written, rewrite(d) that must fail on a full disk)
    "atomic_write": (lambda d: core.atomic_write(d / "a.txt", "old\n"),
                     lambda d: core.atomic_write(d / "a.txt", "new " * 20000)),
    "atomic_write_json": (lambda d: core.atomic_write_json(d / "a.json", {"old": 1}),
                          lambda d: core.atomic_write_json(d / "a.json", {"new": list(range(20000))})),
    "save_results": (lambda d: results.save_results("fig2", {"old": 1.0}, d, "quick", seed=0),
                     lambda d: results.save_results("fig2", {"new": list(range(20000))}, d, "quick", seed=0)),
    "write_results": (lambda d: core.atomic_write_json(d / "results.json", {"about": "old", "claims": []}),
                      lambda d: results.write_results(d)),
    "update_readme": (_readme_case,
                      lambda d: results.update_readme(d / "README.md", d / "results.md")),
    "update_run_log": (lambda d: (update_run_log(d, [dict(name="fig1", mode="quick", status="ok", seconds=1.5)]),
                                  d / "runs.json")[1],
                       lambda d: update_run_log(d, [dict(name=f"fig{i}", mode="quick", status="ok", seconds=2.0)
                                                    for i in range(2000)])),
    "atomic_savez": (lambda d: atomic_savez(d / "ck.npz", a=np.arange(10.0)),
                     lambda d: atomic_savez(d / "ck.npz", a=np.arange(20000.0))),
    "TTFSNetwork.save": (lambda d: _net().save(d / "net.npz") or d / "net.npz",
                         lambda d: TTFSNetwork((60, 40, 3), T=2.0, dtype=np.float64).save(d / "net.npz")),
}


def _snapshot(d: Path) -> dict:
    "Every file in `d` (but the filler and lock files) with its bytes."
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())
            if p.is_file() and p.name != "filler" and not p.name.endswith(".lock")}


def _check_nothing_lost(d, setup, rewrite, fail):
    d.mkdir(exist_ok=True)
    written = Path(setup(d))
    assert written.is_file() and written.stat().st_size > 0
    before = _snapshot(d)
    fail(d)
    with pytest.raises(OSError) as info:
        rewrite(d)
    assert info.value.errno == errno.ENOSPC, info.value
    assert _snapshot(d) == before  # old files byte for byte, and no temporary file left beside them


@pytest.mark.parametrize("name", list(WRITERS))
def test_full_tmpfs_keeps_old_file(name, tmpfs):
    _check_nothing_lost(tmpfs, *WRITERS[name], fail=_fill)


@pytest.mark.parametrize("name", list(WRITERS))
@pytest.mark.parametrize("where", ["write", "replace"])
def test_injected_full_disk_keeps_old_file(name, where, tmp_path, monkeypatch):
    inject = {"write": _inject_write, "replace": _inject_replace}[where]
    _check_nothing_lost(tmp_path / "d", *WRITERS[name], fail=lambda d: inject(monkeypatch))


def test_cli_results_only_on_full_disk(tmpfs):
    "`smoothgrad reproduce --results-only --out F` on a full disk: a non-zero exit and results.json intact."
    results.write_results(tmpfs)
    core.atomic_write_json(tmpfs / "results.json", {"about": "old", "claims": []})
    before = _snapshot(tmpfs)
    _fill(tmpfs)
    r = subprocess.run([sys.executable, "-m", "smoothgrad.reproduce", "--results-only", "--out", str(tmpfs)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0, r.stdout + r.stderr
    assert _snapshot(tmpfs) == before
    assert json_valid(tmpfs / "results.json")


def json_valid(p):
    import json
    return isinstance(json.loads(p.read_text()), dict)


# ---- signals during a checkpoint write --------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import os, signal, sys, time, numpy as np
    from smoothgrad.train import atomic_savez
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, even if started with SIGINT ignored
    path, slow = sys.argv[1], sys.argv[2] == "1"
    big = np.arange(300_000, dtype=np.float64)
    atomic_savez(path, a=big, v=np.int64(0))
    real_fsync = os.fsync
    def fsync(fd):  # the signal arrives while the temporary file is complete but not yet in place
        print("syncing", flush=True)
        time.sleep(3.0 if slow else 0.0)
        real_fsync(fd)
    os.fsync = fsync
    for i in range(1, 10**6):
        atomic_savez(path, a=big + i, v=np.int64(i))
""")


@pytest.mark.parametrize("sig, slow", [
    (signal.SIGINT, True), (signal.SIGTERM, True), (signal.SIGINT, False), (signal.SIGTERM, False)],
    ids=["SIGINT-in-write", "SIGTERM-in-write", "SIGINT-any-time", "SIGTERM-any-time"])
def test_signal_during_checkpoint_write(sig, slow, tmp_path):
    """A signal in a stream of checkpoint writes (`in-write`: while a temporary file exists) leaves one complete
    checkpoint, the old or the new, and no temporary file."""
    path = tmp_path / "ck.npz"
    for delay in ((0.0,) if slow else (0.01, 0.1, 0.3)):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "1" if slow else "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "syncing"
            time.sleep(delay)
            proc.send_signal(sig)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode != 0
        with np.load(path) as d:  # complete: the old or the new checkpoint, never a mixture
            v = int(d["v"])
            assert np.array_equal(d["a"], np.arange(300_000, dtype=np.float64) + v)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"], "a temporary file was left behind"
