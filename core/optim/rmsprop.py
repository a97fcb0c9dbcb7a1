"""RMSprop, torch's single-tensor update rule exactly (``torch.optim.RMSprop``)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import (Optimizer, _no_grad_step, _check_lr, _check_nonnegative, _grads,
                        _advance_state, _as_real)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), with optional centering, momentum and L2 weight decay.

    Per parameter, with gradient ``g``::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - lerp(gavg, g, 1 - alpha)**2) if centered else sqrt(v);  avg += eps
        buf = momentum * buf + g / avg;  p -= lr * buf     (momentum > 0)
        p -= lr * g / avg                                  (otherwise)

    Example::

        >>> opt = ember.optim.RMSprop(model.parameters(), lr=1e-2, alpha=0.99)
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check_nonnegative("epsilon", eps)
        _check_nonnegative("momentum", momentum)
        _check_nonnegative("weight_decay", weight_decay)
        _check_nonnegative("alpha", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        """Perform one RMSprop step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            wd, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
            buffers = (("square_avg",) + (("momentum_buffer",) if momentum > 0 else ())
                       + (("grad_avg",) if centered else ()))
            for p, grad in _grads(group):
                state = _advance_state(self.state[p], p, *buffers)
                p, grad, state = _as_real(p, grad, state)
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
                if centered:
                    grad_avg = state["grad_avg"]
                    grad_avg.lerp_(grad, 1 - alpha)
                    avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
                else:
                    avg = ember.sqrt(square_avg)
                avg = avg.add_(eps)
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(momentum).addcdiv_(grad, avg)
                    p.add_(buf, alpha=-lr)
                else:
                    p.addcdiv_(grad, avg, value=-lr)
        return loss
