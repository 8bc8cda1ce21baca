"""Tests for smoothgrad.train: history, determinism, checkpoints and bit-identical resume."""
import numpy as np
import pytest

from smoothgrad.optim import SGD, AdaBelief, Adam, exponential_decay
from smoothgrad.train import atomic_savez, train


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


def jitter(xb, rng):
    return xb + 0.1 * rng.normal(size=xb.shape)


def fresh(opt="adabelief"):
    model = SoftmaxRegression(5, 3)
    o = {"adabelief": lambda: AdaBelief(exponential_decay(0.05, 50)), "adam": lambda: Adam(0.05),
         "sgd": lambda: SGD(0.1, momentum=0.5)}[opt]()
    return model, o


def run(epochs, ckpt=None, seed=3, opt="adabelief", **kw):
    model, o = fresh(opt)
    hist = train(model, o, XTR, YTR, XTE, YTE, epochs=epochs, batch_size=50, seed=seed, augment=jitter,
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
    assert np.isnan(h["train_loss"][0]) and all(len(v) == 6 for v in h.values())
    assert h["test_acc"][-1] > 0.9 and h["test_loss"][-1] < h["test_loss"][0]
    assert model.batches[:5] == [50, 50, 50, 50, 30]  # last partial batch is kept
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
    calls = {"n": 0}

    def crashing(xb, rng):
        calls["n"] += 1
        if calls["n"] == 8:  # inside epoch 2 (5 batches per epoch)
            raise KeyboardInterrupt
        return jitter(xb, rng)

    model, o = fresh()
    with pytest.raises(KeyboardInterrupt):
        train(model, o, XTR, YTR, XTE, YTE, epochs=3, batch_size=50, seed=3, augment=crashing,
              checkpoint=ckpt, progress=False)
    with np.load(ckpt) as d:
        assert int(d["epoch"]) == 1
    _, _, hist = run(3, ckpt)
    assert_same_history(hist, full_hist)


def test_resume_false_restarts_and_finished_run_returns(tmp_path):
    ckpt = tmp_path / "c.npz"
    m1, _, h1 = run(2, ckpt)
    m2, _, h2 = run(2, ckpt)  # already finished: nothing to do
    assert_same_history(h1, h2)
    assert np.array_equal(m1.W, m2.W) and m2.batches == []
    m3, _, h3 = run(2, ckpt, resume=False)
    assert_same_history(h1, h3) and len(m3.batches) == 10


def test_checkpoint_from_other_run_is_rejected(tmp_path):
    ckpt = tmp_path / "c.npz"
    run(1, ckpt, seed=3)
    with pytest.raises(ValueError, match="different run"):
        run(2, ckpt, seed=4)
    ckpt.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="c.npz"):
        run(2, ckpt)


def test_clip_params_called_after_every_step():
    model = ClippedModel(5, 3)
    train(model, SGD(1.0), XTR, YTR, XTE, YTE, epochs=2, batch_size=100, progress=False)
    assert model.clip_calls == 6 and np.abs(model.b).max() <= 0.05


def test_without_test_data_and_with_progress(capsys):
    model, o = fresh()
    h = train(model, o, XTR, YTR, epochs=1, batch_size=1000, progress=True)
    assert set(h) == {"epoch", "train_loss", "train_acc"} and h["epoch"] == [0, 1]
    assert "epoch 1/1" in capsys.readouterr().err


def test_bad_arguments():
    model, o = fresh()
    with pytest.raises(ValueError, match="epochs"):
        train(model, o, XTR, YTR, epochs=-1, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, o, XTR, YTR, epochs=1, batch_size=0, progress=False)
    with pytest.raises(ValueError, match="y_train"):
        train(model, o, XTR, YTR[:-1], epochs=1, progress=False)
    with pytest.raises(ValueError, match="x_test"):
        train(model, o, XTR, YTR, XTE, None, epochs=1, progress=False)
    with pytest.raises(TypeError, match="augment"):
        train(model, o, XTR, YTR, epochs=1, augment=3, progress=False)
    with pytest.raises(TypeError, match="model"):
        train(object(), o, XTR, YTR, epochs=1, progress=False)


def test_atomic_savez(tmp_path):
    p = atomic_savez(tmp_path / "a.npz", x=np.arange(3))
    with np.load(p) as d:
        np.testing.assert_array_equal(d["x"], np.arange(3))
    with pytest.raises(TypeError, match="'x'"):
        atomic_savez(tmp_path / "a.npz", x=np.array([object()]))
    with np.load(p) as d:  # old file intact, no temp left over
        np.testing.assert_array_equal(d["x"], np.arange(3))
    assert [q.name for q in tmp_path.iterdir()] == ["a.npz"]
