"""Every OpenCL kernel against NumPy: random inputs, every claimed dtype, strided and expanded
views, 0-d and empty shapes. Run: python -m pytest tests/opencl -q"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ember.backends.opencl.array import c_strides
from ember.plugins.api import (BINARY_ARITH, BINARY_BITWISE, BINARY_COMPARE, BINARY_LOGICAL,
                               PRIMITIVES, UNARY_FLOAT, UNARY_PREDICATE, UNARY_SAME)

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]
FLOATS = ["float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
rng = np.random.default_rng(0)


class D:
    """Stand-in for an ember dtype object (the kernels read .name and .np)."""

    def __init__(self, name):
        self.name, self.np = name, np.dtype(name)


@pytest.fixture(scope="module")
def K(backend):
    return backend.kernels


@pytest.fixture(scope="module")
def up(backend):
    return lambda a: backend.from_numpy(np.asarray(a), 0)


@pytest.fixture(scope="module")
def dn(backend):
    return backend.to_numpy


def claimed(backend, names):
    return [n for n in names if n in backend.dtypes]


def rand(dtype, shape, low=None, high=None):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return rng.random(shape) > 0.5
    if dt.kind == "f":
        lo, hi = (-3, 3) if low is None else (low, high)
        return rng.uniform(lo, hi, shape).astype(dt)
    lo = max(-50, np.iinfo(dt).min) if low is None else low
    hi = min(50, np.iinfo(dt).max) if high is None else high
    return rng.integers(lo, hi, shape, endpoint=True).astype(dt)


def layouts(K, up, base):
    """(device array, NumPy reference) pairs with the same values: contiguous, transposed view,
    stepped slice view, expanded (0-stride) view, 0-d and empty. base is 2-d (3, 4)."""
    yield up(base), base
    yield K["permute"](up(np.ascontiguousarray(base.T)), (1, 0)), base
    wide = np.repeat(base, 2, axis=1)
    yield K["getitem_basic"](up(wide), (slice(0, 3, 1), slice(0, 8, 2))), wide[:, ::2]
    yield K["expand"](up(base[:1]), base.shape), np.broadcast_to(base[:1], base.shape)
    yield up(base[0, 0]), base[0, 0]
    yield up(base[:0]), base[:0]


def check(got, want, dtype=None):
    want = np.asarray(want)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    if got.dtype.kind == "f":
        tol = 1e-5 if got.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


# -- the table ---------------------------------------------------------------------------------

def test_every_primitive_has_a_kernel(backend):
    assert set(PRIMITIVES) <= set(backend.kernels)
    assert backend.name == "opencl"
    assert {"bool", "uint8", "int8", "int16", "int32", "int64", "float32"} <= backend.dtypes


def test_plugin_import_is_lightweight():
    code = ("import sys, ember.backends.opencl as p; assert 'pyopencl' not in sys.modules; "
            "print(p.ember_register_backends()[0].name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_child_env())
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "opencl"


def _child_env():
    import os
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


# -- elementwise -------------------------------------------------------------------------------

_DOMAIN = {"log": (0.1, 5), "log2": (0.1, 5), "sqrt": (0, 5), "log1p": (-0.5, 5),
           "asin": (-0.99, 0.99), "acos": (-0.99, 0.99), "tan": (-1.2, 1.2),
           "reciprocal": (0.2, 3)}


def _np_unary(name):
    fns = {"sigmoid": lambda x: 1 / (1 + np.exp(-x)), "asin": np.arcsin, "acos": np.arccos,
           "atan": np.arctan, "reciprocal": lambda x: 1 / x, "neg": np.negative,
           "trunc": np.trunc, "bitwise_not": np.invert}
    if name == "erf":
        import math
        return lambda x: np.vectorize(math.erf, otypes=[x.dtype])(x).astype(x.dtype)
    return fns.get(name) or getattr(np, name)


def _unary_cases(backend):
    for name in UNARY_FLOAT:
        for dt in claimed(backend, FLOATS):
            yield name, dt
    for name in UNARY_SAME + UNARY_PREDICATE:
        for dt in claimed(backend, DTYPES):
            if not (dt == "bool" and name in ("neg", "abs")):  # NumPy refuses these
                yield name, dt
    for dt in ["bool"] + INTS:
        yield "bitwise_not", dt


@pytest.mark.parametrize("name,dtype", list(_unary_cases(type("B", (), {"dtypes": DTYPES}))))
def test_unary(backend, K, up, dn, name, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    lo, hi = _DOMAIN.get(name, (None, None))
    base = rand(dtype, (3, 4), lo, hi)
    if dtype.startswith("float") and name in UNARY_SAME + UNARY_PREDICATE:
        base[0, :3] = [np.nan, np.inf, -2.5]  # round-half-even, NaN and inf handling
        base[1, :2] = [0.5, 1.5]
    ref = _np_unary(name)
    if name == "sign" and dtype == "bool":
        ref = np.copy  # the contract: sign of bool is itself
    for x, want in layouts(K, up, base):
        got = dn(K[name](x))
        want = np.asarray(ref(want))
        check(got, want.astype(got.dtype) if name not in UNARY_PREDICATE else want)


def test_sigmoid_extremes(backend, K, up, dn):
    got = dn(K["sigmoid"](up(np.array([-1000, 0, 1000], np.float32))))
    np.testing.assert_array_equal(got, [0, 0.5, 1])


def _np_binary(name):
    fns = {"sub": np.subtract, "mul": np.multiply, "div": np.true_divide, "pow": np.power,
           "eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal,
           "gt": np.greater, "ge": np.greater_equal}
    return fns.get(name) or getattr(np, name)


def _binary_cases():
    for name in BINARY_ARITH + BINARY_COMPARE + BINARY_LOGICAL + BINARY_BITWISE:
        for dt in DTYPES:
            if name in ("div", "atan2") and dt not in FLOATS:
                continue
            if name in BINARY_BITWISE and dt in FLOATS:
                continue
            if dt == "bool" and name in ("sub", "floor_divide", "remainder", "pow"):
                continue  # NumPy refuses or changes dtype; the contract leaves these open
            yield name, dt


@pytest.mark.parametrize("name,dtype", list(_binary_cases()))
def test_binary(backend, K, up, dn, name, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    a = rand(dtype, (3, 1, 4))
    b = rand(dtype, (5, 4))
    if name == "pow" and dtype in INTS:
        a, b = rand(dtype, (3, 1, 4), 0, 5), rand(dtype, (5, 4), 0, 5)
    if name in ("floor_divide", "remainder") and dtype in INTS:
        b[0] = 0  # division by zero gives 0, as NumPy's
    if dtype in FLOATS:
        a.flat[:2] = [np.nan, -0.0]
    ref = _np_binary(name)
    with np.errstate(all="ignore"):
        want = ref(a, b)
        check(dn(K[name](up(a), up(b))), want)
        # strided: b through a transposed view, a expanded
        bt = K["permute"](up(np.ascontiguousarray(b.T)), (1, 0))
        ax = K["expand"](up(a), (3, 5, 4))
        check(dn(K[name](ax, bt)), ref(np.broadcast_to(a, (3, 5, 4)), b))
        # a Python scalar on either side keeps the array's dtype
        s = {"bool": True, "uint8": 3}.get(dtype, 2.5 if dtype in FLOATS else -3)
        if name == "pow" and dtype in INTS:
            s = 2
        sc = np.array(s, dtype)
        check(dn(K[name](up(a), s)), ref(a, sc))
        check(dn(K[name](s, up(b))), ref(sc, b))
        # 0-d and empty
        check(dn(K[name](up(a[0, 0, 0]), up(b[0, 0]))), ref(a[0, 0, 0], b[0, 0]))
        check(dn(K[name](up(a[:0]), up(b))), ref(a[:0], b))


def test_integer_division_edges(K, up, dn):
    a = np.array([-7, 7, -7, 7, -128, 5], np.int8)
    b = np.array([2, -2, -2, 2, -1, 0], np.int8)
    with np.errstate(all="ignore"):
        check(dn(K["floor_divide"](up(a), up(b))), np.floor_divide(a, b))
        check(dn(K["remainder"](up(a), up(b))), np.remainder(a, b))
    af = np.array([-7.5, 7.5, -7.5, 7.5, 1.0, -0.0], np.float64)
    bf = np.array([2.0, -2.0, -2.0, 2.0, 0.0, 3.0], np.float64)
    with np.errstate(all="ignore"):
        check(dn(K["floor_divide"](up(af), up(bf))), np.floor_divide(af, bf))
        check(dn(K["remainder"](up(af), up(bf))), np.remainder(af, bf))


def test_integer_pow_negative_exponent(K, up, dn):
    a = np.array([1, -1, -1, 2, 0], np.int32)
    got = dn(K["pow"](up(a), up(np.array([-3, -3, -2, -1, 2], np.int32))))
    check(got, np.array([1, -1, 1, 0, 0], np.int32))  # as torch


def test_bool_arithmetic_is_logical(K, up, dn):
    a, b = np.array([0, 1, 1, 0], bool), np.array([0, 0, 1, 1], bool)
    check(dn(K["add"](up(a), up(b))), a | b)
    check(dn(K["mul"](up(a), up(b))), a & b)
    check(dn(K["maximum"](up(a), up(b))), a | b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_where(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    c = rand("bool", (3, 1))
    a, b = rand(dtype, (1, 4)), rand(dtype, (3, 4))
    check(dn(K["where"](up(c), up(a), up(b))), np.where(c, a, b))
    s = np.array(1, dtype)[()]
    check(dn(K["where"](up(c), s.item(), up(b))), np.where(c, s, b).astype(dtype))
    check(dn(K["where"](up(c[:0]), up(a), up(b[:0]))), np.where(c[:0], a, b[:0]))


@pytest.mark.parametrize("src", DTYPES)
def test_cast(backend, K, up, dn, src):
    if src not in backend.dtypes:
        pytest.skip(f"device does not claim {src}")
    base = rand(src, (3, 4), -100, 100) if src in FLOATS else rand(src, (3, 4))
    if src in FLOATS:
        base.flat[:4] = [-2.7, 2.7, -0.0, 0.4]  # truncation toward zero; 0.4 -> bool True
    for dst in claimed(backend, DTYPES):
        for x, want in layouts(K, up, base):
            with np.errstate(all="ignore"):
                check(dn(K["cast"](x, D(dst))), np.asarray(want).astype(dst))


def test_contiguous_copies(K, up, dn):
    base = rand("float32", (3, 4))
    for x, want in layouts(K, up, base):
        y = K["contiguous"](x)
        assert y.buffer is not x.buffer and K["strides"](y) == c_strides(y.shape)
        check(dn(y), want)


# -- reductions and scans -----------------------------------------------------------------------

_RED = {"sum": np.sum, "prod": np.prod, "amax": np.max, "amin": np.min}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", list(_RED))
def test_reductions(backend, K, up, dn, op, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    small = op == "prod" and dtype in INTS  # keep products in range
    base = rand(dtype, (3, 5, 4), 1, 3) if small else rand(dtype, (3, 5, 4))
    if dtype == "bool" and op in ("sum", "prod"):
        ref = {"sum": np.any, "prod": np.all}[op]  # bool add is or, mul is and
    else:
        ref = _RED[op] if op in ("amax", "amin") else (
            lambda a, **kw: _RED[op](a, dtype=a.dtype, **kw))
    x = up(base)
    xt = K["permute"](up(np.ascontiguousarray(base.transpose(2, 0, 1))), (1, 2, 0))
    for axes in [(0,), (1,), (2,), (0, 2), (0, 1, 2), ()]:
        for keep in (False, True):
            want = np.asarray(ref(base, axis=axes, keepdims=keep))
            check(dn(K[op](x, axes, keep)), want.astype(dtype))
            check(dn(K[op](xt, axes, keep)), want.astype(dtype))
    check(dn(K[op](up(base[0, 0, 0]), (), False)), np.asarray(base[0, 0, 0]))
    if op in ("sum", "prod"):  # empty reductions give the identity
        check(dn(K[op](up(base[:, :0]), (1,), False)),
              np.asarray(ref(base[:, :0], axis=1)).astype(dtype))


@pytest.mark.parametrize("dtype", ["float32", "int64", "float64"])
def test_large_reductions_two_pass(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (300_001,))
    got = dn(K["sum"](up(base), (0,), False))
    np.testing.assert_allclose(got, base.astype(np.float64).sum(), rtol=1e-4)
    check(dn(K["amax"](up(base), (0,), False)), np.asarray(base.max()))
    wide = rand(dtype, (3, 70_000))
    np.testing.assert_allclose(dn(K["sum"](up(wide), (1,), True)),
                               wide.astype(np.float64).sum(1, keepdims=True), rtol=1e-4)


def test_nan_propagates_in_amax_amin(K, up, dn):
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], np.float32)
    check(dn(K["amax"](up(a), (1,), False)), np.max(a, axis=1))
    check(dn(K["amin"](up(a), (0, 1), False)), np.asarray(np.min(a)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_reductions(backend, K, up, dn, op, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (4, 300), 0, 3) if dtype != "bool" else rand(dtype, (4, 300))  # ties
    if dtype in FLOATS:
        base[1, 7], base[1, 100] = np.nan, np.nan  # first NaN wins both ways
    ref = getattr(np, op)
    x = up(base)
    for axis in (0, 1):
        for keep in (False, True):
            check(dn(K[op](x, axis, keep)), ref(base, axis=axis, keepdims=keep).astype(np.int64))
    xt = K["permute"](up(np.ascontiguousarray(base.T)), (1, 0))
    check(dn(K[op](xt, 1, False)), ref(base, axis=1))
    check(dn(K[op](x, None, False)), np.asarray(ref(base)))
    check(dn(K[op](up(base[:, :5]), 1, False)), ref(base[:, :5], axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_scans(backend, K, up, dn, op, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    if dtype == "bool":
        base = rand(dtype, (3, 40))
        ref = {"cumsum": np.logical_or, "cumprod": np.logical_and}[op].accumulate
    else:
        base = rand(dtype, (3, 40), -2, 2) if op == "cumprod" else rand(dtype, (3, 40))
        if op == "cumprod" and dtype in FLOATS:
            base = rand(dtype, (3, 40), 0.5, 1.5)
        ref = lambda a, axis: getattr(np, op)(a, axis=axis, dtype=a.dtype)  # noqa: E731
    x = up(base)
    for axis in (0, 1):
        check(dn(K[op](x, axis)), ref(base, axis=axis))
    xt = K["permute"](up(np.ascontiguousarray(base.T)), (1, 0))
    check(dn(K[op](xt, 1)), ref(base, axis=1))
    check(dn(K[op](up(base[:0]), 1)), ref(base[:0], axis=1))
    check(dn(K[op](up(base[0, 0]), 0)), np.asarray(base[0, 0]))


def test_long_scan(K, up, dn):
    base = rng.integers(-100, 100, 200_003).astype(np.int64)
    check(dn(K["cumsum"](up(base), 0)), np.cumsum(base))


# -- sort -------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_sort(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (5, 37), 0, 6) if dtype != "bool" else rand(dtype, (5, 37))  # ties
    if dtype in FLOATS:
        base[0, [3, 9]] = np.nan
        base[1, 4] = -np.inf
    for axis in (0, 1):
        for desc in (False, True):
            v, i = K["sort"](up(base), axis, desc, True)
            order = _ref_argsort(base, axis, desc)
            check(dn(i), order)
            check(dn(v), np.take_along_axis(base, order, axis))
    vt, it = K["sort"](K["permute"](up(np.ascontiguousarray(base.T)), (1, 0)), 1, False, True)
    check(dn(vt), np.sort(base, axis=1, kind="stable"))


def _ref_argsort(a, axis, desc):
    """Stable order with NaN largest; descending keeps equal elements in their original order
    (the cpu backend's rule)."""
    if not desc:
        return np.argsort(a, axis=axis, kind="stable").astype(np.int64)
    n = a.shape[axis]
    idx = np.flip(np.argsort(np.flip(a, axis), axis=axis, kind="stable"), axis)
    return ((n - 1) - idx).astype(np.int64)


def test_sort_long_rows_and_empty(K, up, dn):
    base = rng.standard_normal((2, 5000)).astype(np.float32)
    v, i = K["sort"](up(base), 1, False, True)
    check(dn(i), np.argsort(base, axis=1, kind="stable"))
    v, i = K["sort"](up(base[:, :0]), 1, True, True)
    assert dn(v).shape == (2, 0) and dn(i).dtype == np.int64


# -- matmul ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    lo, hi = (0, 3) if dtype in INTS else (None, None)
    for (m, k, n) in [(1, 1, 1), (37, 53, 71), (64, 64, 64), (3, 130, 2)]:
        a, b = rand(dtype, (m, k), lo, hi), rand(dtype, (k, n), lo, hi)
        want = (a.astype(np.int64) @ b.astype(np.int64)).astype(bool) if dtype == "bool" else a @ b
        got = dn(K["matmul"](up(a), up(b)))
        if dtype in FLOATS:
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        else:
            check(got, want.astype(dtype))


def test_matmul_batched_broadcast_and_views(K, up, dn):
    a = rand("float32", (2, 1, 5, 6))
    b = rand("float32", (3, 6, 4))
    np.testing.assert_allclose(dn(K["matmul"](up(a), up(b))), a @ b, rtol=1e-5, atol=1e-5)
    # transposed operand and an expanded (0-stride) batch dim
    bt = K["permute"](up(np.ascontiguousarray(b.transpose(0, 2, 1))), (0, 2, 1))
    ae = K["expand"](up(a), (2, 3, 5, 6))
    np.testing.assert_allclose(dn(K["matmul"](ae, bt)), a @ b, rtol=1e-5, atol=1e-5)
    z = dn(K["matmul"](up(rand("float32", (4, 0))), up(rand("float32", (0, 3)))))
    check(z, np.zeros((4, 3), np.float32))
    assert dn(K["matmul"](up(rand("float32", (0, 5))), up(b[0]))).shape == (0, 4)


@pytest.mark.parametrize("config", ["64x64x32_8x8", "32x32x32_4x4", "cpu64x64x256_6x32",
                                    "cpu128x128x128_8x32"])
def test_matmul_tile_configs(K, up, dn, config):
    from ember.backends.opencl.matmul import matmul
    a, b = rand("float32", (70, 300)), rand("float32", (300, 99))  # K spans several panels
    np.testing.assert_allclose(dn(matmul(up(a), up(b), config)), a @ b, rtol=1e-4, atol=1e-4)
    a3, b3 = rand("int32", (2, 33, 17), 0, 3), rand("int32", (17, 130), 0, 3)
    check(dn(matmul(up(a3), up(b3), config)), a3 @ b3)


# -- views ---------------------------------------------------------------------------------------

def test_views_share_memory(backend, K, up, dn):
    base = rand("float32", (4, 6))
    x = up(base)
    v = K["view"](x, (2, 12))
    assert v.buffer is x.buffer
    check(dn(v), base.reshape(2, 12))
    t = K["permute"](x, (1, 0))
    assert K["strides"](t) == (1, 6)
    assert K["view"](t, (24,)) is None  # needs a copy
    check(dn(K["view"](t, (3, 2, 4))), base.T.reshape(3, 2, 4))  # splitting a dim works
    e = K["expand"](up(base[:, :1]), (4, 5))
    assert K["strides"](e) == (1, 0)
    check(dn(e), np.broadcast_to(base[:, :1], (4, 5)))
    g = K["getitem_basic"](x, (1, None, slice(1, 6, 2)))
    check(dn(g), base[1, None, 1:6:2])
    s = K["as_strided"](g, (2, 2), (1, 6))
    check(dn(s), np.lib.stride_tricks.as_strided(base[1, 1:], (2, 2), (4, 24)))
    check(dn(K["view"](up(base[0, 0]), (1, 1))), base[0, 0].reshape(1, 1))
    check(dn(K["view"](up(base[:0]), (0, 3))), base[:0].reshape(0, 3))


# -- gathers and scatters ---------------------------------------------------------------------

def _adv_cases(up):
    i = np.array([2, 0, -1, 2])
    j = np.array([[1], [2]])
    return [
        (lambda: (up(i),), (i,)),
        (lambda: (slice(0, 4, 2), up(i)), (slice(0, 4, 2), i)),
        (lambda: (up(j), up(i)), (j, i)),  # broadcast together
        (lambda: (up(j), slice(0, 5, 1), up(i)), (j, slice(0, 5, 1), i)),  # separated: first
        (lambda: (1, slice(0, 5, 1), up(i)), (1, slice(0, 5, 1), i)),  # int counts as advanced
        (lambda: (None, up(i), 2), (None, i, 2)),
        (lambda: (slice(1, 3, 1), up(j), up(i[:2])), (slice(1, 3, 1), j, i[:2])),
        (lambda: (up(i[:0]),), (i[:0],)),
        (lambda: (up(np.int64(1)), slice(0, 5, 2)), (np.int64(1), slice(0, 5, 2))),
    ]


@pytest.mark.parametrize("dtype", DTYPES)
def test_getitem_advanced(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (3, 5, 4))
    xs = [up(base), K["permute"](up(np.ascontiguousarray(base.transpose(2, 1, 0))), (2, 1, 0))]
    for make, np_index in _adv_cases(up):
        for x in xs:
            check(dn(K["getitem_advanced"](x, make())), base[np_index])
    check(dn(K["getitem_advanced"](xs[0], (1, slice(0, 5, 2)))), base[1, 0:5:2])


def test_index_out_of_range_raises(K, up, dn):
    x = up(rand("float32", (3, 4)))
    for bad in ([0, 3], [-4]):
        with pytest.raises(IndexError):
            K["getitem_advanced"](x, (up(np.array(bad)),))
        with pytest.raises(IndexError):
            K["setitem"](x, (up(np.array(bad)),), 1.0)
        with pytest.raises(IndexError):
            K["index_add"](x, (up(np.array(bad)),), 1.0)
    idx = up(np.array([[0, 5]]))
    for op, args in [("gather", (x, 1, idx)), ("scatter", (x, 1, idx, up(np.ones((1, 2), "f4")))),
                     ("scatter_add", (x, 1, idx, up(np.ones((1, 2), "f4"))))]:
        with pytest.raises(IndexError):
            K[op](*args)


@pytest.mark.parametrize("dtype", DTYPES)
def test_setitem(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (3, 5, 4))
    i, j = np.array([2, 0, -2]), np.array([[1], [2]])
    cases = [  # positions written are unique: with repeats, which write wins is unspecified
        (lambda: (up(i),), (i,)),
        (lambda: (up(j), slice(0, 5, 2), up(i)), (j, slice(0, 5, 2), i)),
        (lambda: (1, slice(0, 5, 1), up(i)), (1, slice(0, 5, 1), i)),
        (lambda: (slice(1, 3, 1), up(j), up(i[:2])), (slice(1, 3, 1), j, i[:2])),
    ]
    for make, np_index in cases:
        want = base.copy()
        val = rand(dtype, want[np_index].shape[1:])  # broadcast along the first dim
        want[np_index] = val
        x = up(base)
        K["setitem"](x, make(), up(val))
        check(dn(x), want)
    # basic index, scalar value, the whole array, a view written through its base
    x = up(base)
    K["setitem"](x, (1, slice(0, 5, 2)), np.array(1, dtype).item())
    K["setitem"](K["permute"](x, (2, 1, 0)), (0,), up(base[:, :, 0].T))
    want = base.copy()
    want[1, 0:5:2] = 1
    want[:, :, 0] = base[:, :, 0]
    check(dn(x), want)
    K["setitem"](x, (), up(base[0]))
    check(dn(x), np.broadcast_to(base[0], base.shape))


def test_setitem_overlapping(K, up, dn):
    base = np.arange(10, dtype=np.int32)
    x = up(base)
    K["setitem"](x, (slice(1, 10, 1),), K["getitem_basic"](x, (slice(0, 9, 1),)))
    base[1:] = base[:-1].copy()
    check(dn(x), base)


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_add_accumulates(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (6, 3))
    idx = rng.integers(-6, 6, 200)
    vals = rand(dtype, (200, 3), 0, 2) if dtype != "bool" else rand(dtype, (200, 3))
    x = up(base)
    K["index_add"](x, (up(idx),), up(vals))
    want = base.copy()
    if dtype == "bool":
        np.logical_or.at(want, idx, vals)
    else:
        np.add.at(want, idx, vals)
    got = dn(x)
    if dtype in FLOATS:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    else:
        check(got, want)
    # basic index: in place add on a view
    x = up(base)
    K["index_add"](x, (slice(0, 6, 2),), up(vals[:3]))
    want = base.copy()
    want[0:6:2] = (want[0:6:2] | vals[:3]) if dtype == "bool" else want[0:6:2] + vals[:3]
    check(dn(x), want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_gather_scatter(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (4, 5))
    idx = rng.integers(-5, 5, (4, 3))
    x = up(base)
    check(dn(K["gather"](x, 1, up(idx))), np.take_along_axis(base, idx % 5, 1))
    xt = K["permute"](up(np.ascontiguousarray(base.T)), (1, 0))
    check(dn(K["gather"](xt, 1, up(idx))), np.take_along_axis(base, idx % 5, 1))
    src = rand(dtype, (4, 6))
    perm = np.stack([rng.permutation(5)[:3] for _ in range(4)])  # unique per row
    want = base.copy()
    np.put_along_axis(want, perm, src[:, :3], 1)
    check(dn(K["scatter"](x, 1, up(perm), up(src))), want)
    check(dn(x), base)  # scatter returns a new array
    want = base.copy()
    rows = np.broadcast_to(np.arange(4)[:, None], idx.shape)
    if dtype == "bool":
        np.logical_or.at(want, (rows, idx % 5), src[:, :3])
    else:
        np.add.at(want, (rows, idx % 5), src[:, :3])
    got = dn(K["scatter_add"](x, 1, up(idx), up(src)))
    if dtype in FLOATS:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    else:
        check(got, want)
    idx0 = rng.integers(0, 4, (2, 5))
    check(dn(K["gather"](x, 0, up(idx0))), np.take_along_axis(base, idx0, 0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nonzero_cat_flip(backend, K, up, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    base = rand(dtype, (3, 4), 0, 1) if dtype != "bool" else rand(dtype, (3, 4))
    for x, want in layouts(K, up, base):
        check(dn(K["nonzero"](x)), np.argwhere(want).astype(np.int64))
        if x.shape:
            for axes in [(0,), (1,), (0, 1)]:
                check(dn(K["flip"](x, axes)), np.flip(want, axes))
            check(dn(K["cat"]([x, up(base[:2]), x], 0)),
                  np.concatenate([want, base[:2], want], 0))
            check(dn(K["cat"]([x, x], 1)), np.concatenate([want, want], 1))
    check(dn(K["nonzero"](up(np.zeros((2, 3), dtype)))), np.zeros((0, 2), np.int64))


# -- creation and random numbers -------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_creation(backend, K, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    e = K["empty"]((2, 3), D(dtype), 0)
    assert dn(e).shape == (2, 3) and dn(e).dtype == np.dtype(dtype)
    v = np.array(1, dtype).item()
    check(dn(K["full"]((2, 3), v, D(dtype), 0)), np.full((2, 3), v, dtype))
    check(dn(K["full"]((), v, D(dtype), 0)), np.full((), v, dtype))
    check(dn(K["full"]((0, 3), v, D(dtype), 0)), np.full((0, 3), v, dtype))
    if dtype != "bool":
        for args in [(0, 10, 1), (2, 30, 3), (20, 2, -3), (5, 5, 1)]:
            check(dn(K["arange"](*args, D(dtype), 0)), np.arange(*args, dtype=dtype))
    if dtype in FLOATS:
        check(dn(K["arange"](0, 1, 0.1, D(dtype), 0)), np.arange(0, 1, 0.1, dtype=dtype))


@pytest.mark.parametrize("dtype", FLOATS)
def test_random_floats(backend, K, dn, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"device does not claim {dtype}")
    g1, g2 = backend.generator(0, 123), backend.generator(0, 123)
    u1 = dn(K["rand_uniform"](g1, (100_000,), D(dtype)))
    u2 = dn(K["rand_uniform"](g2, (100_000,), D(dtype)))
    check(u1, u2)  # reproducible for a seed
    assert u1.dtype == np.dtype(dtype) and u1.min() >= 0 and u1.max() < 1
    assert abs(u1.mean() - 0.5) < 0.01 and abs(u1.var() - 1 / 12) < 0.01
    state = g1.get_state()
    n1 = dn(K["rand_normal"](g1, (100_000,), D(dtype)))
    assert not np.array_equal(n1[:100], dn(K["rand_normal"](g1, (100,), D(dtype))))
    g1.set_state(state)
    check(dn(K["rand_normal"](g1, (100_000,), D(dtype))), n1)
    assert abs(n1.mean()) < 0.02 and abs(n1.std() - 1) < 0.02 and np.isfinite(n1).all()
    g3 = backend.generator(0, 124)
    assert not np.array_equal(dn(K["rand_uniform"](g3, (10,), D(dtype))), u1[:10])


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float32"])
def test_random_ints(backend, K, dn, dtype):
    g = backend.generator(0, 7)
    r = dn(K["rand_int"](g, -3 if dtype != "uint8" else 0, 5, (50_000,), D(dtype)))
    assert r.dtype == np.dtype(dtype)
    low = -3 if dtype != "uint8" else 0
    assert set(np.unique(r).tolist()) == set(range(low, 5))


# -- errors and devices ------------------------------------------------------------------------

def test_build_failure_shows_compiler_log(backend):
    from ember.backends.opencl.runtime import device
    with pytest.raises(RuntimeError, match="ember_broken") as e:
        device(0).kernel(("test-broken",), "ember_broken",
                         lambda: "kernel void ember_broken(global float* x) { x[0] = y; }")
    assert "y" in str(e.value) and "opencl:0" in str(e.value)


def test_out_of_memory_is_clear(backend, K):
    from ember.backends.opencl.runtime import OutOfMemoryError
    with pytest.raises(OutOfMemoryError, match="opencl:0"):
        K["empty"]((1 << 62,), D("uint8"), 0)


def test_devices_and_transfers(backend, dn):
    assert backend.device_count() >= 1
    assert len(backend.device_names()) == backend.device_count()
    with pytest.raises(RuntimeError, match="no OpenCL device"):
        backend.from_numpy(np.zeros(3), backend.device_count())
    a = rand("float32", (2, 3))
    check(dn(backend.from_numpy(a.T, 0)), a.T)
    backend.synchronize(0)
    backend.synchronize()
