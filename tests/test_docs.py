"""The docs site (Sphinx + myst-nb, scripts/docs.py): build the landing page and one derivation chapter,
open them in headless Chromium and check that math was typeset, figures load, no local link is broken,
the show_doc API entries, the sidebar and the search page are there, and nothing comes from the network."""

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
# a chapter with derivations (math) and show_doc entries: the first library chapter
_first = sorted((ROOT / "nbs").glob("00_*.ipynb"))
DERIVATION = os.environ.get("SG_DOCS_TEST_CHAPTER") or (_first[0].stem if _first else "00_neurons")
PAGES = ["index", DERIVATION]

sys.path.insert(0, str(ROOT / "scripts"))
import docs  # noqa: E402


# --------------------------------------------------------------------------- the nbdev -> Sphinx bridge
def test_discover_reading_order():
    order = [p.as_posix() for p in docs.discover()]
    assert order[0] == "index.ipynb"
    top = [p for p in order[1:] if "/" not in p]
    assert top == sorted(top) and all(re.match(r"\d", p) for p in top)
    sub = [i for i, p in enumerate(order) if "/" in p]
    assert sub and all(i > order.index(t) for i in sub for t in top)  # experiments after chapters


def test_cell_options_become_tags():
    cell = {"cell_type": "code", "metadata": {}, "source": "#| echo: false\n#| output: asis\nshow_doc(f)"}
    docs.cell_options_to_tags(cell)
    assert cell["source"] == "show_doc(f)" and cell["metadata"]["tags"] == ["remove-input"]
    cell = {"cell_type": "code", "metadata": {"tags": ["x"]}, "source": "#| include: false\n1"}
    docs.cell_options_to_tags(cell)
    assert cell["metadata"]["tags"] == ["x", "remove-cell"]


def test_frontmatter_title_links_and_api_links():
    nb = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5, "cells": [
        {"cell_type": "raw", "metadata": {}, "source": "---\ntitle: 'Fig. 1: a title'\ndescription: Words\n"
                                                     "output-file: fig1.html\n---\n"},
        {"cell_type": "code", "metadata": {}, "source": "", "outputs": []},  # an exported cell
        {"cell_type": "markdown", "metadata": {},
         "source": "See `QIF` and [x](https://h.example.org/simulate.html#simulate).\n```\n`QIF`\n```"}]}
    out = docs.to_sphinx(nb, Path("experiments/fig1.ipynb"), [], {"simulate.html": "01_simulate"},
                         {"QIF": "00_neurons.ipynb#qif"})
    src = [c["source"] for c in out["cells"]]
    assert src[0] == "# Fig. 1: a title\n\n> Words\n"
    assert len(out["cells"]) == 2 + len(docs.figures_for(Path("experiments/fig1.ipynb")))
    assert "[`QIF`](../00_neurons.ipynb#qif)" in src[-1] and "](../01_simulate.ipynb#simulate)" in src[-1]
    assert "```\n`QIF`\n```" in src[-1]  # code fences are left alone
    assert all(c["id"] for c in out["cells"])
    # nbdev keeps one `>` line and drops the rest of the title cell: the docs keep all of it
    source = {"cells": [{"cell_type": "markdown", "source": "# Fig. 1: a title\n\n> Words\n> more words\n"
                                                            "\nThe story, see `QIF`.\n"}]}
    nb = {"metadata": {}, "cells": [{"cell_type": "raw", "metadata": {}, "source": "---\ntitle: 'Fig. 1: a title'\n"
                                                                         "description: Words\n---\n"}]}
    out = docs.to_sphinx(nb, Path("05_x.ipynb"), [], {}, {"QIF": "00_neurons.ipynb#qif"}, source)
    assert out["cells"][0]["source"] == ("# Fig. 1: a title\n\n> Words more words\n\n"
                                         "The story, see [`QIF`](00_neurons.ipynb#qif).\n")


# --------------------------------------------------------------------------- the site
class _Page(HTMLParser):
    """Visible prose text (outside code, scripts, styles and MathJax), img srcs, hrefs, ids."""

    SKIP = {"script", "style", "pre", "code", "textarea", "svg", "math", "noscript"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.text, self.imgs, self.links, self.ids = [], [], [], [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag not in self.VOID:
            cls = a.get("class") or ""
            self.stack.append(tag in self.SKIP or "MathJax" in cls or "MJX" in cls)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.text.append(data)


def _chromium(url: str, *extra: str, timeout: int = 120) -> str:
    with tempfile.TemporaryDirectory() as prof:
        cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={prof}",
               "--virtual-time-budget=15000", *extra, url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout


@pytest.fixture(scope="module")
def site():
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium missing: apt-get update && apt-get install -y chromium")
    for mod in ("sphinx", "myst_nb", "sphinx_book_theme", "jupyter_server_mathjax"):
        pytest.importorskip(mod, reason=f"the docs need {mod}: pip install -e .[dev]")
    if not (ROOT / "nbs" / f"{DERIVATION}.ipynb").exists():
        pytest.skip(f"nbs/{DERIVATION}.ipynb does not exist")
    tmp = Path(tempfile.mkdtemp(prefix="sg_docs_"))
    out = tmp / "html"
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "docs.py"), "--out", str(out),
                        "--src-dir", str(tmp / "src"), "--only", *PAGES],
                       capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, f"build failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    yield out
    shutil.rmtree(tmp, ignore_errors=True)


def test_pages_built_offline(site):
    for name in PAGES:
        text = (site / f"{name}.html").read_text(encoding="utf-8")
        # nothing fetched from the network: no remote scripts, stylesheets, images or fonts
        remote = re.findall(r'<(?:script|link|img|iframe)\b[^>]*\s(?:src|href)="(?:https?:)?//[^"]*"', text)
        assert not remote, f"{name}.html loads remote resources: {remote[:3]}"
        assert '_static/mathjax/MathJax.js' in text
        other = DERIVATION if name == "index" else "index"
        assert 'bd-sidebar-primary' in text and f'href="{other}.html"' in text  # the sidebar
    assert (site / "_static" / "mathjax" / "MathJax.js").exists()
    css = [p.read_text(errors="ignore") for p in (site / "_static").rglob("*.css") if "mathjax" not in p.parts]
    assert not any(re.search(r"url\(\s*['\"]?https?://", c) for c in css), "a stylesheet loads remote fonts"
    # search: the page, its script and an index that knows a word of the chapter
    assert (site / "search.html").exists() and (site / "_static" / "searchtools.js").exists()
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    assert f'"{DERIVATION}"' in index


def test_show_doc_entries(site):
    """Every show_doc entry of the chapter is a heading with an anchor the API links point to."""
    staged = json.loads((ROOT / "_proc" / f"{DERIVATION}.ipynb").read_text())
    names = [n for c in staged["cells"] for o in c.get("outputs", [])
             for n in docs.SHOWDOC_HEADING_RE.findall("".join(o.get("data", {}).get("text/markdown", "")))]
    assert names, f"{DERIVATION} has no show_doc entries"
    p = _Page()
    p.feed((site / f"{DERIVATION}.html").read_text(encoding="utf-8"))
    missing = [n for n in names if docs._anchor(n) not in p.ids]
    assert not missing, f"show_doc entries without an anchor: {missing[:5]}"


@pytest.mark.parametrize("name", PAGES)
def test_math_figures_links_in_browser(site, name):
    page = site / f"{name}.html"
    dom = _chromium(page.as_uri(), "--dump-dom")
    assert 'data-mathjax-done="1"' in dom, "MathJax did not finish typesetting"
    p = _Page()
    p.feed(dom)
    # math was typeset: MathJax output present, no errors, no raw TeX left in the prose
    n_tex = len(re.findall(r'<script type="math/tex', dom))
    n_out = len(re.findall(r'id="MathJax-Element-\d+-Frame"', dom))  # one output frame per formula
    assert n_tex > 0 and n_out >= n_tex, (n_tex, n_out)
    assert 'class="MathJax_Error"' not in dom and "Math Processing Error" not in dom
    tex = dict(re.findall(r'<script type="math/tex[^"]*" id="(MathJax-Element-\d+)">(.*?)</script>', dom, re.S))
    bad = [html.unescape(tex.get(m, m))[:80] for m in re.findall(
        r'id="(MathJax-Element-\d+)-Frame"[^>]*data-mathml="[^"]*mathcolor=&quot;red&quot;', dom)]
    bad += ["(TeX syntax error)"] * dom.count('class="noError"')
    assert not bad, f"{name}: {len(bad)} formula(s) with TeX errors or undefined macros, e.g. {bad[:4]}"
    prose = " ".join(p.text)
    raw = re.findall(r"\$[^$\n]{1,200}\$", prose) + re.findall(r"\\(?:frac|tau|sqrt|begin)\b", prose)
    raw += re.findall(r"\\\(.{1,80}?\\\)", prose)
    assert not raw, f"untypeset math in {name}: {raw[:5]}"
    # figures load: data URIs decode to images, local files exist
    for src in p.imgs:
        if src.startswith("data:"):
            head, data = src.split(",", 1)
            blob = base64.b64decode(data) if ";base64" in head else unquote(data).encode()
            assert blob[:8] == b"\x89PNG\r\n\x1a\n" or blob[:2] == b"\xff\xd8" or b"<svg" in blob[:500], head
        else:
            s = urlsplit(src)
            assert not s.scheme and not s.netloc, f"remote image {src}"
            assert (page.parent / unquote(s.path)).is_file(), f"missing image {src}"
    if name == "index":
        assert [s for s in p.imgs if "logo" not in s], "the landing page should show its figures"
    # no broken local link (file and #anchor)
    for href in p.links:
        s = urlsplit(html.unescape(href))
        if s.scheme or s.netloc:
            continue
        target = (page.parent / unquote(s.path)).resolve() if s.path else page
        assert target.exists(), f"{name}: broken link {href}"
        if s.fragment and target.suffix == ".html":
            q = _Page()
            q.feed(target.read_text(encoding="utf-8"))
            assert s.fragment in q.ids or unquote(s.fragment) in q.ids, f"{name}: missing anchor {href}"


def test_search_page_in_browser(site):
    """Sphinx's client-side search runs offline and finds the chapter."""
    dom = _chromium((site / "search.html").as_uri() + "?q=spike", "--dump-dom")
    found = re.search(r"found (\d+) pages? matching", dom)
    assert found and int(found.group(1)) >= 1, "search did not run or found nothing"
    assert f'href="{DERIVATION}.html' in dom.split("search-summary", 1)[-1]


@pytest.mark.parametrize("name", PAGES)
def test_screenshot(site, name):
    shots = ROOT / "runs" / "docs"
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / f"{name}.png"
    png.unlink(missing_ok=True)
    _chromium((site / f"{name}.html").as_uri(), f"--screenshot={png}", "--window-size=1200,1600",
              "--hide-scrollbars")
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from matplotlib.image import imread

    img = imread(png)[..., :3]  # the rendered page: not blank, text and figures in more than a sliver of it
    assert img.shape[:2] == (1600, 1200), img.shape
    colours, counts = np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0, return_counts=True)
    background = colours[counts.argmax()]
    inked = np.any(np.abs(img * 255 - background) > 40, axis=-1)
    assert inked.mean() > 0.02, f"{name}: the page looks blank ({inked.mean():.3%} of the pixels differ from the background)"
    assert inked[:, 300:].any(axis=0).mean() > 0.3, f"{name}: nothing in the main column"


# --------------------------------------------------------------------------- the API reference, search
def test_public_api_read_from_the_sources():
    "The API pages list what `__all__` exports, each name with its kind, without importing the module."
    api = dict(docs.public_api(ROOT / "smoothgrad" / "ttfs.py"))
    assert api["TTFSNetwork"] == "class"
    pages = docs.api_pages()
    assert ".. autoclass:: smoothgrad.ttfs.TTFSNetwork" in pages["api/ttfs"]
    assert ".. autoclass:: smoothgrad.optim.Optimizer" in pages["api/optim"]


def _public_members(cls):
    "The public names a class defines itself: methods, class methods, properties, attributes."
    return [n for n in vars(cls) if not n.startswith("_")]


def test_every_public_method_has_an_entry_and_an_index_entry(site):
    "Every public method of the classes users call (predict, save, load, step, ...) is in the site and genindex."
    from smoothgrad.optim import Optimizer
    from smoothgrad.ttfs import TTFSNetwork
    genindex = (site / "genindex.html").read_text(encoding="utf-8")
    for cls, page in ((TTFSNetwork, "api/ttfs.html"), (Optimizer, "api/optim.html")):
        p = _Page()
        p.feed((site / page).read_text(encoding="utf-8"))
        methods = _public_members(cls)
        assert cls is Optimizer or {"predict", "save", "load", "evaluate", "output_times", "loss_and_grad"} <= set(
            methods), methods
        for m in methods:
            anchor = f"{cls.__module__}.{cls.__name__}.{m}"
            assert anchor in p.ids, f"{anchor} has no entry on {page}"
            assert f'href="{page}#{anchor}"' in genindex, f"{anchor} is not in genindex"


def test_one_search_box(site):
    for name in PAGES:
        text = (site / f"{name}.html").read_text(encoding="utf-8")
        assert len(re.findall(r'class="[^"]*\bsearch-button-field\b', text)) == 1, name


def test_search_results_have_snippets_over_http(site):
    """Served over HTTP (`python -m http.server -d _docs`, as the README says), the search shows result snippets
    (on file:// browsers refuse the page fetches that snippets need)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        dom = _chromium(f"http://127.0.0.1:{server.server_address[1]}/search.html?q=spike", "--dump-dom")
    finally:
        server.shutdown()
        server.server_close()
    found = re.search(r"found (\d+) pages? matching", dom)
    assert found and int(found.group(1)) >= 1, "search did not run or found nothing"
    snippets = [html.unescape(re.sub(r"<[^>]+>", "", s)) for s in re.findall(r'<p class="context"[^>]*>(.*?)</p>', dom, re.S)]
    assert snippets and any("spike" in s.lower() for s in snippets), snippets[:3]
