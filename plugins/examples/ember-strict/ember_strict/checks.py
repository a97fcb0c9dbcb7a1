"""The contract of every primitive (ember/plugins/api.py), as checks run around each kernel call.

``checked(op, kernel)`` returns a kernel that calls ``kernel`` and then verifies, for that one
call, what the contract promises:

- dtypes: the inputs share the compute dtype where the contract says so, and the output has the
  dtype the contract gives (x's dtype, bool, int64, the requested dtype ...);
- shapes: the output shape follows broadcasting, reduction, matmul, indexing ... rules;
- NaN: no NaN appears where none can legitimately appear (each op family says where it can:
  log of a negative, 0/0, inf - inf, sin(inf) ...), and NaN propagates where it must;
- aliasing: view kernels return arrays that share memory with their input; every other kernel
  returns a new, dense array that shares memory with no input, and leaves its inputs unchanged.

A broken promise raises ``ContractViolation`` (an ``AssertionError``) naming the kernel, what was
wrong, the arguments, and the contract's own words.
"""
from __future__ import annotations

import math
import os
from typing import Callable

import ml_dtypes
import numpy as np

from ember.plugins.api import (BINARY_ARITH, BINARY_BITWISE, BINARY_COMPARE, BINARY_LOGICAL,
                               PRIMITIVES, UNARY_FLOAT, UNARY_PREDICATE, UNARY_SAME)

VIEW_OPS = frozenset({"view", "permute", "expand", "getitem_basic", "as_strided"})
INPLACE_OPS = frozenset({"setitem", "index_add"})
# the optional in-place binary kernels (ember.plugins.api.OPTIONAL_KERNELS): a op= b
INPLACE_BINARY = frozenset({"add_", "sub_", "mul_", "div_"})
_BF16 = np.dtype(ml_dtypes.bfloat16)
_LOW = (np.dtype(np.float16), _BF16)
_INT64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)

#: Compare every array input before and after a (non in-place) kernel: costs one copy per input.
CHECK_MUTATION = os.environ.get("EMBER_STRICT_MUTATION", "1") != "0"


class ContractViolation(AssertionError):
    """A kernel broke the backend contract. ``op`` names the kernel, ``problem`` says how."""

    def __init__(self, op: str, problem: str, args=(), kwargs=None):
        self.op = op
        self.problem = problem
        shown = ", ".join([describe(a) for a in args]
                          + [f"{k}={describe(v)}" for k, v in (kwargs or {}).items()])
        lines = [f"strict: kernel {op!r} broke the backend contract: {problem}",
                 f"  called as {op}({shown})"]
        if op in PRIMITIVES:
            lines.append(f"  contract: {PRIMITIVES[op]}")
        super().__init__("\n".join(lines))


def describe(a) -> str:
    """``float32[2, 3]`` for an array, ``repr`` for anything else (short)."""
    if isinstance(a, np.ndarray):
        return f"{a.dtype}[{', '.join(map(str, a.shape))}]"
    if isinstance(a, (list, tuple)) and any(isinstance(x, np.ndarray) for x in a):
        inner = ", ".join(describe(x) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner},)"
    r = repr(a)
    return r if len(r) <= 60 else r[:57] + "..."


# ---- small predicates -------------------------------------------------------------------------

def is_float(dt) -> bool:
    return dt.kind == "f" or dt == _BF16


def is_intlike(dt) -> bool:
    return dt.kind in "iub"


def _f32(x):
    """Values to compute masks on: low-precision floats widened, scalars as 0-d arrays."""
    x = np.asarray(x)
    return x.astype(np.float32) if x.dtype in _LOW else x


def _isnan(x):
    x = _f32(x)
    return np.isnan(x) if is_float(x.dtype) else np.zeros(x.shape, bool)


def _nonfinite(x):
    x = _f32(x)
    return ~np.isfinite(x) if is_float(x.dtype) else np.zeros(x.shape, bool)


def _composite_writes(op: str) -> tuple:
    """Positions of the arguments that the composite ``op`` writes in place (its ``mutates``)."""
    from ember.core.ops import COMPOSITES
    return getattr(COMPOSITES.get(op), "mutates", ())


def _arrays(obj):
    """Every ndarray in a kernel's arguments (looking into lists and tuples, e.g. cat, index)."""
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            yield from _arrays(x)


def _shares(a, b) -> bool:
    if a.size == 0 or b.size == 0:
        return False
    return np.may_share_memory(a, b) and np.shares_memory(a, b)


def _is_dense(a) -> bool:
    """True when ``a`` covers exactly ``a.size`` elements with no gaps or overlaps, in any axis
    order (NumPy ufuncs keep their input's layout, so a new array may be F-ordered)."""
    if a.size == 0:
        return True
    dims = sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n != 1)
    expect = a.itemsize
    for st, n in dims:
        if st != expect:
            return False
        expect *= n
    return True


def _broadcast(op, *shapes):
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ContractViolation(op, f"was called with shapes {shapes} that do not broadcast "
                                    "(core checks shapes before every call)") from None


# ---- the checker ------------------------------------------------------------------------------

class Call:
    """One kernel call being checked: helpers raise a ContractViolation that names it."""

    __slots__ = ("op", "args", "kwargs", "out")

    def __init__(self, op, args, kwargs, out):
        self.op, self.args, self.kwargs, self.out = op, args, kwargs, out

    def fail(self, problem):
        raise ContractViolation(self.op, problem, self.args, self.kwargs)

    def array(self, value, what="output"):
        if not isinstance(value, np.ndarray):
            self.fail(f"{what} is {type(value).__name__}, expected a numpy.ndarray (the strict "
                      "backend's native array)")
        return value

    def dtype(self, value, expected, what="output", why=""):
        a = self.array(value, what)
        if a.dtype != np.dtype(expected):
            self.fail(f"{what} dtype is {a.dtype}, expected {np.dtype(expected)}"
                      + (f" ({why})" if why else ""))

    def shape(self, value, expected, what="output", why=""):
        if tuple(value.shape) != tuple(expected):
            self.fail(f"{what} shape is {tuple(value.shape)}, expected {tuple(expected)}"
                      + (f" ({why})" if why else ""))

    def no_new_nan(self, allowed, why):
        """NaN in the output only where ``allowed`` (a bool mask broadcastable to it) is true."""
        out = self.out
        if not is_float(out.dtype):
            return
        bad = _isnan(out) & ~np.broadcast_to(allowed, out.shape)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            self.fail(f"output has NaN at index {where} (and {int(bad.sum()) - 1} more) where "
                      f"no input could produce one ({why})")


def _same_dtype_inputs(c: Call, *operands):
    """The compute dtype of a binary/ternary kernel: its array operands must share it."""
    dts = {a.dtype for a in operands if isinstance(a, np.ndarray)}
    if len(dts) > 1:
        c.fail(f"inputs have different dtypes {sorted(map(str, dts))}; core must cast them to "
               "one compute dtype before the call")
    if not dts:
        c.fail("no array operand (at most one operand may be a Python scalar)")
    return dts.pop()


def _shape_of(a):
    return np.shape(a) if isinstance(a, np.ndarray) else ()


def _reduced_shape(shape, axes, keepdim):
    axes = range(len(shape)) if axes is None else ((axes,) if isinstance(axes, int) else axes)
    axes = {a % len(shape) for a in axes} if shape else set()
    if keepdim:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _check_axes(c: Call, ndim, axes):
    if axes is None:
        return
    seq = (axes,) if isinstance(axes, int) else axes
    if not isinstance(seq, tuple) or len(set(seq)) != len(seq) or not all(
            isinstance(a, (int, np.integer)) and 0 <= a < max(ndim, 1) for a in seq):
        c.fail(f"axes {axes!r} are not a tuple of distinct non-negative dims < {ndim} "
               "(core normalises them before the call)")


# NaN masks: where each op may legitimately turn a non-NaN input into NaN.
def _unary_nan_ok(op, x):
    x = _f32(x)
    if op in ("sin", "cos", "tan"):
        return ~np.isfinite(x)                       # sin(inf) is NaN
    if op in ("log", "log2", "sqrt"):
        return np.isnan(x) | (x < 0)
    if op == "log1p":
        return np.isnan(x) | (x < -1)
    if op in ("asin", "acos"):
        return np.isnan(x) | (np.abs(x) > 1)
    return np.isnan(x)                               # total on the extended reals


def _binary_nan_ok(op, a, b):
    na, nb = _isnan(a), _isnan(b)
    if op in ("maximum", "minimum", "atan2"):
        return na | nb
    ok = _nonfinite(a) | _nonfinite(b)               # inf - inf, 0 * inf, inf / inf ...
    if op in ("div", "remainder", "floor_divide"):
        ok = ok | (_f32(b) == 0)                     # 0 / 0, x % 0
    elif op == "pow":
        ok = ok | (_f32(a) < 0)                      # (-8) ** (1/3)
    return ok


def _check_unary(c: Call, op, x):
    c.array(x, "input")
    out = c.array(c.out)
    c.shape(out, x.shape, why="elementwise")
    if op in UNARY_FLOAT:
        if not is_float(x.dtype):
            c.fail(f"input dtype is {x.dtype}; {op} takes floating point only (core casts first)")
        c.dtype(out, x.dtype, why="x's dtype")
        c.no_new_nan(_unary_nan_ok(op, x), f"{op} is defined there")
    elif op in UNARY_SAME:
        c.dtype(out, x.dtype, why="x's dtype")
        c.no_new_nan(_isnan(x), f"{op} maps non-NaN to non-NaN")
    elif op in UNARY_PREDICATE:
        c.dtype(out, _BOOL, why="a predicate")
        if op == "isnan" and is_float(x.dtype) and not np.array_equal(out, _isnan(x)):
            c.fail("isnan disagrees with numpy.isnan")
    else:  # bitwise_not
        if not is_intlike(x.dtype):
            c.fail(f"input dtype is {x.dtype}; bitwise_not takes integer or bool")
        c.dtype(out, x.dtype, why="x's dtype")


def _check_binary(c: Call, op, a, b):
    dt = _same_dtype_inputs(c, a, b)
    out = c.array(c.out)
    c.shape(out, _broadcast(op, _shape_of(a), _shape_of(b)), why="broadcast of the inputs")
    if op in BINARY_COMPARE or op in BINARY_LOGICAL:
        c.dtype(out, _BOOL, why="a comparison")
        return
    if op in BINARY_BITWISE and not is_intlike(dt):
        c.fail(f"input dtype is {dt}; {op} takes integer or bool")
    if op == "div" and not is_float(dt):
        c.fail(f"input dtype is {dt}; div is true division on floating dtypes only (core casts "
               "integers to the default float dtype first)")
    c.dtype(out, dt, why="the compute dtype of the inputs")
    if op in BINARY_ARITH and is_float(dt):
        c.no_new_nan(_binary_nan_ok(op, a, b), f"{op} of finite, in-domain values is not NaN")
        if op in ("maximum", "minimum"):
            must = np.broadcast_to(_isnan(a) | _isnan(b), out.shape)
            if (must & ~_isnan(out)).any():
                c.fail(f"{op} dropped a NaN input; maximum/minimum must propagate NaN")


def _check_reduction(c: Call, op, x, axes, keepdim):
    c.array(x, "input")
    _check_axes(c, x.ndim, axes)
    out = c.array(c.out)
    c.shape(out, _reduced_shape(x.shape, axes, keepdim), why=f"reducing {axes} keepdim={keepdim}")
    if op in ("argmax", "argmin"):
        c.dtype(out, _INT64, why="indices are int64")
        n = x.shape[axes] if isinstance(axes, int) and x.ndim else max(x.size, 1)
        if out.size and (out.min() < 0 or out.max() >= n):
            c.fail(f"index {int(out.max())} is out of range for a reduced size of {n}")
        return
    c.dtype(out, x.dtype, why="x's dtype")
    if op in ("amax", "amin"):
        nan_in = _isnan(x)
        if x.size and is_float(x.dtype):
            must = np.any(nan_in, axis=axes, keepdims=keepdim)
            if not np.array_equal(_isnan(out), must):
                c.fail(f"{op} must be NaN exactly where its reduced slice holds a NaN")
    else:  # sum, prod: NaN only from NaN or inf - inf / 0 * inf
        c.no_new_nan(np.any(_nonfinite(x)), "the input is all finite")


def _check_scan(c: Call, op, x, axis):
    c.array(x, "input")
    out = c.array(c.out)
    c.shape(out, x.shape, why=f"{op} keeps x's shape")
    c.dtype(out, x.dtype, why="x's dtype")
    c.no_new_nan(np.any(_nonfinite(x)), "the input is all finite")


def _check_sort(c: Call, x, axis, descending, stable):
    out = c.out
    if not isinstance(out, tuple) or len(out) != 2:
        c.fail(f"returned {type(out).__name__}, expected a (values, indices) tuple")
    vals, idx = out
    c.dtype(vals, x.dtype, "values", "x's dtype")
    c.dtype(idx, _INT64, "indices", "indices are int64")
    c.shape(vals, x.shape, "values")
    c.shape(idx, x.shape, "indices")
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[axis]):
        c.fail(f"an index is out of range for a dimension of size {x.shape[axis]}")
    if np.count_nonzero(_isnan(vals)) != np.count_nonzero(_isnan(x)):
        c.fail("sort must permute values: the number of NaNs changed")


def _check_matmul(c: Call, a, b):
    dt = _same_dtype_inputs(c, a, b)
    if a.ndim < 2 or b.ndim < 2:
        c.fail(f"operands must be at least 2-d (core adds the missing dims), got {a.ndim}-d and "
               f"{b.ndim}-d")
    if a.shape[-1] != b.shape[-2]:
        c.fail(f"inner dimensions {a.shape[-1]} and {b.shape[-2]} differ")
    out = c.array(c.out)
    batch = _broadcast("matmul", a.shape[:-2], b.shape[:-2])
    c.shape(out, batch + (a.shape[-2], b.shape[-1]), why="(..., n, k) @ (..., k, m)")
    c.dtype(out, dt, why="the operands' dtype")
    c.no_new_nan(np.any(_nonfinite(a)) | np.any(_nonfinite(b)), "the operands are all finite")


def _check_where(c: Call, cond, a, b):
    c.dtype(cond, _BOOL, "condition")
    dt = _same_dtype_inputs(c, a, b)
    out = c.array(c.out)
    c.shape(out, _broadcast("where", cond.shape, _shape_of(a), _shape_of(b)),
            why="broadcast of cond, a and b")
    c.dtype(out, dt, why="the dtype of a and b")
    c.no_new_nan(_isnan(a) | _isnan(b), "where only selects")


def _index_shape(x, index):
    """The shape ``x[index]`` has, computed on a zero-stride stand-in (no copy of x's data)."""
    dummy = np.lib.stride_tricks.as_strided(np.zeros((), x.dtype), x.shape, (0,) * x.ndim)
    return dummy[tuple(index) + (Ellipsis,)].shape


def _check_getitem(c: Call, x, index, basic):
    if not isinstance(index, tuple):
        c.fail(f"index is {type(index).__name__}, expected a tuple (core normalises it)")
    out = c.array(c.out)
    c.dtype(out, x.dtype, why="x's dtype")
    try:
        expect = _index_shape(x, index)
    except (IndexError, TypeError, ValueError):
        return  # an invalid index is the kernel's to reject; it did not
    c.shape(out, expect, why="NumPy indexing rules")
    if not basic:
        c.no_new_nan(_isnan(x).any(), "a gather only copies x's values")


def _check_creation(c: Call, op, args):
    out = c.array(c.out)
    if op == "arange":
        start, stop, step, dtype, _ = args
        c.dtype(out, dtype.np, why="the requested dtype")
        if out.ndim != 1:
            c.fail(f"arange returned a {out.ndim}-d array")
        if all(isinstance(v, int) for v in (start, stop, step)):
            c.shape(out, (len(range(start, stop, step)),), why="len(range(start, stop, step))")
        return
    shape, dtype = args[0], args[-2]
    c.dtype(out, dtype.np, why="the requested dtype")
    c.shape(out, shape, why="the requested shape")
    if op == "full" and out.size and is_float(out.dtype) and not math.isnan(float(args[1])):
        c.no_new_nan(np.zeros((), bool), "the fill value is not NaN")


def _check_random(c: Call, op, args):
    out = c.array(c.out)
    if op == "rand_int":
        _, low, high, shape, dtype = args
        c.dtype(out, dtype.np, why="the requested dtype")
        c.shape(out, shape, why="the requested shape")
        if out.size and (out.min() < low or out.max() >= high):
            c.fail(f"values must lie in [{low}, {high}), got min {out.min()} max {out.max()}")
        return
    _, shape, dtype = args
    c.dtype(out, dtype.np, why="the requested dtype")
    c.shape(out, shape, why="the requested shape")
    if not out.size:
        return
    v = _f32(out)
    if not np.isfinite(v).all():
        c.fail("random floats must be finite")
    if op == "rand_uniform" and (v.min() < 0 or v.max() >= 1):
        c.fail(f"uniform values must lie in [0, 1), got min {v.min()} max {v.max()} (rounding a "
               "float32 draw to a narrower dtype can produce 1.0)")


def _check_post(op, args, kwargs, out):
    """Run the contract checks of ``op`` on one call's arguments and result."""
    c = Call(op, args, kwargs, out)
    if op in UNARY_FLOAT or op in UNARY_SAME or op in UNARY_PREDICATE or op == "bitwise_not":
        _check_unary(c, op, *args)
    elif (op in BINARY_ARITH or op in BINARY_COMPARE or op in BINARY_LOGICAL
          or op in BINARY_BITWISE):
        _check_binary(c, op, *args)
    elif op == "where":
        _check_where(c, *args)
    elif op == "cast":
        x, dtype = args
        c.dtype(out, dtype.np, why="the requested dtype")
        c.shape(out, x.shape, why="x's shape")
        c.no_new_nan(_isnan(x), "a cast between float dtypes keeps NaN-ness")
    elif op == "contiguous":
        c.dtype(out, args[0].dtype, why="x's dtype")
        c.shape(out, args[0].shape, why="x's shape")
        if not out.flags.c_contiguous:
            c.fail("contiguous() must return a C-contiguous array")
    elif op in ("sum", "prod", "amax", "amin", "argmax", "argmin"):
        _check_reduction(c, op, *args, **kwargs)
    elif op in ("cumsum", "cumprod"):
        _check_scan(c, op, *args)
    elif op == "sort":
        _check_sort(c, *args)
    elif op == "matmul":
        _check_matmul(c, *args)
    elif op in ("getitem_basic", "getitem_advanced"):
        _check_getitem(c, args[0], args[1], op == "getitem_basic")
    elif op == "view":
        x, shape = args
        if out is not None:
            c.shape(c.array(out), shape, why="the requested shape")
            c.dtype(out, x.dtype, why="x's dtype")
    elif op == "permute":
        x, axes = args
        c.shape(c.array(out), tuple(x.shape[a] for a in axes), why=f"x's dims in order {axes}")
        c.dtype(out, x.dtype, why="x's dtype")
    elif op in ("expand", "as_strided"):
        c.shape(c.array(out), args[1], why="the requested shape")
        c.dtype(out, args[0].dtype, why="x's dtype")
        if op == "as_strided" and tuple(s // out.itemsize for s in out.strides) != tuple(args[2]):
            c.fail(f"strides are {out.strides} bytes, expected {tuple(args[2])} elements")
    elif op == "strides":
        x = args[0]
        if (not isinstance(out, tuple) or len(out) != x.ndim
                or not all(isinstance(s, (int, np.integer)) for s in out)):
            c.fail(f"returned {out!r}, expected a tuple of {x.ndim} ints")
    elif op in INPLACE_BINARY or op in INPLACE_OPS:
        if out is not None:
            c.fail(f"returned {type(out).__name__}; in-place kernels return None")
        # a op= b takes b second; setitem(x, index, value) / index_add(x, ...) take it third
        what, value = ("operand", args[1]) if op in INPLACE_BINARY else ("value", args[2])
        if isinstance(value, np.ndarray) and value.dtype != args[0].dtype:
            c.fail(f"{what} dtype {value.dtype} differs from x's dtype {args[0].dtype}")
    elif op == "gather":
        x, axis, index = args
        c.dtype(index, _INT64, "index")
        c.shape(c.array(out), index.shape, why="gather's output is shaped like index")
        c.dtype(out, x.dtype, why="x's dtype")
    elif op in ("scatter", "scatter_add"):
        x, axis, index, src = args
        c.dtype(index, _INT64, "index")
        c.shape(c.array(out), x.shape, why="a copy of x")
        c.dtype(out, x.dtype, why="x's dtype")
    elif op == "nonzero":
        x = args[0]
        c.dtype(out, _INT64, why="indices are int64")
        c.shape(out, (int(np.count_nonzero(x)), x.ndim), why="(count of nonzeros, x.ndim)")
    elif op == "cat":
        arrays, axis = args
        dts = {a.dtype for a in arrays}
        if len(dts) != 1:
            c.fail(f"inputs have dtypes {sorted(map(str, dts))}; cat takes one dtype")
        expect = list(arrays[0].shape)
        expect[axis] = sum(a.shape[axis] for a in arrays)
        c.shape(c.array(out), expect, why=f"concatenation along axis {axis}")
        c.dtype(out, arrays[0].dtype, why="the inputs' dtype")
    elif op == "flip":
        c.shape(c.array(out), args[0].shape, why="x's shape")
        c.dtype(out, args[0].dtype, why="x's dtype")
    elif op in ("empty", "full", "arange"):
        _check_creation(c, op, args)
    elif op in ("rand_uniform", "rand_normal", "rand_int"):
        _check_random(c, op, args)
    # any other op (linalg, a fused composite): only the aliasing rules below apply


def _check_aliasing(op, args, kwargs, out):
    ins = list(_arrays(args))
    if op in INPLACE_OPS or op in INPLACE_BINARY or op == "strides":
        return
    if op in VIEW_OPS:
        if out is None and op == "view":
            return
        x = args[0]
        if out.size and x.size and not np.may_share_memory(out, x):
            raise ContractViolation(op, "is a view kernel but returned an array that does not "
                                        "share memory with x (writes through the view would be "
                                        "lost)", args, kwargs)
        return
    for i, o in enumerate(_arrays(out)):
        what = "output" if isinstance(out, np.ndarray) else f"output {i}"
        for j, a in enumerate(ins):
            if _shares(o, a):
                raise ContractViolation(op, f"{what} shares memory with input {j} "
                                            f"({describe(a)}); only view kernels may alias, so an "
                                            "in-place op on one would change the other",
                                        args, kwargs)
        if not _is_dense(o) or not o.flags.writeable:
            raise ContractViolation(op, f"{what} is not a new dense array (strides {o.strides}, "
                                        f"writeable={o.flags.writeable}); only view kernels may "
                                        "return strided views", args, kwargs)


def checked(op: str, kernel: Callable) -> Callable:
    """Wrap ``kernel`` (the kernel of ``op``) so that every call is checked against the contract.

    >>> import numpy as np
    >>> add = checked("add", lambda a, b: (a + b).astype(np.float64))
    >>> add(np.ones(2, np.float32), np.ones(2, np.float32))
    Traceback (most recent call last):
    ...
    ember_strict.checks.ContractViolation: strict: kernel 'add' broke the backend contract: ...
    """
    if getattr(kernel, "_strict_checked", False):
        return kernel
    snapshot = CHECK_MUTATION and op not in INPLACE_OPS and op not in INPLACE_BINARY
    writes = _composite_writes(op)

    def strict_kernel(*args, **kwargs):
        for a in _arrays(args):
            if not isinstance(a, np.ndarray):
                raise ContractViolation(op, f"got a {type(a).__name__} argument; the strict "
                                            "backend's arrays are numpy.ndarray", args, kwargs)
        kept = [a for i, a in enumerate(args) if i not in writes]
        before = [(a, a.copy()) for a in _arrays(kept)] if snapshot else ()
        out = kernel(*args, **kwargs)
        if writes:
            if out is not None:
                raise ContractViolation(op, f"returned {type(out).__name__}; a composite that "
                                            "writes its arguments in place returns None",
                                        args, kwargs)
        else:
            _check_post(op, args, kwargs, out)
            _check_aliasing(op, args, kwargs, out)
        for j, (a, saved) in enumerate(before):
            if a.tobytes() != saved.tobytes():
                raise ContractViolation(op, f"modified its input {j} ({describe(a)}); only "
                                            "setitem, index_add, the in-place binary kernels "
                                            "and the arguments a composite declares (mutates=) "
                                            "are written in place", args, kwargs)
        return out

    strict_kernel.__name__ = strict_kernel.__qualname__ = f"ember_strict_{op}"
    strict_kernel.__wrapped__ = kernel
    strict_kernel._strict_checked = True
    return strict_kernel
