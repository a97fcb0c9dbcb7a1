"""Elementwise fusion: maximal runs of elementwise ops in a recorded program become one step
that the device's backend runs as one kernel (its optional ``fused_elementwise`` kernel).

What fuses
    Consecutive nodes of unary math (exp, tanh, sqrt, abs, floor, isnan ...), binary arithmetic
    with tensors or Python scalars (add, sub, mul, true div, float pow, maximum, minimum,
    atan2), comparisons, logical and bitwise ops, ``where``, activations (relu, sigmoid, tanh,
    gelu both forms, silu, leaky_relu) and dtype casts (``.float()``, ``.to(dtype)`` ...), on
    operands of one device that broadcast to the shape of the run's results. Each op is
    written as the primitives its eager version calls (relu is ``le`` then ``where``, gelu its
    five primitives), with core's own dtype rules, so a fused step computes what the ops would.
    Floor division, remainder and integer powers are not fused (their kernels need helpers),
    nor ops with ``out=``, ``alpha``, in-place ops, views or random ops.

What the fused step keeps
    Values used after the run (by later nodes or as the program's outputs) are outputs of the
    kernel; values used only inside the run are never stored.

Autograd (and other cases the kernel does not cover)
    A fused step keeps the run's unfused program and runs that instead when gradients are
    recorded and an input of the run requires grad (so the graph nodes and saved tensors of
    autograd are exactly eager mode's), under autocast, when an input's dtype, device or shape
    pattern differs from the recorded one, and when the device's backend has no
    ``fused_elementwise`` kernel or declines the program (the kernel returns None).
"""
from __future__ import annotations

import hashlib
from collections import ChainMap
from dataclasses import dataclass

from .. import amp as _amp, dtypes as _dt
from ..autograd import grad_mode
from ..ops import elementwise as _E
from ..tensor import Tensor
from ._ir import Graph, Node, Var, _vars

#: the program's op name of a fused step, and the optional kernel it calls
TARGET = "ember.jit.fused_elementwise"
KERNEL = "fused_elementwise"

_state = grad_mode.state
_enabled = [True]
_wrap = Tensor._wrap


def set_fusion_enabled(enabled: bool) -> bool:
    """Whether programs made from now on fuse elementwise runs; returns the previous setting."""
    previous = _enabled[0]
    _enabled[0] = bool(enabled)
    return previous


def fusion_enabled() -> bool:
    return _enabled[0]


@dataclass(frozen=True, eq=False)
class ElementwiseProgram:
    """What a backend's ``fused_elementwise(program, *arrays)`` receives.

    ``inputs``: the dtype name of each array argument. ``scalars``: (dtype name, value) per
    scalar operand, the value already one of that dtype (a Python float, int or bool).
    ``steps``: (primitive, result dtype name, operands) each; the primitive is a kernel name of
    the contract (``add``, ``exp``, ``lt``, ``where``, ``cast`` ...) with its meaning there,
    applied elementwise with broadcasting; its operands already share the compute dtype (as
    core guarantees for the kernels); ``cast`` converts its operand to the step's dtype. An
    operand is ``("in", k)`` (array k), ``("sc", k)`` (scalar k) or ``("st", j)`` (step j's
    value). ``outputs``: the steps whose values come back, in order, each shaped like the
    broadcast of all the arrays. ``key``: names the structure (all but the scalar values): the
    backend caches its compiled kernel by it.
    """

    inputs: tuple
    scalars: tuple
    steps: tuple
    outputs: tuple
    key: str

    def text(self) -> str:
        """The program as readable lines (``%s0 = mul(in0, sc0) : float32``)."""
        def show(o):
            return {"in": "in", "sc": "sc", "st": "%s"}[o[0]] + str(o[1])
        lines = [f"%s{j} = {op}({', '.join(show(o) for o in ops)}) : {dt}"
                 for j, (op, dt, ops) in enumerate(self.steps)]
        lines.append("return " + ", ".join(f"%s{j}" for j in self.outputs))
        return "\n".join(lines)


class _NotFusable(Exception):
    pass


class _Meta:
    """A tensor's dtype and rank, as ``dtypes.result_type`` reads them."""

    __slots__ = ("dtype", "ndim")

    def __init__(self, dtype, ndim):
        self.dtype, self.ndim = dtype, ndim


_NUMBERS = (bool, int, float)


class _Builder:
    """The program of one run, built node by node (``mark``/``reset`` undo a failed node)."""

    def __init__(self, graph: Graph, device: str, shape: tuple):
        self.g = graph
        self.device = device
        self.shape = shape
        self.inputs: list[int] = []
        self.scalars: list = []
        self.steps: list = []
        self.step_dtypes: list = []
        self.where: dict = {}  # Var index -> operand
        self.nodes: list[Node] = []

    def mark(self):
        return (len(self.inputs), len(self.scalars), len(self.steps), dict(self.where))

    def reset(self, m) -> None:
        ni, ns, nt, where = m
        del self.inputs[ni:], self.scalars[ns:], self.steps[nt:], self.step_dtypes[nt:]
        self.where = where

    def meta(self, x):
        m = self.g.meta.get(x.i) if type(x) is Var else None
        if m is None or not m[2]:  # (no record, or a traced shape value)
            raise _NotFusable
        return m

    def dtype_of(self, o):
        kind, k = o
        if kind == "in":
            return _dt.BY_NAME[self.g.meta[self.inputs[k]][1]]
        if kind == "sc":
            return _dt.BY_NAME[self.scalars[k][0]]
        return self.step_dtypes[k]

    def tensor(self, x):
        o = self.where.get(x.i) if type(x) is Var else None
        if o is not None:
            return o
        shape, dt, dev = self.meta(x)
        if dev != self.device or _dt.BY_NAME[dt].category == 3:
            raise _NotFusable
        try:
            fits = _E.broadcast_shapes("fuse", tuple(shape), self.shape) == self.shape
        except RuntimeError:
            fits = False
        if not fits:  # (an input must broadcast to the run's shape, not widen it)
            raise _NotFusable
        o = self.where[x.i] = ("in", len(self.inputs))
        self.inputs.append(x.i)
        return o

    def proxy(self, x):
        if type(x) is Var:
            shape, dt, _ = self.meta(x)
            return _Meta(_dt.BY_NAME[dt], len(shape))
        if type(x) not in _NUMBERS:
            raise _NotFusable
        return x

    def scalar(self, value, dt):
        if type(value) not in _NUMBERS:
            raise _NotFusable
        self.scalars.append((dt.name, value))
        return ("sc", len(self.scalars) - 1)

    def step(self, op, dt, *operands):
        self.steps.append((op, dt.name, tuple(operands)))
        self.step_dtypes.append(dt)
        return ("st", len(self.steps) - 1)

    def cast(self, o, dt):
        return o if self.dtype_of(o) is dt else self.step("cast", dt, o)

    def operand(self, x, dt):
        """Tensor or Python number ``x`` as an operand of compute dtype ``dt``."""
        if type(x) is Var:
            return self.cast(self.tensor(x), dt)
        return self.scalar(_E._scalar_for(x, dt), dt)


# ---- the ops: each writes its primitives into the builder ------------------------------------

def _binary(b, name, kind, x, y):
    """``name(x, y)`` with ops.elementwise's promotion (tensors and Python scalars)."""
    px, py = b.proxy(x), b.proxy(y)
    tx, ty = type(x) is Var, type(y) is Var
    if tx and ty:
        dt = px.dtype if px.dtype is py.dtype else _dt.result_type(px, py)
    elif tx or ty:
        t, s = (px, y) if tx else (py, x)
        dt = t.dtype if _E._scalar_category(s) <= t.dtype.category else _dt.result_type(px, py)
    else:
        raise _NotFusable
    if dt.category == 3:
        raise _NotFusable
    if name == "sub" and _dt.bool_ in (getattr(px, "dtype", None), getattr(py, "dtype", None)):
        raise _NotFusable
    if name == "sub" and bool in (type(x), type(y)):
        raise _NotFusable
    try:
        dt, out_dt = _E._binary_rule(name, kind, dt)
    except (RuntimeError, NotImplementedError):
        raise _NotFusable from None
    if name == "pow" and not dt.is_floating_point:
        raise _NotFusable  # (integer powers: a helper function and torch's errors)
    return b.step(name, out_dt, b.operand(x, dt), b.operand(y, dt))


def _unary(b, name, x, to_float=False, out_dtype=None):
    o = b.tensor(x)
    dt = b.dtype_of(o)
    if to_float and dt.category < 2:
        dt = _dt.get_default_dtype()
        o = b.cast(o, dt)
    if name == "neg" and dt is _dt.bool_ or name == "bitwise_not" and dt.is_floating_point:
        raise _NotFusable
    return b.step(name, out_dtype or dt, o)


def _float_of(b, x):
    o = b.tensor(x)
    dt = b.dtype_of(o)
    if not dt.is_floating_point:
        raise _NotFusable
    return o, dt


def _relu(b, x):
    o = b.tensor(x)
    dt = b.dtype_of(o)
    if dt is _dt.bool_:
        raise _NotFusable
    # NOTE: relu is where(x <= 0, 0, x), as ops.elementwise's composite: NaN stays NaN
    c = b.step("le", _dt.bool_, o, b.scalar(_E._scalar_for(0, dt), dt))
    return b.step("where", dt, c, b.scalar(_dt.checked_scalar(0, dt), dt), o)


def _gelu(b, x, approximate="none"):
    o, dt = _float_of(b, x)

    def mul(p, v):
        return b.step("mul", dt, p, b.scalar(float(v), dt))
    if approximate == "tanh":  # (nn.functional.gelu's own sequence of ops)
        cube = b.step("mul", dt, b.step("mul", dt, mul(o, 0.044715), o), o)
        inner = mul(b.step("add", dt, o, cube), (2.0 / 3.141592653589793) ** 0.5)
        u = b.step("tanh", dt, inner)
    elif approximate == "none":
        u = b.step("erf", dt, mul(o, 1.0 / 2.0 ** 0.5))
    else:
        raise _NotFusable
    half = mul(o, 0.5)
    return b.step("mul", dt, half, b.step("add", dt, u, b.scalar(1.0, dt)))


def _silu(b, x, inplace=False):
    o, dt = _float_of(b, x)
    return b.step("mul", dt, o, b.step("sigmoid", dt, o))


def _leaky_relu(b, x, negative_slope=0.01, inplace=False):
    o, dt = _float_of(b, x)
    if type(negative_slope) not in _NUMBERS:
        raise _NotFusable
    # (nn.functional.leaky_relu's where(x > 0, x, x * slope))
    c = b.step("gt", _dt.bool_, o, b.scalar(0.0, dt))
    return b.step("where", dt, c, o, b.step("mul", dt, o, b.operand(negative_slope, dt)))


def _where(b, cond, x=None, y=None):
    if x is None and y is None:
        raise _NotFusable
    c = b.tensor(cond)
    if b.dtype_of(c) is not _dt.bool_:
        raise _NotFusable
    px, py = b.proxy(x), b.proxy(y)
    tx, ty = type(x) is Var, type(y) is Var
    if tx and ty:
        dt = px.dtype if px.dtype is py.dtype else _dt.result_type(px, py)
    elif tx or ty:
        t, s = (px, y) if tx else (py, x)
        dt = t.dtype if _E._scalar_category(s) <= t.dtype.category else _dt.result_type(px, py)
    else:
        raise _NotFusable
    if dt.category == 3:
        raise _NotFusable

    def side(v):
        if type(v) is Var:
            return b.cast(b.tensor(v), dt)
        try:
            return b.scalar(_dt.checked_scalar(v, dt), dt)
        except (RuntimeError, OverflowError):
            raise _NotFusable from None
    return b.step("where", dt, c, side(x), side(y))


def _cast_to(dt):
    def cast(b, x):
        o = b.tensor(x)
        src = b.dtype_of(o)
        if src is dt or src.category == 3 or dt.category == 3:
            raise _NotFusable
        return b.step("cast", dt, o)
    return cast


def _to(b, x, *args, **kwargs):
    if kwargs or len(args) != 1 or not isinstance(args[0], _dt.dtype):
        raise _NotFusable
    return _cast_to(args[0])(b, x)


def _binary_op(name, kind, reflected=False):
    def op(b, x, y, **kwargs):
        alpha = kwargs.pop("alpha", 1)
        mode = kwargs.pop("rounding_mode", None)
        if kwargs or alpha != 1 or type(alpha) is not int or mode is not None:
            raise _NotFusable
        return _binary(b, name, kind, y, x) if reflected else _binary(b, name, kind, x, y)
    return op


def _unary_op(name, to_float=False, out_dtype=None):
    def op(b, x, **kwargs):
        if kwargs.pop("decimals", 0) != 0 or kwargs:
            raise _NotFusable
        return _unary(b, name, x, to_float, out_dtype)
    return op


def _activation(name):
    def op(b, x, inplace=False):
        return _unary(b, name, x, True)
    return op


def _table() -> dict:
    t: dict = {}
    kinds = {"add": "arith", "sub": "arith", "mul": "arith", "div": "div", "pow": "arith",
             "maximum": "arith", "minimum": "arith", "atan2": "float",
             **{n: "compare" for n in ("eq", "ne", "lt", "le", "gt", "ge")},
             **{n: "logical" for n in ("logical_and", "logical_or", "logical_xor")},
             **{n: "bitwise" for n in ("bitwise_and", "bitwise_or", "bitwise_xor")}}
    aliases = {"add": ["add", "__add__", "__radd__"], "sub": ["sub", "subtract", "__sub__"],
               "mul": ["mul", "multiply", "__mul__", "__rmul__"],
               "div": ["div", "divide", "true_divide", "__truediv__"],
               "pow": ["pow", "__pow__"], "atan2": ["atan2", "arctan2"],
               "lt": ["lt", "less", "__lt__"], "le": ["le", "less_equal", "__le__"],
               "gt": ["gt", "greater", "__gt__"], "ge": ["ge", "greater_equal", "__ge__"],
               "eq": ["eq", "__eq__"], "ne": ["ne", "not_equal", "__ne__"],
               "bitwise_and": ["bitwise_and", "__and__", "__rand__"],
               "bitwise_or": ["bitwise_or", "__or__", "__ror__"],
               "bitwise_xor": ["bitwise_xor", "__xor__", "__rxor__"]}
    for name, kind in kinds.items():
        for alias in aliases.get(name, [name]):
            for prefix in ("ember.", "Tensor."):
                t[prefix + alias] = _binary_op(name, kind)
    for name, alias in (("sub", "__rsub__"), ("div", "__rtruediv__"), ("pow", "__rpow__")):
        t["Tensor." + alias] = _binary_op(name, kinds[name], reflected=True)
    from ...plugins.api import UNARY_FLOAT, UNARY_PREDICATE, UNARY_SAME
    unary = {n: _unary_op(n, to_float=True) for n in UNARY_FLOAT}
    unary.update({n: _unary_op(n) for n in UNARY_SAME})
    unary.update({n: _unary_op(n, out_dtype=_dt.bool_) for n in UNARY_PREDICATE})
    unary["bitwise_not"] = _unary_op("bitwise_not")
    names = {"neg": ["neg", "negative", "__neg__"], "abs": ["abs", "absolute", "__abs__"],
             "trunc": ["trunc", "fix"], "asin": ["asin", "arcsin"], "acos": ["acos", "arccos"],
             "atan": ["atan", "arctan"], "bitwise_not": ["bitwise_not", "__invert__"]}
    for name, op in unary.items():
        for alias in names.get(name, [name]):
            for prefix in ("ember.", "Tensor."):
                t[prefix + alias] = op
    t["ember.special.expit"] = unary["sigmoid"]
    t["ember.special.erf"] = unary["erf"]
    for n in ("sigmoid", "tanh"):
        t["ember.nn.functional." + n] = _activation(n)
    for prefix in ("ember.", "Tensor.", "ember.nn.functional."):
        t[prefix + "relu"] = lambda b, x, inplace=False: _relu(b, x)
    t["ember.nn.functional.gelu"] = _gelu
    t["ember.nn.functional.silu"] = _silu
    t["ember.nn.functional.leaky_relu"] = _leaky_relu
    t["ember.where"] = _where
    t["Tensor.where"] = lambda b, x, cond, other: _where(b, cond, x, other)
    for name, dt in (("float", _dt.float32), ("double", _dt.float64), ("half", _dt.float16),
                     ("long", _dt.int64), ("int", _dt.int32), ("short", _dt.int16),
                     ("char", _dt.int8), ("byte", _dt.uint8), ("bool", _dt.bool_)):
        t["Tensor." + name] = _cast_to(dt)
    t["Tensor.to"] = _to
    return t


_TABLE: dict | None = None


def _ops() -> dict:
    global _TABLE
    if _TABLE is None:
        _TABLE = _table()
    return _TABLE


# ---- the pass ----------------------------------------------------------------------------------

_KERNEL_ON: dict = {}


def _has_kernel(dev: str) -> bool:
    hit = _KERNEL_ON.get(dev)
    if hit is None:
        try:
            from ..device import device
            hit = KERNEL in device(dev).backend.kernels
        except Exception:  # NOTE: a device that no longer loads simply does not fuse
            hit = False
        _KERNEL_ON[dev] = hit
    return hit


def _candidate(g: Graph, n: Node):
    """(op, device, shape) when ``n`` may join a run, else None."""
    if not n.pure or n.aliases or type(n.out) is not Var:
        return None
    op = _ops().get(n.target)
    m = g.meta.get(n.out.i)
    if op is None or m is None or not m[2] or not _has_kernel(m[2]):
        return None
    return op, m[2], tuple(m[0])


def fuse(g: Graph, min_steps: int = 2) -> Graph | None:
    """A copy of ``g`` whose elementwise runs are fused steps, or None when none fuses."""
    consumers: dict[int, list[int]] = {}
    for idx, n in enumerate(g.nodes):
        for v in n.inputs():
            consumers.setdefault(v.i, []).append(idx)
    returned = {v.i for v in _vars(g.output)}
    out_nodes: list[Node] = []
    changed = False
    run: list = []  # [(index, node)]
    builder = None

    def close():
        nonlocal changed, builder
        if builder is None:
            return
        members = {i for i, _ in run}
        if len(builder.steps) >= min_steps:
            out_nodes.append(_fused_node(g, builder, run, members, consumers, returned))
            changed = True
        else:
            out_nodes.extend(n for _, n in run)
        run.clear()
        builder = None

    for idx, n in enumerate(g.nodes):
        cand = _candidate(g, n)
        if cand is None:
            close()
            out_nodes.append(n)
            continue
        op, dev, shape = cand
        for attempt in (0, 1):
            if builder is not None and (builder.device != dev or builder.shape != shape):
                close()
            if builder is None:
                builder = _Builder(g, dev, shape)
            mark = builder.mark()
            try:
                o = op(builder, *n.args, **n.kwargs)
                if o[0] != "st" or builder.dtype_of(o).name != g.meta[n.out.i][1]:
                    raise _NotFusable
            except (_NotFusable, TypeError, KeyError, ValueError):
                builder.reset(mark)
                if attempt == 0 and run:
                    close()
                    continue
                close()
                out_nodes.append(n)
                break
            builder.where[n.out.i] = o
            run.append((idx, n))
            break
    close()
    if not changed:
        return None
    c = Graph()
    c.inputs, c.attrs, c.consts = list(g.inputs), dict(g.attrs), dict(g.consts)
    c.nodes, c.output, c.meta, c.count = out_nodes, g.output, dict(g.meta), g.count
    return c


def _fused_node(g, b: _Builder, run, members, consumers, returned) -> Node:
    exported = []
    for idx, n in run:
        v = n.out
        if v.i in returned or any(c not in members for c in consumers.get(v.i, ())):
            exported.append(v)
    outputs = tuple(b.where[v.i][1] for v in exported)
    inputs = tuple(g.meta[i][1] for i in b.inputs)
    structure = repr((inputs, tuple(d for d, _ in b.scalars), tuple(b.steps), outputs))
    key = hashlib.sha1(structure.encode()).hexdigest()[:16]
    program = ElementwiseProgram(inputs, tuple(b.scalars), tuple(b.steps), outputs, key)
    in_vars = [Var(i) for i in b.inputs]
    sub = Graph()
    sub.inputs = in_vars
    sub.nodes = [n for _, n in run]
    sub.output = tuple(exported)
    sub.meta = g.meta
    from . import _tracer
    fallback = sub.compile({}, _tracer.targets())
    group = FusionGroup(program, [g.meta[i] for i in b.inputs],
                        [g.meta[v.i][1] for v in exported], fallback,
                        [n.target.rpartition(".")[2] for _, n in run])
    return Node(TARGET, (group, *in_vars), {}, tuple(exported),
                no_grad=all(n.no_grad for _, n in run))


class FusionGroup:
    """A fused step of a program: its kernel program, the recorded input dtypes and shapes
    (the guard of the fused path) and the unfused program of the run (the other path)."""

    __slots__ = ("program", "in_dtypes", "shapes", "same_shape", "out_dtypes", "fallback",
                 "ops")

    def __init__(self, program, in_meta, out_dtypes, fallback, ops):
        self.program = program
        self.in_dtypes = tuple(_dt.BY_NAME[m[1]] for m in in_meta)
        self.shapes = tuple(tuple(m[0]) for m in in_meta)
        self.same_shape = all(s == self.shapes[0] for s in self.shapes)
        self.out_dtypes = tuple(_dt.BY_NAME[d] for d in out_dtypes)
        self.fallback = fallback
        self.ops = tuple(ops)

    def ir_text(self) -> str:
        return f"<fused {len(self.program.steps)} steps: {', '.join(self.ops)}>"


def run_fused(group: FusionGroup, *tensors):
    """The fused step: one kernel when the guard holds, else the run's unfused program."""
    if not _amp.active:
        first = tensors[0]
        dev = first._device
        grad = _state.enabled
        ok = True
        for t, dt in zip(tensors, group.in_dtypes):
            if t._dtype is not dt or t._device is not dev or (grad and t._requires_grad):
                ok = False
                break
        if ok:
            shapes = tuple(t._data.shape for t in tensors)
            if shapes != group.shapes and not (
                    group.same_shape and all(s == shapes[0] for s in shapes)):
                ok = False
        if ok:
            kernel = dev._backend.kernels.get(KERNEL)
            if kernel is not None:
                outs = kernel(group.program, *[t._data for t in tensors])
                if outs is not None:
                    return tuple(_wrap(o, dt, dev) for o, dt in zip(outs, group.out_dtypes))
    return group.fallback(*tensors)


def targets(base: dict) -> ChainMap:
    """The op table of programs that may hold fused steps."""
    return ChainMap({TARGET: run_fused}, base)
