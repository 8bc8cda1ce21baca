"""Checkpoints that cannot be shared by different runs or lost (issues 16 and 18): one key helper with the code
hash, functions only by a declared identity, the full recurrent configuration, resume advice that keeps the
checkpoint, code-hash mismatches that start fresh with one line, and concurrent writers of one path (fast)."""
import concurrent.futures as cf
import functools
import json
import math
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import smoothgrad.core as core
import smoothgrad.tasks as tasks
from smoothgrad.data import flip_pixels
from smoothgrad.optim import SGD, AdaBelief, exponential_decay
from smoothgrad.train import atomic_savez, config_hash, describe, load_checkpoint, named, run_config, train

RNG = np.random.default_rng(0)
XB = RNG.random((60, 12)) < 0.5  # binary pixels
YB = (XB[:, :4].sum(1) % 3).astype(np.int64)


class Linear:
    "Softmax regression on binary pixels: a fast model with the training interface."

    def __init__(self, seed=0):
        self.W = np.random.default_rng(seed).normal(0, 0.1, (12, 3))
        self.batches = 0

    def params(self):
        return [self.W]

    def _p(self, x):
        z = x.astype(float) @ self.W
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def loss_and_grad(self, x, labels):
        self.batches += 1
        p, n = self._p(x), len(x)
        d = p.copy()
        d[np.arange(n), labels] -= 1
        return -np.mean(np.log(p[np.arange(n), labels])), np.mean(p.argmax(1) == labels), [x.T.astype(float) @ d / n]

    def evaluate(self, x, labels):
        return {"acc": float(np.mean(self._p(x).argmax(1) == labels))}


def fit(ckpt=None, epochs=2, augment=None, lr=None, model=None, opt=None, **kw):
    model = Linear() if model is None else model
    opt = AdaBelief(exponential_decay(0.05, 20) if lr is None else lr) if opt is None else opt
    h = train(model, opt, XB, YB, XB, YB, epochs=epochs, batch_size=20, seed=1, augment=augment, checkpoint=ckpt,
              progress=False, **kw)
    return model, opt, h


def same(h1, h2) -> bool:
    "Two histories are equal (NaN of epoch 0 equal to NaN)."
    return h1.keys() == h2.keys() and all(np.array_equal(h1[k], h2[k], equal_nan=True) for k in h1)


# ---- issue 18 item 6: functions enter the key only by a declared identity ------------------------------------

@pytest.mark.parametrize("make", [
    lambda p: (lambda x, rng, p=p: flip_pixels(x, p, rng)),  # default argument
    lambda p: functools.partial(lambda x, rng, p: flip_pixels(x, p, rng), p=p),  # partial of a user function
    lambda p: (lambda x, rng: np.fliplr(x) if p else np.flipud(x)),  # which function is called (closure)
])
def test_unnamed_augmentations_are_refused_with_a_checkpoint(tmp_path, make):
    # before: both runs wrote one file "ck_{config}.npz" and the second returned the first run's losses
    for p in (0.5, 0.0):
        with pytest.raises(TypeError, match=r"augment(\.func)? is a function .*named\("):
            fit(str(tmp_path / "ck_{config}.npz"), augment=make(p))
    assert list(tmp_path.iterdir()) == []
    fit(None, augment=make(0.5))  # without a checkpoint anything goes


def test_named_augmentations_get_their_own_checkpoints(tmp_path):
    ck = str(tmp_path / "ck_{config}.npz")
    hists = {p: fit(ck, augment=named(lambda x, rng, p=p: flip_pixels(x, p, rng), "flip_pixels", p=p))[2]
             for p in (0.5, 0.0)}
    assert len(list(tmp_path.glob("ck_*.npz"))) == 2
    assert hists[0.5]["train_loss"][1:] != hists[0.0]["train_loss"][1:]
    assert same(hists[0.0], fit(None, augment=lambda x, rng: flip_pixels(x, 0.0, rng))[2])  # not the p = 0.5 run's
    again = fit(ck, augment=named(lambda x, rng: flip_pixels(x, 0.5, rng), "flip_pixels", p=0.5))
    assert again[0].batches == 0 and same(again[2], hists[0.5])  # finished: resumed, nothing to do


def test_schedules_math_exp_and_cos_do_not_collide(tmp_path):
    sched = {f: (lambda s, f=f: 0.05 * f(-s / 100)) for f in (math.exp, math.cos)}
    with pytest.raises(TypeError, match="optimizer.lr is a function"):
        fit(str(tmp_path / "s_{config}.npz"), lr=sched[math.exp])
    assert list(tmp_path.iterdir()) == []
    a = fit(str(tmp_path / "s_{config}.npz"), lr=sched[math.exp], checkpoint_key="exp schedule")[2]
    b = fit(str(tmp_path / "s_{config}.npz"), lr=sched[math.cos], checkpoint_key={"schedule": "cos"})[2]
    assert len(list(tmp_path.glob("s_*.npz"))) == 2 and not same(a, b)
    fit(str(tmp_path / "t_{config}.npz"), lr=named(sched[math.cos], "cos decay", lr0=0.05, steps=100))
    assert len(list(tmp_path.glob("t_*.npz"))) == 1


def test_library_functions_enter_by_what_they_close_over():
    d = [describe(exponential_decay(0.1, s), "lr") for s in (50, 60)]
    assert d[0]["function"] == "smoothgrad.optim.exponential_decay.<locals>.schedule"
    assert d[0]["closure"] == {"decay_steps": 50.0, "lr0": 0.1} and d[1]["closure"]["decay_steps"] == 60.0
    parts = [describe(functools.partial(flip_pixels, p=p), "augment") for p in (0.5, 0.0)]
    assert parts[0] != parts[1] and parts[0]["keywords"] == {"p": 0.5}
    c = [run_config(Linear(), AdaBelief(exponential_decay(0.1, s)), XB, YB) for s in (50, 60)]
    assert config_hash(c[0]) != config_hash(c[1])


class Net:
    "A model whose settings are properties over private attributes (as validated attributes are)."

    def __init__(self, T):
        self._T, self.W = T, np.zeros((12, 3))

    @property
    def T(self):
        return self._T

    def params(self):
        return [self.W]


def test_properties_enter_the_key():
    keys = [config_hash(run_config(Net(T), SGD(0.1), XB, YB)) for T in (1.0, 2.0)]
    assert keys[0] != keys[1]
    assert describe(Net(1.0), "model")["T"] == 1.0


@pytest.mark.parametrize("key, exc", [(3, TypeError), ("", TypeError), ({"f": print}, TypeError),
                                      ([1, 2], TypeError)])
def test_bad_checkpoint_key(tmp_path, key, exc):
    with pytest.raises(exc, match="checkpoint_key"):
        fit(str(tmp_path / "c.npz"), checkpoint_key=key)
    assert list(tmp_path.iterdir()) == []


def test_named_checks_its_arguments():
    with pytest.raises(TypeError, match="fn must be callable"):
        named(3, "x")
    with pytest.raises(TypeError, match="name"):
        named(print, "")
    with pytest.raises(TypeError, match="named"):
        named(print, "p", f=print)  # parameters are data
    f = named(lambda x, rng: x + 1, "plus one")
    assert f(1, None) == 2 and f.checkpoint_key == {"name": "plus one", "params": {}}


# ---- issue 18 item 7: the recurrent key holds the whole configuration ----------------------------------------

def test_recurrent_alpha_does_not_resume_the_alpha_10_checkpoint(tmp_path):
    r10 = tasks.train_recurrent(n_trials=2, runs_dir=tmp_path, progress=False)
    r5 = tasks.train_recurrent(n_trials=2, inputs={"alpha": 5.0}, runs_dir=tmp_path, progress=False)
    fresh5 = tasks.train_recurrent(n_trials=2, inputs={"alpha": 5.0}, progress=False)
    assert r5["checkpoint"] != r10["checkpoint"] and len(list(tmp_path.glob("recurrent-*.npz"))) == 2
    np.testing.assert_array_equal(r5["loss"], fresh5["loss"])
    assert not np.array_equal(r5["loss"], r10["loss"])


def _moved_target():
    t = [list(x) for x in tasks.paper_inputs("fig3")["targets"]]
    t[0][0] += 0.1
    return t


@pytest.mark.parametrize("inputs", [{"alpha": 5.0}, {"tau": 2.0}, {"T": 10.5}, {"N": 11}, {"targets": _moved_target()},
                                    "perturbed", {"target_neurons": [0, 2]}])
def test_recurrent_key_covers_neuron_and_task(tmp_path, inputs):
    def name(**kw):  # 0 trials: the checkpoint's path, one simulation, no file
        return tasks.train_recurrent(0, runs_dir=tmp_path, progress=False, **kw)["checkpoint"].name
    assert name(inputs=inputs) != name()


@pytest.mark.parametrize("kw", [dict(seed=1), dict(lr=2e-2), dict(decay=1000), dict(decay=None), dict(beta2=0.99),
                                dict(belief_error="current"), dict(step_search=True), dict(max_shift=0.4),
                                dict(factors=[0.5, 1.0]), dict(n_trials=1)])
def test_recurrent_key_covers_every_setting(tmp_path, kw):
    S = tasks.recurrent_setup()
    base = dict(n_trials=0, seed=0, lr=1e-2, decay=2000.0, beta2=0.999, step_search=False, max_shift=0.5,
                factors=tasks.FACTORS, belief_error="previous")
    c0 = tasks._config(S, **base)
    c1 = tasks._config(S, **dict(base, **kw))
    assert tasks.config_key(c0) != tasks.config_key(c1)
    assert tasks.config_key(c0) == core.config_key(json.loads(json.dumps(c0)))  # the one key helper
    assert tasks.checkpoint_path("r", c0).name == f"recurrent-{core.config_key(c0)}.npz"


def test_recurrent_checkpoint_cadence_is_not_part_of_the_key(tmp_path):
    a = tasks.train_recurrent(6, runs_dir=tmp_path, checkpoint_every=2, progress=False)
    b = tasks.train_recurrent(6, runs_dir=tmp_path, checkpoint_every=5, progress=False)
    assert a["checkpoint"] == b["checkpoint"]
    np.testing.assert_array_equal(a["loss"], b["loss"])


# ---- issue 18 item 4: the advice never loses the checkpoint ---------------------------------------------------

def test_resume_advice_keeps_the_checkpoint(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    model, opt, h3 = fit(ck, epochs=3)
    saved = ck.read_bytes()
    with pytest.raises(ValueError) as e:  # the same (trained) objects, more epochs
        fit(ck, epochs=6, model=model, opt=opt)
    msg = str(e.value)
    assert "already holds the checkpoint's trained parameters" in msg
    assert "rebuild the model and the optimiser" in msg and "another checkpoint path" in msg
    assert ck.read_bytes() == saved
    # following the advice: rebuilt objects continue the 3-epoch run to 6 epochs, bit for bit
    _, _, h6 = fit(ck, epochs=6)
    assert same(h6, fit(None, epochs=6)[2]) and h6["epoch"][:4] == h3["epoch"]
    saved = ck.read_bytes()
    capsys.readouterr()
    fit(ck, epochs=1, resume=False)  # starts afresh; the 6-epoch checkpoint is set aside, not overwritten
    err = capsys.readouterr().err.strip().splitlines()
    (bak,) = tmp_path.glob("ck.*.bak.npz")
    assert bak.read_bytes() == saved and len(err) == 1 and bak.name in err[0] and "resume=False" in err[0]
    with np.load(ck) as d:
        assert int(d["epoch"]) == 1
    fit(ck, epochs=1, resume=False)  # a second time: another free name, both kept
    assert len(list(tmp_path.glob("ck.*.bak.npz"))) == 2


def test_more_epochs_in_the_checkpoint_advice(tmp_path):
    ck = tmp_path / "ck.npz"
    fit(ck, epochs=3)
    with pytest.raises(ValueError, match="holds 3 epochs, more than epochs=2: pass epochs >= 3"):
        fit(ck, epochs=2)


# ---- issue 16: a checkpoint of other code is never resumed ----------------------------------------------------

def test_code_hash_is_stored_and_part_of_the_key(tmp_path, monkeypatch):
    ck = tmp_path / "ck_{config}.npz"
    fit(str(ck))
    (first,) = tmp_path.glob("ck_*.npz")
    with np.load(first) as d:
        assert str(d["code_hash"]) == core.code_hash() and first.name == f"ck_{d['config_key']}.npz"
    monkeypatch.setattr(core, "code_hash", lambda *a, **k: "0123456789abcdef")
    model, _, _ = fit(str(ck))
    assert model.batches == 3 + 6 and len(list(tmp_path.glob("ck_*.npz"))) == 2  # epoch 0 pass + 2 epochs: afresh


def test_checkpoint_of_other_code_starts_fresh_with_one_line(tmp_path, monkeypatch, capsys):
    ck = tmp_path / "ck.npz"
    _, _, h = fit(ck)
    capsys.readouterr()
    monkeypatch.setattr(core, "code_hash", lambda *a, **k: "0123456789abcdef")
    model, _, h2 = fit(ck)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "was written by other code" in err[0] and "starting fresh" in err[0]
    assert model.batches == 3 + 6 and same(h2, h)  # trained from the start, not resumed
    with np.load(ck) as d:
        assert str(d["code_hash"]) == "0123456789abcdef"
    assert len(list(tmp_path.glob("ck.*.bak.npz"))) == 1
    monkeypatch.undo()
    with pytest.raises(ValueError, match="written by other code"):
        load_checkpoint(ck, Linear().params(), SGD(0.1), np.random.default_rng(0), {})


def test_checkpoint_without_code_hash_is_not_resumed(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    fit(ck)
    with np.load(ck) as d:
        old = {k: d[k] for k in d.files if k not in ("code_hash", "config_key")}  # as an older version wrote it
    np.savez(ck, **old)
    capsys.readouterr()
    model, _, _ = fit(ck)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "code unknown" in err[0] and model.batches == 3 + 6
    assert len(list(tmp_path.glob("ck.old.bak.npz"))) == 1


def test_recurrent_checkpoint_of_other_code_starts_fresh(tmp_path, capsys):
    R = tasks.train_recurrent(4, runs_dir=tmp_path, checkpoint_every=2, progress=False)
    with np.load(R["checkpoint"]) as d:
        data = {k: d[k] for k in d.files}
    assert str(data["code_hash"]) == core.code_hash()
    data["code_hash"] = np.array("0123456789abcdef")
    np.savez(R["checkpoint"], **data)
    capsys.readouterr()
    R2 = tasks.train_recurrent(4, runs_dir=tmp_path, checkpoint_every=2, progress=False)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "written by other code (code 0123456789abcdef vs" in err[0]
    np.testing.assert_array_equal(R2["loss"], R["loss"])
    assert len(list(tmp_path.glob("recurrent-*.bak.npz"))) == 1
    with np.load(R2["checkpoint"]) as d:
        assert str(d["code_hash"]) == core.code_hash()


# ---- issue 18 item 5: writers of one path do not kill each other ----------------------------------------------

def _write_many(path, n, tag):
    for i in range(n):
        atomic_savez(path, x=np.full(1000, tag, np.int64), i=np.array(i))
    return tag


def test_concurrent_threads_write_one_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    with cf.ThreadPoolExecutor(8) as ex:
        tags = list(ex.map(_write_many, [path] * 8, [10] * 8, range(8)))  # raises if any write failed
    assert tags == list(range(8))
    with np.load(path) as d:
        assert int(d["x"][0]) in range(8) and (d["x"] == d["x"][0]).all() and int(d["i"]) == 9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.npz"]


def test_concurrent_processes_write_one_checkpoint(tmp_path):
    path, go = tmp_path / "ck.npz", tmp_path / "go"
    code = ("import pathlib, sys, time, numpy as np; from smoothgrad.train import atomic_savez\n"
            "pathlib.Path(sys.argv[1] + '.ready' + sys.argv[2]).touch()\n"
            "while not pathlib.Path(sys.argv[3]).exists(): time.sleep(0.01)\n"  # all start writing together
            "for i in range(50): atomic_savez(sys.argv[1], x=np.full(1000, int(sys.argv[2])), i=np.array(i))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), str(tag), str(go)], stderr=subprocess.PIPE,
                              text=True) for tag in range(4)]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ck.npz.ready*"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    with np.load(path) as d:
        assert int(d["x"][0]) in range(4) and (d["x"] == d["x"][0]).all() and int(d["i"]) == 49
    assert not list(tmp_path.glob("*.tmp"))


def test_glob_metacharacters_and_other_writers_files(tmp_path):
    others = [tmp_path / ".ck1.npz.abc.tmp", tmp_path / "ck1.npz.abc.tmp", tmp_path / ".ck[1].npz.zzz.tmp"]
    for p in others:
        p.write_bytes(b"another writer's file")
    atomic_savez(tmp_path / "ck[1].npz", x=np.arange(3))
    fit(tmp_path / "ck[1]-{config}.npz")
    assert all(p.read_bytes() == b"another writer's file" for p in others)
    with np.load(tmp_path / "ck[1].npz") as d:
        np.testing.assert_array_equal(d["x"], np.arange(3))
    assert len(list(tmp_path.glob("ck[[]1]-*.npz"))) == 1


def test_training_while_another_process_writes_the_same_checkpoint(tmp_path):
    "A writer in flight (its temporary file exists) while train starts and saves: both finish."
    path = tmp_path / "ck.npz"
    stop = threading.Event()
    errors = []

    def other():
        try:
            while not stop.is_set():
                atomic_savez(tmp_path / "other.npz", x=np.arange(10))
                atomic_savez(path.with_name("ck.npz.partner"), x=np.arange(10))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    t = threading.Thread(target=other)
    t.start()
    try:
        for _ in range(5):
            fit(path, epochs=2, resume=False)
    finally:
        stop.set()
        t.join()
    assert not errors and not list(tmp_path.glob("*.tmp"))
