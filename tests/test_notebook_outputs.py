"""Committed notebook outputs (scripts/notebook_outputs.py, `make notebooks` / `make check-outputs`):
written by a real kernel, kept by nbdev_clean, compared robustly, and stale or volatile outputs fail."""

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import notebook_outputs as no  # noqa: E402

pytest.importorskip("nbclient")


def _nb(*sources: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "python3", "language": "python", "name": "python3"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A test notebook")]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    return nb


def _png(shift: float = 0.0, label: str = "x") -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=72)
    x = np.linspace(0, 6, 200)
    ax.plot(x, np.sin(x + shift), lw=2)
    ax.set_xlabel(label)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_image_comparison_is_robust_but_not_blind():
    a = _png()
    assert no.same_image(a, a)[0]
    # the same picture encoded differently (other compression, extra metadata chunk) still matches
    import matplotlib.image as mpimg

    buf = io.BytesIO()
    mpimg.imsave(buf, no._png(a), format="png", metadata={"Software": "another build"})
    assert no.same_image(a, base64.b64encode(buf.getvalue()).decode())[0]
    assert not no.same_image(a, _png(shift=0.3))[0]  # the curve moved
    assert not no.same_image(a, _png(label="a different axis label"))[0]


def test_skipped_cells_follow_nbdev_test():
    flags = {"slow", "gpu"}
    cell = lambda s: {"cell_type": "code", "source": s}  # noqa: E731
    assert no.skipped(cell("#| slow\nx = 1"), flags) and no.skipped(cell("#| eval: false\n1"), flags)
    assert no.skipped(cell("#| export\n#| gpu\n1"), flags)
    assert not no.skipped(cell("#| export\nx = 1"), flags) and not no.skipped(cell("x = 1  #| slow"), flags)


def test_volatile_patterns():
    outs = [[{"output_type": "stream", "name": "stdout", "text": "<object at 0x7f3a2b1c9d10>\n"}],
            [{"output_type": "stream", "name": "stdout", "text": "CPU times: user 2 s\n"}],
            [{"output_type": "stream", "name": "stdout", "text": "run on 2026-12-01\n"}],
            [{"output_type": "stream", "name": "stdout", "text": "max error 2.9e-12, 16 spikes\n"}]]
    found = no.volatile(outs)
    assert [f.split(":")[0] for f in found] == ["code cell 0", "code cell 1", "code cell 2"]


def test_write_keeps_outputs_through_nbdev_clean_and_check_passes(tmp_path):
    nb = _nb("import numpy as np\nprint(np.arange(3).sum())",
             "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\nax.plot([0, 1], [1, 0]);",
             "#| slow\nraise RuntimeError('slow cells are skipped')",
             "#| eval: false\nraise RuntimeError('eval: false cells are skipped')",
             "{'a': 1}")
    path = tmp_path / "chapter.ipynb"
    nbformat.write(nb, path)
    assert no.main(["write", str(path), "--jobs", "1"]) == 0
    written = json.loads(path.read_text())
    code = [c for c in written["cells"] if c["cell_type"] == "code"]
    assert "".join(code[0]["outputs"][0]["text"]) == "3\n"
    assert "image/png" in code[1]["outputs"][-1]["data"]  # a PNG figure from the inline backend
    assert code[2]["outputs"] == [] and code[3]["outputs"] == []
    assert "".join(code[4]["outputs"][0]["data"]["text/plain"]) == "{'a': 1}"
    assert all(c["execution_count"] is None for c in code)  # nbdev_clean ran ...
    r = subprocess.run([str(Path(sys.executable).with_name("nbdev_clean")), "--fname", str(path)], cwd=ROOT)
    assert r.returncode == 0 and json.loads(path.read_text()) == written  # ... and keeps the outputs
    assert no.main(["check", str(path), "--jobs", "1"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["chapter.ipynb"]  # written atomically: no temporary file left


def test_check_fails_on_stale_and_volatile(tmp_path, capsys):
    # a committed output that a run no longer produces (the code changed after `write`)
    stale = _nb("print(6 * 7)")
    stale.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="41\n")]
    nbformat.write(stale, tmp_path / "stale.ipynb")
    # a run-dependent output (written by hand here: `write` refuses it)
    vol = _nb("print(hex(id(object())))")
    nbformat.write(vol, tmp_path / "volatile.ipynb")
    assert no.main(["write", str(tmp_path / "volatile.ipynb"), "--jobs", "1"]) == 1
    assert "memory address" in capsys.readouterr().out
    assert no.main(["check", str(tmp_path / "stale.ipynb"), str(tmp_path / "volatile.ipynb")]) == 1
    out = capsys.readouterr().out
    assert "stale.ipynb: code cell 0: text '41\\n' -> '42\\n'" in out
    assert "volatile.ipynb: code cell 0: 0 outputs committed, 1 now" in out


def test_index_outputs_current_and_a_stale_copy_fails(tmp_path, capsys):
    """The landing page's committed outputs are current; a copy with one printed number changed is not."""
    index = ROOT / "nbs" / "index.ipynb"
    nb = json.loads(index.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(c["outputs"] for c in code), "nbs/index.ipynb has no committed outputs: run `make notebooks`"
    copy = tmp_path / "index.ipynb"
    shutil.copy(index, copy)
    text = copy.read_text()
    assert "2.1955" in text
    copy.write_text(text.replace("2.1955", "2.1956"))
    rc = no.main(["check", str(index), str(copy)])
    out = capsys.readouterr().out
    assert "check nbs/index.ipynb: ok" in out, out
    assert rc == 1 and f"{copy}: code cell 1: text" in out and "2.1956" in out, out


_PROBE = """import os
import numba.core.config as c
from numba import njit
try:
    from numpy._core import _multiarray_umath as mu
except ImportError:
    from numpy.core import _multiarray_umath as mu


@njit(fastmath={"contract"})
def muladd(a, b, x):
    return a * b + x


muladd(1.0, 2.0, 3.0)
asm = next(iter(muladd.inspect_asm().values()))
print(c.CPU_NAME, repr(c.CPU_FEATURES), c.CACHE_DIR == os.environ.get("NUMBA_CACHE_DIR"), "vfmadd" in asm,
      [f for f in mu.__cpu_dispatch__ if mu.__cpu_features__.get(f)] == [])"""


def test_generic_cpu_reaches_the_kernel(tmp_path):
    """`--cpu generic`: in the kernel numba compiles for generic x86-64 into the given cache folder (no fused
    multiply-add even where fast math allows one) and NumPy's run-time SIMD targets are off; on the host target
    the same function gets an FMA wherever the CPU has one."""
    import llvmlite.binding as ll

    path = tmp_path / "probe.ipynb"
    nbformat.write(_nb(_PROBE), path)
    env = no.generic_cpu_env(tmp_path / "cache")
    assert env["NUMBA_CPU_NAME"] == "generic" and env["NUMBA_CACHE_DIR"] == str(tmp_path / "cache")
    text = lambda nb: "".join(o["text"] for c in nb.cells if c.cell_type == "code" for o in c.outputs)  # noqa: E731
    assert text(no.execute(path, env)) == "generic '' True False True\n"
    if {"NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "NPY_DISABLE_CPU_FEATURES"} & set(os.environ):
        return  # the whole run already simulates another CPU
    host_fma = "+fma" in ll.get_host_cpu_features().flatten().split(",")
    host = text(no.execute(path))
    assert host.startswith("None None") and host.endswith(f" {host_fma} {not no.numpy_dispatch_features()}\n"), host


def test_check_generic_command(tmp_path, capsys):
    """`check --cpu generic` (options before or after the notebooks) passes on outputs written on the host and
    removes its temporary kernel cache; a missing notebook is refused."""
    path = tmp_path / "chapter.ipynb"
    nbformat.write(_nb("import numpy as np\nprint(np.exp(np.linspace(0, 1, 5)).round(6))"), path)
    assert no.main(["write", str(path), "--jobs", "1"]) == 0
    assert no.main(["check", "--cpu", "generic", str(path), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    cache = re.search(r"NUMBA_CACHE_DIR='([^']+)'", out)
    assert cache and not Path(cache.group(1)).exists(), out
    with pytest.raises(SystemExit):
        no.main(["check", str(tmp_path / "missing.ipynb")])
