"""Which run does the published Fig. S6 / S7 look like? Reads the loss panel (a) and the surplus-output trace of panel
(d) off the published renderings (PNG; shared/paper/figures/figS6.png and figS7.png, byte-identical to the outputs
stored in the authors' experiments/rnn/rnn.ipynb) and compares them with the runs in figures/authors/fig3.json and
figS7.json (one per JAX/optax environment, i.e. per AdaBelief variant) and, optionally, with loss histories of other
runs (--extra NPZ: arrays named <figS6|figS7>_<label>, loss row k = after k updates). Needs numpy and Pillow only
(both are in the authors' environment: Pillow comes with matplotlib).

Reading the panels: the axes are calibrated on the major tick marks (found as the long tick marks left of the y spine
and below the x spine of each panel; log axes, one decade per major tick on the x axes, the labelled decades on the y
axes), and the curve is the mean row of the dark pixels (grey < 110) in each pixel column. One pixel is about 0.03
decades of trials (x) and 0.05 (S6) / 0.06 (S7) decades of loss (y), plus up to about a pixel of anti-aliasing offset.
The distance of a run from the published curve is the mean over the columns of |log10 L_run - log10 L_published|,
with L_run the run's loss at the column's trial (the authors' loss panel draws loss[k] at x = k). The surplus output of
target neuron 0 (the black trace of the left panel (d), drawn over the shaded pseudospike region t >= T) leaves the
trial for good at the first column after the last one whose black pixels lie below the line t = T.

Usage: python benchmarks/authors/rendering_check.py [--paper DIR] [--extra NPZ] [--out FILE]
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]

# the panels as laid out by the authors' notebook (pixel boxes of the published PNGs; left, top, right, bottom)
PANELS = {
    "figS6": {"loss": (0, 0, 200, 125), "loss_ylim_decades": (-4, None), "times0": (390, 0, 570, 125)},
    "figS7": {"loss": (0, 0, 200, 125), "loss_ylim_decades": (-5, None), "times0": (390, 0, 570, 125)},
}


def grey(path):
    return np.asarray(Image.open(path).convert("L")).astype(int)


def rgb(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def axes_of(g, box):
    """Spines and major ticks of the panel in `box` of grey image g: left spine column, bottom spine row, the rows of
    the major y ticks and the columns of the major x ticks (absolute pixel positions)."""
    x0, y0, x1, y1 = box
    sub = g[y0:y1, x0:x1] < 128
    sc = int(np.argmax(sub[:, : (x1 - x0) // 2].sum(0))) + x0
    br = int(np.argmax(sub[(y1 - y0) // 3:, :].sum(1))) + (y1 - y0) // 3 + y0
    y_major = [r for r in range(y0, br + 2) if g[r, sc - 5] < 150]
    x_major = [c for c in range(sc - 2, x1) if g[br + 5, c] < 150]
    return sc, br, y_major, x_major


def loss_panel(g, box, bottom_decade):
    "Digitised loss curve: (trial x, log10 loss) per pixel column, and the calibration."
    sc, br, y_major, x_major = axes_of(g, box)
    # y: the major ticks are evenly spaced decades from the bottom spine (bottom_decade) up
    step = (y_major[-1] - y_major[0]) / (len(y_major) - 1)
    # S6 labels every decade (ticks 10^-1..10^-4), S7 every other one (10^-1, 10^-3, 10^-5): the decades per tick
    # follow from the span: the top tick is 10^-1 in both panels
    decades_per_tick = (-1 - bottom_decade) / (len(y_major) - 1)
    px_per_decade_y = step / decades_per_tick
    px_per_decade_x = (x_major[-1] - x_major[0]) / (len(x_major) - 1)
    cols = []
    top = max(box[1], y_major[0] - int(px_per_decade_y))  # a decade above the top tick (the panel's ylim is 0.8)
    for c in range(sc + 2, x_major[-1] + int(0.35 * px_per_decade_x) + 1):  # up to 2.2 x the last decade (20,000)
        rows = [r for r in range(top, br - 1) if g[r, c] < 110]
        if rows:
            x = 10 ** ((c - x_major[0]) / px_per_decade_x)
            cols.append((x, bottom_decade + (br - np.mean(rows)) / px_per_decade_y))
    calib = dict(y_spine_col=sc, x_spine_row=br, y_major_rows=y_major, x_major_cols=x_major,
                 px_per_decade_x=px_per_decade_x, px_per_decade_y=px_per_decade_y)
    return np.array(cols), calib


def surplus_leave(img, g, box):
    """Trial at which the black trace (surplus output of target neuron 0) leaves the trial for good, read off panel
    (d): x of the first column after the last one whose black pixels lie below the line t = T (100 ms)."""
    sc, br, y_major, x_major = axes_of(g, box)
    # y ticks 0, 50, 100, 150 ms: the row of 100 ms is the third major tick from the bottom
    ticks = sorted(y_major)
    row_T = ticks[1] if len(ticks) == 4 else ticks[-3]
    px_per_decade_x = (x_major[-1] - x_major[0]) / (len(x_major) - 1)
    black = (img[..., 0] < 90) & (img[..., 1] < 90) & (img[..., 2] < 90)
    inside_cols = []
    for c in range(sc + 2, x_major[-1] + 1):
        rows = [r for r in range(box[1], br - 1) if black[r, c]]
        if rows and np.mean(rows) > row_T + 1.0:  # below the T line (more than a pixel): inside the trial
            inside_cols.append(c)
    if not inside_cols:
        return math.nan, dict(row_T=row_T)
    c = inside_cols[-1] + 1
    return 10 ** ((c - x_major[0]) / px_per_decade_x), dict(row_T=row_T, last_inside_col=inside_cols[-1],
                                                             x_major_cols=x_major)


def distance(curve, rows, loss):
    "Mean |log10 L_run(x) - log10 L_published(x)| over the digitised columns (run: loss[k] at x = k)."
    rows, loss = np.asarray(rows, float), np.asarray(loss, float)
    ok = (rows >= 1) & np.isfinite(loss) & (loss > 0)
    lx, ly = np.log10(rows[ok]), np.log10(loss[ok])
    x = np.log10(curve[:, 0])
    m = x <= lx[-1] + 1e-9
    return float(np.mean(np.abs(np.interp(x[m], lx, ly) - curve[m, 1])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--paper", default="/work/shared/paper/figures", help="folder of figS6.png and figS7.png")
    ap.add_argument("--extra", default=None, help="npz of further loss histories: <figS6|figS7>_<label>")
    ap.add_argument("--out", default=str(REPO / "figures" / "authors" / "rendering_check.json"))
    a = ap.parse_args()
    extra = dict(np.load(a.extra)) if a.extra else {}
    result = {"description": __doc__.split("\n\n")[1].replace("\n", " "), "figures": {}}
    for fig, run_json in (("figS6", "fig3.json"), ("figS7", "figS7.json")):
        path = Path(a.paper) / f"{fig}.png"
        g, img = grey(path), rgb(path)
        P = PANELS[fig]
        curve, calib = loss_panel(g, P["loss"], P["loss_ylim_decades"][0])
        leave, leave_calib = surplus_leave(img, g, P["times0"])
        published = {"loss_at": {}, "surplus_leave_trial_neuron0": leave}
        for k in (1, 10, 100, 500, 1000, 5000, 10_000, 20_000):
            near = curve[np.argmin(np.abs(np.log10(curve[:, 0]) - math.log10(k)))]
            if abs(math.log10(near[0]) - math.log10(k)) < 0.05:
                published["loss_at"][str(k)] = float(10 ** near[1])
        entry = {"png": str(path), "calibration": calib, "leave_calibration": leave_calib,
                 "published_read": published, "runs": {}}
        rj = REPO / "figures" / "authors" / run_json
        if rj.exists():
            for key, run in json.loads(rj.read_text())["runs"].items():
                v = run["values"]
                lc = v["loss_curve"]
                entry["runs"][f"authors {key} ({run['environment']['adabelief']})"] = dict(
                    mean_abs_dlog10_loss=distance(curve, lc["rows"], lc["loss"]),
                    surplus_leave_row_neuron0=v["surplus_leave_row_per_target_neuron"][0],
                    n_trials=v["n_trials"])
        for name, L in extra.items():
            if name.startswith(fig + "_"):
                entry["runs"][name[len(fig) + 1:]] = dict(
                    mean_abs_dlog10_loss=distance(curve, np.arange(len(L)), L), n_trials=len(L) - 1)
        result["figures"][fig] = entry
        print(f"{fig}: published loss read at trials {published['loss_at']}; surplus output of neuron 0 leaves at "
              f"about trial {leave:.0f}")
        for name, r in entry["runs"].items():
            print(f"  {name}: mean |dlog10 loss| {r['mean_abs_dlog10_loss']:.3f}"
                  + (f", surplus leaves at row {r['surplus_leave_row_neuron0']}" if "surplus_leave_row_neuron0" in r
                     else ""))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
