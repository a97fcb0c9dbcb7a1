"""The sparse-gradient updates of SGD, Adagrad and SparseAdam, torch's rules exactly: only the
rows (entries) a sparse gradient names are read and written, through dense ember ops."""
from __future__ import annotations

import math

import ember

__all__ = ["add_sparse_", "adagrad_step_", "sparse_adam_step_"]


def _rows(grad):
    """(index tuple, values) of the coalesced sparse ``grad``."""
    g = grad.coalesce()
    return tuple(g._idx.unbind(0)), g._vals


def add_sparse_(param, grad, alpha=1.0):
    """``param += alpha * grad`` for a sparse ``grad`` (SGD without momentum)."""
    idx, vals = _rows(grad)
    if idx[0].numel():
        param.index_put_(idx, vals * alpha if alpha != 1 else vals, accumulate=True)
    return param


def adagrad_step_(param, grad, state_sum, clr, eps):
    """torch's sparse Adagrad step: the accumulated squares and the parameter change only at the
    gradient's entries."""
    idx, vals = _rows(grad)
    if not idx[0].numel():
        return
    state_sum.index_put_(idx, vals * vals, accumulate=True)
    std = state_sum[idx].sqrt() + eps
    param.index_put_(idx, vals / std * -clr, accumulate=True)


def sparse_adam_step_(param, grad, exp_avg, exp_avg_sq, step, lr, beta1, beta2, eps):
    """torch's SparseAdam step (torch.optim._functional.sparse_adam) for one parameter."""
    idx, vals = _rows(grad)
    if not idx[0].numel():
        return
    old_avg = exp_avg[idx]
    avg_update = (vals - old_avg) * (1 - beta1)
    exp_avg.index_put_(idx, avg_update, accumulate=True)
    old_sq = exp_avg_sq[idx]
    sq_update = (vals * vals - old_sq) * (1 - beta2)
    exp_avg_sq.index_put_(idx, sq_update, accumulate=True)
    numer = avg_update + old_avg
    denom = (sq_update + old_sq).sqrt() + eps
    bias1 = 1 - beta1 ** step
    bias2 = 1 - beta2 ** step
    step_size = lr * math.sqrt(bias2) / bias1
    param.index_put_(idx, numer / denom * -step_size, accumulate=True)


def is_sparse(t) -> bool:
    return t.__class__ is not ember.Tensor and t.is_sparse
