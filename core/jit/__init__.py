"""``ember.jit``: record a model's ops once, replay them without its Python code, save the
program and load it without the model's class (torch.jit's API).

How it records
    ``trace`` runs the model once on example inputs. For that run only, the public ops (the
    functions of ``ember``, ``ember.nn.functional``, ``ember.linalg`` and ``ember.special``,
    and the methods and view properties ``.T``/``.mT``/``.data``... of ``Tensor``) are replaced
    by wrappers; a depth counter records only the outermost call, so ``F.linear`` is one node
    whatever it calls inside. Outside a trace nothing is patched: the ops' hot path is
    unchanged. Each node keeps the op's name, its arguments (constants and references to
    values) and flags seen while it ran: whether it wrote a tensor argument in place (the
    version counters moved), drew random numbers, returned a view of an argument, or ran with
    gradients off.

How it replays
    The program is compiled into one Python function that calls the same public ops in the
    same order on the new inputs: no ``Module.__call__``, hooks, ``forward`` or control flow.
    Parameters and buffers are read from the module (by name) on every call, so updated
    weights, ``.to()`` and optimisers are seen; views and in-place ops behave as in eager
    mode because the very same ops run; autograd records the replayed ops as usual, so a traced
    module trains and double-backward works where the ops support it.

How it optimises
    After recording: common-subexpression elimination (never across an in-place write, never
    for values written in place or random ops) and dead-code elimination (pure nodes only: a
    node that writes in place or draws random numbers stays). ``freeze`` turns parameters and
    buffers into constants, folds what depends only on them (and eval-mode batch norms into
    the convolutions before them), then runs both passes again. Last, when the program's
    device has the optional ``fused_elementwise`` kernel (opencl, cuda), each run of
    elementwise ops becomes one fused step: one kernel, and only the values used after the run
    stored. The step keeps the run's unfused ops and runs those when autograd records (an
    input requires grad), under autocast, or for inputs of other dtypes or shape patterns, so
    gradients are eager mode's (see ``_fuse``). ``graph_for(*inputs)`` shows the program that
    runs, fused steps included; ``set_fusion_enabled(False)`` turns fusion off for programs
    made afterwards. The saved program (``save``) is always the recorded, unfused one.

What it cannot capture
    Python control flow and Python values computed from tensors (``bool(t)``, ``.item()``,
    ``int()``, ``.tolist()``, ``.numpy()``: ``trace`` warns with ``TracerWarning`` and bakes
    the value); shape reads (``x.shape``, ``x.size(i)``, ``x.numel()``) and the +, -, *, //,
    %, /, ** computed from them are program values, recomputed from the actual inputs (as
    torch's ``aten::size``), but ``int()``, ``float()``, ``len(x)``, iterating over a tensor,
    comparisons and ``range()`` on them bake the value (all but ``range`` warn, as in torch),
    and Python loops over a size are unrolled (Ember's RNN modules loop over time steps in
    Python, so their traces are for the traced sequence length; batch sizes are free); other
    non-tensor values, dtypes and devices are constants; tensors created outside the recorded ops
    (module attributes that are not buffers, closure tensors) are constants; grad-mode changes
    inside the code are kept per op (autocast is not recorded: the ops consult the autocast
    state of the replaying call, as eager ops do), but ``register_hook``/``retain_grad`` calls
    and other Python side effects are not; a trace records the calling thread only (the op
    patching is process-wide while it runs); op functions bound to other names before the trace
    (``from ember import relu``) are recorded through the ops they call, if any.

How it differs from TorchScript
    Ember does not compile Python source. ``script`` therefore gives these semantics: the
    scripted module or function records a program per input signature (tensor shapes, dtypes,
    devices and requires_grad, non-tensor arguments, training flags, grad mode) the first
    time it sees it and replays it afterwards (up to ``CACHE_LIMIT`` signatures, then further
    ones run eagerly); when the recording finds data-dependent Python
    (a tensor turned into a Python value), that signature runs eagerly from then on, so the
    results always equal eager mode's. ``is_scripting()`` is always False: the code that runs
    is always the Python code (recorded or eager), so the ``if not is_scripting():`` branches
    that torch users write for eager mode are the right ones here. Saved programs are data
    (an ``ember.save`` file: JSON ops by name and raw tensors), never pickle or Python code;
    loading builds the replay function only from names of known ember ops.

>>> net = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU())
>>> traced = ember.jit.trace(net, ember.randn(2, 3))
>>> traced(ember.randn(2, 3)).shape
ember.Size([2, 4])
"""
from __future__ import annotations

import typing
import warnings
from typing import Any, Callable

from ..autograd import grad_mode, no_grad
from ..nn.modules.module import Module
from ..tensor import Tensor
from . import _fuse, _tracer
from ._fuse import set_fusion_enabled  # noqa: F401  (public name)
from ._ir import FORMAT, FORMAT_VERSION, Graph, Node, Var, _enc
from ._tracer import TracerWarning, is_tracing  # noqa: F401  (public names)

__all__ = ["trace", "trace_module", "script", "save", "load", "freeze",
           "optimize_for_inference", "ScriptModule", "ScriptFunction", "TracerWarning",
           "is_tracing", "is_scripting", "ignore", "unused", "export", "annotate", "Final",
           "interface", "fork", "wait", "Future", "TracingCheckError", "set_fusion_enabled"]

_state = grad_mode.state
Final = typing.Final


class TracingCheckError(RuntimeError):
    """Raised by torch when a trace check fails; kept for code that catches it."""


def is_scripting() -> bool:
    """Always False: Ember runs the Python code itself (see the module docstring)."""
    return False


# ---- programs ---------------------------------------------------------------------------------

class _Program:
    """A graph and its compiled replay function, for one module (or none). ``graph`` is the
    recorded program (what ``save`` writes); ``run_graph`` the one that runs, with elementwise
    runs fused for the device (see ``_fuse``), or None when nothing fused."""

    __slots__ = ("graph", "fn", "signature", "run_graph")

    def __init__(self, graph: Graph, root: Module | None, signature: str | None = None):
        self.graph = graph
        self.signature = signature
        owners = {}
        for _, path in graph.attrs.values():
            owner = path.rpartition(".")[0]
            owners[owner] = root.get_submodule(owner) if owner else root
        self.run_graph = _fuse.fuse(graph) if _fuse.fusion_enabled() else None
        runs = graph if self.run_graph is None else self.run_graph
        self.fn = runs.compile(owners, _fuse.targets(_tracer.targets()))


def _optimize(g: Graph) -> Graph:
    g.eliminate_common_subexpressions()
    g.eliminate_dead_code()
    g.prune_values()
    return g


def _copy(g: Graph) -> Graph:
    c = Graph()
    c.inputs, c.attrs, c.consts = list(g.inputs), dict(g.attrs), dict(g.consts)
    c.nodes = [Node(n.target, n.args, n.kwargs, n.out, n.mutates, n.random, n.aliases,
                    n.no_grad) for n in g.nodes]
    c.output, c.meta, c.count = g.output, dict(g.meta), g.count
    return c


def _run_node(node: Node, values: dict):
    args, kwargs = _materialize((node.args, node.kwargs), values)
    with no_grad():
        return _tracer.targets()[node.target](*args, **kwargs)


def _materialize(tree, values):
    if type(tree) is Var:
        return values[tree.i]
    if isinstance(tree, (tuple, list)):
        return type(tree)(_materialize(x, values) for x in tree)
    if isinstance(tree, dict):
        return {k: _materialize(v, values) for k, v in tree.items()}
    if type(tree) is slice:
        return slice(*_materialize((tree.start, tree.stop, tree.step), values))
    return tree


def _frozen(g: Graph, root: Module, optimize_numerics: bool = True) -> Graph:
    """``g`` with parameters and buffers turned into constants (their current values) and what
    depends only on them folded (with ``optimize_numerics``, eval-mode batch norms into the
    convolutions before them too, which changes results by rounding only)."""
    g = _copy(g)
    for k, (kind, path) in g.attrs.items():
        t = root.get_parameter(path) if kind == "param" else root.get_buffer(path)
        g.consts[k] = t.detach().clone()
    g.attrs = {}
    g.fold_constants(_run_node)
    if optimize_numerics:
        g.fold_conv_batchnorm(_tracer.targets())
    return _optimize(g)


def _flat_inputs(args, kwargs) -> list:
    if not kwargs:
        for a in args:
            if type(a) is not Tensor:
                break
        else:
            return args
    leaves: list = []
    _tracer._input_leaves((args, kwargs), leaves)
    return leaves


def _describe(args, kwargs, training) -> str | None:
    """A JSON description of a call's input signature (for saved scripted programs), or None
    when an argument cannot be described."""
    import json

    def walk(x):
        if isinstance(x, Tensor):
            return ["T", list(x._data.shape), x._dtype.name]
        if type(x) in (tuple, list):
            return [type(x).__name__, [walk(y) for y in x]]
        if type(x) is dict:
            return ["dict", [[_enc(k), walk(v)] for k, v in x.items()]]
        return ["V", _enc(x)]
    try:
        return json.dumps([walk(args), walk(kwargs), training], separators=(",", ":"))
    except TypeError:
        return None


def _outputs_match(a, b, rtol) -> bool:
    la, lb = [], []
    _tracer._input_leaves(a, la)
    _tracer._input_leaves(b, lb)
    if len(la) != len(lb):
        return False
    from ..testing import assert_close
    for x, y in zip(la, lb):
        try:
            assert_close(x.detach(), y.detach(), rtol=rtol, atol=rtol, equal_nan=True)
        except AssertionError:
            return False
    return True


def _check_strict(result, strict: bool):
    if not strict:
        return

    def walk(x):
        if type(x) is list or type(x) is dict:
            kind = "list" if type(x) is list else "dict"
            raise RuntimeError(
                f"Encountering a {kind} at the output of the tracer might cause the trace to be "
                "incorrect, this is only valid if the container structure does not change based "
                "on the module's inputs. Consider using a constant container instead (e.g. for "
                "`list`, use a `tuple` instead. for `dict`, use a `NamedTuple` instead). If you "
                "absolutely need this and know the side effects, pass strict=False to trace() to "
                "allow this behavior.")
        if isinstance(x, tuple):
            for y in x:
                walk(y)
    walk(result)


# ---- modules and functions ---------------------------------------------------------------------

class ScriptModule(Module):
    """A module whose ``forward`` replays recorded programs (torch.jit.ScriptModule).

    Its parameters and buffers have the names of the traced module's, so ``state_dict()``,
    ``.to()``, ``.train()``/``.eval()`` and optimisers work as on the original.
    """

    def _share_state(self, original: Module) -> None:
        # NOTE: as torch.jit.trace, the parameters are the original's objects (one set of
        # weights); the dicts are shared so .to() on either is seen by both
        setattr_ = object.__setattr__
        for name in ("_parameters", "_buffers", "_modules", "_non_persistent_buffers_set"):
            setattr_(self, name, getattr(original, name))
        setattr_(self, "training", original.training)
        setattr_(self, "_original_name", type(original).__name__)

    @property
    def original_name(self) -> str:
        return self.__dict__.get("_original_name", type(self).__name__)

    def _get_name(self) -> str:
        return self.original_name

    @property
    def graph(self) -> str:
        """The recorded program as IR text (the last recorded one for a scripted module)."""
        return _GraphText(self._current().graph.render_graph())

    @property
    def inlined_graph(self) -> str:
        return self.graph

    @property
    def code(self) -> str:
        """The recorded program as Python-like code."""
        return self._current().graph.render_code()

    def graph_for(self, *args, **kwargs) -> str:
        """The program that runs for these inputs, as IR text with its fused steps (torch's
        ``graph_for``); calls the module once to choose (or record) it."""
        return _graph_for(self, args, kwargs)

    def _current(self) -> _Program:
        programs = self._programs()
        if not programs:
            raise RuntimeError(f"{self.original_name} has no recorded program yet: ember.jit."
                               "script records one per input signature when it is first "
                               "called")
        return programs[-1]

    def _programs(self) -> list:
        raise NotImplementedError

    def save(self, f, _extra_files=None) -> None:
        """Save the program(s) and tensors to ``f`` (see ``ember.jit.save``)."""
        save(self, f, _extra_files)


class _GraphText(str):
    """IR text that prints as itself (``print(traced.graph)``)."""

    def __repr__(self) -> str:
        return str(self)


class _TracedModule(ScriptModule):
    """A module traced once: ``forward`` replays its one program."""

    def __init__(self, original: Module | None, graph: Graph, signature: str | None = None):
        super().__init__()
        if original is not None:
            self._share_state(original)
        object.__setattr__(self, "_program", None)
        object.__setattr__(self, "_graph", graph)
        object.__setattr__(self, "_signature", signature)
        self._compile()

    def _compile(self) -> None:
        prog = _Program(self._graph, self, self._signature)
        object.__setattr__(self, "_program", prog)
        object.__setattr__(self, "_fn", prog.fn)
        object.__setattr__(self, "_n_inputs", len(self._graph.inputs))

    def _programs(self) -> list:
        return [self._program]

    def forward(self, *args, **kwargs):
        leaves = _flat_inputs(args, kwargs)
        if len(leaves) != self._n_inputs:
            raise TypeError(f"forward() of the traced {self.original_name} expects "
                            f"{self._n_inputs} tensor input(s), got {len(leaves)}")
        return self._fn(*leaves)


#: how many input signatures a scripted module or function records (torch.compile's
#: cache_size_limit); calls with further signatures run eagerly
CACHE_LIMIT = 8


class _Dispatch:
    """The per-signature programs of a scripted module or function."""

    EAGER = object()

    def __init__(self, eager: Callable, root: Module | None, attr_names: Callable):
        self.eager = eager
        self.root = root
        self.attr_names = attr_names
        self.cache: dict = {}
        self.programs: list[_Program] = []
        self.frozen_root: Module | None = None
        self.optimize_numerics = True
        self.modules = list(root.modules()) if root is not None else []

    def key(self, args, kwargs):
        parts = []
        first_position: dict = {}

        def walk(x):
            if isinstance(x, Tensor):
                # (which earlier argument is the same tensor: a program recorded with q is k
                # is v is wrong for three different tensors)
                same = first_position.setdefault(id(x), len(first_position))
                parts.append((x._data.shape, x._dtype, x._device, x._requires_grad, same))
            elif type(x) is tuple or type(x) is list:
                parts.append((type(x), len(x)))
                for y in x:
                    walk(y)
            elif type(x) is dict:
                parts.append((dict, tuple(x)))
                for y in x.values():
                    walk(y)
            else:
                parts.append((type(x), x))
        walk(args)
        walk(kwargs)
        key = (tuple(parts), _state.enabled, tuple([m.training for m in self.modules]))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def __call__(self, args, kwargs):
        if _tracer.is_tracing():  # inside an outer trace: let it record the ops
            return self.eager(*args, **kwargs)
        key = self.key(args, kwargs)
        entry = self.cache.get(key, None) if key is not None else self.EAGER
        if entry is None and len(self.cache) >= CACHE_LIMIT:
            entry = self.EAGER  # (arguments that change every call: recording would not pay)
        if entry is None:
            # NOTE: a program per input signature sees only the recorded shapes, so its shape
            # reads (and the checks on them) are constants, never a reason to run eagerly
            result, g, problems, _ = _tracer.record(self.eager, args, kwargs,
                                                    self.attr_names(), dynamic_shapes=False)
            if problems:
                self.cache[key] = self.EAGER
                return result
            g = _optimize(g)
            if self.frozen_root is not None:
                g = _frozen(g, self.frozen_root, self.optimize_numerics)
            training = self.root.training if self.root is not None else None
            prog = _Program(g, self.root, _describe(args, kwargs, training))
            self.cache[key] = prog
            self.programs.append(prog)
            return result
        if entry is self.EAGER:
            return self.eager(*args, **kwargs)
        return entry.fn(*_flat_inputs(args, kwargs))


class _ScriptedModule(ScriptModule):
    """``script(module)``: replays a program per input signature, or runs eagerly where the
    code is data-dependent."""

    def __init__(self, original: Module):
        super().__init__()
        self._share_state(original)
        object.__setattr__(self, "_original", original)
        object.__setattr__(self, "_dispatch", _Dispatch(self._run_eager, self,
                                                        lambda: _attr_names(self)))

    def _run_eager(self, *args, **kwargs):
        original = self._original
        original.training = self.training
        return original(*args, **kwargs)

    def _programs(self) -> list:
        return self._dispatch.programs

    def forward(self, *args, **kwargs):
        return self._dispatch(args, kwargs)

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self._dispatch.cache.clear()  # dtypes and devices baked into the programs changed
        self._dispatch.programs.clear()
        return result

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            original = self.__dict__.get("_original")
            if original is None:
                raise
            return getattr(original, name)


class ScriptFunction:
    """A function whose calls replay recorded programs (torch.jit.ScriptFunction)."""

    def __init__(self, name: str, programs: list, dispatch: _Dispatch | None = None):
        self.__name__ = self.name = self.qualified_name = name
        self._program_list = programs
        self._dispatch = dispatch
        if dispatch is None and len(programs) == 1:
            self._fn = programs[0].fn
            self._n_inputs = len(programs[0].graph.inputs)

    def __call__(self, *args, **kwargs):
        if self._dispatch is not None:
            return self._dispatch(args, kwargs)
        if len(self._program_list) != 1:
            return _select(self._program_list, args, kwargs, None, self.name)
        leaves = _flat_inputs(args, kwargs)
        if len(leaves) != self._n_inputs:
            raise TypeError(f"the traced function {self.name} expects {self._n_inputs} tensor "
                            f"input(s), got {len(leaves)}")
        return self._fn(*leaves)

    def _programs(self) -> list:
        return self._dispatch.programs if self._dispatch is not None else self._program_list

    _current = ScriptModule._current
    original_name = property(lambda self: self.name)

    @property
    def graph(self) -> str:
        return _GraphText(self._current().graph.render_graph())

    @property
    def code(self) -> str:
        return self._current().graph.render_code()

    graph_for = ScriptModule.graph_for

    def save(self, f, _extra_files=None) -> None:
        save(self, f, _extra_files)

    def __repr__(self) -> str:
        return f"<ember.jit.ScriptFunction {self.name}>"


def _graph_for(obj, args, kwargs) -> str:
    obj(*args, **kwargs)
    dispatch = obj.__dict__.get("_dispatch")
    if dispatch is None:
        prog = obj._current()
    else:
        key = dispatch.key(args, kwargs)
        prog = dispatch.cache.get(key) if key is not None else None
        if not isinstance(prog, _Program):
            return _GraphText(f"(no program: {obj.original_name} runs these inputs eagerly)")
    g = prog.graph if prog.run_graph is None else prog.run_graph
    return _GraphText(g.render_graph())


def _select(programs, args, kwargs, training, name):
    sig = _describe(args, kwargs, training)
    for p in programs:
        if p.signature == sig:
            return p.fn(*_flat_inputs(args, kwargs))
    raise RuntimeError(f"ember.jit: {name} was saved with programs for other input signatures "
                       f"than {sig} (saved: {[p.signature for p in programs]}); a loaded "
                       "script has no Python code to record a new one")


class _LoadedModule(ScriptModule):
    """A module read by ``ember.jit.load``: parameters and buffers under their saved names,
    without the original class."""

    def __init__(self, name, state, param_names, buffer_names, training, class_names=None):
        super().__init__()
        object.__setattr__(self, "_original_name", name)
        for names, register in ((param_names, "register_parameter"),
                                (buffer_names, "register_buffer")):
            for full in names:
                owner_path, _, leaf = full.rpartition(".")
                getattr(_submodule(self, owner_path), register)(leaf, state[full])
        for path, flag in training.items():
            _submodule(self, path).training = bool(flag)
        for path, kind in (class_names or {}).items():
            if path:
                object.__setattr__(_submodule(self, path), "_original_name", str(kind))
        object.__setattr__(self, "_program_list", [])

    def _programs(self) -> list:
        return self._program_list

    def forward(self, *args, **kwargs):
        programs = self._program_list
        if len(programs) == 1:
            return programs[0].fn(*_flat_inputs(args, kwargs))
        return _select(programs, args, kwargs, self.training, self.original_name)


class _LoadedChild(Module):
    """A submodule of a loaded program: a holder of parameters and buffers (its code was not
    saved; the program of the top module reads its tensors)."""

    def _get_name(self) -> str:
        return self.__dict__.get("_original_name", "Module")

    def forward(self, *args, **kwargs):
        raise RuntimeError(f"{self._get_name()} was loaded by ember.jit.load as part of a "
                           "program: only the top module can be called")


def _submodule(root: Module, path: str) -> Module:
    mod = root
    if path:
        for part in path.split("."):
            child = mod._modules.get(part)
            if child is None:
                child = _LoadedChild()
                mod.add_module(part, child)
            mod = child
    return mod


def _attr_names(mod: Module) -> dict:
    names = {}
    for n, p in mod.named_parameters():
        names.setdefault(id(p), ("param", n))
    for n, b in mod.named_buffers():
        names.setdefault(id(b), ("buffer", n))
    return names


# ---- trace ---------------------------------------------------------------------------------

def _canonical(g: Graph) -> list:
    """The program's structure, independent of value numbering and of the tensor shapes
    seen: one entry per node (op, arguments with values numbered by first use, flags)."""
    numbers: dict = {}

    def walk(x):
        if type(x) is Var:
            if x.i in g.consts:
                return "constant tensor"
            return ("%", numbers.setdefault(x.i, len(numbers)))
        if isinstance(x, (tuple, list)):
            return (type(x).__name__, tuple(walk(y) for y in x))
        if isinstance(x, dict):
            return ("dict", tuple((k, walk(v)) for k, v in x.items()))
        if type(x) is slice:
            return ("slice", walk((x.start, x.stop, x.step)))
        return repr(x)
    for v in g.inputs:
        walk(v)
    for k in sorted(g.attrs):
        numbers.setdefault(k, ("attr", g.attrs[k]))
    out = [(n.target, walk(n.args), walk(n.kwargs), walk(n.out), n.mutates, n.no_grad)
           for n in g.nodes]
    out.append(("return", walk(g.output)))
    return out


def _first_difference(a: Graph, b: Graph) -> str | None:
    ca, cb = _canonical(a), _canonical(b)
    for x, y in zip(ca, cb):
        if x != y:
            return f"{x[0]} (traced) vs {y[0]} (check input)" if x[0] != y[0] else \
                f"{x[0]} with other arguments"
    if len(ca) != len(cb):
        return f"{len(ca) - 1} ops (traced) vs {len(cb) - 1} ops (check input)"
    return None


def _as_tuple(example_inputs):
    if example_inputs is None:
        return ()
    if isinstance(example_inputs, tuple):
        return example_inputs
    return (example_inputs,)


def trace(func, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
          _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs: dict | None = None, _store_inputs: bool = True):
    """Run ``func`` (a Module or a function) once on ``example_inputs`` and return a
    ``ScriptModule`` / ``ScriptFunction`` that replays the recorded ops (torch.jit.trace).

    >>> lin = ember.nn.Linear(3, 2)
    >>> traced = ember.jit.trace(lin, ember.randn(4, 3))
    >>> bool((traced(ember.ones(4, 3)) == lin(ember.ones(4, 3))).all())
    True
    """
    if isinstance(func, (ScriptModule, ScriptFunction)):
        warnings.warn("The input to trace is already a ScriptModule, tracing it is a no-op. "
                      "Returning the object as is.", stacklevel=2)
        return func
    if isinstance(func, Module):
        return trace_module(func, {"forward": example_inputs}, check_trace=check_trace,
                            check_inputs=[{"forward": c} for c in check_inputs or ()] or None,
                            check_tolerance=check_tolerance, strict=strict,
                            example_inputs_is_kwarg=example_kwarg_inputs is not None,
                            _kwargs=example_kwarg_inputs)
    if getattr(func, "__self__", None) is not None and isinstance(func.__self__, Module) \
            and getattr(func, "__name__", "") == "forward":
        return trace(func.__self__, example_inputs, check_trace=check_trace,
                     check_inputs=check_inputs, check_tolerance=check_tolerance, strict=strict,
                     example_kwarg_inputs=example_kwarg_inputs)
    if not callable(func):
        raise TypeError(f"trace expects a Module or a function, got {type(func).__name__}")
    args, kwargs = _as_tuple(example_inputs), dict(example_kwarg_inputs or {})
    result, g, problems, leaves = _tracer.record(func, args, kwargs, {})
    _tracer.warn_problems(problems + _repeated_inputs(leaves))
    _check_strict(result, strict)
    prog = _Program(_optimize(g), None)
    name = getattr(func, "__name__", type(func).__name__)
    traced = ScriptFunction(name, [prog])
    if check_trace:
        _check(traced, func, args, kwargs, result, check_inputs, check_tolerance, g, {})
    return traced


def trace_module(mod: Module, inputs: dict, optimize=None, check_trace: bool = True,
                 check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
                 _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg: bool = False, _store_inputs: bool = True,
                 _kwargs=None):
    """Trace the methods of ``mod`` named in ``inputs`` (method name -> example inputs); the
    result's ``forward`` (and each other traced method) replays its recorded program."""
    if not isinstance(mod, Module):
        raise AttributeError("expected torch.nn.Module as the first argument")
    if not isinstance(inputs, dict):
        raise AttributeError("expected a dictionary of (method_name, input) pairs")
    traced = None
    methods = {}
    for method, example in inputs.items():
        if example_inputs_is_kwarg and method == "forward":
            args, kwargs = (), dict(_kwargs or example or {})
        else:
            args, kwargs = _as_tuple(example), {}
        fn = mod if method == "forward" else getattr(mod, method)
        result, g, problems, leaves = _tracer.record(fn, args, kwargs, _attr_names(mod))
        _tracer.warn_problems(problems + _repeated_inputs(leaves), stacklevel=4)
        _check_strict(result, strict)
        g = _optimize(g)
        if method == "forward":
            traced = _TracedModule(mod, g)
            methods[method] = (traced, fn, args, kwargs, result, g)
        else:
            methods[method] = (g, fn, args, kwargs, result)
    if traced is None:
        raise RuntimeError("trace_module: the inputs must include 'forward'")
    for method, entry in methods.items():
        if method != "forward":
            g, fn, args, kwargs, result = entry
            prog = _Program(g, traced)
            object.__setattr__(traced, method, ScriptFunction(method, [prog]))
    if check_trace:
        _, fn, args, kwargs, result, g = methods["forward"]
        checks = [c["forward"] if isinstance(c, dict) else c for c in check_inputs or ()]
        _check(traced, fn, args, kwargs, result, checks, check_tolerance, g,
               _attr_names(mod))
    return traced


def _repeated_inputs(leaves) -> list:
    if len({id(t) for t in leaves}) == len(leaves):
        return []
    return ["The same tensor was passed as several example inputs: the trace uses it at its "
            "first position, so it is only right for calls that pass one tensor at those "
            "positions again (trace with distinct tensors otherwise)"]


def _check(traced, eager, args, kwargs, result, check_inputs, tol, g: Graph, attr_names):
    """torch's check_trace: trace again on each of ``check_inputs`` (a different program
    raises ``TracingCheckError``, as torch's "Graphs differed across invocations"), replay on
    the example and the check inputs and compare with eager mode (a difference warns).
    Programs that draw random numbers or write in place are not re-run."""
    if g.has_random():
        warnings.warn("Trace had nondeterministic nodes (random ops); the trace is not "
                      "checked. Did you forget to call .eval() on your model?", TracerWarning,
                      stacklevel=4)
        return
    if g.has_mutation():
        return
    for ci in check_inputs or ():
        with no_grad():
            other = _optimize(_tracer.record(eager, _as_tuple(ci), {}, attr_names)[1])
        diff = _first_difference(g, other)
        if diff is not None:
            raise TracingCheckError(
                "Tracing failed sanity checks!\nERROR: Graphs differed across invocations!\n"
                f"\tFirst diverging operator: {diff}\n(the traced code takes another path, "
                "or bakes other Python values, for these check_inputs: data-dependent control "
                "flow?)")
    with no_grad():
        pairs = [(traced(*args, **kwargs), result)]
        for ci in check_inputs or ():
            ci = _as_tuple(ci)
            pairs.append((traced(*ci), eager(*ci)))
    for i, (got, want) in enumerate(pairs):
        if not _outputs_match(got, want, tol):
            warnings.warn(f"Output nr {i + 1}. of the traced function does not match the "
                          "corresponding output of the Python function: the trace might not "
                          "generalize to other inputs (data-dependent control flow?)",
                          TracerWarning, stacklevel=4)


# ---- script ----------------------------------------------------------------------------------

def script(obj, optimize=None, _frames_up: int = 0, _rcb=None, example_inputs=None):
    """A scripted module or function: the same results as eager mode for every input, with a
    recorded program per input signature where the code is traceable (see the module
    docstring).

    >>> def f(x):
    ...     return x * 2 if bool(x.sum() > 0) else -x
    >>> g = ember.jit.script(f)
    >>> g(ember.ones(2)).tolist(), g(-ember.ones(2)).tolist()
    ([2.0, 2.0], [1.0, 1.0])
    """
    if isinstance(obj, (ScriptModule, ScriptFunction)):
        return obj
    if isinstance(obj, Module):
        return _ScriptedModule(obj)
    if isinstance(obj, type):
        return obj  # classes run as Python (Ember does not compile them)
    if callable(obj):
        return ScriptFunction(getattr(obj, "__name__", type(obj).__name__), [],
                              _Dispatch(obj, None, dict))
    raise RuntimeError(f"ember.jit.script: cannot script an object of type "
                       f"{type(obj).__name__}")


# ---- freeze ----------------------------------------------------------------------------------

def freeze(mod, preserved_attrs=None, optimize_numerics: bool = True):
    """A copy of a traced or scripted module in eval mode whose parameters and buffers are
    constants of the program, with what depends only on them computed once (constant folding;
    with ``optimize_numerics``, eval-mode batch norms folded into the convolutions before
    them), then common subexpressions and dead code removed."""
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("Freezing expects a ScriptModule as input. Please use "
                           "torch.jit.script or torch.jit.trace to script your 'nn.Module'.")
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")
    if isinstance(mod, _ScriptedModule):
        frozen = _ScriptedModule(mod._original)
        frozen.training = False
        frozen._dispatch.frozen_root = mod
        frozen._dispatch.optimize_numerics = optimize_numerics
        return frozen
    programs = mod._programs()
    graphs = [_frozen(p.graph, mod, optimize_numerics) for p in programs]
    frozen = _LoadedModule(mod.original_name, {}, [], [], {})
    frozen.training = False
    frozen._program_list.extend(_Program(g, frozen, p.signature)
                                for g, p in zip(graphs, programs))
    object.__setattr__(frozen, "_is_frozen", True)
    return frozen


def optimize_for_inference(mod, other_methods=None):
    """Freeze ``mod`` (in eval mode) if it is not frozen yet, and optimise its program."""
    if not isinstance(mod, ScriptModule):
        raise RuntimeError("optimize_for_inference expects a ScriptModule; use "
                           "ember.jit.script or ember.jit.trace first")
    if mod.__dict__.get("_is_frozen"):
        return mod
    return freeze(mod.eval())


# ---- save / load ------------------------------------------------------------------------------

def save(m, f, _extra_files=None) -> None:
    """Save a traced or scripted module or function: its program(s) as data and its tensors,
    in Ember's own checkpoint format (no pickle, no code)."""
    from ..serialization import save as _save
    if not isinstance(m, (ScriptModule, ScriptFunction)):
        raise TypeError(f"ember.jit.save expects a ScriptModule or ScriptFunction (from "
                        f"ember.jit.trace or ember.jit.script), got {type(m).__name__}")
    programs = m._programs()
    if not programs:
        raise RuntimeError(f"ember.jit.save: {m.original_name} has no recorded program yet "
                           "(call it once, or use ember.jit.trace)")
    entries = []
    for p in programs:
        text, consts = p.graph.encode()
        entries.append({"signature": p.signature, "program": text, "consts": consts})
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "name": m.original_name,
           "programs": entries}
    if isinstance(m, ScriptModule):
        doc["kind"] = "module"
        doc["params"] = dict(m.named_parameters())
        doc["buffers"] = dict(m.named_buffers())
        doc["training"] = {n: mod.training for n, mod in m.named_modules()}
        doc["modules"] = {n: mod._get_name() for n, mod in m.named_modules()}
    else:
        doc["kind"] = "function"
    if _extra_files:
        doc["extra_files"] = {str(k): str(v) for k, v in _extra_files.items()}
    _save(doc, f)


def load(f, map_location=None, _extra_files=None):
    """Load a module or function written by ``ember.jit.save``; ``map_location`` moves its
    tensors (and the devices its program names) as ``ember.load`` does. No code from the file
    runs: the program's ops are looked up by name among ember's public ops."""
    from ..serialization import load as _load
    name = getattr(f, "name", f)
    doc = _load(f, map_location=map_location)
    try:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError("it is not an ember.jit file (use ember.load for checkpoints)")
        if doc.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported ember.jit format version {doc.get('version')!r}")
        device_map = _device_map(map_location)
        targets = _tracer.targets()
        graphs = [(Graph.decode(e["program"], list(e["consts"]), targets, device_map),
                   e.get("signature")) for e in doc["programs"]]
        if doc["kind"] == "module":
            params, buffers = doc["params"], doc["buffers"]
            state = {**params, **buffers}
            m = _LoadedModule(str(doc["name"]), state, list(params), list(buffers),
                              doc.get("training", {}), doc.get("modules"))
            m._program_list.extend(_Program(g, m, sig) for g, sig in graphs)
        elif doc["kind"] == "function":
            m = ScriptFunction(str(doc["name"]), [_Program(g, None, sig) for g, sig in graphs])
        else:
            raise ValueError(f"unknown kind {doc['kind']!r}")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError,
            RuntimeError) as e:
        raise RuntimeError(f"ember.jit.load: {name!r}: the file is not a valid ember.jit "
                           f"program: {e}") from None
    if _extra_files is not None:
        _extra_files.update(doc.get("extra_files", {}))
    return m


def _device_map(map_location):
    from ..device import device
    if map_location is None or callable(map_location) and not isinstance(
            map_location, (str, dict, device)):
        return None
    if isinstance(map_location, (str, device)):
        return lambda saved: str(map_location)
    if isinstance(map_location, dict):
        return lambda saved: str(map_location.get(saved, saved))
    return None


# ---- the small API -----------------------------------------------------------------------------

def ignore(drop=False, **kwargs):
    """Accepted for torch compatibility: Ember runs Python, so an ignored function is simply
    called (and recorded through the ops it runs, like any code)."""
    if callable(drop):
        drop._ember_jit_ignore = True
        return drop

    def mark(fn):
        fn._ember_jit_ignore = True
        return fn
    return mark


def unused(fn):
    """Accepted for torch compatibility: the function stays callable Python."""
    fn._ember_jit_unused = True
    return fn


def export(fn):
    """Mark a method as exported (torch.jit.export): a scripted module exposes every method of
    the original module, exported or not."""
    fn._ember_jit_export = True
    return fn


def annotate(the_type, the_value):
    """Return ``the_value`` (types are only hints in Ember)."""
    return the_value


def interface(obj):
    """Accepted for torch compatibility: returns the class unchanged."""
    return obj


class Future:
    """The result of ``fork``: ``wait()`` returns it (torch.jit.Future)."""

    def __init__(self, value: Any = None, error: BaseException | None = None):
        self._value, self._error = value, error

    def wait(self):
        if self._error is not None:
            raise self._error
        return self._value

    value = wait

    def done(self) -> bool:
        return True


def fork(func, *args, **kwargs) -> Future:
    """Run ``func(*args, **kwargs)`` and return a Future of its result (Ember runs it at once,
    as torch does outside TorchScript)."""
    return Future(func(*args, **kwargs))


def wait(future: Future):
    """The value of a Future returned by ``fork``."""
    return future.wait()
