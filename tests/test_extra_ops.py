"""The long tail of torch's API (core/ops/extra.py): forward values, gradients, dtype promotion and
errors, each compared with torch on the same inputs."""
import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="these checks compare ember with torch directly")


def _pair(arr, requires_grad=False):
    """The same values as an ember tensor and a torch tensor."""
    a = np.asarray(arr)
    e = ember.tensor(a, requires_grad=requires_grad)
    t = torch.tensor(a, requires_grad=requires_grad)
    return e, t


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.detach().numpy() if isinstance(x, ember.Tensor) else np.asarray(x)


def _same(e, t, rtol=1e-6, atol=1e-6):
    if isinstance(t, tuple):
        assert isinstance(e, tuple) and len(e) == len(t)
        for a, b in zip(e, t):
            _same(a, b, rtol, atol)
        return
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert e.dtype.name == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
        assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    else:
        assert e == t
        return
    np.testing.assert_allclose(_np(e), _np(t), rtol=rtol, atol=atol, equal_nan=True)


def _check(fn_e, fn_t, arrays, grad=True, rtol=1e-6, atol=1e-6, grtol=None, gatol=None):
    """Same forward (values, dtype, shape) and, when grad, same input gradients for a random
    upstream gradient."""
    es, ts = zip(*[_pair(a, grad and np.asarray(a).dtype.kind == "f") for a in arrays])
    re, rt = fn_e(*es), fn_t(*ts)
    _same(re, rt, rtol, atol)
    if not grad:
        return
    oe = re[0] if isinstance(re, tuple) else re
    ot = rt[0] if isinstance(rt, tuple) else rt
    if not ot.requires_grad:  # a predicate: nothing to differentiate
        assert not oe.requires_grad
        return
    g = np.random.default_rng(1).standard_normal(tuple(ot.shape)).astype(_np(ot).dtype)
    oe.backward(ember.tensor(g))
    ot.backward(torch.tensor(g))
    for e, t in zip(es, ts):
        if t.requires_grad:
            np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=grtol or rtol * 10,
                                       atol=gatol or atol * 10)


rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4))
P = rng.uniform(0.2, 5.0, (3, 4))
U = rng.uniform(-0.9, 0.9, (3, 4))


# ---- unary and binary elementwise -----------------------------------------------------------

@pytest.mark.parametrize("name,arr", [
    ("acosh", 1 + P), ("asinh", X * 3), ("atanh", U), ("arccosh", 1 + P), ("arcsinh", X),
    ("arctanh", U), ("lgamma", P), ("lgamma", X * 4 + 0.01), ("digamma", P),
    ("digamma", X * 4 + 0.01), ("i0", X * 4), ("isneginf", X), ("isposinf", X),
    ("isreal", X),
])
def test_unary_float64_matches_torch(name, arr):
    _check(getattr(ember, name), getattr(torch, name), [arr], rtol=1e-10, atol=1e-10,
           grtol=1e-8, gatol=1e-8)


@pytest.mark.parametrize("name", ["acosh", "asinh", "atanh", "lgamma", "digamma", "i0"])
def test_unary_promotes_integers_and_keeps_float32(name):
    a = np.array([1, 2, 3]) if name != "atanh" else np.array([0, 0, 0])
    _check(getattr(ember, name), getattr(torch, name), [a], grad=False, rtol=1e-6)
    f = (P if name != "atanh" else U).astype(np.float32)
    if name == "acosh":
        f = f + 1
    _check(getattr(ember, name), getattr(torch, name), [f], rtol=2e-5, atol=2e-5)


def test_special_values_match_torch():
    v = np.array([0.0, -0.0, -1.0, -2.0, -2.5, 1.0, 2.0, np.inf, -np.inf, np.nan, 1e-8, 150.0])
    for name in ("lgamma", "digamma", "acosh", "asinh", "atanh", "i0"):
        _check(getattr(ember, name), getattr(torch, name), [v], grad=False, rtol=1e-9,
               atol=1e-9)
    big = np.array([1e20, -1e20, 1e300])
    _check(ember.asinh, torch.asinh, [big], grad=False, rtol=1e-12)


def test_lgamma_against_math():
    xs = np.concatenate([np.linspace(-9.7, 30, 301), [0.5, 1.5, 1e-5, 1e5]])
    got = ember.lgamma(ember.tensor(xs)).numpy()
    want = np.array([math.lgamma(x) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_polygamma_matches_torch(n):
    _check(lambda x: ember.polygamma(n, x), lambda x: torch.polygamma(n, x), [P], rtol=1e-9,
           atol=1e-9, grtol=1e-8, gatol=1e-8)
    e, t = _pair(P)
    _same(e.polygamma(n), t.polygamma(n), 1e-9, 1e-9)
    if n == 1:  # the reflection branch
        _check(lambda x: ember.polygamma(1, x), lambda x: torch.polygamma(1, x),
               [X * 3 + 0.01], rtol=1e-8, atol=1e-8, grad=False)


def test_lgamma_double_backward_matches_torch():
    e, t = _pair(P, requires_grad=True)
    (ge,) = ember.autograd.grad(ember.lgamma(e).sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(torch.lgamma(t).sum(), t, create_graph=True)
    _same(ge, gt, 1e-9, 1e-9)
    ge.sum().backward()
    gt.sum().backward()
    np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=1e-8)


def test_mvlgamma_matches_torch():
    _check(lambda x: ember.mvlgamma(x, 3), lambda x: torch.mvlgamma(x, 3), [P + 1.5],
           rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fn", ["logaddexp2", "fmax", "fmin", "ldexp"])
def test_binary_float_matches_torch(fn):
    b = rng.standard_normal((4,))
    if fn == "ldexp":
        # NOTE: non-negative exponents: torch's ldexp gradient is grad * pow(2, other) in
        # integer arithmetic, which is 0 for negative integer exponents (ember gives 2**other)
        b = rng.integers(0, 4, (4,))
    _check(getattr(ember, fn), getattr(torch, fn), [X, b])


def test_logaddexp2_infinities():
    a = np.array([-np.inf, np.inf, -np.inf, 3.0])
    b = np.array([-np.inf, np.inf, 2.0, -np.inf])
    _check(ember.logaddexp2, torch.logaddexp2, [a, b], grad=False)


def test_fmax_fmin_ignore_nan():
    a = np.array([1.0, np.nan, np.nan, 2.0, 3.0])
    b = np.array([np.nan, 2.0, np.nan, 2.0, -1.0])
    for fn in ("fmax", "fmin"):
        _check(getattr(ember, fn), getattr(torch, fn), [a, b])
        e, t = _pair(a)
        _same(getattr(e, fn)(ember.tensor(b)), getattr(t, fn)(torch.tensor(b)))


def test_ldexp_promotes_integers():
    _check(ember.ldexp, torch.ldexp, [np.array([1, 2, 3]), np.array([3, 0, -1])], grad=False)


def test_frexp_matches_torch():
    v = np.array([0.0, -0.0, 3.5, -8.0, 1.0, 0.75, np.inf, -np.inf, np.nan, 1e-300, 1e300,
                  2.0 ** -1074])
    _check(ember.frexp, torch.frexp, [v], grad=False, rtol=0, atol=0)
    _check(ember.frexp, torch.frexp, [X.astype(np.float32) * 1000], grad=False, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.frexp(ember.tensor([1, 2]))


@pytest.mark.parametrize("dt", ["int8", "uint8", "int16", "int32", "int64"])
def test_gcd_lcm_and_shifts_match_torch(dt):
    r = np.random.default_rng(3)
    lo = 0 if dt == "uint8" else -50
    a = r.integers(lo, 100, 40).astype(dt)
    b = r.integers(lo, 100, 40).astype(dt)
    a[:3], b[:3] = 0, [0, 5, 0]
    for fn in ("gcd", "lcm"):
        _check(getattr(ember, fn), getattr(torch, fn), [a, b], grad=False, rtol=0, atol=0)
    bits = np.dtype(dt).itemsize * 8
    s = r.integers(0, bits + 3, 40).astype(dt)
    for fn in ("bitwise_left_shift", "bitwise_right_shift"):
        _check(getattr(ember, fn), getattr(torch, fn), [a, s], grad=False, rtol=0, atol=0)
        _check(lambda x: getattr(ember, fn)(x, 2), lambda x: getattr(torch, fn)(x, 2), [a],
               grad=False, rtol=0, atol=0)


def test_shift_operators_and_promotion():
    a, s = np.array([1, -3, 5, 100]), np.array([1, 2, 3, 70])
    _check(lambda x, y: x << y, lambda x, y: x << y, [a, s], grad=False)
    _check(lambda x, y: x >> y, lambda x, y: x >> y, [a, s], grad=False)
    _check(lambda x, y: x << y, lambda x, y: x << y, [a.astype("uint8"), s], grad=False)
    e, t = _pair(a)
    e <<= 2
    t <<= 2
    _same(e, t)


def test_integer_ops_reject_floats():
    x = ember.tensor([1.0])
    for fn in (ember.gcd, ember.lcm, ember.bitwise_left_shift, ember.bitwise_right_shift):
        with pytest.raises(NotImplementedError, match="not implemented for 'Float'"):
            fn(x, x)


def test_rsub_and_aliases():
    _check(lambda x: ember.rsub(x, 5, alpha=2), lambda x: torch.rsub(x, 5, alpha=2), [X])
    for fn in ("greater", "greater_equal", "less", "less_equal", "not_equal"):
        _check(getattr(ember, fn), getattr(torch, fn), [X, X[0]], grad=False)
    _check(ember.multiply, torch.multiply, [X, P])
    _check(ember.sgn, torch.sgn, [X], grad=False)


# ---- scans, reductions, statistics ----------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
def test_logcumsumexp_matches_torch(dim):
    _check(lambda x: ember.logcumsumexp(x, dim), lambda x: torch.logcumsumexp(x, dim),
           [rng.standard_normal((5, 7)) * 3], rtol=1e-10, atol=1e-10)


def test_logcumsumexp_wide_range_and_infinities():
    v = np.array([-1000.0, 0.0, 1000.0, -np.inf, 5.0])
    _check(lambda x: ember.logcumsumexp(x, 0), lambda x: torch.logcumsumexp(x, 0), [v],
           grad=False)
    _check(lambda x: ember.logcumsumexp(x, 0), lambda x: torch.logcumsumexp(x, 0),
           [np.array([-np.inf, -np.inf, 1.0])], grad=False)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        ember.logcumsumexp(ember.tensor([1, 2, 3]), 0)


@pytest.mark.parametrize("arr", [X, np.array([[3, 1, 1, 2, 0, 0], [1, 1, 1, 1, 1, 1]]),
                                 np.array([2.0, np.nan, 1.0, np.nan, 0.0])])
def test_cummin_matches_torch(arr):
    for d in range(arr.ndim):
        _check(lambda x: ember.cummin(x, d), lambda x: torch.cummin(x, d), [arr],
               grad=not np.isnan(arr).any())
    e, t = _pair(arr)
    _same(tuple(e.cummin(0)), tuple(t.cummin(0)))


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_nanmedian_matches_torch(dim, keepdim):
    a = rng.standard_normal((4, 6))
    a[rng.random((4, 6)) < 0.3] = np.nan
    a[2] = np.nan

    def run(m, x):
        r = m.nanmedian(x) if dim is None else m.nanmedian(x, dim, keepdim)
        return r if dim is None else tuple(r)
    # an all-NaN row's index is whatever torch's nth_element leaves: compare values there
    ve, vt = run(ember, ember.tensor(a)), run(torch, torch.tensor(a))
    if dim is None:
        _same(ve, vt)
    else:
        _same(ve[0], vt[0])
        ok = ~np.isnan(_np(vt[0]))
        np.testing.assert_array_equal(_np(ve[1])[ok], _np(vt[1])[ok])
    b = rng.standard_normal((4, 6))
    _check(lambda x: run(ember, x), lambda x: run(torch, x), [b])


@pytest.mark.parametrize("kw", [{}, {"correction": 0}, {"fweights": "f"}, {"aweights": "a"},
                                {"fweights": "f", "aweights": "a", "correction": 2}])
def test_cov_matches_torch(kw):
    fw = rng.integers(1, 4, 5)
    aw = rng.uniform(0.5, 2, 5)

    def run(m, x):
        k = dict(kw)
        if "fweights" in k:
            k["fweights"] = m.tensor(fw)
        if "aweights" in k:
            k["aweights"] = m.tensor(aw)
        return m.cov(x, **k)
    _check(lambda x: run(ember, x), lambda x: run(torch, x), [rng.standard_normal((3, 5))],
           rtol=1e-10, atol=1e-10)


def test_cov_corrcoef_shapes_and_promotion():
    _check(ember.cov, torch.cov, [rng.standard_normal(6)], rtol=1e-10)
    _check(ember.cov, torch.cov, [np.array([[1, 2, 4], [3, 1, 0]])], grad=False)
    _check(ember.corrcoef, torch.corrcoef, [rng.standard_normal((3, 6))], rtol=1e-10,
           atol=1e-10)
    _check(ember.corrcoef, torch.corrcoef, [np.array([[1, 2, 4], [3, 1, 0]])], grad=False)
    with pytest.raises(RuntimeError, match="two or fewer dimensions"):
        ember.cov(ember.zeros(2, 2, 2))


@pytest.mark.parametrize("p", [1, 2, 3, float("inf"), 0])
def test_dist_matches_torch(p):
    _check(lambda a, b: ember.dist(a, b, p), lambda a, b: torch.dist(a, b, p), [X, X[1]],
           grad=p != 0, rtol=1e-10, atol=1e-10)


def test_trapezoid_family_matches_torch():
    y = rng.standard_normal((3, 5))
    x = np.sort(rng.standard_normal(5))
    for fe, ft in ((ember.trapezoid, torch.trapezoid), (ember.trapz, torch.trapz),
                   (ember.cumulative_trapezoid, torch.cumulative_trapezoid)):
        _check(fe, ft, [y], rtol=1e-10)
        _check(fe, ft, [y, x], rtol=1e-10)
        _check(lambda a: fe(a, dx=0.5, dim=0), lambda a: ft(a, dx=0.5, dim=0), [y], rtol=1e-10)
        _check(fe, ft, [np.array([1, 2, 4])], grad=False)


def test_histogram_matches_torch():
    x = rng.standard_normal(100)
    for kw in ({"bins": 7}, {"bins": 5, "range": (-1.0, 1.0)}, {"bins": 4, "density": True}):
        _check(lambda a: tuple(ember.histogram(a, **kw)), lambda a: tuple(torch.histogram(a, **kw)),
               [x], grad=False, rtol=1e-10)
    w = rng.uniform(0, 1, 100)
    _check(lambda a, b: tuple(ember.histogram(a, 6, weight=b)),
           lambda a, b: tuple(torch.histogram(a, 6, weight=b)), [x, w], grad=False, rtol=1e-10)


def test_isin_matches_torch():
    a = rng.integers(0, 10, (3, 4))
    b = rng.integers(0, 10, 5)
    _check(ember.isin, torch.isin, [a, b], grad=False)
    _check(lambda x, y: ember.isin(x, y, invert=True), lambda x, y: torch.isin(x, y, invert=True),
           [a, b], grad=False)


# ---- shapes and scatters --------------------------------------------------------------------

def test_cross_matches_torch():
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    _check(lambda x, y: ember.cross(x, y, dim=1), lambda x, y: torch.cross(x, y, dim=1), [a, b])
    _check(lambda x, y: ember.cross(x, y, dim=-1), lambda x, y: torch.cross(x, y, dim=-1),
           [a, b[:1]])
    _check(lambda x, y: x.cross(y, dim=0), lambda x, y: x.cross(y, dim=0), [a.T, b.T])
    _check(lambda x, y: ember.cross(x, y, dim=1),
           lambda x, y: torch.cross(x, y, dim=1), [a.astype(int), b.astype(int)], grad=False)
    with pytest.raises(RuntimeError):
        ember.cross(ember.zeros(2, 4), ember.zeros(2, 4), dim=1)


@pytest.mark.parametrize("p,dim", [(2, 0), (1, 1), (3, -1)])
def test_renorm_matches_torch(p, dim):
    _check(lambda x: ember.renorm(x, p, dim, 1.5), lambda x: torch.renorm(x, p, dim, 1.5),
           [X * 2], rtol=1e-10, atol=1e-10)
    e, t = _pair(X * 2)
    e.renorm_(p, dim, 1.5)
    t.renorm_(p, dim, 1.5)
    _same(e, t, 1e-10, 1e-10)


@pytest.mark.parametrize("k", [-1, 0, 1, 2, 3, 5])
def test_rot90_matches_torch(k):
    a = rng.standard_normal((2, 3, 4))
    _check(lambda x: ember.rot90(x, k, [1, 2]), lambda x: torch.rot90(x, k, [1, 2]), [a])
    _check(lambda x: x.rot90(k), lambda x: x.rot90(k), [a])


def test_rot90_errors_match_torch():
    for args in ((ember.zeros(2, 2), 1, [0, 1, 2]), (ember.zeros(2), 1, [0, 1]),
                 (ember.zeros(2, 2), 1, [0, 0])):
        with pytest.raises(RuntimeError, match="expected"):
            ember.rot90(*args)


def test_diagflat_block_diag_vander_match_torch():
    _check(ember.diagflat, torch.diagflat, [rng.standard_normal((2, 2))])
    _check(lambda x: ember.diagflat(x, -1), lambda x: torch.diagflat(x, -1),
           [rng.standard_normal(3)])
    _check(lambda a, b, c: ember.block_diag(a, b, c), lambda a, b, c: torch.block_diag(a, b, c),
           [rng.standard_normal((2, 3)), rng.standard_normal(2), np.array(1.5)])
    _check(lambda a, b: ember.block_diag(a, b), lambda a, b: torch.block_diag(a, b),
           [np.array([[1, 2]]), np.array([[1.5], [2.5]], dtype=np.float32)], grad=False)
    for kw in ({}, {"N": 4}, {"N": 2, "increasing": True}):
        # NOTE: torch.vander's own backward fails (its cumprod is in place): compare the
        # gradient with powers written out
        _check(lambda x: ember.vander(x, **kw), lambda x: torch.vander(x, **kw),
               [rng.uniform(0.5, 2, 3)], rtol=1e-10, grad=False)
        n = kw.get("N", 3)
        pw = torch.arange(n) if kw.get("increasing") else torch.arange(n - 1, -1, -1)
        _check(lambda x: ember.vander(x, **kw), lambda x: x.unsqueeze(1) ** pw,
               [rng.uniform(0.5, 2, 3)], rtol=1e-10)
        _check(lambda x: ember.vander(x, **kw), lambda x: torch.vander(x, **kw),
               [np.array([1, 2, 3])], grad=False)


@pytest.mark.parametrize("case", ["diagonal", "diagonal_off", "select", "slice", "slice_step"])
def test_view_scatters_match_torch(case):
    a = rng.standard_normal((4, 5))
    if case == "diagonal":
        fn, src = (lambda m: lambda x, s: m.diagonal_scatter(x, s)), rng.standard_normal(4)
    elif case == "diagonal_off":
        fn, src = (lambda m: lambda x, s: m.diagonal_scatter(x, s, 1, 1, 0)), \
            rng.standard_normal(3)
    elif case == "select":
        fn, src = (lambda m: lambda x, s: m.select_scatter(x, s, 1, -2)), rng.standard_normal(4)
    elif case == "slice":
        fn, src = (lambda m: lambda x, s: m.slice_scatter(x, s, 0, 1, 3)), \
            rng.standard_normal((2, 5))
    else:
        fn, src = (lambda m: lambda x, s: m.slice_scatter(x, s, 1, step=2)), \
            rng.standard_normal((4, 3))
    _check(fn(ember), fn(torch), [a, src])


def test_view_scatter_size_error():
    with pytest.raises(RuntimeError, match="expected src to have a size equal to the slice"):
        ember.slice_scatter(ember.zeros(4), ember.ones(3), 0, 0, 2)


@pytest.mark.parametrize("fn,shape,arg", [("hsplit", (3, 8), 4), ("hsplit", (6,), [1, 4]),
                                          ("vsplit", (6, 2), 3), ("vsplit", (6, 2), [2]),
                                          ("dsplit", (2, 2, 6), 2)])
def test_hvd_split_match_torch(fn, shape, arg):
    a = rng.standard_normal(shape)
    _check(lambda x: getattr(ember, fn)(x, arg), lambda x: getattr(torch, fn)(x, arg), [a])
    e, t = _pair(a)
    _same(getattr(e, fn)(arg), getattr(t, fn)(arg))


def test_hvd_split_errors():
    with pytest.raises(RuntimeError, match="not divisible by the split_size 3"):
        ember.hsplit(ember.zeros(3, 8), 3)
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ember.vsplit(ember.zeros(3), 3)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        ember.dsplit(ember.zeros(3, 3), 3)


@pytest.mark.parametrize("shape,wrap", [((4, 4), False), ((7, 3), False), ((7, 3), True),
                                        ((3, 6), True), ((3, 3, 3), False)])
def test_fill_diagonal_matches_torch(shape, wrap):
    e, t = ember.zeros(*shape), torch.zeros(*shape)
    assert e.fill_diagonal_(2.5, wrap=wrap) is e
    t.fill_diagonal_(2.5, wrap=wrap)
    _same(e, t)
    ei, ti = ember.zeros(*shape, dtype=ember.int64), torch.zeros(*shape, dtype=torch.int64)
    _same(ei.fill_diagonal_(3), ti.fill_diagonal_(3))
    with pytest.raises(RuntimeError, match="equal length"):
        ember.zeros(2, 3, 4).fill_diagonal_(1)


def test_fill_diagonal_gradient_matches_torch():
    def run(m, a):
        x = m.tensor(a, requires_grad=True)
        y = x * 2
        y.fill_diagonal_(0.0)
        (y * m.tensor(a)).sum().backward()
        return x.grad
    _same(run(ember, X), run(torch, X))


def test_small_helpers_match_torch():
    e, t = _pair(X)
    _same(ember.narrow_copy(e, 1, 1, 2), torch.narrow_copy(t, 1, 1, 2))
    _same(e.narrow_copy(0, 1, 2), t.narrow_copy(0, 1, 2))
    assert e.is_same_size(ember.zeros(3, 4)) and not e.is_same_size(ember.zeros(4, 3))
    assert e.is_inference() is t.is_inference() is False
    assert e.get_device() == t.get_device() == -1
    _same(e.split_with_sizes([1, 3], 1), t.split_with_sizes([1, 3], 1))
    _same(ember.adjoint(e), torch.adjoint(t))
    _same(e.sum_to_size(1, 4), t.sum_to_size(1, 4))
    _same(ember.unravel_index(ember.tensor([5, 7, -1]), (3, 4)),
          torch.unravel_index(torch.tensor([5, 7, -1]), (3, 4)))
    _same(ember.combinations(ember.tensor([1, 2, 3])), torch.combinations(torch.tensor([1, 2, 3])))
    _same(ember.combinations(ember.tensor([1, 2, 3]), 2, True),
          torch.combinations(torch.tensor([1, 2, 3]), 2, True))
    _same(ember.scalar_tensor(3), torch.scalar_tensor(3))
    _same(ember.fill(e, 2.0), torch.fill(t, 2.0))
    _same(ember.permute_copy(e, (1, 0)), torch.permute_copy(t, (1, 0)))
    _same(ember.slice_copy(e, 1, 1, 3), torch.slice_copy(t, 1, 1, 3))
    assert ember.is_signed(ember.zeros(1, dtype=ember.uint8)) is False
    assert ember.tensor([2.0]).is_nonzero() is True


# ---- linear algebra ---------------------------------------------------------------------------

@pytest.mark.parametrize("n", [-2, 0, 1, 3, 6])
def test_matrix_power_matches_torch(n):
    a = rng.standard_normal((2, 3, 3)) + 2 * np.eye(3)
    _check(lambda x: ember.matrix_power(x, n), lambda x: torch.matrix_power(x, n), [a],
           rtol=1e-9, atol=1e-9, grad=n != 0)
    _check(lambda x: x.matrix_power(n), lambda x: x.matrix_power(n), [a[0]], rtol=1e-9,
           atol=1e-9, grad=False)


def test_pinverse_matches_torch():
    # NOTE: no gradient check: ember's linalg.svd records no backward yet
    _check(ember.pinverse, torch.pinverse, [rng.standard_normal((4, 3))], rtol=1e-9, atol=1e-9,
           grad=False)
    low = np.outer(rng.standard_normal(4), rng.standard_normal(3))
    _check(ember.pinverse, torch.pinverse, [low], grad=False, rtol=1e-8, atol=1e-8)


def test_old_linalg_names_match_torch():
    a = rng.standard_normal((4, 3))
    spd = a.T @ a + np.eye(3)
    u, s, v = ember.svd(ember.tensor(a))
    np.testing.assert_allclose((u * s) @ v.T, a, atol=1e-10)
    assert tuple(v.shape) == tuple(torch.svd(torch.tensor(a)).V.shape)
    q, r = ember.qr(ember.tensor(a))
    np.testing.assert_allclose(q @ r, a, atol=1e-10)
    lt = np.linalg.cholesky(spd)
    b = rng.standard_normal((3, 2))
    _check(ember.cholesky_inverse, torch.cholesky_inverse, [lt], rtol=1e-9, atol=1e-9)
    _check(ember.cholesky_solve, torch.cholesky_solve, [b, lt], rtol=1e-9, atol=1e-9)
    _check(ember.cholesky, torch.linalg.cholesky, [spd], rtol=1e-9, atol=1e-9, grad=False)


# ---- in-place variants and random fills ----------------------------------------------------

@pytest.mark.parametrize("name,arr,args", [
    ("acosh_", 1 + P, ()), ("asinh_", X, ()), ("atanh_", U, ()), ("arccos_", U, ()),
    ("arcsin_", U, ()), ("arctan_", X, ()), ("arctan2_", X, ("P",)), ("erfc_", X, ()),
    ("sinc_", X, ()), ("lgamma_", P, ()), ("digamma_", P, ()), ("polygamma_", P, (1,)),
    ("i0_", X, ()), ("ldexp_", X, ("I",)), ("mvlgamma_", P + 1, (2,)),
    ("greater_", X, ("X0",)), ("less_equal_", X, ("X0",)), ("not_equal_", X, ("X0",)),
    ("greater_equal_", X, ("X0",)), ("less_", X, ("X0",)), ("heaviside_", X, ("X0",)),
])
def test_inplace_variants_match_torch(name, arr, args):
    def conv(m, a):
        return {"P": m.tensor(P), "X0": m.tensor(X[0]), "I": m.tensor([1, 2, 0, -1])}.get(a, a)
    e, t = _pair(arr)
    re = getattr(e, name)(*[conv(ember, a) for a in args])
    rt = getattr(t, name)(*[conv(torch, a) for a in args])
    assert re is e
    _same(e, rt, 1e-9, 1e-9)


def test_inplace_integer_ops_match_torch():
    a, b = np.array([12, 18, -7]), np.array([8, 27, 21])
    for name in ("gcd_", "lcm_", "bitwise_left_shift_", "bitwise_right_shift_"):
        e, t = _pair(a)
        getattr(e, name)(ember.tensor(b % 5))
        getattr(t, name)(torch.tensor(b % 5))
        _same(e, t)


def test_torch_level_inplace_functions():
    e, t = _pair(X)
    ember.relu_(e)
    torch.relu_(t)
    _same(e, t)
    e, t = _pair(P)
    _same(ember.sqrt_(e), torch.sqrt_(t))
    assert ember.zero_(e) is e and float(e.sum()) == 0


def test_cauchy_and_geometric_fill_in_place():
    ember.manual_seed(0)
    x = ember.empty(20000)
    assert x.cauchy_(1.0, 2.0) is x
    assert abs(float(x.median()) - 1.0) < 0.1
    g = ember.empty(20000).geometric_(0.25)
    assert float(g.min()) >= 1 and abs(float(g.mean()) - 4.0) < 0.15
    assert bool((g == g.round()).all())
    with pytest.raises(RuntimeError):
        ember.empty(2, dtype=ember.int64).cauchy_()


def test_dtype_refusals_raise_torchs_class():
    # torch raises NotImplementedError (a RuntimeError subclass) for a kernel missing a dtype
    with pytest.raises(NotImplementedError, match="bitwise_and_cpu\" not implemented for 'Float'"):
        ember.ones(2) & ember.ones(2)
    b = ember.ones(2, 2, dtype=ember.bool)
    with pytest.raises(NotImplementedError, match="addmm_impl_cpu_\" not implemented for 'Bool'"):
        b @ b
    with pytest.raises(NotImplementedError, match="not implemented for 'Bool'"):
        ember.nn.functional.linear(b, b)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_matches_torch(reduce, include_self):
    # index 0 twice, index 4 never: repeated and untouched positions in every row
    index = np.array([[0, 0, 2, 3], [1, 0, 0, 3], [2, 2, 1, 0]])
    src = rng.standard_normal((3, 4))

    def run(m, x, s):
        return x.scatter_reduce(1, m.tensor(index), s, reduce, include_self=include_self)
    _check(lambda x, s: run(ember, x, s), lambda x, s: run(torch, x, s),
           [rng.standard_normal((3, 5)), src])
    ints = (rng.standard_normal((3, 5)) * 10).astype(np.int64)
    _check(lambda x, s: run(ember, x, s), lambda x, s: run(torch, x, s),
           [ints, (src * 10).astype(np.int64)], grad=False)


def test_scatter_reduce_refuses_an_unknown_reduce():
    # (prod, amax and amin are checked in test_scatter_reduce.py; torch takes "max" and "min"
    # as aliases of amax and amin: see test_parity_33_34.py)
    x, i = ember.ones(3), ember.tensor([0, 0])
    with pytest.raises(RuntimeError, match="reduce argument must be"):
        x.scatter_reduce(0, i, ember.ones(2), "median")


def test_integer_pow_with_negative_exponents_as_torch():
    base, exp = [2, 3, 1, -1, 0, -2, 5], [-1, 1, -2, -3, 2, 3, -5]
    for dt in ("int64", "int32", "int8"):
        got = ember.tensor(base, dtype=getattr(ember, dt)) ** ember.tensor(exp,
                                                                         dtype=getattr(ember, dt))
        want = torch.tensor(base, dtype=getattr(torch, dt)) ** torch.tensor(
            exp, dtype=getattr(torch, dt))
        assert got.tolist() == want.tolist()
    assert (2 ** ember.tensor([-1, 2])).tolist() == (2 ** torch.tensor([-1, 2])).tolist()
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        ember.tensor([2, 3]) ** -1
    assert (ember.tensor([2.0, 4.0]) ** -1).tolist() == [0.5, 0.25]


def test_unique_consecutive_matches_torch():
    cases = [([1, 1, 2, 2, 1], {}), ([[1, 1], [1, 1], [2, 3]], {"dim": 0}),
             ([[1, 1, 2], [1, 1, 3]], {"dim": 1}), ([3.0, float("nan"), float("nan"), 3.0], {})]
    for data, kw in cases:
        for flags in ({}, {"return_inverse": True}, {"return_counts": True},
                      {"return_inverse": True, "return_counts": True}):
            got = ember.unique_consecutive(ember.tensor(data), **kw, **flags)
            want = torch.unique_consecutive(torch.tensor(data), **kw, **flags)
            got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g.numpy(), w.numpy())


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_gradient_matches_torch(upper):
    rng = np.random.default_rng(3)
    b = rng.standard_normal((2, 4, 4))
    a = b @ b.transpose(0, 2, 1) + 4 * np.eye(4)      # batched, positive definite
    w = rng.standard_normal((2, 4, 4))                 # a loss that weighs every entry
    ea = ember.tensor(a, requires_grad=True)
    (ember.linalg.cholesky(ea, upper=upper) * ember.tensor(w)).sum().backward()
    ta = torch.tensor(a, requires_grad=True)
    (torch.linalg.cholesky(ta, upper=upper) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert ember.linalg.cholesky(ea).grad_fn.name() == "LinalgCholeskyExBackward0"
    # the rule is written in ember ops, so it is differentiable again
    sym = ember.tensor(a[0], requires_grad=True)
    assert ember.autograd.gradgradcheck(
        lambda m: ember.linalg.cholesky(0.5 * (m + m.mT)), (sym,))
