"""Recording: which calls become profiler events, and how they are timed.

Nothing here runs unless a profiler is recording. ``install`` replaces the public callables by
timing wrappers for the duration of a recording and ``uninstall`` puts the originals back, so
the op dispatch path has no profiler check at all when no profiler runs (the wrappers still
test ``_active`` first, so a wrapper that someone kept a reference to is harmless later).

What is wrapped, and the event names (torch's names, so scripts written for torch find their
rows; the tree under an op is Ember's decomposition, not ATen's):

- the public functions of ``ember``, ``ember.nn.functional``, ``ember.linalg`` and
  ``ember.special`` -> ``aten::<name>`` (``aten::linalg_<name>``, ``aten::special_<name>``),
  wherever an ember module holds them under a global name, so the ops an op calls internally
  show up nested under it;
- the methods and operators of ``Tensor`` -> ``aten::<name>`` (``a + b`` is ``aten::add``,
  ``a[i]`` ``aten::index``); a method that calls the function of the same name is one event;
- each autograd node's backward rule, as the engine runs it ->
  ``autograd::engine::evaluate_function: MulBackward0`` around ``MulBackward0``, and the leaf
  accumulation -> ``torch::autograd::AccumulateGrad``;
- ``autograd.Function.apply`` -> the Function's class name;
- the ``step``/``zero_grad`` of optimizers -> ``Optimizer.step#SGD.step`` (as torch);
- ``Module.__call__`` with ``with_modules`` -> ``nn.Module: Linear``;
- ``record_function`` ranges -> their name.

Times are host times (``perf_counter_ns``). With a device activity requested, an outermost op
that read or returned an accelerator tensor is followed by a synchronize of that device: the op
gets a device time (from its start to the end of the synchronize, an upper bound of its device
work since the queue was drained before it started) and the wait itself is a separate event,
``ember::profiler_synchronize``, so no op's CPU time includes it.
"""
from __future__ import annotations

import itertools
import math
import os
import sys
import types
from threading import get_ident
from time import perf_counter_ns, time_ns

OP, ANNOTATION, MODULE, SYNC = "cpu_op", "user_annotation", "python_function", "sync"
SYNC_NAME = "ember::profiler_synchronize"
_EVALUATE = "autograd::engine::evaluate_function: "
_ACCUMULATE = "torch::autograd::AccumulateGrad"

_active = None  # the Session recording now (one at a time, process-wide)


def active():
    """The Session that records now, or None."""
    return _active


class _Rec:
    """One event while it is recorded (times in ns of perf_counter)."""

    __slots__ = ("id", "name", "kind", "tid", "parent", "start", "end", "child_ns", "shapes",
                 "stack", "opdepth", "device_ns", "child_device_ns", "device", "flops",
                 "mem", "child_mem", "child_outs")

    def __init__(self, id, name, kind, tid, parent, opdepth):
        self.id, self.name, self.kind, self.tid, self.parent = id, name, kind, tid, parent
        self.opdepth = opdepth
        self.start = self.end = 0
        self.child_ns = self.device_ns = self.child_device_ns = 0
        self.shapes = self.stack = self.device = self.child_outs = None
        self.flops = 0
        self.mem = self.child_mem = None  # [cpu bytes, device bytes]

    @property
    def self_ns(self):
        return self.end - self.start - self.child_ns


class Session:
    """The events of one recording, and the timing of each wrapped call."""

    def __init__(self, *, record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, sync_devices=False):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.sync_devices = sync_devices
        self.need_shapes = record_shapes or with_flops
        self.records: list[_Rec] = []
        self.stacks: dict[int, list[_Rec]] = {}
        self._ids = itertools.count(1)
        self.start_ns = perf_counter_ns()
        self.wall_start_us = time_ns() / 1000
        self.end_ns = None
        self.devices: set[str] = set()

    # ---- open / close ----------------------------------------------------------------------
    def open(self, name, kind, shape_args=None):
        tid = get_ident()
        stack = self.stacks.get(tid)
        if stack is None:
            stack = self.stacks.setdefault(tid, [])
        parent = stack[-1] if stack else None
        depth = parent.opdepth if parent is not None else 0
        rec = _Rec(next(self._ids), name, kind, tid, parent,
                   depth + 1 if kind is OP else depth)
        if shape_args is not None and self.need_shapes:
            rec.shapes = _shapes(shape_args)
        if self.with_stack:
            rec.stack = _user_stack()
        stack.append(rec)
        rec.start = perf_counter_ns()
        return rec

    def close(self, rec, args=(), out=None, end=None):
        rec.end = end if end is not None else perf_counter_ns()
        stack = self.stacks.get(rec.tid)
        if stack:
            if stack[-1] is rec:
                stack.pop()
            elif rec in stack:  # (ranges closed out of order: a step inside a record_function)
                stack.remove(rec)
        parent = rec.parent
        if (self.sync_devices and rec.kind is OP and rec.opdepth == 1):
            dev = _accelerator_of(args, out)
            if dev is not None:
                self._synchronize(rec, dev, parent)
        if self.profile_memory:
            self._memory(rec, args, out, parent)
        if self.with_flops and rec.kind is OP and rec.shapes is not None:
            rec.flops = _flops(rec.name, rec.shapes, out)
        if parent is not None:
            parent.child_ns += rec.end - rec.start
            parent.child_device_ns += rec.device_ns + rec.child_device_ns
        self.records.append(rec)

    def call(self, name, kind, fn, args, kwargs, shape_args=None):
        """``fn(*args, **kwargs)`` recorded as one event called ``name``."""
        stack = self.stacks.get(get_ident())
        if stack and stack[-1].name == name:
            # NOTE: Tensor.add calls ember.add, F.relu calls ember.relu: one call, one event
            return fn(*args, **kwargs)
        rec = self.open(name, kind, args if shape_args is None else shape_args)
        try:
            out = fn(*args, **kwargs)
        except BaseException:
            self.close(rec, args)
            raise
        self.close(rec, args, out)
        return out

    # ---- what close measures ---------------------------------------------------------------
    def _synchronize(self, rec, dev, parent):
        dev.backend.synchronize(dev.index)
        done = perf_counter_ns()
        rec.device_ns = done - rec.start
        rec.device = str(dev)
        self.devices.add(dev.type)
        wait = _Rec(next(self._ids), SYNC_NAME, SYNC, rec.tid, parent, rec.opdepth - 1)
        wait.start, wait.end, wait.device = rec.end, done, rec.device
        if parent is not None:
            parent.child_ns += done - rec.end
        self.records.append(wait)

    def _memory(self, rec, args, out, parent):
        # NOTE: allocations only (bytes of the new tensors an op returned, views excluded);
        # torch's allocator also subtracts what the op freed
        mem = [0, 0]
        outs = _tensors(out)
        if outs:
            inputs = {id(t) for t in _tensors(args)}
            seen = rec.child_outs or {}
            for t in outs:
                if t._base is None and id(t) not in inputs and id(t) not in seen:
                    nbytes = math.prod(t._data.shape) * t._dtype.itemsize
                    mem[t._device.type != "cpu"] += nbytes
        rec.mem = mem
        if parent is not None:
            cm = parent.child_mem
            if cm is None:
                cm = parent.child_mem = [0, 0]
            own = rec.child_mem or (0, 0)
            cm[0] += mem[0] + own[0]
            cm[1] += mem[1] + own[1]
            if outs:
                if parent.child_outs is None:
                    parent.child_outs = {}
                for t in outs:  # (kept alive until the parent closes: ids stay unique)
                    parent.child_outs[id(t)] = t
        rec.child_outs = None

    def finish(self):
        """Close what is still open (ranges left open at stop) and stop the clock."""
        end = perf_counter_ns()
        for stack in list(self.stacks.values()):
            while stack:
                self.close(stack[-1], end=end)
        self.end_ns = end


# ---- argument helpers ----------------------------------------------------------------------
_Tensor = None


def _tensor_cls():
    global _Tensor
    if _Tensor is None:
        from ..tensor import Tensor
        _Tensor = Tensor
    return _Tensor


def _shapes(args):
    """torch's Input Shapes: a shape per argument ([] for a non-tensor, a list of shapes for a
    list of tensors)."""
    T = _tensor_cls()
    res = []
    for a in args:
        if isinstance(a, T):
            res.append(list(a._data.shape))
        elif isinstance(a, (list, tuple)) and a and all(isinstance(x, T) for x in a):
            res.append([list(x._data.shape) for x in a])
        else:
            res.append([])
    return res


def _tensors(x):
    T = _tensor_cls()
    if isinstance(x, T):
        return [x]
    if isinstance(x, (list, tuple)):
        return [y for y in x if isinstance(y, T)]
    return []


def _accelerator_of(args, out):
    """The device of the first accelerator tensor among the arguments and results, or None."""
    for t in itertools.chain(_tensors(out), _tensors(args)):
        if t._device.type != "cpu":
            return t._device
    for a in args:
        if isinstance(a, (list, tuple)):
            for t in _tensors(a):
                if t._device.type != "cpu":
                    return t._device
    return None


def _numel(shape):
    return math.prod(shape) if shape else 1


def _flops(name, shapes, out):
    """Floating-point operations of the ops torch counts (matrix products, convolutions,
    elementwise add and mul), from the input shapes and the result."""
    outs = _tensors(out)
    if not outs:
        return 0
    n_out = _numel(outs[0]._data.shape)
    op = name[6:] if name.startswith("aten::") else name
    try:
        if op in ("mm", "matmul", "bmm", "linalg_matmul"):
            a = shapes[0]
            return 2 * n_out * (a[-1] if a else 1)
        if op in ("addmm", "baddbmm", "addbmm"):
            return 2 * n_out * shapes[1][-1]
        if op == "linear":
            return 2 * n_out * shapes[1][-1]
        if op in ("conv1d", "conv2d", "conv3d", "convolution"):
            return 2 * n_out * _numel(shapes[1][1:])
        if op in ("add", "mul", "add_", "mul_"):
            return n_out
    except (IndexError, TypeError):
        return 0
    return 0


_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_INTERNAL = tuple(os.path.join(_ROOT, d) + os.sep for d in ("core", "backends", "plugins")) + (
    os.path.join(_ROOT, "__init__.py"),)


def _user_stack(limit=8):
    """The caller's Python stack, innermost first, without Ember's own frames."""
    f = sys._getframe(2)
    res = []
    while f is not None and len(res) < limit:
        fname = f.f_code.co_filename
        if not fname.startswith(_INTERNAL):
            res.append(f"{fname}({f.f_lineno}): {f.f_code.co_name}")
        f = f.f_back
    return res


# ---- the wrappers --------------------------------------------------------------------------
def _keep_meta(wrapper, fn):
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        try:
            setattr(wrapper, attr, getattr(fn, attr))
        except (AttributeError, TypeError):
            pass
    wrapper.__dict__.update(getattr(fn, "__dict__", {}))
    wrapper.__wrapped__ = fn
    wrapper._ember_profiled = fn
    return wrapper


def _op_wrapper(fn, name):
    def profiled(*args, **kwargs):
        s = _active
        if s is None:
            return fn(*args, **kwargs)
        return s.call(name, OP, fn, args, kwargs,
                      args if not kwargs else args + tuple(kwargs.values()))
    return _keep_meta(profiled, fn)


def _named_method_wrapper(fn, fmt, kind):
    """A method whose event name depends on the receiver's class (``fmt % class name``)."""
    def profiled(self, *args, **kwargs):
        s = _active
        if s is None:
            return fn(self, *args, **kwargs)
        return s.call(fmt % type(self).__name__, kind, fn, (self,) + args, kwargs, ())
    return _keep_meta(profiled, fn)


def _rule_wrapper(rule):
    """A backward rule (``rule(node, *grads)``) as the engine runs it (in its form that calls
    ember ops, where it has a faster one that calls kernels: the ops are what is recorded)."""
    rule = getattr(rule, "recorded", rule)

    def profiled(node, *grads):
        s = _active
        if s is None:
            return rule(node, *grads)
        name = type(node).__name__
        return s.call(_EVALUATE + name, OP, s.call, (name, OP, rule, (node,) + grads, {}, grads),
                      {}, grads)
    return _keep_meta(profiled, rule)


def _apply_wrapper(apply):
    """``Node.apply(self, grads)`` of nodes without a plain rule (custom Functions)."""
    def profiled(node, grads):
        s = _active
        if s is None:
            return apply(node, grads)
        name = type(node).__name__
        return s.call(_EVALUATE + name, OP, s.call, (name, OP, apply, (node, grads), {}, grads),
                      {}, grads)
    return _keep_meta(profiled, apply)


def _accumulate_wrapper(accumulate):
    def profiled(node, g, *args, **kwargs):
        s = _active
        if s is None:
            return accumulate(node, g, *args, **kwargs)
        return s.call(_EVALUATE + _ACCUMULATE, OP, s.call,
                      (_ACCUMULATE, OP, accumulate, (node, g) + args, kwargs, (g,)), {}, (g,))
    return _keep_meta(profiled, accumulate)


def _function_apply_wrapper(apply):
    def profiled(cls, *args, **kwargs):
        s = _active
        if s is None:
            return apply(cls, *args, **kwargs)
        return s.call(cls.__name__, OP, apply, (cls,) + args, kwargs, args)
    return _keep_meta(profiled, apply)


# ---- what gets wrapped -------------------------------------------------------------------
# functions of the namespaces that are not ops (configuration, files, helpers)
_SKIP_FUNCTIONS = {"save", "load", "compile", "from_numpy", "manual_seed", "seed",
                   "initial_seed", "typename", "use_deterministic_algorithms", "promote_types",
                   "result_type", "broadcast_shapes", "vmap", "clear_autocast_cache",
                   "canonical", "device_mismatch", "namedtuple", "composite", "defop", "record",
                   "record_elementwise", "record_overwrite", "record_copy_slices", "needs_grad",
                   "unrecorded", "sum_to", "default_generator", "numel", "is_tensor",
                   "is_storage", "set_printoptions"}
_SKIP_PREFIXES = ("is_", "get_", "set_", "are_", "can_")
# function names that torch's events spell differently
_FUNCTION_NAMES = {"getitem": "index", "getitem_basic": "index", "setitem": "index_put_",
                   "div_true": "div", "range_": "range", "cross_entropy": "cross_entropy_loss"}
_TENSOR_NAMES = {
    "__add__": "add", "__radd__": "add", "__iadd__": "add_", "__sub__": "sub",
    "__rsub__": "rsub", "__isub__": "sub_", "__mul__": "mul", "__rmul__": "mul",
    "__imul__": "mul_", "__truediv__": "div", "__rtruediv__": "div", "__itruediv__": "div_",
    "__floordiv__": "floor_divide", "__rfloordiv__": "floor_divide",
    "__ifloordiv__": "floor_divide_", "__mod__": "remainder", "__rmod__": "remainder",
    "__imod__": "remainder_", "__pow__": "pow", "__rpow__": "pow", "__ipow__": "pow_",
    "__matmul__": "matmul", "__rmatmul__": "matmul", "__and__": "bitwise_and",
    "__rand__": "bitwise_and", "__iand__": "bitwise_and_", "__or__": "bitwise_or",
    "__ror__": "bitwise_or", "__ior__": "bitwise_or_", "__xor__": "bitwise_xor",
    "__rxor__": "bitwise_xor", "__ixor__": "bitwise_xor_", "__invert__": "bitwise_not",
    "__lshift__": "bitwise_left_shift", "__rlshift__": "bitwise_left_shift",
    "__ilshift__": "bitwise_left_shift_", "__rshift__": "bitwise_right_shift",
    "__rrshift__": "bitwise_right_shift", "__irshift__": "bitwise_right_shift_",
    "__neg__": "neg", "__pos__": "positive", "__abs__": "abs", "__eq__": "eq", "__ne__": "ne",
    "__lt__": "lt", "__le__": "le", "__gt__": "gt", "__ge__": "ge", "__getitem__": "index",
    "__setitem__": "index_put_", "__bool__": "is_nonzero", "__float__": "item",
    "__int__": "item", "__index__": "item"}
_SKIP_METHODS = {"backward", "register_hook", "retain_grad", "register_post_accumulate_grad_hook",
                 "requires_grad_", "size", "dim", "ndimension", "numel", "nelement",
                 "element_size", "stride", "get_device", "data_ptr", "storage_offset", "tolist",
                 "numpy", "type", "dim_order", "untyped_storage"}
_TENSOR_PROPERTIES = {"T": "numpy_T", "mT": "mT", "H": "H", "mH": "mH"}


def _is_op_function(name, fn):
    mod = getattr(fn, "__module__", None) or ""
    return (type(fn) is types.FunctionType and not name.startswith("_")
            and not name[:1].isupper() and name not in _SKIP_FUNCTIONS
            and not name.startswith(_SKIP_PREFIXES) and mod.startswith("ember.")
            and not mod.startswith("ember.core.profiler"))


def _node_classes(base):
    seen, todo = [], [base]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(c for c in cls.__subclasses__() if c not in seen)
    return seen


def _plan(with_modules):
    """(owner, attribute, original, replacement) for everything a recording wraps."""
    import ember
    from ember.nn import functional
    from ..autograd.function import Function
    from ..autograd.graph import AccumulateGrad, Node
    from ..nn.modules.module import Module
    from ..optim.optimizer import Optimizer
    Tensor = _tensor_cls()
    patches = []
    wrappers: dict[int, tuple] = {}  # id(function) -> (function, wrapper)
    for module, prefix in ((ember, ""), (functional, ""), (ember.linalg, "linalg_"),
                           (ember.special, "special_")):
        for name, fn in list(vars(module).items()):
            if _is_op_function(name, fn) and id(fn) not in wrappers:
                op = "aten::" + prefix + _FUNCTION_NAMES.get(name, name)
                wrappers[id(fn)] = (fn, _op_wrapper(fn, op))
    # every global name an ember module binds such a function to: the calls of an op to other
    # ops go through their module's globals, and are recorded nested under it
    seen = set()
    for mod_name, mod in list(sys.modules.items()):
        if (mod is None or id(mod) in seen or not (mod_name == "ember" or
                                                   mod_name.startswith("ember."))
                or mod_name.startswith("ember.core.profiler")):
            continue
        seen.add(id(mod))
        for attr, value in list(getattr(mod, "__dict__", {}).items()):
            if type(value) is types.FunctionType:
                w = wrappers.get(id(value))
                if w is not None and w[0] is value:
                    patches.append((mod, attr, value, w[1]))
    for name, value in list(Tensor.__dict__.items()):
        if isinstance(value, types.FunctionType):
            if name in _TENSOR_NAMES:
                op = _TENSOR_NAMES[name]
            elif name.startswith("_") or name in _SKIP_METHODS or name.startswith("is_"):
                continue
            else:
                op = name
            patches.append((Tensor, name, value, _op_wrapper(value, "aten::" + op)))
        elif isinstance(value, property) and name in _TENSOR_PROPERTIES and value.fget:
            fget = _op_wrapper(value.fget, "aten::" + _TENSOR_PROPERTIES[name])
            patches.append((Tensor, name, value,
                            property(fget, value.fset, value.fdel, value.__doc__)))
    for cls in _node_classes(Node):
        d = cls.__dict__
        rule = d.get("_backward")
        if type(rule) is types.FunctionType:
            patches.append((cls, "_backward", rule, _rule_wrapper(rule)))
        elif "apply" in d and type(d["apply"]) is types.FunctionType and cls is not Node:
            patches.append((cls, "apply", d["apply"], _apply_wrapper(d["apply"])))
    acc = AccumulateGrad.__dict__["accumulate"]
    patches.append((AccumulateGrad, "accumulate", acc, _accumulate_wrapper(acc)))
    apply = Function.__dict__.get("apply")
    if isinstance(apply, classmethod):
        patches.append((Function, "apply", apply,
                        classmethod(_function_apply_wrapper(apply.__func__))))
    for cls in _node_classes(Optimizer):
        for meth in ("step", "zero_grad"):
            fn = cls.__dict__.get(meth)
            if type(fn) is types.FunctionType:
                patches.append((cls, meth, fn, _named_method_wrapper(
                    fn, f"Optimizer.{meth}#%s.{meth}", ANNOTATION)))
    if with_modules:
        for cls in _node_classes(Module):
            fn = cls.__dict__.get("__call__")
            if type(fn) is types.FunctionType:
                patches.append((cls, "__call__", fn,
                                _named_method_wrapper(fn, "nn.Module: %s", MODULE)))
    return patches


_installed: list | None = None


def install(session: Session, with_modules=False) -> None:
    """Wrap the public callables and make ``session`` the one that records."""
    global _active, _installed
    if _active is not None or _installed is not None:
        raise RuntimeError("ember.profiler: a profiler is already recording (profilers do not "
                           "nest; use record_function to mark a range inside one)")
    # NOTE: ember.jit keeps the op functions it finds the first time it traces: let it see
    # the originals, never these wrappers
    from ..jit import _tracer
    _tracer._collect()
    patches = _plan(with_modules)
    for owner, attr, _, new in patches:
        setattr(owner, attr, new)
    _installed = patches
    _active = session


def uninstall() -> None:
    """Put the originals back (those still wrapped: another tool may have replaced some since)."""
    global _active, _installed
    _active = None
    patches, _installed = _installed or [], None
    for owner, attr, original, new in reversed(patches):
        current = owner.__dict__.get(attr) if isinstance(owner, type) else \
            getattr(owner, attr, None)
        if current is new:
            setattr(owner, attr, original)


def installed() -> bool:
    return _installed is not None
