"""The optimizer base class: parameter groups, per-parameter state, and torch's state_dict format.

Optimizers are built only on the public tensor API (in-place ops under ``ember.no_grad()``), so
every backend gets them for free.

Example::

    >>> import ember
    >>> w = ember.zeros(3, requires_grad=True)
    >>> opt = ember.optim.SGD([w], lr=0.1)
    >>> (w - 1).pow(2).sum().backward()
    >>> opt.step(); opt.zero_grad()
"""
from __future__ import annotations

import copy
import functools
from collections import defaultdict
from typing import Any, Callable, Iterable

import ember

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking a hyper-parameter that has no default (torch's ``optim.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _no_grad_step(step: Callable) -> Callable:
    """Run an optimizer's ``step`` with grad recording off (the update is not differentiable)."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if not self._accepts_sparse_grads:
            _refuse_sparse_grads(self)
        with ember.no_grad():
            return step(self, *args, **kwargs)

    return wrapper


def _refuse_sparse_grads(opt) -> None:
    """torch's error for a sparse gradient (nn.Embedding(sparse=True)) given to an optimizer
    that has no sparse update rule."""
    for group in opt.param_groups:
        for p in group["params"]:
            g = p._grad
            if g is not None and g.__class__ is not ember.Tensor and g.is_sparse:
                name = type(opt).__name__
                if name in ("Adam", "AdamW"):
                    raise RuntimeError("Adam does not support sparse gradients, please consider "
                                       "SparseAdam instead")
                raise RuntimeError(f"{name} does not support sparse gradients")


class Optimizer:
    """Base class of all optimizers, as ``torch.optim.Optimizer``.

    Args:
        params: an iterable of tensors, or of dicts (parameter groups) each with a ``"params"``
            entry and any per-group hyper-parameter overrides.
        defaults: the default hyper-parameters, applied to groups that do not set them.

    ``state`` maps each parameter (the tensor itself, by identity) to a dict of its buffers.
    ``state_dict()`` replaces parameters by integer ids in group order, as torch does.
    """

    # whether step() takes sparse gradients (SGD, Adagrad, SparseAdam); the others
    # raise torch's error for them
    _accepts_sparse_grads = False

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, ember.Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # -- bookkeeping -------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``"params"`` and optional overrides)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, ember.Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        # NOTE: as torch, ``(name, tensor)`` pairs (``model.named_parameters()``) record the names
        # under "param_names"; mixing named and unnamed parameters is an error
        names = [p[0] for p in param_group["params"] if isinstance(p, tuple)]
        param_group["params"] = [p[1] if isinstance(p, tuple) else p
                                 for p in param_group["params"]]
        if names:
            if len(names) != len(param_group["params"]):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in param_group["params"]:
            if not isinstance(p, ember.Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if any(id(p) in seen for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        if len({id(p) for p in param_group["params"]}) != len(param_group["params"]):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error", stacklevel=3)
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to ``None`` by default, as torch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:  # a grad with history (create_graph=True)
                        p.grad = p.grad.detach()
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one step; ``closure`` (optional) re-evaluates the model and returns the loss."""
        raise NotImplementedError

    @staticmethod
    def _eval_closure(closure: Callable[[], Any] | None) -> Any:
        if closure is None:
            return None
        with ember.enable_grad():
            return closure()

    # -- state_dict ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"state": {id: {...}}, "param_groups": [{..., "params": [ids]}]}`` (torch's
        format). State tensors are referenced, not copied, as torch does."""
        mapping: dict[int, int] = {}
        start = 0

        def pack(group: dict[str, Any]) -> dict[str, Any]:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        groups = [pack(g) for g in self.param_groups]
        state = {mapping[id(p)]: v for p, v in self.state.items() if id(p) in mapping}
        return {"state": state, "param_groups": groups}

    @staticmethod
    def _cast_state(param: Any, value: Any, key: Any = None) -> Any:
        # NOTE: as torch, floating state follows the parameter's dtype and device, except "step",
        # which stays where it was saved (a host scalar).
        if isinstance(value, ember.Tensor):
            if key == "step":
                return value
            if value.dtype.is_floating_point:
                return value.to(dtype=param.dtype, device=param.device)
            return value.to(device=param.device)
        if isinstance(value, dict):
            return {k: Optimizer._cast_state(param, v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(Optimizer._cast_state(param, v, key) for v in value)
        return value

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a dict returned by :meth:`state_dict`; groups are matched by position."""
        state_dict = {"state": dict(state_dict["state"]),
                      "param_groups": copy.deepcopy(state_dict["param_groups"])}
        groups = self.param_groups
        saved_groups = state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)} saved, {len(groups)} in the optimizer)")
        for i, (g, sg) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(sg["params"]):
                # (torch's words first, then which group and how it differs)
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group (group {i}: "
                                 f"{len(sg['params'])} saved parameters, {len(g['params'])} in "
                                 "the optimizer)")
        id_map = {}
        for g, sg in zip(groups, saved_groups):
            for old_id, p in zip(sg["params"], g["params"]):
                id_map[old_id] = p
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = self._cast_state(param, v)
            else:
                state[k] = v
        new_groups = []
        for g, sg in zip(groups, saved_groups):
            sg = dict(sg)
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
            new_groups.append(sg)
        self.state = state
        self.param_groups = new_groups


def _scalar_step() -> Any:
    """A fresh step counter: a float32 scalar tensor on the host, as torch keeps it."""
    return ember.tensor(0.0, dtype=ember.float32, device="cpu")


def _advance_state(state: dict, p: Any, *buffers: str) -> dict:
    """The parameter's ``state``, started on its first step (a step counter, then a zero
    buffer like ``p`` for each name in ``buffers``, in that order, as torch's state_dict lists
    them), with its step counter advanced by one."""
    if len(state) == 0:
        state["step"] = _scalar_step()
        for name in buffers:
            state[name] = ember.zeros_like(p)
    state["step"].add_(1)
    return state


def _as_real(p: Any, grad: Any, state: dict) -> tuple:
    """(p, grad, state) as torch's optimizers step a complex parameter: through the real views
    of the parameter, its gradient and its complex state buffers (elementwise squares, signs
    and maxima are then per part, not z * z); the views write through. Real state (the step
    counter, NAdam's mu_product, ASGD's eta and mu) is left as it is, and so is a real
    parameter.

    Example::

        >>> p, grad, state = _as_real(p, grad, self.state[p])
        >>> state["exp_avg_sq"].addcmul_(grad, grad)   # |re|**2 and |im|**2, as torch
    """
    if not p.is_complex():
        return p, grad, state
    return (ember.view_as_real(p), ember.view_as_real(grad),
            {k: _real_view(v) for k, v in state.items()})


def _full_per_part(like: Any, value: Any) -> Any:
    """``full_like(like, value)``, with ``value`` in both the real and the imaginary part of a
    complex ``like``: torch's start for state that its complex step reads as two independent
    reals (Adagrad's ``sum``, Rprop's ``step_size``)."""
    value = value.item() if isinstance(value, ember.Tensor) else value
    return ember.full_like(like, complex(value, value) if like.is_complex() else value)


def _real_view(value: Any) -> Any:
    """``view_as_real(value)`` for a complex tensor; anything else as it is."""
    if isinstance(value, ember.Tensor) and value.is_complex():
        return ember.view_as_real(value)
    return value


def _check_lr(lr: Any) -> None:
    if isinstance(lr, ember.Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_nonnegative(name: str, value: Any) -> None:
    """torch's check of a hyperparameter that must be >= 0 (eps, weight_decay, ...)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name} value: {value}")


def _check_betas(betas: tuple[float, float]) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def _host_scalar(value: float, device: Any = "cpu") -> Any:
    return ember.tensor(float(value), dtype=ember.float32, device=device)


def _grads(group: dict[str, Any]) -> Iterable[tuple[Any, Any]]:
    """Yield ``(p, grad)`` for the group's parameters that have a gradient (negated if
    ``maximize``)."""
    for p in group["params"]:
        if p.grad is None:
            continue
        yield p, (-p.grad if group.get("maximize", False) else p.grad)
