"""Stochastic gradient descent, torch's update rule exactly (``torch.optim.SGD``)."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from ..ops.nn import sgd_momentum_update_
from .optimizer import Optimizer, _no_grad_step, _check_lr

__all__ = ["SGD"]

_NUMBERS = (int, float)


class SGD(Optimizer):
    """SGD with optional momentum, dampening, Nesterov momentum and L2 weight decay.

    Per parameter, with ``g`` its gradient (negated when ``maximize``)::

        g = g + weight_decay * p
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g (later steps)
        g = g + momentum * buf if nesterov else buf
        p = p - lr * g

    Example::

        >>> opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> loss.backward(); opt.step(); opt.zero_grad()

    ``foreach``, ``differentiable`` and ``fused`` are accepted for torch compatibility and ignored.
    """

    _accepts_sparse_grads = True  # (torch's sparse update rule)

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    @_no_grad_step
    def step(self, closure=None):
        """Perform one SGD step; returns the closure's loss, if a closure is given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr, momentum = group["lr"], group["momentum"]
            dampening, wd = group["dampening"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad if not group["maximize"] else -p.grad
                if wd != 0:
                    grad = grad.add(p, alpha=wd)
                if grad.__class__ is not ember.Tensor and grad.is_sparse:
                    if momentum == 0:
                        from ..sparse.optim import add_sparse_
                        add_sparse_(p, grad, -lr)
                        continue
                    grad = grad.to_dense()  # (momentum: the same numbers, a dense buffer)
                if momentum == 0:
                    p.add_(grad, alpha=-lr)
                    continue
                state = self.state[p]
                buf = state.get("momentum_buffer")
                damp = dampening
                if buf is None:
                    # torch's first step takes buf = grad: what the update gives from a zero
                    # buffer without dampening (0 * momentum + grad; a -0.0 comes out as 0.0)
                    buf = state["momentum_buffer"] = ember.zeros_like(grad)
                    damp = 0
                # (one op, which a backend may fuse, for tensors of one dtype and shape)
                fusable = (buf._dtype is p._dtype is grad._dtype
                           and buf._data.shape == p._data.shape
                           and type(lr) in _NUMBERS and type(momentum) in _NUMBERS)
                update = sgd_momentum_update_ if fusable else sgd_momentum_update_.decomposition
                update(p, grad, buf, lr, momentum, damp, group["nesterov"])
        return loss
