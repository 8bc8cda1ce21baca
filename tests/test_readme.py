"""The README's code examples run and print what they claim."""
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_two_quick_start_commands():
    text = README.read_text()
    quick = text.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.strip().split("#")[0].strip() for line in quick.splitlines() if line.startswith("    make")]
    assert commands == ["make figures", "make test"]


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index):
    namespace = {}
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), namespace)
    if "trial" in namespace:
        np.testing.assert_allclose(namespace["trial"].spike_times, [2.1955], atol=1e-4)
        assert namespace["grads"]["input_times"][0] == pytest.approx(1.0)
        assert namespace["grads"]["w_in"][0, 0] < 0
    if "history" in namespace:
        assert namespace["history"]["test_accuracy"][-1] > 0.7
