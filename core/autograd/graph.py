"""The tape: graph nodes recorded as ops run, and the engine that walks them backward.

A Node is created per differentiable op call. It holds edges to the nodes of its inputs
(``next_functions``), what the op's backward rule needs (saved tensors, with the version they had
when saved), and the input shapes/dtypes so gradients are summed back over broadcast dims and
cast to the input's dtype. Backward rules are written in ember ops, so running them with grad
enabled (``create_graph=True``) records a graph of the backward itself.
"""
from __future__ import annotations

import itertools
import sys
import threading
from heapq import heappop, heappush
import weakref

from . import anomaly, grad_mode

Tensor = None  # set by core/tensor.py once the class exists (tensor.py imports this module)


class SavedTensor:
    """A tensor kept for backward, with the version it had when saved; under
    ``saved_tensors_hooks``, what the pack hook made of it instead."""

    __slots__ = ("tensor", "version", "is_output", "data", "dtype", "device", "vc",
                 "output_nr_hint", "unpack_hook")  # (output_nr_hint: autograd.Function only)

    def __init__(self, t, is_output=False):
        self.version = t._vc[0]
        self.is_output = is_output
        if _hook_stack and _hook_stack[-1][0] == threading.get_ident():
            self._pack(t, _hook_stack[-1])
        elif is_output:
            # NOTE: an output saved by its own node would form a cycle (out -> node -> out); keep
            # its buffer and rebuild the tensor on unpack, as torch does.
            self.tensor = None
            self.data, self.dtype, self.device, self.vc = t._data, t._dtype, t._device, t._vc
        else:
            self.tensor = t

    def _pack(self, t, hooks):
        _, pack, unpack = hooks
        self.data = pack(t)  # (for a hook, the packed object)
        self.unpack_hook = unpack
        self.tensor = None
        # (a version the counter never has: the fast paths that read .data take unpack())
        self.vc, self.version = _PACKED_VC, -1

    def unpack(self, node, output_nr=0):
        if self.tensor is None and self.vc is _PACKED_VC:
            return self._unpack_hooked(node, output_nr)
        vc = self.vc if self.is_output else self.tensor._vc
        if vc[0] != self.version:
            t = self.tensor
            desc = (f"[{node.name()} output {output_nr}]" if self.is_output else
                    f"[ember.{(t._dtype.name)} {list(t.shape)}]")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {desc}, is at version {vc[0]}; expected version "
                f"{self.version} instead. Hint: the backtrace further above shows the operation "
                "that failed to compute its gradient. The variable in question was changed in "
                "there or anywhere later. Good luck!")
        if not self.is_output:
            return self.tensor
        t = Tensor._wrap(self.data, self.dtype, self.device)
        t._vc = self.vc
        t._requires_grad = True
        t._grad_fn, t._output_nr = node, output_nr
        return t

    def _unpack_hooked(self, node, output_nr):
        t = self.unpack_hook(self.data)
        if not isinstance(t, Tensor):
            raise TypeError(f"Output of saved tensor unpack_hook expected to be a Tensor but got "
                            f"result of type {type(t).__name__}")
        if not self.is_output:
            return t
        # an output of this node: its gradient path leads back here, as the original's did
        out = Tensor._wrap(t._data, t._dtype, t._device)
        out._vc = t._vc
        out._requires_grad = True
        out._grad_fn, out._output_nr = node, output_nr
        return out


# The saved_tensors_hooks in force: (thread id, pack, unpack), innermost last. A plain list, so
# the hot path (saving a tensor) pays one truth test when no hooks are registered anywhere.
_hook_stack: list = []
_PACKED_VC = [-2]


class saved_tensors_hooks:
    """Context manager: every tensor saved for backward inside it (by any op, or a custom
    Function's save_for_backward) goes through ``pack_hook(tensor) -> object``, and
    ``unpack_hook(object) -> tensor`` gives it back when backward reads it. As torch's, the hooks
    apply to the thread that entered the context only."""

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _disabled:
            raise RuntimeError(_disabled[-1])
        self._entry = (threading.get_ident(), self.pack_hook, self.unpack_hook)
        _hook_stack.append(self._entry)
        return self

    def __exit__(self, *exc):
        # (removed by identity: contexts of other threads may have been entered since)
        for i in range(len(_hook_stack) - 1, -1, -1):
            if _hook_stack[i] is self._entry:
                del _hook_stack[i]
                break
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are kept on the cpu (copied back to their device when backward reads
    them): trades transfers for accelerator memory."""

    def __init__(self, pin_memory=False, device_type=None):
        def pack(t):
            return t.device, t.detach().to("cpu")

        def unpack(packed):
            device, t = packed
            return t.to(device)
        super().__init__(pack, unpack)


class disable_saved_tensors_hooks:
    """Context manager: entering saved_tensors_hooks inside it raises ``error_message``."""

    def __init__(self, error_message):
        self.error_message = error_message

    def __enter__(self):
        _disabled.append(self.error_message)
        return self

    def __exit__(self, *exc):
        _disabled.remove(self.error_message)
        return False


_disabled: list = []


_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors "
          "after they have already been freed). Saved intermediate values of the graph are freed "
          "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
          "backward through the graph a second time or if you need to access saved tensors after "
          "calling backward.")


_grad_state = grad_mode.state


def _read(s, node):
    """The tensor saved in ``s`` (an input), checked for in-place changes since."""
    t = s.tensor
    return t if t is not None and t._vc[0] == s.version else s.unpack(node)


class _NodeHooks:
    """A node's hooks, kept apart so a node without hooks costs the engine one check."""

    __slots__ = ("tensor", "retain", "pre", "post")

    def __init__(self):
        self.tensor = {}   # output_nr -> [fn(grad)], the tensors' register_hook
        self.retain = {}   # output_nr -> fn(grad), the tensors' retain_grad
        self.pre = []      # fn(grad_outputs), Node.register_prehook
        self.post = []     # fn(grad_inputs, grad_outputs), Node.register_hook

    def before(self, grads):
        for nr, hooks in self.tensor.items():
            if grads[nr] is not None:
                grads[nr] = _apply_tensor_hooks(hooks, grads[nr])
        # NOTE: as torch's, retain_grad sees the gradient after every tensor hook, whatever
        # the order they were registered in
        for nr, keep in self.retain.items():
            if grads[nr] is not None:
                keep(grads[nr])
        for h in self.pre:
            r = h(tuple(grads))
            if r is not None:
                grads = list(r)
        return grads

    def after(self, in_grads, grads):
        for h in self.post:
            r = h(in_grads, tuple(grads))
            if r is not None:
                in_grads = tuple(r)
        return in_grads


#: Creation order of nodes, counting down: a node's inputs' nodes exist before it, so a newer
#: node (smaller number) never feeds an older one, and the engine runs nodes in this order.
next_order = itertools.count(0, -1).__next__


class Node:
    """A recorded op: ``grad_fn`` of the tensors it produced."""

    __slots__ = ("next_functions", "_saved", "_ctx", "_meta", "_out_meta", "_hooks",
                 "_metadata", "_order", "__weakref__")
    _backward = None     # the op's backward rule: (ctx, *grads) -> grads per input
    _n_outputs = 1

    def __init__(self, next_functions, saved, ctx, meta, out_meta=None):
        self._order = next_order()  # (the engine runs newer nodes first)
        self.next_functions = next_functions
        self._saved = saved      # (saved inputs or None, saved outputs or None)
        self._ctx = ctx          # the op's non-tensor parameters (a dict)
        self._meta = meta        # (shape, dtype) of each input; None: all the output's
        self._out_meta = out_meta
        self._hooks = self._metadata = None

    @property
    def metadata(self) -> dict:
        """A dict for the user's annotations (torch's Node.metadata)."""
        if self._metadata is None:
            self._metadata = {}
        return self._metadata

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"

    @property
    def saved_tensors(self):
        ins, outs = self.unpack_saved()
        return tuple(t for t in (ins or ()) + (outs or ()) if hasattr(t, "_data"))

    def unpack_saved(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_FREED)
        ins, outs = saved
        if ins is not None:
            ins = tuple(s.unpack(self) if type(s) is SavedTensor else s for s in ins)
        if outs is not None:
            outs = tuple(s.unpack(self, i) if s is not None else None
                         for i, s in enumerate(outs))
        return ins, outs

    def _hook_lists(self) -> _NodeHooks:
        if self._hooks is None:
            self._hooks = _NodeHooks()
        return self._hooks

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) after this node ran; may return new grad_inputs."""
        hooks = self._hook_lists().post
        hooks.append(fn)
        return _Handle(hooks, fn)

    def register_prehook(self, fn):
        """fn(grad_outputs) before this node runs; may return new grad_outputs."""
        hooks = self._hook_lists().pre
        hooks.append(fn)
        return _Handle(hooks, fn)

    def _set_retain_hook(self, output_nr, fn):
        self._hook_lists().retain[output_nr] = fn

    def _add_tensor_hook(self, output_nr, fn):
        hooks = self._hook_lists().tensor.setdefault(output_nr, [])
        hooks.append(fn)
        return _Handle(hooks, fn)

    def apply(self, grads):
        """Gradients for each input, given the gradients of each output. The node itself is the
        rule's context: ``ctx.inputs``, ``ctx.out``/``outs``, ``ctx.params``,
        ``ctx.needs_input_grad``."""
        return type(self)._backward(self, *grads)

    # ---- what a backward rule reads ----
    @property
    def params(self):
        return self._ctx

    @property
    def inputs(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_FREED)
        ins = saved[0]
        if len(ins) == 2:  # (the common case inline: inputs not modified since, or scalars)
            a, b = ins
            a = _read(a, self) if type(a) is SavedTensor else a
            b = _read(b, self) if type(b) is SavedTensor else b
            return a, b
        return tuple([_read(s, self) if type(s) is SavedTensor else s for s in ins])

    @property
    def out(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_FREED)
        s = saved[1][0]
        if not _grad_state.enabled and s.vc[0] == s.version:
            # (the common case: a rule run without create_graph reads the values only)
            return Tensor._wrap(s.data, s.dtype, s.device)
        return s.unpack(self, 0)

    @property
    def outs(self):
        saved = self._saved
        if saved is None:
            raise RuntimeError(_FREED)
        return tuple(s.unpack(self, i) if s is not None else None
                     for i, s in enumerate(saved[1]))

    @property
    def needs_input_grad(self):
        nexts = self.next_functions
        if len(nexts) == 2:  # (a comprehension costs a call before Python 3.12)
            return nexts[0] is not None, nexts[1] is not None
        return tuple([e is not None for e in nexts])

    def release(self):
        self._saved = None


class AccumulateGrad(Node):
    """The sink for a leaf tensor: adds the incoming gradient into ``leaf.grad``."""

    __slots__ = ("_variable", "_post_hooks")

    def __init__(self, leaf):
        super().__init__((), None, None, ())
        self._saved = None
        self._variable = weakref.ref(leaf)
        self._post_hooks = None

    @property
    def variable(self):
        return self._variable()

    def accumulate(self, g, create_graph, owned=False):
        """Add ``g`` into the leaf's .grad. ``owned``: nothing but the engine refers to ``g``,
        so the first gradient is stored as it is instead of copied (torch's rule, by refcount)."""
        t = self._variable()
        if t is None:
            return
        if g._requires_grad and not create_graph:
            g = g.detach()
        if g._data.shape != t._data.shape:
            g = _sum_to(g, t._data.shape)
            owned = True
        if g._dtype is not t._dtype:
            g = g.to(t._dtype) if not g._dtype.is_complex else _complex_grad_to(g, t._dtype)
            owned = True
        prev = t._grad
        if prev is None:
            # NOTE: broadcast gradients (0-strides) are read-only and overlapping views, a shared
            # gradient (one tensor sent to two leaves, or the caller's) would alias the leaves'
            # .grad; optimizers and clip_grad_norm_ update .grad in place: those are copied.
            t._grad = g if (owned and not create_graph and not g._may_overlap()) else g.clone()
        elif create_graph or prev._requires_grad or prev._may_overlap():
            # (the engine runs with grad mode set to create_graph already)
            t._grad = prev + g
        elif (g.__class__ is not Tensor and g.is_sparse) or (
                prev.__class__ is not Tensor and prev.is_sparse):
            # a sparse gradient (ember.sparse): summed out of place; a dense one comes first,
            # as torch's sparse + dense is refused and dense + sparse is dense
            t._grad = g + prev if prev.is_sparse and not g.is_sparse else prev + g
        else:
            # in place, as torch: references to .grad see the sum (shapes, dtypes and devices
            # agree here, so the in-place kernel is called directly when the backend has one)
            add_ = prev._device._backend.kernels.get("add_")
            if add_ is None or g._device is not prev._device:
                prev.add_(g)
            else:
                add_(prev._data, g._data)
                prev._vc[0] += 1
        if self._post_hooks:
            for h in self._post_hooks:
                h(t)


def keep_saved_before_overwrite(node, target):
    """The op that computed an in-place op's result (``node``) may have saved ``target``, or a
    view of its storage, for its backward; the write into ``target`` is about to change those
    values, so the node keeps a copy instead (torch saves the original self the same way). The
    copy is a recorded clone: under create_graph its graph is the original's."""
    saved = node._saved
    if not saved or not saved[0]:
        return
    vc = target._vc

    def stale(s):
        return type(s) is SavedTensor and s.tensor is not None and s.tensor._vc is vc
    ins = saved[0]
    if any([stale(s) for s in ins]):
        node._saved = (tuple([SavedTensor(s.tensor.clone()) if stale(s) else s for s in ins]),
                       saved[1])


def _refs_of_exclusive():
    """sys.getrefcount of an object held only by one local of its caller (the engine's
    ``grads``): the baseline that tells a gradient only the engine refers to."""
    grads = object()
    return sys.getrefcount(grads)


_EXCLUSIVE_REFS = _refs_of_exclusive()


def _refs_of_pending():
    """sys.getrefcount of a gradient held by the engine's pending dict and one local (``prev``):
    the baseline that tells a partial sum nobody else refers to."""
    pending = {None: object()}
    prev = pending.get(None)
    return sys.getrefcount(prev)


_PENDING_REFS = _refs_of_pending()


class _Handle:
    """Returned by register_hook; ``remove()`` takes the hook out."""

    def __init__(self, hooks, fn):
        self._hooks, self._fn = hooks, fn

    def remove(self):
        try:
            self._hooks.remove(self._fn)
        except ValueError:
            pass


def _apply_tensor_hooks(hooks, g):
    for h in hooks:
        r = h(g)
        if r is not None:
            g = r
    return g


def _complex_grad_to(g, dtype):
    # NOTE: a real input of a complex op keeps the real part of its gradient, silently (torch)
    from ..ops.complex import real_to_complex_grad
    return real_to_complex_grad(g, dtype)


def run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=None,
                 allow_unused=False, accumulate=True):
    """Walk the graph from ``outputs``; accumulate into leaves' .grad (``accumulate``) or return
    the gradients of ``inputs``."""
    roots = []
    for t, g in zip(outputs, grad_outputs):
        edge = t._grad_edge()
        if edge is None:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        roots.append((edge, g))

    capture = {}
    if inputs is not None:
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs[{i}] must be a Tensor, got {type(t).__name__}")
            edge = t._grad_edge()
            if edge is None:
                if not t.requires_grad:
                    raise RuntimeError("One of the differentiated Tensors does not require grad")
                continue
            capture.setdefault(edge, []).append(i)

    # The gradients each reached node has received so far (a Tensor for a single-output node,
    # else a list with one entry per output), and the reached nodes still to run in a heap
    # ordered by creation, newest first. A node's inputs are created before it, so every node
    # that can send it a gradient is newer: when a node comes off the heap, all of its
    # gradients have arrived. (No dependency counting pass over the graph: the order is
    # torch's sequence-number order.)
    pending = {}
    heap = []
    for (node, nr), g in roots:
        if node not in pending:
            heappush(heap, (node._order, node))
        _add_gradient(pending, node, nr, g)

    needed = None
    if not accumulate:
        needed = _nodes_leading_to({e[0] for e in capture}, [node for (node, _), _g in roots])

    results = [None] * (len(inputs) if inputs is not None else 0)
    take = pending.pop
    last = heap[0][0] if heap else 0

    state = grad_mode.state
    prev_enabled = state.enabled
    state.enabled = bool(create_graph)
    # the per-node work of autograd.grad, anomaly mode and hooks goes through _apply_node;
    # a plain backward() of core ops runs their rules directly
    general = bool(capture) or needed is not None or anomaly.enabled()
    try:
        while heap:
            order, node = heappop(heap)
            if order < last:
                raise RuntimeError(f"ember internal error: {node.name()} got a gradient after "
                                   "it ran (a node older than one of its inputs)")
            last = order
            grads = take(node)
            cls = type(node)
            if cls is AccumulateGrad:
                if general or node._hooks is not None:
                    grads = _before(node, [grads], node._hooks, capture, results)[0]
                if accumulate and grads is not None and (
                        inputs is None or (node, 0) in capture):
                    # (a statement of its own: as an argument, g would be on the stack too)
                    owned = sys.getrefcount(grads) <= _EXCLUSIVE_REFS
                    node.accumulate(grads, create_graph, owned)
                continue
            rule = cls._backward
            if general or rule is None or node._hooks is not None or node._n_outputs != 1:
                in_grads = _apply_node(node, grads, capture, results, needed)
                if in_grads is None:
                    # (it leads to no input asked for: neither run nor freed, as torch's)
                    continue
            else:
                in_grads = rule(node, grads)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
            grads = None
            if not retain_graph:
                node._saved = None
            if node._meta is not None:
                in_grads = _conform(in_grads, node._meta)
            # (zip: a rule may leave out the trailing None gradients)
            for nxt, g in zip(node.next_functions, in_grads):
                if g is None or nxt is None:
                    continue
                nn = nxt[0]
                if nn._n_outputs == 1:  # (_add_gradient's first case, inline)
                    prev = pending.get(nn)
                    if prev is None:
                        pending[nn] = g
                        heappush(heap, (nn._order, nn))
                    elif (sys.getrefcount(prev) <= _PENDING_REFS and prev._base is None
                          and not create_graph and type(prev) is Tensor and type(g) is Tensor
                          and prev._dtype is g._dtype and prev._device is g._device
                          and prev._data.shape == g._data.shape
                          and "add_" in prev._device._backend.kernels):
                        # a sum only the engine refers to (not a view, no graph): added to in
                        # place, as torch's input buffers are (no new tensor)
                        prev._device._backend.kernels["add_"](prev._data, g._data)
                    else:
                        pending[nn] = prev + g
                else:
                    if nn not in pending:
                        heappush(heap, (nn._order, nn))
                    _add_gradient(pending, nn, nxt[1], g)
            # (a gradient these held would look shared to AccumulateGrad)
            in_grads = g = prev = None
    finally:
        state.enabled = prev_enabled

    if inputs is not None and not allow_unused and accumulate is False:
        for i, r in enumerate(results):
            if r is None:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not "
                                   "have been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior.")
    return results


def _apply_node(node, grads, capture, results, needed):
    """One node's gradients for its inputs, with everything the engine's plain path leaves out:
    tensor and node hooks, captured gradients (autograd.grad), outputs that got no gradient,
    anomaly checks, custom Functions. None for a node that leads to no requested input (its
    gradients are captured, but it does not run)."""
    hooks = node._hooks
    single = node._n_outputs == 1  # (per instance for a custom Function)
    if single:
        grads = _before(node, [grads], hooks, capture, results)
        run = grads[0] is not None
    else:
        grads = _before(node, grads or [None] * node._n_outputs, hooks, capture, results)
        run = any([g is not None for g in grads])
        # (a custom Function materializes its missing gradients itself, unless its ctx says
        # set_materialize_grads(False); not `in`: Tensor.__eq__)
        if run and type(node)._backward is not None and any([g is None for g in grads]):
            grads = _materialize(node, grads)
    if needed is not None and node not in needed:
        return None
    if not run:
        return ()
    rule = type(node)._backward
    in_grads = node.apply(grads) if rule is None else rule(node, *grads)
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if anomaly.enabled():
        anomaly.check(node, in_grads)
    if hooks is not None and hooks.post:
        in_grads = hooks.after(in_grads, grads)
    return in_grads


def _before(node, grads, hooks, capture, results):
    """Run the node's tensor and pre hooks on its output gradients, and capture those asked
    for (autograd.grad's inputs)."""
    if hooks is not None:
        grads = hooks.before(grads)
    if capture:
        for nr in range(len(grads)):
            for i in capture.get((node, nr), ()):
                results[i] = grads[nr]
    return grads


def _conform(in_grads, meta):
    """The gradients a node's rule returned, reduced to each input's shape (broadcasting in the
    forward) and cast to its dtype (promotion in the forward)."""
    fixed = []
    for g, m in zip(in_grads, meta):
        if g is not None and m is not None:
            if g._data.shape != m[0]:
                g = _sum_to(g, m[0])
            if g._dtype is not m[1]:
                g = g.to(m[1]) if not g._dtype.is_complex else _complex_grad_to(g, m[1])
        fixed.append(g)
    return fixed


def _add_gradient(pending, node, nr, g):
    """Add ``g``, a gradient of output ``nr`` of ``node``, to what ``pending`` holds for it."""
    if node._n_outputs == 1:
        prev = pending.get(node)
        pending[node] = g if prev is None else prev + g
        return
    buf = pending.get(node)
    if buf is None:
        buf = pending[node] = [None] * node._n_outputs
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _nodes_leading_to(targets, roots):
    """The nodes from which some node of ``targets`` is reachable through at least one edge (a
    target whose gradient is captured runs only if it leads to another). Iterative post-order
    DFS, so deep graphs (long RNN unrolls) do not hit Python's recursion limit."""
    order, seen = [], set()
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(root.next_functions))]
        while stack:
            node, it = stack[-1]
            for nxt in it:
                if nxt is not None and nxt[0] not in seen:
                    seen.add(nxt[0])
                    stack.append((nxt[0], iter(nxt[0].next_functions)))
                    break
            else:
                stack.pop()
                order.append(node)
    leads = set()
    for node in order:  # children come before parents
        if any(n is not None and (n[0] in leads or n[0] in targets)
               for n in node.next_functions):
            leads.add(node)
    return leads


def _sum_to(g, shape):
    from ..ops import shape as shape_ops
    return shape_ops.sum_to(g, shape)


def _materialize(node, grads):
    # Outputs that received no gradient contribute zeros (e.g. the unused half of split()).
    outs = node._out_meta
    from .. import ops
    res = list(grads)
    ref = next(g for g in grads if g is not None)
    for i, g in enumerate(grads):
        if g is None and outs is not None:
            shape, dtype = outs[i]
            res[i] = ops.creation.zeros(shape, dtype=dtype, device=ref.device)
    return res
