"""Averaged SGD: torch's update rule exactly (``torch.optim.ASGD``)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import (Optimizer, _no_grad_step, _check_lr, _check_nonnegative, _host_scalar,
                        _grads, _as_real)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky), as ``torch.optim.ASGD``.

    Per parameter, at step ``t``, with ``eta`` and ``mu`` from the previous step::

        g = g + weight_decay * p
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)            (ax = p while mu == 1)
        eta = lr / (1 + lambd * lr * t)**alpha;  mu = 1 / max(1, t - t0)

    Example::

        >>> opt = ember.optim.ASGD(model.parameters(), lr=1e-2, t0=100)

    ``foreach``, ``capturable`` and ``differentiable`` are accepted for torch compatibility
    and ignored.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("weight_decay", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        """Perform one ASGD step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, lambd, alpha = group["lr"], group["lambd"], group["alpha"]
            t0, wd = group["t0"], group["weight_decay"]
            for p, grad in _grads(group):
                state = self.state[p]
                if len(state) == 0:
                    # NOTE: unlike the other optimizers' steps, torch keeps ASGD's scalars on
                    # the parameter's device
                    state["step"] = _host_scalar(0.0, p.device)
                    state["eta"] = _host_scalar(lr, p.device)
                    state["mu"] = _host_scalar(1.0, p.device)
                    state["ax"] = ember.zeros_like(p)
                state["step"].add_(1)
                p, grad, state = _as_real(p, grad, state)
                step = state["step"].item()
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                # NOTE: eta and mu are float32 tensors in torch; reading them back as floats
                # reproduces torch's rounding of the decay and averaging factors.
                eta = state["eta"].item()
                p.mul_(1 - lambd * eta)
                p.add_(grad, alpha=-eta)
                ax = state["ax"]
                mu = state["mu"].item()
                if mu != 1:
                    ax.add_(p.sub(ax).mul_(mu))
                else:
                    ax.copy_(p)
                state["eta"].fill_(lr / ((1 + lambd * lr * step) ** alpha))
                state["mu"].fill_(1 / max(1, step - t0))
        return loss
