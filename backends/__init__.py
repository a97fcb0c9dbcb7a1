"""ember.backends: which backends are installed and what they claim.

>>> ember.backends.available()
['cpu', 'opencl']
"""
from __future__ import annotations

from ..plugins.registry import (available, capabilities, failures, fallback_count,  # noqa: F401
                                registered)


class _Unavailable:
    """Namespaces torch programs probe (``torch.backends.mps.is_available()``)."""

    def __init__(self, name):
        self._name = name

    def is_available(self):
        return False

    def is_built(self):
        return False


mps = _Unavailable("mps")
mkldnn = _Unavailable("mkldnn")  # (torch's CPU oneDNN kernels: Ember's cpu backend is NumPy)
mkldnn.enabled = False


class _OpenMP:
    @staticmethod
    def is_available():
        return False


openmp = _OpenMP()


class _OptEinsum:
    """torch.backends.opt_einsum: Ember's einsum contracts in NumPy's order; no opt_einsum."""
    enabled = False
    strategy = None

    @staticmethod
    def is_available():
        return False


opt_einsum = _OptEinsum()


class _Cudnn:
    enabled = True
    benchmark = False
    deterministic = False
    allow_tf32 = False

    @staticmethod
    def is_available():
        return False

    @staticmethod
    def version():
        return None


cudnn = _Cudnn()

# the cuda plugin's package also carries torch.backends.cuda's switches (matmul.allow_tf32 ...)
from . import cuda  # noqa: E402,F401
