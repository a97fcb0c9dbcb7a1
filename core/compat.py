"""Small torch-compatible names of the top-level namespace (constants, legacy types ...)."""
from __future__ import annotations

import builtins

from .dtypes import (bfloat16, bool_, float16, float32, float64, int8, int16, int32, int64,
                     uint8)
from .tensor import Tensor

e = 2.718281828459045
pi = 3.141592653589793
inf = builtins.float("inf")
nan = builtins.float("nan")
newaxis = None


class _Tag:
    """A named singleton of torch's (a layout or a memory format): prints as ``ember.<name>``
    and pickles by name."""

    __slots__ = ("_name",)

    def __init__(self, name: str):
        self._name = name

    def __repr__(self):
        return f"ember.{self._name}"

    def __reduce__(self):
        # (by its top-level name: tags defined elsewhere, like ember.sparse_coo, pickle too)
        return _tag_named, (self._name,)


def _tag_named(name: str) -> _Tag:
    import ember
    return getattr(ember, name)


class layout(_Tag):
    """A tensor layout tag (torch.layout): ``strided`` for dense tensors (``sparse_coo``
    and ``sparse_csr`` are ember.sparse's)."""

    __slots__ = ()


strided = layout("strided")


class memory_format(_Tag):
    """A memory layout tag (torch.memory_format): contiguous_format, preserve_format,
    channels_last (NHWC strides for 4-D) and channels_last_3d (NDHWC strides for 5-D)."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def inverse(A):
    from .linalg_api import inv
    return inv(A)


def det(A):
    from .linalg_api import det as _det
    return _det(A)


def logdet(A):
    from .linalg_api import logdet as _logdet
    return _logdet(A)


def slogdet(A):
    from .linalg_api import slogdet as _slogdet
    return _slogdet(A)


def is_tensor(obj) -> "builtins.bool":
    """True for ember tensors (torch.is_tensor)."""
    return isinstance(obj, Tensor)


def is_floating_point(t) -> "builtins.bool":
    return t.dtype.is_floating_point


def is_nonzero(t):
    return t.__bool__()


def numel(t):
    return t.numel()


def result_type(a, b):
    from .dtypes import result_type as _rt
    return _rt(a, b)


def can_cast(from_, to):
    from .tensor import _can_cast
    return _can_cast(from_, to)


def typename(obj) -> str:
    """torch.typename: a tensor's type string, else the dotted name of obj's class (or of obj,
    when obj is itself a class or function).

    >>> ember.typename(ember.ones(1)), ember.typename(3)
    ('ember.FloatTensor', 'int')
    """
    from .tensor import Tensor
    if isinstance(obj, Tensor):
        return obj.type()
    named = obj if hasattr(obj, "__qualname__") or hasattr(obj, "__name__") else type(obj)
    qualname = getattr(named, "__qualname__", None) or named.__name__
    module = getattr(named, "__module__", "") or ""
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def get_num_threads():
    import os
    return os.cpu_count() or 1


def set_num_threads(n):
    """Accepted for compatibility; NumPy's BLAS thread count is set by its environment."""


def get_num_interop_threads():
    return 1


def set_num_interop_threads(n):
    pass


def use_deterministic_algorithms(mode, *, warn_only=False):
    pass


def are_deterministic_algorithms_enabled():
    return True


def compile(model=None, **kwargs):
    """Accepted for compatibility: returns the model unchanged. (``ember.jit.script`` replays
    a recorded program instead, but without the Python code, so a submodule's hooks would not
    run as they do under torch.compile.)"""
    if model is None:
        return lambda m: m
    return model


def _legacy_tensor_type(name, dt):
    def __new__(cls, *args, device=None):
        from .ops.creation import empty, tensor
        if len(args) == 1 and not isinstance(args[0], builtins.int):
            return tensor(args[0], dtype=dt, device=device)
        return empty(*args, dtype=dt, device=device)

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is dt
    meta = type(name + "Meta", (type,), {"__instancecheck__": __instancecheck__})
    return meta(name, (), {"__new__": __new__, "dtype": dt})


FloatTensor = _legacy_tensor_type("FloatTensor", float32)
DoubleTensor = _legacy_tensor_type("DoubleTensor", float64)
HalfTensor = _legacy_tensor_type("HalfTensor", float16)
BFloat16Tensor = _legacy_tensor_type("BFloat16Tensor", bfloat16)
LongTensor = _legacy_tensor_type("LongTensor", int64)
IntTensor = _legacy_tensor_type("IntTensor", int32)
ShortTensor = _legacy_tensor_type("ShortTensor", int16)
CharTensor = _legacy_tensor_type("CharTensor", int8)
ByteTensor = _legacy_tensor_type("ByteTensor", uint8)
BoolTensor = _legacy_tensor_type("BoolTensor", bool_)




__all__ = [n for n in dir() if not n.startswith("_") and n not in {
    "builtins", "annotations", "Tensor", "bfloat16", "bool_", "float16", "float32", "float64",
    "int8", "int16", "int32", "int64", "uint8"}]
