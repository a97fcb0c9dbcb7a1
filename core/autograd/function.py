"""Custom differentiable ops: ``ember.autograd.Function`` with forward/backward, as torch's."""
from __future__ import annotations

import functools

from . import grad_mode
from .graph import Node, SavedTensor


class FunctionCtx:
    """The ``ctx`` of a custom Function: save_for_backward, needs_input_grad,
    mark_non_differentiable, mark_dirty, set_materialize_grads, and free attributes."""

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def save_for_forward(self, *tensors):
        self._to_save_fwd = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        self._materialize = bool(value)

    @property
    def saved_tensors(self):
        node = self._node
        if node is None:
            return tuple(getattr(self, "_to_save", ()))
        saved = node._saved
        if saved is None:
            from .graph import _FREED
            raise RuntimeError(_FREED)
        return tuple(s.unpack(node, s.output_nr_hint) if isinstance(s, SavedTensor) else s
                     for s in saved[0])


class _FunctionNode(Node):
    __slots__ = ("_fn_cls", "_fn_ctx", "_n_outputs")
    _backward = None  # the engine calls apply(), which runs the Function's backward

    def name(self):
        return f"{self._fn_cls.__name__}Backward"

    def apply(self, grads):
        ctx = self._fn_ctx
        if getattr(ctx, "_materialize", True):
            from ..ops.creation import zeros
            grads = [g if g is not None else zeros(m[0], dtype=m[1], device=self._device_hint())
                     for g, m in zip(grads, self._out_meta)]
        res = self._fn_cls.backward(ctx, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n_in = len(self.next_functions)
        if len(res) < n_in:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n_in}, got {len(res)})")
        res = res[:n_in] if all(r is None for r in res[n_in:]) else res
        if len(res) != n_in:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n_in}, got {len(res)})")
        return tuple(res)

    def _device_hint(self):
        for nxt in self.next_functions:
            if nxt is not None:
                v = getattr(nxt[0], "variable", None)
                if v is not None:
                    return v.device
        return None


def _node_class(fn_cls):
    """The node class of a Function's outputs, named as torch names it
    (``type(y.grad_fn).__name__ == "MyFnBackward"``); one per Function class."""
    node_cls = fn_cls.__dict__.get("_ember_node_cls")
    if node_cls is None:
        node_cls = type(f"{fn_cls.__name__}Backward", (_FunctionNode,), {"__slots__": ()})
        fn_cls._ember_node_cls = node_cls
    return node_cls


class FunctionMeta(type):
    pass


class Function(metaclass=FunctionMeta):
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``MyFn.apply(*args)``.

    >>> class Exp(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         y = x.exp(); ctx.save_for_backward(y); return y
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (y,) = ctx.saved_tensors; return g * y
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward "
                                  "mode AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @classmethod
    def apply(cls, *args, **kwargs):
        from ..tensor import Tensor
        ctx = FunctionCtx()
        ctx._node = None
        tensors = [a for a in args if isinstance(a, Tensor)]
        needs = grad_mode.state.enabled and any(t._requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with grad_mode.no_grad():
            if cls.setup_context is not Function.setup_context and \
                    _takes_no_ctx(cls.forward):
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        if not needs:
            return out
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        non_diff = getattr(ctx, "_non_diff", set())
        dirty = getattr(ctx, "_dirty", set())
        nexts = tuple(a._grad_edge() if isinstance(a, Tensor) and a._requires_grad else None
                      for a in args)
        meta = tuple((a._data.shape, a._dtype) if isinstance(a, Tensor) else None for a in args)
        # outputs that are inputs returned as-is become views (so the graph is not cyclic)
        fixed = []
        for o in outs:
            if isinstance(o, Tensor) and any(o is a for a in args) and id(o) not in dirty:
                o = _alias(o)
            fixed.append(o)
        outs = tuple(fixed)
        out_meta = tuple((o._data.shape, o._dtype) if isinstance(o, Tensor) else None
                         for o in outs)
        node = _node_class(cls)(nexts, None, {}, meta, out_meta)
        node._n_outputs = len(outs)
        node._fn_cls = cls
        node._fn_ctx = ctx
        ctx._node = node
        saved = []
        for t in getattr(ctx, "_to_save", ()):
            if t is None or not isinstance(t, Tensor):
                saved.append(t)
                continue
            is_out = any(t is o for o in outs)
            s = SavedTensor(t, is_output=is_out)
            s.output_nr_hint = next((i for i, o in enumerate(outs) if o is t), 0)
            saved.append(s)
        node._saved = (tuple(saved), None)
        for i, o in enumerate(outs):
            if isinstance(o, Tensor) and id(o) not in non_diff and o._dtype.is_floating_point:
                if id(o) in dirty:
                    o._vc[0] += 1
                o._requires_grad = True
                o._grad_fn = node
                o._output_nr = i
        return outs[0] if single else outs


def _alias(t):
    from ..tensor import Tensor
    a = Tensor._wrap(t._data, t._dtype, t._device)
    a._vc = t._vc
    return a


def _takes_no_ctx(fn):
    import inspect
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False
    return not params or params[0] != "ctx"


def once_differentiable(fn):
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)
    return wrapper
