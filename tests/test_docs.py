"""The offline docs site: build index + one derivation chapter, open the pages in headless Chromium
and check that math was typeset, figures load and no local link is broken."""

import base64
import html
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
DERIVATION = "00_neurons"  # a chapter with derivations (math) and show_doc entries
PAGES = ["index", DERIVATION]

sys.path.insert(0, str(ROOT / "scripts"))
import build_docs  # noqa: E402


# --------------------------------------------------------------------------- pure helpers
def test_directives_and_public_names():
    src = "#| export\n#| echo: false\nclass QIF:\n    def flow(self): pass\n    def _x(self): pass\n" \
          "def _private(): pass\ndef spike_time(V): pass\n"
    assert build_docs.directives(src) == {"export": [], "echo": ["false"]}
    assert build_docs.strip_directives(src).startswith("class QIF:")
    assert build_docs.public_names(src) == ["QIF", "QIF.flow", "spike_time"]
    assert build_docs.public_names("#| export\n@patch\ndef step(self: Optimizer): pass") == ["Optimizer.step"]


def test_rewrite_links_and_parameters(tmp_path):
    # a file outside nbs/ is copied into _assets/, a notebook link becomes .html
    page = '<img alt="x" src="../../DEVELOPING.md"/> <a href="../00_neurons.ipynb#QIF">q</a>'
    out = build_docs.rewrite_links(page, Path("experiments/fig1.ipynb"), tmp_path)
    assert 'src="../_assets/DEVELOPING.md"' in out and (tmp_path / "_assets/DEVELOPING.md").exists()
    assert 'href="../00_neurons.html#QIF"' in out
    c = build_docs.parameter_cell({"out_dir": "'/tmp/o'", "mode": "'paper'"}, "mode = 'quick'\nseed = 0")
    assert c.source.endswith("mode = 'paper'") and "out_dir" not in c.source


def test_discover_reading_order():
    order = [p.as_posix() for p in build_docs.discover()]
    assert order[0] == "index.ipynb"
    top = [p for p in order[1:] if "/" not in p]
    assert top == sorted(top)
    sub = [i for i, p in enumerate(order) if "/" in p]
    assert all(i > order.index(t) for i in sub for t in top)  # experiments after chapters


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
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        if tag not in self.VOID:
            cls = a.get("class") or ""
            self.stack.append(tag in self.SKIP or "MathJax" in cls or "MJX" in cls)

    def handle_endtag(self, tag):
        if tag not in self.VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not any(self.stack):
            self.text.append(data)


def _chromium(url: str, *extra: str, timeout: int = 90) -> str:
    with tempfile.TemporaryDirectory() as prof:
        cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={prof}",
               "--virtual-time-budget=10000", *extra, url]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout


@pytest.fixture(scope="module")
def site():
    if not CHROMIUM.exists():
        pytest.skip("headless Chromium missing: apt-get update && apt-get install -y chromium")
    for mod in ("nbconvert", "nbclient", "jupyter_server_mathjax"):
        pytest.importorskip(mod, reason=f"docs build needs {mod}: pip install nbconvert jupyter-server-mathjax")
    if not (ROOT / "nbs" / f"{DERIVATION}.ipynb").exists():
        pytest.skip(f"nbs/{DERIVATION}.ipynb does not exist yet")
    out = Path(tempfile.mkdtemp(prefix="sg_docs_"))
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_docs.py"), "--out", str(out),
                        "--only", *PAGES], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, f"build failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    yield out
    shutil.rmtree(out, ignore_errors=True)


def test_pages_built_offline(site):
    for name in PAGES:
        text = (site / f"{name}.html").read_text(encoding="utf-8")
        # nothing fetched from the network: no remote scripts, stylesheets or images
        remote = re.findall(r'<(?:script|link|img)\b[^>]*\s(?:src|href)="(https?:)?//[^"]*"', text)
        assert not remote, f"{name}.html loads remote resources"
        assert "mathjax/MathJax.js" in text
    assert (site / "mathjax" / "MathJax.js").exists()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'id="contents"' in index and f'href="{DERIVATION}.html"' in index  # table of contents
    chapter = (site / f"{DERIVATION}.html").read_text(encoding="utf-8")
    assert '<h3 id="QIF"' in chapter  # a show_doc API entry


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
    # TeX errors (noErrors shows the source) and undefined macros (noUndefined shows them in red)
    tex = dict(re.findall(r'<script type="math/tex[^"]*" id="(MathJax-Element-\d+)">(.*?)</script>', dom, re.S))
    bad = [html.unescape(tex.get(m, m))[:80] for m in re.findall(
        r'id="(MathJax-Element-\d+)-Frame"[^>]*data-mathml="[^"]*mathcolor=&quot;red&quot;', dom)]
    bad += ["(TeX syntax error)"] * dom.count('class="noError"')
    assert not bad, f"{name}: {len(bad)} formula(s) with TeX errors or undefined macros, e.g. {bad[:4]}"
    prose = " ".join(p.text)
    raw = re.findall(r"\$[^$\n]{1,200}\$", prose) + re.findall(r"\\(?:frac|tau|sqrt|begin)\b", prose)
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
        assert p.imgs, "the landing page should show the spike-time figure"
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


@pytest.mark.parametrize("name", PAGES)
def test_screenshot(site, name):
    shots = ROOT / "runs" / "docs"
    shots.mkdir(parents=True, exist_ok=True)
    png = shots / f"{name}.png"
    png.unlink(missing_ok=True)
    _chromium((site / f"{name}.html").as_uri(), f"--screenshot={png}", "--window-size=1200,1600",
              "--hide-scrollbars")
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
