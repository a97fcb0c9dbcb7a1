"""ember.autograd.functional: jacobian, hessian, vjp, jvp built on autograd.grad."""
from __future__ import annotations


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    from .. import autograd
    from ..tensor import Tensor
    single = isinstance(inputs, Tensor)
    ins = (inputs,) if single else tuple(inputs)
    ins = tuple(i.detach().requires_grad_(True) for i in ins)
    out = func(*ins)
    gs = autograd.grad(out, ins, v, create_graph=create_graph, allow_unused=True)
    gs = tuple(g if g is not None else i * 0 for g, i in zip(gs, ins))
    return out.detach() if not create_graph else out, (gs[0] if single else gs)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False):
    from .. import autograd
    from ..tensor import Tensor
    from ..ops.creation import zeros_like
    from ..ops.shape import stack
    single = isinstance(inputs, Tensor)
    ins = (inputs,) if single else tuple(inputs)
    ins = tuple(i.detach().requires_grad_(True) for i in ins)
    out = func(*ins)
    flat = out.reshape(-1)
    rows = [[] for _ in ins]
    for j in range(flat.numel()):
        gs = autograd.grad(flat[j], ins, retain_graph=True, create_graph=create_graph,
                           allow_unused=True)
        for k, (g, i) in enumerate(zip(gs, ins)):
            rows[k].append(g if g is not None else zeros_like(i))
    jac = tuple(stack(r, 0).reshape(tuple(out.shape) + tuple(i.shape)) for r, i in
                zip(rows, ins))
    return jac[0] if single else jac


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):
    from .. import autograd
    from ..tensor import Tensor
    single = isinstance(inputs, Tensor)

    def grad_fn(*xs):
        out = func(*xs)
        gs = autograd.grad(out, xs, create_graph=True)
        return gs[0] if single else gs
    return jacobian(grad_fn, inputs, create_graph=create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    # jvp through the double-vjp trick: (d/du <vjp(u), v>)
    from .. import autograd
    from ..tensor import Tensor
    from ..ops.creation import zeros_like
    single = isinstance(inputs, Tensor)
    ins = (inputs,) if single else tuple(inputs)
    ins = tuple(i.detach().requires_grad_(True) for i in ins)
    vs = (v,) if isinstance(v, Tensor) else tuple(v)
    out = func(*ins)
    u = zeros_like(out).requires_grad_(True)
    gs = autograd.grad(out, ins, u, create_graph=True)
    (jv,) = autograd.grad(gs, u, vs, create_graph=create_graph)
    return out.detach(), jv
