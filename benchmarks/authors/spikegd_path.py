"""The one helper both side-by-side scripts share: where the authors' checkout is."""
import os
import sys
from pathlib import Path


def use_spikegd(ap, path, experiment):
    "Put the spikegd checkout `path` (else $SPIKEGD) and its experiments/<experiment> folder first on sys.path."
    path = path or os.environ.get("SPIKEGD")
    if not path:
        ap.error("no spikegd checkout: give the path of a clone of https://github.com/chklos/spikegd (commit "
                 "bc64e2e) with --spikegd PATH or the environment variable SPIKEGD")
    root = Path(path).expanduser().resolve()
    script = root / "experiments" / experiment / f"{experiment}.py"
    if not (root / "spikegd" / "__init__.py").is_file() or not script.is_file():
        ap.error(f"{root} is not a checkout of chklos/spikegd ({script} or spikegd/__init__.py not found)")
    sys.path[:0] = [str(root), str(script.parent)]
    return root
