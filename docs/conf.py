"""Sphinx configuration of the offline docs site (built by `make docs`, i.e. scripts/docs.py).

The sources are the nbdev-processed notebooks staged by scripts/docs.py; this folder only holds the
configuration and static files. Nothing is fetched from the network: MathJax 2 comes from the
`jupyter-server-mathjax` package, the theme bundles its fonts and scripts.
"""

import configparser
import inspect
import re
import shutil
from pathlib import Path

import jupyter_server_mathjax

ROOT = Path(__file__).resolve().parent.parent
_ini = configparser.ConfigParser()
_ini.read(ROOT / "settings.ini")
_cfg = _ini["DEFAULT"]

project = _cfg.get("title", "smoothgrad")
author = _cfg.get("author", "")
copyright = _cfg.get("copyright", "")
release = version = _cfg.get("version", "")

extensions = ["myst_nb", "sphinx.ext.mathjax", "sphinx.ext.autodoc"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# notebooks: render the committed outputs, never execute (nbdev already ran the show_doc cells)
nb_execution_mode = "off"
nb_render_markdown_format = "myst"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

# math: MathJax 2 from the local jupyter-server-mathjax copy (copied to _static/mathjax by setup below)
MATHJAX = Path(jupyter_server_mathjax.__file__).parent / "static"
html_static_path = ["_static"]
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"
mathjax2_config = {
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True,
                # myst-nb marks notebook cells tex2jax_ignore and its math spans "math"
                "processClass": "tex2jax_process|mathjax_process|math|output_area"},
    "TeX": {"extensions": ["AMSmath.js", "AMSsymbols.js"], "equationNumbers": {"autoNumber": "AMS"}},
    # the package ships only the HTML-CSS output with the STIX-Web fonts
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None, "preferredFont": None,
                 "linebreaks": {"automatic": True}},
    "showMathMenu": False,
    "messageStyle": "none",
}
html_js_files = ["mathjax_done.js"]
html_css_files = ["custom.css"]

# the API reference (api/*.rst, written by scripts/docs.py from each module's __all__): every public function,
# class and method, with an entry in the general index (genindex)
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
    # one search box, the sidebar's: no second one in the header bar, no search button beside the page tools
    "navbar_persistent": [],
}
html_show_sourcelink = False
html_last_updated_fmt = None


CODE_RE = re.compile(r"(``.*?``|`[^`]+`)")


def _markdown_docstring(app, what, name, obj, options, lines):
    """The library's docstrings are Markdown (nbdev): `code` becomes RST ``code``; `*`, `|` and a trailing `_`
    outside code are literal characters, not RST markup. A constant has no docstring of its own (not its type's)."""
    own = inspect.cleandoc(getattr(obj, "__doc__", None) or "").strip()
    if what in ("data", "attribute") and own and "\n".join(lines).strip() == own:  # a dict's, an array's docstring
        lines[:] = []
        return
    out = []
    for line in lines:
        parts = CODE_RE.split(line)
        for i, part in enumerate(parts):
            if i % 2:
                code = part if part.startswith("``") else f"``{part[1:-1]}``"
                before = "\\ " if parts[i - 1][-1:].isalnum() else ""  # `Trial`s: RST needs an escaped space
                after = "\\ " if parts[i + 1][:1].isalnum() else ""
                parts[i] = before + code + after
            else:
                part = part.replace("\\", "\\\\").replace("*", r"\*").replace("|", r"\|")
                parts[i] = re.sub(r"(\w)_(?=\W|$)", r"\1\\_", part)
        out.append("".join(parts))
    lines[:] = out


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy_mathjax)
    app.connect("autodoc-process-docstring", _markdown_docstring)
