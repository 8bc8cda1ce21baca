"""No plotted curve of the single-neuron and small-network figures (Figs. 1, S1-S5) shows a gap, jump or divergence
that is not declared: every figure JSON stores its plotted curves (`probes.curve_record`) with the levels (e.g. T)
and abscissae (w_min, transitions, crossings) where a curve may end or bend, and the check runs again here."""

import json
from pathlib import Path

import numpy as np
import pytest

from smoothgrad.neurons import QIF
from smoothgrad.probes import curve_arrays, curve_record, first_spike_time, refine_curve, unexplained_breaks

FIGURES = Path(__file__).resolve().parents[1] / "figures"
NAMES = ["fig1", "figS1", "figS2", "figS3", "figS4", "figS5"]


def _panels(name):
    doc = json.loads((FIGURES / f"{name}.json").read_text())
    return doc.get("curves") or {}


@pytest.mark.parametrize("name", NAMES)
def test_plotted_curves_have_no_unexplained_gaps(name):
    panels = _panels(name)
    assert panels, f"{name}.json stores no plotted curves (key 'curves')"
    for panel, rec in panels.items():
        arr = curve_arrays(rec)
        assert len(arr["x"]) >= 50 and np.isfinite(arr["y"]).any(), (name, panel)
        assert unexplained_breaks(**arr) == [], (name, panel, unexplained_breaks(**arr)[:5])


@pytest.mark.parametrize("name", NAMES)
def test_the_check_sees_a_removed_piece(name):
    "The stored curves are dense enough that cutting a piece out of the longest drawn curve is detected."
    panel, rec = next(iter(_panels(name).items()))
    arr = curve_arrays(rec)
    c = int(np.argmax(np.isfinite(arr["y"]).sum(axis=0)))
    drawn = np.flatnonzero(np.isfinite(arr["y"][:, c]))
    y = arr["y"].copy()
    mid = drawn[len(drawn) // 2]
    y[mid - 2:mid + 3, c] = np.nan
    cut = dict(arr, y=y, at=[a for a in arr["at"] if not arr["x"][mid - 3] <= a <= arr["x"][mid + 3]])
    assert any(k == "end" for k, _, _ in unexplained_breaks(**cut)), (name, panel)


def test_refinement_reaches_the_trial_end():
    "A QIF spike time near w_min: a coarse grid stops below T, the refined one reaches T (see 11_probes)."
    T = 4.0
    f = lambda w: np.where(np.isfinite(t := first_spike_time(QIF(1.0), T, 0.5, w)), t, np.nan)[:, None]  # noqa: E731
    x0 = np.linspace(0.5, 2.0, 16) * QIF.w_min
    assert unexplained_breaks(x0, f(x0), levels=[T]) != []
    x, y = refine_curve(f, x0, max_dy=0.05, x_tol=1e-12)
    assert unexplained_breaks(x, y, levels=[T]) == []
    assert T - np.nanmax(y) < 1e-3 and np.nanmax(np.abs(np.diff(y[:, 0]))) <= 0.05 + 1e-12
    rec = curve_arrays(curve_record(x, y, levels=[T]))
    assert np.allclose(rec["y"], y, rtol=1e-6, equal_nan=True)


def test_jumps_need_a_declaration():
    x = np.linspace(0, 1, 101)
    y = np.stack([np.where(x < 0.5, x, x + 1), x], axis=1)
    assert unexplained_breaks(x, y) == [("jump", 0, pytest.approx(0.49, abs=0.011))]
    assert unexplained_breaks(x, y, at=[0.5]) == []


def test_refine_curve_rejects_bad_input():
    with pytest.raises(ValueError, match="x_grid"):
        refine_curve(lambda x: x, [0.0, 0.0, 1.0], 0.1)
    with pytest.raises(ValueError, match="max_dy"):
        refine_curve(lambda x: x, [0.0, 1.0], 0.0)
