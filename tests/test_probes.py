"""probes.arc_length: the paper's distance (sum over outputs of |dt|) and its smoothing over full windows."""

import numpy as np
import pytest

from smoothgrad.probes import arc_length, arc_length_trials


def test_l1_over_outputs():
    assert np.allclose(arc_length([[0, 0], [3, 4], [3, 4], [0, 0]]), [0, 7, 7, 14])
    t = np.random.default_rng(0).normal(size=(50, 3))
    assert np.allclose(arc_length(t), sum(arc_length(t[:, i]) for i in range(3)))


def test_smoothing_uses_full_windows_only():
    t = np.arange(20.0)
    d = arc_length(t, window=5)
    assert d.shape == (16,) and np.allclose(d, np.arange(16.0))
    assert np.allclose(arc_length_trials(20, 5), np.arange(2, 18))
    jitter = 3.0 + np.tile([0.5, -0.5], 10)
    assert arc_length(jitter)[-1] == pytest.approx(19.0) and np.allclose(arc_length(jitter, window=2), 0)
    assert np.allclose(arc_length(t[:, None] * [1, -2], window=3)[-1], 3 * 17)


@pytest.mark.parametrize("bad", [0, 2.5, True, 21])
def test_bad_window(bad):
    with pytest.raises(ValueError, match="window"):
        arc_length(np.arange(20.0), window=bad)


def test_bad_times():
    with pytest.raises(ValueError, match="finite"):
        arc_length([1.0, np.inf])
    with pytest.raises(ValueError, match="shape"):
        arc_length(np.zeros((2, 2, 2)))
