"""scatter_reduce with reduce = prod, amax, amin (the scatter_reduce primitive): forward values,
gradients and double backward against torch, gradients against finite differences, errors, the
in-place method, on cpu and on opencl where it is available."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="these checks compare ember with torch directly")

REDUCES = ("prod", "amax", "amin")
NAN = float("nan")
rng = np.random.default_rng(7)

_OPENCL = "opencl" in ember.backends.available()
DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not _OPENCL, reason="the opencl backend is not available here (pyopencl or an OpenCL "
                        "device is missing)"))]


def _claims(device, dtype):
    return dtype in ember.backends.capabilities(device)["dtypes"]


def _e(a, device="cpu", requires_grad=False):
    t = ember.tensor(np.asarray(a), device=device)
    return t.requires_grad_() if requires_grad else t


def _t(a, requires_grad=False):
    return torch.tensor(np.asarray(a), requires_grad=requires_grad)


def _host(x):
    if isinstance(x, torch.Tensor):
        return x.detach().to(torch.float64).numpy() if x.dtype == torch.bfloat16 else \
            x.detach().numpy()
    return x.detach().cpu().numpy()


def _same(e, t, rtol=1e-6, atol=1e-6):
    """ember tensor e equals torch tensor t: dtype, shape and values (NaN where NaN)."""
    assert e.dtype.name == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape), (e.shape, t.shape)
    a, b = _host(e), _host(t)
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol,
                                   atol=atol, equal_nan=True)


def _values(dtype, shape, ties=False):
    """Small values (ints in [-4, 4], so products stay meaningful; floats with ties when
    asked)."""
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith(("int", "uint")):
        lo = 0 if dtype == "uint8" else -4
        return rng.integers(lo, 5, shape).astype(dtype)
    v = rng.integers(-3, 4, shape) if ties else rng.standard_normal(shape) * 1.5
    return v.astype(np.float32 if dtype == "bfloat16" else dtype)


# (self shape, dim, index shape, src shape): repeated indices along dim everywhere; index
# smaller than self in other dims; src larger than index
_CASES = [((5,), 0, (8,), (8,)),
          ((3, 5), 1, (3, 7), (3, 7)),
          ((4, 3), 0, (6, 2), (7, 3)),
          ((2, 3, 4), 2, (2, 2, 6), (2, 3, 6)),
          ((2, 3, 4), -2, (2, 5, 4), (2, 5, 4)),
          ((3, 4), 0, (0, 4), (0, 4))]


def _index(shape, size):
    """Random positions in [0, size): repeats wherever shape[dim] > size or by chance."""
    return rng.integers(0, size, shape)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int8", "uint8",
                                   "int16", "int32", "int64", "bool"])
@pytest.mark.parametrize("reduce", REDUCES)
def test_forward_matches_torch(device, dtype, reduce):
    if not _claims(device, dtype):
        pytest.skip(f"{device} does not claim {dtype}")
    for shape, dim, ishape, sshape in _CASES:
        x, s = _values(dtype, shape, ties=True), _values(dtype, sshape, ties=True)
        i = _index(ishape, shape[dim])
        for include_self in (True, False):
            tx, ts = _t(x).to(getattr(torch, dtype)), _t(s).to(getattr(torch, dtype))
            want = tx.scatter_reduce(dim, _t(i), ts, reduce, include_self=include_self)
            ex = _e(x, device).to(getattr(ember, dtype))
            es = _e(s, device).to(getattr(ember, dtype))
            got = ex.scatter_reduce(dim, _e(i, device), es, reduce, include_self=include_self)
            assert got.device.type == device
            tol = 1e-2 if dtype in ("float16", "bfloat16") else 1e-6
            _same(got, want, rtol=tol, atol=tol)
            _same(ex, tx)  # the input is left alone


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_nan_propagates_as_torch(device, reduce):
    # NaN in self (at a written and an unwritten position) and in src, with include_self
    # both ways: amax/amin keep a NaN as torch's amax/amin do, prod through arithmetic
    x = np.array([1.0, 2.0, 3.0, NAN, 5.0, NAN], np.float32)
    i = np.array([0, 0, 1, 1, 2, 3, 5])
    s = np.array([4.0, NAN, 1.0, 7.0, 2.0, 1.0, -1.0], np.float32)
    for include_self in (True, False):
        want = _t(x).scatter_reduce(0, _t(i), _t(s), reduce, include_self=include_self)
        got = _e(x, device).scatter_reduce(0, _e(i, device), _e(s, device), reduce,
                                           include_self=include_self)
        _same(got, want)
        assert np.isnan(_host(got)[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_integer_products_wrap_as_torch(device, dtype):
    x = np.array([3, 7, 100, 2], dtype)
    i = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    s = np.array([100, 99, 77, 120, 127, 50, 60, 70, 90], dtype)
    for include_self in (True, False):
        want = _t(x).scatter_reduce(0, _t(i), _t(s), "prod", include_self=include_self)
        got = _e(x, device).scatter_reduce(0, _e(i, device), _e(s, device), "prod",
                                           include_self=include_self)
        _same(got, want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_bool(device, reduce):
    x = np.array([True, False, True, False])
    i = np.array([0, 0, 1, 1, 2])
    s = np.array([False, True, True, False, False])
    for include_self in (True, False):
        want = _t(x).scatter_reduce(0, _t(i), _t(s), reduce, include_self=include_self)
        got = _e(x, device).scatter_reduce(0, _e(i, device), _e(s, device), reduce,
                                           include_self=include_self)
        _same(got, want)


def _grads(m, device, x, i, s, reduce, include_self, dim, g):
    """(out, d out/dx, d out/dsrc) for upstream gradient g, on ember (m is ember) or torch."""
    if m is torch:
        tx, ts = _t(x, True), _t(s, True)
    else:
        tx, ts = _e(x, device, True), _e(s, device, True)
    idx = _t(i) if m is torch else _e(i, device)
    out = tx.scatter_reduce(dim, idx, ts, reduce, include_self=include_self)
    gx, gs = m.autograd.grad(out, (tx, ts), _t(g) if m is torch else _e(g, device))
    return out, gx, gs


# hand-picked values for the gradient rules: ties (with the target's own value too, which torch
# counts even when include_self is False), zeros (one, two, and in self), NaN and inf
_GRAD_CASES = [
    ([3.0, 1.0, 5.0], [0, 0, 1, 1], [3.0, 3.0, 0.0, 2.0]),
    ([2.0, 3.0, 4.0], [0, 0, 1, 1, 1], [5.0, 0.0, 2.0, 3.0, 4.0]),
    ([0.0, 3.0, 4.0], [0, 0, 1, 1, 1], [5.0, 6.0, 0.0, 0.0, 4.0]),
    ([0.0, 0.0, 4.0], [0, 0, 1, 1, 1], [5.0, 0.0, 2.0, 3.0, 4.0]),
    ([2.0, 3.0, 4.0], [0, 0, 1, 1, 1], [5.0, NAN, 2.0, float("inf"), 0.0]),
    ([3.0, NAN, 5.0], [0, 0, 1, 1], [NAN, 3.0, 0.0, 2.0]),
    ([1.0, -2.0, 1.0, 7.0], [3, 0, 0, 2, 0, 2], [7.0, 1.0, -2.0, 1.0, 1.0, 0.5]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_gradients_match_torch_on_special_values(device, reduce, include_self):
    for x, i, s in _GRAD_CASES:
        x, s = np.array(x, np.float64), np.array(s, np.float64)
        g = np.arange(1.0, len(x) + 1)
        e = _grads(ember, device, x, i, s, reduce, include_self, 0, g)
        t = _grads(torch, None, x, i, s, reduce, include_self, 0, g)
        for a, b in zip(e, t):
            _same(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_gradients_match_torch_random(device, reduce, include_self):
    for shape, dim, ishape, sshape in _CASES[:5]:
        ishape = sshape  # NOTE: torch's backward fails when src is larger than index
        for ties in (False, True):
            x, s = _values("float64", shape, ties), _values("float64", sshape, ties)
            if reduce == "prod" and ties:
                s[(0,) * len(sshape)] = 0.0  # a zero among the factors
            i = _index(ishape, shape[dim])
            out = _t(x).scatter_reduce(dim, _t(i), _t(s), reduce, include_self=include_self)
            g = rng.standard_normal(tuple(out.shape))
            e = _grads(ember, device, x, i, s, reduce, include_self, dim, g)
            t = _grads(torch, None, x, i, s, reduce, include_self, dim, g)
            for a, b in zip(e, t):
                _same(a, b, rtol=1e-10, atol=1e-10)


def test_gradient_of_src_larger_than_index():
    # torch's backward raises here (a shape mismatch); the elements of src that index does not
    # reach get a zero gradient, as scatter_add's do
    x = _e(np.array([[1.0, 5.0, 2.0], [3.0, 0.5, 4.0]]), requires_grad=True)
    s = _e(np.array([[7.0, 2.0, 9.0], [1.0, 4.0, 3.0]]), requires_grad=True)
    i = _e(np.array([[0, 2], [1, 1]]))
    for reduce in REDUCES:
        out = x.scatter_reduce(1, i, s, reduce)
        gx, gs = ember.autograd.grad(out.sum(), (x, s))
        ts = _t(s.detach().numpy()[:, :2], True)
        tx = _t(x.detach().numpy(), True)
        tgx, tgs = torch.autograd.grad(tx.scatter_reduce(1, _t(i.numpy()), ts, reduce).sum(),
                                       (tx, ts))
        _same(gx, tgx)
        np.testing.assert_allclose(gs.numpy()[:, :2], tgs.numpy())
        assert (gs.numpy()[:, 2:] == 0).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck_finite_differences(device, reduce, include_self):
    if not _claims(device, "float64"):
        pytest.skip(f"{device} does not claim float64")
    # distinct values (no ties, no zeros): where the op is smooth
    x = _e(rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1, 1], (3, 4)), device, True)
    s = _e(rng.uniform(0.5, 2.0, (3, 6)) * rng.choice([-1, 1], (3, 6)), device, True)
    i = _e(rng.integers(0, 4, (3, 6)), device)

    def f(a, b):
        return a.scatter_reduce(1, i, b, reduce, include_self=include_self)
    assert ember.autograd.gradcheck(f, (x, s))
    assert ember.autograd.gradgradcheck(f, (x, s))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_double_backward_matches_torch(device, reduce, include_self):
    # one zero among src's elements at a target (prod's special rule), ties for amax/amin
    x = np.array([2.0, 3.0, 4.0, 2.0])
    i = np.array([0, 0, 1, 1, 1, 3])
    s = np.array([5.0, 0.0, 2.0, 3.0, 4.0, 2.0])
    res = []
    for m in (ember, torch):
        tx = _t(x, True) if m is torch else _e(x, device, True)
        ts = _t(s, True) if m is torch else _e(s, device, True)
        idx = _t(i) if m is torch else _e(i, device)
        out = tx.scatter_reduce(0, idx, ts, reduce, include_self=include_self)
        # (the upstream gradient depends on x and src, so amax/amin have a second derivative)
        w = (out * out * m.arange(1.0, 5.0, dtype=out.dtype, device=out.device)).sum()
        gx, gs = m.autograd.grad(w, (tx, ts), create_graph=True)
        h = (gx * gx).sum() + (gs * m.arange(1.0, 7.0, dtype=gs.dtype, device=gs.device)).sum()
        res.append((gx, gs) + m.autograd.grad(h, (tx, ts), allow_unused=True,
                                              materialize_grads=True))
    for a, b in zip(*res):
        _same(a, b, rtol=1e-12, atol=1e-12)


def test_double_backward_refused_with_two_zeros_at_a_target():
    # torch's rule for src is right with two zeros at one target, but its gradient is not:
    # torch refuses that double backward only, and so does ember
    for m in (ember, torch):
        x = m.tensor([2.0, 3.0, 4.0], requires_grad=True)
        s = m.tensor([0.0, 0.0, 2.0, 3.0, 4.0], requires_grad=True)
        out = x.scatter_reduce(0, m.tensor([0, 0, 1, 1, 1]), s, "prod")
        gx, gs = m.autograd.grad(out.sum(), (x, s), create_graph=True)
        assert gs.tolist() == [0.0, 0.0, 36.0, 24.0, 18.0]
        assert m.autograd.grad(gx.sum(), s, retain_graph=True)[0].tolist() == \
            [0.0, 0.0, 12.0, 8.0, 6.0]
        with pytest.raises(RuntimeError, match="Double backward is unsupported for src when >1 "
                                               "zeros in src are scattered to the same position"):
            m.autograd.grad(gs.sum(), (x, s))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_inplace_method(device, reduce):
    x = rng.integers(-3, 4, (3, 5)).astype(np.float32)
    i = rng.integers(0, 5, (3, 4))
    s = rng.integers(-3, 4, (3, 4)).astype(np.float32)
    for include_self in (True, False):
        ex = _e(x, device)
        r = ex.scatter_reduce_(1, _e(i, device), _e(s, device), reduce, include_self=include_self)
        assert r is ex
        tx = _t(x)
        tx.scatter_reduce_(1, _t(i), _t(s), reduce, include_self=include_self)
        _same(ex, tx)
    # on a non-leaf, the gradient flows through the in-place update, as torch's
    got = []
    for m in (ember, torch):
        leaf = _t(x, True) if m is torch else _e(x, device, True)
        src = _t(s, True) if m is torch else _e(s, device, True)
        y = leaf * 2
        y.scatter_reduce_(1, _t(i) if m is torch else _e(i, device), src, reduce)
        got.append(m.autograd.grad((y * y).sum(), (leaf, src)))
    for a, b in zip(*got):
        _same(a, b, rtol=1e-5, atol=1e-5)
    leaf = _e(x, device, True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.scatter_reduce_(1, _e(i, device), _e(s, device), reduce)


@pytest.mark.parametrize("reduce", REDUCES + ("sum", "mean"))
def test_zero_dim_and_int32_index(reduce):
    pairs = [(2.0, 0, 5.0), (2.0, [0, 0], [5.0, 7.0]), ([2.0, 3.0], 1, 5.0),
             ([2.0, 3.0], [1], 5.0)]
    for x, i, s in pairs:
        for include_self in (True, False):
            want = torch.tensor(x).scatter_reduce(0, torch.tensor(i), torch.tensor(s), reduce,
                                                  include_self=include_self)
            got = ember.tensor(x).scatter_reduce(0, ember.tensor(i), ember.tensor(s), reduce,
                                                 include_self=include_self)
            _same(got, want)
    x, s = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 0.5]])
    i = np.array([[1, 0]], np.int32)  # torch takes int32 indices for scatter_reduce too
    _same(_e(x).scatter_reduce(0, _e(i), _e(s), reduce),
          _t(x).scatter_reduce(0, _t(i), _t(s), reduce))


def _error(m, fn):
    try:
        fn(m)
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return e
    return None


@pytest.mark.parametrize("name, fn", [
    ("unknown reduce", lambda m: m.ones(3).scatter_reduce(0, m.tensor([0]), m.ones(1), "add")),
    ("src dtype", lambda m: m.ones(3).scatter_reduce(0, m.tensor([0]),
                                                      m.ones(1, dtype=m.float64), "amax")),
    ("float index", lambda m: m.ones(3).scatter_reduce(0, m.tensor([0.0]), m.ones(1), "prod")),
    ("int16 index", lambda m: m.ones(3).scatter_reduce(0, m.tensor([0], dtype=m.int16),
                                                        m.ones(1), "prod")),
    ("negative index", lambda m: m.ones(3).scatter_reduce(0, m.tensor([-1]), m.ones(1), "amin")),
    ("index too large", lambda m: m.ones(3, 2).scatter_reduce(0, m.tensor([[0, 3]]),
                                                               m.ones(1, 2), "prod")),
    ("index ndim", lambda m: m.ones(3, 2).scatter_reduce(0, m.tensor([0]), m.ones(1), "prod")),
    ("index larger than self", lambda m: m.ones(3, 2).scatter_reduce(
        0, m.zeros(2, 3, dtype=m.int64), m.ones(2, 3), "amax")),
    ("src smaller than index", lambda m: m.ones(3, 4).scatter_reduce(
        0, m.zeros(2, 3, dtype=m.int64), m.ones(2, 2), "amax")),
    ("src fewer dims", lambda m: m.ones(3, 2).scatter_reduce(
        0, m.zeros(2, 1, dtype=m.int64), m.ones(2), "amax")),
    ("src more dims", lambda m: m.ones(3).scatter_reduce(0, m.tensor([1]), m.ones(1, 1),
                                                          "amax")),
    ("src not a tensor", lambda m: m.ones(3).scatter_reduce(0, m.tensor([0]), 1.0, "amax")),
    ("dim out of range", lambda m: m.ones(3, 2).scatter_reduce(
        2, m.zeros(1, 1, dtype=m.int64), m.ones(1, 1), "prod")),
    ("bool mean", lambda m: m.ones(3, dtype=m.bool).scatter_reduce(
        0, m.tensor([0]), m.ones(1, dtype=m.bool), "mean")),
])
def test_errors_have_torchs_class(name, fn):
    want, got = _error(torch, fn), _error(ember, fn)
    assert want is not None and got is not None, (name, want, got)
    assert type(got) is type(want), (name, repr(got), repr(want))
    assert str(got)


def test_error_messages_say_what():
    x = ember.ones(3, 4)
    with pytest.raises(RuntimeError, match=r"index -1 is out of bounds for dimension 0 with "
                                           r"size 3"):
        x.scatter_reduce(0, ember.tensor([[0, -1]]), ember.ones(1, 2), "amax")
    with pytest.raises(RuntimeError, match=r"index \[2, 3\] .* no larger size than src \[2, 2\]"):
        x.scatter_reduce(0, ember.zeros(2, 3, dtype=ember.int64), ember.ones(2, 2), "prod")
    with pytest.raises(RuntimeError, match=r"self.dtype to be equal to src.dtype.*float32.*"
                                           r"float64"):
        x.scatter_reduce(0, ember.zeros(1, 1, dtype=ember.int64),
                         ember.ones(1, 1, dtype=ember.float64), "amin")
    with pytest.raises(RuntimeError, match="reduce argument must be either sum, prod, mean, "
                                           "amax or amin, got multiply"):
        x.scatter_reduce(0, ember.zeros(1, 1, dtype=ember.int64), ember.ones(1, 1), "multiply")


@pytest.mark.skipif(not _OPENCL, reason="the opencl backend is not available here")
def test_opencl_mixed_devices_and_host_path(monkeypatch):
    x = ember.ones(3, 4, device="opencl")
    with pytest.raises(RuntimeError, match="same device"):
        x.scatter_reduce(0, ember.zeros(1, 1, dtype=ember.int64, device="opencl"),
                         ember.ones(1, 1), "amax")
    # a device without 64-bit atomics reduces 8-byte elements on the host: same values
    dev = x._data.device
    monkeypatch.setattr(dev, "int64_atomics", False)
    for dtype in ("int64", "float64"):
        if not _claims("opencl", dtype):
            continue
        xs = _values(dtype, (3, 5), ties=True)
        s = _values(dtype, (4, 5), ties=True)
        i = _index((4, 5), 3)
        for reduce in REDUCES:
            got = _e(xs, "opencl").scatter_reduce(0, _e(i, "opencl"), _e(s, "opencl"), reduce)
            _same(got, _t(xs).scatter_reduce(0, _t(i), _t(s), reduce))
