"""Package metadata comes from settings.ini, the single source (nbdev 2 convention).

Extras (all lists in settings.ini): `gpu` (`gpu_requirements`), `figures` (`figures_requirements`: run the
experiment notebooks), `notebooks` (`notebooks_requirements`: `jupyter lab` on the chapters), `dev`
(`figures`, `dev_requirements`: tests, lint, docs, and the build requirements of pyproject.toml, since a
test builds a wheel offline) and `all`.
A wheel carries the experiment notebooks (nbs/experiments) as package data in smoothgrad/experiments.
"""
import re
import shutil
import tomllib
from configparser import ConfigParser
from pathlib import Path

import setuptools
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
cfg = ConfigParser(delimiters=["="])
cfg.read(ROOT / "settings.ini", encoding="utf8")
c = cfg["DEFAULT"]

STATUSES = "1 - Planning,2 - Pre-Alpha,3 - Alpha,4 - Beta,5 - Production/Stable,6 - Mature,7 - Inactive".split(",")
LICENSES = {  # SPDX licence expression (settings.ini `license`) -> trove classifier, for setuptools < 77
    "Apache-2.0": "License :: OSI Approved :: Apache Software License",
    "MIT": "License :: OSI Approved :: MIT License",
    "GPL-3.0-only": "License :: OSI Approved :: GNU General Public License v3 (GPLv3)",
    "BSD-3-Clause": "License :: OSI Approved :: BSD License",
}
NBDEV_LICENSES = {"apache2": "Apache-2.0", "mit": "MIT", "gpl3": "GPL-3.0-only", "bsd3": "BSD-3-Clause"}  # older names
# setuptools >= 77 (PEP 639) takes the licence as an SPDX expression and deprecates the licence classifiers
LICENSE_EXPRESSIONS = tuple(int(x) for x in re.findall(r"\d+", setuptools.__version__)[:2]) >= (77, 0)
PYTHONS = "3.11 3.12 3.13".split()


def reqs(key):
    "Whitespace-separated requirement list `key` of settings.ini."
    return c.get(key, "").split()


def union(*lists):
    return list(dict.fromkeys(r for lst in lists for r in lst))


lic_name = NBDEV_LICENSES.get(c["license"], c["license"])
if lic_name not in LICENSES:
    raise SystemExit(f"settings.ini: license = {c['license']!r} is not one of {', '.join(LICENSES)} (SPDX)")
min_python = c["min_python"]
classifiers = [
    f"Development Status :: {STATUSES[int(c['status']) - 1]}",
    f"Intended Audience :: {c['audience']}",
    *([] if LICENSE_EXPRESSIONS else [LICENSES[lic_name]]),
    f"Natural Language :: {c['language']}",
    "Operating System :: OS Independent",
    "Programming Language :: Python :: 3",
    *[f"Programming Language :: Python :: {v}" for v in PYTHONS if tuple(map(int, v.split("."))) >=
      tuple(map(int, min_python.split(".")))],
    "Topic :: Scientific/Engineering :: Artificial Intelligence",
    "Topic :: Scientific/Engineering :: Physics",
]
extras = {"gpu": reqs("gpu_requirements"), "figures": reqs("figures_requirements"),
          "notebooks": reqs("notebooks_requirements")}
build_requirements = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
extras["dev"] = union(extras["figures"], reqs("dev_requirements"), build_requirements)  # tests build a wheel
extras["all"] = union(*extras.values())
project_urls = dict(u.split("=", 1) for u in reqs("project_urls"))


def long_description(readme: str) -> str:
    """README.md for the package index: relative image links (`![..](figures/fig1.png)`, `<img src="...">`) become
    absolute URLs of the repository's raw files (settings.ini `git_url` at `branch`), which a long description needs
    (it is shown away from the repository). Absolute URLs and anchors stay as they are."""
    if not c["git_url"].startswith("https://github.com/"):
        return readme
    raw = c["git_url"].replace("https://github.com/", "https://raw.githubusercontent.com/", 1).rstrip("/")
    base = f"{raw}/{c['branch']}/"
    relative = r"(?![a-zA-Z][a-zA-Z0-9+.-]*:|/|#)"  # no scheme (https:, data:), not rooted, not an anchor
    readme = re.sub(rf"(!\[[^\]]*\]\(\s*){relative}(?:\./)?", lambda m: m.group(1) + base, readme)
    return re.sub(rf"(<img\b[^>]*?\bsrc=[\"']){relative}(?:\./)?", lambda m: m.group(1) + base, readme)


class build_py_with_notebooks(build_py):
    "Also copy the experiment notebooks (nbs/experiments/*.ipynb) into the built package (not for editable installs)."

    def run(self):
        super().run()
        src = ROOT / c["nbs_path"] / "experiments"
        if getattr(self, "editable_mode", False) or not src.is_dir():
            return  # a checkout finds them in nbs/experiments
        dst = Path(self.build_lib) / c["lib_path"] / "experiments"
        dst.mkdir(parents=True, exist_ok=True)
        for nb in sorted(src.glob("*.ipynb")):
            if not nb.name.startswith(("_", ".")):
                shutil.copyfile(nb, dst / nb.name)


setuptools.setup(
    name=c["lib_name"],
    version=c["version"],
    description=c["description"],
    long_description=long_description((ROOT / "README.md").read_text(encoding="utf8")),
    long_description_content_type="text/markdown",
    keywords=c["keywords"],
    author=c["author"],
    url=c["git_url"],
    project_urls=project_urls,
    **({"license_expression": lic_name} if LICENSE_EXPRESSIONS else {"license": lic_name}),
    license_files=["LICENSE"],
    classifiers=classifiers,
    python_requires=">=" + min_python,
    packages=setuptools.find_packages(include=[c["lib_path"], c["lib_path"] + ".*"]) + [c["lib_path"] + ".assets"],
    include_package_data=True,
    package_data={c["lib_path"]: ["*.mplstyle"], c["lib_path"] + ".assets": ["*"]},
    install_requires=reqs("requirements"),
    extras_require=extras,
    entry_points={"console_scripts": reqs("console_scripts")},
    cmdclass={"build_py": build_py_with_notebooks},
    zip_safe=False,
)
