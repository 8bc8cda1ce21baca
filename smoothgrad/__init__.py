"""smoothgrad: smooth exact gradient descent learning in spiking neural networks (Klos & Memmesheimer).

Neurons (`QIF`, `LIF`, `Theta`), exact event-driven simulation (`simulate`), output times with pseudospikes
(`output_times`) and their exact gradients (`output_times_vjp`, `trial_vjp`), layered networks with the second
type of pseudodynamics (`layered_output_times`), fast deep time-to-first-spike networks (`TTFSNetwork`),
optimisers and the training loop (`train`). The figure runner is `smoothgrad.reproduce` (`smoothgrad reproduce`).
"""
__version__ = "0.1.0"

from .core import kernel_cache_dir

kernel_cache_dir()  # before any kernel is compiled: numba's cache goes to the user's cache folder, keyed by code hash

from .gradients import output_times_vjp, output_times_vjp_batch, trial_vjp
from .layered import layered_output_times, layered_vjp
from .neurons import LIF, QIF, Theta
from .optim import SGD, AdaBelief, Adam, exponential_decay
from .pseudo import output_times, trial_output_times
from .reference import check_grad
from .simulate import Trial, simulate, simulate_batch
from .train import train
from .ttfs import TTFSNetwork

__all__ = [
    "LIF", "QIF", "Theta",
    "Trial", "simulate", "simulate_batch",
    "output_times", "trial_output_times",
    "check_grad", "output_times_vjp", "output_times_vjp_batch", "trial_vjp",
    "layered_output_times", "layered_vjp",
    "TTFSNetwork",
    "SGD", "Adam", "AdaBelief", "exponential_decay",
    "train",
]
