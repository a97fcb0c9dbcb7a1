"""The cpu backend's kernel table: NumPy callables, one per primitive (see plugins/api.py).

``make_kernels(xp)`` builds the table for any NumPy-compatible array namespace, so the cuda
backend reuses it with CuPy and overrides only what differs.
"""
from __future__ import annotations

import concurrent.futures
import math
import os

import numpy as np
import ml_dtypes

from ...plugins.api import (BINARY_ARITH, BINARY_BITWISE, BINARY_COMPARE, BINARY_LOGICAL,
                            UNARY_FLOAT, UNARY_PREDICATE, UNARY_SAME)
from . import blas

# (a set: membership costs ~40 ns less than in a tuple, which compares dtypes one by one)
_LOW_PRECISION = frozenset((np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)))


class _Parallel:
    """Splits large memory-bound kernels (copies, in-place updates) over the cores: NumPy
    releases the GIL inside ufuncs, so halves of an array run truly in parallel."""

    # NOTE: handing work to the pool costs ~90 us (thread wake-up and GIL hand-offs, measured on
    # 2 cores); it pays off from about 1M elements.
    MIN_SIZE = 1 << 20

    def __init__(self):
        self.workers = min(os.cpu_count() or 1, 8)
        self.pool = None
        self.pid = None

    def map(self, fn, n):
        """Run fn(start, stop) over [0, n) in ``workers`` chunks; returns when all are done."""
        if self.pool is None or self.pid != os.getpid():
            # NOTE: a forked child (DataLoader workers) inherits the pool object but not its
            # threads; it needs a pool of its own
            self.pool = concurrent.futures.ThreadPoolExecutor(self.workers - 1,
                                                              thread_name_prefix="ember-cpu")
            self.pid = os.getpid()
        step = -(-n // self.workers)
        futures = [self.pool.submit(fn, i, min(i + step, n)) for i in range(step, n, step)]
        fn(0, min(step, n))
        for f in futures:
            f.result()


_parallel = _Parallel()


def reduce_losses(losses, w, reduction):
    """(the loss, each sample's gradient coefficient) from per-sample losses already weighted by
    w, as torch's reductions: 'mean' divides by the sum of the weights."""
    if reduction == "none":
        return losses, w
    if reduction == "sum":
        return losses.sum(), w
    denom = w.sum()
    return losses.sum() / denom, w / denom


def make_kernels(xp, ndarray=None, erf=None, add_at=None):
    """``add_at(x, index, values)`` accumulates repeated indices in place (NumPy's add.at; CuPy
    passes its atomic scatter-add)."""
    ndarray = ndarray or xp.ndarray
    add_at = add_at or xp.add.at
    parallel = xp is np and _parallel.workers > 1

    def arr(r):
        # NumPy returns scalars from 0-d ufuncs and full reductions; kernels return arrays.
        return r if type(r) is ndarray else xp.asarray(r)

    # NumPy converts a Python scalar operand on every call (about 250 ns of a 32x32 float32
    # op); a cached 0-d array of the array's float dtype gives the same values and dtype. The
    # kernels look a nonzero scalar up in its dtype's table themselves (a miss goes through
    # operand()); zeros are never cached (-0.0 would find 0.0's entry), the fused kernels'
    # constants come from zeros/ones.
    scalar_arrays = {np.dtype(np.float32): {}, np.dtype(np.float64): {}} if xp is np else {}
    scalar_table = scalar_arrays.get
    zeros = {dt: np.zeros((), dt) for dt in scalar_arrays}
    ones = {dt: np.ones((), dt) for dt in scalar_arrays}

    def operand(s, dt):
        """Python scalar ``s`` as the operand of an op on an array of dtype ``dt``."""
        table = scalar_table(dt)
        if table is None or not s:
            return s
        z = table.get(s)
        if z is None:
            if s != s:
                return s  # (NaN is no dict key)
            z = np.array(s, dt)
            if not np.isfinite(z) and math.isfinite(s):
                return s  # (an overflow: inf, computed from the scalar each call as before)
            if len(table) >= 256:
                table.clear()
            table[s] = z
        return z

    def upcast(f):
        # NumPy (and ml_dtypes) compute half precision slowly or inexactly; compute in float32
        # and round once, as torch's cpu kernels do.
        def k(x, *args, **kw):
            dt = x.dtype
            if dt in _LOW_PRECISION:
                r = f(x.astype(np.float32), *args, **kw)
                if isinstance(r, tuple):
                    return (arr(r[0]).astype(dt),) + tuple(r[1:])
                return arr(r).astype(dt)
            return f(x, *args, **kw)
        return k

    def unary(f):
        def k(x):
            if x.dtype in _LOW_PRECISION:
                return arr(f(x.astype(np.float32))).astype(x.dtype)
            r = f(x)
            return r if type(r) is ndarray else xp.asarray(r)
        return k

    def sigmoid(x):
        # NOTE: exp(-x) overflows harmlessly to inf for very negative x (result 0), as in torch.
        r = xp.negative(x)
        if type(r) is not ndarray:
            return 1.0 / (1.0 + xp.exp(r))
        xp.exp(r, out=r)
        r += ones.get(r.dtype, 1.0)
        return xp.reciprocal(r, out=r)

    def float_erf(x):
        if erf is not None:
            return erf(x)
        if x.dtype == np.float64:
            return _erf64(x)
        return _erf32(x)

    float_fns = {
        "exp": xp.exp, "log": xp.log, "log1p": xp.log1p, "expm1": xp.expm1, "sqrt": xp.sqrt,
        "sin": xp.sin, "cos": xp.cos, "tan": xp.tan, "tanh": xp.tanh, "sigmoid": sigmoid,
        "erf": float_erf, "asin": xp.arcsin, "acos": xp.arccos, "atan": xp.arctan,
        "sinh": xp.sinh, "cosh": xp.cosh, "log2": xp.log2, "exp2": xp.exp2,
        "reciprocal": lambda x: 1.0 / x,
    }
    assert set(float_fns) == set(UNARY_FLOAT)
    k = {name: unary(f) for name, f in float_fns.items()}

    def keep_int(f):
        def g(x):
            if x.dtype.kind in "iub":
                return x.copy()
            return arr(f(x))
        return g

    def sign(x):
        if x.dtype == np.bool_:
            return x.copy()
        return arr(xp.sign(x))

    same = {"neg": lambda x: arr(xp.negative(x)), "abs": lambda x: arr(xp.abs(x)), "sign": sign,
            "floor": keep_int(xp.floor), "ceil": keep_int(xp.ceil), "round": keep_int(xp.round),
            "trunc": keep_int(xp.trunc)}
    assert set(same) == set(UNARY_SAME)
    k.update(same)
    preds = {"isnan": xp.isnan, "isinf": xp.isinf, "isfinite": xp.isfinite,
             "logical_not": xp.logical_not}
    assert set(preds) == set(UNARY_PREDICATE)
    k.update({n: (lambda f: lambda x: arr(f(x)))(f) for n, f in preds.items()})
    k["bitwise_not"] = lambda x: arr(xp.invert(x))

    def binary(f):
        def k(a, b):
            if type(b) is float and type(a) is ndarray:
                table = scalar_table(a.dtype)
                z = table.get(b) if table is not None and b else None
                b = z if z is not None else operand(b, a.dtype)
            r = f(a, b)
            return r if type(r) is ndarray else xp.asarray(r)
        return k

    arith = {"add": xp.add, "sub": xp.subtract, "mul": xp.multiply, "div": xp.true_divide,
             "floor_divide": xp.floor_divide, "remainder": xp.remainder, "pow": xp.power,
             "maximum": xp.maximum, "minimum": xp.minimum, "atan2": xp.arctan2}
    assert set(arith) == set(BINARY_ARITH)
    compare = {"eq": xp.equal, "ne": xp.not_equal, "lt": xp.less, "le": xp.less_equal,
               "gt": xp.greater, "ge": xp.greater_equal}
    assert set(compare) == set(BINARY_COMPARE)
    logical = {"logical_and": xp.logical_and, "logical_or": xp.logical_or,
               "logical_xor": xp.logical_xor}
    assert set(logical) == set(BINARY_LOGICAL)
    bitwise = {"bitwise_and": xp.bitwise_and, "bitwise_or": xp.bitwise_or,
               "bitwise_xor": xp.bitwise_xor}
    assert set(bitwise) == set(BINARY_BITWISE)
    def binary_arith(f):
        def k(a, b):
            tb = type(b)
            if (tb is float or tb is int) and type(a) is ndarray:
                table = scalar_table(a.dtype)
                z = table.get(b) if table is not None and b else None
                b = z if z is not None else operand(b, a.dtype)
            r = f(a, b)
            if type(r) is not ndarray:
                r = xp.asarray(r)
            if type(a) is not type(b):
                # NOTE: ml_dtypes' bfloat16 ignores NumPy's weak Python scalars
                # (bfloat16 + 2.5 is float32): round back to the array's dtype once.
                dt = a.dtype if type(a) is ndarray else b.dtype
                if r.dtype is not dt and r.dtype != dt:
                    r = r.astype(dt)
            return r
        return k

    k.update({n: binary_arith(f) for n, f in arith.items()})
    for table in (compare, logical, bitwise):
        k.update({n: binary(f) for n, f in table.items()})

    def low_precision_binary(f):
        def g(a, b):
            dt = getattr(a, "dtype", None) or b.dtype
            if dt in _LOW_PRECISION:
                a = a.astype(np.float32) if hasattr(a, "astype") else a
                b = b.astype(np.float32) if hasattr(b, "astype") else b
                return arr(f(a, b)).astype(dt)
            tb = type(b)
            if (tb is float or tb is int) and type(a) is ndarray:
                table = scalar_table(dt)
                z = table.get(b) if table is not None and b else None
                b = z if z is not None else operand(b, dt)
            return arr(f(a, b))
        return g

    for n in ("div", "pow", "atan2", "remainder", "floor_divide"):
        k[n] = low_precision_binary(arith[n])
    float_pow = k["pow"]

    def pow_(a, b):
        # NOTE: NumPy refuses negative integer exponents; torch gives 1 for a base of 1, +-1
        # for -1 and 0 otherwise (1 / base truncated)
        if getattr(b, "dtype", np.dtype(np.float64)).kind in "iu" and \
                getattr(a, "dtype", np.dtype(np.int64)).kind in "iu" and (b < 0).any():
            neg = b < 0
            r = float_pow(a, xp.where(neg, 0, b).astype(b.dtype))
            odd = (b % 2) != 0
            special = xp.where(a == 1, 1, xp.where(a == -1, xp.where(odd, -1, 1), 0))
            return arr(xp.where(neg, special, r).astype(r.dtype))
        return float_pow(a, b)

    k["pow"] = pow_

    def where(c, a, b):
        r = arr(xp.where(c, a, b))
        if type(a) is not type(b):  # bfloat16 with a Python scalar (see binary_arith)
            dt = a.dtype if type(a) is ndarray else b.dtype
            if r.dtype != dt:
                r = r.astype(dt)
        return r

    k["where"] = where
    def cast(x, dtype):
        if x.dtype.kind == "c" and dtype.category < 3 and dtype.category:
            x = x.real  # (the real part, as torch's cast; NumPy's astype would warn)
        return x.astype(dtype.np)

    k["cast"] = cast
    def contiguous(x):
        if parallel and x.size >= _Parallel.MIN_SIZE and x.ndim and x.shape[0] > 1:
            out = xp.empty(x.shape, x.dtype)
            _parallel.map(lambda i, j: xp.copyto(out[i:j], x[i:j]), x.shape[0])
            return out
        return xp.array(x, order="C", copy=True)

    k["contiguous"] = contiguous

    # reductions
    def rows_first(x, axes):
        # NOTE: NumPy reduces a short, contiguous last axis row by row (~7 us for a 128 x 10
        # max); over a Fortran-ordered copy the same reduction runs across whole rows at once.
        if (xp is np and len(axes) == 1 and axes[0] == x.ndim - 1 and x.ndim > 1 and
                x.shape[-1] <= 32 and x.size >= 256 and x.flags.c_contiguous):
            return xp.asfortranarray(x)
        return x

    # (NumPy's x.sum is a Python function around add.reduce: one frame less per reduction)
    reduce_sum = xp.add.reduce if xp is np else (
        lambda x, axis, dtype, out, keepdims: x.sum(axis=axis, keepdims=keepdims, dtype=dtype))

    @upcast
    def sum_(x, axes, keepdim):
        if len(axes) == x.ndim and not keepdim:
            axes = None  # NumPy's full reduction is faster than naming every axis
        else:
            x = rows_first(x, axes)
        return arr(reduce_sum(x, axes, x.dtype, None, keepdim))

    @upcast
    def prod(x, axes, keepdim):
        return arr(xp.prod(x, axis=axes, keepdims=keepdim, dtype=x.dtype))

    k["sum"], k["prod"] = sum_, prod
    k["amax"] = lambda x, axes, keepdim: arr(rows_first(x, axes).max(axis=axes,
                                                                      keepdims=keepdim))
    k["amin"] = lambda x, axes, keepdim: arr(rows_first(x, axes).min(axis=axes,
                                                                      keepdims=keepdim))

    def argext(f, better, pick):
        def g(x, axis, keepdim):
            if x.dtype in _LOW_PRECISION:
                x = x.astype(np.float32)
            n = x.shape[axis] if x.ndim else 1
            if 1 < n <= 16 and x.size >= 4096 * n:
                return _arg_short(x, axis, keepdim, better, pick)
            return arr(f(x, axis=axis, keepdims=keepdim)).astype(np.int64)
        return g

    def _arg_short(x, axis, keepdim, better, pick):
        # NOTE: NumPy's argmax over a short axis (max-pool windows) pays a per-row cost; a
        # branchless chain of compares over the few slices is several times faster. Strict
        # comparison keeps the first extreme; the first NaN wins, as np.argmax's.
        xs = xp.moveaxis(x, axis, -1)
        best = xs[..., 0]
        idx = xp.zeros(best.shape, np.int64)
        nan = x.dtype.kind == "f" and bool(xp.isnan(x).any())
        for j in range(1, xs.shape[-1]):
            v = xs[..., j]
            take = better(v, best)
            if nan:
                take |= xp.isnan(v) & ~xp.isnan(best)
            idx += take * (j - idx)
            best = pick(best, v)  # NaN propagates, so a later NaN never looks "better"
        return xp.expand_dims(idx, axis) if keepdim else idx

    k["argmax"] = argext(xp.argmax, xp.greater, xp.maximum)
    k["argmin"] = argext(xp.argmin, xp.less, xp.minimum)

    @upcast
    def cumsum(x, axis):
        return xp.cumsum(x, axis=axis, dtype=x.dtype)

    @upcast
    def cumprod(x, axis):
        return xp.cumprod(x, axis=axis, dtype=x.dtype)

    k["cumsum"], k["cumprod"] = cumsum, cumprod

    def sort(x, axis, descending, stable):
        src = x.astype(np.float32) if x.dtype in _LOW_PRECISION else x
        if descending:
            # Stable descending order: sort the reversed array ascending and reverse back, so
            # equal elements keep their original order (torch's stable descending sort).
            n = x.shape[axis]
            rev = xp.flip(src, axis)
            idx = xp.flip(xp.argsort(rev, axis=axis, kind="stable"), axis)
            idx = (n - 1) - idx
        else:
            idx = xp.argsort(src, axis=axis, kind="stable")
        idx = idx.astype(np.int64)
        return xp.take_along_axis(x, idx, axis), idx

    k["sort"] = sort
    def matmul(a, b):
        if a.dtype in _LOW_PRECISION:
            return xp.matmul(a.astype(np.float32), b.astype(np.float32)).astype(a.dtype)
        return xp.matmul(a, b)  # (operands are >= 2-d: the product is an array)

    k["matmul"] = matmul

    # fused kernels of linear (optional for a backend): one call instead of four dispatches
    def linear_forward(x, w, b):
        if xp is np:
            out = blas.linear(x, w, b)
            if out is not None:
                return out
        out = matmul(x, w.T)
        if b is not None:
            out += b  # (the product is a fresh array)
        return arr(out)

    def linear_backward(g, x, w, need_x, need_w, need_b):
        return (matmul(g, w) if need_x else None, matmul(g.T, x) if need_w else None,
                sum_(g, (0,), False) if need_b else None)

    k["linear_forward"], k["linear_backward"] = linear_forward, linear_backward

    # views
    def view(x, shape):
        if x.flags.c_contiguous:
            return x.reshape(shape)  # (always a view; the function form costs 3x more)
        try:
            return xp.reshape(x, shape, copy=False)
        except ValueError:
            return None

    k["view"] = view
    k["permute"] = lambda x, axes: x.transpose(axes)
    def expand(x, shape):
        if ndarray is np.ndarray and x.flags.c_contiguous and x.ndim == len(shape):
            # NOTE: np.broadcast_to costs ~2.5 us; a strided view over x's buffer ~0.4 us.
            # Read-only, as broadcast_to's, so writes through it fail (torch's overlap error).
            if x.size == 1:
                strides = (0,) * len(shape)
            else:
                strides = tuple([0 if n == 1 and m != 1 else st
                                 for n, m, st in zip(x.shape, shape, x.strides)])
            r = np.ndarray(shape, x.dtype, x, 0, strides)
            r.flags.writeable = False
            return r
        return xp.broadcast_to(x, shape)

    k["expand"] = expand
    k["getitem_basic"] = lambda x, index: x[index + (Ellipsis,)]
    k["as_strided"] = lambda x, shape, strides: xp.lib.stride_tricks.as_strided(
        x, shape, tuple(s * x.itemsize for s in strides))
    def strides(x):
        size = x.itemsize
        return tuple([s // size for s in x.strides])

    k["strides"] = strides
    k["is_contiguous"] = lambda x: x.flags.c_contiguous  # (optional: clone's fast path)

    def byte_address(x):
        # NOTE: CuPy arrays (this table serves the cuda backend too) describe themselves
        # through the CUDA interface, NumPy arrays through the host one
        face = getattr(x, "__cuda_array_interface__", None) or x.__array_interface__
        return face["data"][0]

    k["byte_address"] = byte_address

    # gathers and scatters
    k["getitem_advanced"] = lambda x, index: arr(x[index])

    def setitem(x, index, value):
        try:
            if index == ():
                x[...] = value
            else:
                x[index] = value
        except ValueError as e:
            if "read-only" in str(e):
                raise RuntimeError("unsupported operation: more than one element of the written-"
                                   "to tensor refers to a single memory location. Please clone() "
                                   "the tensor before performing the operation.") from None
            raise

    def index_add(x, index, values):
        if (len(index) == 1 and x.ndim == 1 and x.dtype.kind == "f" and
                getattr(index[0], "ndim", 0) == 1 and x.flags.c_contiguous):
            # NOTE: add.at is ~50x slower than bincount for the scatter-adds of as_strided and
            # embedding backward; bincount accumulates in float64, then rounds once.
            idx = index[0]
            if idx.size and (int(idx.min()) < -x.shape[0] or int(idx.max()) >= x.shape[0]):
                raise IndexError(f"index {int(idx.max())} is out of bounds for dimension 0 with "
                                 f"size {x.shape[0]}")
            idx = xp.where(idx < 0, idx + x.shape[0], idx)
            vals = xp.broadcast_to(values, idx.shape).astype(np.float64)
            x += xp.bincount(idx, weights=vals, minlength=x.shape[0]).astype(x.dtype)
            return
        add_at(x, index, values)

    k["setitem"], k["index_add"] = setitem, index_add

    def grid(index, axis):
        g = list(xp.ogrid[tuple(slice(0, s) for s in index.shape)]) if index.ndim else []
        g[axis] = index
        return tuple(g)

    def check_index(index, size, op):
        if index.size:
            lo, hi = int(index.min()), int(index.max())
            if lo < -size or hi >= size:
                bad = hi if hi >= size else lo
                raise IndexError(f"{op}(): index {bad} is out of bounds for dimension with size "
                                 f"{size}")

    def gather(x, axis, index):
        check_index(index, x.shape[axis], "gather")
        if all(i == axis or a == b for i, (a, b) in enumerate(zip(x.shape, index.shape))):
            return arr(xp.take_along_axis(x, index, axis))  # the common case, without a grid
        return arr(x[grid(index, axis)])

    def scatter(x, axis, index, src):
        check_index(index, x.shape[axis], "scatter")
        out = x.copy()
        out[grid(index, axis)] = src[tuple(slice(0, s) for s in index.shape)]
        return out

    def scatter_add(x, axis, index, src):
        check_index(index, x.shape[axis], "scatter_add")
        out = x.copy()
        src = src[tuple(slice(0, s) for s in index.shape)]
        if xp is np and index.shape[axis] == 1 and \
                index.shape == x.shape[:axis] + (1,) + x.shape[axis + 1:]:
            # one index per row cannot repeat: a plain put (add.at is ~50x slower)
            cur = xp.take_along_axis(out, index, axis)
            xp.put_along_axis(out, index, cur + src, axis)
            return out
        add_at(out, grid(index, axis), src)
        return out

    k["gather"], k["scatter"], k["scatter_add"] = gather, scatter, scatter_add

    # NOTE: ufunc.at combines repeated indices one after another in index order, as torch's cpu
    # kernel does (so half-precision products round at each step, as there); maximum/minimum
    # propagate NaN, as torch's amax/amin
    reducers = {"prod": xp.multiply, "amax": xp.maximum, "amin": xp.minimum}

    def scatter_reduce(x, axis, index, src, reduce):
        out = x.copy()
        reducers[reduce].at(out, grid(index, axis), src)
        return out

    k["scatter_reduce"] = scatter_reduce
    k["nonzero"] = lambda x: xp.argwhere(x).astype(np.int64)
    k["cat"] = lambda arrays, axis: xp.concatenate(arrays, axis=axis)
    k["flip"] = lambda x, axes: xp.flip(x, axes).copy()

    # optional in-place kernels (plugins/api.py OPTIONAL_KERNELS)
    def inplace(f):
        def k(a, b):
            if parallel and a.size >= _Parallel.MIN_SIZE and a.ndim and a.shape[0] > 1:
                if getattr(b, "ndim", 0) == a.ndim and b.shape[0] == a.shape[0]:
                    _parallel.map(lambda i, j: f(a[i:j], b[i:j], out=a[i:j]), a.shape[0])
                    return
                if getattr(b, "ndim", 0) < a.ndim or b.shape[0] == 1:  # b broadcasts over rows
                    _parallel.map(lambda i, j: f(a[i:j], b, out=a[i:j]), a.shape[0])
                    return
            f(a, b, out=a)
        return k

    k["add_"], k["sub_"] = inplace(xp.add), inplace(xp.subtract)
    k["mul_"], k["div_"] = inplace(xp.multiply), inplace(xp.true_divide)

    # fused kernels for composites (optional for a backend)
    def relu(x):
        if x.dtype.kind == "c":
            raise NotImplementedError("clamp is not supported for complex types")
        return arr(xp.maximum(x, zeros.get(x.dtype, 0)))

    k["relu"] = relu

    def tanh_backward(g, out):
        r = arr(out * out)
        xp.subtract(ones.get(r.dtype, 1), r, out=r)
        if r.shape == g.shape and r.dtype == g.dtype:
            return xp.multiply(g, r, out=r)
        return arr(g * r)

    def sigmoid_backward(g, out):
        r = arr(ones.get(out.dtype, 1) - out)
        r *= out
        if r.shape == g.shape and r.dtype == g.dtype:
            return xp.multiply(g, r, out=r)
        return arr(g * r)

    k["tanh_backward"] = tanh_backward
    k["sigmoid_backward"] = sigmoid_backward
    _same_size_int = {2: np.int16, 4: np.int32, 8: np.int64}
    _zero_of = {}  # dtype -> its 0-d zero (np.where with a Python 0 converts it every call)

    def threshold_backward(g, out):
        # torch's rule: 0 where out <= 0, else g (also where out is NaN)
        zero = out <= zeros.get(out.dtype, 0)
        if g.size < 2048 or g.dtype.kind != "f" or out.shape != g.shape:
            if xp is not np:  # (a CuPy zero would live on one GPU)
                r = arr(xp.where(zero, 0, g))
                return r if r.dtype == g.dtype else r.astype(g.dtype)
            z = _zero_of.get(g.dtype)
            if z is None:
                z = _zero_of[g.dtype] = xp.zeros((), g.dtype)
            return arr(xp.where(zero, z, g))
        # NOTE: on large random masks np.where is ~10x slower than plain passes; so g's bits
        # are and-ed with a mask of all ones (keep) or zeros (+0.0): an exact select, also
        # where g is inf or NaN (a product with a 0/1 mask would give NaN there)
        it = _same_size_int[g.dtype.itemsize]
        keep = xp.subtract(zero.view(np.uint8), 1, dtype=it)   # False -> -1, True -> 0
        return xp.bitwise_and(g.view(it), keep, out=keep).view(g.dtype)

    k["threshold_backward"] = threshold_backward

    def cross_entropy_forward(x, target, weight, ignore_index, reduction):
        dt = x.dtype
        if dt in _LOW_PRECISION:
            x = x.astype(np.float32)
            weight = weight.astype(np.float32) if weight is not None else None
        x = rows_first(x, (1,))
        z = x - x.max(1, keepdims=True)
        e = xp.exp(z)
        logp = z
        logp -= xp.log(e.sum(1, keepdims=True))
        n = target.shape[0]
        if n and weight is None and reduction == "mean":
            lo, hi = int(target.min()), int(target.max())
            if 0 <= lo and hi < x.shape[1] and not lo <= ignore_index <= hi:
                # the common case (no weights, nothing ignored) in fewer passes, with the
                # general path's numbers: loss = -sum(picked) / n, coefficient 1 / n per row
                picked = logp[xp.arange(n), target]
                one_n = x.dtype.type(1) / x.dtype.type(n)
                out = xp.negative(picked.sum()) / x.dtype.type(n)
                return (arr(out).astype(dt, copy=False), logp.astype(dt, copy=False),
                        target.copy(), xp.full(n, one_n, dtype=x.dtype).astype(dt, copy=False))
        valid = target != ignore_index
        safe = xp.where(valid, target, 0)
        if safe.size:
            lo, hi = int(safe.min()), int(safe.max())
            if lo < 0 or hi >= x.shape[1]:
                raise IndexError(f"Target {lo if lo < 0 else hi} is out of bounds.")
        picked = logp[xp.arange(logp.shape[0]), safe]
        w = valid.astype(x.dtype)
        if weight is not None:
            w *= weight[safe]
        losses = picked * w
        xp.negative(losses, out=losses)
        out, coef = reduce_losses(losses, w, reduction)
        return (arr(out).astype(dt, copy=False), logp.astype(dt, copy=False), safe,
                coef.astype(dt, copy=False))

    def cross_entropy_backward(g, logp, target, coef):
        dt = logp.dtype
        r = xp.exp(logp.astype(np.float32) if dt in _LOW_PRECISION else logp)
        r[xp.arange(r.shape[0]), target] -= 1.0
        r *= (coef * g)[:, None]
        return r.astype(dt, copy=False)

    mul = k["mul"]  # (array * Python float in the array's dtype, as the decomposition's)

    def sgd_momentum_update_(param, grad, buf, lr, momentum, dampening, nesterov):
        if (xp is np and not nesterov and param.size >= 4096 and
                blas.sgd_momentum(param, grad, buf, lr, momentum, dampening)):
            return
        buf *= momentum
        buf += grad if dampening == 0 else mul(grad, 1 - dampening)
        step = grad + mul(buf, momentum) if nesterov else buf
        param += mul(step, -lr)

    k["sgd_momentum_update_"] = sgd_momentum_update_
    k["cross_entropy_forward"] = cross_entropy_forward
    k["cross_entropy_backward"] = cross_entropy_backward

    def batch_split(fn, out, *arrays):
        # NOTE: images of a batch are independent: large pooling and fold kernels run on parts
        # of the batch in parallel when the first input is large (NumPy releases the GIL inside
        # each slice's ufunc loop)
        if parallel and arrays[0].size >= _Parallel.MIN_SIZE and out.shape[0] > 1:
            _parallel.map(lambda i, j: fn(out[i:j], *(a[i:j] for a in arrays)), out.shape[0])
        else:
            fn(out, *arrays)
        return out

    def max_pool2d_blocks(x, kernel):
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = h // kh, w // kw
        out = xp.empty((n, c, oh, ow), x.dtype)

        def run(o, xs):
            # NOTE: the max over the kernel rows first, between whole image rows, then over the
            # kernel columns of that smaller result: NumPy pays per short strided row.
            # maximum propagates NaN, as torch's max-pool
            rows = xs[:, :, :oh * kh, :ow * kw].reshape(xs.shape[0], c, oh, kh, ow * kw)
            r = rows[:, :, :, 0]
            for i in range(1, kh):
                r = xp.maximum(r, rows[:, :, :, i])
            cols = r.reshape(xs.shape[0], c, oh, ow, kw)
            o[...] = cols[..., 0]
            for j in range(1, kw):
                xp.maximum(o, cols[..., j], out=o)
        return batch_split(run, out, x)

    def max_pool2d_blocks_backward(grad, x, out, kernel):
        n, c, h, w = x.shape
        kh, kw = kernel
        oh, ow = out.shape[2:]
        crop = (slice(None), slice(None), slice(0, oh * kh), slice(0, ow * kw))
        gx = xp.zeros(x.shape, grad.dtype) if (oh * kh, ow * kw) != (h, w) else \
            xp.empty(x.shape, grad.dtype)
        nan = out.dtype.kind == "f" and bool(xp.isnan(out).any())
        # NOTE: a product with the mask is ~10x faster than a masked copy, but inf * 0 is NaN
        # where torch gives 0, so a non-finite grad takes np.where
        finite = bool(xp.isfinite(grad).all())

        def run(gxs, xs, outs, gs):
            def offsets(a):  # (kh, kw, m, C, OH, OW): the block offsets as leading axes
                return a[crop].reshape(a.shape[0], c, oh, kh, ow, kw).transpose(3, 5, 0, 1, 2, 4)
            # NOTE: one compare with the broadcast max into contiguous planes, then the
            # first-hit logic on whole planes: strided ops with rows OW long cost per row
            hit = xp.empty((kh, kw) + outs.shape, bool)
            xp.equal(offsets(xs), outs, out=hit)
            if nan:  # the first NaN of a block is its maximum, as in the decomposition
                hit |= xp.isnan(offsets(xs)) & xp.isnan(outs)
            flat = hit.reshape((kh * kw,) + outs.shape)
            free = ~flat[0]  # blocks whose first maximum is not found yet
            for k in range(1, kh * kw):
                flat[k] &= free
                free ^= flat[k]
            if finite:
                xp.multiply(gs, hit, out=offsets(gxs))
            else:
                offsets(gxs)[...] = xp.where(hit, gs, 0)
        return batch_split(run, gx, x, out, grad)

    k["max_pool2d_blocks"] = max_pool2d_blocks
    k["max_pool2d_blocks_backward"] = max_pool2d_blocks_backward

    def fold_windows(grad, shape, kernel, stride, dilation):
        (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
        oh, ow = grad.shape[2:4]

        def run(gx, g):
            for i in range(kh):
                for j in range(kw):
                    gx[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                       j * dw:j * dw + sw * (ow - 1) + 1:sw] += g[:, :, :, :, i, j]
        return batch_split(run, xp.zeros(shape, grad.dtype), grad)

    k["fold_windows"] = fold_windows

    # creation
    k["empty"] = lambda shape, dtype, index: xp.empty(shape, dtype.np)
    def full(shape, value, dtype, index):
        if shape == ():  # (a 0-d array directly: np.full is Python code around empty + copyto)
            return xp.array(value, dtype.np)
        return xp.full(shape, value, dtype.np)

    k["full"] = full
    k["arange"] = lambda start, stop, step, dtype, index: xp.arange(start, stop, step,
                                                                    dtype=dtype.np)
    k.update(complex_kernels(xp, arr))
    return k


# NumPy's names of the normalisations of an (inverse) FFT, by Ember's normalisation mode:
# "none" scales neither way, "sqrt" by 1/sqrt(n), "n" by 1/n (torch's fft_norm_mode)
_NP_NORM = {(True, "none"): "backward", (True, "sqrt"): "ortho", (True, "n"): "forward",
            (False, "none"): "forward", (False, "sqrt"): "ortho", (False, "n"): "backward"}


def complex_kernels(xp, arr):
    """Kernels of complex tensors (optional: see plugins/api.py OPTIONAL_KERNELS): real views
    of complex buffers, and the FFTs of ember.fft."""
    def view_as_real(x):
        r = x.real  # (a view of the real parts; the imaginary part follows each one)
        return xp.lib.stride_tricks.as_strided(r, x.shape + (2,), r.strides + (r.itemsize,))

    def view_as_complex(x):
        c = xp.dtype(xp.complex64 if x.dtype == xp.float32 else xp.complex128)
        try:
            return x.view(c)[..., 0]
        except ValueError:
            return None

    def complex_(re, im):
        # (not re + 1j * im: inf * 1j has a NaN real part)
        r = xp.empty(np.broadcast_shapes(re.shape, im.shape),
                     xp.complex64 if re.dtype == xp.float32 else xp.complex128)
        r.real[...] = re
        r.imag[...] = im
        return r

    def same_precision(r, like_real):
        # NOTE: NumPy's pocketfft computes float32 input in float32; cast back in case a
        # version widens (torch keeps float32 -> complex64)
        c = xp.complex64 if like_real in (xp.float32, xp.complex64) else xp.complex128
        return r if r.dtype == c else r.astype(c)

    def fft_c2c(x, axes, norm, forward):
        f = xp.fft.fftn if forward else xp.fft.ifftn
        return same_precision(arr(f(x, axes=axes, norm=_NP_NORM[forward, norm])), x.dtype)

    def fft_r2c(x, axes, norm, onesided):
        if onesided:
            r = xp.fft.rfftn(x, axes=axes, norm=_NP_NORM[True, norm])
        else:
            r = xp.fft.fftn(x, axes=axes, norm=_NP_NORM[True, norm])
        return same_precision(arr(r), x.dtype)

    def fft_c2r(x, axes, norm, last_size):
        s = [x.shape[a] for a in axes[:-1]] + [last_size]
        r = arr(xp.fft.irfftn(x, s=s, axes=axes, norm=_NP_NORM[False, norm]))
        real = xp.float32 if x.dtype == xp.complex64 else xp.float64
        return r if r.dtype == real else r.astype(real)

    return {"real_view": lambda x: x.real, "imag_view": lambda x: x.imag,
            "view_as_real": view_as_real, "view_as_complex": view_as_complex,
            "conj": lambda x: arr(xp.conj(x)), "angle": lambda x: arr(xp.angle(x)),
            "complex": complex_, "fft_c2c": fft_c2c, "fft_r2c": fft_r2c, "fft_c2r": fft_c2r}


def linalg_kernels(xp):
    """Decompositions for ember.linalg (not primitives: a backend may leave them out)."""
    from .linalg import linalg_extra_kernels
    la = xp.linalg

    def svd(x):
        return tuple(la.svd(x, full_matrices=False))

    def svd_full(x):
        return tuple(la.svd(x, full_matrices=True))

    def eig(x):
        # (complex results always: geev of a real matrix may give real arrays)
        c = xp.result_type(x.dtype, xp.complex64)
        w, v = la.eig(x)
        return w.astype(c, copy=False), v.astype(c, copy=False)

    kernels = {"linalg_inv": la.inv, "linalg_det": lambda x: xp.asarray(la.det(x)),
               "linalg_svd": svd, "linalg_svd_full": svd_full,
               "linalg_qr": lambda x, mode="reduced": tuple(la.qr(x, mode)),
               "linalg_eigh": lambda x: tuple(la.eigh(x)),
               "linalg_cholesky": lambda x: (la.cholesky(x),), **linalg_extra_kernels(xp)}
    if hasattr(la, "eig"):  # (not in every CuPy: ember.linalg.eig then runs on cpu)
        kernels["linalg_eig"] = eig
    return kernels


def _erf32(x):
    # Numerical Recipes' erfc (Abramowitz & Stegun 7.1.26 refined): relative error < 1.2e-7 of
    # erfc, so erf = 1 - erfc is within float32 resolution from |x| = 0.5 on. Below, where erf
    # is small and an absolute error would show (erf(0) must be 0), the Maclaurin series to
    # x^15: relative error < 1e-9. Computed in float64 and rounded once.
    w = x.astype(np.float64).reshape(-1)
    z = np.abs(w)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277)))))))))
    r = np.copysign(1.0 - t * np.exp(poly), w)
    small = z < 0.5
    if small.any():
        s = w[small]
        s2 = s * s
        term, total = s, s.copy()
        for n in range(1, 8):  # x^(2n+1) (-1)^n / (n! (2n+1))
            term = term * -s2 / n
            total += term / (2 * n + 1)
        r[small] = np.copysign(total * (2.0 / math.sqrt(math.pi)), s)  # (erf(-0) is -0)
    return r.astype(x.dtype).reshape(x.shape)


_erf_vec = np.frompyfunc(math.erf, 1, 1)


def _erf64(x):
    return np.asarray(_erf_vec(x), dtype=np.float64)


# NOTE: the generator and random kernels live in random.py; plugins import them from here.
from .random import CpuGenerator, rng_kernels  # noqa: E402,F401
