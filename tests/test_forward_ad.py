"""ember.autograd.forward_ad against torch.autograd.forward_ad: values and tangents of ops on
every available backend, finite differences, ember.func.jvp, levels and torch's errors."""
import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw
import torch.nn.functional as TF

import ember
import ember.autograd.forward_ad as efw
import ember.nn.functional as EF

DEVICES = ember.backends.available()
RNG = np.random.default_rng(2027)


@pytest.fixture(autouse=True)
def _no_leftover_level():
    # a failing test may leave its level open; the next test must not see "nested" errors
    yield
    for mod in (efw, tfw):
        while mod._current_level >= 0:
            mod.exit_dual_level()


def _arr(shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float64)


def _np(t):
    return t.detach().to("cpu").numpy()


def _close(e, t, tol=1e-10):
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(_np(e), t.detach().numpy(), rtol=tol, atol=tol)


# (name, fn(m, F, *inputs), input shapes, how many leading inputs are dual)
CASES = [
    ("elementwise", lambda m, F, a, b: (a * b).sin() + a.exp() / (1 + b ** 2),
     [(3, 4), (3, 4)], 2),
    ("broadcast", lambda m, F, a, b: a * b - m.tanh(b) + a / (b * b + 1),
     [(2, 3, 4), (4,)], 2),
    ("matmul", lambda m, F, a, b: a @ b, [(3, 5), (5, 2)], 2),
    ("matmul_one_dual", lambda m, F, a, b: (a @ b).relu(), [(3, 5), (5, 2)], 1),
    ("reductions", lambda m, F, a: m.stack([a.sum(), a.mean(), a.var(), a.norm(),
                                            a.logsumexp((0, 1))]), [(4, 5)], 1),
    ("reduce_dim", lambda m, F, a: a.sum(1) * a.mean(0)[:3] + a.amax(1), [(3, 6)], 1),
    ("views", lambda m, F, a: a.t()[1:, ::2].reshape(-1) * a[0, :2].unsqueeze(1).expand(2, 3)
     .flatten(), [(3, 4)], 1),
    ("cat_permute", lambda m, F, a, b: m.cat([a, b], 0).permute(1, 0) ** 3,
     [(2, 3), (1, 3)], 2),
    ("linear", lambda m, F, x, w, b: F.linear(x, w, b), [(4, 3), (2, 3), (2,)], 3),
    ("softmax", lambda m, F, x: F.softmax(x, dim=-1) * F.log_softmax(x, dim=0),
     [(3, 5)], 1),
    ("conv2d", lambda m, F, x, w: F.conv2d(x, w, padding=1, stride=2),
     [(1, 2, 5, 5), (3, 2, 3, 3)], 2),
    ("mlp_loss", lambda m, F, x, w: F.mse_loss(F.gelu(F.linear(x, w)), x[:, :2]),
     [(4, 3), (2, 3)], 2),
]


def _forward(mod, m, F, fn, primals, tangents, n_dual):
    with mod.dual_level():
        ins = [mod.make_dual(p, t) for p, t in zip(primals[:n_dual], tangents)]
        out = fn(m, F, *ins, *primals[n_dual:])
        primal, tangent = mod.unpack_dual(out)
        return primal, tangent


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name,fn,shapes,n_dual", CASES, ids=[c[0] for c in CASES])
def test_ops_match_torch(dev, name, fn, shapes, n_dual):
    arrs = [_arr(s) for s in shapes]
    tans = [_arr(s) for s in shapes[:n_dual]]
    ep, et = _forward(efw, ember, EF, fn, [ember.tensor(a, device=dev) for a in arrs],
                      [ember.tensor(a, device=dev) for a in tans], n_dual)
    tp, tt = _forward(tfw, torch, TF, fn, [torch.tensor(a) for a in arrs],
                      [torch.tensor(a) for a in tans], n_dual)
    assert et is not None and tt is not None
    assert ep.device.type == dev and et.device.type == dev
    assert et.dtype == ember.float64
    _close(ep, tp)
    _close(et, tt, 1e-9)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name,fn,shapes,n_dual", CASES, ids=[c[0] for c in CASES])
def test_tangents_match_finite_differences(dev, name, fn, shapes, n_dual):
    arrs = [_arr(s) for s in shapes]
    tans = [_arr(s) for s in shapes[:n_dual]]
    _, et = _forward(efw, ember, EF, fn, [ember.tensor(a, device=dev) for a in arrs],
                     [ember.tensor(a, device=dev) for a in tans], n_dual)
    eps = 1e-6

    def at(sign):
        moved = [a + sign * eps * t for a, t in zip(arrs, tans)] + arrs[n_dual:]
        return _np(fn(ember, EF, *[ember.tensor(a, device=dev) for a in moved]))
    fd = (at(1) - at(-1)) / (2 * eps)
    np.testing.assert_allclose(_np(et), fd, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dev", DEVICES)
def test_same_numbers_as_func_jvp(dev):
    a, b, ta, tb = _arr((3, 4)), _arr((4, 2)), _arr((3, 4)), _arr((4, 2))
    ea, eb, eta, etb = (ember.tensor(v, device=dev) for v in (a, b, ta, tb))

    def f(x, y):
        return (x @ y).tanh() * 2 + x.sum()
    out, jv = ember.func.jvp(f, (ea, eb), (eta, etb))
    with efw.dual_level():
        primal, tangent = efw.unpack_dual(f(efw.make_dual(ea, eta), efw.make_dual(eb, etb)))
    _close(primal, torch.tensor(_np(out)))
    _close(tangent, torch.tensor(_np(jv)), 1e-12)
    _, tjv = torch.func.jvp(f, (torch.tensor(a), torch.tensor(b)),
                            (torch.tensor(ta), torch.tensor(tb)))
    _close(tangent, tjv)


@pytest.mark.parametrize("dev", DEVICES)
def test_dual_itself_and_non_dual_tensors(dev):
    x = ember.tensor(_arr(3), device=dev)
    t = ember.tensor(_arr(3), device=dev)
    other = ember.ones(3, device=dev)
    with efw.dual_level():
        d = efw.make_dual(x, t)
        p, tan = efw.unpack_dual(d)
        assert tan is t                       # the tangent as-is, as torch
        _close(p, torch.tensor(_np(x)))
        assert efw.unpack_dual(p).tangent is None   # the primal is not dual
        res = efw.unpack_dual(other)
        assert isinstance(res, efw.UnpackedDualTensor) and res.tangent is None
        assert res.primal is not other and (_np(res.primal) == 1).all()
        assert efw.unpack_dual(d.detach()).tangent is None
        assert efw.unpack_dual(d.argmax()).tangent is None   # integer result
        assert efw.unpack_dual(d > 0).tangent is None
        floor = efw.unpack_dual(d.floor()).tangent      # connected, zero derivative
        assert floor is not None and (_np(floor) == 0).all()
        x[0] = 5.0   # the dual aliases the primal's storage, as torch's does
        assert _np(d)[0] == 5.0
    # outside a level: the tensor itself and no tangent
    res = efw.unpack_dual(d)
    assert res.primal is d and res.tangent is None
    assert efw.UnpackedDualTensor._fields == ("primal", "tangent")


@pytest.mark.parametrize("dev", DEVICES)
def test_backward_through_dual_and_primal(dev):
    a, ta = _arr((2, 3)), _arr((2, 3))
    results = {}
    for name, mod, m in (("ember", efw, ember), ("torch", tfw, torch)):
        kw = {"device": dev} if m is ember else {}
        x = m.tensor(a, requires_grad=True, **kw)
        with mod.dual_level():
            d = mod.make_dual(x, m.tensor(ta, **kw))
            assert d.requires_grad
            primal, tangent = mod.unpack_dual((d.sin() * x).sum())
            assert primal.requires_grad
            primal.backward()
        results[name] = (primal, tangent, x.grad)
    for e, t in zip(results["ember"], results["torch"]):
        _close(e, t)


@pytest.mark.parametrize("dev", DEVICES)
def test_inplace_on_dual(dev):
    a, ta = _arr(4), _arr(4)
    outs = []
    for mod, m in ((efw, ember), (tfw, torch)):
        kw = {"device": dev} if m is ember else {}
        with mod.dual_level():
            d = mod.make_dual(m.tensor(a, **kw), m.tensor(ta, **kw))
            d.mul_(3).add_(d.exp())
            outs.append(mod.unpack_dual(d))
    _close(outs[0].primal, outs[1].primal)
    _close(outs[0].tangent, outs[1].tangent)


@pytest.mark.parametrize("dev", DEVICES)
def test_tangent_that_requires_grad(dev):
    a, ta = _arr(3), _arr(3)
    grads = []
    for mod, m in ((efw, ember), (tfw, torch)):
        kw = {"device": dev} if m is ember else {}
        t = m.tensor(ta, requires_grad=True, **kw)
        with mod.dual_level():
            d = mod.make_dual(m.tensor(a, **kw), t)
            tangent = mod.unpack_dual(d.sin() * 2).tangent
            assert tangent.requires_grad
            tangent.sum().backward()
        grads.append(t.grad)
    _close(*grads)


def test_float64_tangent_of_float32_primal():
    a, ta = _arr(3).astype(np.float32), _arr(3)
    outs = []
    for mod, m in ((efw, ember), (tfw, torch)):
        with mod.dual_level():
            d = mod.make_dual(m.tensor(a), m.tensor(ta))
            outs.append(mod.unpack_dual(d * 2).tangent)
    assert outs[0].dtype == ember.float64 and outs[1].dtype == torch.float64
    _close(outs[0], outs[1], 1e-6)


def test_levels():
    x, t = ember.ones(2), ember.ones(2)
    assert efw._current_level == -1
    with efw.dual_level() as level:
        assert level == 0
        d = efw.make_dual(x, t)
        assert efw.unpack_dual(d * 2, level=0).tangent is not None
    assert efw.unpack_dual(d * 2).tangent is None         # the level's tangents are gone
    with efw.dual_level() as level:
        assert level == 0
        assert efw.unpack_dual(d * 2).tangent is None     # a new level knows no old dual
    assert efw.enter_dual_level() == 0
    efw.exit_dual_level(level=0)

    @efw.dual_level()
    def f():
        return efw._current_level
    assert f() == 0 and efw._current_level == -1
    assert ember.autograd.forward_ad is efw
    assert efw.dual_level is not None and "make_dual" in efw.__all__


def _same_error(fn):
    """Run ``fn(mod, m)`` with torch and ember: the same exception class and message."""
    got = []
    for mod, m in ((tfw, torch), (efw, ember)):
        with pytest.raises(Exception) as info:
            fn(mod, m)
        # (dtypes print as ember.int64 where torch's say torch.int64)
        got.append((type(info.value), str(info.value).replace("ember.", "torch.")))
        while mod._current_level >= 0:
            mod.exit_dual_level()
    assert got[1] == got[0]


def _in_level(body):
    def run(mod, m):
        with mod.dual_level():
            body(mod, m)
    return run


@pytest.mark.parametrize("case", [
    "no_level", "size", "size_scalar", "int_primal", "int_tangent", "already_dual",
    "derived_dual", "nested", "nested_cm", "exit_wrong", "exit_none", "level_index",
    "level_invalid", "unpack_invalid",
])
def test_errors_match_torch(case):
    def ones(m, *s, **kw):
        return m.ones(*s, **kw)
    bodies = {
        "no_level": lambda mod, m: mod.make_dual(ones(m, 3), ones(m, 3)),
        "size": _in_level(lambda mod, m: mod.make_dual(ones(m, 3), ones(m, 1, 3))),
        "size_scalar": _in_level(lambda mod, m: mod.make_dual(ones(m, ()), ones(m, 2))),
        "int_primal": _in_level(lambda mod, m: mod.make_dual(m.arange(3), ones(m, 3))),
        "int_tangent": _in_level(lambda mod, m: mod.make_dual(ones(m, 3), m.arange(3))),
        "already_dual": _in_level(lambda mod, m: mod.make_dual(
            mod.make_dual(ones(m, 3), ones(m, 3)), ones(m, 3))),
        "derived_dual": _in_level(lambda mod, m: mod.make_dual(
            mod.make_dual(ones(m, 3), ones(m, 3)).exp(), ones(m, 3))),
        "nested": _in_level(lambda mod, m: mod.enter_dual_level()),
        "nested_cm": _in_level(lambda mod, m: mod.dual_level().__enter__()),
        "exit_wrong": _in_level(lambda mod, m: mod.exit_dual_level(level=3)),
        "exit_none": lambda mod, m: mod.exit_dual_level(),
        "level_index": lambda mod, m: mod.make_dual(ones(m, 3), ones(m, 3), level=0),
        "level_invalid": _in_level(lambda mod, m: mod.make_dual(ones(m, 3), ones(m, 3),
                                                                level=2)),
        "unpack_invalid": _in_level(lambda mod, m: mod.unpack_dual(
            mod.make_dual(ones(m, 3), ones(m, 3)) * 2, level=4)),
    }
    _same_error(bodies[case])


def test_invalid_level_of_non_dual_tensor_is_not_an_error():
    with efw.dual_level():
        assert efw.unpack_dual(ember.ones(3), level=4).tangent is None
    assert efw.unpack_dual(ember.ones(3), level=4).tangent is None


def test_errors_leave_no_level_behind():
    with pytest.raises(RuntimeError):
        with efw.dual_level():
            efw.make_dual(ember.ones(3), ember.ones(2))
    assert efw._current_level == -1


@pytest.mark.parametrize("dev", DEVICES)
def test_unpack_dual_twice_and_backward_after(dev):
    # unpack_dual must leave the graph it reads intact: a second unpack_dual of the same tensor,
    # and a backward through it afterwards, work in torch (whose forward AD never runs backward)
    x0 = _arr(3)
    results = []
    for mod, m in ((efw, ember), (tfw, torch)):
        w = m.tensor(x0, requires_grad=True) if m is torch else ember.tensor(
            x0, device=dev, requires_grad=True)
        with mod.dual_level():
            s = mod.make_dual(w * 1.5, m.ones_like(w))
            e = m.exp(s) * m.sin(s)
            first = mod.unpack_dual(e).tangent
            again = mod.unpack_dual(e)
            again.primal.sum().backward()
        results.append((first, again.tangent, w.grad))
    for got, want in zip(results[0], results[1]):
        _close(got, want)
