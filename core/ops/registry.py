"""The op table and the dispatcher.

Every op is defined once, here in core: primitives through ``defop`` (a backend kernel does the
computing; the definition gives the backward rule and what it saves), composites through
``composite`` (a Python function over ember ops; a backend MAY register a fused kernel for it).

The dispatcher's hot path, for a small op, is: device identity check, dtype rule, one dict
lookup of the kernel, the kernel call, wrapping the result, and (only when grad is enabled and
an input requires grad) recording a Node.
"""
from __future__ import annotations

from .. import dtypes as _dtypes
from ..autograd import grad_mode
from ..autograd.graph import Node, SavedTensor, _hook_stack
from ..autograd.graph import next_order as _next_order
from ..tensor import Tensor

OPS: dict[str, "OpDef"] = {}
COMPOSITES: dict[str, object] = {}

_state = grad_mode.state


def _camel(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))


class OpDef:
    """One differentiable op: its backward rule and what it saves for it.

    ``backward(ctx, *grads)`` returns one gradient (or None) per input, written in ember ops.
    """

    __slots__ = ("name", "backward", "save_inputs", "save_out", "saves", "node_cls",
                 "complex_node_cls", "n_outputs")

    def __init__(self, name, backward, save_inputs=False, save_out=False, n_outputs=1,
                 node_name=None):
        self.name = name
        self.backward = backward
        self.save_inputs = save_inputs
        self.save_out = save_out
        self.saves = bool(save_inputs or save_out)
        self.n_outputs = n_outputs
        cls_name = node_name or f"{_camel(name)}Backward0"
        self.node_cls = type(cls_name, (Node,), {
            "__slots__": (), "_backward": backward,
            "_n_outputs": n_outputs})
        # the node of a complex result: a holomorphic op's differs (ops/complex.py), so real
        # results pick their rule when recorded instead of testing the dtype in backward
        self.complex_node_cls = self.node_cls


def defop(name, backward=None, *, inputs=False, out=False, n_outputs=1, node_name=None):
    """Define (or look up) the differentiable op ``name``."""
    op = OpDef(name, backward, inputs, out, n_outputs, node_name)
    OPS[name] = op
    return op


def _edge(t):
    """Where the gradient of op input ``t`` goes (None: nowhere)."""
    if isinstance(t, Tensor) and t._requires_grad:
        fn = t._grad_fn
        if fn is not None and t._base is None:  # the common case, without a method call
            return (fn, t._output_nr)
        return t._grad_edge()
    return None


def _edge_meta(t):
    """(edge, meta) of one op input: where its gradient goes, and its shape and dtype."""
    if isinstance(t, Tensor):
        return _edge(t), (t._data.shape, t._dtype)
    return None, None


def _save(op, inputs, outputs):
    """What the backward rule of ``op`` reads: (saved inputs or None, saved outputs or None)."""
    sin = sout = None
    save_inputs = op.save_inputs
    if save_inputs:
        keep = save_inputs(*inputs) if save_inputs is not True else inputs
        if len(keep) == 2 and not _hook_stack:  # (the common case inline)
            a, b = keep
            if isinstance(a, Tensor):
                s = a = _new_saved(SavedTensor)
                s.tensor, s.version, s.is_output = keep[0], keep[0]._vc[0], False
            if b is keep[0]:  # (x * x: one saved tensor for both)
                b = a
            elif isinstance(b, Tensor):
                s = b = _new_saved(SavedTensor)
                s.tensor, s.version, s.is_output = keep[1], keep[1]._vc[0], False
            sin = (a, b)
        else:
            sin = tuple([SavedTensor(t) if isinstance(t, Tensor) else t for t in keep])
    if op.save_out:
        if type(outputs) is Tensor:
            if _hook_stack:
                sout = (SavedTensor(outputs, True),)
            else:  # (the common case inline: SavedTensor.__init__'s fields of an output)
                s = _new_saved(SavedTensor)
                s.tensor, s.is_output, s.version = None, True, outputs._vc[0]
                s.data, s.dtype, s.device, s.vc = (outputs._data, outputs._dtype,
                                                   outputs._device, outputs._vc)
                sout = (s,)
        else:
            sout = tuple([SavedTensor(o, True) if o is not None else None for o in outputs])
    return sin, sout


# (SavedTensor without its __init__: the fields of a plain saved input, set by _save)
_new_saved = object.__new__


def record(op: OpDef, inputs, outputs, params=None):
    """Record ``op`` on the tape: ``outputs`` (a Tensor or tuple) now have a grad_fn whose edges
    point at the nodes of ``inputs`` (Tensors, or anything else, which gets no gradient)."""
    n = len(inputs)
    if n == 2:
        ea, ma = _edge_meta(inputs[0])
        eb, mb = _edge_meta(inputs[1])
        nexts, meta = (ea, eb), (ma, mb)
    elif n == 1:
        ea, ma = _edge_meta(inputs[0])
        nexts, meta = (ea,), (ma,)
    else:
        pairs = [_edge_meta(t) for t in inputs]
        nexts, meta = tuple([p[0] for p in pairs]), tuple([p[1] for p in pairs])
    saved = _save(op, inputs, outputs) if op.saves else None
    if type(outputs) is Tensor:
        cls = op.complex_node_cls if outputs._dtype.is_complex else op.node_cls
        node = cls(nexts, saved, params or _NO_PARAMS, meta)
        if outputs._dtype.is_inexact:
            outputs._requires_grad = True
            outputs._grad_fn = node
            outputs._output_nr = 0
        return node
    outs = tuple(outputs)
    out_meta = tuple([(o._data.shape, o._dtype) if o is not None else None for o in outs])
    node = op.node_cls(nexts, saved, params or _NO_PARAMS, meta, out_meta)
    for i, o in enumerate(outs):
        if o is not None and o._dtype.is_inexact:
            o._requires_grad = True
            o._grad_fn = node
            o._output_nr = i
    return node


def record_elementwise(op: OpDef, inputs, out):
    """``record`` for an op whose floating-point output ``out`` has the shape and dtype of each
    tensor in ``inputs`` (an elementwise op that neither broadcast nor promoted; the first input
    is a Tensor): the node keeps no input metadata, and the engine neither reduces nor casts its
    gradients."""
    # (the forward's hot path: _edge and Node.__init__ inline, which saves two to three calls
    # per recorded op; the callers' first input is a Tensor)
    a = inputs[0]
    ea = None
    if a._requires_grad:
        fn = a._grad_fn
        ea = (fn, a._output_nr) if fn is not None and a._base is None else a._grad_edge()
    if len(inputs) == 1:
        nexts = (ea,)
    else:
        b = inputs[1]
        eb = None
        if type(b) is Tensor or isinstance(b, Tensor):
            if b._requires_grad:
                fn = b._grad_fn
                eb = (fn, b._output_nr) if fn is not None and b._base is None else \
                    b._grad_edge()
        nexts = (ea, eb)
    node = _new_node(op.complex_node_cls if out._dtype.is_complex else op.node_cls)
    node._order = _next_order()
    node.next_functions = nexts
    node._saved = _save(op, inputs, out) if op.saves else None
    node._ctx = _NO_PARAMS
    node._meta = node._out_meta = node._hooks = node._metadata = None
    out._grad_fn = node
    out._requires_grad = True  # (out is fresh from Tensor._wrap: its _output_nr is 0 already)


_new_node = object.__new__
_NO_PARAMS: dict = {}


def out_rule(kernel_name, fn):
    """The backward rule ``fn(g, out)`` of a unary elementwise op that saves its output, where
    ``fn``'s ember ops come down to the one kernel call ``kernel_name(g, out)``. A backward
    without create_graph (grad mode off) with a plain gradient of the output's dtype and device
    calls that kernel on the buffers directly: the same computation, without the ops' checks
    and the wrapping of ``out``. Otherwise (create_graph records the rule's ops; a modified or
    freed ``out`` raises torch's errors) ``fn`` runs. ``rule.recorded`` always runs ``fn``:
    the form for tools that watch the ops a rule calls (the profiler)."""
    def recorded(ctx, g):
        return (fn(g, ctx.out),)

    def rule(ctx, g):
        saved = ctx._saved
        if saved is not None and not _state.enabled and type(g) is Tensor:
            s = saved[1][0]
            if s.vc[0] == s.version and g._dtype is s.dtype and g._device is s.device:
                kernel = s.device._backend.kernels.get(kernel_name)
                if kernel is not None:
                    return (Tensor._wrap(kernel(g._data, s.data), s.dtype, s.device),)
        return (fn(g, ctx.out),)
    rule.recorded = recorded
    return rule


def unrecorded(fn, *args):
    """``fn(*args)`` with recording off: the inside of an op that records itself as one node
    (a cheaper ``with no_grad()``)."""
    if not _state.enabled:
        return fn(*args)
    _state.enabled = False
    try:
        return fn(*args)
    finally:
        _state.enabled = True


def needs_grad(*tensors) -> bool:
    """True when grad mode is on and some tensor argument requires grad."""
    if not _state.enabled:
        return False
    for t in tensors:
        if getattr(t, "_requires_grad", False):
            return True
    return False


def composite(name, backward=None, *, inputs=True, out=False, mutates=()):
    """Register a composite op: ``fn`` computes it from ember ops, so every backend gets it and
    autograd follows its primitives. A backend may register a kernel under ``name``: it is used
    when no gradient is needed, or always when ``backward`` is given (the op is then recorded as
    one node with that rule). ``mutates``: positions of the tensor arguments the op writes in
    place (its kernel returns None; their version counters are bumped, as in-place ops do)."""
    def wrap(fn):
        op = defop(name, backward, inputs=inputs, out=out) if backward else None

        def dispatch(*args, **kwargs):
            if not kwargs and 0 < len(args) < 3:
                # the fast path (activations and their fused gradients): one or two tensors of
                # one device, no keywords; an elementwise result is recorded without metadata
                a = args[0]
                b = args[1] if len(args) == 2 else None
                if type(a) is Tensor and (b is None or (type(b) is Tensor and
                                                        b._device is a._device)):
                    kernel = a._device._backend.kernels.get(name)
                    if kernel is not None:
                        grad = _state.enabled and (a._requires_grad or (
                            b is not None and b._requires_grad))
                        if not grad or op is not None:
                            out = kernel(a._data) if b is None else kernel(a._data, b._data)
                            if out is None:  # (an in-place op)
                                for i in mutates:
                                    args[i]._vc[0] += 1
                                return None
                            if type(out) is not tuple:
                                dt = a._dtype
                                res = Tensor._wrap(
                                    out, dt if out.dtype is dt.np else _dtype_of(out, dt),
                                    a._device)
                                if grad:
                                    if (res._dtype is dt and out.shape == a._data.shape and (
                                            b is None or (b._dtype is dt and
                                                          b._data.shape == out.shape))):
                                        record_elementwise(op, args, res)
                                    else:
                                        record(op, args, res)
                                return res
                            return _wrap_outputs(out, op, args, kwargs, grad, a)
            first = args[0] if args and isinstance(args[0], Tensor) else next(
                (a for a in args if isinstance(a, Tensor)), None)
            if first is not None:
                kernel = first._device._backend.kernels.get(name)
                if kernel is not None:
                    grad = _state.enabled and needs_grad(*args)
                    if not grad or op is not None:
                        res = _run_fused(kernel, op, args, kwargs, grad, first)
                        for i in mutates:
                            args[i]._vc[0] += 1
                        return res
            return fn(*args, **kwargs)
        dispatch.__name__ = fn.__name__
        dispatch.__qualname__ = fn.__qualname__
        dispatch.__doc__ = fn.__doc__
        dispatch.decomposition = fn
        dispatch.mutates = mutates
        COMPOSITES[name] = dispatch
        return dispatch
    return wrap


def _run_fused(kernel, op, args, kwargs, grad, first):
    dev = first._device
    native = []
    for a in args:
        if type(a) is Tensor or isinstance(a, Tensor):
            if a._device is not dev:
                raise RuntimeError(device_mismatch(op.name if op else "op", first, a))
            native.append(a._data)
        else:
            native.append(a)
    out = kernel(*native, **kwargs)
    if out is None:  # (an in-place op)
        return None
    if type(out) is not tuple:
        res = Tensor._wrap(out, _dtype_of(out, first._dtype), dev)
        if grad:
            record(op, args, res, kwargs)
        return res
    return _wrap_outputs(out, op, args, kwargs, grad, first)


def _wrap_outputs(out, op, args, kwargs, grad, first):
    dev = first._device
    res = tuple([Tensor._wrap(o, _dtype_of(o, first._dtype), dev) if o is not None else None
                 for o in out])
    if grad:
        record(op, args, res, kwargs)
    return res


def _dtype_of(native, default):
    d = getattr(native, "dtype", None)
    if d is None or d is default.np:
        return default
    if isinstance(d, _dtypes.dtype):
        return d
    try:
        return _dtypes.from_numpy_dtype(d)
    except TypeError:
        return default


def device_mismatch(opname, a, b) -> str:
    return (f"Expected all tensors to be on the same device, but found at least two devices, "
            f"{a.device} and {b.device}! (in {opname}; move one with .to())")
