"""ember-strict: a NumPy backend that checks every kernel call against Ember's backend contract.

After ``pip install ember-strict``::

    >>> import ember
    >>> x = ember.ones(3, device="strict")
    >>> (x * 2).sum().item()
    6.0

A kernel that breaks the contract raises ``ember_strict.ContractViolation`` (an AssertionError)
naming the kernel and the violation. ``ember_strict.checked(op, kernel)`` wraps any NumPy kernel
in the same checks, to test a backend of your own.

This module is the whole plugin: ``EMBER_PLUGIN_API`` says which contract it was written for, and
the hook registers the backend without importing anything heavy (``_load`` runs on first use).
"""
from ember.plugins import BackendSpec, hookimpl

from .checks import ContractViolation, checked

__all__ = ["ContractViolation", "checked", "EMBER_PLUGIN_API"]
__version__ = "0.1.0"

#: The ember plugin API this plugin targets (ember.plugins.PLUGIN_API_VERSION).
EMBER_PLUGIN_API = 1


def _load():
    import numpy as np
    # NOTE: IEEE results (inf, nan) are legal results, as on cpu; the NaN checks decide which
    # ones are contract violations, not NumPy's floating-point warnings.
    np.seterr(all="ignore")
    from .backend import StrictBackend
    return StrictBackend()


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="strict", load=_load, api_version=EMBER_PLUGIN_API,
                        description="NumPy, every kernel call checked against the contract")]

