"""smoothgrad: smooth exact gradient descent learning in spiking neural networks (Klos & Memmesheimer)."""
__version__ = "0.1.0"

from .neurons import LIF, QIF, Theta  # noqa: F401
