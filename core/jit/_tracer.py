"""Recording: while a trace runs, the public ops (the functions of ``ember``,
``ember.nn.functional``, ``ember.linalg``, ``ember.special`` and the methods and tensor-valued
properties of ``Tensor``) are replaced by wrappers; only the outermost call (depth 0) is
recorded, the ops it calls internally run as usual. Nothing is patched when no trace runs, so
the ops' hot path does not change.
"""
from __future__ import annotations

import math
import operator
import sys
import types
import warnings
from threading import get_ident as _thread_id

from ..autograd import grad_mode
from ..tensor import Size, Tensor
from ._ir import Graph, Node, _vars

_state = grad_mode.state


class TracerWarning(Warning):
    """The traced code did something the trace cannot capture (as torch.jit.TracerWarning)."""


# functions of the namespaces that must not be recorded (they read files or global state)
_SKIP_FUNCTIONS = {"save", "load", "compile", "from_numpy", "get_rng_state", "set_rng_state",
                   "manual_seed", "seed", "initial_seed", "set_default_dtype",
                   "set_default_device", "set_printoptions", "is_tensor", "is_grad_enabled",
                   "is_inference_mode_enabled", "get_default_dtype", "get_default_device"}
_SKIP_TENSOR = {"__new__", "__init__", "__repr__", "__hash__", "__reduce_ex__", "__deepcopy__",
                "__iter__", "__len__", "__init_subclass__", "__setstate__", "__getstate__",
                "__dir__", "__sizeof__", "__str__", "backward", "register_hook", "retain_grad",
                "register_post_accumulate_grad_hook", "requires_grad_"}
_TENSOR_PROPERTIES = {"T", "mT", "H", "mH", "data", "real", "imag"}
# conversions of tensor values to Python values: the result cannot be recorded
_CONVERSIONS = {
    "Tensor.__bool__": "a Python boolean", "Tensor.__int__": "a Python integer",
    "Tensor.__float__": "a Python float", "Tensor.__index__": "a Python index",
    "Tensor.__complex__": "a Python complex", "Tensor.item": "a Python number",
    "Tensor.tolist": "a Python list", "Tensor.numpy": "a NumPy array",
    "Tensor.__array__": "a NumPy array", "Tensor.__format__": "a Python number",
    "Tensor.__contains__": "a Python boolean",
}


_CONVERSION_MESSAGE = (
    "Converting a tensor to {} might cause the trace to be incorrect. We can't record the "
    "data flow of Python values, so this value will be treated as a constant in the future. "
    "This means that the trace might not generalize to other inputs!")
_LEN_MESSAGE = (
    "Using len to get tensor shape might cause the trace to be incorrect. Recommended usage "
    "would be tensor.shape[0]. Passing a tensor of different shape might lead to errors or "
    "silently give incorrect results.")
_ITER_MESSAGE = (
    "Iterating over a tensor might cause the trace to be incorrect. Passing a tensor of "
    "different shape won't change the number of iterations executed (and might lead to errors "
    "or silently give incorrect results).")


# ---- traced shape values ------------------------------------------------------------------
#
# While a trace runs, ``x.shape``, ``x.size()`` and ``x.numel()`` read in the traced code
# return SymInts: ints (so every op and every Python use sees the right value) that the
# recorder knows as program values. Each read is a ``Tensor.size`` / ``Tensor.numel`` node and
# each +, -, *, //, %, /, ** on them a node too, so a replay recomputes them from the actual
# input's shape (torch records them as aten::size). Turning one into a Python value the trace
# cannot follow (comparisons, bool(), int(), float()) warns and bakes the value, as torch's
# tracer does. Ops always receive plain numbers: the recorder swaps them in before the call.

def _plain(x):
    t = type(x)
    if t is SymInt:
        return int.__int__(x)
    if t is SymFloat:
        return float.__float__(x)
    return x


def _plain_tree(x):
    t = type(x)
    if t is SymInt or t is SymFloat:
        return _plain(x)
    if t is tuple or t is list or t is Size:
        return t(_plain_tree(y) for y in x)
    if t is dict:
        return {k: _plain_tree(v) for k, v in x.items()}
    if t is slice:
        return slice(_plain_tree(x.start), _plain_tree(x.stop), _plain_tree(x.step))
    return x


def _recording_here():
    """The active recorder when the calling code is the traced code itself (not an op's
    insides, not another thread), else None."""
    rec = _active
    if rec is None or rec.depth or rec.thread != _thread_id():
        return None
    return rec


def _scalar(op, a, b):
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return NotImplemented  # a tensor (its reflected operator records it), a complex ...
    value = _SCALAR_OPS[op](_plain(a), _plain(b))
    rec = _recording_here()
    return value if rec is None else rec.scalar_node(op, (a, b), value)


def _unary(op, a):
    value = _SCALAR_OPS[op](_plain(a))
    rec = _recording_here()
    return value if rec is None else rec.scalar_node(op, (a,), value)


def _baked(what, *values):
    rec = _recording_here()
    if rec is not None and any(rec.tracks(v) for v in values):
        rec.problem(_CONVERSION_MESSAGE.format(what))


def _binary_methods(op):
    def forward(self, other):
        return _scalar(op, self, other)

    def reflected(self, other):
        return _scalar(op, other, self)
    return forward, reflected


def _comparison(fn):
    def compare(self, other):
        if not isinstance(other, (int, float)):
            return NotImplemented
        _baked("a Python boolean", self, other)
        return fn(_plain(self), _plain(other))
    return compare


def _sym_namespace(base):
    ns = {"__slots__": ()}
    for op, name in (("operator.add", "add"), ("operator.sub", "sub"), ("operator.mul", "mul"),
                     ("operator.floordiv", "floordiv"), ("operator.mod", "mod"),
                     ("operator.truediv", "truediv"), ("operator.pow", "pow")):
        ns[f"__{name}__"], ns[f"__r{name}__"] = _binary_methods(op)
    for op, name in (("operator.neg", "neg"), ("operator.pos", "pos"), ("operator.abs", "abs"),
                     ("math.floor", "floor"), ("math.ceil", "ceil"), ("math.trunc", "trunc")):
        ns[f"__{name}__"] = (lambda op: lambda self: _unary(op, self))(op)
    for name in ("eq", "ne", "lt", "le", "gt", "ge"):
        ns[f"__{name}__"] = _comparison(getattr(operator, name))
    ns["__hash__"] = base.__hash__

    def to_bool(self):
        _baked("a Python boolean", self)
        return base.__bool__(self)

    def to_int(self):
        _baked("a Python integer", self)
        return int(_plain(self))

    def to_float(self):
        _baked("a Python float", self)
        return float(_plain(self))

    def rounded(self, ndigits=None):
        _baked("a Python number", self)
        return round(_plain(self), ndigits)
    ns.update(__bool__=to_bool, __int__=to_int, __float__=to_float, __round__=rounded)
    if base is int:
        ns["__index__"] = to_int
    return ns


#: a size read (or arithmetic on one) in traced code: an int the program recomputes on replay
SymInt = type("SymInt", (int,), dict(_sym_namespace(int), __module__=__name__,
                                     __doc__="A traced integer shape value (torch's SymInt)."))
#: a float computed from size reads in traced code (``x.size(-1) ** -0.5``)
SymFloat = type("SymFloat", (float,), dict(_sym_namespace(float), __module__=__name__,
                                           __doc__="A float computed from traced shape "
                                                   "values."))
_SCALAR_OPS = {"operator.add": operator.add, "operator.sub": operator.sub,
               "operator.mul": operator.mul, "operator.floordiv": operator.floordiv,
               "operator.mod": operator.mod, "operator.truediv": operator.truediv,
               "operator.pow": operator.pow, "operator.neg": operator.neg,
               "operator.pos": operator.pos, "operator.abs": operator.abs,
               "math.floor": math.floor, "math.ceil": math.ceil, "math.trunc": math.trunc}


def _namespaces():
    import ember
    from ember.nn import functional
    return [("ember", ember), ("ember.nn.functional", functional),
            ("ember.linalg", ember.linalg), ("ember.special", ember.special)]


_TARGETS: dict | None = None
_PATCHES: list | None = None  # (owner, attribute name, original, qualified name)


def _collect():
    """The op table: qualified name -> function, and where each is patched."""
    global _TARGETS, _PATCHES
    if _TARGETS is not None:
        return
    targets, patches = {}, []
    for name, value in list(Tensor.__dict__.items()):
        if isinstance(value, types.FunctionType):
            if name in _SKIP_TENSOR or (name.startswith("_") and not name.startswith("__")):
                continue
            targets["Tensor." + name] = value
            patches.append((Tensor, name, value, "Tensor." + name))
        elif isinstance(value, property) and name in _TENSOR_PROPERTIES and value.fget:
            targets["Tensor." + name] = value.fget
            patches.append((Tensor, name, value, "Tensor." + name))
    from ..autograd.function import Function
    apply = Function.__dict__["apply"]
    targets["ember.autograd.Function.apply"] = apply.__func__
    patches.append((Function, "apply", apply, "ember.autograd.Function.apply"))
    for prefix, module in _namespaces():
        for name, value in list(vars(module).items()):
            if (isinstance(value, types.FunctionType) and not name.startswith("_")
                    and name not in _SKIP_FUNCTIONS):
                targets[f"{prefix}.{name}"] = value
                patches.append((module, name, value, f"{prefix}.{name}"))
    targets.update(_SCALAR_OPS)  # the arithmetic of traced sizes (never patched)
    _TARGETS, _PATCHES = targets, patches


def targets() -> dict:
    """Qualified op name -> the op's function (what a program may call)."""
    _collect()
    return _TARGETS


_active: "Recorder | None" = None


def active():
    return _active


def _wrapper(qualname, fn):
    def recorded(*args, **kwargs):
        rec = _active
        if rec is None or rec.depth or rec.thread != _thread_id():
            return fn(*args, **kwargs)
        return rec.call(qualname, fn, args, kwargs)
    recorded.__name__ = getattr(fn, "__name__", qualname)
    recorded.__doc__ = fn.__doc__
    recorded.__wrapped__ = fn
    return recorded


class Recorder:
    """One recording: the graph being built and the map from live tensors to its values."""

    def __init__(self, attr_names: dict[int, tuple[str, str]], dynamic_shapes: bool = True):
        self.graph = Graph()
        self.dynamic_shapes = dynamic_shapes  # shape reads become program values
        self.env: dict[int, object] = {}
        self.keep: list = []  # tensors seen, alive until the end so their ids stay unique
        self.attr_names = attr_names
        self.depth = 0
        self.random = False
        self.host_read = False
        self.grad_at_start = _state.enabled
        self.problems: list[str] = []
        self.thread = _thread_id()  # other threads' ops are not part of this recording
        self.saw_sym = False  # the last ``encode`` met a traced shape value

    # ---- values -----------------------------------------------------------------------------
    def value_of(self, t: Tensor):
        v = self.env.get(id(t))
        if v is None:
            v = self.graph.new_var(t)
            attr = self.attr_names.get(id(t))
            if attr is not None:
                self.graph.attrs[v.i] = attr
            else:
                self.graph.consts[v.i] = t
            self.env[id(t)] = v
            self.keep.append(t)
        return v

    def add_input(self, t: Tensor):
        v = self.graph.new_var(t)
        self.graph.inputs.append(v)
        # NOTE: a tensor passed at several positions (attention's q, k, v) is recorded as its
        # first position: the program is right for calls that pass one tensor there again
        self.env.setdefault(id(t), v)
        self.keep.append(t)
        return v

    def encode(self, x, tensors):
        """``x`` with every tensor replaced by its value (collected in ``tensors``)."""
        if isinstance(x, Tensor):
            tensors.append(x)
            return self.value_of(x)
        t = type(x)
        if t is SymInt or t is SymFloat:
            v = self.env.get(id(x))
            if v is None:  # from another recording: a constant
                return _plain(x)
            self.saw_sym = True
            return v
        if t is tuple or t is list:
            return t(self.encode(y, tensors) for y in x)
        if t is Size:
            if any(type(y) is SymInt for y in x):
                return tuple(self.encode(y, tensors) for y in x)
            return x
        if isinstance(x, tuple):  # a namedtuple: its items, as a plain tuple
            return tuple(self.encode(y, tensors) for y in x)
        if t is dict:
            return {k: self.encode(v, tensors) for k, v in x.items()}
        if t is slice and any(isinstance(y, Tensor) or type(y) is SymInt
                              for y in (x.start, x.stop, x.step)):
            return slice(*(self.encode(y, tensors) for y in (x.start, x.stop, x.step)))
        return x

    def bind_outputs(self, x, new):
        """The result's structure with a new value for every tensor (collected in ``new``)."""
        if isinstance(x, Tensor):
            v = self.graph.new_var(x)
            self.env[id(x)] = v
            self.keep.append(x)
            new.append((v, x))
            return v
        if isinstance(x, (tuple, list)):
            return type(x)(self.bind_outputs(y, new) for y in x) if type(x) in (tuple, list) \
                else tuple(self.bind_outputs(y, new) for y in x)
        if type(x) is dict:
            return {k: self.bind_outputs(v, new) for k, v in x.items()}
        return None

    # ---- one op -----------------------------------------------------------------------------
    def call(self, qualname, fn, args, kwargs):
        tensors: list = []
        self.saw_sym = False
        enc_args = self.encode(args, tensors)
        enc_kwargs = self.encode(kwargs, tensors)
        if self.saw_sym:  # the op itself gets plain numbers
            args, kwargs = _plain_tree(args), _plain_tree(kwargs)
        versions = [t._vc[0] for t in tensors]
        self.random = self.host_read = False
        self.depth = 1
        try:
            result = fn(*args, **kwargs)
        finally:
            self.depth = 0
        if qualname in _CONVERSIONS or (self.host_read and tensors and
                                        not _has_tensor(result)):
            if tensors:
                what = _CONVERSIONS.get(qualname, "a Python value")
                self.problem(f"Converting a tensor to {what} ({qualname}) might cause the trace "
                             "to be incorrect. We can't record the data flow of Python values, "
                             "so this value will be treated as a constant in the future. This "
                             "means that the trace might not generalize to other inputs!")
            return result
        # NOTE: the version counters catch in-place writes that return nothing (__setitem__,
        # batch_norm's running statistics); the name and out= catch the ones that do not bump it
        mutated = (any(t._vc[0] != v for t, v in zip(tensors, versions))
                   or (qualname.endswith("_") and not qualname.endswith("__"))
                   or isinstance(kwargs.get("out"), Tensor))
        if not mutated and not self.random and not _has_tensor(result):
            return result  # a metadata query (shape, dtype ...): its value is a constant
        new: list = []
        out = self.bind_outputs(result, new)
        aliases = []
        for _, o in new:
            for t, v in zip(tensors, _vars((enc_args, enc_kwargs))):
                if o is t or (o._base is not None and (o._base is t or o._base is t._base)):
                    if all(a is not v for a in aliases):
                        aliases.append(v)
        no_grad = self.grad_at_start and not _state.enabled
        self.graph.nodes.append(Node(qualname, tuple(enc_args), enc_kwargs, out, mutated,
                                     self.random, aliases, no_grad))
        return result

    # ---- traced shape values ---------------------------------------------------------------
    def tracks(self, x) -> bool:
        """Whether ``x`` is a shape value of this recording."""
        return (type(x) is SymInt or type(x) is SymFloat) and id(x) in self.env

    def shape_source(self, t: Tensor):
        """The value of ``t`` if its shape is worth tracing (an input, a computed value, a
        parameter or buffer), else None (a constant: its shape is too)."""
        v = self.env.get(id(t))
        if v is None or v.i in self.graph.consts:
            return None
        return v

    def _sym(self, node_target, args, value):
        out = self.graph.new_var()
        kind = SymInt if type(value) is int else SymFloat
        self.graph.meta[out.i] = ((), kind.__base__.__name__, "")
        sym = kind(value)
        self.env[id(sym)] = out
        self.keep.append(sym)
        self.graph.nodes.append(Node(node_target, args, {}, out))
        return sym

    def size_node(self, t: Tensor, v, dim: int):
        return self._sym("Tensor.size", (v, dim), t._data.shape[dim])

    def numel_node(self, t: Tensor, v):
        return self._sym("Tensor.numel", (v,), math.prod(t._data.shape))

    def scalar_node(self, op: str, args, value):
        """``value = op(*args)`` on shape values: recorded when an argument is one of this
        recording's and the value is an int or a float, else the plain value."""
        if type(value) not in (int, float) or not any(self.tracks(a) for a in args):
            return value
        self.saw_sym = False
        return self._sym(op, tuple(self.encode(a, []) for a in args), value)

    def problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)


def _has_tensor(x) -> bool:
    if isinstance(x, Tensor):
        return True
    if isinstance(x, (tuple, list)):
        return any(_has_tensor(y) for y in x)
    if type(x) is dict:
        return any(_has_tensor(y) for y in x.values())
    return False


class recording:
    """``with recording(rec):`` patches the ops so that ``rec`` sees them (not re-entrant: a
    trace inside a trace records into the outer one)."""

    def __init__(self, rec: Recorder):
        self.rec = rec

    def __enter__(self):
        global _active
        if _active is not None:
            raise RuntimeError("ember.jit: a trace is already being recorded")
        _collect()
        from ..ops import creation
        rec = self.rec
        self._gen_for = creation._gen_for
        self._host = Tensor.__dict__["_host"]
        gen_for, host = self._gen_for, self._host

        def gen_for_seen(*a, **k):
            rec.random = rec.random or rec.thread == _thread_id()
            return gen_for(*a, **k)

        def host_seen(t):
            rec.host_read = rec.host_read or rec.thread == _thread_id()
            return host(t)
        creation._gen_for = gen_for_seen
        Tensor._host = host_seen
        # NOTE: every op wraps its result with Tensor._wrap (some modules bind it to a global):
        # a call at depth 0 means an op ran that the patched names did not catch (a function
        # imported under another name), whose result would wrongly become a constant
        wrap = Tensor.__dict__["_wrap"].__func__
        self._wrap_owners = [m for m in list(sys.modules.values())
                             if getattr(m, "__name__", "").startswith("ember.")
                             and getattr(m, "_wrap", None) is wrap]

        def wrap_seen(data, dtype, device):
            if not rec.depth and rec.thread == _thread_id():
                rec.problem("An op ran that the tracer could not record (an ember function "
                            "bound to another name before tracing, or a tensor made from "
                            "non-ember data); its result will be treated as a constant, so "
                            "the trace might not generalize to other inputs!")
            return wrap(data, dtype, device)
        self._wrap = wrap
        Tensor._wrap = staticmethod(wrap_seen)
        for m in self._wrap_owners:
            m._wrap = wrap_seen
        for owner, name, original, qualname in _PATCHES:
            if isinstance(original, classmethod):
                setattr(owner, name, classmethod(_wrapper(qualname, original.__func__)))
            elif isinstance(original, property):
                setattr(owner, name, property(_wrapper(qualname, original.fget),
                                              original.fset, original.fdel, original.__doc__))
            else:
                setattr(owner, name, _wrapper(qualname, original))
        self._shape_patches = _shape_readers(rec) if rec.dynamic_shapes else {}
        for name, value in self._shape_patches.items():
            setattr(Tensor, name, value)
        _active = rec
        return rec

    def __exit__(self, *exc):
        global _active
        _active = None
        from ..ops import creation
        for owner, name, original, _ in _PATCHES:
            setattr(owner, name, original)
        for name in self._shape_patches:
            setattr(Tensor, name, _SHAPE_ORIGINALS[name])
        creation._gen_for = self._gen_for
        Tensor._host = self._host
        Tensor._wrap = staticmethod(self._wrap)
        for m in self._wrap_owners:
            m._wrap = self._wrap
        return False


_SHAPE_ORIGINALS = {name: Tensor.__dict__[name]
                    for name in ("shape", "size", "numel", "nelement", "__len__", "__iter__")}


def _shape_readers(rec: Recorder) -> dict:
    """Tensor attributes swapped in while ``rec`` records: shape reads in the traced code
    give traced shape values, ``len()`` and iteration warn (their counts are baked)."""
    size, numel = _SHAPE_ORIGINALS["size"], _SHAPE_ORIGINALS["numel"]
    length, iterate = _SHAPE_ORIGINALS["__len__"], _SHAPE_ORIGINALS["__iter__"]

    def source(t):
        if rec.depth or rec.thread != _thread_id():
            return None
        return rec.shape_source(t)

    def traced_size(self, dim=None):
        v = source(self)
        if v is None:
            return size(self, dim)
        if dim is None:
            return Size([rec.size_node(self, v, i) for i in range(len(self._data.shape))])
        size(self, dim)  # (its errors for a bad dim)
        return rec.size_node(self, v, operator.index(dim) % len(self._data.shape))

    def traced_numel(self):
        v = source(self)
        return numel(self) if v is None else rec.numel_node(self, v)

    def traced_len(self):
        if source(self) is not None:
            rec.problem(_LEN_MESSAGE)
        return length(self)

    def traced_iter(self):
        if source(self) is not None:
            rec.problem(_ITER_MESSAGE)
        return iterate(self)
    traced_size.__doc__, traced_numel.__doc__ = size.__doc__, numel.__doc__
    return {"shape": property(traced_size, doc=_SHAPE_ORIGINALS["shape"].__doc__),
            "size": traced_size, "numel": traced_numel, "nelement": traced_numel,
            "__len__": traced_len, "__iter__": traced_iter}


def is_tracing() -> bool:
    """True while ``ember.jit.trace`` (or ``script``, recording a new input signature) runs the
    traced code."""
    return _active is not None


def record(fn, args, kwargs, attr_names, dynamic_shapes: bool = True):
    """Run ``fn(*args, **kwargs)`` once, recording it: (result, graph, problems, input
    tensors). Without ``dynamic_shapes`` shape reads are constants (for programs that only run
    on inputs of the recorded shapes)."""
    rec = Recorder(attr_names, dynamic_shapes)
    leaves: list = []
    _input_leaves((args, kwargs), leaves)
    for t in leaves:
        rec.add_input(t)
    with recording(rec):
        result = fn(*args, **kwargs)
    g = rec.graph
    tensors: list = []
    g.output = rec.encode(result, tensors)
    return result, g, rec.problems, leaves


def _input_leaves(x, out):
    if isinstance(x, Tensor):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for y in x:
            _input_leaves(y, out)
    elif type(x) is dict:
        for y in x.values():
            _input_leaves(y, out)


def warn_problems(problems, stacklevel=3):
    for p in problems:
        warnings.warn(p, TracerWarning, stacklevel=stacklevel)
