"""rms_norm, local_response_norm, alpha dropouts, channel_shuffle, multilabel_margin_loss,
triplet_margin_with_distance_loss and the in-place celu_/selu_.

Each is a composite of ember ops (and of other ``F`` functions), so every backend runs it and
autograd follows without kernels.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Optional, Sequence

import ember
from .. import amp as _amp

__all__ = ["rms_norm", "local_response_norm", "alpha_dropout", "feature_alpha_dropout",
           "channel_shuffle", "native_channel_shuffle", "multilabel_margin_loss",
           "triplet_margin_with_distance_loss", "celu_", "selu_"]


def _F():
    # NOTE: imported lazily: functional.py star-imports this module at its end
    from . import functional
    return functional


# ---------------------------------------------------------------------------------- rms_norm
def rms_norm(input, normalized_shape: Sequence[int], weight=None, eps: Optional[float] = None):
    """``x / sqrt(mean(x**2) + eps) * weight`` over the trailing ``normalized_shape`` dims;
    ``eps=None`` means ``ember.finfo(input.dtype).eps``, as torch.

    >>> import ember
    >>> ember.nn.functional.rms_norm(ember.tensor([[3.0, 4.0]]), [2]).shape
    ember.Size([1, 2])
    """
    if isinstance(normalized_shape, numbers.Integral):
        raise TypeError(f"rms_norm(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    normalized_shape = tuple(int(s) for s in normalized_shape)
    nd = len(normalized_shape)
    if tuple(input.shape[input.dim() - nd:]) != normalized_shape or input.dim() < nd:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                           f"shape [*, {', '.join(map(str, normalized_shape))}], but got input "
                           f"of size{list(input.shape)}")
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise RuntimeError(f"Expected weight to be of same shape as normalized_shape, but got "
                           f"weight of shape {list(weight.shape)} and normalized_shape = "
                           f"{list(normalized_shape)}")
    if eps is None:
        eps = ember.finfo(input.dtype).eps
    dims = tuple(range(input.dim() - nd, input.dim()))
    # NOTE: like torch's cpu kernel, half-precision inputs are normalised (and weighted) in
    # float32 and rounded once
    low_precision = input.dtype in (ember.float16, ember.bfloat16)
    x = input.float() if low_precision else input
    out = x * ((x * x).mean(dim=dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * (weight.float() if low_precision else weight)
    return out.to(input.dtype)


# ---------------------------------------------------------------------------------- LRN
def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    """Normalise each element by the mean of squares over ``size`` neighbouring channels."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    F = _F()
    sizes = tuple(input.shape)
    # NOTE: torch pools a (N, 1, C, ...) view with a (size, 1[, 1]) window; one 2-d pool over
    # the flattened spatial dims is the same sum, so dims > 3 need no 3-d pooling
    div = (input * input).reshape(sizes[0], 1, sizes[1], -1)
    div = F.pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = F.avg_pool2d(div, (size, 1), stride=1).reshape(sizes)
    return input / (div * alpha + k) ** beta


# ---------------------------------------------------------------------------------- alpha dropout
# NOTE: SELU's negative saturation value, -scale * alpha, as torch's ATen dropout uses it
_SELU_ALPHA_PRIME = 1.7580993408473766


def _alpha_dropout(input, p, training, inplace, feature):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0.0 or not training or input.numel() == 0:
        return input
    if feature and input.dim() < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 1.0:
        out = input * ember.zeros_like(input)
    else:
        shape = (tuple(input.shape[:2]) + (1,) * (input.dim() - 2) if feature
                 else tuple(input.shape))
        # NOTE: torch's draws and roundings: bernoulli(1 - p), then b from the raw mask, so the
        # numbers match torch's on cpu under the same seed
        noise = ember.empty(shape, dtype=input.dtype, device=input.device).bernoulli_(1.0 - p)
        a = 1.0 / math.sqrt((_SELU_ALPHA_PRIME ** 2 * p + 1) * (1 - p))
        b = (noise - 1.0) * (_SELU_ALPHA_PRIME * a) + _SELU_ALPHA_PRIME * a * p
        out = input * (noise * a) + b
    if inplace:
        input.copy_(out)
        return input
    return out


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout that keeps SELU's self-normalising mean and variance (dropped values go to
    SELU's negative saturation, then an affine correction)."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """``alpha_dropout`` of whole channels (dim 1)."""
    return _alpha_dropout(input, p, training, inplace, feature=True)


# ---------------------------------------------------------------------------------- shuffles
def channel_shuffle(input, groups: int):
    """Split dim 1 into ``groups`` groups and interleave them (ShuffleNet).

    >>> import ember
    >>> ember.nn.functional.channel_shuffle(ember.arange(4.).reshape(1, 4, 1), 2).flatten()
    tensor([0., 2., 1., 3.])
    """
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    channels = input.shape[1]
    if channels % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {channels} "
                           f"channels and {groups} groups.")
    n, rest = input.shape[0], tuple(input.shape[2:])
    x = input.reshape((n, groups, channels // groups) + rest).transpose(1, 2)
    return x.reshape(tuple(input.shape))


native_channel_shuffle = channel_shuffle


# ---------------------------------------------------------------------------------- losses
@_amp.float32_op
def multilabel_margin_loss(input, target, size_average=None, reduce=None,
                           reduction: str = "mean"):
    """Multi-class multi-label hinge loss: each row of ``target`` lists class indices, ended by
    the first -1; every (target, non-target) pair adds ``max(0, 1 - (x[y] - x[i])) / C``."""
    F = _F()
    reduction = F._legacy_reduction(size_average, reduce, reduction)
    if input.dim() > 2 or (input.dim() and input.numel() == 0):
        raise RuntimeError(f"multilabel_margin_loss: Expected non-empty vector or matrix with "
                           f"optional 0-dim batch size, but got: {list(input.shape)}")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(f"multilabel_margin_loss: inconsistent target size: "
                           f"{list(target.shape)} for input of size: {list(input.shape)}")
    if target.dtype != ember.int64:
        raise RuntimeError(f"multilabel_margin_loss: expected scalar type Long but found "
                           f"{target.dtype}")
    x = input.reshape(-1, input.shape[-1]) if input.dim() else input.reshape(1, 1)
    y = target.reshape(x.shape)
    classes = x.shape[1]
    if y.numel() and (bool((y < -1).any()) or bool((y >= classes).any())):
        raise RuntimeError("multilabel_margin_loss: argument #2 'target' is out of range")
    # the targets of a row are the entries before its first -1
    valid = (y >= 0).to(ember.int64).cumprod(dim=1).to(ember.bool)
    safe = ember.where(valid, y, ember.zeros_like(y))
    is_target = ((safe.unsqueeze(-1) == ember.arange(classes, device=y.device))
                 & valid.unsqueeze(-1)).any(dim=1)
    target_scores = x.gather(1, safe)
    hinge = (1.0 - target_scores.unsqueeze(-1) + x.unsqueeze(1)).clamp(min=0.0)
    pairs = valid.unsqueeze(-1) & ~is_target.unsqueeze(1)
    loss = ember.where(pairs, hinge, ember.zeros_like(hinge)).sum(dim=(1, 2)) / classes
    if input.dim() < 2:
        loss = loss.reshape(())
    return F._reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *,
                                      distance_function: Optional[Callable] = None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean"):
    """Triplet loss with a custom distance (default ``pairwise_distance``)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a_dim, p_dim, n_dim = anchor.dim(), positive.dim(), negative.dim()
    if not a_dim == p_dim == n_dim:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a_dim}D, positive "
                           f"{p_dim}D, and negative {n_dim}D inputs")
    distance = distance_function if distance_function is not None else _F().pairwise_distance
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = ember.minimum(dist_neg, distance(positive, negative))
    loss = (margin + dist_pos - dist_neg).clamp(min=0)
    return _F()._reduce(loss, reduction)


# ---------------------------------------------------------------------------------- in-place
def celu_(input, alpha: float = 1.0):
    """In-place ``celu``."""
    return _F().celu(input, alpha, inplace=True)


def selu_(input):
    """In-place ``selu``."""
    return _F().selu(input, inplace=True)
