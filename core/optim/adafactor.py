"""Adafactor (factored second moments): torch's update rule exactly (``torch.optim.Adafactor``)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import Optimizer, _grads, _no_grad_step, _scalar_step

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor, as ``torch.optim.Adafactor``: a parameter of 2 or more dims keeps only a
    row and a column mean of the squared gradient (over its last two dims), a vector keeps the
    full second moment.

    Per parameter, at step ``t``::

        beta2' = t ** beta2_decay                      (the weight of the new estimate)
        rho = min(lr, 1 / sqrt(t));  alpha = max(eps2, rms(p)) * rho
        p = p * (1 - lr * weight_decay)
        v = lerp(v, g*g, beta2')                       (vector), or
        R = lerp(R, mean(g*g, -1)); C = lerp(C, mean(g*g, -2)); v = R @ C / max(mean(R), eps1)
        u = g / sqrt(max(v, eps1**2))
        p = p - alpha / max(1, rms(u) / d) * u

    ``eps1`` defaults (``None``) to the parameter dtype's machine epsilon. ``foreach`` is
    accepted for torch compatibility and ignored.

    Example::

        >>> opt = ember.optim.Adafactor(model.parameters(), lr=1e-2)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False) -> None:
        if isinstance(lr, ember.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    @staticmethod
    def _state(state: dict, grad: Any) -> dict:
        """The parameter's state, started on its first step (torch's keys and shapes)."""
        if len(state) == 0:
            state["step"] = _scalar_step()
            if grad.dim() > 1:
                state["row_var"] = grad.new_zeros(list(grad.shape[:-1]) + [1])
                col_shape = list(grad.shape)
                col_shape[-2] = 1
                state["col_var"] = grad.new_zeros(col_shape)
            else:
                state["variance"] = ember.zeros_like(grad)
        return state

    @_no_grad_step
    def step(self, closure=None):
        """Perform one Adafactor step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            eps1, eps2 = group["eps"]
            lr = group["lr"]
            lr = lr.item() if isinstance(lr, ember.Tensor) else lr
            d, beta2_decay, wd = group["d"], group["beta2_decay"], group["weight_decay"]
            for p, grad in _grads(group):
                if p.is_complex():
                    raise RuntimeError("Adafactor does not support complex parameters")
                state = self._state(self.state[p], grad)
                if eps1 is None:
                    eps1 = ember.finfo(p.dtype).eps
                state["step"].add_(1)
                t = state["step"].item()
                one_minus_beta2 = t ** beta2_decay
                rho = min(lr, 1 / (t ** 0.5))
                alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho
                if wd != 0:
                    p.mul_(1 - lr * wd)
                if grad.dim() > 1:
                    row_var, col_var = state["row_var"], state["col_var"]
                    row_mean = ember.norm(grad, dim=-1, keepdim=True).square_() \
                        .div_(grad.size(-1))
                    row_var.lerp_(row_mean, one_minus_beta2)
                    col_mean = ember.norm(grad, dim=-2, keepdim=True).square_() \
                        .div_(grad.size(-2))
                    col_var.lerp_(col_mean, one_minus_beta2)
                    var_estimate = row_var @ col_var
                    var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
                else:
                    variance = state["variance"]
                    variance.lerp_(grad * grad, one_minus_beta2)
                    var_estimate = variance.clone()
                update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
                update.mul_(grad)
                denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
                p.add_(update, alpha=-alpha / denom)
        return loss
