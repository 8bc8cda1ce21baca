"""smoothgrad: smooth exact gradient descent learning in spiking neural networks (Klos & Memmesheimer)."""
__version__ = "0.1.0"

from .neurons import LIF, QIF, Theta  # noqa: F401
from .simulate import Trial, simulate, simulate_batch  # noqa: F401
from .pseudo import output_times, trial_output_times  # noqa: F401
from .gradients import check_grad, output_times_vjp, output_times_vjp_batch, trial_vjp  # noqa: F401
from .layered import layered_output_times, layered_vjp  # noqa: F401
from .ttfs import TTFSNetwork  # noqa: F401
