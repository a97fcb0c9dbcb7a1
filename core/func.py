"""ember.func: torch.func's function transforms (grad, vmap, vjp, jvp, jacrev, jacfwd, hessian,
functional_call ...), built on the tape.

How it differs from functorch: there are no batched tensors and no per-level wrappers.
- ``grad``/``vjp`` differentiate with ``autograd.grad``. When an argument already requires grad
  (an enclosing transform, or the caller, differentiates through it), the inner gradient is
  taken with ``create_graph=True``, so transforms nest: ``grad(grad(f))`` is the second
  derivative.
- ``vmap`` runs the function once per index of the mapped dimension and stacks the results.
  That is the same answer as functorch's batching rules (and composes with every transform and
  every op, on every backend), at the cost of one call per example. Python-level calls such as
  ``.item()`` inside the function therefore work here where functorch refuses them.

>>> import ember
>>> from ember.func import grad, vmap
>>> x = ember.tensor([1.0, 2.0])
>>> grad(lambda t: (t ** 3).sum())(x)
tensor([ 3., 12.])
>>> vmap(ember.dot)(ember.ones(2, 3), ember.ones(2, 3))
tensor([3., 3.])
"""
from __future__ import annotations

import contextlib
import functools

from . import autograd
from .ops import shape as _S
from .ops.creation import zeros_like
from .autograd.graph import AccumulateGrad
from .tensor import Tensor

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp",
           "linearize", "stack_module_state", "vjp", "vmap"]


# ---- pytrees: tensors inside tuples, lists and dicts ----

def _flatten(tree):
    """(leaves, rebuild): the leaves of nested tuples/lists/dicts, and a function that puts new
    leaves back in the same structure."""
    if isinstance(tree, (tuple, list)):
        parts = [_flatten(t) for t in tree]
        leaves = [leaf for p in parts for leaf in p[0]]

        def rebuild(new, parts=parts, kind=type(tree)):
            out, i = [], 0
            for sub_leaves, sub_rebuild in parts:
                out.append(sub_rebuild(new[i:i + len(sub_leaves)]))
                i += len(sub_leaves)
            if kind in (tuple, list):
                return kind(out)
            return kind(*out)  # a namedtuple
        return leaves, rebuild
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, rebuild_values = _flatten([tree[k] for k in keys])
        return leaves, lambda new: dict(zip(keys, rebuild_values(new)))
    return [tree], lambda new: new[0]


def _broadcast_dims(dims, tree, what):
    """``dims`` (an int/None, or a structure matching ``tree``'s top levels) as one dim per leaf
    of ``tree``."""
    leaves, _ = _flatten(tree)
    if dims is None or isinstance(dims, int):
        return [dims] * len(leaves)
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(f"vmap: {what} is not compatible with the structure of the inputs: "
                             f"{len(dims)} entries for {len(tree)} arguments")
        return [d for sub_d, sub_t in zip(dims, tree)
                for d in _broadcast_dims(sub_d, sub_t, what)]
    if isinstance(dims, dict) and isinstance(tree, dict):
        return [d for k in tree for d in _broadcast_dims(dims.get(k), tree[k], what)]
    raise ValueError(f"vmap: {what} must be an int, None, or a (nested) tuple matching the "
                     f"structure of the inputs, got {type(dims).__name__}")


# ---- grad / vjp ----

# The grad nodes of the fresh leaves that transforms made, numbered in order of creation
# (id -> (number, node)) and kept until the outermost transform returns: the leaves of a
# transform nested inside another are internal to that one, never "a tensor the function
# closes over" (see _reaches_other_leaves); an enclosing transform's leaves are
_transform_leaves: dict = {}
_transform_depth = [0]
_leaf_count = [0]


@contextlib.contextmanager
def _transform_scope():
    _transform_depth[0] += 1
    try:
        yield
    finally:
        _transform_depth[0] -= 1
        if _transform_depth[0] == 0:
            _transform_leaves.clear()


def _as_differentiable(x):
    """An input to differentiate at: ``x`` itself when it is already on a tape (an enclosing
    transform differentiates through it: keep that path), else a fresh leaf."""
    if x.requires_grad:
        return x.view_as(x), True
    leaf = x.detach().requires_grad_(True)
    node = leaf._grad_edge()[0]
    _leaf_count[0] += 1
    _transform_leaves[id(node)] = (_leaf_count[0], node)
    return leaf, False


def _reaches_other_leaves(outputs, own, since):
    """Whether the graph of ``outputs`` reaches a tensor that requires grad other than the
    transform's own fresh leaves ``own`` and those of transforms it ran (numbered above
    ``since``): a tensor the function closes over, a module's parameters, or an enclosing
    transform's input. The transform's results then stay on that graph, as torch's do."""
    own_nodes = {id(e[0]) for e in (t._grad_edge() for t in own) if e is not None}
    own_nodes.update(k for k, (n, _) in _transform_leaves.items() if n > since)
    stack = [e[0] for e in (o._grad_edge() for o in outputs
                            if isinstance(o, Tensor) and o.requires_grad) if e is not None]
    seen = set()
    while stack:
        node = stack.pop()
        if id(node) in seen or id(node) in own_nodes:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            return True
        stack.extend(e[0] for e in node.next_functions if e is not None)
    return False


def _argnums_tuple(argnums, n_args, fn_name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{fn_name}: argnums must be non-empty")
    for a in nums:
        if not isinstance(a, int) or not -n_args <= a < n_args:
            raise RuntimeError(f"{fn_name}: Got argnums={argnums}, but only {n_args} positional "
                               f"inputs")
    return tuple(a % n_args for a in nums)


def grad_and_value(func, argnums=0, has_aux=False):
    """``func``'s gradient with respect to the arguments ``argnums`` (pytrees of tensors), and
    its value: ``grad_and_value(f)(x) == (grad(f)(x), f(x))``."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with _transform_scope():
            return _grad_and_value(func, argnums, has_aux, args, kwargs)
    return wrapper


def _grad_and_value(func, argnums, has_aux, args, kwargs):
    since = _leaf_count[0]
    nums = _argnums_tuple(argnums, len(args), "grad_and_value(f)(*args)")
    args = list(args)
    diff_leaves, rebuilds, outer = [], [], False
    for a in nums:
        leaves, rebuild = _flatten(args[a])
        new = []
        for leaf in leaves:
            if not isinstance(leaf, Tensor) or not leaf.dtype.is_floating_point:
                if isinstance(leaf, Tensor):   # (torch's words: requires_grad_ fails)
                    raise RuntimeError("only Tensors of floating point dtype can require "
                                       "gradients")
                raise RuntimeError(f"grad_and_value(f)(*args): argument {a} must be "
                                   f"(a pytree of) floating-point Tensors")
            t, on_tape = _as_differentiable(leaf)
            outer |= on_tape
            new.append(t)
        args[a] = rebuild(new)
        diff_leaves.append(new)
        rebuilds.append(rebuild)
    with autograd.enable_grad():
        result = func(*args, **kwargs)
        if has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise RuntimeError("grad_and_value(f)(*args): output of function f should "
                                   "be a tuple: (output, aux) if has_aux is True")
            out, aux = result
        else:
            out, aux = result, None
        if not isinstance(out, Tensor) or out.ndim != 0:
            got = (f"tensor with {out.ndim} dims" if isinstance(out, Tensor)
                   else type(out).__name__)
            raise RuntimeError(f"grad_and_value(f)(*args): Expected f(*args) to return a "
                               f"scalar Tensor, got {got}. Maybe you wanted to use the vjp "
                               f"or jacrev APIs instead?")
        flat = [t for group in diff_leaves for t in group]
        outer = outer or _reaches_other_leaves([out], flat, since)
        grads = autograd.grad(out, flat, create_graph=outer, allow_unused=True)
    grads = [g if g is not None else zeros_like(t) for g, t in zip(grads, flat)]
    if not outer:
        grads = [g.detach() for g in grads]
        out = out.detach()
        # NOTE: aux comes back unwrapped, as torch: off the transform's internal graph
        aux = _map(lambda t: t.detach(), aux)
    per_arg, i = [], 0
    for group, rebuild in zip(diff_leaves, rebuilds):
        per_arg.append(rebuild(grads[i:i + len(group)]))
        i += len(group)
    g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
    return (g, (out, aux)) if has_aux else (g, out)


def grad(func, argnums=0, has_aux=False):
    """The gradient of scalar-valued ``func`` with respect to the arguments ``argnums``.

    >>> grad(lambda x: (x ** 2).sum())(ember.tensor([1.0, 2.0]))
    tensor([2., 4.])
    """
    g_and_v = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = g_and_v(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn): ``vjp_fn(cotangents)`` gives the vector-Jacobian products, one
    per primal (pytrees as the primals)."""
    with _transform_scope():
        return _vjp(func, primals, has_aux)


def _vjp(func, primals, has_aux):
    since = _leaf_count[0]
    diff, rebuilds, outer = [], [], False
    args = []
    for p in primals:
        leaves, rebuild = _flatten(p)
        new = []
        for leaf in leaves:
            t, on_tape = _as_differentiable(leaf)
            outer |= on_tape
            new.append(t)
        diff.append(new)
        rebuilds.append(rebuild)
        args.append(rebuild(new))
    with autograd.enable_grad():
        result = func(*args)
    out, aux = result if has_aux else (result, None)
    out_leaves, _ = _flatten(out)
    flat_in = [t for group in diff for t in group]
    outer = outer or _reaches_other_leaves(out_leaves, flat_in, since)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        cots, _ = _flatten(cotangents)
        if len(cots) != len(out_leaves):
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function: {len(cots)} "
                               f"cotangents for {len(out_leaves)} outputs")
        make_graph = outer if create_graph is None else create_graph
        # NOTE: an output that does not depend on the inputs (the gradient of a function
        # linear in them, under hessian) contributes zeros, as in torch, not an error
        pairs = [(o, c) for o, c in zip(out_leaves, cots)
                 if isinstance(o, Tensor) and o.requires_grad]
        with autograd.enable_grad():
            gs = autograd.grad([o for o, _ in pairs], flat_in, [c for _, c in pairs],
                               retain_graph=retain_graph, create_graph=make_graph,
                               allow_unused=True) if pairs else [None] * len(flat_in)
        gs = [g if g is not None else zeros_like(t) for g, t in zip(gs, flat_in)]
        if not make_graph:
            gs = [g.detach() for g in gs]
        res, i = [], 0
        for group, rebuild in zip(diff, rebuilds):
            res.append(rebuild(gs[i:i + len(group)]))
            i += len(group)
        return tuple(res)

    shown = out if outer else _map(lambda t: t.detach(), out)
    if has_aux and not outer:
        # NOTE: aux comes back unwrapped, as torch: off the transform's internal graph
        aux = _map(lambda t: t.detach(), aux)
    return (shown, vjp_fn, aux) if has_aux else (shown, vjp_fn)


def _map(fn, tree):
    leaves, rebuild = _flatten(tree)
    return rebuild([fn(t) if isinstance(t, Tensor) else t for t in leaves])


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), the Jacobian-vector product with ``tangents``): forward-mode's result,
    computed as the transpose of a vector-Jacobian product (the double-vjp trick)."""
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to be "
                           "tuples")
    if len(primals) != len(tangents):
        raise RuntimeError("jvp(f, primals, tangents): Expected primals and tangents to have "
                           "the same python structure")
    res = vjp(func, *primals, has_aux=has_aux)
    out, vjp_fn = res[0], res[1]
    out_leaves, rebuild_out = _flatten(out)
    # the vjp is linear in its cotangent u: the derivative of <vjp(u), tangents> by u is J t
    # (vjp keeps its output on the graph exactly when the caller's graph reaches it)
    outer = any(isinstance(o, Tensor) and o.requires_grad for o in out_leaves)
    us = [zeros_like(o).requires_grad_(True) for o in out_leaves]
    with autograd.enable_grad():
        gs = vjp_fn(rebuild_out(us), create_graph=True)
        g_leaves = [g for g in _flatten(gs)[0]]
        t_leaves = _flatten(tangents)[0]
        # NOTE: retain_graph: the vjp's graph saves forward outputs, so this pass reaches the
        # caller's graph when the primals are on it; it must stay usable, as torch's
        jv = autograd.grad(g_leaves, us, t_leaves, retain_graph=True, create_graph=outer,
                           allow_unused=True)
    jv = [(j if outer else j.detach()) if j is not None else zeros_like(o)
          for j, o in zip(jv, out_leaves)]
    result = (out if outer else _map(lambda t: t.detach(), out), rebuild_out(jv))
    return result + (res[2],) if has_aux else result


def linearize(func, *primals):
    """(func(*primals), jvp_fn): ``jvp_fn(*tangents)`` is the Jacobian-vector product at the
    primals."""
    out = _map(lambda t: t.detach(), func(*primals))

    def jvp_fn(*tangents):
        return jvp(func, primals, tangents)[1]
    return out, jvp_fn


# ---- Jacobians ----

def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The Jacobian of ``func`` with respect to the arguments ``argnums``, row by row (one
    vector-Jacobian product per output element): shape output.shape + input.shape."""
    @functools.wraps(func)
    def wrapper(*args):
        nums = _argnums_tuple(argnums, len(args), "jacrev")

        def of_selected(*selected):
            full = list(args)
            for a, v in zip(nums, selected):
                full[a] = v
            return func(*full)
        res = vjp(of_selected, *[args[a] for a in nums], has_aux=has_aux)
        out, vjp_fn = res[0], res[1]
        out_leaves, rebuild_out = _flatten(out)
        in_leaves = [t for a in nums for t in _flatten(args[a])[0]]
        per_out = []
        for k, o in enumerate(out_leaves):
            rows = []
            for j in range(o.numel()):
                cots = [zeros_like(x) for x in out_leaves]
                cots[k] = zeros_like(o).reshape(-1).index_fill(0, _index(j, o), 1.0) \
                    .reshape(o.shape)
                rows.append(_flatten(vjp_fn(rebuild_out(cots)))[0])
            jac = [(_S.stack([r[i] for r in rows]) if rows else
                    zeros_like(x).reshape((0,) + tuple(x.shape)))
                   .reshape(tuple(o.shape) + tuple(x.shape)) for i, x in enumerate(in_leaves)]
            per_out.append(_regroup(jac, args, nums, argnums))
        jac = rebuild_out(per_out)
        return (jac, res[2]) if has_aux else jac
    return wrapper


def _index(j, like):
    from .ops.creation import tensor
    return tensor([j], device=like.device)


def _regroup(flat, args, nums, argnums):
    """Per-input-leaf Jacobians back into the structure of the arguments ``argnums``."""
    groups, i = [], 0
    for a in nums:
        leaves, rebuild = _flatten(args[a])
        groups.append(rebuild(flat[i:i + len(leaves)]))
        i += len(leaves)
    return groups[0] if isinstance(argnums, int) else tuple(groups)


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of ``func``: the same matrix as ``jacrev``, and computed by reverse mode
    too (Ember's forward mode, ``autograd.forward_ad``, itself runs reverse-mode passes)."""
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of scalar ``func``: the Jacobian of its gradient."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- vmap ----

def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """``func`` mapped over dimension ``in_dims`` of its inputs, the results stacked along
    ``out_dims``: ``vmap(f)(x)[i] == f(x[i])``.

    Runs ``func`` once per index (see the module docstring). ``randomness``: "error" raises if
    ``func`` draws random numbers, "different" lets each index draw its own, "same" gives every
    index the same draws.
    """
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got "
                         f"{chunk_size})")
    name = getattr(func, "__name__", repr(func))

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if not isinstance(in_dims, (int, tuple)) or in_dims is None:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected "
                             f"`in_dims` to be int or a (potentially nested) tuple matching "
                             f"the structure of inputs, got: {type(in_dims)}.")
        dims_tree = (in_dims,) * len(args) if isinstance(in_dims, int) else in_dims
        leaves, rebuild = _flatten(list(args))
        dims = _broadcast_dims(list(dims_tree) if isinstance(dims_tree, tuple) else dims_tree,
                               list(args), "in_dims")
        sizes = []
        for leaf, d in zip(leaves, dims):
            if d is None:
                continue
            if not isinstance(leaf, Tensor):
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got "
                                 f"in_dim={d} for an input but the input is of type "
                                 f"{type(leaf)}. We cannot vmap over non-Tensor arguments, "
                                 f"please use None as the respective in_dim")
            if not -max(leaf.ndim, 1) <= d < max(leaf.ndim, 1) or leaf.ndim == 0:
                raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got "
                                 f"in_dim={d} for some input, but that input is a Tensor of "
                                 f"dimensionality {leaf.ndim} so expected in_dim to satisfy "
                                 f"-{leaf.ndim} <= in_dim < {leaf.ndim}.")
            sizes.append(leaf.shape[d])
        if not sizes:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one "
                             f"input must be a Tensor mapped over a dimension (in_dim not None)")
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                             f"dimension, got sizes {sizes} for the mapped dimension")
        draws = _RandomnessGuard(randomness, {t.device for t in leaves
                                              if isinstance(t, Tensor)})
        results = []
        for i in range(sizes[0]):
            sliced = [leaf.select(d, i) if d is not None else leaf
                      for leaf, d in zip(leaves, dims)]
            draws.before(i)
            results.append(func(*rebuild(sliced), **kwargs))
            draws.after()
        return _stack_outputs(results, out_dims, name)
    return wrapper


class _RandomnessGuard:
    """vmap's randomness mode over the per-index calls, on every device's default generator:
    "error" refuses draws, "same" starts each index from the state the first one started
    from, "different" lets the draws run on."""

    def __init__(self, mode, devices):
        from .ops import creation
        from .device import canonical
        self.mode = mode
        # (created now if not yet: a generator made during a call would escape the check)
        for dev in devices | {canonical("cpu")}:
            creation.default_generator(dev)
        self.gens = list(creation._default_generators.values()) if mode != "different" else []
        self.start = [g.get_state() for g in self.gens]

    def before(self, index):
        if self.mode == "same" and index:
            for g, s in zip(self.gens, self.start):
                g.set_state(s)

    def after(self):
        if self.mode == "error" and any(not _same_state(g.get_state(), s)
                                        for g, s in zip(self.gens, self.start)):
            raise RuntimeError("vmap: called random operation while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags "
                               "on vmap or perform the randomness operation out of vmap")


def _same_state(a, b):
    return bool((a == b).all()) if isinstance(a, Tensor) else a == b


def _stack_outputs(results, out_dims, name):
    first_leaves, rebuild = _flatten(results[0])
    dims = _broadcast_dims(out_dims, results[0], "out_dims") if not isinstance(
        out_dims, int) else [out_dims] * len(first_leaves)
    per_result = [_flatten(r)[0] for r in results]
    stacked = []
    for k, (leaf, d) in enumerate(zip(first_leaves, dims)):
        if d is None:
            stacked.append(leaf)
            continue
        if not isinstance(leaf, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(leaf)}. Did you mean to set out_dims= to None for output?")
        stacked.append(_S.stack([r[k] for r in per_result], d))
    return rebuild(stacked)


# ---- modules as functions ----

def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """Call ``module`` with its parameters and buffers replaced by the tensors in
    ``parameter_and_buffer_dicts`` (one dict, or a sequence of dicts), for this call only."""
    dicts = (parameter_and_buffer_dicts if isinstance(parameter_and_buffer_dicts, (list, tuple))
             else [parameter_and_buffer_dicts])
    repeated = []
    for d in dicts:
        for k in d:
            if sum(k in other for other in dicts) > 1 and k not in repeated:
                repeated.append(k)
    if repeated:
        raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                         f"functional call is ambiguous")
    values = {k: v for d in dicts for k, v in d.items()}
    known = dict(module.named_parameters(remove_duplicate=False))
    known.update(dict(module.named_buffers(remove_duplicate=False)))
    if tie_weights:
        # a tensor shared under two names (tied weights) is replaced under both
        by_id = {}
        for k, t in known.items():
            by_id.setdefault(id(t), []).append(k)
        for names in by_id.values():
            given = [n for n in names if n in values]
            for n in names:
                if given and n not in values:
                    values[n] = values[given[0]]
    if strict:
        missing = sorted(k for k in known if k not in values)
        unexpected = sorted(k for k in values if k not in known)
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(
                type(module).__name__, "\n\t".join(msgs)))
    args = () if args is None else (args if isinstance(args, tuple) else (args,))
    saved = []
    missing_attr = object()
    try:
        for k, v in values.items():
            owner, attr = _owner(module, k)
            if attr in owner._parameters:
                saved.append((owner, attr, owner._parameters[attr], "param"))
                owner._parameters[attr] = v
            elif attr in owner._buffers:
                saved.append((owner, attr, owner._buffers[attr], "buffer"))
                owner._buffers[attr] = v
            else:
                # NOTE: as torch, a name that is neither a parameter nor a buffer becomes a plain
                # attribute for the call (and is removed again afterwards)
                old = getattr(owner, attr) if hasattr(owner, attr) else missing_attr
                if old is not missing_attr and old is not None and not isinstance(old, Tensor):
                    raise TypeError(f"attribute `{attr}`: {old} is not an instance of "
                                    f"torch.Tensor")
                setattr(owner, attr, v)
                saved.append((owner, attr, old, "attr"))
        return module(*args, **(kwargs or {}))
    finally:
        for owner, attr, old, kind in reversed(saved):
            if kind == "param":
                owner._parameters[attr] = old
            elif kind == "buffer":
                owner._buffers[attr] = old
            elif old is missing_attr:
                delattr(owner, attr)
            else:
                setattr(owner, attr, old)


def _owner(module, dotted):
    *path, attr = dotted.split(".")
    for p in path:
        module = module.get_submodule(p) if hasattr(module, "get_submodule") else getattr(
            module, p)
    return module, attr


def stack_module_state(models):
    """(params, buffers): each name's tensors of the same-structured ``models`` stacked along a
    new leading dim (for ``vmap(functional_call)`` over an ensemble). Parameters come back as
    new leaves that require grad, as torch's."""
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if len({type(m) for m in models}) != 1:
        raise RuntimeError("stack_module_state: Expected all models to be of the same class.")
    names = [n for n, _ in models[0].named_parameters()]
    params = {n: _S.stack([dict(m.named_parameters())[n].detach() for m in models])
              .requires_grad_(True) for n in names}
    buffers = {n: _S.stack([dict(m.named_buffers())[n] for m in models])
               for n, _ in models[0].named_buffers()}
    return params, buffers

