"""Elementwise kernels: unary, binary, where, cast and strided copy, generated from tables.

Each op is a C expression per dtype kind ('f' float, 'i' signed, 'u' unsigned, 'b' bool) over
``x`` (unary) or ``a``/``b`` (binary), of type T. One program per (family, dtype) holds every op
of the family for that dtype, built on first use: few programs, because PoCL compiles slowly.

Every operand (output included) is strided: kernels take the collapsed shape and each operand's
offset and strides (runtime.ember_offset), so views, 0-strides (broadcast) and writes into views
(setitem) need no copy.
"""
from __future__ import annotations

import functools
import math

import numpy as np
import pyopencl as cl

from .array import CLArray, broadcast_to, c_strides, empty
from .runtime import CTYPE, ELEMENTWISE_WG, STRIDED_RUN, UTYPE, Device, kind

F, I, U, B = "f", "i", "u", "b"
ALL = (F, I, U, B)
INTS = (I, U, B)


def _each(kinds, expr):
    return {k: expr for k in kinds}


# -- unary: name -> {kind: expr over x}; PREDICATES write bool -------------------------------
UNARY: dict[str, dict[str, str]] = {
    n: {F: f"{n}(x)"} for n in ("exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan",
                                "tanh", "erf", "asin", "acos", "atan", "sinh", "cosh", "log2",
                                "exp2")
}
UNARY.update({
    # NOTE: two branches so that exp never overflows: sigmoid(-1000) is 0, not NaN
    "sigmoid": {F: "x >= (T)0 ? (T)1 / ((T)1 + exp(-x)) : exp(x) / ((T)1 + exp(x))"},
    "reciprocal": {F: "(T)1 / x"},
    # integer negation wraps, as NumPy's: done in the unsigned type to avoid C's overflow UB
    "neg": {F: "-x", I: "(UT)0 - (UT)x", U: "(UT)0 - (UT)x", B: "x"},
    "abs": {F: "fabs(x)", I: "x < 0 ? (UT)0 - (UT)x : (UT)x", U: "x", B: "x"},
    "sign": {F: "x > (T)0 ? (T)1 : (x < (T)0 ? (T)-1 : x)", I: "(x > 0) - (x < 0)",
             U: "x > 0", B: "x"},
    "floor": {F: "floor(x)", **_each(INTS, "x")},
    "ceil": {F: "ceil(x)", **_each(INTS, "x")},
    # rint rounds half to even in the default rounding mode, as NumPy's round does
    "round": {F: "rint(x)", **_each(INTS, "x")},
    "trunc": {F: "trunc(x)", **_each(INTS, "x")},
    "isnan": {F: "isnan(x)", **_each(INTS, "0")},
    "isinf": {F: "isinf(x)", **_each(INTS, "0")},
    "isfinite": {F: "isfinite(x)", **_each(INTS, "1")},
    "logical_not": _each(ALL, "x == (T)0"),
    "bitwise_not": {I: "~x", U: "~x", B: "!x"},
})
PREDICATES = {"isnan", "isinf", "isfinite", "logical_not"}

# -- binary: name -> {kind: expr over a, b}; COMPARES write bool ------------------------------
_WRAP = "(UT)a {} (UT)b"  # integer arithmetic that wraps like NumPy's, without C's signed UB
BINARY: dict[str, dict[str, str]] = {
    "add": {F: "a + b", I: _WRAP.format("+"), U: "a + b", B: "a | b"},
    "sub": {F: "a - b", I: _WRAP.format("-"), U: "a - b", B: "a ^ b"},
    "mul": {F: "a * b", I: _WRAP.format("*"), U: "a * b", B: "a & b"},
    "div": {F: "a / b"},
    "floor_divide": {F: "ember_pyfloordiv(a, b)", I: "ember_pyfloordiv(a, b)",
                     U: "b == 0 ? 0 : a / b", B: "a & b"},
    "remainder": {F: "ember_pyrem(a, b)", I: "ember_pyrem(a, b)",
                  U: "b == 0 ? 0 : a % b", B: "0"},
    "pow": {F: "pow(a, b)", I: "ember_ipow(a, b)", U: "ember_ipow(a, b)", B: "a | !b"},
    # NaN propagates: a NaN on the right fails a > b and is returned
    "maximum": {F: "(isnan(a) || a > b) ? a : b", I: "a > b ? a : b", U: "a > b ? a : b",
                B: "a | b"},
    "minimum": {F: "(isnan(a) || a < b) ? a : b", I: "a < b ? a : b", U: "a < b ? a : b",
                B: "a & b"},
    "atan2": {F: "atan2(a, b)"},
    "logical_and": _each(ALL, "(a != (T)0) && (b != (T)0)"),
    "logical_or": _each(ALL, "(a != (T)0) || (b != (T)0)"),
    "logical_xor": _each(ALL, "(a != (T)0) != (b != (T)0)"),
    "bitwise_and": _each(INTS, "a & b"),
    "bitwise_or": _each(INTS, "a | b"),
    "bitwise_xor": _each(INTS, "a ^ b"),
}
COMPARES = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
for _n, _op in COMPARES.items():
    BINARY[_n] = _each(ALL, f"a {_op} b")
BOOL_OUT = set(COMPARES) | {"logical_and", "logical_or", "logical_xor"}

#: Helpers of the binary program, per kind. Float floor division and remainder follow NumPy's
#: npy_divmod exactly (fmod based, so that results match Python's signs and rounding).
_HELPERS = {
    F: r"""
inline T ember_pyrem(T a, T b) {
    T mod = fmod(a, b);
    if (b == (T)0) return mod;
    if (mod != (T)0) { if ((b < (T)0) != (mod < (T)0)) mod += b; }
    else mod = copysign((T)0, b);
    return mod;
}
inline T ember_pyfloordiv(T a, T b) {
    if (b == (T)0) return a / b;
    T mod = fmod(a, b);
    T div = (a - mod) / b;
    if (mod != (T)0 && ((b < (T)0) != (mod < (T)0))) div -= (T)1;
    if (div == (T)0) return copysign((T)0, a / b);
    T fl = floor(div);
    if (div - fl > (T)0.5) fl += (T)1;
    return fl;
}
""",
    # NOTE: b == -1 is special-cased: MIN / -1 traps on x86 (SIGFPE kills the process)
    I: r"""
inline T ember_pyfloordiv(T a, T b) {
    if (b == 0) return 0;
    if (b == -1) return (T)((UT)0 - (UT)a);
    T q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}
inline T ember_pyrem(T a, T b) {
    if (b == 0 || b == -1) return 0;
    T r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    return r;
}
""",
}
# integer power by squaring, wrapping; negative exponents as PyTorch: 1, +-1 or 0
_IPOW = r"""
inline T ember_ipow(T a, T b) {
    if (b < 0) return a == 1 ? 1 : (a == (T)-1 ? ((b & 1) ? (T)-1 : 1) : 0);
    UT r = 1, x = (UT)a;
    while (b) { if (b & 1) r *= x; x *= x; b >>= 1; }
    return (T)r;
}
"""


def _types(dtype: np.dtype) -> str:
    return (f"typedef {CTYPE[dtype.name]} T;\n"
            f"typedef {UTYPE[dtype.itemsize]} UT;\n")


def _sarg_type(t: str) -> str:
    """C type of a scalar kernel argument standing for an operand of type ``t``: OpenCL 1.2
    has no half arguments without cl_khr_fp16 everywhere, so a half travels as a float."""
    return "float" if t == "half" else t


def _kernel(name: str, out_t: str, in_ts: list[str], names: list[str], expr: str,
            flat: bool, pattern: str | None = None) -> str:
    """ember_<name>[_flat][_<pattern>]: ``pattern`` says per input whether it is an array
    ('a') or a scalar passed by value ('s'). Flat kernels read and write element offset + i of
    contiguous same-shape operands; the others go through ember_offset (any strides, with
    broadcasting)."""
    pattern = pattern or "a" * len(in_ts)
    kname = f"ember_{name}" + ("_flat" if flat else "") + ("_" + pattern if "s" in pattern
                                                            else "")
    args, loads, setup = [], [], []
    op = 0
    for i, (t, v, p) in enumerate(zip(in_ts, names, pattern)):
        if p == "s":
            args.append(f"const {_sarg_type(t)} s{i}")
            setup.append(f"    const {t} {v} = ({t})s{i};\n")
            continue
        op += 1
        args.append(f"global const {t}* in{i}")
        if flat:
            args.append(f"const long o{i}")
            loads.append(f"    const {t} {v} = in{i}[o{i} + i];\n")
        else:
            setup.append(f"    const long p{i} = ember_row_offset(r, nd, meta, {op}), "
                         f"t{i} = ember_last_stride(nd, meta, {op});\n")
            loads.append(f"        const {t} {v} = in{i}[p{i} + j * t{i}];\n")
    arglist = "".join(", " + x for x in args)
    if flat:
        return (f"kernel void {kname}(long n, global {out_t}* out, const long oo{arglist}) {{\n"
                "    const long i = get_global_id(0);\n    if (i >= n) return;\n"
                f"{''.join(setup)}{''.join(loads)}    out[oo + i] = ({out_t})({expr});\n}}\n")
    # NOTE: one work-item per run of STRIDED_RUN elements of a row (the last collapsed dim):
    # the row's offsets are computed once, then each element is a multiply-add per operand.
    return (f"kernel void {kname}(long items, long runs, int nd, global const long* meta, "
            f"global {out_t}* out{arglist}) {{\n"
            "    const long g = get_global_id(0);\n    if (g >= items) return;\n"
            "    const long r = g / runs, j0 = (g - r * runs) * STRIDED_RUN;\n"
            "    const long j1 = min(meta[nd - 1], j0 + STRIDED_RUN);\n"
            "    const long po = ember_row_offset(r, nd, meta, 0), "
            "to = ember_last_stride(nd, meta, 0);\n"
            f"{''.join(setup)}    for (long j = j0; j < j1; ++j) {{\n{''.join(loads)}"
            f"        out[po + j * to] = ({out_t})({expr});\n    }}\n}}\n")


def unary_source(dtype: np.dtype, flat: bool) -> str:
    k = kind(dtype)
    parts = [_types(dtype)]
    for name, exprs in UNARY.items():
        if k in exprs:
            out_t = "uchar" if name in PREDICATES else "T"
            parts.append(_kernel(name, out_t, ["T"], ["x"], exprs[k], flat))
    return "".join(parts)


def binary_source(dtype: np.dtype, flat: bool) -> str:
    k = kind(dtype)
    parts = [_types(dtype), _HELPERS.get(k, "")]
    if k in (I, U):
        parts.append(_IPOW)
    for name, exprs in BINARY.items():
        if k in exprs:
            out_t = "uchar" if name in BOOL_OUT else "T"
            for pattern in ("aa", "as", "sa"):
                parts.append(_kernel(name, out_t, ["T", "T"], ["a", "b"], exprs[k], flat,
                                     pattern))
    return "".join(parts)


def move_source(itemsize: int, flat: bool) -> str:
    """copy and where only move bits: one program per item size serves every dtype (scalars
    travel as their bits)."""
    u = UTYPE[itemsize]
    parts = [_kernel("copy", u, [u], ["x"], "x", flat, p) for p in ("a", "s")]
    parts += [_kernel("where", u, ["uchar", u, u], ["c", "a", "b"], "c ? a : b", flat, p)
              for p in ("aaa", "aas", "asa", "ass")]
    return "".join(parts)


def _cast_expr(src: np.dtype, dst: np.dtype) -> str:
    if dst == np.bool_:
        return "x != (S)0"
    if kind(src) == F and kind(dst) in (I, U) and dst.itemsize < 4:
        # NOTE: float -> small int goes through long (truncate, then wrap), as NumPy on x86
        return "(long)x"
    return "x"


def cast_source(src: np.dtype, dsts, flat: bool) -> str:
    parts = [f"typedef {CTYPE[src.name]} S;\n"]
    for d in dsts:
        parts.append(_kernel(f"cast_{d.name}", CTYPE[d.name], ["S"], ["x"], _cast_expr(src, d),
                             flat))
    return "".join(parts)


# -- launching -------------------------------------------------------------------------------

def collapse(shape, strides_list):
    """Drop size-1 dims and merge dims that are contiguous with each other in every operand:
    a contiguous operation becomes 1-d, so the kernel's index arithmetic is one multiply."""
    dims = [(s, [st[d] for st in strides_list]) for d, s in enumerate(shape) if s != 1]
    if not dims:
        return (), [() for _ in strides_list]
    merged = [dims[0]]
    for s, sts in dims[1:]:
        ps, psts = merged[-1]
        if all(p == q * s for p, q in zip(psts, sts)):
            merged[-1] = (ps * s, sts)
        else:
            merged.append((s, sts))
    shape = tuple(s for s, _ in merged)
    return shape, [tuple(sts[i] for _, sts in merged) for i in range(len(strides_list))]


_META: dict = {}


def meta(dev: Device, shape, arrays):
    """(nd, buffer, size of the last dim) describing ``arrays`` (already shaped like ``shape``)
    for ember_offset and ember_row_offset.
    Cached by geometry: the Python collapse costs more than a small kernel."""
    key = (dev.index, shape, *[(a.strides, a.offset) for a in arrays])
    hit = _META.get(key)
    if hit is not None:
        return hit
    cshape, cstrides = collapse(shape, [a.strides for a in arrays])
    if not cshape:  # NOTE: one element: the kernels want at least one dim
        cshape, cstrides = (1,), [(0,) for _ in arrays]
    values = list(cshape)
    for a, st in zip(arrays, cstrides):
        values.append(a.offset)
        values.extend(st)
    if len(_META) > 4096:
        _META.clear()
    hit = _META[key] = (np.int32(len(cshape)), dev.const(values), cshape[-1])
    return hit


def roundup(n: int, m: int) -> int:
    return max(m, (n + m - 1) // m * m)


_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def scalar_arg(value, dtype: np.dtype, bits: bool = False):
    """``value`` as the scalar kernel argument standing for an operand of ``dtype`` (its bits
    as an unsigned integer for the move kernels)."""
    v = np.asarray(value, dtype=dtype)
    if bits:
        return v.view(_BITS[dtype.itemsize])[()]
    if dtype == np.float16:
        return np.float32(v)  # exact: every half is a float
    if dtype == np.bool_:
        return np.uint8(v)
    return v[()]


def launch(family: tuple, name: str, source, out: CLArray, inputs, sdtype=None,
           bits: bool = False) -> CLArray:
    """Run elementwise kernel ember_<name> of program ``family`` writing ``out`` (any strides)
    from ``inputs`` broadcast to out's shape; ``source(flat)`` is the program's source.

    An input that is not a CLArray is a scalar of dtype ``sdtype`` (default: out's), passed by
    value (``bits``: as its bit pattern, for the move kernels), never uploaded. When every
    array is contiguous and shaped like out, the flat variant runs: no index arithmetic.
    Returns out."""
    shape = out.shape
    n = math.prod(shape)
    if n == 0:
        return out
    dev = out.device
    flat = out.strides == c_strides(shape)
    pattern = ""
    arrays = []
    for x in inputs:
        if type(x) is CLArray:
            pattern += "a"
            arrays.append(x)
            if flat and (x.shape != shape or x.strides != out.strides):
                flat = False
        else:
            pattern += "s"
    kname = f"ember_{name}_flat" if flat else f"ember_{name}"
    if len(arrays) != len(inputs):
        kname += "_" + pattern
    k = dev.kernel(family + (flat,), kname, lambda: source(flat))
    if sdtype is None:
        sdtype = out.dtype
    args = []
    if flat:
        for x in inputs:
            if type(x) is CLArray:
                args.append(x.buffer)
                args.append(np.int64(x.offset))
            else:
                args.append(scalar_arg(x, sdtype, bits))
        dev.launch(k, (roundup(n, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(n), out.buffer,
                   np.int64(out.offset),
                   *args)
    else:
        ops = [out] + [broadcast_to(a, shape) for a in arrays]
        nd, m, inner = meta(dev, shape, ops)
        it = iter(ops[1:])
        for x in inputs:
            args.append(next(it).buffer if type(x) is CLArray else scalar_arg(x, sdtype, bits))
        runs = -(-inner // STRIDED_RUN)
        items = n // inner * runs
        dev.launch(k, (roundup(items, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(items),
                   np.int64(runs), nd, m, out.buffer, *args)
    return out


def scalar(dev: Device, value, dtype) -> CLArray:
    """A 0-d array holding a Python scalar (broadcast with 0-strides by the kernels); only for
    the kernels that take no scalar arguments (indexing)."""
    host = np.array(value, dtype=dtype)
    return CLArray(dev.upload(host.reshape(1)), (), (), 0, dtype, dev)


def out_shape(arrays) -> tuple:
    shapes = [a.shape for a in arrays if type(a) is CLArray]
    first = shapes[0]
    if all(s == first for s in shapes):
        return first
    return tuple(np.broadcast_shapes(*shapes))


# -- kernels (the functions in Backend.kernels) -------------------------------------------------

def unary_kernel(name: str):
    bool_out = name in PREDICATES

    def run(x: CLArray) -> CLArray:
        dt = x.dtype
        out = empty(x.shape, _BOOL if bool_out else dt, x.device)
        return launch(("unary", dt), name, lambda flat: unary_source(dt, flat), out, [x])
    run.__name__ = f"ember_{name}"
    return run


def binary_kernel(name: str):
    bool_out = name in BOOL_OUT

    def run(a, b) -> CLArray:
        x = a if type(a) is CLArray else b
        dtype = x.dtype
        if type(a) is CLArray and type(b) is CLArray:
            shape = a.shape if a.shape == b.shape else out_shape((a, b))
        else:
            shape = x.shape
        out = empty(shape, _BOOL if bool_out else dtype, x.device)
        return launch(("binary", dtype), name, lambda flat: binary_source(dtype, flat),
                      out, [a, b], dtype)
    run.__name__ = f"ember_{name}"
    return run


_BOOL = np.dtype(np.bool_)


def copy_into(out: CLArray, x) -> CLArray:
    """out[...] = x (x broadcast to out, or a scalar); same dtype."""
    size = out.itemsize
    return launch(("move", size), "copy", lambda flat: move_source(size, flat), out, [x],
                  bits=True)


def contiguous(x: CLArray) -> CLArray:
    return copy_into(empty(x.shape, x.dtype, x.device), x)


def ensure_contiguous(x: CLArray) -> CLArray:
    return x if x.is_contiguous() else contiguous(x)


def where(cond, a, b) -> CLArray:
    x = a if type(a) is CLArray else b
    if type(x) is not CLArray:
        raise TypeError("opencl where: a or b must be an array")
    dev, dtype = x.device, x.dtype
    if type(cond) is not CLArray:
        cond = scalar(dev, cond, np.bool_)
    out = empty(out_shape((cond, a, b)), dtype, dev)
    size = dtype.itemsize
    return launch(("move", size), "where", lambda flat: move_source(size, flat), out,
                  [cond, a, b], dtype, bits=True)


def cast(x: CLArray, dtype) -> CLArray:
    dst = np_dtype(dtype)
    dev = x.device
    if dst == x.dtype:
        return contiguous(x)
    out = empty(x.shape, dst, dev)
    src = x.dtype
    return launch(("cast", src), f"cast_{dst.name}",
                  lambda flat: cast_source(src, [np.dtype(n) for n in claimed_dtypes(dev)],
                                           flat), out, [x])


def np_dtype(dtype) -> np.dtype:
    """NumPy dtype of an ember dtype object (``.np``), a NumPy dtype or a name."""
    if type(dtype) is np.dtype:
        return dtype
    np_attr = getattr(dtype, "np", None)
    if np_attr is not None:
        return np.dtype(np_attr)
    return np.dtype(getattr(dtype, "name", dtype))


@functools.lru_cache(maxsize=None)
def _claimed(fp64: bool, fp16: bool) -> tuple:
    names = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32"]
    if fp64:
        names.append("float64")
    if fp16:
        names.append("float16")
    return tuple(names)


def claimed_dtypes(dev: Device) -> tuple:
    return _claimed(dev.fp64, dev.fp16)


def fill(out: CLArray, value) -> CLArray:
    return copy_into(out, value)


def full(shape, value, dtype, index) -> CLArray:
    out = empty(shape, np_dtype(dtype), index)
    return fill(out, value)


# -- host transfers and arange -------------------------------------------------------------------

def from_host(array, dev: Device) -> CLArray:
    host = np.asarray(array, order="C")  # NOTE: not ascontiguousarray, which makes 0-d 1-d
    return CLArray(dev.upload(host), host.shape, c_strides(host.shape), 0, host.dtype, dev)


def to_host(x: CLArray) -> np.ndarray:
    x = ensure_contiguous(x)
    host = np.empty(x.shape, x.dtype)
    if host.size:
        cl.enqueue_copy(x.device.queue, host, x.buffer, src_offset=x.offset * x.itemsize)
    return host


_ARANGE = r"""
kernel void ember_arange(long n, T start, T delta, global T* out) {
    const long i = get_global_id(0);
    if (i < n) out[i] = (T)(start + (T)i * delta);
}
"""


def arange(start, stop, step, dtype, index) -> CLArray:
    """Like numpy.arange with dtype: the length from the float quotient, then, as NumPy fills,
    start + i * (second - first) computed in the dtype."""
    dtype = np_dtype(dtype)
    if dtype == np.bool_:
        return cast(arange(start, stop, step, np.int64, index), np.bool_)
    n = max(0, int(np.ceil((stop - start) / step)))
    out = empty((n,), dtype, index)
    if n:
        first = np.array(start, dtype=dtype)
        delta = np.array(start + step, dtype=dtype) - first
        dev = out.device
        k = dev.kernel(("arange", dtype.name), "ember_arange",
                       lambda: f"typedef {CTYPE[dtype.name]} T;\n" + _ARANGE)
        dev.launch(k, (roundup(n, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(n), first[()],
                   delta.astype(dtype)[()], out.buffer)
    return out
