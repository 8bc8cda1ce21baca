"""Sphinx configuration of the offline docs site (built by `make docs`, i.e. scripts/docs.py).

The sources are the nbdev-processed notebooks staged by scripts/docs.py; this folder only holds the
configuration and static files. Nothing is fetched from the network: MathJax 2 comes from the
`jupyter-server-mathjax` package, the theme bundles its fonts and scripts.
"""

import configparser
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

extensions = ["myst_nb", "sphinx.ext.mathjax"]
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

html_theme = "sphinx_book_theme"
html_title = project
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "navigation_with_keys": False,
}
html_show_sourcelink = False
html_last_updated_fmt = None


def _copy_mathjax(app, exception):
    if exception is None and app.builder.format == "html":
        shutil.copytree(MATHJAX, Path(app.outdir) / "_static" / "mathjax", dirs_exist_ok=True)


def setup(app):
    app.connect("build-finished", _copy_mathjax)
