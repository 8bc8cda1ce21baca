"""Tests for smoothgrad.train: history, determinism, input kinds, configuration-keyed checkpoints, bit-identical resume."""
import re

import numpy as np
import pytest

from smoothgrad.data import yin_yang, yin_yang_times
from smoothgrad.optim import SGD, AdaBelief, Adam, exponential_decay
from smoothgrad.train import atomic_savez, config_hash, named, run_config, train
from smoothgrad.ttfs import TTFSNetwork


class SoftmaxRegression:
    """Stand-in model with the TTFSNetwork training interface (multinomial logistic regression)."""

    def __init__(self, n_in, n_out, seed=0, clip=None):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(0, 0.1, (n_in, n_out))
        self.b = np.zeros(n_out)
        self.clip = clip
        self.clip_calls = 0
        self.batches = []

    def params(self):
        return [self.W, self.b]

    def _probs(self, x):
        z = x @ self.W + self.b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def loss_and_grad(self, x, labels):
        self.batches.append(len(x))
        p = self._probs(x)
        n = len(x)
        loss = -np.mean(np.log(p[np.arange(n), labels]))
        acc = np.mean(p.argmax(1) == labels)
        d = p.copy()
        d[np.arange(n), labels] -= 1
        d /= n
        return loss, acc, [x.T @ d, d.sum(0)]

    def evaluate(self, x, labels):
        p = self._probs(x)
        return {"acc": float(np.mean(p.argmax(1) == labels)), "loss": float(-np.mean(np.log(p[np.arange(len(x)), labels])))}


class ClippedModel(SoftmaxRegression):
    def clip_params(self):
        self.clip_calls += 1
        np.clip(self.b, -0.05, 0.05, out=self.b)


def blobs(n, seed, n_in=5, n_out=3):
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(123).normal(0, 2, (n_out, n_in))
    y = rng.integers(0, n_out, n)
    return centres[y] + rng.normal(0, 1, (n, n_in)), y


XTR, YTR = blobs(230, 0)
XTE, YTE = blobs(100, 1)


CRASH = {"at": None, "calls": 0}  # jitter raises KeyboardInterrupt on call number CRASH["at"]


def jitter(xb, rng):
    CRASH["calls"] += 1
    if CRASH["calls"] == CRASH["at"]:
        raise KeyboardInterrupt
    return xb + 0.1 * rng.normal(size=xb.shape)


JITTER = named(jitter, "jitter", scale=0.1)  # a checkpointed run needs a function with a declared identity


def fresh(opt="adabelief"):
    model = SoftmaxRegression(5, 3)
    o = {"adabelief": lambda: AdaBelief(exponential_decay(0.05, 50)), "adam": lambda: Adam(0.05),
         "sgd": lambda: SGD(0.1, momentum=0.5)}[opt]()
    return model, o


def run(epochs, ckpt=None, seed=3, opt="adabelief", **kw):
    model, o = fresh(opt)
    kw.setdefault("inputs", "features")
    hist = train(model, o, XTR, YTR, XTE, YTE, epochs=epochs, batch_size=50, seed=seed, augment=JITTER,
                 checkpoint=ckpt, progress=False, **kw)
    return model, o, hist


def assert_same_history(h1, h2):
    assert h1.keys() == h2.keys()
    for k in h1:
        np.testing.assert_array_equal(np.array(h1[k]), np.array(h2[k]), err_msg=k)


def test_history_and_learning():
    model, _, h = run(5)
    assert set(h) == {"epoch", "train_loss", "train_acc", "test_acc", "test_loss"}
    assert h["epoch"] == [0, 1, 2, 3, 4, 5]
    assert all(len(v) == 6 and np.isfinite(v).all() for v in h.values())  # every entry a real number
    # epoch 0: the untrained model's mean loss and accuracy over the training set (issue 19: was NaN)
    untrained = SoftmaxRegression(5, 3)
    p = untrained._probs(XTR)
    assert h["train_loss"][0] == pytest.approx(-np.mean(np.log(p[np.arange(len(YTR)), YTR])), rel=1e-12)
    assert h["train_acc"][0] == pytest.approx(np.mean(p.argmax(1) == YTR), abs=1e-12)
    assert h["train_loss"][0] > h["train_loss"][-1] + 0.3
    assert h["test_acc"][-1] > 0.9 and h["test_loss"][-1] < h["test_loss"][0]
    assert model.batches[:10] == [50, 50, 50, 50, 30] * 2  # the pass of epoch 0, then epoch 1; last partial batch kept
    _, _, h2 = run(2, evaluate_initial=False)
    assert h2["epoch"] == [1, 2]


def test_deterministic_per_seed():
    m1, _, h1 = run(2, seed=7)
    m2, _, h2 = run(2, seed=7)
    m3, _, h3 = run(2, seed=8)
    assert_same_history(h1, h2)
    assert np.array_equal(m1.W, m2.W) and not np.array_equal(m1.W, m3.W)


@pytest.mark.parametrize("opt", ["adabelief", "adam", "sgd"])
def test_resume_is_bit_identical(tmp_path, opt):
    full_model, full_opt, full_hist = run(4, opt=opt)
    ckpt = tmp_path / "run" / "ckpt.npz"
    run(1, ckpt, opt=opt)  # interrupted after epoch 1
    with np.load(ckpt) as d:
        assert int(d["epoch"]) == 1
    model, o, hist = run(4, ckpt, opt=opt)  # fresh objects, resumed from the checkpoint
    assert_same_history(hist, full_hist)
    for a, b in zip(model.params(), full_model.params()):
        np.testing.assert_array_equal(a, b)
    assert o.step_count == full_opt.step_count == 4 * 5
    assert sorted(p.name for p in ckpt.parent.iterdir()) == ["ckpt.npz"]  # no temp files left


def test_crash_mid_epoch_keeps_last_checkpoint(tmp_path):
    _, _, full_hist = run(3)
    ckpt = tmp_path / "ckpt.npz"
    CRASH.update(at=8, calls=0)  # inside epoch 2 (5 batches per epoch)
    try:
        with pytest.raises(KeyboardInterrupt):
            run(3, ckpt)
    finally:
        CRASH["at"] = None
    with np.load(ckpt) as d:
        assert int(d["epoch"]) == 1
    _, _, hist = run(3, ckpt)
    assert_same_history(hist, full_hist)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]


def test_resume_false_restarts_and_finished_run_returns(tmp_path):
    ckpt = tmp_path / "c.npz"
    m1, _, h1 = run(2, ckpt)
    m2, _, h2 = run(2, ckpt)  # already finished: nothing to do
    assert_same_history(h1, h2)
    assert np.array_equal(m1.W, m2.W) and m2.batches == []
    m3, _, h3 = run(2, ckpt, resume=False)
    assert_same_history(h1, h3) and len(m3.batches) == 10
    assert len(list(tmp_path.glob("c.*.bak.npz"))) == 1  # the old checkpoint was set aside, not overwritten


def test_checkpoint_from_other_run_is_rejected(tmp_path):
    ckpt = tmp_path / "c.npz"
    run(1, ckpt, seed=3)
    with pytest.raises(ValueError, match="different run configuration.*seed"):
        run(2, ckpt, seed=4)
    ckpt.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="c.npz"):
        run(2, ckpt)


def test_clip_params_called_after_every_step():
    model = ClippedModel(5, 3)
    train(model, SGD(1.0), XTR, YTR, XTE, YTE, epochs=2, batch_size=100, progress=False, inputs="features")
    assert model.clip_calls == 6 and np.abs(model.b).max() <= 0.05


def test_without_test_data_and_with_progress(capsys):
    model, o = fresh()
    h = train(model, o, XTR, YTR, epochs=1, batch_size=1000, progress=True, inputs="features")
    assert set(h) == {"epoch", "train_loss", "train_acc"} and h["epoch"] == [0, 1]
    assert "epoch 1/1" in capsys.readouterr().err


def test_bad_arguments():
    model, o = fresh()
    kw = dict(progress=False, inputs="features")
    with pytest.raises(ValueError, match="epochs"):
        train(model, o, XTR, YTR, epochs=-1, **kw)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, o, XTR, YTR, epochs=1, batch_size=0, **kw)
    with pytest.raises(ValueError, match="y_train"):
        train(model, o, XTR, YTR[:-1], epochs=1, **kw)
    with pytest.raises(ValueError, match="x_test"):
        train(model, o, XTR, YTR, XTE, None, epochs=1, **kw)
    with pytest.raises(TypeError, match="augment"):
        train(model, o, XTR, YTR, epochs=1, augment=3, **kw)
    with pytest.raises(TypeError, match="model"):
        train(object(), o, XTR, YTR, epochs=1, **kw)
    with pytest.raises(ValueError, match="x_train.*inputs='times'"):  # real features are not binary pixels
        train(model, o, XTR, YTR, epochs=1, progress=False)
    assert np.array_equal(model.W, fresh()[0].W) and o.step_count == 0  # nothing was touched


def test_atomic_savez(tmp_path):
    p = atomic_savez(tmp_path / "a.npz", x=np.arange(3))
    with np.load(p) as d:
        np.testing.assert_array_equal(d["x"], np.arange(3))
    with pytest.raises(TypeError, match="'x'"):
        atomic_savez(tmp_path / "a.npz", x=np.array([object()]))
    with np.load(p) as d:  # old file intact, no temp left over
        np.testing.assert_array_equal(d["x"], np.arange(3))
    assert [q.name for q in tmp_path.iterdir()] == ["a.npz"]


# ---- input kinds (issue: Yin-Yang spike times were silently treated as binary pixels) ----------------

YY_X, YY_Y = yin_yang("train", n=120, seed=5)
YY_T = yin_yang_times(YY_X, 0.0, 1.5)


class Recorder(SoftmaxRegression):
    "Records the keyword arguments the loop passes."

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.kwargs = []

    def loss_and_grad(self, x, labels, as_times=False):
        self.kwargs.append(as_times)
        return super().loss_and_grad(np.where(np.isfinite(x), x, 0.0), labels)

    def evaluate(self, x, labels, as_times=False):
        self.kwargs.append(as_times)
        return super().evaluate(np.where(np.isfinite(x), x, 0.0), labels)


def test_spike_times_need_inputs_times():
    with pytest.raises(ValueError, match=r"x_train holds values other than 0 and 1.*inputs='times'"):
        train(TTFSNetwork(sizes=(5, 8, 3)), Adam(1e-3), YY_T, YY_Y, epochs=1, progress=False)
    for x in (YY_T > 0.5, (YY_T > 0.5).astype(np.uint8)):  # binary pixels as bool or integers
        with pytest.raises(ValueError, match=r"x_train has dtype .* inputs='times'.*inputs='binary'"):
            train(TTFSNetwork(sizes=(5, 8, 3)), Adam(1e-3), x, YY_Y, epochs=1, progress=False, inputs="times")
    with pytest.raises(ValueError, match="x_test"):
        train(TTFSNetwork(sizes=(5, 8, 3)), Adam(1e-3), YY_T, YY_Y, YY_T > 0.5, YY_Y, epochs=1, progress=False,
              inputs="times")
    with pytest.raises(TypeError, match="as_times"):  # a model that cannot take spike times
        train(SoftmaxRegression(5, 3), Adam(1e-3), YY_T, YY_Y, epochs=1, progress=False, inputs="times")
    model = Recorder(5, 3)
    train(model, Adam(1e-3), YY_T, YY_Y, YY_T, YY_Y, epochs=1, batch_size=60, progress=False, inputs="times")
    assert model.kwargs == [True] * 6  # epoch 0: two training batches and evaluate; epoch 1: two batches, evaluate
    model = Recorder(5, 3)
    train(model, Adam(1e-3), (YY_T > 0.5).astype(np.float32), YY_Y, epochs=1, batch_size=60, progress=False)
    assert model.kwargs == [False] * 4  # 0/1 floats are binary pixels; epoch 0 and 1 passes, no test data


def test_ttfs_network_trains_on_spike_times_like_a_manual_loop():
    net, ref = TTFSNetwork(sizes=(5, 12, 3), T=2.0, seed=1, dtype=np.float64), TTFSNetwork(sizes=(5, 12, 3), T=2.0, seed=1, dtype=np.float64)
    h = train(net, SGD(0.5), YY_T, YY_Y, YY_T, YY_Y, epochs=2, batch_size=40, seed=9, progress=False, inputs="times")
    rng, opt = np.random.default_rng(9), SGD(0.5)
    for _ in range(2):
        perm = rng.permutation(len(YY_Y))
        for b in range(3):
            idx = perm[40 * b:40 * (b + 1)]
            _, _, g = ref.loss_and_grad(YY_T[idx], YY_Y[idx], as_times=True)
            opt.step(ref.params(), g)
            ref.clip_params()
    for a, b in zip(net.params(), ref.params()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(net.weights[0], TTFSNetwork(sizes=(5, 12, 3), seed=1, dtype=np.float64).weights[0])
    assert h["test_loss"][-1] == pytest.approx(ref.evaluate(YY_T, YY_Y, as_times=True)["loss"], rel=1e-12)


def test_augment_output_is_checked():
    model, o = SoftmaxRegression(5, 3), Adam(1e-2)
    with pytest.raises(ValueError, match=r"augment\(x_batch, rng\).*NaN"):
        train(model, o, XTR, YTR, epochs=1, progress=False, inputs="features", augment=lambda x, r: x * np.nan)
    with pytest.raises(ValueError, match=r"augment\(x_batch, rng\).*other than 0 and 1"):
        train(model, o, XTR > 0, YTR, epochs=1, progress=False, augment=lambda x, r: x + 0.5)


# ---- checkpoints belong to one configuration -----------------------------------------------------------

@pytest.mark.parametrize("change, where", [
    (dict(opt="adam"), "optimizer.class"),
    (dict(seed=4), "seed"),
    (dict(evaluate_initial=False), "evaluate_initial"),
    (dict(data=(XTR, (YTR + 1) % 3)), "data.y_train"),
    (dict(lr=0.02), "optimizer.lr.closure.lr0"),
    (dict(model_seed=1), "params[0].sha256"),
])
def test_other_configuration_never_resumes(tmp_path, change, where):
    def go(ckpt, opt="adabelief", seed=3, lr=0.05, data=(XTR, YTR), model_seed=0, evaluate_initial=True):
        model = SoftmaxRegression(5, 3, seed=model_seed)
        o = Adam(0.05) if opt == "adam" else AdaBelief(exponential_decay(lr, 50))
        return model, train(model, o, *data, XTE, YTE, epochs=2, batch_size=50, seed=seed, augment=JITTER,
                            checkpoint=ckpt, progress=False, inputs="features", evaluate_initial=evaluate_initial)

    ckpt = tmp_path / "c.npz"
    go(ckpt)
    with pytest.raises(ValueError, match=f"c.npz: checkpoint belongs to a different run configuration.*{re.escape(where)}"):
        go(ckpt, **change)
    keyed = str(tmp_path / "k-{config}.npz")  # one file per configuration
    m1, h1 = go(keyed)
    m2, h2 = go(keyed, **change)
    assert len(list(tmp_path.glob("k-*.npz"))) == 2
    m3, h3 = go(keyed, **change)  # finished: resumed, nothing to do
    assert_same_history(h2, h3) and np.array_equal(m2.W, m3.W) and m3.batches == []


def test_config_hash_is_stable_and_sensitive():
    model, o = fresh()
    c1 = run_config(model, o, XTR, YTR, batch_size=50, seed=3, augment=JITTER, inputs="features")
    c2 = run_config(*fresh(), XTR, YTR, batch_size=50, seed=3, augment=JITTER, inputs="features")
    assert config_hash(c1) == config_hash(c2) and len(config_hash(c1)) == 16
    c3 = run_config(*fresh(), XTR, YTR, batch_size=51, seed=3, augment=JITTER, inputs="features")
    assert config_hash(c3) != config_hash(c1)
    c4 = run_config(*fresh(), XTR, YTR, batch_size=50, seed=3, augment=named(lambda x, r: x, "identity"),
                    inputs="features")
    assert config_hash(c4) != config_hash(c1)
    with pytest.raises(TypeError, match="augment is a function"):  # no identity: refused, not guessed
        run_config(*fresh(), XTR, YTR, batch_size=50, seed=3, augment=lambda x, r: x, inputs="features")


def _rewrite(path, **changes):
    with np.load(path) as d:
        data = {k: d[k] for k in d.files}
    for k, v in changes.items():
        if v is None:
            del data[k]
        else:
            data[k] = v
    np.savez(path, **data)


@pytest.mark.parametrize("changes, match", [
    ({"opt.m.0": None}, "optimiser"),
    ({"opt.kind": np.array("Adam")}, "optimiser"),
    ({"opt.m.0": np.zeros((2, 2))}, "optimiser buffer m.0"),
    ({"param.1": np.full(3, np.nan)}, "param.1"),
    ({"param.0": np.zeros((5, 4))}, "param.0"),
    ({"rng_state": np.array('{"bit_generator": "PCG64", "state": 3}')}, "generator"),
    ({"history": np.array('{"epoch": [0, 1, 2]}')}, "history"),
    ({"epoch": None}, "missing"),
])
def test_invalid_checkpoint_touches_nothing(tmp_path, changes, match):
    ckpt = tmp_path / "c.npz"
    run(2, ckpt)
    _rewrite(ckpt, **changes)
    model, o = fresh()
    w0, b0 = model.W.copy(), model.b.copy()
    with pytest.raises(ValueError, match=match):
        train(model, o, XTR, YTR, XTE, YTE, epochs=3, batch_size=50, seed=3, augment=JITTER, checkpoint=ckpt,
              progress=False, inputs="features")
    assert np.array_equal(model.W, w0) and np.array_equal(model.b, b0)
    assert o.step_count == 0 and o.state is None and model.batches == []


def test_checkpoint_with_more_epochs_is_refused_untouched(tmp_path):
    ckpt = tmp_path / "c.npz"
    run(3, ckpt)
    model, o = fresh()
    w0 = model.W.copy()
    with pytest.raises(ValueError, match="holds 3 epochs, more than epochs=2"):
        train(model, o, XTR, YTR, XTE, YTE, epochs=2, batch_size=50, seed=3, augment=JITTER, checkpoint=ckpt,
              progress=False, inputs="features")
    assert np.array_equal(model.W, w0) and o.step_count == 0


@pytest.mark.parametrize("cut", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_truncated_checkpoint_is_a_value_error_naming_the_file(tmp_path, cut):
    ckpt = tmp_path / "trunc.npz"
    run(1, ckpt)
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[:int(cut * len(data))])
    with pytest.raises(ValueError, match="trunc.npz"):
        run(2, ckpt)
    np.savez(ckpt, x=np.arange(3))  # a valid .npz, but no checkpoint
    with pytest.raises(ValueError, match="trunc.npz: not a checkpoint"):
        run(2, ckpt)


def test_other_writers_temporary_files_are_left_alone(tmp_path, monkeypatch):
    ckpt = tmp_path / "c.npz"
    theirs = [tmp_path / ".c.npz.abc123.tmp", tmp_path / "c.npz.abc123.tmp", tmp_path / "other.npz.x.tmp"]
    for p in theirs:  # another process's write in flight (or a killed one's leftover: they look the same)
        p.write_bytes(b"someone else's temporary file")
    run(1, ckpt)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["c.npz"] + [p.name for p in theirs])

    def failing_savez(f, **arrays):
        f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        run(2, ckpt)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["c.npz"] + [p.name for p in theirs])
    with np.load(ckpt) as d:
        assert int(d["epoch"]) == 1  # the last complete checkpoint is intact


class Exploding(SoftmaxRegression):
    def loss_and_grad(self, x, labels):
        loss, acc, g = super().loss_and_grad(x, labels)
        if len(self.batches) == 3:
            g[0] = g[0] * np.inf
        return loss, acc, g


def test_non_finite_gradient_stops_before_the_step(tmp_path):
    model, o = Exploding(5, 3), SGD(0.1)
    with pytest.raises(ValueError, match="non-finite.*epoch 1, batch 2"):
        train(model, o, XTR, YTR, epochs=1, batch_size=50, progress=False, inputs="features", evaluate_initial=False)
    assert np.isfinite(model.W).all() and o.step_count == 2


class NanLoss(SoftmaxRegression):
    def loss_and_grad(self, x, labels):
        loss, acc, g = super().loss_and_grad(x, labels)
        return (np.nan if len(self.batches) == 2 else loss), acc, g


def test_non_finite_initial_loss_is_an_error():
    "Epoch 0's training loss (the untrained model) is a real number or a clear error, never NaN in the history."
    model, o = NanLoss(5, 3), SGD(0.1)
    with pytest.raises(ValueError, match="non-finite loss.*untrained model on training samples 50:100"):
        train(model, o, XTR, YTR, epochs=1, batch_size=50, progress=False, inputs="features")
    assert o.step_count == 0
