"""ember-tracer: a NumPy backend named ``tracer`` that counts kernel calls per op.

It shows a second third-party backend living next to ``strict`` (each under its own name), and
how a plugin adds a kernel to a backend through ``ember_register_kernels``::

    >>> import ember, ember_tracer
    >>> ember_tracer.reset()
    >>> y = ember.ones(3, device="tracer").exp().sum()
    >>> ember_tracer.counts()
    {'full': 1, 'exp': 1, 'sum': 1}
"""
from __future__ import annotations

from collections import Counter

from ember.plugins import BackendSpec, KernelSpec, hookimpl

__version__ = "0.1.0"

#: The ember plugin API this plugin targets (ember.plugins.PLUGIN_API_VERSION).
EMBER_PLUGIN_API = 1

_counts: Counter = Counter()


def counts() -> dict[str, int]:
    """Kernel calls on the tracer backend since the last ``reset()``, per op, in first-call
    order."""
    return dict(_counts)


def reset() -> None:
    """Forget the counts."""
    _counts.clear()


def _load():
    from .backend import TracerBackend
    return TracerBackend(_counts)


def _relu(x):
    # A fused kernel for the composite relu (core computes it as where(x > 0, x, 0): two
    # kernels and a temporary); one pass here, and NaN stays NaN as with torch's kernel.
    import numpy as np
    return np.maximum(x, x.dtype.type(0))


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="tracer", load=_load, api_version=EMBER_PLUGIN_API,
                        description="NumPy, counting kernel calls per op")]


@hookimpl
def ember_register_kernels():
    # Any plugin may add kernels to any backend; this one adds a fused relu to its own.
    return [KernelSpec(backend="tracer", op="relu", kernel=_relu,
                       api_version=EMBER_PLUGIN_API, source="ember_tracer._relu")]
