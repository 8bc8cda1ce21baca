#!/usr/bin/env python
"""Committed notebook outputs: write them (`make notebooks`) and check they are current (`make test`).

    python scripts/notebook_outputs.py write [NB ...] [--jobs 2]   # execute, store outputs, nbdev_clean
    python scripts/notebook_outputs.py check [NB ...] [--jobs 2]   # execute a copy, compare, exit 1 if stale

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
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import configparser
import copy
import io
import os
import re
import subprocess
import sys
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


# --------------------------------------------------------------------------- execute
def execute(path: Path):
    """The notebook executed in a fresh kernel (a copy; `path` is not touched), or raise with the cell."""
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
    env.update(PYTHONHASHSEED="0", SOURCE_DATE_EPOCH="0")
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


def write_one(path: Path) -> list[str]:
    """Execute `path` and store its outputs in it (sources untouched), then nbdev_clean it."""
    import nbformat

    fresh = execute(path)
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
    tmp = path.with_name(f".{path.stem}.outputs.ipynb")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    r = subprocess.run([str(Path(sys.executable).with_name("nbdev_clean")), "--fname", str(path)],
                       capture_output=True, text=True, cwd=ROOT)
    if r.returncode:
        return [f"{_rel(path)}: nbdev_clean failed: {r.stderr[-500:]}"]
    return []


def check_one(path: Path) -> list[str]:
    """Stale or volatile committed outputs of `path`, one line each (empty: current)."""
    import nbformat

    committed = normalise(nbformat.read(path, as_version=4))
    fresh = normalise(execute(path))
    problems = [f"volatile: {p}" for p in volatile(committed)] + compare(committed, fresh)
    return [f"{_rel(path)}: {p}" for p in problems]


def _run(cmd: str, path: Path) -> tuple[Path, list[str]]:
    try:
        return path, (write_one if cmd == "write" else check_one)(path)
    except Exception as exc:  # a failing cell: report it like nbdev_test does
        msg = str(exc).strip().splitlines()
        return path, [f"{_rel(path)}: execution failed: " + "\n    ".join(msg[-25:])]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["write", "check"])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args(argv)
    paths = [p.resolve() for p in a.notebooks] or default_notebooks()
    problems = []
    with cf.ThreadPoolExecutor(max(1, a.jobs)) as pool:  # each job drives its own kernel process
        for path, probs in pool.map(lambda p: _run(a.command, p), paths):
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
