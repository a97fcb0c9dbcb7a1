"""``skip_init``: build a module without spending time or random draws on initialisation."""
from __future__ import annotations

import inspect

from ...device import canonical
from ...ops.creation import default_generator
from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` whose parameters are left to be set by the caller.

    NOTE: ember has no 'meta' device to build on, so the module is built on its device and the
    cpu's and that device's generator states are restored afterwards: the values are
    initialised (torch's are garbage), but like torch's, the call consumes no random numbers.

    >>> import ember
    >>> ember.nn.utils.skip_init(ember.nn.Linear, 3, 2).weight.shape
    ember.Size([2, 3])
    """
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs.setdefault("device", "cpu")
    generators = {default_generator(canonical(d)) for d in ("cpu", kwargs["device"])}
    states = [(g, g.get_state()) for g in generators]
    try:
        return module_cls(*args, **kwargs)
    finally:
        for generator, state in states:
            generator.set_state(state)
