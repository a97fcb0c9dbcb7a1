"""Finite-difference checks of gradients (torch.autograd.gradcheck / gradgradcheck)."""
from __future__ import annotations

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _tensors(inputs):
    from ..tensor import Tensor
    return [t for t in inputs if isinstance(t, Tensor) and t._requires_grad]


def _flat_outputs(out):
    from ..tensor import Tensor
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor)]


def _numerical_jacobian(fn, inputs, target, eps):
    from ..autograd.grad_mode import no_grad
    outs0 = _flat_outputs(fn(*inputs))
    sizes = [o.numel() for o in outs0]
    n = target.numel()
    jac = np.zeros((n, sum(sizes)))
    host = target.detach().cpu()._data  # a cpu copy we perturb, then write back
    orig = host.copy()
    flat = host.reshape(-1)
    for i in range(n):
        vals = []
        for sign in (1, -1):
            flat[i] = orig.reshape(-1)[i] + sign * eps
            with no_grad():
                target.copy_(_as(target, host))
            outs = _flat_outputs(fn(*inputs))
            vals.append(np.concatenate([o.detach().cpu()._data.astype(np.float64).reshape(-1)
                                        for o in outs]))
        flat[i] = orig.reshape(-1)[i]
        jac[i] = (vals[0] - vals[1]) / (2 * eps)
    with no_grad():
        target.copy_(_as(target, orig))
    return jac


def _as(like, arr):
    from ..ops.creation import tensor
    return tensor(arr, dtype=like.dtype, device=like.device)


def _analytical_jacobian(fn, inputs, target):
    from .. import autograd
    from ..ops.creation import zeros_like
    outs = _flat_outputs(fn(*inputs))
    rows = []
    for o in outs:
        for j in range(o.numel()):
            g = zeros_like(o).reshape(-1)
            g[j] = 1.0
            g = g.reshape(o.shape)
            if not o.requires_grad:
                rows.append(np.zeros(target.numel()))
                continue
            (r,) = autograd.grad(o, target, g, retain_graph=True, allow_unused=True)
            rows.append(np.zeros(target.numel()) if r is None else
                        r.detach().cpu()._data.astype(np.float64).reshape(-1))
    return np.stack(rows, 1) if rows else np.zeros((target.numel(), 0))


def _realified(func, inputs):
    """(func, inputs) with each complex tensor seen as its real view (a last dim of 2), in and
    out: the real Jacobian of that function checks complex gradients under torch's convention
    (z.grad = dL/dx + i dL/dy)."""
    from ..tensor import Tensor
    from ..ops.complex import view_as_complex, view_as_real
    flags = [isinstance(t, Tensor) and t._dtype.is_complex for t in inputs]
    real_inputs = tuple(view_as_real(t.detach()).clone().requires_grad_(t._requires_grad)
                        if f else t for t, f in zip(inputs, flags))

    def real_func(*args):
        out = func(*[view_as_complex(a) if f else a for a, f in zip(args, flags)])
        if isinstance(out, Tensor):
            return view_as_real(out) if out._dtype.is_complex else out
        if not any(isinstance(o, Tensor) and o._dtype.is_complex for o in out):
            return out  # (as it is: a named tuple of real results, say)
        return tuple(view_as_real(o) if isinstance(o, Tensor) and o._dtype.is_complex else o
                     for o in out)
    return real_func, real_inputs


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, fast_mode=False, **kwargs):
    """Compare the gradients autograd computes with central finite differences (use float64
    inputs). Returns True, or raises GradcheckError naming the input and the mismatch."""
    from ..tensor import Tensor
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    func, inputs = _realified(func, inputs)
    for k, t in enumerate(_tensors(inputs)):
        num = _numerical_jacobian(func, inputs, t, eps)
        ana = _analytical_jacobian(func, inputs, t)
        if not np.allclose(ana, num, rtol=rtol, atol=atol):
            if raise_exception:
                raise GradcheckError(f"Jacobian mismatch for output 0 with respect to input "
                                     f"{k},\nnumerical:{num}\nanalytical:{ana}\n")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, **kwargs):
    """gradcheck of the gradient: checks second derivatives (create_graph=True)."""
    from .. import autograd
    from ..tensor import Tensor
    from ..ops.creation import randn_like
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    outs = _flat_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [_as(o, rng.standard_normal(o.shape)) for o in outs]
    grad_outputs = list(grad_outputs)
    diff = _tensors(inputs)

    def first(*args):
        outs = _flat_outputs(func(*args))
        gs = autograd.grad(outs, [a for a in args if isinstance(a, Tensor) and a.requires_grad],
                           grad_outputs, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)
    return gradcheck(first, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
