#!/usr/bin/env python
"""Build the offline documentation site with Sphinx + myst-nb (sphinx-book-theme): `make docs`.

1. **nbdev processing** (`nbdev.serve_drv.main` with nbdev's `FilterDefaults`, the very processors
   `nbdev_proc_nbs` applies): frontmatter from the title cell, `show_doc` entries after exported
   cells, exported/hidden cells removed, ANSI stripped. Written to the git-ignored `_proc/`, cached per
   notebook by a hash of the notebook and of the library sources. We call nbdev's processing directly
   instead of the `nbdev_proc_nbs` command because that command first looks for Quarto and, when it is
   missing (here), tries `sudo` and then `pip install -e .[dev]` of the current folder.
2. **Sphinx bridge**: nbdev leaves Quarto cell options (`#| echo: false`, ...); they become the myst-nb
   tags (`remove-input`, ...); the frontmatter becomes the page title; experiment pages show their
   figure `figures/<name>.png` at the top; the landing page gets the table of contents.
3. **sphinx-build** with `docs/conf.py`: no execution (the committed outputs are rendered; nbdev
   re-executed only the import/export/`show_doc` cells), MathJax 2 from the local
   `jupyter-server-mathjax` package, full-text search, a sidebar.

Which notebooks: `nbs/index.ipynb`, the library chapters `nbs/[0-9]*.ipynb` (sorted) and
`nbs/experiments/*.ipynb` (sorted), found by glob.

Usage: `python scripts/docs.py [--out _docs] [--jobs 2] [--only index 00_neurons]`
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures as cf
import hashlib
import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
LIB = ROOT / "smoothgrad"
FIGURES = ROOT / "figures"
STAGE = ROOT / "_proc"  # nbdev's own cache folder name (git-ignored)
CONF = ROOT / "docs"
CACHE_KEY = "smoothgrad_docs_hash"

# Quarto cell options (left by nbdev's processors) -> myst-nb cell tags
OPTION_TAGS = {("echo", "false"): "remove-input", ("output", "false"): "remove-output",
               ("include", "false"): "remove-cell", ("hide", ""): "remove-cell"}
OPTION_RE = re.compile(r"^\s*#\s*\|\s*([\w-]+):?\s*(.*?)\s*$")


def log(msg: str) -> None:
    print(f"[docs] {msg}", flush=True)


def discover() -> list[Path]:
    """Notebooks of the site in reading order, relative to nbs/: index, chapters, experiments."""
    chapters = sorted(p for p in NBS.glob("[0-9]*.ipynb"))
    experiments = sorted((NBS / "experiments").glob("*.ipynb"))
    pages = ([NBS / "index.ipynb"] if (NBS / "index.ipynb").exists() else []) + chapters + experiments
    return [p.relative_to(NBS) for p in pages if not p.name.startswith(("_", "."))]


def _library_digest() -> str:
    h = hashlib.sha256()
    for p in sorted(LIB.rglob("*.py")):
        h.update(p.relative_to(LIB).as_posix().encode() + p.read_bytes())
    h.update((ROOT / "settings.ini").read_bytes())
    return h.hexdigest()


def _digest(rel: Path, lib: str) -> str:
    return hashlib.sha256((NBS / rel).read_bytes() + lib.encode()).hexdigest()


def _nbdev_process(job: tuple[str, str]) -> tuple[str, str | None, list[str], float]:
    """Run nbdev's docs processors on one notebook (in a worker process, cwd = repo root).
    Returns (notebook, error or None, nbdev's warnings as one line each, seconds)."""
    import contextlib
    import io
    import warnings

    src, dst = map(Path, job)
    os.chdir(ROOT)
    os.environ.setdefault("MPLBACKEND", "Agg")
    t0, err, caught = time.time(), None, []
    noise = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(noise), \
                contextlib.redirect_stderr(noise):
            warnings.simplefilter("always")
            import nbdev.serve_drv
            from nbdev.processors import FilterDefaults

            nbdev.serve_drv.main((src, dst, FilterDefaults))
    except Exception as exc:  # report which notebook and cell, keep going with the others
        cause = exc.__cause__ or exc
        err = f"{exc}\n{type(cause).__name__}: {cause}"
    return str(src), err, _warning_lines(caught, src), time.time() - t0


def _warning_lines(caught, src: Path) -> list[str]:
    """nbdev's warnings, one line each: a cell mixing imports and other code (nbdev prints the whole cell) is
    named by its index in the notebook."""
    lines, sources = [], None
    for w in caught:
        msg = str(w.message)
        if msg.startswith("Found cells containing imports and other code"):
            if sources is None:
                sources = ["".join(c.get("source", "")) if isinstance(c.get("source"), list) else c.get("source", "")
                           for c in json.loads(src.read_text())["cells"]]
            body = msg.split("---\n", 1)[-1].rsplit("\n---", 1)[0].strip()
            where = [str(i) for i, c in enumerate(sources) if c.strip() == body]
            lines.append(f"cell {', '.join(where) or '?'} mixes imports and other code (nbdev's FAQ: split it)")
        elif not issubclass(w.category, DeprecationWarning):
            lines.append(f"{w.category.__name__}: {msg.splitlines()[0] if msg else ''}")
    return list(dict.fromkeys(lines))


def nbdev_stage(pages: list[Path], jobs: int, keep_going: bool = False) -> list[Path]:
    """nbdev-process every page into STAGE (skipping unchanged ones); raise on any failure unless
    `keep_going` (then the failed pages are left out). Returns the failed pages."""
    lib = _library_digest()
    todo = []
    for rel in pages:
        dst = STAGE / rel
        key = _digest(rel, lib)
        if dst.exists():
            try:
                if json.loads(dst.read_text())["metadata"].get(CACHE_KEY) == key:
                    continue
            except (ValueError, KeyError):
                pass
        dst.parent.mkdir(parents=True, exist_ok=True)
        todo.append((rel, key))
    log(f"nbdev processing {len(todo)} of {len(pages)} notebooks ({len(pages) - len(todo)} cached)")
    if not todo:
        return []
    jobs_ = [(str(NBS / rel), str(STAGE / rel)) for rel, _ in todo]
    # a fresh process per notebook, as nbdev does (spawn): its IPython shell and numba state stay apart
    results, n_warn = {}, 0
    with cf.ProcessPoolExecutor(max(1, min(jobs, len(jobs_))), mp_context=mp.get_context("spawn"),
                                max_tasks_per_child=1) as pool:
        for fut in cf.as_completed([pool.submit(_nbdev_process, j) for j in jobs_]):
            src, err, warns, seconds = fut.result()
            results[src] = err
            n_warn += len(warns)
            state = "FAILED" if err else f"{len(warns)} warning(s): " + "; ".join(warns) if warns else "ok"
            log(f"[{len(results)}/{len(jobs_)}] {Path(src).relative_to(NBS).as_posix()} {seconds:.0f} s: {state}")
    log(f"nbdev processing: {len(jobs_)} notebook(s), {sum(map(bool, results.values()))} failed, {n_warn} warning(s)")
    failed = {k: v for k, v in results.items() if v}
    for src, err in failed.items():
        log(f"FAILED {Path(src).relative_to(ROOT)}:\n{err}\n(nbdev executes only the cells with imports, "
            "exports or show_doc for the docs: keep imports in cells of their own)")
    if failed and not keep_going:
        raise SystemExit(1)
    for rel, key in todo:
        if str(NBS / rel) in failed:
            (STAGE / rel).unlink(missing_ok=True)
            continue
        nb = json.loads((STAGE / rel).read_text())
        nb["metadata"][CACHE_KEY] = key
        (STAGE / rel).write_text(json.dumps(nb, indent=1))
    return [rel for rel, _ in todo if str(NBS / rel) in failed]


# --------------------------------------------------------------------------- nbdev -> Sphinx
def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _frontmatter(text: str) -> dict:
    """nbdev's YAML frontmatter (`title`, `description`, `output-file`, ...) of a raw cell."""
    import yaml

    body = text.strip()
    body = body[3:] if body.startswith("---") else body
    body = body[:-3] if body.endswith("---") else body
    data = yaml.safe_load(body) or {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def title_cell_text(source_nb: dict) -> tuple[str, str]:
    """(description, body) of a notebook's title cell, as written. nbdev's frontmatter keeps only the
    first `>` line as the description and drops the rest of that cell; the docs keep all of it."""
    for cell in source_nb.get("cells", []):
        if cell["cell_type"] != "markdown":
            continue
        lines = _src(cell).splitlines()
        if not any(re.match(r"#\s+\S", ln) for ln in lines):
            return "", ""
        quote = [ln[1:].strip() for ln in lines if ln.startswith(">")]
        body = [ln for ln in lines if not re.match(r"#\s+\S|>|-\s+\S.*:.*\S\s*$", ln)]
        return " ".join(quote), "\n".join(body).strip()
    return "", ""


def cell_options_to_tags(cell) -> None:
    """Move leading `#| option: value` lines of a code cell into myst-nb tags (dropping the lines)."""
    lines = _src(cell).splitlines()
    tags = list(cell.setdefault("metadata", {}).get("tags", []))
    while lines and OPTION_RE.match(lines[0]):
        key, val = OPTION_RE.match(lines[0]).groups()
        tag = OPTION_TAGS.get((key, val.lower()))
        if tag and tag not in tags:
            tags.append(tag)
        lines.pop(0)
    cell["source"] = "\n".join(lines)
    if tags:
        cell["metadata"]["tags"] = tags


def figures_for(rel: Path) -> list[Path]:
    """The committed figures an experiment notebook produces: figures/<name>.png, and from a paper-mode
    run figures/<name>_paper.png or figures/paper/<name>.png (those that exist)."""
    if rel.parts[0] != "experiments":
        return []
    names = (f"{rel.stem}.png", f"{rel.stem}_paper.png", f"paper/{rel.stem}.png")
    return [FIGURES / n for n in names if (FIGURES / n).exists()]


def to_sphinx(nb: dict, rel: Path, pages: list[Path], doc_map: dict[str, str], api: dict[str, str],
              source_nb: dict | None = None) -> dict:
    """Rewrite one nbdev-processed notebook for myst-nb (see the module docstring, step 2)."""
    cells, title = [], None
    description, body = title_cell_text(source_nb or {})
    for cell in nb["cells"]:
        src = _src(cell)
        if cell["cell_type"] == "raw" and src.lstrip().startswith("---"):
            fm = _frontmatter(src)
            title = fm.get("title", rel.stem)
            text = f"# {title}\n"
            if description or fm.get("description"):
                text += f"\n> {description or fm['description']}\n"
            if body:
                text += "\n" + body + "\n"
            cells.append({"cell_type": "markdown", "metadata": {}, "source": link_api(_local_links(text, rel, doc_map),
                                                                                      rel, api)})
            continue
        if cell["cell_type"] == "code":
            cell_options_to_tags(cell)
            if not _src(cell).strip() and not cell.get("outputs"):
                continue  # exported cells: nbdev removed their source, their show_doc follows
        elif cell["cell_type"] == "markdown":
            cell["source"] = link_api(_local_links(src, rel, doc_map), rel, api)
        for out in cell.get("outputs", []):
            md = out.get("data", {}).get("text/markdown")
            if md is not None:
                md = "".join(md) if isinstance(md, list) else md
                md = re.sub(r"\A\s*---\s*\n", "", md)  # show_doc's leading rule: no transitions in Sphinx
                out["data"]["text/markdown"] = _local_links(md, rel, doc_map)
        cells.append(cell)
    at = 1 if cells and cells[0]["cell_type"] == "markdown" else 0
    for png in reversed(figures_for(rel)):
        name = png.relative_to(FIGURES).as_posix()
        shown = re.compile(r"(?:!\[[^\]]*\]\(|<img[^>]*)[^)>]*?figures/" + re.escape(name))
        if not any(shown.search(_src(c)) for c in cells):
            cells.insert(at, {"cell_type": "markdown", "metadata": {},
                              "source": f"![The figure this notebook writes: figures/{name}]({_up(rel)}figures/{name})\n"})
    if rel == Path("index.ipynb"):
        cells.append({"cell_type": "markdown", "metadata": {}, "source": _toctree(pages, sorted(api_pages()))})
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i}"
    nb["cells"] = cells
    nb["nbformat"], nb["nbformat_minor"] = 4, max(5, nb.get("nbformat_minor", 5))
    nb["metadata"].pop("jupytext", None)
    return nb


def _up(rel: Path) -> str:
    return "../" * (len(rel.parts) - 1)


def _local_links(text: str, rel: Path, doc_map: dict[str, str]) -> str:
    """Links nbdev points at `doc_host` (`<module>.html#name`) go to the local chapter page instead;
    links to the repository's figures/ folder go to the staged copy."""
    up = "../" * (len(rel.parts) - 1)

    def repl(m):
        page, anchor = m.group(1), m.group(2) or ""
        stem = doc_map.get(page)
        return f"]({up}{stem}.ipynb{anchor})" if stem else m.group(0)

    text = re.sub(r"\]\(https?://[^)\s]*?/([\w.-]+\.html)(#[^)\s]*)?\)", repl, text)
    return re.sub(r"(?:\.\./)+figures/", f"{up}figures/", text)


SHOWDOC_HEADING_RE = re.compile(r"^#{2,4} ([A-Za-z_][\w.]*)\s*$", re.M)
BACKTICK_RE = re.compile(r"(?<![\[\w`])`((?:smoothgrad\.)?[A-Za-z_][\w.]*?)(\(\))?`(?![\]`(])")


def _anchor(title: str) -> str:
    """myst-parser's heading slug (lower case, punctuation but `-`/`_` dropped, spaces to `-`)."""
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")


def api_index(pages: list[Path]) -> dict[str, str]:
    """Public name -> `page#anchor` of its show_doc entry (the headings nbdev's show_doc writes)."""
    api = {}
    for rel in pages:
        for cell in json.loads((STAGE / rel).read_text())["cells"]:
            for out in cell.get("outputs", []):
                md = out.get("data", {}).get("text/markdown")
                md = "".join(md) if isinstance(md, list) else (md or "")
                for name in SHOWDOC_HEADING_RE.findall(md):
                    api.setdefault(name, f"{rel.with_suffix('').as_posix()}.ipynb#{_anchor(name)}")
    return api


def link_api(text: str, rel: Path, api: dict[str, str]) -> str:
    """`Name`, `Name()`, `module.Name` in prose -> a link to its show_doc entry (outside code fences)."""
    up = "../" * (len(rel.parts) - 1)

    def repl(m):
        name = m.group(1).removeprefix("smoothgrad.")
        target = api.get(name) or api.get(name.split(".", 1)[-1])
        return f"[{m.group(0)}]({up}{target})" if target else m.group(0)

    parts = re.split(r"(```.*?```)", text, flags=re.S)
    return "".join(p if p.startswith("```") else
                   "\n".join(ln if ln.startswith(("#", "    ")) else BACKTICK_RE.sub(repl, ln)
                             for ln in p.split("\n")) for p in parts)


def public_api(path: Path) -> list[tuple[str, str]]:
    """(name, kind) of every name in a module's `__all__` defined in the module itself, in `__all__` order;
    kind is `class`, `function` or `data` (read from the source: nothing is imported)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names, kinds = [], {}
    for node in tree.body:
        targets = [node.target] if isinstance(node, ast.AnnAssign) else getattr(node, "targets", [])
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and node.value is not None:
            names = [n for n in ast.literal_eval(node.value) if isinstance(n, str)]
        if isinstance(node, ast.ClassDef):
            kinds[node.name] = "class"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kinds[node.name] = "function"
        else:
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        kinds.setdefault(n.id, "data")
    return [(n, kinds[n]) for n in names if n in kinds]


API_DIRECTIVE = {"class": ".. autoclass:: {}\n   :members:\n   :undoc-members:\n   :show-inheritance:\n",
                 "function": ".. autofunction:: {}\n", "data": ".. autodata:: {}\n   :no-value:\n"}


def api_pages() -> dict[str, str]:
    """`api/<module>` -> reStructuredText of the module's public API (Sphinx autodoc): every name of `__all__`,
    each class with all its public methods, so that each has an entry in the site and in the general index."""
    pages = {}
    for path in sorted(LIB.glob("*.py")):
        if path.name.startswith("_"):
            continue
        api = public_api(path)
        if not api:
            continue
        mod = f"{LIB.name}.{path.stem}"
        head = f"{mod}\n{'=' * len(mod)}\n\n.. automodule:: {mod}\n   :no-members:\n\n"
        pages[f"api/{path.stem}"] = head + "\n".join(API_DIRECTIVE[kind].format(f"{mod}.{name}") for name, kind in api)
    return pages


def _toctree(pages: list[Path], api: list[str] = ()) -> str:
    chapters = [p.with_suffix("").as_posix() for p in pages if len(p.parts) == 1 and p.stem != "index"]
    experiments = [p.with_suffix("").as_posix() for p in pages if p.parts[0] == "experiments"]
    out = ["## Contents\n"]
    for caption, names in (("Chapters", chapters), ("Experiments (one notebook per figure)", experiments),
                           ("API reference (every public function, class and method)", list(api))):
        if names:
            out.append("```{toctree}\n:maxdepth: 1\n:caption: " + caption + "\n\n" + "\n".join(names) + "\n```\n")
    return "\n".join(out)


def _write_if_changed(path: Path, data: bytes) -> None:
    """Keep the mtime of unchanged sources, so that Sphinx rebuilds only changed pages."""
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def write_sphinx_sources(pages: list[Path], src_dir: Path) -> None:
    """The Sphinx source folder: bridged notebooks + the figures they show (stale files removed)."""
    doc_map, api = {}, api_index(pages)
    for rel in pages:
        for cell in json.loads((STAGE / rel).read_text())["cells"][:1]:
            fm = _frontmatter(_src(cell)) if cell["cell_type"] == "raw" else {}
            if fm.get("output-file"):
                doc_map[fm["output-file"]] = rel.with_suffix("").as_posix()
    wanted = set()
    for rel in pages:
        nb = to_sphinx(json.loads((STAGE / rel).read_text()), rel, pages, doc_map, api,
                       json.loads((NBS / rel).read_text()))
        _write_if_changed(src_dir / rel, json.dumps(nb, indent=1).encode())
        wanted.add(src_dir / rel)
    for name, text in api_pages().items():
        dst = src_dir / f"{name}.rst"
        _write_if_changed(dst, text.encode())
        wanted.add(dst)
    for png in FIGURES.rglob("*.png"):
        dst = src_dir / "figures" / png.relative_to(FIGURES)
        _write_if_changed(dst, png.read_bytes())
        wanted.add(dst)
    for old in src_dir.rglob("*"):
        if old.is_file() and old not in wanted:
            old.unlink()


def build(out: Path, jobs: int, only: list[str] | None = None, src_dir: Path | None = None,
          keep_going: bool = False) -> int:
    t0 = time.time()
    pages = discover()
    if only:
        keep = {n.removesuffix(".ipynb") for n in only} | {"index"}
        pages = [p for p in pages if p.with_suffix("").as_posix() in keep or p.stem in keep]
    failed = nbdev_stage(pages, jobs, keep_going)
    pages = [p for p in pages if p not in failed]
    src_dir = src_dir or STAGE / "_sphinx"
    write_sphinx_sources(pages, src_dir)
    log(f"sphinx-build ({len(pages)} pages) -> {out}")
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(jobs), "-c", str(CONF),
           "-d", str(src_dir.with_name(src_dir.name + "_doctrees")), str(src_dir), str(out)]
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode:
        raise SystemExit(r.returncode)
    log(f"done in {time.time() - t0:.0f} s: {len(pages)} pages and {len(api_pages())} API pages in {out}; "
        f"search with snippets needs a web server: python -m http.server -d {out} (then http://localhost:8000)")
    if failed:
        log(f"left out (nbdev processing failed): {', '.join(p.as_posix() for p in failed)}")
    return 1 if failed else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "_docs")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="page names (index is always built)")
    ap.add_argument("--src-dir", type=Path, help="Sphinx source folder to (re)write (default _proc/_sphinx)")
    ap.add_argument("--keep-going", action="store_true", help="leave out notebooks nbdev cannot process")
    a = ap.parse_args(argv)
    return build(a.out.resolve(), a.jobs, a.only, a.src_dir.resolve() if a.src_dir else None, a.keep_going)


if __name__ == "__main__":
    sys.exit(main())
