#!/usr/bin/env python
"""Committed notebook outputs: write them (`make notebooks`) and check they are current (`make test`).

    python scripts/notebook_outputs.py write [NB ...] [--jobs 2]   # execute, store outputs, nbdev_clean
    python scripts/notebook_outputs.py check [NB ...] [--jobs 2]   # execute a copy, compare, exit 1 if stale
    python scripts/notebook_outputs.py check --cpu generic [NB ...] # the same on a simulated other CPU

Default notebooks: the library chapters (`nbs/*.ipynb` with a `#| default_exp` cell) and `nbs/index.ipynb`.
The experiment notebooks (`nbs/experiments/`) stay without outputs; their outputs are the figures.

Execution: a real kernel (nbclient, `python3` = this interpreter), working directory `nbs/`, matplotlib's
inline backend (figures as PNG), `PYTHONHASHSEED=0`, `SOURCE_DATE_EPOCH=0`. Cells nbdev_test skips are
skipped here too and keep no output: `#| eval: false` and the `tst_flags` of settings.ini (`#| slow`,
`#| gpu`). So the outputs are those of the cells `nbdev_test` runs.

Comparison (`check`), cell by cell, after nbdev_clean's normalisation (execution counts dropped, `at 0x..`
addresses in text replaced):
- text (streams, `text/plain`, `text/markdown`, `text/html`, ...): exactly. A printed number that changes
  between runs or machines is a defect of the chapter: print what is stable (rounded, or a check's verdict).
- images (`image/png`): equal bytes, or else the same pixel size and at most 0.01 % of the pixels differing
  by more than a quarter of the full scale in any channel. Not bytes only: the PNG encoder (zlib level,
  metadata chunks such as matplotlib's version) and sub-pixel anti-aliasing change bytes, or many pixels
  by a little, without changing the plot. Not looser: a changed plot moves a curve (a few % of the pixels
  here) or relabels an axis (a few hundredths of a %), by a lot. Text is compared exactly anyway; the
  matplotlib wheels bundle their own FreeType, so glyphs render the same on every machine.
- errors in a cell fail both commands.
Volatile text fails both commands even when it happens to match: memory addresses, dates, clock times and
`%time`-style timings (patterns below). Run `write` after changing a chapter; `check` tells which cell is stale.

`--cpu generic` (`make check-outputs-generic`) runs the kernels as on another, older CPU: numba compiles for
LLVM's `generic` x86-64 (`NUMBA_CPU_NAME=generic`, no FMA, no AVX) into a fresh, temporary `NUMBA_CACHE_DIR`;
NumPy keeps off every SIMD path it dispatches to at run time (`NPY_DISABLE_CPU_FEATURES`: the dispatch
targets this NumPy found on this CPU), OpenBLAS (NumPy's and SciPy's matrix products) takes its kernels for an
old SSE3 CPU (`OPENBLAS_CORETYPE=Prescott`), and glibc's libm takes its plain SSE2 code instead of its
FMA/AVX2 variants (`GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX2,-FMA,...`; ignored elsewhere). The last bits of
many results change (that is the point); committed text written on the host must not.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import configparser
import copy
import io
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
TIMEOUT = 900  # seconds per cell
PIXEL_DELTA = 0.25  # a pixel differs if some channel moved by more than this (of the full scale 1)
PIXEL_FRACTION = 1e-4  # tolerated fraction of differing pixels (~40 in a 600x640 figure)
VOLATILE = [
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "a memory address"),
    (re.compile(r"\b(?:19|20)\d\d-\d\d-\d\d\b"), "a date"),
    (re.compile(r"\b\d\d:\d\d:\d\d\b"), "a clock time"),
    (re.compile(r"\b(?:Wall time|CPU times|per loop)\b|\b\d+(?:\.\d+)?\s?(?:ms|µs|us|ns) ±"), "a timing"),
    (re.compile(r"\belapsed\b|\btook \d", re.I), "a timing"),
]
DIRECTIVE_RE = re.compile(r"^\s*#\s*\|\s*([\w-]+):?\s*(.*?)\s*$")
GLIBC_OFF = "-AVX2,-FMA,-FMA4,-AVX512F,-AVX2_Usable,-FMA_Usable,-FMA4_Usable,-AVX512F_Usable"  # old and new names
OPENBLAS_CORE = "Prescott"  # OpenBLAS's SSE3 kernels (its builds with DYNAMIC_ARCH, as NumPy's and SciPy's wheels)


def default_notebooks() -> list[Path]:
    chapters = [p for p in sorted(NBS.glob("*.ipynb"))
                if not p.name.startswith(("_", ".")) and re.search(r"#\s*\|\s*default_exp\b", p.read_text())]
    index = NBS / "index.ipynb"
    return chapters + ([index] if index.exists() else [])


def tst_flags() -> set[str]:
    cp = configparser.ConfigParser()
    cp.read(ROOT / "settings.ini")
    return set(cp["DEFAULT"].get("tst_flags", "").split())


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def skipped(cell, flags: set[str]) -> bool:
    """True for the code cells nbdev_test does not run: `#| eval: false` and `#| <tst_flag>`."""
    for line in _src(cell).splitlines():
        m = DIRECTIVE_RE.match(line)
        if not m:
            if line.strip():
                break
            continue
        key, val = m.groups()
        if (key == "eval" and val.lower() == "false") or key in flags:
            return True
    return False


def numpy_dispatch_features() -> list[str]:
    """The CPU features NumPy dispatches to at run time and found on this CPU (those it lets one disable)."""
    try:
        from numpy._core import _multiarray_umath as mu
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as mu
    return [f for f in mu.__cpu_dispatch__ if mu.__cpu_features__.get(f)]


def generic_cpu_env(cache_dir) -> dict[str, str]:
    """Environment for kernels that compute as on a generic x86-64 CPU (see the module docstring)."""
    tunables = [t for t in os.environ.get("GLIBC_TUNABLES", "").split(":") if t]
    env = {"NUMBA_CPU_NAME": "generic", "NUMBA_CPU_FEATURES": "", "NUMBA_CACHE_DIR": str(cache_dir)}
    if platform.machine().lower() in ("x86_64", "amd64"):
        env.update(GLIBC_TUNABLES=":".join(tunables + [f"glibc.cpu.hwcaps={GLIBC_OFF}"]), OPENBLAS_CORETYPE=OPENBLAS_CORE)
    features = os.environ.get("NPY_DISABLE_CPU_FEATURES", "").split() + numpy_dispatch_features()
    if features:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(features)
    return env


# --------------------------------------------------------------------------- execute
def execute(path: Path, env_extra: dict[str, str] | None = None):
    """The notebook executed in a fresh kernel (a copy; `path` is not touched), or raise with the cell.
    `env_extra`: environment variables for the kernel on top of this process's (e.g. `generic_cpu_env`)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    flags = tst_flags()
    run = copy.deepcopy(nb)
    for cell in run.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            if skipped(cell, flags):
                cell.metadata.setdefault("tags", []).append("skip-execution")
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "IN_TEST")}  # inline backend: PNG
    env.update(PYTHONHASHSEED="0", SOURCE_DATE_EPOCH="0", **(env_extra or {}))
    client = NotebookClient(run, timeout=TIMEOUT, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}},
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])  # no TCP notice
    client.execute(env=env)
    for cell in run.cells:
        if cell.cell_type == "code":
            cell.metadata["tags"] = [t for t in cell.metadata.get("tags", []) if t != "skip-execution"]
            if not cell.metadata["tags"]:
                del cell.metadata["tags"]
    return run


def normalise(nb) -> list[list[dict]]:
    """Per code cell, its outputs as nbdev_clean leaves them (a copy)."""
    from nbdev.clean import clean_nb

    nb = copy.deepcopy(nb)
    clean_nb(nb, clear_all=False, allowed_metadata_keys=[], allowed_cell_metadata_keys=["tags"], clean_ids=True)
    out = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        outs = []
        for o in cell.get("outputs", []):
            o = dict(o)
            o.pop("execution_count", None)
            o.pop("metadata", None)
            if "text" in o:
                o["text"] = "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
            if "data" in o:
                o["data"] = {k: ("".join(v) if isinstance(v, list) else v) for k, v in o["data"].items()}
            outs.append(o)
        out.append(_merge_streams(outs))
    return out


def _merge_streams(outs: list[dict]) -> list[dict]:
    """Consecutive stream outputs of one name are one text (how they are split depends on timing)."""
    merged = []
    for o in outs:
        if o.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream" \
                and merged[-1]["name"] == o["name"]:
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + o["text"]}
        else:
            merged.append(o)
    return merged


def _texts(o: dict):
    if o.get("output_type") == "stream":
        yield o["text"]
    for k, v in o.get("data", {}).items():
        if not k.startswith("image/") or k == "image/svg+xml":
            yield v if isinstance(v, str) else str(v)


def volatile(outputs: list[list[dict]]) -> list[str]:
    """`cell N: <what>: <snippet>` for every output that looks run-dependent."""
    found = []
    for i, outs in enumerate(outputs):
        for o in outs:
            for text in _texts(o):
                for rx, what in VOLATILE:
                    m = rx.search(text)
                    if m:
                        found.append(f"code cell {i}: {what}: {text[max(0, m.start() - 40):m.end() + 20]!r}")
    return found


# --------------------------------------------------------------------------- compare
def _png(b64: str):
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(base64.b64decode(b64)), format="png")
    return img if img.ndim == 3 else img[..., None]


def same_image(a: str, b: str) -> tuple[bool, str]:
    """Robust PNG equality (see the module docstring)."""
    import numpy as np

    if a == b:
        return True, ""
    x, y = _png(a), _png(b)
    if x.shape[:2] != y.shape[:2]:
        return False, f"image size {x.shape[1]}x{x.shape[0]} -> {y.shape[1]}x{y.shape[0]}"
    c = min(x.shape[2], y.shape[2], 3)
    frac = float(np.mean(np.max(np.abs(x[..., :c] - y[..., :c]), axis=2) > PIXEL_DELTA))
    return frac <= PIXEL_FRACTION, f"{100 * frac:.2f} % of the pixels differ"


def compare(committed: list[list[dict]], fresh: list[list[dict]]) -> list[str]:
    """Differences, one line per stale code cell."""
    if len(committed) != len(fresh):
        return [f"{len(committed)} code cells committed, {len(fresh)} executed"]
    diffs = []
    for i, (a, b) in enumerate(zip(committed, fresh)):
        if len(a) != len(b):
            diffs.append(f"code cell {i}: {len(a)} outputs committed, {len(b)} now")
            continue
        for oa, ob in zip(a, b):
            why = _diff_output(oa, ob)
            if why:
                diffs.append(f"code cell {i}: {why}")
                break
    return diffs


def _diff_output(a: dict, b: dict) -> str:
    if a.get("output_type") != b.get("output_type") or a.get("name") != b.get("name"):
        return f"output kind {a.get('output_type')}/{a.get('name')} -> {b.get('output_type')}/{b.get('name')}"
    if a.get("output_type") == "stream":
        return "" if a["text"] == b["text"] else f"text {_short(a['text'])} -> {_short(b['text'])}"
    da, db = a.get("data", {}), b.get("data", {})
    if set(da) != set(db):
        return f"output types {sorted(da)} -> {sorted(db)}"
    for k in da:
        if k.startswith("image/") and k != "image/svg+xml":
            ok, why = same_image(da[k], db[k]) if k == "image/png" else (da[k] == db[k], "image differs")
            if not ok:
                return f"{k}: {why}"
        elif da[k] != db[k]:
            return f"{k} {_short(str(da[k]))} -> {_short(str(db[k]))}"
    return ""


def _short(s: str, n: int = 160) -> str:
    s = s if len(s) <= n else s[: n // 2] + " ... " + s[-n // 2:]
    return repr(s)


# --------------------------------------------------------------------------- commands
def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def write_one(path: Path, env_extra: dict[str, str] | None = None) -> list[str]:
    """Execute `path` and store its outputs in it (sources untouched), then nbdev_clean it."""
    import nbformat

    from smoothgrad.core import atomic_write

    fresh = execute(path, env_extra)
    problems = volatile(normalise(fresh))
    if problems:
        return [f"{_rel(path)}: volatile output, not written: {p}" for p in problems]
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    new = [c for c in fresh.cells if c.cell_type == "code"]
    if [_src(c) for c in code] != [_src(c) for c in new]:
        return [f"{_rel(path)}: the notebook changed while it ran; run again"]
    for c, f in zip(code, new):
        c.outputs, c.execution_count = f.outputs, None
    text = nbformat.writes(nb)
    atomic_write(path, text if text.endswith("\n") else text + "\n")
    r = subprocess.run([str(Path(sys.executable).with_name("nbdev_clean")), "--fname", str(path)],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        return [f"{_rel(path)}: nbdev_clean failed: {r.stderr[-500:]}"]
    return []


def check_one(path: Path, env_extra: dict[str, str] | None = None) -> list[str]:
    """Stale or volatile committed outputs of `path`, one line each (empty: current)."""
    import nbformat

    committed = normalise(nbformat.read(path, as_version=4))
    fresh = normalise(execute(path, env_extra))
    problems = [f"volatile: {p}" for p in volatile(committed)] + compare(committed, fresh)
    return [f"{_rel(path)}: {p}" for p in problems]


def _run(cmd: str, path: Path, env_extra: dict[str, str] | None = None) -> tuple[Path, list[str]]:
    try:
        return path, (write_one if cmd == "write" else check_one)(path, env_extra)
    except Exception as exc:  # a failing cell: report it like nbdev_test does
        msg = str(exc).strip().splitlines()
        return path, [f"{_rel(path)}: execution failed: " + "\n    ".join(msg[-25:])]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["write", "check"])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cpu", choices=["host", "generic"], default="host",
                    help="generic: numba, NumPy, OpenBLAS and libm as on a generic x86-64 CPU (module docstring)")
    a = ap.parse_intermixed_args(argv)
    paths = [p.resolve() for p in a.notebooks] or default_notebooks()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        ap.error(f"no such notebook: {', '.join(missing)}")
    problems = []
    with tempfile.TemporaryDirectory(prefix="numba-generic-") as cache:
        env_extra = generic_cpu_env(cache) if a.cpu == "generic" else None
        if env_extra:
            print("[outputs] simulated CPU: " + " ".join(f"{k}={v!r}" for k, v in env_extra.items()), flush=True)
        with cf.ThreadPoolExecutor(max(1, a.jobs)) as pool:  # each job drives its own kernel process
            for path, probs in pool.map(lambda p: _run(a.command, p, env_extra), paths):
                state = "ok" if not probs else ("STALE" if a.command == "check" else "FAILED")
                print(f"[outputs] {a.command} {_rel(path)}: {state}", flush=True)
                problems += probs
    for p in problems:
        print(p)
    if problems and a.command == "check":
        print("committed outputs are stale or volatile: run `make notebooks` and commit the notebooks")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
