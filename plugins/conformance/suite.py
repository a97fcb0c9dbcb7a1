"""The conformance tests. pytest runs this module through ``ember.plugins.conformance`` (the
runner's plugin parametrises each test over the op table and the dtypes the device claims; see
``runner.py``). Each test function carries ``kind``: the runner uses it to build the cells.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest

import ember as E

from . import harness as H
from .opinfo import FLOATS, INTS, NP, is_float, make_rng

warnings.filterwarnings("ignore", message=r"ember: .* has no .* kernel")


def kind(name):
    def mark(fn):
        fn.ember_kind = name
        return fn
    return mark


# ---- op table ----------------------------------------------------------------------------------

@kind("forward")
def test_forward(cell, device):
    """Each sample against the float64 NumPy reference: output dtype, shape, device, values."""
    info, dtype = cell
    rng = make_rng(info.name, dtype)
    bad = H.Failures()
    for sample in info.samples(dtype, rng):
        if "to" in sample.kwargs and sample.kwargs["to"] not in E.backends.capabilities(
                device.type)["dtypes"]:
            continue  # casting to a dtype the backend does not claim
        with bad.sample(sample):
            try:
                outs = H.as_tuple(H.call(E, info, sample, dtype, device))
            except Exception as e:
                H.fail(info, dtype, sample, [f"raised {type(e).__name__}: {e}"])
            expected = H.reference(info, sample)
            problems = H.check_outputs(info, sample, dtype, outs, expected, "ember vs numpy",
                                       device.type)
            if problems:
                H.fail(info, dtype, sample, problems)
    bad.check()


PARITY = {"ran": 0}


@kind("parity")
def test_torch_parity(cell, device, torch_module):
    """The same call on torch (cpu): output dtype and values must agree with ember on device."""
    info, dtype = cell
    torch = torch_module
    rng = make_rng(info.name, dtype)
    bad = H.Failures()
    for sample in info.samples(dtype, rng):
        if "to" in sample.kwargs and sample.kwargs["to"] not in E.backends.capabilities(
                device.type)["dtypes"]:
            continue
        with bad.sample(sample):
            _parity_one(torch, info, sample, dtype, device)
    bad.check()


def _parity_one(torch, info, sample, dtype, device):
    if True:
        want = H.as_tuple(H.call(torch, info, sample, dtype, "cpu"))
        try:
            got = H.as_tuple(H.call(E, info, sample, dtype, device))
        except Exception as e:
            H.fail(info, dtype, sample, [f"raised {type(e).__name__}: {e}"])
        expected = [H.to_host(t) for t in want]
        problems = []
        if len(got) != len(want):
            problems.append(f"{len(got)} outputs, torch gives {len(want)}")
        for k, (g, w) in enumerate(zip(got, want)):
            td = str(w.dtype).replace("torch.", "")
            if H.dtype_name(g) != td:
                problems.append(f"output {k}: dtype {H.dtype_name(g)}, torch gives {td}")
            elif not (info.check is not None and k > 0):
                p = H.compare(H.to_host(g), expected[k], td, 2 * info.tol,
                              f"ember vs torch output {k}")
                if p:
                    problems.append(p)
        PARITY["ran"] += 1
        if problems:
            H.fail(info, dtype, sample, problems)


@kind("grad")
def test_grad(cell, device):
    """float64 (or float32, where the device lacks float64): the gradient against central
    finite differences; other float dtypes: the gradient against the one in that dtype."""
    info, dtype = cell
    claimed = E.backends.capabilities(device.type)["dtypes"]
    fd = next(d for d in H.FD_DTYPES if d in claimed)
    rng = make_rng("grad", info.name, dtype)
    samples = H.grad_samples(info, dtype, rng)
    assert samples, f"{info.name}: no differentiable sample for {dtype}"
    bad = H.Failures()
    for sample in samples:
        with bad.sample(sample):
            if dtype == fd:
                H.gradcheck(E, info, sample, dtype, device, rng)
            else:
                H.grad_consistency(E, info, sample, dtype, fd, device, rng)
    bad.check()


@kind("gradgrad")
def test_gradgrad(cell, device):
    """Double backward: grad of <w, grad> (create_graph=True) against finite differences of
    the first gradient."""
    info, dtype = cell
    rng = make_rng("gradgrad", info.name, dtype)
    samples = H.grad_samples(info, dtype, rng)[:3]
    bad = H.Failures()
    for sample in samples:
        with bad.sample(sample):
            H.gradcheck(E, info, sample, dtype, device, rng, second_order=True)
    bad.check()


# ---- views and in-place ops --------------------------------------------------------------------

def _base(dtype, device):
    a = (np.arange(12).reshape(3, 4) % 7).astype(NP[dtype]) if dtype != "bool" else (
        np.arange(12).reshape(3, 4) % 3 == 0)
    return a, E.tensor(a.copy(), device=device)


_VIEWS = {
    "slice": (lambda t: t[:, 1:3], lambda a: a[:, 1:3]),
    "transpose": (lambda t: t.t(), lambda a: a.T),
    "view": (lambda t: t.view(4, 3), lambda a: a.reshape(4, 3)),
    "row": (lambda t: t[1], lambda a: a[1]),
    "strided": (lambda t: t[::2, ::3], lambda a: a[::2, ::3]),
    "permute-unsqueeze": (lambda t: t.unsqueeze(0).permute(2, 0, 1),
                          lambda a: a[None].transpose(2, 0, 1)),
}


def _src(shape, dtype, device):
    a = (np.arange(int(np.prod(shape))).reshape(shape) % 5 + 1).astype(NP[dtype]) \
        if dtype != "bool" else np.ones(shape, bool)
    return a, E.tensor(a.copy(), device=device)


def _np_clamp(a):
    np.clip(a, 1, 4, out=a)


def _np_setmask(a):
    a[a > 2] = 0


def _np_sliceadd(a):
    if a.ndim == 2:
        a[:, 1:3] += 1
    else:
        a[1:3] += 1


def _t_sliceadd(t):
    if t.ndim == 2:
        t[:, 1:3] += 1
    else:
        t[1:3] += 1


def _t_setmask(t):
    t[t > 2] = 0


def _t_setall(t):
    t[...] = 6


def _np_setall(a):
    a[...] = 6


def _t_copy(t, device, dtype):
    a, s = _src(tuple(t.shape), dtype, device)
    t.copy_(s)
    return a


INPLACE = {
    # name: (ember in-place on a tensor, numpy on a view, dtypes ("num": not bool))
    "add_": (lambda t: t.add_(2), lambda a: a.__iadd__(2), "num"),
    "mul_": (lambda t: t.mul_(3), lambda a: a.__imul__(3), "num"),
    "zero_": (lambda t: t.zero_(), lambda a: a.fill(0), "all"),
    "fill_": (lambda t: t.fill_(1), lambda a: a.fill(1), "all"),
    "clamp_": (lambda t: t.clamp_(1, 4), _np_clamp, "num"),
    "setitem_ellipsis": (_t_setall, _np_setall, "num"),
    "setitem_mask": (_t_setmask, _np_setmask, "num"),
    "setitem_slice_iadd": (_t_sliceadd, _np_sliceadd, "num"),
    "copy_": (None, None, "all"),
}


def _version(t) -> int:
    v = t._version
    # NOTE: torch's _version is an int; accept a one-element counter cell too (reported)
    return int(v[0]) if isinstance(v, list) else int(v)


@kind("inplace")
def test_inplace(case, device):
    """An in-place op on a view is seen in its base and the base's version counter bumps; an
    in-place op on the base is seen in the view."""
    name, dtype = case
    t_op, np_op, which = INPLACE[name]
    for vname, (tv, av) in _VIEWS.items():
        if name == "setitem_slice_iadd" and vname == "row":
            continue
        for target in ("view", "base"):
            a, base = _base(dtype, device)
            v = tv(base)
            assert v._base is base, f"{vname} view: _base is not the base tensor"
            ver = _version(base)
            where_t = v if target == "view" else base
            where_a = av(a) if target == "view" else a
            if name == "copy_":
                src = _t_copy(where_t, device, dtype)
                where_a[...] = src
            else:
                t_op(where_t)
                np_op(where_a)
            got_b = H.to_host(base)
            got_v = H.to_host(v)
            if not np.array_equal(got_b, a):
                raise H.ConformanceError(f"{name} on the {target} ({vname} view) [{dtype}]: "
                                         f"base is {got_b.tolist()}, expected {a.tolist()}")
            if not np.array_equal(got_v, av(a)):
                raise H.ConformanceError(f"{name} on the {target} ({vname} view) [{dtype}]: "
                                         f"view is {got_v.tolist()}, expected {av(a).tolist()}")
            if not _version(base) > ver or _version(v) != _version(base):
                raise H.ConformanceError(f"{name} on the {target} ({vname} view): version "
                                         f"counter base {ver} -> {_version(base)}, view "
                                         f"{_version(v)}; expected a bump shared by both")


@kind("views")
def test_view_semantics(case, device):
    """contiguous()/is_contiguous(), _base, and that copies do not alias."""
    name, dtype = case
    a, base = _base(dtype, device)
    assert base.is_contiguous() and base._base is None
    assert base.contiguous() is base, "contiguous() of a contiguous tensor must return it"
    for vname, (tv, av) in _VIEWS.items():
        v = tv(base)
        contig = av(a).flags["C_CONTIGUOUS"]
        assert v.is_contiguous() == contig, (
            f"{vname} view: is_contiguous() is {v.is_contiguous()}, expected {contig}")
        c = v.contiguous()
        assert c.is_contiguous(), f"{vname}: contiguous() result is not contiguous"
        assert np.array_equal(H.to_host(c), av(a)), f"{vname}: contiguous() changed values"
        if not contig:
            assert c._base is None, f"{vname}: contiguous() of a non-contiguous view is a view"
            c.fill_(0 if dtype == "bool" else 0)
            assert np.array_equal(H.to_host(base), a), f"{vname}: contiguous() aliases its input"
        r = v.reshape(-1)
        assert np.array_equal(H.to_host(r), av(a).reshape(-1)), f"{vname}: reshape(-1) values"
        cl = v.clone()
        cl.fill_(1)
        assert np.array_equal(H.to_host(base), a), f"{vname}: clone() aliases its input"
        want = [s // a.itemsize for s, n in zip(av(a).strides, av(a).shape) if n > 1]
        got = [s for s, n in zip(v.stride(), v.shape) if n > 1]
        assert got == want, f"{vname}: stride() {v.stride()}, expected {want} for dims > 1"


# ---- error cases -------------------------------------------------------------------------------

def _expect(exc, fn, what, torch_fn=None, torch=None, needs=()):
    try:
        fn()
    except exc as e:
        msg = str(e)
        for n in needs:
            if n not in msg:
                raise H.ConformanceError(f"{what}: the {exc.__name__} should name {n!r}: "
                                         f"{msg!r}") from None
    except Exception as e:
        raise H.ConformanceError(f"{what}: raised {type(e).__name__} ({e}), expected "
                                 f"{exc.__name__}") from None
    else:
        raise H.ConformanceError(f"{what}: no error, expected {exc.__name__}")
    if torch is not None and torch_fn is not None:
        try:
            torch_fn(torch)
        except exc:
            pass
        except Exception as e:  # the suite's own expectation disagrees with torch
            raise H.ConformanceError(f"{what}: torch raises {type(e).__name__}, the suite "
                                     f"expects {exc.__name__}") from None


def _errors_shape(device, torch):
    def mk(m, dev, *s):
        return m.ones(*s, device=dev)
    cases = [
        ("a(2,3) + b(4,5)", lambda m, d: mk(m, d, 2, 3) + mk(m, d, 4, 5)),
        ("matmul (2,3) @ (4,5)", lambda m, d: m.matmul(mk(m, d, 2, 3), mk(m, d, 4, 5))),
        ("view (2,3) as (4,)", lambda m, d: mk(m, d, 2, 3).view(4)),
        ("cat of (2,3) and (2,4) on dim 0", lambda m, d: m.cat([mk(m, d, 2, 3),
                                                               mk(m, d, 2, 4)])),
        ("where with mismatched shapes", lambda m, d: m.where(mk(m, d, 2, 3) > 0,
                                                              mk(m, d, 4), mk(m, d, 2, 3))),
        ("expand (3,) to (4,)", lambda m, d: mk(m, d, 3).expand(4)),
        ("x(3,4)[:, 1:3] = y(3,)", lambda m, d: mk(m, d, 3, 4).__setitem__(
            (slice(None), slice(1, 3)), mk(m, d, 3))),
    ]
    for what, f in cases:
        _expect(RuntimeError, lambda: f(E, device), what, lambda t: f(t, "cpu"), torch)


def _errors_index(device, torch):
    def mk(m, dev):
        return m.zeros(3, 4, device=dev)
    cases = [
        ("x[5] on size 3", lambda m, d: mk(m, d)[5]),
        ("x[:, -5] on size 4", lambda m, d: mk(m, d)[:, -5]),
        ("x[0, 0, 0] on 2-d", lambda m, d: mk(m, d)[0, 0, 0]),
        ("x[tensor([0, 3])] on size 3", lambda m, d: mk(m, d)[m.tensor([0, 3], device=d)]),
        ("x[3] = 1 on size 3", lambda m, d: mk(m, d).__setitem__(3, 1.0)),
        ("x[tensor([-4])] = 1 on size 3",
         lambda m, d: mk(m, d).__setitem__(m.tensor([-4], device=d), 1.0)),
        ("x[1.5] (a float index)", lambda m, d: mk(m, d)[1.5]),
        ("index_select with index 7 on size 3",
         lambda m, d: m.index_select(mk(m, d), 0, m.tensor([7], device=d))),
    ]
    for what, f in cases:
        _expect(IndexError, lambda: f(E, device), what, lambda t: f(t, "cpu"), torch)


def _errors_device(device, torch):
    if device.type == "cpu":
        pytest.skip("mixed-device errors need a device other than cpu")
    a = E.ones(2, 3)
    b = E.ones(2, 3, device=device)
    names = ("cpu", device.type)
    cases = [("cpu + device", lambda: a + b), ("device * cpu", lambda: b * a),
             ("matmul", lambda: E.matmul(a, b.t())), ("cat", lambda: E.cat([a, b])),
             ("where", lambda: E.where(b > 0, a, b)),
             ("copy-free in-place add_", lambda: b.add_(a)),
             ("index with a cpu index", lambda: b.index_select(0, E.tensor([0]))),
             ("gather", lambda: E.gather(b, 1, E.zeros(2, 1, dtype=E.int64)))]
    for what, f in cases:
        _expect(RuntimeError, f, f"mixed devices: {what}", needs=names)


def _errors_type(device, torch):
    def mk(m, d):
        return m.ones(2, 3, device=d)
    cases = [
        ("x + 'a'", lambda m, d: mk(m, d) + "a"),
        ("exp('a')", lambda m, d: m.exp("a")),
        ("matmul(x, list)", lambda m, d: m.matmul(mk(m, d), [[1.0], [2.0], [3.0]])),
        ("cat(tensor)", lambda m, d: m.cat(mk(m, d))),
        ("x.view('a')", lambda m, d: mk(m, d).view("a")),
        ("zeros('a')", lambda m, d: m.zeros("a", device=d)),
    ]
    for what, f in cases:
        _expect(TypeError, lambda: f(E, device), what, lambda t: f(t, "cpu"), torch)


ERRORS = {"shape_mismatch": _errors_shape, "bad_index": _errors_index,
          "mixed_devices": _errors_device, "wrong_types": _errors_type}


@kind("errors")
def test_errors(case, device, torch_or_none):
    """Shape mismatch -> RuntimeError, bad index -> IndexError, mixed devices -> RuntimeError
    naming both, wrong argument types -> TypeError (and torch agrees, where importable)."""
    name, _ = case
    ERRORS[name](device, torch_or_none)


# ---- random numbers ----------------------------------------------------------------------------

N_RNG = 200_000


def _rng_rand(device, dtype):
    E.manual_seed(1234)
    x = E.rand(N_RNG, device=device, dtype=getattr(E, dtype))
    assert H.dtype_name(x) == dtype and x.device.type == device.type
    h = H.to_host(x).astype(np.float64)
    assert h.min() >= 0 and h.max() < 1, f"rand outside [0, 1): min {h.min()}, max {h.max()}"
    se = 5 * np.sqrt(1 / 12 / N_RNG)
    assert abs(h.mean() - 0.5) < se + 1e-3, f"rand mean {h.mean()}"
    assert abs(h.var() - 1 / 12) < 5 * np.sqrt(1 / 180 / N_RNG) + 1e-3, f"rand var {h.var()}"
    counts = np.histogram(h, bins=10, range=(0, 1))[0] / N_RNG
    assert np.all(np.abs(counts - 0.1) < 0.01), f"rand histogram not flat: {counts}"


def _rng_randn(device, dtype):
    E.manual_seed(99)
    x = E.randn(N_RNG, device=device, dtype=getattr(E, dtype))
    assert H.dtype_name(x) == dtype
    h = H.to_host(x).astype(np.float64)
    assert np.isfinite(h).all(), "randn gave non-finite values"
    m, v = h.mean(), h.var()
    z = (h - m) / np.sqrt(v)
    skew, kurt = (z ** 3).mean(), (z ** 4).mean()
    lim = 6 / np.sqrt(N_RNG)
    assert abs(m) < lim * 2, f"randn mean {m}"
    assert abs(v - 1) < lim * 3 + 2e-3, f"randn variance {v}"
    assert abs(skew) < lim * 4, f"randn skewness {skew}"
    assert abs(kurt - 3) < lim * 12 + 1e-2, f"randn kurtosis {kurt}"
    assert abs((np.abs(h) < 1).mean() - 0.6827) < 0.01, "randn: P(|x|<1) is not 0.683"


def _rng_randint(device, dtype):
    lo, hi = (0, 10) if dtype in ("uint8", "bool") else (-3, 7)
    E.manual_seed(7)
    x = E.randint(lo, hi, (N_RNG,), device=device, dtype=getattr(E, dtype))
    assert H.dtype_name(x) == dtype
    h = H.to_host(x).astype(np.int64)
    assert h.min() == lo and h.max() == hi - 1, f"randint range [{h.min()}, {h.max()}]"
    freq = np.bincount(h - lo, minlength=hi - lo) / N_RNG
    assert np.all(np.abs(freq - 0.1) < 0.01), f"randint frequencies {freq}"


def _rng_seed(device, dtype):
    dt = getattr(E, dtype)
    draws = []
    for seed in (5, 5, 6):
        E.manual_seed(seed)
        if is_float(dtype):
            a = E.rand(100, device=device, dtype=dt)
            b = E.randn(3, 4, device=device, dtype=dt)
        else:
            a = E.randint(0, 100, (100,), device=device, dtype=dt)
            b = E.randint(0, 5, (3, 4), device=device, dtype=dt)
        draws.append((H.to_host(a), H.to_host(b)))
    assert np.array_equal(draws[0][0], draws[1][0]) and np.array_equal(draws[0][1], draws[1][1]),\
        "manual_seed(5) twice gave different numbers"
    assert not np.array_equal(draws[0][0], draws[2][0]), "seeds 5 and 6 gave the same numbers"
    assert not np.array_equal(draws[0][0][:12], draws[0][1].reshape(-1)[:12]), \
        "consecutive draws repeat"
    g = E.Generator(device=device)
    g.manual_seed(11)
    x1 = H.to_host(E.rand(50, generator=g, device=device)) if is_float(dtype) else None
    g.manual_seed(11)
    if x1 is not None:
        assert np.array_equal(x1, H.to_host(E.rand(50, generator=g, device=device))), \
            "Generator(device).manual_seed does not reproduce"


def _rng_randperm(device, dtype):
    E.manual_seed(3)
    for n in (0, 1, 10, 1000):
        p = E.randperm(n, device=device)
        assert H.dtype_name(p) == "int64" and p.device.type == device.type
        h = H.to_host(p)
        assert np.array_equal(np.sort(h), np.arange(n)), f"randperm({n}) is not a permutation"
    assert not np.array_equal(h, np.arange(1000)), "randperm(1000) is the identity"


RNG = {"rand": (_rng_rand, FLOATS), "randn": (_rng_randn, FLOATS),
       "randint": (_rng_randint, INTS), "manual_seed": (_rng_seed, FLOATS + INTS),
       "randperm": (_rng_randperm, ("int64",))}


@kind("rng")
def test_rng(case, device):
    """Statistics and reproducibility of the device's random numbers."""
    name, dtype = case
    RNG[name][0](device, dtype)


# ---- nn and training ---------------------------------------------------------------------------

def _nn():
    try:
        import ember.nn as nn  # noqa: F401
        return nn
    except Exception as e:  # pragma: no cover - skip only when nn itself is missing
        pytest.skip(f"ember.nn is not importable: {type(e).__name__}: {e}")


def _nn_mlp(device, dtype):
    nn = _nn()
    dt = getattr(E, dtype)
    E.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3)).to(dt)
    rng = make_rng("mlp")
    x = rng.standard_normal((32, 5)).astype(NP[dtype])
    y = rng.standard_normal((32, 3)).astype(NP[dtype])
    losses, params = [], []
    for dev in ("cpu", device):
        m = copy.deepcopy(model).to(dev)
        opt = E.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        xs, ys = E.tensor(x, device=dev), E.tensor(y, device=dev)
        traj = []
        for _ in range(3):
            opt.zero_grad()
            loss = nn.functional.mse_loss(m(xs), ys)
            loss.backward()
            opt.step()
            traj.append(float(loss.item()))
        losses.append(traj)
        params.append([H.to_host(p).astype(np.float64) for p in m.parameters()])
    a, b = losses
    rtol = {"float64": 1e-9, "float32": 1e-4}.get(dtype, 2e-2)
    assert np.allclose(a, b, rtol=rtol), f"loss trajectory on cpu {a}, on {device} {b}"
    assert a[2] < a[0], f"3 SGD steps did not reduce the loss: {a}"
    for p, q in zip(*params):
        assert np.allclose(p, q, rtol=rtol * 10, atol=rtol), "parameters differ after training"


def _nn_conv(device, dtype):
    nn = _nn()
    dt = getattr(E, dtype)
    E.manual_seed(1)
    conv = nn.Conv2d(3, 4, 3, stride=1, padding=1).to(dt)
    conv2 = nn.Conv2d(4, 2, 2, stride=2, padding=0, bias=False).to(dt)
    x = make_rng("conv").standard_normal((2, 3, 7, 6)).astype(NP[dtype])
    outs, grads = [], []
    for dev in ("cpu", device):
        c1, c2 = copy.deepcopy(conv).to(dev), copy.deepcopy(conv2).to(dev)
        xt = E.tensor(x, device=dev, requires_grad=True)
        out = c2(E.relu(c1(xt)))
        out.sum().backward()
        outs.append(H.to_host(out).astype(np.float64))
        grads.append([H.to_host(xt.grad).astype(np.float64)] +
                     [H.to_host(p.grad).astype(np.float64) for p in c1.parameters()])
    rtol = {"float64": 1e-9, "float32": 1e-4}.get(dtype, 2e-2)
    assert outs[0].shape == outs[1].shape == (2, 2, 3, 3), f"conv output shape {outs[1].shape}"
    assert np.allclose(outs[0], outs[1], rtol=rtol, atol=rtol), "conv forward differs from cpu"
    for g0, g1 in zip(*grads):
        assert np.allclose(g0, g1, rtol=rtol, atol=rtol), "conv gradients differ from cpu"


NN = {"mlp_sgd": (_nn_mlp, ("float32", "float64")), "conv2d": (_nn_conv, ("float32", "float64"))}


@kind("nn")
def test_nn(case, device):
    """A Linear-ReLU-Linear MLP trained 3 SGD steps gives the cpu loss trajectory; a Conv2d
    stack gives cpu's forward and gradients."""
    name, dtype = case
    NN[name][0](device, dtype)
