"""Dtypes and torch's type-promotion rules.

A dtype is a small immutable value; each exists once, so ``a.dtype is ember.float32`` holds.
"""
from __future__ import annotations

import builtins

import numpy as np
import ml_dtypes


class dtype:
    """An element type, as ``torch.dtype``: ``ember.float32``, ``ember.int64`` ..."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_complex", "is_inexact",
                 "is_signed", "category", "_rank")

    def __init__(self, name, np_dtype, category, rank):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.category = category  # 0 bool, 1 integer, 2 floating, 3 complex
        self.is_floating_point = category == 2
        self.is_complex = category == 3
        # floating or complex: the dtypes autograd differentiates
        self.is_inexact = category >= 2
        self.is_signed = category >= 2 or (category == 1 and self.np.kind == "i")
        self._rank = rank

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_dtype_by_name, (self.name,))

    @property
    def is_integer(self):
        return self.category == 1

    def to_real(self):
        """The dtype of the real and imaginary parts of a complex dtype (else the dtype)."""
        return _REAL_OF.get(self, self)

    def to_complex(self):
        """The complex dtype whose parts are this floating dtype (torch's toComplexType).

        >>> ember.float64.to_complex()
        ember.complex128
        """
        if self.is_complex:
            return self
        if not self.is_floating_point:
            raise RuntimeError(f"Unknown Complex ScalarType for {self.name}")
        # NOTE: Ember has no complex32 (torch's experimental ComplexHalf): half types -> complex64
        return complex128 if self is float64 else complex64


bool_ = dtype("bool", np.bool_, 0, 0)
uint8 = dtype("uint8", np.uint8, 1, 1)
int8 = dtype("int8", np.int8, 1, 1)
int16 = dtype("int16", np.int16, 1, 2)
int32 = dtype("int32", np.int32, 1, 3)
int64 = dtype("int64", np.int64, 1, 4)
float16 = dtype("float16", np.float16, 2, 5)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, 2, 5)
float32 = dtype("float32", np.float32, 2, 6)
float64 = dtype("float64", np.float64, 2, 7)
complex64 = dtype("complex64", np.complex64, 3, 8)
complex128 = dtype("complex128", np.complex128, 3, 9)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64, complex64,
       complex128)
COMPLEX = (complex64, complex128)
BY_NAME = {d.name: d for d in ALL}
BY_NAME["bool"] = bool_
_BY_NP = {d.np: d for d in ALL}
_REAL_OF = {complex64: float32, complex128: float64}

# Aliases torch programs use.
ALIASES = {
    "float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
    "short": int16, "bool": bool_, "uint8": uint8, "int8": int8, "int16": int16,
    "int32": int32, "int64": int64, "float16": float16, "float32": float32, "float64": float64,
    "bfloat16": bfloat16, "complex64": complex64, "complex128": complex128, "cfloat": complex64,
    "cdouble": complex128,
}


def _dtype_by_name(name):
    return BY_NAME[name]


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype of a NumPy dtype; TypeError for ones Ember has no equivalent of."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported "
                        "types are: float64, float32, float16, bfloat16, complex64, complex128, "
                        "int64, int32, int16, int8, uint8, and bool.") from None


def to_dtype(d) -> dtype:
    """Accept an ember dtype, a NumPy dtype, a Python type or a dtype name."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return _default[0]
    if d is int:
        return int64
    if d is bool:
        return bool_
    if d is complex:
        return default_complex()
    if isinstance(d, str):
        name = d.split(".")[-1]
        if name in ALIASES:
            return ALIASES[name]
    if hasattr(d, "name") and getattr(d, "name", None) in BY_NAME and type(d).__name__ == "dtype":
        return BY_NAME[d.name]  # a torch.dtype-like object
    try:
        return from_numpy_dtype(d)
    except TypeError:
        raise TypeError(f"{d!r} is not a dtype Ember knows") from None


_default = [float32]


def get_default_dtype() -> dtype:
    """The dtype of floating-point tensors made from Python floats (float32 unless changed).

    >>> ember.get_default_dtype()
    ember.float32
    """
    return _default[0]


def default_complex() -> dtype:
    """The dtype of tensors made from Python complex numbers: complex128 when the default dtype
    is float64, else complex64 (torch's)."""
    return complex128 if _default[0] is float64 else complex64


def set_default_dtype(d) -> None:
    """Set the default floating-point dtype (float16, bfloat16, float32 or float64), as torch."""
    d = to_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def _promote_pair(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category == 3 or b.category == 3:
        # the parts' dtypes promote: complex64 + float64 -> complex128, int + complex64 stays
        ra, rb = a.to_real(), b.to_real()
        if not ra.is_floating_point:
            return b
        if not rb.is_floating_point:
            return a
        return _promote_pair(ra, rb).to_complex()
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        return hi
    if a.category == 2:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a._rank > b._rank else b
    if a.category == 1:
        return _BY_NP[np.promote_types(a.np, b.np)]  # uint8+int8 -> int16, as torch
    return a


_PROMOTE = {(a, b): _promote_pair(a, b) for a in ALL for b in ALL}


def promote_types(a: dtype, b: dtype) -> dtype:
    """torch.promote_types: the smallest dtype both convert to without losing category."""
    return _PROMOTE[a, b]


def _scalar_dtype(value) -> dtype:
    if isinstance(value, bool):
        return bool_
    if isinstance(value, int):
        return int64
    if isinstance(value, float):
        return _default[0]
    if isinstance(value, complex):
        return default_complex()
    raise TypeError(f"expected a tensor or a Python number, got {type(value).__name__}")


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # torch's combine_categories: a lower-priority group only matters if it is of a higher category
    if higher is None:
        return lower
    if lower is None or higher.category == 3:
        return higher
    if lower.category == 3:
        # NOTE: torch keeps a floating group's precision (float32 tensor + complex128 scalar is
        # complex64); an integral group takes the complex dtype as it is
        return higher.to_complex() if higher.is_floating_point else lower
    if higher.is_floating_point:
        return higher
    if higher is bool_ or lower.is_floating_point:
        return _PROMOTE[higher, lower]
    return higher


def result_type(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars: dimensioned tensors outrank 0-dim
    tensors, which outrank Python scalars, unless a lower group is of a higher category
    (bool < integer < floating)."""
    dim = zero = wrapped = None
    for x in operands:
        d = getattr(x, "dtype", None)
        if isinstance(d, dtype):
            if x.ndim:
                dim = d if dim is None else _PROMOTE[dim, d]
            else:
                zero = d if zero is None else _PROMOTE[zero, d]
        else:
            s = _scalar_dtype(x)
            wrapped = s if wrapped is None else _PROMOTE[wrapped, s]
    return _combine(dim, _combine(zero, wrapped))


class finfo:
    """Machine limits of a floating-point dtype, as ``torch.finfo``:
    ``ember.finfo(ember.float16).max`` is 65504.0; ``ember.finfo()`` is the default dtype's.

    >>> ember.finfo(ember.float32).eps
    1.1920928955078125e-07
    """

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type=None):
        d = get_default_dtype() if type is None else type
        if not isinstance(d, dtype):
            raise TypeError(f"finfo(): argument 'type' (position 1) must be ember.dtype, not "
                            f"{builtins.type(d).__name__}")
        d = d.to_real()  # (a complex dtype's limits are its parts', as torch's)
        if not d.is_floating_point:
            raise TypeError("ember.finfo() requires a floating point input type. Use "
                            "ember.iinfo to handle 'ember.finfo'")
        # (ml_dtypes.finfo knows numpy's dtypes and bfloat16 alike)
        f = ml_dtypes.finfo(d.np)
        self.bits = d.itemsize * 8
        self.eps, self.max, self.min = float(f.eps), float(f.max), float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution = 10.0 ** -f.precision  # (torch's: exact, where numpy's is rounded)
        self.dtype = d.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Machine limits of an integer dtype, as ``torch.iinfo``:
    ``ember.iinfo(ember.int8).min`` is -128."""

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type):
        if not isinstance(type, dtype):
            raise TypeError(f"iinfo(): argument 'type' (position 1) must be ember.dtype, not "
                            f"{builtins.type(type).__name__}")
        if type is bool_:
            raise TypeError("ember.bool is not supported by ember.iinfo")
        if not type.is_integer:
            raise TypeError("ember.iinfo() requires an integer input type. Use ember.finfo to "
                            "handle 'ember.iinfo'")
        i = np.iinfo(type.np)
        self.bits, self.min, self.max = type.itemsize * 8, int(i.min), int(i.max)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


# torch's C++ type names, as its overflow errors print them
_C_NAMES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int",
            "int64": "int64_t", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
            "float32": "float", "float64": "double", "complex64": "c10::complex<float>",
            "complex128": "c10::complex<double>"}
# ... and as the messages that print a dtype through caffe2's TypeMeta name it (masked_fill)
TYPEMETA_NAMES = {"int64": "long int", "int32": "int", "int16": "short int",
                  "int8": "signed char", "uint8": "unsigned char", "float32": "float",
                  "float64": "double", "float16": "c10::Half", "bfloat16": "c10::BFloat16"}


def checked_scalar(value, dt: dtype):
    """The Python number ``value`` as ``dt`` stores it (fill_, full, masked_fill), refused as
    torch refuses it: RuntimeError when it overflows ``dt`` (an unsigned dtype takes a negative
    value whose magnitude fits, wrapping it), OverflowError beyond 64 bits."""
    if dt is bool_:
        return bool(value)
    if dt.is_complex:
        return complex(value)
    if isinstance(value, complex):
        if value.imag:
            raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dt.name]} without "
                               "overflow")
        value = value.real
    if dt.is_floating_point:
        v = float(value)
        if abs(v) > float(ml_dtypes.finfo(dt.np).max) and v == v and abs(v) != float("inf"):
            raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dt.name]} without "
                               "overflow")
        return v
    v = int(value)
    if not -(1 << 63) <= v < (1 << 64):
        raise OverflowError("int too big to convert")
    info = np.iinfo(dt.np)
    lo = -int(info.max) if not dt.is_signed else int(info.min)
    if not lo <= v <= int(info.max):
        raise RuntimeError(f"value cannot be converted to type {_C_NAMES[dt.name]} without "
                           "overflow")
    return v % (int(info.max) + 1) if v < 0 and not dt.is_signed else v
