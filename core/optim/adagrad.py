"""Adagrad, torch's single-tensor update rule exactly (``torch.optim.Adagrad``, dense grads)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import (Optimizer, _no_grad_step, _scalar_step, _check_lr, _check_nonnegative,
                        _grads, _as_real, _full_per_part)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), with learning-rate decay and L2 weight decay.

    Per parameter, at step ``t`` with gradient ``g``::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                  (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Example::

        >>> opt = ember.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    _accepts_sparse_grads = True  # (torch's sparse update rule)

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        _check_nonnegative("lr_decay", lr_decay)
        _check_nonnegative("weight_decay", weight_decay)
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        _check_nonnegative("epsilon", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        # NOTE: torch creates Adagrad's state eagerly, in the constructor; match it so that
        # state_dict() before the first step looks the same.
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _scalar_step()
                state["sum"] = _full_per_part(p, group["initial_accumulator_value"])

    @_no_grad_step
    def step(self, closure=None):
        """Perform one Adagrad step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, lr_decay = group["lr"], group["lr_decay"]
            wd, eps = group["weight_decay"], group["eps"]
            for p, grad in _grads(group):
                state = self.state[p]
                step_t = state["step"]
                step_t.add_(1)
                step = step_t.item()
                if grad.__class__ is not ember.Tensor and grad.is_sparse:
                    if wd != 0:
                        raise RuntimeError("weight_decay option is not compatible with sparse "
                                           "gradients")
                    from ..sparse.optim import adagrad_step_
                    adagrad_step_(p, grad, state["sum"], lr / (1 + (step - 1) * lr_decay), eps)
                    continue
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                clr = lr / (1 + (step - 1) * lr_decay)
                p, grad, state = _as_real(p, grad, state)
                state_sum = state["sum"]
                state_sum.addcmul_(grad, grad, value=1)
                std = ember.sqrt(state_sum).add_(eps)
                p.addcdiv_(grad, std, value=-clr)
        return loss
