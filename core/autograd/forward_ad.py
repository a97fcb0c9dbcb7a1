"""``ember.autograd.forward_ad``: torch's forward-mode AD API (dual tensors).

>>> import ember.autograd.forward_ad as fwAD
>>> x, v = ember.tensor([1.0, 2.0]), ember.tensor([1.0, 0.0])
>>> with fwAD.dual_level():
...     y = fwAD.make_dual(x, v) ** 2
...     fwAD.unpack_dual(y).tangent       # J v = 2 x v
tensor([2., 0.])

Ember has no forward-mode rules: a dual tensor is recorded in the ordinary (reverse-mode)
graph, as the output of an identity fed by a hidden leaf (the "seed") that requires grad, and
the level remembers (seed, tangent). ``unpack_dual(y)`` computes the tangent lazily, as the
transpose of a vector-Jacobian product (the double-vjp trick, as ``ember.func.jvp``): the vjp
``g(u) = J^T u`` is linear in the cotangent ``u``, so the derivative of ``<g(u), t>`` by ``u``
is ``J t``. Ordinary ops therefore need no forward rule, at the price of two backward passes
per ``unpack_dual`` and these differences from torch:

- the graph is needed: ops run under ``no_grad`` do not carry tangents (torch's do), and dual
  tensors report ``requires_grad=True`` (torch: only when the primal requires grad);
- a tangent whose dtype differs from its primal's is applied in the primal's dtype (the result
  is cast to the promoted dtype, as torch's would be, but not computed in it);
- hooks registered on tensors between a dual input and ``y`` also run during ``unpack_dual``;
- complex dual tensors are not supported (NotImplementedError).
"""
from __future__ import annotations

import functools
from typing import Any, NamedTuple, Optional

from . import grad_mode
from .function import Function
from .graph import AccumulateGrad

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual",
           "unpack_dual", "dual_level"]

# the level the other functions use by default (-1: none), a module global as in torch
_current_level = -1


class _Level:
    """What one dual level knows: the seeds of its dual tensors and their tangents."""

    def __init__(self):
        # id(seed's AccumulateGrad node) -> (node, seed, tangent); the node is kept so that
        # its id stays unique while the level lives
        self.seeds = {}
        # id(make_dual's node) -> (node, tangent): unpack_dual of the dual itself returns the
        # tangent object as-is, as torch does
        self.made = {}


_level: Optional[_Level] = None
# while set, _Primal's backward lets no gradient through (see _tangent)
_cutting = [False]


def enter_dual_level() -> int:
    """Enter a new forward grad level and make it the default of the other functions.

    Only one level may exist at a time, as in torch.

    >>> level = fwAD.enter_dual_level(); fwAD.exit_dual_level()
    """
    global _current_level, _level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _level = _Level()
    _current_level = 0
    return _current_level


def exit_dual_level(*, level: Optional[int] = None) -> None:
    """Exit the (latest) forward grad level: its dual tensors lose their tangents.

    >>> fwAD.enter_dual_level(); fwAD.exit_dual_level()
    """
    global _current_level, _level
    if level is None:
        level = _current_level
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that "
                           "was created. This is not supported.")
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    _level = None
    _current_level = level - 1


class _MakeDual(Function):
    """The dual: ``primal`` as-is (it aliases the primal's storage, as torch's dual does); the
    gradient goes to the primal (make_dual is backward differentiable) and to the seed."""

    @staticmethod
    def forward(ctx, primal, seed):
        return primal

    @staticmethod
    def backward(ctx, g):
        return g, g


class _Primal(Function):
    """``unpack_dual(y).primal`` when y also depends on leaves other than seeds: y for reverse
    mode, but no path to a seed while a tangent is being computed (the primal is not dual)."""

    @staticmethod
    def forward(ctx, y):
        return y

    @staticmethod
    def backward(ctx, g):
        return None if _cutting[0] else g


def _is_primal_node(node) -> bool:
    return getattr(node, "_fn_cls", None) is _Primal


def _reached(tensor, level: _Level):
    """(the level's (node, seed, tangent) entries whose seed reaches ``tensor`` through the
    graph, whether any other leaf that requires grad reaches it)."""
    if not tensor._requires_grad:
        return [], False
    edge = tensor._grad_edge()
    if edge is None:
        return [], False
    found, other_leaf = [], False
    stack, seen = [edge[0]], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        entry = level.seeds.get(id(node))
        if entry is not None:
            found.append(entry)
            continue
        if _is_primal_node(node):
            continue
        nexts = node.next_functions
        if isinstance(node, AccumulateGrad):
            other_leaf = True
        stack.extend(e[0] for e in nexts if e is not None)
    return found, other_leaf


def _check_floating(t, what):
    if not (t.is_floating_point() or t.is_complex()):
        raise ValueError(f"Expected {what} to be floating point or complex, but got: {t.dtype}")


def make_dual(tensor, tangent, *, level: Optional[int] = None):
    """The dual tensor of ``tensor`` (whose value it aliases) with ``tangent`` as its forward
    gradient; backward differentiable with respect to ``tensor``.

    >>> with fwAD.dual_level():
    ...     d = fwAD.make_dual(ember.tensor([3.0]), ember.tensor([1.0]))
    ...     fwAD.unpack_dual(d.exp()).tangent
    tensor([20.0855])
    """
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, "
                           "make sure to enter_dual_level() first.")
    _check_floating(tensor, "primal")
    _check_floating(tangent, "tangent")
    if level != 0:
        raise RuntimeError("Invalid level given to _make_dual")
    if _level is None:
        raise RuntimeError("Trying to access a forward AD level with an invalid index. This "
                           "index was either not created or is already deleted.")
    if tensor.is_complex() or tangent.is_complex():
        raise NotImplementedError("ember's forward AD supports real floating-point tensors "
                                  "only, not complex ones")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is of "
                           f"size {list(tensor.shape)} while the given forward gradient is of "
                           f"size {list(tangent.shape)}.")
    if _reached(tensor, _level)[0]:
        raise RuntimeError(f"Making a dual Tensor based on a Tensor that already has a forward "
                           f"gradient at the same level {level} is not supported.")
    with grad_mode.enable_grad():
        # NOTE: the seed shares the primal's buffer; only its place in the graph matters
        seed = tensor.detach().requires_grad_(True)
        dual = _MakeDual.apply(tensor, seed)
    acc = seed._grad_edge()[0]
    _level.seeds[id(acc)] = (acc, seed, tangent)
    _level.made[id(dual._grad_fn)] = (dual._grad_fn, tangent)
    return dual


class UnpackedDualTensor(NamedTuple):
    """What :func:`unpack_dual` returns: the primal and the tangent (None if there is none)."""

    primal: Any
    tangent: Optional[Any]


def _tangent(y, entries):
    """J t of ``y`` for the seeds in ``entries``, by two reverse passes (see the module doc)."""
    from . import grad as _grad
    from ..dtypes import promote_types
    from ..ops.creation import zeros_like
    if len(entries) == 1:
        made = _level.made.get(id(y._grad_fn))
        if made is not None and made[0] is y._grad_fn and made[1] is entries[0][2]:
            return entries[0][2]
    seeds = [e[1] for e in entries]
    tangents = [e[2] for e in entries]
    keep_graph = any(t._requires_grad for t in tangents)
    prev = _cutting[0]
    _cutting[0] = True
    try:
        with grad_mode.enable_grad():
            u = zeros_like(y).requires_grad_(True)
            vjps = _grad(y, seeds, u, create_graph=True, allow_unused=True)
            pairs = [(g, t if t.dtype == g.dtype else t.to(g.dtype))
                     for g, t in zip(vjps, tangents) if g is not None and g._requires_grad]
            jt = None
            if pairs:
                # NOTE: retain_graph: this pass also reaches nodes of the caller's graph (the
                # vjp's graph saves forward outputs); torch's forward AD never consumes it
                (jt,) = _grad([g for g, _ in pairs], u, [t for _, t in pairs],
                              retain_graph=True, create_graph=keep_graph, allow_unused=True)
    finally:
        _cutting[0] = prev
    if jt is None:   # y depends on a dual only through ops with a zero derivative (floor ...)
        jt = zeros_like(y)
    dtype = y.dtype
    for t in tangents:
        dtype = promote_types(dtype, t.dtype)
    if jt.dtype != dtype:
        jt = jt.to(dtype)
    return jt if keep_graph else jt.detach()


def unpack_dual(tensor, *, level: Optional[int] = None) -> UnpackedDualTensor:
    """``(primal, tangent)`` of ``tensor`` at ``level``: the tangent is the Jacobian-vector
    product of everything that computed ``tensor`` with the tangents of the dual tensors it
    depends on, or None when it depends on none.

    >>> with fwAD.dual_level():
    ...     fwAD.unpack_dual(ember.ones(2)).tangent is None
    True
    """
    if level is None:
        level = _current_level
    if level < 0:
        return UnpackedDualTensor(tensor, None)
    entries, other_leaf = _reached(tensor, _level) if _level is not None else ([], False)
    if not entries:
        return UnpackedDualTensor(tensor.view_as(tensor), None)
    if level != 0:   # (torch checks the level only for a tensor that has a tangent)
        raise RuntimeError("Invalid level given to _fw_primal")
    tangent = _tangent(tensor, entries)
    if other_leaf and grad_mode.is_grad_enabled():
        primal = _Primal.apply(tensor)
    else:
        # only seeds reach it: the primal requires no grad, as torch's would not
        primal = tensor.detach()
    return UnpackedDualTensor(primal, tangent)


class dual_level:
    """Context manager (or decorator) that enters a forward AD level and exits it after.

    >>> x, v = ember.tensor([1.0]), ember.tensor([2.0])
    >>> with fwAD.dual_level():
    ...     y = fwAD.make_dual(x, v) * 3
    ...     fwAD.unpack_dual(y).tangent
    tensor([6.])
    """

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        exit_dual_level()

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper
