"""ember.autograd.functional against torch.autograd.functional: values, torch's tuple nesting,
strict mode, create_graph, and errors, on every available backend."""
import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ember
import ember.autograd.functional as EF

DEVICES = ember.backends.available()
RNG = np.random.default_rng(99)


def _pair(shape, dev):
    a = RNG.standard_normal(shape)
    return ember.tensor(a, device=dev), torch.tensor(a)


def _close(e, t):
    if isinstance(t, tuple):
        assert isinstance(e, tuple) and len(e) == len(t)
        for a, b in zip(e, t):
            _close(a, b)
        return
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().to("cpu").numpy(), t.detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def _fns(m):
    def one(a):
        return (a.sin() * a).sum() * a[:2]

    def two_in_two_out(a, b):
        return a.sum() * b * b.cos(), (a * 2).exp()

    def scalar(a, b):
        return (a * a * b.sum()).sum() + (b ** 3).sum()
    return one, two_in_two_out, scalar


@pytest.mark.parametrize("dev", DEVICES)
def test_jacobian_and_hessian_structures(dev):
    ex, tx = _pair((3,), dev)
    ey, ty = _pair((2,), dev)
    e1, e2, es = _fns(ember)
    t1, t2, ts = _fns(torch)
    _close(EF.jacobian(e1, ex), TF.jacobian(t1, tx))
    _close(EF.jacobian(e2, (ex, ey)), TF.jacobian(t2, (tx, ty)))
    _close(EF.jacobian(lambda a: (a, a.sum()), ex), TF.jacobian(lambda a: (a, a.sum()), tx))
    _close(EF.hessian(es, (ex, ey)), TF.hessian(ts, (tx, ty)))
    _close(EF.hessian(lambda a: (a ** 4).sum(), ex), TF.hessian(lambda a: (a ** 4).sum(), tx))
    # unused inputs give zeros, or torch's error in strict mode
    _close(EF.jacobian(lambda a, b: a * 2, (ex, ey)), TF.jacobian(lambda a, b: a * 2, (tx, ty)))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        EF.jacobian(lambda a, b: a * 2, (ex, ey), strict=True)


@pytest.mark.parametrize("dev", DEVICES)
def test_products(dev):
    ex, tx = _pair((3,), dev)
    ev, tv = _pair((3,), dev)
    ew, tw = _pair((2,), dev)
    e1, e2, es = _fns(ember)
    t1, t2, ts = _fns(torch)
    _close(EF.vjp(e1, ex, ew), TF.vjp(t1, tx, tw))
    _close(EF.vjp(lambda a: (a ** 2).sum(), ex), TF.vjp(lambda a: (a ** 2).sum(), tx))
    _close(EF.jvp(e1, ex, ev), TF.jvp(t1, tx, tv))
    _close(EF.jvp(lambda a: (a * 2, a.sum()), ex, ev),
           TF.jvp(lambda a: (a * 2, a.sum()), tx, tv))
    f = lambda m: lambda a: (a ** 3).sum() * a.sum()  # noqa: E731
    _close(EF.hvp(f(ember), ex, ev), TF.hvp(f(torch), tx, tv))
    _close(EF.vhp(f(ember), ex, ev), TF.vhp(f(torch), tx, tv))
    ey, ty = _pair((2,), dev)
    _close(EF.vhp(es, (ex, ey), (ev, ew)), TF.vhp(ts, (tx, ty), (tv, tw)))


@pytest.mark.parametrize("dev", DEVICES)
def test_create_graph_keeps_the_results_differentiable(dev):
    ex, tx = _pair((3,), dev)
    for m, F, x in ((ember, EF, ex), (torch, TF, tx)):
        x = x.clone().requires_grad_(True)
        jac = F.jacobian(lambda a: a.sin() * a, x, create_graph=True)
        assert jac.requires_grad
        jac.sum().backward()
        if m is ember:
            eg = x.grad
        else:
            tg = x.grad
    _close(eg, tg)
    out, grads = EF.vjp(lambda a: (a ** 2).sum(), ex)
    assert not out.requires_grad and not grads.requires_grad


def test_errors_as_torch():
    x = ember.ones(3)
    with pytest.raises(RuntimeError, match="v can only be None"):
        EF.vjp(lambda a: a * 2, x)
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        EF.jacobian(lambda a: 3.0, x)
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        EF.hessian(lambda a: a * 2, x)
    with pytest.raises(AssertionError, match="Expected strategy"):
        EF.jacobian(lambda a: a, x, strategy="sideways")
