"""The conformance suite's op table, OpInfo-style: each entry says how to call an op through the
public, torch-shaped API, which dtypes it is defined for, what inputs to try, and a float64 NumPy
reference of its meaning.

An op is called as ``op(m, *args, **kwargs)`` where ``m`` is the ``ember`` module (or ``torch``,
for the parity checks: the same spelling must work on both). Tensor arguments are ``Arg``s: the
values, plus how the tensor is laid out on the device (contiguous, transposed, strided slice or
expanded), so every kernel also sees non-contiguous inputs.

    >>> from ember.plugins.conformance.opinfo import OPS
    >>> OPS["add"].dtypes[:3]
    ('bool', 'uint8', 'int8')
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

import ml_dtypes

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")
SIGNED = ("int8", "int16", "int32", "int64")
NUMERIC = INTS + FLOATS
ALL = ("bool",) + NUMERIC
#: complex dtypes: only the ops of the complex section below are defined for them
COMPLEX = ("complex64", "complex128")

NP = {"bool": np.dtype(np.bool_), "uint8": np.dtype(np.uint8), "int8": np.dtype(np.int8),
      "int16": np.dtype(np.int16), "int32": np.dtype(np.int32), "int64": np.dtype(np.int64),
      "float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16),
      "float32": np.dtype(np.float32), "float64": np.dtype(np.float64),
      "complex64": np.dtype(np.complex64), "complex128": np.dtype(np.complex128)}


def is_float(d: str) -> bool:
    return d in FLOATS


def is_int(d: str) -> bool:
    return d in INTS


def is_complex(d: str) -> bool:
    return d in COMPLEX


def real_of(d: str) -> str:
    """The dtype of a complex dtype's parts (float32 for complex64)."""
    return {"complex64": "float32", "complex128": "float64"}.get(d, d)


# ---- inputs ------------------------------------------------------------------------------------

@dataclass
class Arg:
    """One tensor argument: ``value`` (a NumPy array of its dtype) and its layout on the device.

    layout: "contiguous"; "transposed" (the last two dims swapped in storage); "strided" (every
    other element of a wider buffer); "expanded" (``base`` broadcast with 0-strides).
    ``grad``: whether autograd checks differentiate with respect to it (float args only).
    """

    value: np.ndarray
    layout: str = "contiguous"
    grad: bool = True
    base: np.ndarray | None = None

    def storage(self) -> np.ndarray:
        """The contiguous host array that is uploaded; ``view`` turns it into ``value``."""
        v = self.value
        if self.layout == "transposed":
            return np.array(np.swapaxes(v, -1, -2), order="C", copy=True)
        if self.layout == "strided":
            big = np.zeros(v.shape[:-1] + (2 * v.shape[-1] + 1,), v.dtype)
            big[..., 1::2] = v
            return big
        if self.layout == "expanded":
            return np.array(self.base, order="C", copy=True)
        return np.array(v, order="C", copy=True)

    def view(self, t):
        """Apply the layout to an uploaded storage tensor (works on ember and torch tensors)."""
        if self.layout == "transposed":
            return t.transpose(-1, -2)
        if self.layout == "strided":
            return t[..., 1::2]
        if self.layout == "expanded":
            return t.expand(*self.value.shape)
        return t

    def with_value(self, storage: np.ndarray) -> "Arg":
        """The same layout over another storage array (used by finite differences)."""
        if self.layout == "transposed":
            return Arg(np.swapaxes(storage, -1, -2), self.layout, self.grad)
        if self.layout == "strided":
            return Arg(storage[..., 1::2], self.layout, self.grad)
        if self.layout == "expanded":
            return Arg(np.broadcast_to(storage, self.value.shape), self.layout, self.grad, storage)
        return Arg(storage, self.layout, self.grad)


@dataclass
class Sample:
    """One call: positional args (``Arg``s or plain Python values) and keyword args."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    desc: str = ""
    out_dtype: Any = None    # overrides the OpInfo's rule for this sample (e.g. int + 2.5)
    grad: bool = True        # False: not used for gradient checks (non-smooth points, ...)

    def __str__(self):
        parts = []
        for a in self.args:
            if isinstance(a, Arg):
                s = f"{a.value.dtype}{list(a.value.shape)}"
                parts.append(s + ("" if a.layout == "contiguous" else f"<{a.layout}>"))
            else:
                parts.append(repr(a))
        parts += [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"({', '.join(parts)})" + (f" [{self.desc}]" if self.desc else "")


def make_rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def values(rng, shape, dtype: str, domain: str = "any") -> np.ndarray:
    """Random values of ``dtype`` (stored exactly in it) from a domain where the op is smooth."""
    shape = tuple(shape)
    if is_complex(dtype):  # (both parts from the domain: complex ops are smooth off zero)
        part = real_of(dtype)
        v = values(rng, shape, part, domain) + 1j * values(rng, shape, part, domain)
        return v.astype(NP[dtype])
    if dtype == "bool":
        v = rng.random(shape) < 0.5
        if domain in ("pos", "nonzero"):
            v = np.ones(shape, bool)
        return v
    if is_int(dtype):
        lo, hi = {"any": (-5, 6), "pos": (1, 6), "nonzero": (1, 6), "unit": (0, 1),
                  "small": (-2, 3), "exp": (0, 3), "idx": (0, 3)}[domain]
        if dtype == "uint8":
            lo = max(lo, 0)
        v = rng.integers(lo, hi, shape)
        if domain == "nonzero" and dtype != "uint8":
            v = v * rng.choice([-1, 1], shape)
        return v.astype(NP[dtype])
    if domain == "idx":  # small integers: ties
        v = rng.integers(0, 3, shape).astype(np.float64)
    elif domain == "any":
        v = rng.standard_normal(shape) * 1.5
    elif domain == "pos":
        v = rng.uniform(0.5, 2.5, shape)
    elif domain == "nonzero":
        v = rng.uniform(0.5, 2.5, shape) * rng.choice([-1.0, 1.0], shape)
    elif domain == "unit":
        v = rng.uniform(-0.9, 0.9, shape)
    elif domain == "small":
        v = rng.uniform(-1.0, 1.0, shape)
    elif domain == "exp":
        v = rng.uniform(-2.0, 2.0, shape)
    else:
        raise ValueError(domain)
    return v.astype(NP[dtype])


def layouts(rng, dtype, domain="any", shapes=((3, 4),), empty=True, zero_d=True):
    """The standard single-input layouts: contiguous shapes, 0-d, empty, transposed, strided
    slice, expanded."""
    out = [Arg(values(rng, s, dtype, domain)) for s in shapes]
    if zero_d:
        out.append(Arg(values(rng, (), dtype, domain)))
    if empty:
        out.append(Arg(values(rng, (0, 3), dtype, domain)))
    out.append(Arg(values(rng, (4, 3), dtype, domain), "transposed"))
    out.append(Arg(values(rng, (2, 3), dtype, domain), "strided"))
    base = values(rng, (1, 4), dtype, domain)
    out.append(Arg(np.broadcast_to(base, (3, 4)), "expanded", base=base))
    return out


# ---- the table ---------------------------------------------------------------------------------

@dataclass
class OpInfo:
    """One op of the conformance table.

    op: ``op(m, *args, **kwargs)`` through the public API of module ``m`` (ember or torch).
    ref: NumPy reference on float64 (floats), int64 (ints) or bool inputs; returns an array (or a
        tuple of them, for several outputs). Integer results are wrapped to the output dtype.
    dtypes: the dtypes (of the sample tensors) the op is defined for.
    samples: ``samples(dtype, rng)`` -> iterable of ``Sample``.
    out_dtype: rule for the output dtype given the input dtype: "same", "bool", "int64",
        "float" (ints promote to float32), "accum" (ints and bool accumulate in int64), a dtype
        name, a callable, or a tuple of those (one per output).
    grad / gradgrad: whether the gradient / second-order checks apply (float args only).
    tol: multiplier of the dtype's forward tolerance.
    check: optional ``check(inputs, outputs) -> str | None`` replacing the exact comparison of
        outputs the reference cannot pin down (indices of ties ...); it gets host arrays.
    creation: the op takes no tensors; it gets ``device=`` and ``dtype=`` keywords.
    primitives: the backend primitives the op exercises (for the fallback report).
    """

    name: str
    op: Callable
    ref: Callable
    dtypes: tuple
    samples: Callable[[str, np.random.Generator], Iterator[Sample]]
    out_dtype: Any = "same"
    grad: bool = True
    gradgrad: bool = True
    tol: float = 1.0
    check: Callable | None = None
    creation: bool = False
    primitives: tuple = ()
    grad_samples: int = 4

    def out_dtypes(self, dtype: str, sample: Sample) -> tuple:
        rule = self.out_dtype
        if sample.out_dtype is not None and rule != "bool":
            rule = sample.out_dtype
        rules = rule if isinstance(rule, tuple) else (rule,)
        return tuple(_resolve(r, dtype) for r in rules)


def _resolve(rule, dtype):
    if callable(rule):
        return rule(dtype)
    if rule == "same":
        return dtype
    if rule == "float":
        return dtype if is_float(dtype) else "float32"
    if rule == "accum":
        return dtype if is_float(dtype) else "int64"
    return rule


OPS: dict[str, OpInfo] = {}


def add(info: OpInfo) -> OpInfo:
    assert info.name not in OPS, info.name
    OPS[info.name] = info
    return info


def _np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x) if x.size else x.astype(np.float64)


def _np_round(x):
    return np.round(x)   # NumPy rounds half to even, as torch


# ---- unary -------------------------------------------------------------------------------------

_UNARY_FLOAT = {
    # name: (reference, domain); ints promote to float32 (torch.exp(int tensor) is float32)
    "exp": (np.exp, "any"), "log": (np.log, "pos"), "log1p": (np.log1p, "pos"),
    "expm1": (np.expm1, "any"), "sqrt": (np.sqrt, "pos"), "sin": (np.sin, "any"),
    "cos": (np.cos, "any"), "tan": (np.tan, "unit"), "tanh": (np.tanh, "any"),
    "sigmoid": (_np_sigmoid, "any"), "erf": (_np_erf, "any"), "asin": (np.arcsin, "unit"),
    "acos": (np.arccos, "unit"), "atan": (np.arctan, "any"), "sinh": (np.sinh, "any"),
    "cosh": (np.cosh, "any"), "log2": (np.log2, "pos"), "exp2": (np.exp2, "any"),
    "reciprocal": (lambda x: 1.0 / x, "pos"), "rsqrt": (lambda x: 1.0 / np.sqrt(x), "pos"),
}


def _unary_samples(domain, extra=()):
    def samples(dtype, rng):
        for a in layouts(rng, dtype, domain, shapes=((3, 4), (2, 3, 5))):
            yield Sample((a,))
        if is_float(dtype):
            for e in extra:
                yield Sample((Arg(np.array(e, NP[dtype]), grad=False),), desc="special values",
                             grad=False)
    return samples


def _unary_op(name):
    return lambda m, x: getattr(m, name)(x)


_SPECIAL = [[0.0, -0.0, np.inf, -np.inf, np.nan, 1.0]]

for _name, (_ref, _dom) in _UNARY_FLOAT.items():
    _ints = () if _dom == "unit" else INTS
    add(OpInfo(_name, _unary_op(_name), _ref, FLOATS + _ints,
               _unary_samples(_dom, [] if _dom != "any" else [[0.0, 0.5, -0.5]]),
               out_dtype="float", primitives=(_name if _name != "rsqrt" else "sqrt",)))

for _name, _ref in {"neg": np.negative, "abs": np.abs, "sign": np.sign}.items():
    add(OpInfo(_name, _unary_op(_name), _ref, NUMERIC, _unary_samples("nonzero", _SPECIAL[:0]),
               primitives=(_name,)))
for _name, _ref in {"floor": np.floor, "ceil": np.ceil, "round": _np_round,
                    "trunc": np.trunc}.items():
    def _rounding_samples(dtype, rng, _base=_unary_samples("any")):
        yield from _base(dtype, rng)
        if is_float(dtype):
            yield Sample((Arg(np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.7, -3.7], NP[dtype])),),
                         desc="halves", grad=False)
    add(OpInfo(_name, _unary_op(_name), _ref, NUMERIC, _rounding_samples, primitives=(_name,)))

for _name, _ref in {"isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite,
                    "logical_not": np.logical_not}.items():
    add(OpInfo(_name, _unary_op(_name), _ref, ALL,
               _unary_samples("any", [[0.0, np.inf, -np.inf, np.nan, 1.5, -2.0]]),
               out_dtype="bool", grad=False, primitives=(_name,)))

add(OpInfo("bitwise_not", _unary_op("bitwise_not"),
           lambda x: np.logical_not(x) if x.dtype == bool else np.invert(x),
           ("bool",) + INTS, _unary_samples("any"), grad=False, primitives=("bitwise_not",)))

add(OpInfo("relu", _unary_op("relu"), lambda x: np.maximum(x, 0), NUMERIC,
           _unary_samples("nonzero"), primitives=("maximum",)))
add(OpInfo("square", _unary_op("square"), np.square, NUMERIC, _unary_samples("any"),
           out_dtype=lambda d: d, primitives=("mul",)))


def _clamp_samples(dtype, rng):
    lo = 0 if dtype == "uint8" else -1  # NOTE: torch wraps -1 to 255 for uint8
    for a in layouts(rng, dtype, "any", empty=False):
        yield Sample((a,), {"min": lo, "max": 2})
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {"min": 0})
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {"max": 1})


add(OpInfo("clamp", lambda m, x, **kw: m.clamp(x, **kw),
           lambda x, min=None, max=None: np.clip(x, min, max), NUMERIC, _clamp_samples,
           primitives=("maximum", "minimum")))


def _softmax_samples(dtype, rng):
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {"dim": 1})
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {"dim": 0})
    yield Sample((Arg(values(rng, (4, 3), dtype), "transposed"),), {"dim": -1})
    yield Sample((Arg(values(rng, (2, 3, 4), dtype)),), {"dim": 1})


def _np_softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


add(OpInfo("softmax", lambda m, x, dim: m.softmax(x, dim), _np_softmax, FLOATS,
           _softmax_samples, primitives=("exp", "amax", "sum", "div")))
add(OpInfo("log_softmax", lambda m, x, dim: m.log_softmax(x, dim),
           lambda x, dim: np.log(_np_softmax(x, dim)), FLOATS, _softmax_samples,
           primitives=("exp", "log", "amax", "sum")))


# ---- binary ------------------------------------------------------------------------------------

def _binary_samples(da="any", db="any", scalars=(), shapes=True):
    """Pairs: same shape, broadcasting, 0-d with n-d, empty, non-contiguous on both sides,
    and Python scalars on the right."""
    def samples(dtype, rng):
        v = lambda s, d: values(rng, s, dtype, d)  # noqa: E731
        yield Sample((Arg(v((3, 4), da)), Arg(v((3, 4), db))))
        yield Sample((Arg(v((3, 1), da)), Arg(v((1, 4), db))), desc="broadcast")
        yield Sample((Arg(v((2, 3, 4), da)), Arg(v((4,), db))), desc="broadcast")
        yield Sample((Arg(v((), da)), Arg(v((2, 3), db))), desc="0-d")
        yield Sample((Arg(v((), da)), Arg(v((), db))), desc="0-d")
        yield Sample((Arg(v((0, 4), da)), Arg(v((1, 4), db))), desc="empty")
        yield Sample((Arg(v((3, 4), da), "transposed"), Arg(v((3, 4), db), "strided")))
        base = v((3, 1), db)
        yield Sample((Arg(v((3, 5), da), "strided"),
                      Arg(np.broadcast_to(base, (3, 5)), "expanded", base=base)))
        for s in scalars:
            s = s(dtype) if callable(s) else s
            if s is None:
                continue
            out = None
            if isinstance(s, float) and not is_float(dtype):
                out = "float32"
            yield Sample((Arg(v((3, 4), da)), s), desc="python scalar", out_dtype=out)
    return samples


def _bin_op(name):
    return lambda m, a, b: getattr(m, name)(a, b)


def _int_scalar(d):
    return True if d == "bool" else 2


def _float_scalar(d):
    return None if d == "bool" else 2.5


_SCALARS = (_int_scalar, _float_scalar)


def _div_ref(a, b):
    return np.true_divide(a.astype(np.float64), b)


def _floor_divide_ref(a, b):
    return np.floor_divide(a, b)


def _pow_ref(a, b):
    if a.dtype.kind in "iub":
        return np.power(a.astype(np.int64), np.asarray(b).astype(np.int64))
    return np.power(a, b)


def _np_logical(f):
    return lambda a, b: f(np.asarray(a) != 0, np.asarray(b) != 0)


_BINARY = [
    # name, ref, dtypes, samples, out rule, grad
    ("add", np.add, ALL, _binary_samples(scalars=_SCALARS), "same", True),
    ("sub", np.subtract, NUMERIC, _binary_samples(scalars=_SCALARS), "same", True),
    ("mul", np.multiply, ALL, _binary_samples(scalars=_SCALARS), "same", True),
    ("div", _div_ref, NUMERIC, _binary_samples("any", "nonzero", scalars=_SCALARS), "float",
     True),
    ("floor_divide", _floor_divide_ref, NUMERIC,
     _binary_samples("any", "nonzero", scalars=(_int_scalar,)), "same", False),
    ("remainder", np.remainder, NUMERIC,
     _binary_samples("any", "nonzero", scalars=(_int_scalar,)), "same", True),
    ("pow", _pow_ref, SIGNED + FLOATS,
     _binary_samples("pos", "exp", scalars=(_int_scalar,)), "same", True),
    ("maximum", np.maximum, ALL, _binary_samples(), "same", True),
    ("minimum", np.minimum, ALL, _binary_samples(), "same", True),
    ("atan2", np.arctan2, NUMERIC, _binary_samples(), "float", True),
]
for _name, _ref, _dts, _smp, _out, _g in _BINARY:
    add(OpInfo(_name, _bin_op(_name), _ref, _dts, _smp, out_dtype=_out, grad=_g,
               primitives=(_name,)))

for _name, _ref in {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
                    "gt": np.greater, "ge": np.greater_equal}.items():
    def _cmp_samples(dtype, rng, _base=_binary_samples(scalars=_SCALARS)):
        yield from _base(dtype, rng)
        if is_float(dtype):
            a = np.array([np.nan, 1.0, np.inf, -np.inf, 0.0], NP[dtype])
            b = np.array([np.nan, 1.0, np.inf, 1.0, -0.0], NP[dtype])
            yield Sample((Arg(a), Arg(b)), desc="special values")
        else:  # ties are the interesting case for comparisons
            a = values(rng, (3, 4), dtype, "idx")
            yield Sample((Arg(a), Arg(a.copy())), desc="ties")
    add(OpInfo(_name, _bin_op(_name), _ref, ALL, _cmp_samples, out_dtype="bool", grad=False,
               primitives=(_name,)))

for _name, _f in {"logical_and": np.logical_and, "logical_or": np.logical_or,
                  "logical_xor": np.logical_xor}.items():
    add(OpInfo(_name, _bin_op(_name), _np_logical(_f), ALL, _binary_samples(),
               out_dtype="bool", grad=False, primitives=(_name,)))

for _name, _f in {"bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or,
                  "bitwise_xor": np.bitwise_xor}.items():
    add(OpInfo(_name, _bin_op(_name), _f, ("bool",) + INTS,
               _binary_samples(scalars=(_int_scalar,)), grad=False, primitives=(_name,)))


def _where_samples(dtype, rng):
    c = lambda s: Arg(rng.random(s) < 0.5, grad=False)  # noqa: E731
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((c((3, 4)), Arg(v((3, 4))), Arg(v((3, 4)))))
    yield Sample((c((3, 1)), Arg(v((1, 4))), Arg(v((3, 4)))), desc="broadcast")
    yield Sample((c(()), Arg(v((2, 3))), Arg(v(()))), desc="0-d")
    yield Sample((c((0, 3)), Arg(v((0, 3))), Arg(v((1, 3)))), desc="empty")
    yield Sample((Arg(rng.random((3, 4)) < 0.5, "transposed", grad=False),
                  Arg(v((3, 4)), "strided"), Arg(v((3, 4)), "transposed")))


add(OpInfo("where", lambda m, c, a, b: m.where(c, a, b), np.where, ALL, _where_samples,
           primitives=("where",)))


def _lerp_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 4))), Arg(v((3, 4))), 0.3))
    yield Sample((Arg(v((3, 1))), Arg(v((4,))), Arg(values(rng, (3, 4), dtype, "unit"))))


add(OpInfo("lerp", lambda m, a, b, w: m.lerp(a, b, w), lambda a, b, w: a + w * (b - a), FLOATS,
           _lerp_samples, primitives=("add", "mul", "sub")))


# ---- cast --------------------------------------------------------------------------------------

def _cast_samples(dtype, rng):
    for target in ALL:
        dom = "any"
        if target == "uint8" and dtype not in INTS:
            dom = "pos"  # NOTE: negative float -> uint8 is undefined in C and in torch
        if is_float(dtype) and target in ("int8", "uint8"):
            dom = "pos" if target == "uint8" else "any"
        yield Sample((Arg(values(rng, (3, 4), dtype, dom)),), {"to": target},
                     out_dtype=target, grad=target in (dtype, "float64"))
        yield Sample((Arg(values(rng, (4, 3), dtype, dom), "transposed"),), {"to": target},
                     out_dtype=target, grad=False)
    if is_float(dtype):
        a = np.array([2.7, -2.7, 0.5, -0.5, 0.0, 1.0], NP[dtype])
        for target in ("int32", "int64", "bool"):
            yield Sample((Arg(a),), {"to": target}, out_dtype=target, desc="truncation",
                         grad=False)


def _cast_ref(x, to):
    if to == "bool":
        return x != 0
    if to in INTS and x.dtype.kind == "f":
        return np.trunc(x).astype(np.int64).astype(NP[to])
    return x.astype(NP[to]) if to in INTS else x.astype(np.float64)


add(OpInfo("to", lambda m, x, to: x.to(getattr(m, to)), _cast_ref, ALL, _cast_samples,
           primitives=("cast",)))


# ---- reductions --------------------------------------------------------------------------------

def _reduce_samples(dims=(None, 0, 1, -1, (0, 1)), keepdim=True, domain="any", empty=True,
                    zero_d=True, three_d=True):
    def samples(dtype, rng):
        v = lambda s, d=domain: values(rng, s, dtype, d)  # noqa: E731
        for dim in dims:
            kw = {} if dim is None else {"dim": dim}
            yield Sample((Arg(v((3, 4))),), dict(kw))
            if keepdim and dim is not None:
                yield Sample((Arg(v((3, 4))),), dict(kw, keepdim=True))
        if zero_d:
            yield Sample((Arg(v(())),), {})
            yield Sample((Arg(v(())),), {"dim": 0})
        if three_d:
            yield Sample((Arg(v((2, 3, 4))),), {"dim": (0, 2)})
            yield Sample((Arg(v((2, 3, 4))),), {"dim": 1, "keepdim": True})
        yield Sample((Arg(v((4, 3)), "transposed"),), {"dim": 1})
        yield Sample((Arg(v((3, 4)), "strided"),), {"dim": 0})
        base = v((1, 4))
        yield Sample((Arg(np.broadcast_to(base, (3, 4)), "expanded", base=base),), {"dim": 0})
        if empty:
            yield Sample((Arg(v((0, 3))),), {"dim": 0}, desc="empty")
            yield Sample((Arg(v((0, 3))),), {"dim": 1}, desc="empty")
            yield Sample((Arg(v((0, 3))),), {}, desc="empty")
    return samples


def _reduce_ref(f):
    def ref(x, dim=None, keepdim=False):
        if x.ndim == 0:  # torch accepts dim 0 and -1 for 0-d tensors
            dim = None
        return f(x, axis=tuple(dim) if isinstance(dim, (tuple, list)) else dim, keepdims=keepdim)
    return ref


def _red_op(name):
    return lambda m, x, **kw: getattr(m, name)(x, **kw)


def _sum_ref(x, dim=None, keepdim=False):
    ax = tuple(dim) if isinstance(dim, (tuple, list)) else dim
    if x.dtype == bool:
        x = x.astype(np.int64)
    if x.ndim == 0:
        ax = None
    return np.sum(x, axis=ax, keepdims=keepdim)


def _prod_ref(x, dim=None, keepdim=False):
    if x.dtype == bool:
        x = x.astype(np.int64)
    if x.ndim == 0:
        dim = None
    return np.prod(x, axis=dim, keepdims=keepdim)


add(OpInfo("sum", _red_op("sum"), _sum_ref, ALL, _reduce_samples(), out_dtype="accum",
           primitives=("sum",), tol=2))
add(OpInfo("mean", _red_op("mean"), _reduce_ref(np.mean), FLOATS,
           _reduce_samples(empty=False), primitives=("sum",), tol=2))
# NOTE: torch.prod takes a single int dim
add(OpInfo("prod", _red_op("prod"), _prod_ref, ALL,
           _reduce_samples(dims=(None, 0, 1, -1), domain="small", three_d=False),
           out_dtype="accum", primitives=("prod",), tol=2))
add(OpInfo("amax", _red_op("amax"), _reduce_ref(np.max), ALL, _reduce_samples(empty=False),
           primitives=("amax",)))
add(OpInfo("amin", _red_op("amin"), _reduce_ref(np.min), ALL, _reduce_samples(empty=False),
           primitives=("amin",)))


def _all_any_out(d):
    return "uint8" if d == "uint8" else "bool"  # torch keeps uint8 for all/any of uint8


add(OpInfo("all", _red_op("all"), _reduce_ref(lambda x, **kw: np.all(x != 0, **kw)), ALL,
           _reduce_samples(), out_dtype=_all_any_out, grad=False, primitives=("amin",)))
add(OpInfo("any", _red_op("any"), _reduce_ref(lambda x, **kw: np.any(x != 0, **kw)), ALL,
           _reduce_samples(), out_dtype=_all_any_out, grad=False, primitives=("amax",)))


def _arg_samples(dtype, rng):
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {})
    for dim in (0, 1, -1):
        yield Sample((Arg(values(rng, (3, 4), dtype)),), {"dim": dim})
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {"dim": 1, "keepdim": True})
    yield Sample((Arg(values(rng, (4, 3), dtype), "transposed"),), {"dim": 0})
    yield Sample((Arg(values(rng, (), dtype)),), {})
    if is_float(dtype):
        a = np.array([[1.0, np.nan, 3.0, np.nan], [2.0, 2.0, -1.0, 0.0]], NP[dtype])
        yield Sample((Arg(a),), {"dim": 1}, desc="NaN counts as the extreme; first of ties")


def _argmax_ref(x, dim=None, keepdim=False):
    x = np.asarray(x)
    if dim is None:
        return np.asarray(np.argmax(x.reshape(-1)) if x.size else 0)
    return np.argmax(x, axis=dim, keepdims=keepdim)


def _argmin_ref(x, dim=None, keepdim=False):
    if dim is None:
        return np.asarray(np.argmin(x.reshape(-1)))
    return np.argmin(x, axis=dim, keepdims=keepdim)


add(OpInfo("argmax", _red_op("argmax"), _argmax_ref, NUMERIC, _arg_samples, out_dtype="int64",
           grad=False, primitives=("argmax",)))
add(OpInfo("argmin", _red_op("argmin"), _argmin_ref, NUMERIC, _arg_samples, out_dtype="int64",
           grad=False, primitives=("argmin",)))


def _max_dim_samples(dtype, rng):
    for dim in (0, 1, -1):
        yield Sample((Arg(values(rng, (3, 4), dtype)),), {"dim": dim})
    yield Sample((Arg(values(rng, (3, 4), dtype)),), {"dim": 1, "keepdim": True})
    yield Sample((Arg(values(rng, (4, 3), dtype), "transposed"),), {"dim": 1})
    yield Sample((Arg(values(rng, (2, 3, 4), dtype)),), {"dim": 1})


def _with_indices_ref(f, argf):
    def ref(x, dim, keepdim=False):
        return f(x, axis=dim, keepdims=keepdim), argf(x, axis=dim, keepdims=keepdim)
    return ref


def _check_indices_hit(dim_key="dim"):
    """Indices are right when gathering the input at them gives the values (ties may pick any
    index; torch does not promise which)."""
    def check(inputs, kwargs, outs):
        x = inputs[0]
        vals, idx = outs[0], outs[1]
        dim = kwargs.get(dim_key, -1)
        if idx.dtype != np.int64:
            return f"indices have dtype {idx.dtype}, expected int64"
        if not kwargs.get("keepdim", False) and vals.ndim < x.ndim:
            idx = np.expand_dims(idx, dim)
            vals = np.expand_dims(vals, dim)
        if idx.size and (idx.min() < 0 or idx.max() >= x.shape[dim]):
            return f"indices out of range: {idx}"
        got = np.take_along_axis(x, idx, axis=dim)
        if not np.array_equal(got.astype(np.float64), vals.astype(np.float64), equal_nan=True):
            return f"x.gather(dim, indices) != values: {got} vs {vals}"
        return None
    return check


add(OpInfo("max.dim", lambda m, x, **kw: tuple(m.max(x, **kw)),
           _with_indices_ref(np.max, np.argmax), ALL, _max_dim_samples,
           out_dtype=("same", "int64"), check=_check_indices_hit(), primitives=("amax",)))
add(OpInfo("min.dim", lambda m, x, **kw: tuple(m.min(x, **kw)),
           _with_indices_ref(np.min, np.argmin), ALL, _max_dim_samples,
           out_dtype=("same", "int64"), check=_check_indices_hit(), primitives=("amin",)))
add(OpInfo("max", lambda m, x: m.max(x), np.max, ALL,
           lambda d, rng: (Sample((a,)) for a in layouts(rng, d, empty=False)),
           primitives=("amax",)))
add(OpInfo("min", lambda m, x: m.min(x), np.min, ALL,
           lambda d, rng: (Sample((a,)) for a in layouts(rng, d, empty=False)),
           primitives=("amin",)))


def _var_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 4))),), {})
    yield Sample((Arg(v((3, 4))),), {"dim": 1})
    yield Sample((Arg(v((3, 4))),), {"dim": 0, "keepdim": True})
    yield Sample((Arg(v((3, 4))),), {"dim": (0, 1), "correction": 0})
    yield Sample((Arg(v((2, 3, 4))),), {"dim": -1, "correction": 0})
    yield Sample((Arg(v((4, 3)), "transposed"),), {"dim": 1})


def _var_ref(x, dim=None, keepdim=False, correction=1):
    return np.var(x, axis=tuple(dim) if isinstance(dim, tuple) else dim, ddof=correction,
                  keepdims=keepdim)


add(OpInfo("var", _red_op("var"), _var_ref, FLOATS, _var_samples, primitives=("sum",), tol=4))
add(OpInfo("std", _red_op("std"), lambda x, **kw: np.sqrt(_var_ref(x, **kw)), FLOATS,
           _var_samples, primitives=("sum", "sqrt"), tol=4))


def _lse_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 4))),), {"dim": 1})
    yield Sample((Arg(v((3, 4))),), {"dim": 0, "keepdim": True})
    yield Sample((Arg(v((2, 3, 4))),), {"dim": (0, 2)})
    yield Sample((Arg(v((4, 3)), "transposed"),), {"dim": -1})
    yield Sample((Arg(np.array([[1000.0, 1000.0], [-1000.0, -1000.0]], NP[dtype])),),
                 {"dim": 1}, desc="large values stay finite", grad=False)


def _lse_ref(x, dim, keepdim=False):
    ax = tuple(dim) if isinstance(dim, tuple) else dim
    mx = np.max(x, axis=ax, keepdims=True)
    r = np.log(np.sum(np.exp(x - mx), axis=ax, keepdims=True)) + mx
    return r if keepdim else np.squeeze(r, axis=ax)


add(OpInfo("logsumexp", lambda m, x, dim, keepdim=False: m.logsumexp(x, dim, keepdim=keepdim),
           _lse_ref, FLOATS, _lse_samples, primitives=("exp", "log", "amax", "sum"), tol=2))


def _norm_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype, "nonzero")  # noqa: E731
    yield Sample((Arg(v((3, 4))),), {})
    yield Sample((Arg(v((3, 4))),), {"p": 2, "dim": 1})
    yield Sample((Arg(v((3, 4))),), {"p": 1, "dim": 0, "keepdim": True})
    yield Sample((Arg(v((3, 4))),), {"p": 3, "dim": 1})
    yield Sample((Arg(v((3, 4))),), {"p": float("inf"), "dim": 1})
    yield Sample((Arg(v((4, 3)), "transposed"),), {"p": 2, "dim": 0})


def _norm_ref(x, p="fro", dim=None, keepdim=False):
    a = np.abs(x)
    if p == float("inf"):
        return np.max(a, axis=dim, keepdims=keepdim)
    p = 2 if p == "fro" else p
    return np.sum(a ** p, axis=dim, keepdims=keepdim) ** (1.0 / p)


add(OpInfo("norm", lambda m, x, **kw: m.norm(x, **kw), _norm_ref, FLOATS, _norm_samples,
           primitives=("abs", "pow", "sum"), tol=2))


def _scan_samples(domain):
    def samples(dtype, rng):
        v = lambda s: values(rng, s, dtype, domain)  # noqa: E731
        for dim in (0, 1, -1):
            yield Sample((Arg(v((3, 4))),), {"dim": dim})
        yield Sample((Arg(v((2, 3, 4))),), {"dim": 1})
        yield Sample((Arg(v(())),), {"dim": 0})
        yield Sample((Arg(v((0, 3))),), {"dim": 1}, desc="empty")
        yield Sample((Arg(v((4, 3)), "transposed"),), {"dim": 1})
        yield Sample((Arg(v((3, 5)), "strided"),), {"dim": 1})
    return samples


def _scan_ref(f):
    def ref(x, dim):
        if x.dtype == bool:
            x = x.astype(np.int64)
        if x.ndim == 0:
            return x.copy()
        return f(x, axis=dim)
    return ref


add(OpInfo("cumsum", lambda m, x, dim: m.cumsum(x, dim), _scan_ref(np.cumsum), ALL,
           _scan_samples("any"), out_dtype="accum", primitives=("cumsum",), tol=2))
add(OpInfo("cumprod", lambda m, x, dim: m.cumprod(x, dim), _scan_ref(np.cumprod), ALL,
           _scan_samples("nonzero"), out_dtype="accum", primitives=("cumprod",), tol=2))


# ---- sorting -----------------------------------------------------------------------------------

def _sort_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    for dim, desc in ((-1, False), (0, False), (1, True), (0, True)):
        yield Sample((Arg(v((3, 5))),), {"dim": dim, "descending": desc})
    yield Sample((Arg(v((7,))),), {"dim": 0, "descending": False})
    yield Sample((Arg(v((4, 3)), "transposed"),), {"dim": 1, "descending": False})
    yield Sample((Arg(v((3, 5)), "strided"),), {"dim": 1, "descending": True})
    yield Sample((Arg(v(())),), {"dim": 0, "descending": False})
    yield Sample((Arg(v((0,))),), {"dim": 0, "descending": False}, desc="empty")
    yield Sample((Arg(values(rng, (2, 9), dtype, "idx")),), {"dim": 1, "descending": False},
                 desc="ties (stable)", grad=False)
    yield Sample((Arg(values(rng, (2, 9), dtype, "idx")),), {"dim": 1, "descending": True},
                 desc="ties (stable)", grad=False)
    if is_float(dtype):
        a = np.array([3.0, np.nan, -1.0, np.inf, 0.5, -np.inf, np.nan], NP[dtype])
        yield Sample((Arg(a),), {"dim": 0, "descending": False}, desc="NaN sorts as largest",
                     grad=False)
        yield Sample((Arg(a),), {"dim": 0, "descending": True}, desc="NaN sorts as largest",
                     grad=False)


def _sort_key(x, descending):
    if x.dtype.kind == "f":
        k = np.where(np.isnan(x), np.inf, x)
        # NaN above +inf: rank them by a second key
        big = np.isnan(x)
    else:
        k = x.astype(np.float64)
        big = np.zeros(x.shape, bool)
    return (-k, -big.astype(np.int8)) if descending else (k, big.astype(np.int8))


def _argsort_ref(x, dim=-1, descending=False):
    if x.ndim == 0:
        return np.zeros((), np.int64)
    xm = np.moveaxis(x, dim, -1)
    out = np.empty(xm.shape, np.int64)
    for i in np.ndindex(xm.shape[:-1]):
        k, big = _sort_key(xm[i], descending)
        out[i] = np.lexsort((big, k)) if xm.shape[-1] else np.empty(0, np.int64)
    return np.moveaxis(out, -1, dim)


def _sort_ref(x, dim=-1, descending=False):
    idx = _argsort_ref(x, dim, descending)
    if x.ndim == 0:
        return x.copy(), idx
    return np.take_along_axis(x, idx, axis=dim), idx


add(OpInfo("sort", lambda m, x, **kw: tuple(m.sort(x, stable=True, **kw)), _sort_ref, ALL,
           _sort_samples, out_dtype=("same", "int64"), primitives=("sort",)))
add(OpInfo("argsort", lambda m, x, **kw: m.argsort(x, stable=True, **kw), _argsort_ref, ALL,
           _sort_samples, out_dtype="int64", grad=False, primitives=("sort",)))


def _topk_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 6))),), {"k": 2})
    yield Sample((Arg(v((3, 6))),), {"k": 3, "dim": 0})
    yield Sample((Arg(v((3, 6))),), {"k": 2, "largest": False})
    yield Sample((Arg(v((6, 3)), "transposed"),), {"k": 1, "dim": 1})
    yield Sample((Arg(v((8,))),), {"k": 8})


def _topk_ref(x, k, dim=-1, largest=True):
    vals, idx = _sort_ref(x, dim, descending=largest)
    sl = [slice(None)] * x.ndim
    sl[dim] = slice(0, k)
    return vals[tuple(sl)], idx[tuple(sl)]


def _topk_check(inputs, kwargs, outs):
    return _check_indices_hit()(inputs, dict(kwargs, keepdim=True), outs)


add(OpInfo("topk", lambda m, x, **kw: tuple(m.topk(x, **kw)), _topk_ref, NUMERIC, _topk_samples,
           out_dtype=("same", "int64"), check=_topk_check, primitives=("sort",)))


# ---- linear algebra ----------------------------------------------------------------------------

_MM_DTYPES = ("int32", "int64") + FLOATS


def _matmul_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype, "small" if not is_float(dtype) else "any")  # noqa
    yield Sample((Arg(v((3, 4))), Arg(v((4, 5)))))
    yield Sample((Arg(v((2, 3, 4))), Arg(v((4, 2)))), desc="batch broadcast")
    yield Sample((Arg(v((1, 3, 4))), Arg(v((2, 4, 2)))), desc="batch broadcast")
    yield Sample((Arg(v((4,))), Arg(v((4, 3)))), desc="1-d @ 2-d")
    yield Sample((Arg(v((3, 4))), Arg(v((4,)))), desc="2-d @ 1-d")
    yield Sample((Arg(v((4,))), Arg(v((4,)))), desc="dot")
    yield Sample((Arg(v((3, 4)), "transposed"), Arg(v((4, 5)), "transposed")))
    yield Sample((Arg(v((3, 0))), Arg(v((0, 2)))), desc="empty k")
    yield Sample((Arg(v((17, 33))), Arg(v((33, 9)))), desc="odd sizes (tiling)")


add(OpInfo("matmul", lambda m, a, b: m.matmul(a, b), np.matmul, _MM_DTYPES, _matmul_samples,
           primitives=("matmul",), tol=4))


def _bmm_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype, "small" if not is_float(dtype) else "any")  # noqa
    yield Sample((Arg(v((2, 3, 4))), Arg(v((2, 4, 5)))))
    yield Sample((Arg(v((2, 3, 4)), "transposed"), Arg(v((2, 4, 5)))))


add(OpInfo("bmm", lambda m, a, b: m.bmm(a, b), np.matmul, _MM_DTYPES, _bmm_samples,
           primitives=("matmul",), tol=4))


def _einsum_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample(("ij,jk->ik", Arg(v((3, 4))), Arg(v((4, 2)))))
    yield Sample(("bij,bjk->bik", Arg(v((2, 3, 4))), Arg(v((2, 4, 2)))))
    yield Sample(("i,i->", Arg(v((5,))), Arg(v((5,)))))
    yield Sample(("ij->ji", Arg(v((3, 4)))))
    yield Sample(("ij->j", Arg(v((3, 4)))))
    yield Sample(("ii->i", Arg(v((3, 3)))), desc="diagonal")
    yield Sample(("i,j->ij", Arg(v((3,))), Arg(v((4,)))), desc="outer")


add(OpInfo("einsum", lambda m, eq, *ops: m.einsum(eq, *ops),
           lambda eq, *ops: np.einsum(eq, *ops), FLOATS, _einsum_samples,
           primitives=("matmul", "mul", "sum"), tol=4))


# ---- shape and view ops ------------------------------------------------------------------------

def _one(shape_kwargs):
    """Samples from a list of (shape, kwargs, layout)."""
    def samples(dtype, rng):
        for shape, kwargs, layout in shape_kwargs:
            v = values(rng, shape, dtype)
            if layout == "expanded":
                base = values(rng, (1,) + shape[1:], dtype)
                yield Sample((Arg(np.broadcast_to(base, shape), layout, base=base),),
                             dict(kwargs))
            else:
                yield Sample((Arg(v, layout),), dict(kwargs))
    return samples


_C, _T, _S, _X = "contiguous", "transposed", "strided", "expanded"

add(OpInfo("view", lambda m, x, shape: x.view(*shape), lambda x, shape: x.reshape(shape), ALL,
           _one([((3, 4), {"shape": (4, 3)}, _C), ((3, 4), {"shape": (-1,)}, _C),
                 ((2, 3, 4), {"shape": (6, -1)}, _C), ((), {"shape": (1, 1)}, _C),
                 ((0, 3), {"shape": (3, 0)}, _C), ((2, 6), {"shape": (2, 3, 2)}, _S)]),
           primitives=("view",)))
add(OpInfo("reshape", lambda m, x, shape: m.reshape(x, shape), lambda x, shape: x.reshape(shape),
           ALL, _one([((3, 4), {"shape": (4, 3)}, _C), ((3, 4), {"shape": (-1,)}, _T),
                      ((3, 4), {"shape": (2, 6)}, _S), ((3, 4), {"shape": (12,)}, _X),
                      ((), {"shape": (1,)}, _C), ((0, 3), {"shape": (-1, 3)}, _C)]),
           primitives=("view", "contiguous")))
add(OpInfo("permute", lambda m, x, dims: x.permute(*dims),
           lambda x, dims: np.transpose(x, dims), ALL,
           _one([((2, 3, 4), {"dims": (2, 0, 1)}, _C), ((3, 4), {"dims": (1, 0)}, _T),
                 ((3, 4), {"dims": (-1, 0)}, _S)]),
           primitives=("permute",)))
add(OpInfo("transpose", lambda m, x, d0, d1: m.transpose(x, d0, d1),
           lambda x, d0, d1: np.swapaxes(x, d0, d1), ALL,
           _one([((2, 3, 4), {"d0": 0, "d1": 2}, _C), ((3, 4), {"d0": 0, "d1": 1}, _T)]),
           primitives=("permute",)))
add(OpInfo("expand", lambda m, x, shape: x.expand(*shape),
           lambda x, shape: np.broadcast_to(x, [s if s != -1 else x.shape[i - len(shape)
                                                                           + x.ndim]
                                                for i, s in enumerate(shape)]), ALL,
           _one([((3, 1), {"shape": (3, 4)}, _C), ((1, 4), {"shape": (2, 3, 4)}, _C),
                 ((), {"shape": (2, 2)}, _C), ((3, 1), {"shape": (-1, 5)}, _C),
                 ((1, 3), {"shape": (4, 3)}, _S)]),
           primitives=("expand",)))
add(OpInfo("squeeze", lambda m, x, **kw: m.squeeze(x, **kw),
           lambda x, dim=None: np.squeeze(x, dim if dim is None or x.shape[dim] == 1 else ()),
           ALL, _one([((3, 1, 4, 1), {}, _C), ((3, 1, 4), {"dim": 1}, _C),
                      ((3, 4), {"dim": 0}, _C), ((1, 1), {}, _C), ((), {}, _C)]),
           primitives=("view",)))
add(OpInfo("unsqueeze", lambda m, x, dim: m.unsqueeze(x, dim),
           lambda x, dim: np.expand_dims(x, dim), ALL,
           _one([((3, 4), {"dim": 0}, _C), ((3, 4), {"dim": -1}, _T), ((), {"dim": 0}, _C),
                 ((3, 4), {"dim": 1}, _S)]),
           primitives=("view",)))


def _flatten_ref(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return x.reshape(1)
    s, e = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])


add(OpInfo("flatten", lambda m, x, **kw: m.flatten(x, **kw), _flatten_ref, ALL,
           _one([((2, 3, 4), {}, _C), ((2, 3, 4), {"start_dim": 1}, _C),
                 ((2, 3, 4), {"start_dim": 0, "end_dim": 1}, _T), ((), {}, _C),
                 ((3, 4), {}, _S)]),
           primitives=("view", "contiguous")))
add(OpInfo("narrow", lambda m, x, dim, start, length: m.narrow(x, dim, start, length),
           lambda x, dim, start, length: np.take(x, range(start, start + length), axis=dim),
           ALL, _one([((3, 5), {"dim": 1, "start": 1, "length": 3}, _C),
                      ((3, 5), {"dim": 0, "start": 2, "length": 1}, _T),
                      ((3, 5), {"dim": 1, "start": 0, "length": 0}, _C)]),
           primitives=("getitem_basic",)))


def _split_ref(x, split_size_or_sections, dim=0):
    n = x.shape[dim]
    if isinstance(split_size_or_sections, int):
        cuts = list(range(split_size_or_sections, n, split_size_or_sections))
    else:
        cuts = list(np.cumsum(split_size_or_sections)[:-1])
    return tuple(np.split(x, cuts, axis=dim))


add(OpInfo("split", lambda m, x, *a, **kw: tuple(m.split(x, *a, **kw)), _split_ref, ALL,
           _one([((5, 4), {"split_size_or_sections": 2}, _C),
                 ((3, 5), {"split_size_or_sections": [1, 3, 1], "dim": 1}, _T),
                 ((3, 6), {"split_size_or_sections": 3, "dim": 1}, _S)]),
           out_dtype=lambda d: d, primitives=("getitem_basic",)))
add(OpInfo("chunk", lambda m, x, chunks, dim=0: tuple(m.chunk(x, chunks, dim)),
           lambda x, chunks, dim=0: _split_ref(x, -(-x.shape[dim] // chunks), dim), ALL,
           _one([((5, 4), {"chunks": 2}, _C), ((3, 6), {"chunks": 3, "dim": 1}, _T)]),
           primitives=("getitem_basic",)))


def _cat_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((2, 3))), Arg(v((4, 3)))), {"dim": 0})
    yield Sample((Arg(v((3, 2))), Arg(v((3, 4)))), {"dim": 1})
    yield Sample((Arg(v((2, 3))), Arg(v((0, 3)))), {"dim": 0}, desc="empty part")
    yield Sample((Arg(v((3, 2)), "transposed"), Arg(v((3, 4)), "strided")), {"dim": -1})
    yield Sample((Arg(v((2, 3))), Arg(v((2, 3))), Arg(v((2, 3)))), {"dim": 0})


add(OpInfo("cat", lambda m, *ts, dim: m.cat(list(ts), dim=dim),
           lambda *xs, dim: np.concatenate(xs, axis=dim), ALL, _cat_samples,
           primitives=("cat",)))


def _stack_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((2, 3))), Arg(v((2, 3)))), {"dim": 0})
    yield Sample((Arg(v((2, 3))), Arg(v((2, 3)), "transposed")), {"dim": 2})
    yield Sample((Arg(v(())), Arg(v(()))), {"dim": 0})


add(OpInfo("stack", lambda m, *ts, dim: m.stack(list(ts), dim=dim),
           lambda *xs, dim: np.stack(xs, axis=dim), ALL, _stack_samples,
           primitives=("cat",)))
add(OpInfo("flip", lambda m, x, dims: m.flip(x, dims), lambda x, dims: np.flip(x, dims), ALL,
           _one([((3, 4), {"dims": (0,)}, _C), ((3, 4), {"dims": (0, 1)}, _T),
                 ((2, 3, 4), {"dims": (-1,)}, _C), ((3, 4), {"dims": (1,)}, _S),
                 ((3, 4), {"dims": (0,)}, _X), ((0, 3), {"dims": (0,)}, _C)]),
           primitives=("flip",)))


def _roll_ref(x, shifts, dims=None):
    return np.roll(x, shifts, dims)


add(OpInfo("roll", lambda m, x, **kw: m.roll(x, **kw), _roll_ref, ALL,
           _one([((3, 4), {"shifts": 1, "dims": 0}, _C),
                 ((3, 4), {"shifts": (1, -2), "dims": (0, 1)}, _T),
                 ((3, 4), {"shifts": 5}, _C), ((3, 4), {"shifts": -1, "dims": 1}, _S)]),
           primitives=("cat",)))
add(OpInfo("repeat", lambda m, x, reps: x.repeat(*reps), lambda x, reps: np.tile(x, reps), ALL,
           _one([((2, 3), {"reps": (2, 1)}, _C), ((2, 3), {"reps": (1, 2, 3)}, _T),
                 ((), {"reps": (3,)}, _C), ((2, 3), {"reps": (2, 2)}, _X)]),
           primitives=("expand", "contiguous")))
add(OpInfo("contiguous", lambda m, x: x.contiguous(), lambda x: x, ALL,
           _one([((3, 4), {}, _C), ((3, 4), {}, _T), ((3, 4), {}, _S), ((3, 4), {}, _X)]),
           primitives=("contiguous",)))
add(OpInfo("clone", lambda m, x: x.clone(), lambda x: x, ALL,
           _one([((3, 4), {}, _C), ((3, 4), {}, _T), ((), {}, _C), ((0, 2), {}, _C)]),
           primitives=("contiguous",)))


# ---- indexing ----------------------------------------------------------------------------------

def _idx(a):
    """An index tensor argument (int64 or bool: not differentiated)."""
    return Arg(np.asarray(a), grad=False)


_BASIC = [(1,), (slice(None), slice(1, 3)), (Ellipsis, slice(None, None, 2)),
          (None, 0), (-1, slice(2, None)),
          (slice(None), None, 2), (slice(5, 9),)]


def _getitem_basic_samples(dtype, rng):
    for key in _BASIC:
        yield Sample((Arg(values(rng, (3, 4), dtype)),), {"key": key})
    yield Sample((Arg(values(rng, (4, 3), dtype), "transposed"),),
                 {"key": (slice(None), slice(1, None))})
    yield Sample((Arg(values(rng, (2, 3, 4), dtype)),), {"key": (1, Ellipsis, 2)})
    yield Sample((Arg(values(rng, (), dtype)),), {"key": (None,)})


def _getitem_op(m, x, *idx, key=None):
    """``x[key]`` where the placeholders "i0", "i1" in key are the index tensors."""
    return x[_fill(key, idx)]


def _fill(key, idx):
    if key is None:
        return idx[0] if len(idx) == 1 else tuple(idx)
    return tuple(idx[int(k[1:])] if isinstance(k, str) else k for k in key)


def _getitem_ref(x, *idx, key=None):
    return x[_fill(key, idx)]


add(OpInfo("getitem.basic", _getitem_op, _getitem_ref, ALL, _getitem_basic_samples,
           primitives=("getitem_basic",)))


def _getitem_adv_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((4, 3))),), {"key": ([0, 2, 2],)})
    yield Sample((Arg(v((4, 3))), _idx([3, 0, -1])), {"key": ("i0",)})
    yield Sample((Arg(v((4, 3))), _idx([[1, 0], [2, 2]])), {"key": (slice(None), "i0")},
                 desc="2-d index on dim 1")
    yield Sample((Arg(v((4, 3))), _idx([0, 3]), _idx([2, 1])), {"key": ("i0", "i1")})
    yield Sample((Arg(v((2, 3, 4))), _idx([0, 1]), _idx([[3], [0]])),
                 {"key": ("i0", slice(None), "i1")}, desc="separated advanced indices")
    yield Sample((Arg(v((3, 4)), "transposed"), _idx([1, 0])), {"key": ("i0",)})
    yield Sample((Arg(v((4, 3))), _idx(np.zeros(0, np.int64))), {"key": ("i0",)},
                 desc="empty index")


add(OpInfo("getitem.advanced", _getitem_op, _getitem_ref, ALL, _getitem_adv_samples,
           primitives=("getitem_advanced",)))


def _getitem_bool_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 4))), _idx(rng.random((3, 4)) < 0.5)), {"key": ("i0",)})
    yield Sample((Arg(v((3, 4))), _idx(rng.random(3) < 0.5)), {"key": ("i0",)},
                 desc="mask on dim 0")
    yield Sample((Arg(v((3, 4))), _idx(np.array([True, False, True, True]))),
                 {"key": (slice(None), "i0")}, desc="mask on dim 1")
    yield Sample((Arg(v((3, 4))), _idx(np.zeros((3, 4), bool))), {"key": ("i0",)},
                 desc="all false")
    yield Sample((Arg(v((3, 4)), "transposed"), _idx(rng.random((3, 4)) < 0.5)),
                 {"key": ("i0",)})


add(OpInfo("getitem.bool", _getitem_op, _getitem_ref, ALL, _getitem_bool_samples,
           primitives=("nonzero", "getitem_advanced")))


def _setitem_op(m, x, v, *idx, key=None):
    """The functional form of ``x[key] = v``: writes into a clone of x (so it is
    differentiable with respect to both x and v)."""
    y = x.clone()
    y[_fill(key, idx)] = v
    return y


def _setitem_ref(x, v, *idx, key=None):
    y = np.array(x, copy=True)
    y[_fill(key, idx)] = v
    return y


def _setitem_samples(kind):
    def samples(dtype, rng):
        v = lambda s: values(rng, s, dtype)  # noqa: E731
        if kind == "basic":
            yield Sample((Arg(v((3, 4))), Arg(v((4,)))), {"key": (1,)})
            yield Sample((Arg(v((3, 4))), Arg(v((3, 2)))), {"key": (slice(None), slice(1, 3))})
            yield Sample((Arg(v((3, 4))), Arg(v((1, 2)))),
                         {"key": (slice(None), slice(None, None, 2))}, desc="broadcast value")
            yield Sample((Arg(v((3, 4))), _scalar(dtype)), {"key": (Ellipsis, 0)})
            yield Sample((Arg(v((4, 3)), "transposed"), Arg(v((2, 3)), "transposed")),
                         {"key": (slice(1, 3),)}, desc="non-contiguous target")
            yield Sample((Arg(v((3, 4))), Arg(v(()))), {"key": (Ellipsis,)})
        elif kind == "advanced":
            yield Sample((Arg(v((4, 3))), Arg(v((2, 3))), _idx([0, 2])), {"key": ("i0",)})
            yield Sample((Arg(v((4, 3))), Arg(v((2,))), _idx([0, 3]), _idx([2, 1])),
                         {"key": ("i0", "i1")})
            yield Sample((Arg(v((4, 3))), _scalar(dtype), _idx([1, 0])),
                         {"key": (slice(None), "i0")})
            yield Sample((Arg(v((3, 4)), "transposed"), Arg(v((1, 4))), _idx([-1, 0])),
                         {"key": ("i0",)}, desc="non-contiguous target")
        else:
            m0 = rng.random((3, 4)) < 0.5
            yield Sample((Arg(v((3, 4))), _scalar(dtype), _idx(m0)), {"key": ("i0",)})
            yield Sample((Arg(v((3, 4))), Arg(v((int(m0.sum()),))), _idx(m0)),
                         {"key": ("i0",)}, desc="values for the true positions")
            yield Sample((Arg(v((3, 4))), Arg(v((4,))), _idx(np.array([True, False, True]))),
                         {"key": ("i0",)}, desc="rows")
            yield Sample((Arg(v((3, 4)), "transposed"), _scalar(dtype), _idx(m0)),
                         {"key": ("i0",)}, desc="non-contiguous target")
    return samples


def _scalar(dtype):
    return True if dtype == "bool" else (1.5 if is_float(dtype) else 7)


for _kind, _prims in (("basic", ("setitem",)), ("advanced", ("setitem",)),
                      ("bool", ("setitem", "nonzero"))):
    add(OpInfo(f"setitem.{_kind}", _setitem_op, _setitem_ref, ALL, _setitem_samples(_kind),
               primitives=_prims))


def _index_put_acc_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((4, 3))), Arg(v((4, 3))), _idx([0, 2, 0, 0])), desc="repeated indices")
    yield Sample((Arg(v((5,))), Arg(v((6,))), _idx([4, 4, 1, 0, 4, 1])))


def _index_put_acc_op(m, x, v, i):
    return x.clone().index_put_((i,), v, accumulate=True)


def _index_put_acc_ref(x, v, i):
    y = np.array(x, copy=True)
    if y.dtype == bool:
        yi = y.astype(np.int64)
        np.add.at(yi, i, v.astype(np.int64))
        return yi != 0
    np.add.at(y, i, v)
    return y


add(OpInfo("index_put.accumulate", _index_put_acc_op, _index_put_acc_ref, NUMERIC,
           _index_put_acc_samples, primitives=("index_add",)))


def _gather_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 4))), 1, _idx(rng.integers(0, 4, (3, 2)))))
    yield Sample((Arg(v((3, 4))), 0, _idx(rng.integers(0, 3, (2, 4)))))
    yield Sample((Arg(v((4, 3)), "transposed"), -1, _idx(rng.integers(0, 3, (4, 5)))))
    yield Sample((Arg(v((2, 3, 4))), 1, _idx(rng.integers(0, 3, (2, 2, 4)))))


add(OpInfo("gather", lambda m, x, dim, i: m.gather(x, dim, i),
           lambda x, dim, i: np.take_along_axis(x, i, axis=dim), ALL, _gather_samples,
           primitives=("gather",)))


def _perm_index(rng, shape, dim, n):
    """Distinct target positions along dim (scatter with repeated indices is unspecified)."""
    idx = np.empty(shape, np.int64)
    moved = np.moveaxis(idx, dim, -1)
    for i in np.ndindex(moved.shape[:-1]):
        moved[i] = rng.permutation(n)[:moved.shape[-1]]
    return idx


def _scatter_samples(unique):
    def samples(dtype, rng):
        v = lambda s: values(rng, s, dtype)  # noqa: E731
        mk = (lambda s, d, n: _perm_index(rng, s, d, n)) if unique else (
            lambda s, d, n: rng.integers(0, n, s))
        yield Sample((Arg(v((3, 5))), 1, _idx(mk((3, 3), 1, 5)), Arg(v((3, 3)))))
        yield Sample((Arg(v((4, 3))), 0, _idx(mk((2, 3), 0, 4)), Arg(v((2, 3)))))
        yield Sample((Arg(v((3, 5)), "transposed"), 1, _idx(mk((3, 2), 1, 5)),
                      Arg(v((3, 2)))))
        yield Sample((Arg(v((3, 5))), 1, _idx(mk((2, 2), 1, 5)), Arg(v((3, 4)))),
                     desc="src larger than index")
    return samples


def _scatter_ref(x, dim, i, src, add=False):
    y = np.array(x, copy=True)
    if y.dtype == bool and add:
        y = y.astype(np.int64)
    ym = np.moveaxis(y, dim, -1)
    im = np.moveaxis(i, dim, -1)
    sm = np.moveaxis(src, dim, -1)
    for pos in np.ndindex(im.shape):
        tgt = pos[:-1] + (im[pos],)
        if add:
            ym[tgt] = ym[tgt] + sm[pos]
        else:
            ym[tgt] = sm[pos]
    return (y != 0) if x.dtype == bool and add else y


add(OpInfo("scatter", lambda m, x, dim, i, src: m.scatter(x, dim, i, src), _scatter_ref, ALL,
           _scatter_samples(True), primitives=("scatter",)))
add(OpInfo("scatter_add", lambda m, x, dim, i, src: m.scatter_add(x, dim, i, src),
           lambda x, dim, i, src: _scatter_ref(x, dim, i, src, add=True), NUMERIC,
           _scatter_samples(False), primitives=("scatter_add",), tol=2))


def _scatter_reduce_samples(dtype, rng):
    """Repeated indices (several src elements per target, some targets untouched), with and
    without the target's own value; NaN at a target and among the src elements (floats)."""
    for s in _scatter_samples(False)(dtype, rng):
        yield s
        yield Sample(s.args, {"include_self": False}, desc=s.desc)
    yield Sample((Arg(values(rng, (2, 3, 4), dtype)), 1, _idx(rng.integers(0, 3, (2, 5, 4))),
                  Arg(values(rng, (2, 5, 4), dtype))), {"include_self": False}, desc="3-d")
    if is_float(dtype):
        x = values(rng, (3, 4), dtype)
        x[0, 1] = np.nan
        src = values(rng, (3, 4), dtype)
        src[2, 2] = np.nan
        yield Sample((Arg(x), 0, _idx(rng.integers(0, 3, (3, 4))), Arg(src)), desc="NaN",
                     grad=False)


def _scatter_reduce_ref(reduce):
    ufunc = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]

    def ref(x, dim, i, src, include_self=True):
        y = np.array(x, copy=True)
        sl = src[tuple(slice(0, n) for n in i.shape)]
        pos = list(np.ogrid[tuple(slice(0, n) for n in i.shape)])
        pos[dim] = i
        pos = tuple(pos)
        if not include_self:  # the written positions reduce src alone, from the identity
            if reduce == "prod":
                y[pos] = 1
            elif y.dtype == bool:
                y[pos] = reduce == "amin"
            elif y.dtype.kind == "f":
                y[pos] = np.inf if reduce == "amin" else -np.inf
            else:
                info = np.iinfo(y.dtype)
                y[pos] = info.max if reduce == "amin" else info.min
        ufunc.at(y, pos, sl)
        return y
    return ref


for _reduce in ("prod", "amax", "amin"):
    add(OpInfo(f"scatter_reduce.{_reduce}",
               lambda m, x, dim, i, src, _r=_reduce, **kw: m.scatter_reduce(x, dim, i, src, _r,
                                                                            **kw),
               _scatter_reduce_ref(_reduce), ALL, _scatter_reduce_samples,
               primitives=("scatter_reduce", "scatter"), tol=2))


def _index_select_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((4, 3))), 0, _idx([3, 0, 0, 1])))
    yield Sample((Arg(v((4, 3))), 1, _idx([2, 1])))
    yield Sample((Arg(v((4, 3)), "transposed"), -1, _idx([1])))
    yield Sample((Arg(v((4, 3))), 0, _idx(np.zeros(0, np.int64))), desc="empty index")


add(OpInfo("index_select", lambda m, x, dim, i: m.index_select(x, dim, i),
           lambda x, dim, i: np.take(x, i, axis=dim), ALL, _index_select_samples,
           primitives=("getitem_advanced",)))


def _masked_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((3, 4))), _idx(rng.random((3, 4)) < 0.5)))
    yield Sample((Arg(v((3, 4))), _idx(rng.random((1, 4)) < 0.5)), desc="broadcast mask")
    yield Sample((Arg(v((3, 4)), "transposed"), _idx(rng.random((3, 4)) < 0.5)))


def _mf_samples(dtype, rng):
    for s in _masked_samples(dtype, rng):
        yield Sample(s.args + (_scalar(dtype),), desc=s.desc)


add(OpInfo("masked_fill", lambda m, x, mask, val: m.masked_fill(x, mask, val),
           lambda x, mask, val: np.where(mask, val, x), ALL, _mf_samples,
           primitives=("where",)))
add(OpInfo("masked_select", lambda m, x, mask: m.masked_select(x, mask),
           lambda x, mask: np.broadcast_to(x, np.broadcast(x, mask).shape)[
               np.broadcast_to(mask, np.broadcast(x, mask).shape)], ALL, _masked_samples,
           primitives=("nonzero", "getitem_advanced")))


def _nonzero_samples(dtype, rng):
    for a in layouts(rng, dtype, "idx", shapes=((3, 4), (2, 3, 2))):
        yield Sample((a,))
    yield Sample((Arg(np.zeros((2, 3), NP[dtype])),), desc="all zero")


add(OpInfo("nonzero", lambda m, x: m.nonzero(x),
           lambda x: np.argwhere(x != 0) if x.ndim else np.zeros((int(x != 0), 0), np.int64),
           ALL, _nonzero_samples, out_dtype="int64", grad=False, primitives=("nonzero",)))


def _tri_samples(dtype, rng):
    v = lambda s: values(rng, s, dtype)  # noqa: E731
    yield Sample((Arg(v((4, 4))),), {})
    yield Sample((Arg(v((3, 5))),), {"diagonal": 1})
    yield Sample((Arg(v((5, 3))),), {"diagonal": -1})
    yield Sample((Arg(v((2, 3, 4))),), {})
    yield Sample((Arg(v((4, 3)), "transposed"),), {"diagonal": 0})


add(OpInfo("tril", lambda m, x, diagonal=0: m.tril(x, diagonal),
           lambda x, diagonal=0: np.tril(x, diagonal), ALL, _tri_samples,
           primitives=("where",)))
add(OpInfo("triu", lambda m, x, diagonal=0: m.triu(x, diagonal),
           lambda x, diagonal=0: np.triu(x, diagonal), ALL, _tri_samples,
           primitives=("where",)))


# ---- creation ----------------------------------------------------------------------------------

def _creation(samples):
    def make(dtype, rng):
        for kw in samples(dtype):
            yield Sample((), kw)
    return make


def _full_kwargs(dtype):
    val = True if dtype == "bool" else (-2.5 if is_float(dtype) else 3)
    return [{"size": (2, 3), "fill_value": val}, {"size": (), "fill_value": val},
            {"size": (0, 4), "fill_value": val}]


def _dt(m, name):
    return getattr(m, name)


add(OpInfo("full", lambda m, *, device, dtype, **kw: m.full(**kw, dtype=_dt(m, dtype),
                                                           device=device),
           lambda size, fill_value: np.full(size, fill_value), ALL,
           _creation(_full_kwargs), grad=False, creation=True, primitives=("full",)))
add(OpInfo("zeros", lambda m, *, device, dtype, size: m.zeros(size, dtype=_dt(m, dtype),
                                                              device=device),
           lambda size: np.zeros(size), ALL,
           _creation(lambda d: [{"size": (2, 3)}, {"size": ()}]), grad=False, creation=True,
           primitives=("full",)))
add(OpInfo("ones", lambda m, *, device, dtype, size: m.ones(size, dtype=_dt(m, dtype),
                                                            device=device),
           lambda size: np.ones(size), ALL,
           _creation(lambda d: [{"size": (2, 3)}, {"size": (4,)}]), grad=False, creation=True,
           primitives=("full",)))


def _arange_kwargs(dtype):
    out = [{"args": (5,)}, {"args": (2, 11, 3)}, {"args": (10, 1, -2)}, {"args": (3, 3)}]
    if is_float(dtype):
        out += [{"args": (0.0, 1.0, 0.25)}, {"args": (-1.5, 2.0, 0.5)}]
    if dtype == "uint8":
        out = [o for o in out if min(o["args"]) >= 0 and o["args"][-1] > 0
               or o["args"] == (5,)]
    return out


add(OpInfo("arange", lambda m, *, device, dtype, args: m.arange(*args, dtype=_dt(m, dtype),
                                                                device=device),
           lambda args: np.arange(*args), NUMERIC, _creation(_arange_kwargs), grad=False,
           creation=True, primitives=("arange",)))
add(OpInfo("linspace",
           lambda m, *, device, dtype, args: m.linspace(*args, dtype=_dt(m, dtype),
                                                        device=device),
           lambda args: np.linspace(*args), FLOATS,
           _creation(lambda d: [{"args": (0.0, 1.0, 5)}, {"args": (-2.0, 3.0, 11)},
                                {"args": (1.0, 1.0, 1)}, {"args": (0.0, 1.0, 0)}]),
           grad=False, creation=True, primitives=("arange",), tol=2))
add(OpInfo("eye", lambda m, *, device, dtype, args: m.eye(*args, dtype=_dt(m, dtype),
                                                          device=device),
           lambda args: np.eye(*args), ALL,
           _creation(lambda d: [{"args": (3,)}, {"args": (2, 4)}, {"args": (4, 2)}]),
           grad=False, creation=True, primitives=("full", "setitem")))


# ---- complex tensors ---------------------------------------------------------------------------
# Rows of their own (complex_<op>), defined for complex64 and complex128 only: a backend that
# claims neither (opencl) shows them as unsupported. References compute in complex128.

def _complex_unary(name, ref, domain="any", out="same", op=None, tol=1):
    add(OpInfo(f"complex_{name}", op or _unary_op(name), ref, COMPLEX,
               _unary_samples(domain), out_dtype=out, grad=False, primitives=(name,), tol=tol))


def _complex_binary(name, ref, domain_b="any", scalars=()):
    add(OpInfo(f"complex_{name}", _bin_op(name), ref, COMPLEX,
               _binary_samples("any", domain_b, scalars=scalars), grad=False,
               primitives=(name,)))


_TO_REAL = real_of
# (Python scalars: an int, and a complex, which keeps the tensor's complex dtype)
_complex_binary("add", np.add, scalars=(2, 1.5 - 2j))
_complex_binary("sub", np.subtract, scalars=(1.5 - 2j,))
_complex_binary("mul", np.multiply, scalars=(2, 1.5 - 2j))
_complex_binary("div", np.true_divide, "nonzero", scalars=(2, 1.5 - 2j))
for _name, _ref, _dom in (("neg", np.negative, "any"), ("exp", np.exp, "small"),
                          ("log", np.log, "pos"), ("sqrt", np.sqrt, "pos"),
                          ("sin", np.sin, "small"), ("cos", np.cos, "small"),
                          ("tanh", np.tanh, "small"), ("sigmoid", _np_sigmoid, "small"),
                          ("reciprocal", lambda x: 1.0 / x, "nonzero")):
    _complex_unary(_name, _ref, _dom)
_complex_unary("abs", np.abs, "nonzero", out=_TO_REAL)
_complex_unary("angle", np.angle, "nonzero", out=_TO_REAL)
_complex_unary("real", np.real, out=_TO_REAL, op=lambda m, x: m.real(x).clone())
_complex_unary("imag", np.imag, out=_TO_REAL, op=lambda m, x: m.imag(x).clone())
_complex_unary("conj", np.conj, op=lambda m, x: m.conj_physical(x))
_complex_unary("view_as_real", lambda x: np.stack([x.real, x.imag], -1), out=_TO_REAL,
               op=lambda m, x: m.view_as_real(x).clone())
add(OpInfo("complex_eq", _bin_op("eq"), np.equal, COMPLEX, _binary_samples(), out_dtype="bool",
           grad=False, primitives=("eq",)))
add(OpInfo("complex_sum", _red_op("sum"), _sum_ref, COMPLEX, _reduce_samples(), grad=False,
           primitives=("sum",), tol=4))
add(OpInfo("complex_matmul", lambda m, a, b: m.matmul(a, b), np.matmul, COMPLEX,
           lambda dtype, rng: (Sample((Arg(values(rng, s, dtype)), Arg(values(rng, t, dtype))))
                               for s, t in (((3, 4), (4, 2)), ((2, 3, 4), (4, 5)), ((4,), (4,)))),
           grad=False, primitives=("matmul",), tol=4))
add(OpInfo("complex_fft", lambda m, x: m.fft.fft(x), lambda x: np.fft.fft(x), COMPLEX,
           lambda dtype, rng: (Sample((Arg(values(rng, s, dtype)),)) for s in ((8,), (3, 5))),
           grad=False, primitives=("fft_c2c",), tol=10))
