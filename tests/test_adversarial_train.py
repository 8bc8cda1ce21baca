"""Bad inputs to smoothgrad.train: every one raises a TypeError/ValueError naming the argument, before any
state changes; corrupted checkpoints never resume silently and never leak BadZipFile/zlib errors (fast)."""
import re
from pathlib import Path

import numpy as np
import pytest

from smoothgrad.optim import SGD, Adam
from smoothgrad.train import check_inputs, check_labels, train
from smoothgrad.ttfs import TTFSNetwork

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 4))
Y = RNG.integers(0, 3, 40)
XB = X > 0
XT = np.abs(X)


class Linear:
    def __init__(self):
        self.W = np.zeros((4, 3))

    def params(self):
        return [self.W]

    def loss_and_grad(self, x, labels, as_times=False):
        return 1.0, 0.5, [np.ones_like(self.W) * 1e-3]

    def evaluate(self, x, labels, as_times=False):
        return {"acc": 0.5}


class NoParams(Linear):
    def params(self):
        return []


class IntParams(Linear):
    def params(self):
        return [np.zeros((4, 3), np.int64)]


class NotCallable:
    params = loss_and_grad = evaluate = 3


NAN = float("nan")
BASE = dict(x_train=X, y_train=Y, epochs=1, batch_size=10, inputs="features", progress=False)

BAD = [  # (changes, exception, words the message must contain)
    (dict(model=None), TypeError, "model"),
    (dict(model=Linear), TypeError, "model must be an instance"),
    (dict(model=NotCallable()), TypeError, "model must provide a callable params"),
    (dict(model=NoParams()), TypeError, "model.params()"),
    (dict(model=IntParams()), TypeError, "model.params()"),
    (dict(optimizer=None), TypeError, "optimizer"),
    (dict(optimizer=SGD), TypeError, "optimizer must be an instance"),
    (dict(optimizer="adam"), TypeError, "optimizer must provide"),
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(epochs=1.5), TypeError, "epochs"),
    (dict(epochs=NAN), TypeError, "epochs"),
    (dict(epochs=True), TypeError, "epochs"),
    (dict(epochs="3"), TypeError, "epochs"),
    (dict(epochs=None), TypeError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(batch_size=-5), ValueError, "batch_size"),
    (dict(batch_size=2.0), TypeError, "batch_size"),
    (dict(batch_size=np.inf), TypeError, "batch_size"),
    (dict(batch_size=None), TypeError, "batch_size"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(seed=None), TypeError, "seed"),
    (dict(seed=0.5), TypeError, "seed"),
    (dict(seed=False), TypeError, "seed"),
    (dict(resume="yes"), TypeError, "resume"),
    (dict(resume=None), TypeError, "resume"),
    (dict(progress=1), TypeError, "progress"),
    (dict(evaluate_initial="no"), TypeError, "evaluate_initial"),
    (dict(augment=3), TypeError, "augment"),
    (dict(augment="flip"), TypeError, "augment"),
    (dict(checkpoint=3), TypeError, "checkpoint"),
    (dict(checkpoint=""), TypeError, "checkpoint"),
    (dict(checkpoint=b"c.npz"), TypeError, "checkpoint"),
    (dict(inputs="pixels"), ValueError, "inputs must be one of"),
    (dict(inputs=None), ValueError, "inputs must be one of"),
    (dict(x_train=None), TypeError, "x_train"),
    (dict(x_train=np.array(3.0)), ValueError, "x_train"),
    (dict(x_train=np.zeros((0, 4))), ValueError, "x_train"),
    (dict(x_train=[[1, 2], [3]]), TypeError, "x_train"),
    (dict(x_train=np.array([["a"] * 4] * 40)), TypeError, "x_train"),
    (dict(x_train=X.astype(complex)), TypeError, "x_train"),
    (dict(x_train=np.where(X > 1, NAN, X)), ValueError, "x_train contains NaN"),
    (dict(x_train=np.where(X > 1, np.inf, X)), ValueError, "x_train contains NaN or inf"),
    (dict(x_train=X, inputs="binary"), ValueError, "x_train holds values other than 0 and 1"),
    (dict(x_train=XB, inputs="times"), ValueError, "inputs='times'"),
    (dict(x_train=XB.astype(np.int32), inputs="times"), ValueError, "inputs='times'"),
    (dict(x_train=-XT, inputs="times"), ValueError, "x_train: spike times must be >= 0"),
    (dict(x_train=np.where(X > 1, NAN, XT), inputs="times"), ValueError, "x_train: spike times"),
    (dict(x_train=XB.astype(float) * 2, inputs="binary"), ValueError, "x_train holds values other than 0 and 1"),
    (dict(y_train=None), TypeError, "y_train"),
    (dict(y_train=Y[:-1]), ValueError, "y_train must have shape (40,)"),
    (dict(y_train=Y.astype(float)), TypeError, "y_train must hold integer"),
    (dict(y_train=Y > 1), TypeError, "y_train must hold integer"),
    (dict(y_train=Y - 1), ValueError, "y_train must be >= 0"),
    (dict(y_train=Y.reshape(20, 2)), ValueError, "y_train"),
    (dict(x_test=X), ValueError, "x_test and y_test"),
    (dict(y_test=Y), ValueError, "x_test and y_test"),
    (dict(x_test=X[:, :3], y_test=Y), ValueError, "x_test samples have shape"),
    (dict(x_test=X, y_test=Y[:5]), ValueError, "y_test"),
    (dict(x_test=np.where(X > 1, NAN, X), y_test=Y), ValueError, "x_test"),
    (dict(x_test=X, y_test=Y.astype(np.float32)), TypeError, "y_test"),
    (dict(x_test=X, y_test=Y, inputs="times"), ValueError, "x_train"),
]


@pytest.mark.parametrize("changes, exc, words", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_argument_is_named_and_nothing_changes(tmp_path, changes, exc, words):
    model = changes.pop("model", Linear())
    optimizer = changes.pop("optimizer", Adam(1e-2))
    kw = {**BASE, **changes}
    if isinstance(kw.get("checkpoint"), str) and kw["checkpoint"]:
        kw["checkpoint"] = str(tmp_path / kw["checkpoint"])
    x_train, y_train = kw.pop("x_train"), kw.pop("y_train")
    with pytest.raises(exc, match=re.escape(words)):
        train(model, optimizer, x_train, y_train, **kw)
    if isinstance(model, Linear) and not isinstance(model, (NoParams, IntParams)):
        assert not model.W.any()  # untouched
    if isinstance(optimizer, Adam):
        assert optimizer.step_count == 0 and optimizer.state is None
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_checkpoint_that_is_a_folder(tmp_path):
    with pytest.raises(ValueError, match="is a folder"):
        train(Linear(), Adam(1e-2), X, Y, inputs="features", checkpoint=tmp_path, progress=False)


@pytest.mark.parametrize("bad, exc", [(np.array([[0.5, np.inf]]), ValueError), (np.array([[1, 2]]), ValueError),
                                      (np.array([[NAN, 1.0]]), ValueError)])
def test_check_inputs_binary(bad, exc):
    with pytest.raises(exc, match="xb"):
        check_inputs(bad, "binary", "xb")


def test_check_inputs_and_labels_accept_valid():
    assert check_inputs(XB, "binary").dtype == bool
    assert check_inputs(XB.astype(np.uint8), "binary").dtype == np.uint8
    assert check_inputs(np.where(XB, 0.3, np.inf), "times").shape == (40, 4)  # inf = no spike
    assert check_labels(Y.astype(np.uint8), 40).dtype == np.uint8


def test_augment_that_returns_garbage():
    for bad, words in ((lambda x, r: None, "augment(x_batch, rng)"), (lambda x, r: x.astype(str), "augment"),
                       (lambda x, r: x * NAN, "augment(x_batch, rng) contains NaN")):
        model = Linear()
        with pytest.raises((TypeError, ValueError), match=re.escape(words)):
            train(model, Adam(1e-2), X, Y, inputs="features", augment=bad, progress=False)
        assert not model.W.any()


def test_nan_loss_from_model_is_refused():
    class NanLoss(Linear):
        def loss_and_grad(self, x, labels, as_times=False):
            return NAN, 0.5, [np.ones_like(self.W)]

    model, opt = NanLoss(), Adam(1e-2)
    with pytest.raises(ValueError, match="non-finite loss"):
        train(model, opt, X, Y, inputs="features", progress=False)
    assert not model.W.any() and opt.step_count == 0


# ---- corrupted checkpoints: random byte flips and truncations --------------------------------------------

def _fresh_run(ckpt, epochs):
    net = TTFSNetwork(sizes=(4, 6, 3), T=2.0, seed=2, dtype=np.float64)
    opt = Adam(1e-2)
    h = train(net, opt, XT, Y, XT, Y, epochs=epochs, batch_size=20, seed=1, checkpoint=ckpt, progress=False,
              inputs="times")
    return net, opt, h


def test_random_corruptions_never_resume_wrongly(tmp_path):
    good = tmp_path / "good.npz"
    ref_net, _, ref_hist = _fresh_run(good, 2)
    blob = good.read_bytes()
    rng = np.random.default_rng(7)
    outcomes = {"refused": 0, "resumed": 0}
    for trial in range(40):
        data = bytearray(blob)
        if trial % 2:
            data = data[:int(rng.integers(0, len(data)))]
        else:
            for pos in rng.integers(0, len(data), int(rng.integers(1, 4))):
                data[pos] ^= int(rng.integers(1, 256))
        ckpt = tmp_path / f"bad{trial}.npz"
        ckpt.write_bytes(bytes(data))
        net0 = TTFSNetwork(sizes=(4, 6, 3), T=2.0, seed=2, dtype=np.float64)
        try:
            net, opt, h = _fresh_run(ckpt, 2)
        except ValueError as e:
            assert str(ckpt) in str(e)
            outcomes["refused"] += 1
            continue
        # a flip in an unused byte (zip padding, comment) may leave the content intact: then the resume is exact
        outcomes["resumed"] += 1
        for a, b in zip(net.params(), ref_net.params()):
            np.testing.assert_array_equal(a, b)
        assert h["test_loss"] == ref_hist["test_loss"]
        assert not any(np.array_equal(a, b) for a, b in zip(net.params()[:1], net0.params()[:1]))
    assert outcomes["refused"] >= 30, outcomes
    assert not list(Path(tmp_path).glob("*.tmp"))
