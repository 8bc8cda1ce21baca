#!/usr/bin/env python
"""Build smoothgrad's offline documentation site (no Quarto, no network).

Pipeline, per notebook under ``nbs/`` (library chapters, ``index.ipynb``, ``nbs/experiments/``):

1. read the (output-free) notebook, apply nbdev's cell directives for display
   (``#| hide``, ``#| echo: false``, ``#| output: false``, ``#| eval: false``, ``#| include: false``,
   ``#| default_exp``; cells flagged with a ``tst_flags`` flag such as ``slow``/``gpu`` are not run
   unless ``--run-flags`` names the flag) and insert nbdev ``show_doc`` cells after exported cells,
   one per public function/class (nbdev's rule) and per public method of an exported class;
2. execute it with nbclient in a real kernel (matplotlib's inline backend, Agg-based and headless, a per-cell timeout, working dir =
   the notebook's folder) into the git-ignored staging folder ``_proc/docs_exec/`` (cached by a hash
   of the notebook and of ``smoothgrad/*.py``); notebooks listed in ``scripts/docs_noexec.txt`` or
   given with ``--no-execute-for`` (or all, with ``--no-execute``) are rendered unexecuted;
   a papermill-style ``parameters`` cell gets a hidden override cell after it that sends ``out_dir``
   to ``_proc/docs_exec/_outputs/`` (so the docs build never overwrites ``figures/``; ``--param``
   overrides more); ``--only`` builds fill in pages missing from the site unexecuted;
3. convert to HTML with nbconvert (template ``scripts/docs_template/smoothgrad``, based on ``lab``,
   without CDN scripts, with MathJax 2 copied from the ``jupyter-server-mathjax`` package);
4. rewrite ``.ipynb`` links to ``.html``, copy local images/files referenced from markdown,
   link backticked API names to their ``show_doc`` entries, add a nav bar to every page and a
   table of contents (reading order) to ``index.html``, then check every local link.

Usage: ``python scripts/build_docs.py [--out _docs] [--no-execute] [--only index 00_neurons]``
"""

from __future__ import annotations

import argparse
import ast
import base64
import concurrent.futures as cf
import hashlib
import html
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / "nbs"
STAGE = ROOT / "_proc" / "docs_exec"
TEMPLATE_DIR = Path(__file__).resolve().parent / "docs_template"
NOEXEC_FILE = Path(__file__).resolve().parent / "docs_noexec.txt"

DIRECTIVE_RE = re.compile(r"^\s*#\s*\|\s*([\w-]+:?)(.*)$")
EXPORT_SHOW = {"export", "exports"}  # nbdev shows docs for these (not for exporti)
TAG_REMOVE = "sg-remove-cell"
TAG_NO_INPUT = "sg-remove-input"
TAG_NO_OUTPUT = "sg-remove-output"
TAG_SKIP = "skip-execution"  # honoured by nbclient
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
SHOWDOC_SRC_RE = re.compile(r"\[source\]\([^)]*\)\{[^}]*\}\s*")


def log(msg: str) -> None:
    print(f"[docs] {msg}", flush=True)


# --------------------------------------------------------------------------- discovery
def tst_flags() -> set[str]:
    """Flags from settings.ini's ``tst_flags`` (whitespace separated, as nbdev reads them)."""
    try:
        import configparser

        cp = configparser.ConfigParser()
        cp.read(ROOT / "settings.ini")
        return set(cp["DEFAULT"].get("tst_flags", "").split())
    except Exception:
        return {"slow", "gpu"}


def _skip_part(p: str) -> bool:
    return p.startswith(("_", ".")) or p == "__pycache__"


def discover() -> list[Path]:
    """Notebooks in reading order: index, top-level chapters by name, then subfolders by name."""
    found = []
    for p in NBS.rglob("*.ipynb"):
        rel = p.relative_to(NBS)
        if any(_skip_part(part) for part in rel.parts) or ".ipynb_checkpoints" in rel.parts:
            continue
        found.append(rel)

    def key(rel: Path):
        return (rel.as_posix() != "index.ipynb", len(rel.parts) > 1, rel.parts[:-1], rel.name)

    return sorted(found, key=key)


def select(nbs: list[Path], only: list[str] | None) -> list[Path]:
    if not only:
        return nbs
    wanted = set()
    for name in only:
        n = name.removesuffix(".ipynb").removeprefix("nbs/")
        hits = [r for r in nbs if r.with_suffix("").as_posix() == n or r.stem == n]
        if not hits:
            sys.exit(f"--only {name}: no such notebook under nbs/ (have: "
                     f"{', '.join(r.with_suffix('').as_posix() for r in nbs)})")
        wanted.update(hits)
    return [r for r in nbs if r in wanted]


def read_noexec() -> set[str]:
    if not NOEXEC_FILE.exists():
        return set()
    names = set()
    for line in NOEXEC_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line.removesuffix(".ipynb").removeprefix("nbs/"))
    return names


# --------------------------------------------------------------------------- preprocessing
def directives(src: str) -> dict[str, list[str]]:
    """nbdev-style ``#| name args`` lines at the top of a cell (leading comments/blank lines ok)."""
    out = {}
    for line in src.splitlines():
        m = DIRECTIVE_RE.match(line)
        if m:
            out[m.group(1).rstrip(":").lower()] = m.group(2).split()
        elif line.strip() and not line.lstrip().startswith("#"):
            break
    return out


def strip_directives(src: str) -> str:
    lines = src.splitlines()
    i = 0
    while i < len(lines) and (DIRECTIVE_RE.match(lines[i]) or not lines[i].strip()):
        i += 1
    return "\n".join(lines[i:])


def _is_false(args: list[str]) -> bool:
    return bool(args) and args[0].lower() in ("false", "0", "no")


def _patch_name(node) -> str | None:
    """``Cls.meth`` for fastcore ``@patch`` functions (first arg annotated with the class)."""
    decos = [d.id if isinstance(d, ast.Name) else getattr(d, "attr", None) for d in node.decorator_list]
    if not any(d in ("patch", "patch_to") for d in decos) or not node.args.args:
        return None
    ann = node.args.args[0].annotation
    return f"{ann.id}.{node.name}" if isinstance(ann, ast.Name) else None


def public_names(src: str) -> list[str]:
    """nbdev's rule (top-level functions/classes not starting with ``_``) plus public methods of
    exported classes (so ``QIF.flow`` gets its own entry)."""
    try:
        tree = ast.parse(strip_directives(src))
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            nm = _patch_name(node) or node.name
            if not nm.split(".")[-1].startswith("_"):
                names.append(nm)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            names.append(node.name)
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and not sub.name.startswith("_"):
                    names.append(f"{node.name}.{sub.name}")
    return names


def explicit_show_docs(src: str) -> set[str]:
    return {m.group(1) for m in re.finditer(r"show_doc\(\s*([\w.]+)", src)}


def assigned_names(src: str) -> set[str]:
    try:
        tree = ast.parse(strip_directives(src))
    except SyntaxError:
        return set()
    return {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}


def parameter_cell(params: dict[str, str], cell_src: str):
    """Like papermill: a hidden cell after the ``parameters`` cell overriding the names it assigns."""
    import nbformat

    names = assigned_names(cell_src)
    lines = [f"{k} = {v}" for k, v in params.items() if k in names]
    if not lines:
        return None
    c = nbformat.v4.new_code_cell("# injected by scripts/build_docs.py\n" + "\n".join(lines))
    c.metadata["tags"] = [TAG_REMOVE, "injected-parameters"]
    return c


def prepare(nb, run_flags: set[str], params: dict[str, str] | None = None):
    """Tag cells for display/execution, inject parameters and insert show_doc cells.
    Returns (nb, documented names)."""
    import nbformat

    flags = tst_flags() - run_flags
    cells, documented = [], []
    shown = set()
    for c in nb.cells:
        if c.cell_type == "code":
            shown |= explicit_show_docs(c.source)
    setup = nbformat.v4.new_code_cell(
        "from nbdev.showdoc import show_doc as _sg_show_doc\n"
        "from IPython.display import display as _sg_display\n")
    setup.metadata["tags"] = [TAG_REMOVE]
    cells.append(setup)
    for c in nb.cells:
        tags = list(c.metadata.get("tags", []))
        if c.cell_type != "code":
            cells.append(c)
            continue
        d = directives(c.source)
        if "default_exp" in d or "hide" in d or _is_false(d.get("include", [])):
            tags.append(TAG_REMOVE)
        if _is_false(d.get("echo", [])) or "hide_input" in d:
            tags.append(TAG_NO_INPUT)
        if _is_false(d.get("output", [])) or "hide_output" in d:
            tags.append(TAG_NO_OUTPUT)
        if _is_false(d.get("eval", [])) or flags & set(d):
            tags.append(TAG_SKIP)
        c.metadata["tags"] = tags
        cells.append(c)
        if "parameters" in tags and params:
            pc = parameter_cell(params, c.source)
            if pc is not None:
                cells.append(pc)
        if EXPORT_SHOW & set(d) and "hide" not in d and TAG_SKIP not in tags:
            for nm in public_names(c.source):
                if nm in shown:
                    continue
                shown.add(nm)
                documented.append(nm)
                sd = nbformat.v4.new_code_cell(
                    f"try:\n    _sg_display(_sg_show_doc({nm}))\nexcept NameError:\n    pass")
                sd.metadata["tags"] = [TAG_NO_INPUT]
                sd.metadata["sg_show_doc"] = nm
                cells.append(sd)
    nb.cells = cells
    return nb, documented


def finish_cells(nb):
    """After execution: drop directive lines from shown sources, drop nbdev's Quarto-only
    ``[source](...){...}`` link from show_doc output, mark skipped cells as not run."""
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        c.source = strip_directives(c.source)
        for o in c.get("outputs", []):
            md = o.get("data", {}).get("text/markdown")
            if md is not None:
                md = "".join(md) if isinstance(md, list) else md
                o["data"]["text/markdown"] = SHOWDOC_SRC_RE.sub("", md)
    return nb


# --------------------------------------------------------------------------- execution
def source_hash(src_path: Path, run_flags: set[str], execute: bool) -> str:
    h = hashlib.sha256()
    h.update(src_path.read_bytes())
    h.update(repr((sorted(run_flags), execute)).encode())
    h.update((Path(__file__).read_bytes()))
    for p in sorted((ROOT / "smoothgrad").glob("*.py")):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def staged_path(rel: str, execute: bool) -> Path:
    return (STAGE if execute else STAGE / "_unexecuted") / rel


def docs_params(rel: str, extra: list[str]) -> dict[str, str]:
    """Parameter overrides for notebooks with a papermill ``parameters`` cell: outputs such as
    ``out_dir`` go to the staging folder, so building the docs never overwrites ``figures/``."""
    params = {"out_dir": repr(str(STAGE / "_outputs" / Path(rel).with_suffix("")))}
    for kv in extra:
        k, _, v = kv.partition("=")
        params[k.strip()] = v.strip()
    return params


def execute_one(rel: str, execute: bool, timeout: int, run_flags: list[str], force: bool,
                params: list[str] = ()) -> dict:
    """Prepare (and maybe execute) one notebook into the staging folder. Runs in a worker process."""
    import nbformat

    src = NBS / rel
    staged = staged_path(rel, execute)
    meta = staged.with_suffix(".json")
    key = source_hash(src, set(run_flags) | set(params), execute)
    if not force and staged.exists() and meta.exists():
        info = json.loads(meta.read_text())
        if info.get("hash") == key:
            info["cached"] = True
            return info
    t0 = time.time()
    nb = nbformat.read(src, as_version=4)
    nb, documented = prepare(nb, set(run_flags), docs_params(rel, list(params)))
    error = None
    if execute:
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError

        env_backup = os.environ.get("MPLBACKEND")
        # headless (Agg-based) *and* figures captured as cell outputs; plain "Agg" would drop them
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        # the kernel runs in the notebook's folder: make the package importable without an install
        pp = os.environ.get("PYTHONPATH", "")
        if str(ROOT) not in pp.split(os.pathsep):
            os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([pp] if pp else []))
        try:
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(src.parent)}},
                                    skip_cells_with_tag=TAG_SKIP)
            client.execute()
        except (CellExecutionError, CellTimeoutError) as e:
            msg = ANSI_RE.sub("", str(e)).strip()
            error = msg.splitlines()[-1][:500] if msg else type(e).__name__
        except Exception as e:  # kernel died, etc.
            error = f"{type(e).__name__}: {e}"[:500]
        finally:
            if env_backup is None:
                os.environ.pop("MPLBACKEND", None)
            else:
                os.environ["MPLBACKEND"] = env_backup
    nb = finish_cells(nb)
    staged.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged.with_suffix(f".{os.getpid()}.tmp")  # concurrent builds share the staging folder
    nbformat.write(nb, tmp)
    tmp.replace(staged)
    info = {"rel": rel, "hash": key, "executed": execute, "error": error, "documented": documented,
            "seconds": round(time.time() - t0, 2), "cached": False}
    if error is None:
        meta.write_text(json.dumps(info))
    elif meta.exists():
        meta.unlink()  # never cache a failure
    return info


# --------------------------------------------------------------------------- HTML
def page_path(rel: Path) -> Path:
    return rel.with_suffix(".html")


def rel_root(rel: Path) -> str:
    return "../" * (len(rel.parts) - 1)


def notebook_title(nb_path: Path) -> tuple[str, str]:
    """(title, one-line summary) from the first '# ' heading and an nbdev '> ' summary line."""
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    title, desc = nb_path.stem, ""
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        lines = c.source.splitlines()
        for i, line in enumerate(lines):
            if line.startswith("# "):
                title = line[2:].strip()
                rest = [x for x in lines[i + 1:] if x.strip()]
                if rest and rest[0].startswith(">"):
                    desc = rest[0].lstrip("> ").strip()
                return title, desc
    return title, desc


def make_exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    cfg = Config()
    cfg.TagRemovePreprocessor.enabled = True
    cfg.TagRemovePreprocessor.remove_cell_tags = {TAG_REMOVE}
    cfg.TagRemovePreprocessor.remove_input_tags = {TAG_NO_INPUT}
    cfg.TagRemovePreprocessor.remove_all_outputs_tags = {TAG_NO_OUTPUT}
    cfg.HTMLExporter.exclude_input_prompt = True
    cfg.HTMLExporter.exclude_output_prompt = True
    return HTMLExporter(config=cfg, template_name="smoothgrad",
                        extra_template_basedirs=[str(TEMPLATE_DIR)])


HREF_RE = re.compile(r'(\s(?:href|src)=")([^"]*)(")')


def _is_local(url: str) -> bool:
    s = urlsplit(url)
    return not (s.scheme or s.netloc or url.startswith(("#", "data:", "mailto:", "javascript:")))


def rewrite_links(text: str, rel: Path, out: Path) -> str:
    """.ipynb -> .html; local files referenced from a page are copied into the site."""
    src_dir = (NBS / rel).parent
    page_dir = (out / rel).parent

    def fix(m):
        url = html.unescape(m.group(2))
        if not _is_local(url):
            return m.group(0)
        s = urlsplit(url)
        path = unquote(s.path)
        frag = f"#{s.fragment}" if s.fragment else ""
        if path.endswith(".ipynb"):
            return m.group(1) + html.escape(path[:-6] + ".html" + frag) + m.group(3)
        target = (src_dir / path).resolve()
        if target.is_file():
            try:
                inside_nbs = target.relative_to(NBS.resolve())
                dest = out / inside_nbs
            except ValueError:
                try:
                    dest = out / "_assets" / target.relative_to(ROOT)
                except ValueError:
                    return m.group(0)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, dest)
            new = os.path.relpath(dest, page_dir).replace(os.sep, "/")
            return m.group(1) + html.escape(new + frag) + m.group(3)
        return m.group(0)

    return HREF_RE.sub(fix, text)


def convert_one(info: dict, out: Path, exporter, toc_title: str) -> None:
    import nbformat

    rel = Path(info["rel"])
    nb = nbformat.read(staged_path(info["rel"], info["executed"]), as_version=4)
    title, _ = notebook_title(NBS / rel)
    nb.metadata["title"] = f"{title} - {toc_title}" if rel.as_posix() != "index.ipynb" else toc_title
    banner = ""
    if not info["executed"]:
        why = {"partial": "a partial docs build (<code>--only</code>) filled in this page",
               "all": "the docs were built with <code>--no-execute</code>"}.get(
            info.get("why"), "too slow for the docs build")
        banner = (f"This page was rendered <b>without executing</b> the notebook ({why}); "
                  "run the notebook to see its outputs.")
    elif info.get("error"):
        banner = (f"Executing this notebook for the docs <b>failed</b>: "
                  f"<code>{html.escape(info['error'])}</code>. Outputs below stop at the failing cell.")
    body, _ = exporter.from_notebook_node(nb, resources={"sg_root": rel_root(rel), "sg_banner": banner})
    body = rewrite_links(body, rel, out)
    dest = out / page_path(rel)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body, encoding="utf-8")


# --------------------------------------------------------------------------- site-wide pass
def copy_mathjax(out: Path) -> None:
    import jupyter_server_mathjax

    src = Path(jupyter_server_mathjax.__file__).parent / "static"
    dest = out / "mathjax"
    stamp = dest / ".version"
    want = f"{src}:{(src / 'MathJax.js').stat().st_mtime}"
    if stamp.exists() and stamp.read_text() == want:
        return
    if dest.exists():
        shutil.rmtree(dest)
    # MathJax 2.7 with HTML-CSS output and STIX-Web fonts; the SVG output is not needed.
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("SVG", "*.py", "__pycache__"))
    stamp.write_text(want)


CODE_RE = re.compile(r"(<a\b[^>]*>.*?</a>|<pre\b.*?</pre>|<h[1-6]\b.*?</h[1-6]>|<code>([^<]{1,80})</code>)",
                     re.S)


def link_names(text: str, rel: Path, api: dict[str, str]) -> str:
    """`Name`, `Name()`, `mod.Name`, `smoothgrad.mod.Name` in prose -> link to its show_doc entry."""
    root = rel_root(rel)

    def fix(m):
        code = m.group(2)
        if code is None:
            return m.group(0)
        nm = html.unescape(code).strip().removesuffix("()")
        parts = nm.split(".")
        for i in range(len(parts)):
            cand = ".".join(parts[i:])
            if cand in api:
                return f'<a href="{root}{api[cand]}">{m.group(0)}</a>'
        return m.group(0)

    return CODE_RE.sub(fix, text)


def heading_ids(text: str) -> set[str]:
    return set(re.findall(r'<h[1-6][^>]*\sid="([^"]+)"', text))


def nav_html(pages: list[tuple[Path, str, str]], i: int, bottom: bool) -> str:
    rel = pages[i][0]
    root = rel_root(rel)
    parts = [f'<nav class="sg-nav{" sg-bottom" if bottom else ""}">',
             f'<a class="sg-home" href="{root}index.html">smoothgrad</a>',
             f'<a href="{root}index.html#contents">Contents</a>', '<span class="sg-spacer"></span>']
    if i > 0:
        p = pages[i - 1]
        parts.append(f'<a class="sg-prev" href="{root}{page_path(p[0]).as_posix()}">&larr; {html.escape(p[1])}</a>')
    if i + 1 < len(pages):
        n = pages[i + 1]
        parts.append(f'<a class="sg-next" href="{root}{page_path(n[0]).as_posix()}">{html.escape(n[1])} &rarr;</a>')
    parts.append("</nav>")
    return "".join(parts)


def toc_html(pages: list[tuple[Path, str, str]]) -> str:
    groups: dict[str, list] = {}
    for rel, title, desc in pages:
        if rel.as_posix() == "index.ipynb":
            continue
        g = "Chapters" if len(rel.parts) == 1 else rel.parts[0].replace("_", " ").capitalize()
        groups.setdefault(g, []).append((rel, title, desc))
    out = ['<section class="sg-toc" id="contents"><h2 id="Contents">Contents</h2>']
    for g, items in groups.items():
        out.append(f"<h3>{html.escape(g)}</h3><ol>")
        for rel, title, desc in items:
            d = f' <span class="sg-desc">&mdash; {html.escape(desc)}</span>' if desc else ""
            out.append(f'<li><a href="{page_path(rel).as_posix()}">{html.escape(title)}</a>{d}</li>')
        out.append("</ol>")
    out.append("</section>")
    return "".join(out)


def replace_marker(text: str, name: str, content: str) -> str:
    return re.sub(rf"<!--{name}-->.*?<!--/{name}-->", lambda m: f"<!--{name}-->{content}<!--/{name}-->",
                  text, count=1, flags=re.S)


def check_links(out: Path) -> list[str]:
    """Broken local href/src targets (files and #fragments) in every page of the site."""
    problems = []
    ids_cache: dict[Path, set[str]] = {}
    for page in sorted(out.rglob("*.html")):
        if "mathjax" in page.relative_to(out).parts:
            continue
        text = page.read_text(encoding="utf-8")
        for m in HREF_RE.finditer(text):
            url = html.unescape(m.group(2))
            if url.startswith("data:image"):
                try:
                    base64.b64decode(url.split(",", 1)[1], validate=False)
                except Exception:
                    problems.append(f"{page.relative_to(out)}: bad data URI")
                continue
            if not _is_local(url) and not url.startswith("#"):
                continue
            s = urlsplit(url)
            target = (page.parent / unquote(s.path)).resolve() if s.path else page
            if not target.exists():
                problems.append(f"{page.relative_to(out)}: missing {url}")
                continue
            if s.fragment and target.suffix == ".html":
                if target not in ids_cache:
                    t = target.read_text(encoding="utf-8")
                    ids_cache[target] = set(re.findall(r'\sid="([^"]+)"', t)) | set(
                        re.findall(r'\sname="([^"]+)"', t))
                ids = ids_cache[target] | {html.unescape(x) for x in ids_cache[target]}
                if s.fragment not in ids and html.unescape(unquote(s.fragment)) not in ids:
                    problems.append(f"{page.relative_to(out)}: missing anchor {url}")
    return problems


def finalize(out: Path, all_nbs: list[Path], toc_title: str) -> list[str]:
    """Nav bars, TOC, API cross-links over every page present in the site; returns link problems."""
    api_file = out / "_api.json"
    api_pages = json.loads(api_file.read_text()) if api_file.exists() else {}
    pages = [(rel, *notebook_title(NBS / rel)) for rel in all_nbs if (out / page_path(rel)).exists()]
    # name -> page.html#anchor, only where the page really has that heading
    api: dict[str, str] = {}
    for rel, *_ in pages:
        pp = page_path(rel).as_posix()
        ids = heading_ids((out / pp).read_text(encoding="utf-8"))
        for nm in api_pages.get(rel.as_posix(), []):
            if nm in ids and nm not in api:
                api[nm] = f"{pp}#{nm}"
    for i, (rel, _, _) in enumerate(pages):
        p = out / page_path(rel)
        text = p.read_text(encoding="utf-8")
        text = replace_marker(text, "sg-nav-top", nav_html(pages, i, False))
        text = replace_marker(text, "sg-nav-bottom", nav_html(pages, i, True))
        if rel.as_posix() == "index.ipynb":
            if "<!--sg-toc-->" not in text:
                # at the end of the landing page, above the bottom nav bar
                text = text.replace("<!--sg-nav-bottom-->", "<!--sg-toc--><!--/sg-toc-->\n<!--sg-nav-bottom-->", 1)
            text = replace_marker(text, "sg-toc", toc_html(pages))
        text = link_names(text, rel, api)
        p.write_text(text, encoding="utf-8")
    return check_links(out)


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="_docs", help="output folder (default: _docs, git-ignored)")
    ap.add_argument("--execute", dest="execute", action="store_true", default=True,
                    help="execute notebooks before rendering (default)")
    ap.add_argument("--no-execute", dest="execute", action="store_false",
                    help="render every notebook unexecuted")
    ap.add_argument("--only", nargs="+", metavar="NAME",
                    help="build only these notebooks (stem or path under nbs/, e.g. index 00_neurons "
                         "experiments/fig1); the site-wide pass still covers every page present")
    ap.add_argument("--no-execute-for", nargs="+", default=[], metavar="NAME",
                    help=f"render these unexecuted (added to {NOEXEC_FILE.relative_to(ROOT)})")
    ap.add_argument("--run-flags", nargs="*", default=[], metavar="FLAG",
                    help="also run cells flagged with these tst_flags (e.g. slow); default: skip them")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=EXPR",
                    help="override a parameter of notebooks whose 'parameters' cell assigns NAME "
                         "(e.g. --param \"mode='paper'\"); out_dir is always redirected to _proc/docs_exec/_outputs")
    ap.add_argument("--timeout", type=int, default=600, help="per-cell timeout in seconds (default 600)")
    ap.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel (default 2)")
    ap.add_argument("--force", action="store_true", help="re-execute even if the staged copy is current")
    ap.add_argument("--keep-going", action="store_true",
                    help="exit 0 even if a notebook failed to execute or a link is broken")
    args = ap.parse_args(argv)

    t0 = time.time()
    out = (ROOT / args.out) if not Path(args.out).is_absolute() else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    all_nbs = discover()
    todo = select(all_nbs, args.only)
    noexec = read_noexec() | {n.removesuffix(".ipynb") for n in args.no_execute_for}
    log(f"{len(todo)} notebook(s) -> {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")
    copy_mathjax(out)
    wanted = {out / page_path(rel) for rel in all_nbs}
    for old in out.rglob("*.html"):
        top = old.relative_to(out).parts[0]
        if top not in ("mathjax", "_assets") and old not in wanted:
            log(f"removing {old.relative_to(out)} (its notebook is gone)")
            old.unlink()

    def wants_exec(rel: Path) -> bool:
        return args.execute and rel.with_suffix("").as_posix() not in noexec and rel.stem not in noexec

    # a partial build (--only) fills in pages missing from the site, unexecuted, so links stay valid
    fill = [rel for rel in all_nbs if rel not in todo and not (out / page_path(rel)).exists()]
    if fill:
        log(f"filling in {len(fill)} missing page(s) unexecuted: {', '.join(r.stem for r in fill)}")
    infos = []
    with cf.ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {pool.submit(execute_one, rel.as_posix(), wants_exec(rel), args.timeout, args.run_flags,
                            args.force, args.param): rel for rel in todo}
        futs.update({pool.submit(execute_one, rel.as_posix(), False, args.timeout, args.run_flags,
                                 args.force): rel for rel in fill})
        for f in cf.as_completed(futs):
            info = f.result()
            rel = futs[f]
            info["why"] = "partial" if rel in fill else (None if args.execute else "all")
            state = ("cached" if info.get("cached") else
                     f"{'executed' if info['executed'] else 'not executed'} in {info['seconds']} s")
            log(f"{info['rel']}: {state}" + (f"  ERROR: {info['error']}" if info.get("error") else ""))
            infos.append(info)
    infos.sort(key=lambda i: all_nbs.index(Path(i["rel"])))

    exporter = make_exporter()
    toc_title = "smoothgrad"
    api_file = out / "_api.json"
    api_pages = json.loads(api_file.read_text()) if api_file.exists() else {}
    for info in infos:
        convert_one(info, out, exporter, toc_title)
        api_pages[info["rel"]] = info["documented"]
    api_pages = {k: v for k, v in api_pages.items() if (NBS / k).exists()}
    api_file.write_text(json.dumps(api_pages, indent=1))
    problems = finalize(out, all_nbs, toc_title)
    for p in problems:
        log(f"BROKEN LINK {p}")
    failed = [i["rel"] for i in infos if i.get("error")]
    log(f"done in {time.time() - t0:.1f} s: {out / 'index.html'}"
        + (f"; execution failed: {', '.join(failed)}" if failed else ""))
    if (failed or problems) and not args.keep_going:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
