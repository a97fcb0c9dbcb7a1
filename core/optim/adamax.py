"""Adamax (Adam with the infinity norm): torch's update rule exactly (``torch.optim.Adamax``)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import (Optimizer, _no_grad_step, _check_lr, _check_nonnegative, _check_betas,
                        _grads, _advance_state, _as_real)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``.

    Per parameter, at step ``t``::

        g = g + weight_decay * p
        m = lerp(m, g, 1 - beta1)
        u = max(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1**t) * m / u

    Example::

        >>> opt = ember.optim.Adamax(model.parameters(), lr=2e-3)

    ``foreach``, ``capturable`` and ``differentiable`` are accepted for torch compatibility
    and ignored.
    """

    def __init__(self, params: Iterable[Any], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        """Perform one Adamax step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p, grad in _grads(group):
                state = _advance_state(self.state[p], p, "exp_avg", "exp_inf")
                p, grad, state = _as_real(p, grad, state)
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_inf.copy_(ember.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)))
                clr = lr / (1 - beta1 ** state["step"].item())
                p.addcdiv_(exp_avg, exp_inf, value=-clr)
        return loss
