"""ember.autograd: define-by-run reverse-mode differentiation.

>>> x = ember.tensor(2.0, requires_grad=True)
>>> (dy,) = ember.autograd.grad(x ** 3, x, create_graph=True)
>>> ember.autograd.grad(dy, x)[0]     # second derivative, 6x
tensor(12.)
"""
from __future__ import annotations

from .grad_mode import (enable_grad, inference_mode, is_grad_enabled,  # noqa: F401
                        is_inference_mode_enabled, no_grad, set_grad_enabled)
from .graph import Node  # noqa: F401
from .function import Function, FunctionCtx, once_differentiable  # noqa: F401
from .anomaly import detect_anomaly, set_detect_anomaly  # noqa: F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: F401
from . import graph as _graph
from . import functional  # noqa: F401
from . import forward_ad  # noqa: F401


def _make_grads(outputs, grad_outputs, is_grads_batched=False):
    Tensor = _graph.Tensor
    res = []
    for out, g in zip(outputs, grad_outputs):
        if g is None:
            if out._data.shape != () and out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out._dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                   f"outputs but got {out._dtype}")
            dev, dt = out._device, out._dtype
            g = Tensor._wrap(dev._backend.kernels["full"](out._data.shape, 1.0, dt, dev.index),
                             dt, dev)
        elif not isinstance(g, Tensor):
            from ..ops.creation import tensor
            g = tensor(g, dtype=out._dtype, device=out._device)
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of "
                               f"{g.shape} and output[0] has a shape of {out.shape}.")
        res.append(g)
    return res


def _as_tuple(x):
    if isinstance(x, _graph.Tensor):
        return (x,)
    return tuple(x)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
             grad_variables=None, inputs=None):
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad``."""
    if grad_tensors is None and inputs is None and type(tensors) is _graph.Tensor:
        # (loss.backward(), the common call, without the general argument handling)
        _graph.run_backward((tensors,), _make_grads((tensors,), (None,)),
                            create_graph if retain_graph is None else retain_graph, create_graph)
        return
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    else:
        grad_tensors = list(_as_tuple(grad_tensors)) if not isinstance(grad_tensors, list) \
            else grad_tensors
    grads = _make_grads(tensors, grad_tensors)
    if retain_graph is None:
        retain_graph = create_graph
    ins = None
    if inputs is not None:
        ins = _as_tuple(inputs)
        if not ins:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    results = _graph.run_backward(tensors, grads, retain_graph, create_graph, inputs=ins,
                                  allow_unused=True, accumulate=True)
    if ins is not None:
        # non-leaf inputs get their gradient accumulated into .grad, as torch does
        for t, g in zip(ins, results):
            if t._grad_fn is not None and g is not None:
                g = g if create_graph else g.detach()
                t._grad = g if t._grad is None else t._grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         only_inputs=True, allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated)."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    else:
        grad_outputs = list(_as_tuple(grad_outputs))
    if retain_graph is None:
        retain_graph = create_graph
    if allow_unused is None:
        allow_unused = materialize_grads
    if is_grads_batched:
        res = _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph,
                            allow_unused)
    else:
        grads = _make_grads(outputs, grad_outputs)
        res = _graph.run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs,
                                  allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from ..ops.creation import zeros_like
        res = [zeros_like(i) if r is None else r for r, i in zip(res, inputs)]
    return tuple(res)


def _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused):
    """``grad(..., is_grads_batched=True)``: dim 0 of every grad_output is a batch; one backward
    pass per batch entry (the graph is kept until the last), stacked along a new dim 0."""
    from ..ops.shape import stack
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            g = _make_grads([out], [g])[0]
        elif not isinstance(g, _graph.Tensor):
            from ..ops.creation import tensor
            g = tensor(g, dtype=out._dtype, device=out._device)
        if g.ndim == 0:
            raise ValueError("vmap(vjp, in_dims=0, ...)(<inputs>): Got in_dim=0 for some input, "
                             "but that input is a Tensor of dimensionality 0 so expected in_dim "
                             "to satisfy 0 <= in_dim < 0.")
        if g.shape[0] == 0:
            raise IndexError("index 0 is out of bounds for dimension 0 with size 0")
        if g.shape[1:] != out.shape:
            # NOTE: torch's message shows the grad_output's shape less its first *two* dims
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each "
                "grad_output as the batch dimension. The sizes of the remaining dimensions are "
                "expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of {g.shape[2:]} and output[{i}] has a "
                f"shape of {out.shape}. If you only want some tensors in `grad_output` to be "
                "considered batched, consider using vmap.")
        grads.append(g)
    sizes = [g.shape[0] for g in grads]
    if len(set(sizes)) > 1:
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    per_entry = []
    for b in range(sizes[0]):
        keep = retain_graph or b < sizes[0] - 1
        per_entry.append(_graph.run_backward(outputs, [g[b] for g in grads], keep, create_graph,
                                             inputs=inputs, allow_unused=allow_unused,
                                             accumulate=False))
    return [None if rows[0] is None else stack(list(rows)) for rows in zip(*per_entry)]


class Variable:
    """Legacy alias: ``Variable(t)`` returns t (optionally requiring grad), as modern torch."""

    def __new__(cls, data, requires_grad=False, volatile=False):
        if requires_grad:
            data.requires_grad_(True)
        return data
