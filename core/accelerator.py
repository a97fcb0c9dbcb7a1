"""ember.accelerator: the current accelerator among the available backends (torch.accelerator)."""
from __future__ import annotations

from .device import device as _device


def _accelerators():
    from ..plugins import registry
    return [n for n in registry.available() if n != "cpu"]


def is_available() -> bool:
    """True when a non-cpu backend with a device is available."""
    return bool(_accelerators())


def current_accelerator():
    """The first available accelerator's device type (cuda before opencl), or None."""
    acc = _accelerators()
    if not acc:
        return None
    for preferred in ("cuda", "opencl"):
        if preferred in acc:
            return _device(preferred)
    return _device(acc[0])


def device_count() -> int:
    acc = current_accelerator()
    if acc is None:
        return 0
    from ..plugins import registry
    return registry.backend(acc.type).device_count()


def synchronize(device=None):
    acc = current_accelerator() if device is None else _device(device)
    if acc is not None:
        from ..plugins import registry
        registry.backend(acc.type).synchronize(acc.index)
