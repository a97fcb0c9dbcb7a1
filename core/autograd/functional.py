"""ember.autograd.functional: jacobian, hessian, vjp, jvp, hvp and vhp of a function of tensors,
built on autograd.grad, with torch's conventions: a single tensor in gives a single tensor out,
a tuple gives a tuple (per output, then per input, for Jacobians and Hessians)."""
from __future__ import annotations


def _tensors(x, arg, fn):
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return (x,), True
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return tuple(x), False
    raise TypeError(f"The {arg} given to {fn} must be either a Tensor or a tuple of Tensors but "
                    f"the given {arg} has type {type(x)}.")


def _outputs(out, fn):
    return _tensors(out, "outputs of the user-provided function", fn)


def _prepare(inputs, create_graph):
    """Leaves to differentiate at: kept on their tape under create_graph, else detached."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else
                 t.detach().requires_grad_(True) for t in inputs)


def _grad(outputs, inputs, grad_outputs, create_graph, strict, fn, out_index=None):
    from . import grad
    from ..ops.creation import zeros_like
    gs = grad(outputs, inputs, grad_outputs, retain_graph=True, create_graph=create_graph,
              allow_unused=True)
    res = []
    for i, (g, t) in enumerate(zip(gs, inputs)):
        if g is None:
            if strict:
                which = f"Output {out_index}" if out_index is not None else "The output"
                raise RuntimeError(f"{which} of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")
            g = zeros_like(t)
        res.append(g if create_graph else g.detach())
    return tuple(res)


def _result(outs, single, create_graph):
    outs = tuple(o if create_graph else o.detach() for o in outs)
    return outs[0] if single else outs


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product of ``func`` at ``inputs``."""
    from .grad_mode import enable_grad
    from ..ops.creation import ones_like
    ins, single_in = _tensors(inputs, "inputs", "vjp")
    ins = _prepare(ins, create_graph)
    with enable_grad():
        outs, single_out = _outputs(func(*ins), "vjp")
        if v is None:
            if len(outs) != 1 or outs[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the user-provided function "
                                   "returns a single Tensor with a single element.")
            vs = (ones_like(outs[0]),)
        else:
            vs, _ = _tensors(v, "v", "vjp")
        gs = _grad(outs, ins, vs, create_graph, strict, "vjp")
    return _result(outs, single_out, create_graph), (gs[0] if single_in else gs)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, as the transpose of a vjp (the
    double-backward trick: the vjp is linear in its cotangent u, and d<vjp(u), v>/du = J v)."""
    from . import grad
    from .grad_mode import enable_grad
    from ..ops.creation import ones_like, zeros_like
    ins, _ = _tensors(inputs, "inputs", "jvp")
    ins = _prepare(ins, create_graph)
    if v is None:
        if len(ins) != 1 or ins[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        vs = (ones_like(ins[0]),)
    else:
        vs, _ = _tensors(v, "v", "jvp")
    with enable_grad():
        outs, single_out = _outputs(func(*ins), "jvp")
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        gs = grad(outs, ins, us, create_graph=True, allow_unused=True)
        pairs = [(g, t) for g, t in zip(gs, vs) if g is not None]
        # NOTE: retain_graph: this pass can reach the caller's graph (a tensor ``func`` closes
        # over), which must stay usable, as torch's
        jv = grad([g for g, _ in pairs], us, [t for _, t in pairs], retain_graph=True,
                  create_graph=create_graph, allow_unused=True) if pairs else (None,) * len(us)
    res = []
    for i, (j, o) in enumerate(zip(jv, outs)):
        if j is None:
            if strict:
                raise RuntimeError(f"The output {i} of the user-provided function is independent "
                                   f"of the inputs. This is not allowed in strict mode.")
            j = zeros_like(o)
        res.append(j if create_graph else j.detach())
    return _result(outs, single_out, create_graph), (res[0] if single_out else tuple(res))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for each output and input, a tensor of shape
    output.shape + input.shape (nested tuples as torch's when either side is a tuple)."""
    from .grad_mode import enable_grad
    from ..ops.creation import zeros_like
    from ..ops.shape import stack
    if strategy not in ("reverse-mode", "forward-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, "forward-mode" '
                             'tends to be more performant. Otherwise, prefer to use '
                             '"reverse-mode".')
    if strict and vectorize:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                           "`vectorized=True` are not supported together. Please either set "
                           "`strict=False` or `vectorize=False`.")
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian isonly implemented for `vectorize=True`.")
    ins, single_in = _tensors(inputs, "inputs", "jacobian")
    ins = _prepare(ins, create_graph)
    with enable_grad():
        outs, single_out = _outputs(func(*ins), "jacobian")
        per_out = []
        for k, out in enumerate(outs):
            flat = out.reshape(-1)
            if not out.requires_grad:  # (a constant output: an all-zero Jacobian)
                if strict:
                    raise RuntimeError(f"Output {k} of the user-provided function does not "
                                       "require gradients. The outputs must be computed in a "
                                       "differentiable manner from the input when running in "
                                       "strict mode.")
                jac = tuple(t.new_zeros(tuple(out.shape) + tuple(t.shape)) for t in ins)
                per_out.append(jac[0] if single_in else jac)
                continue
            rows = [_grad((flat[j],), ins, None, create_graph, strict, "jacobian", k)
                    for j in range(flat.numel())]
            jac = tuple((stack([r[i] for r in rows]) if rows else
                         zeros_like(t).reshape((0,) + tuple(t.shape)))
                        .reshape(tuple(out.shape) + tuple(t.shape))
                        for i, t in enumerate(ins))
            per_out.append(jac[0] if single_in else jac)
    return per_out[0] if single_out else tuple(per_out)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of scalar ``func`` at ``inputs``: the Jacobian of its gradient (a tuple of
    tuples for several inputs)."""
    from . import grad
    ins, single_in = _tensors(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    if outer_jacobian_strategy == "forward-mode" and vectorize and create_graph:
        raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and '
                                  '`strategy="forward-mode"` are not supported together (yet). '
                                  'Please either set `create_graph=False` or '
                                  '`strategy="reverse-mode"`.')

    def gradient(*xs):
        out, _ = _outputs(func(*xs), "hessian")
        if len(out) != 1 or out[0].numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element.")
        gs = grad(out[0].reshape(()), xs, create_graph=True, allow_unused=True)
        from ..ops.creation import zeros_like
        gs = tuple(g if g is not None else zeros_like(x) for g, x in zip(gs, xs))
        for i, g in enumerate(gs):
            if strict and not g.requires_grad:
                raise RuntimeError(
                    f"While computing the hessian, found that the jacobian of the user-provided "
                    f"function with respect to input {i} is independent of the input. This is "
                    f"not allowed in strict mode. You should ensure that your function is twice "
                    f"differentiable and that the jacobian depends on the inputs (this would be "
                    f"violated by a linear function for example).")
        return gs[0] if single_in else gs
    # NOTE: forward-mode outer Jacobians give the same matrix; Ember computes it by reverse mode
    res = jacobian(gradient, ins[0] if single_in else ins, create_graph=create_graph,
                   strict=strict, vectorize=vectorize, strategy=outer_jacobian_strategy)
    if outer_jacobian_strategy == "forward-mode" and not single_in:
        res = [list(row) for row in res]  # torch's forward-mode path gives lists of lists
    return res


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H): a vector-Hessian product of scalar ``func``."""
    from . import grad
    from .grad_mode import enable_grad
    ins, single_in = _tensors(inputs, "inputs", "vhp")
    ins = _prepare(ins, True)
    vs, _ = _tensors(v, "v", "vhp") if v is not None else ((None,), True)
    with enable_grad():
        outs, _ = _outputs(func(*ins), "vhp")
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("The function given in vhp should return a single Tensor with a "
                               "single element.")
        if v is None:
            if len(ins) != 1 or ins[0].numel() != 1:
                raise RuntimeError("The vector v can only be None if the input to the "
                                   "user-provided function is a single Tensor with a single "
                                   "element.")
            from ..ops.creation import ones_like
            vs = (ones_like(ins[0]),)
        gs = grad(outs[0].reshape(()), ins, create_graph=True, allow_unused=True)
        pairs = [(g, t) for g, t in zip(gs, vs) if g is not None]
        res = _grad([g for g, _ in pairs], ins, [t for _, t in pairs], create_graph, strict,
                    "vhp") if pairs else tuple(x * 0 for x in ins)
    value = outs[0] if create_graph else outs[0].detach()
    return value, (res[0] if single_in else res)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v): a Hessian-vector product of scalar ``func`` (H is symmetric, so the
    same vector as vhp's)."""
    return vhp(func, inputs, v, create_graph, strict)
