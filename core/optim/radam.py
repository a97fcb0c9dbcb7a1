"""RAdam (rectified Adam): torch's update rule exactly (``torch.optim.RAdam``)."""
from __future__ import annotations

from typing import Any, Iterable

from .optimizer import (Optimizer, _no_grad_step, _check_lr, _check_nonnegative, _check_betas,
                        _grads, _advance_state, _as_real)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Rectified Adam (Liu et al.), as ``torch.optim.RAdam``.

    Per parameter, at step ``t``, with ``rho_inf = 2 / (1 - beta2) - 1`` and
    ``rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)``::

        m = lerp(m, g, 1 - beta1); v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        p = p - lr * m_hat * r_t * sqrt(1 - beta2**t) / (sqrt(v) + eps)   if rho_t > 5
        p = p - lr * m_hat                                                 otherwise

    where ``r_t`` is the variance rectification term.

    Example::

        >>> opt = ember.optim.RAdam(model.parameters(), lr=1e-3)

    ``foreach``, ``capturable`` and ``differentiable`` are accepted for torch compatibility
    and ignored.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_betas(betas)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        """Perform one RAdam step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
            for p, grad in _grads(group):
                state = _advance_state(self.state[p], p, "exp_avg", "exp_avg_sq")
                p, grad, state = _as_real(p, grad, state)
                step = state["step"].item()
                if wd != 0:
                    if group["decoupled_weight_decay"]:
                        p.mul_(1 - lr * wd)
                    else:
                        grad = grad.add(p, alpha=wd)
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                bias_correction1 = 1 - beta1 ** step
                bias_correction2 = 1 - beta2 ** step
                m_hat = exp_avg / bias_correction1
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    adaptive = bias_correction2 ** 0.5 / exp_avg_sq.sqrt().add_(eps)
                    p.add_(m_hat * lr * adaptive * rect, alpha=-1.0)
                else:
                    p.add_(m_hat * lr, alpha=-1.0)
        return loss
