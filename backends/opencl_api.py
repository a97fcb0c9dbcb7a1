"""ember.opencl: module-level helpers for the opencl backend (synchronize for timing)."""
from __future__ import annotations


def _backend():
    from ..plugins import registry
    return registry.backend("opencl")


def is_available() -> bool:
    from ..plugins import registry
    return "opencl" in registry.available()


def device_count() -> int:
    return _backend().device_count() if is_available() else 0


def synchronize(device=None) -> None:
    """Wait for every queued kernel on the opencl device(s) to finish."""
    if is_available():
        _backend().synchronize(getattr(device, "index", device))
