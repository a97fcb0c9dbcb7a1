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


class _Cudnn:
    enabled = True
    benchmark = False
    deterministic = False
    allow_tf32 = False

    @staticmethod
    def is_available():
        return False


cudnn = _Cudnn()
