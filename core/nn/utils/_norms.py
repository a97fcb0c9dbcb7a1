"""Helpers shared by the weight- and spectral-norm utilities (old hook style and new
parametrizations): the same arithmetic, so both give torch's numbers."""
from __future__ import annotations

from typing import Optional

import ember

from .. import functional as F


def norm_except_dim(v, dim: Optional[int]):
    """2-norm of ``v`` over every dim but ``dim``, shaped to broadcast against ``v``; the norm
    of the whole tensor (0-d) when ``dim`` is None or -1, as torch's weight norm does."""
    if dim is None or dim == -1:
        return (v * v).sum().sqrt()
    dim = dim % v.dim()
    others = tuple(d for d in range(v.dim()) if d != dim)
    if not others:
        return v.abs()
    return (v * v).sum(others, keepdim=True).sqrt()


def weight_norm_value(g, v, dim: Optional[int]):
    return v * (g / norm_except_dim(v, dim))


def reshape_weight_to_matrix(weight, dim: int):
    """The weight as a (size of ``dim``) x (everything else) matrix."""
    if dim != 0:
        perm = [dim] + [d for d in range(weight.dim()) if d != dim]
        weight = weight.permute(*perm)
    return weight.reshape(weight.shape[0], -1)


def normalize(x, eps: float):
    return F.normalize(x, dim=0, eps=eps)


def random_unit(n: int, like, eps: float):
    return normalize(ember.randn(n, dtype=like.dtype, device=like.device), eps)
