"""Issue 'Done when': the Fig. 4 network learns embedded MNIST from the silent start."""
import numpy as np
import pytest

from smoothgrad import TTFSNetwork
from smoothgrad.data import binarize, flip_pixels, load_embedded_mnist
from smoothgrad.optim import AdaBelief, exponential_decay
from smoothgrad.train import train


def _run(epochs, batch_size, seed=0):
    x_tr, y_tr = load_embedded_mnist("train")
    x_te, y_te = load_embedded_mnist("test")
    x_tr, x_te = binarize(x_tr), binarize(x_te)
    net = TTFSNetwork(seed=seed)
    before = net.evaluate(x_te, y_te)
    steps_per_epoch = -(-len(y_tr) // batch_size)
    opt = AdaBelief(exponential_decay(4e-3, 100 * steps_per_epoch), betas=(0.9, 0.999))
    history = train(net, opt, x_tr, y_tr, x_te, y_te, epochs=epochs, batch_size=batch_size, seed=seed,
                    augment=lambda xb, rng: flip_pixels(xb, 0.02, rng), progress=False)
    return before, net.evaluate(x_te, y_te), history


def _check_silent_start(before):
    assert before["silent_fraction"] == 1.0 and before["hidden_spikes_per_neuron"] == 0.0
    assert before["accuracy_ordinary"] == 0.0  # no output neuron spikes in the trial
    assert before["accuracy"] < 0.2  # chance level


def test_quick_training_from_silent_start():
    before, after, history = _run(epochs=5, batch_size=100)
    _check_silent_start(before)
    assert after["accuracy"] >= 0.88, after
    assert np.all(np.isfinite(history["train_loss"][1:]))


@pytest.mark.slow
def test_training_reaches_90_percent():
    before, after, _ = _run(epochs=15, batch_size=100, seed=1)
    _check_silent_start(before)
    assert after["accuracy"] >= 0.90, after
    assert after["hidden_spikes_per_neuron"] > 0 and after["silent_fraction"] < 0.1
