"""Devices: ``ember.device("opencl:0")``, the default device, and the link to a backend.

Device objects are interned: ``ember.device("cpu") is ember.device("cpu")``; the dispatcher
compares devices by identity on the hot path.
"""
from __future__ import annotations

import os
import threading


class device:
    """A device: a backend name and, for accelerators, an index (``cuda:1``).

    >>> ember.device("opencl:0").type
    'opencl'
    """

    __slots__ = ("type", "index", "_backend", "__weakref__")
    _interned: dict = {}
    _lock = threading.Lock()

    def __new__(cls, type_or_str="cpu", index=None):
        if isinstance(type_or_str, device):
            if index is None:
                return type_or_str
            type_or_str = type_or_str.type
        if not isinstance(type_or_str, str):
            if isinstance(type_or_str, int):  # torch accepts an int as a cuda ordinal
                type_or_str, index = "cuda", type_or_str
            elif hasattr(type_or_str, "type") and hasattr(type_or_str, "index"):
                type_or_str, index = type_or_str.type, type_or_str.index if index is None else index
            else:
                raise TypeError(f"device() expects a string like 'cpu' or 'opencl:0', "
                                f"got {type(type_or_str).__name__}")
        key = (type_or_str, index)
        got = cls._interned.get(key)
        if got is not None:
            return got
        name, idx = type_or_str, index
        if ":" in name:
            if index is not None:
                raise RuntimeError(f"device string {name!r} already has an index; "
                                   f"got index={index} too")
            name, _, num = name.partition(":")
            if not num.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_str}'")
            idx = int(num)
        if not name or not name.replace("_", "").isalnum():
            raise RuntimeError(f"Invalid device string: '{type_or_str}'")
        if idx is not None and (not isinstance(idx, int) or idx < 0):
            raise RuntimeError(f"Device index must not be negative, got {idx}")
        if name == "cpu":
            idx = None  # NOTE: torch prints cpu without index; cpu:0 is the same device
        with cls._lock:
            canon = cls._interned.get((name, idx))
            if canon is None:
                canon = object.__new__(cls)
                canon.type, canon.index, canon._backend = name, idx, None
                cls._interned[(name, idx)] = canon
            cls._interned[key] = canon
        return canon

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self is other

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))

    @property
    def backend(self):
        """The loaded Backend of this device (loads the plugin on first use)."""
        b = self._backend
        if b is None:
            from ..plugins import registry
            b = registry.backend(self.type)
            self._backend = b
        return b


_default_device: list = [None]


def canonical(d) -> device:
    """A concrete device: an accelerator without an index gets its default index (0, or the
    backend's choice), and the backend is checked to be available."""
    if d is None:
        return get_default_device()
    dev = device(d) if not isinstance(d, device) else d
    if dev.index is None and dev.type != "cpu":
        from ..plugins import registry
        dev = device(dev.type, registry.default_index(dev.type))
    if dev._backend is None:
        b = dev.backend  # raises a clear error when the backend is missing or failed
        if dev.index is not None and dev.index >= b.device_count():
            raise RuntimeError(f"{dev} is not a valid device: the {dev.type} backend has "
                               f"{b.device_count()} device(s)")
    return dev


def get_default_device() -> device:
    """The device new tensors go to (cpu unless set, or EMBER_DEVICE in the environment)."""
    d = _default_device[0]
    if d is None:
        d = canonical(os.environ.get("EMBER_DEVICE") or "cpu")
        _default_device[0] = d
    return d


def set_default_device(d) -> None:
    """Make ``d`` the device that factory functions (zeros, tensor, randn ...) use.

    >>> ember.set_default_device("cpu")
    """
    _default_device[0] = None if d is None else canonical(d)
