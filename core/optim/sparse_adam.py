"""SparseAdam (``torch.optim.SparseAdam``): Adam's moments and parameter updated only where a
sparse gradient (``nn.Embedding(sparse=True)``) has entries, torch's rule exactly."""
from __future__ import annotations

from typing import Any, Iterable

import ember

from .optimizer import Optimizer, _no_grad_step, _check_betas

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Adam for sparse gradients, as ``torch.optim.SparseAdam``: the moments and the parameter
    change only at the gradient's entries; a dense gradient raises torch's error.

    Example::

        >>> opt = ember.optim.SparseAdam(model.parameters(), lr=1e-3)
    """

    _accepts_sparse_grads = True  # (torch's sparse update rule)

    def __init__(self, params: Iterable[Any], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        if isinstance(lr, ember.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        complex_params = [[i, j] for i, g in enumerate(self.param_groups)
                          for j, p in enumerate(g["params"]) if p.dtype.is_complex]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    @_no_grad_step
    def step(self, closure=None):
        """Perform one SparseAdam step; returns the closure's loss, if a closure is given."""
        from ..sparse.optim import is_sparse, sparse_adam_step_
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            lr = group["lr"]
            lr = lr.item() if isinstance(lr, ember.Tensor) else lr
            todo = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not is_sparse(p.grad):
                    raise RuntimeError("SparseAdam does not support dense gradients, please "
                                       "consider Adam instead")
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = ember.zeros_like(p)
                    state["exp_avg_sq"] = ember.zeros_like(p)
                state["step"] += 1
                todo.append((p, state))
            for p, state in todo:
                grad = p.grad if not group["maximize"] else -p.grad
                sparse_adam_step_(p, grad, state["exp_avg"], state["exp_avg_sq"], state["step"],
                                  lr, beta1, beta2, group["eps"])
        return loss
