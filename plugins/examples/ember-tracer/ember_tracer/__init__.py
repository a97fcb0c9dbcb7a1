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


def _sigmoid(x):
    # A kernel for an existing op, added by a plugin: logistic through tanh, which cannot
    # overflow (1 / (1 + exp(-x)) computes exp(1000) = inf on the way to 0).
    import numpy as np
    dt = x.dtype
    wide = x.astype(np.float32) if dt.itemsize < 4 else x
    return np.asarray(0.5 * np.tanh(0.5 * wide) + 0.5).astype(dt, copy=False)


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="tracer", load=_load, api_version=EMBER_PLUGIN_API,
                        description="NumPy, counting kernel calls per op")]


@hookimpl
def ember_register_kernels():
    # Any plugin may add kernels to any backend; this one improves its own.
    return [KernelSpec(backend="tracer", op="sigmoid", kernel=_sigmoid,
                       api_version=EMBER_PLUGIN_API, source="ember_tracer._sigmoid")]
