"""Rprop (resilient backpropagation): torch's update rule exactly (``torch.optim.Rprop``)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import (Optimizer, _no_grad_step, _scalar_step, _check_lr, _grads, _as_real,
                        _full_per_part)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation, as ``torch.optim.Rprop``: each element's step size grows by
    ``etaplus`` while its gradient keeps its sign, and shrinks by ``etaminus`` (with the
    update skipped) when it flips; ``p -= sign(g) * step_size``.

    Example::

        >>> opt = ember.optim.Rprop(model.parameters(), lr=1e-2)

    ``foreach``, ``capturable`` and ``differentiable`` are accepted for torch compatibility
    and ignored.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        """Perform one Rprop step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            for p, grad in _grads(group):
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar_step()
                    state["prev"] = ember.zeros_like(p)
                    state["step_size"] = _full_per_part(grad, group["lr"])
                state["step"].add_(1)
                p, grad, state = _as_real(p, grad, state)
                prev, step_size = state["prev"], state["step_size"]
                sign = grad.mul(prev).sign()
                factor = ember.where(sign > 0, ember.full_like(sign, etaplus),
                                     ember.where(sign < 0, ember.full_like(sign, etaminus),
                                                 ember.ones_like(sign)))
                step_size.mul_(factor).clamp_(step_size_min, step_size_max)
                # a sign flip skips this element's update, and forgets the gradient, so the
                # next step sees no flip
                grad = ember.where(sign < 0, ember.zeros_like(grad), grad)
                p.addcmul_(grad.sign(), step_size, value=-1)
                prev.copy_(grad)
        return loss
