"""fold, max_unpool, lp_pool, pdist, multi_margin_loss, gumbel_softmax, rrelu, embedding_bag.

Every function here is a composition of ember ops (scatter/gather, windowed pooling,
reductions), so each backend runs it and autograd follows without backend kernels.
"""
from __future__ import annotations

import math
from typing import Optional

import ember
from .. import amp as _amp

__all__ = ["fold", "max_unpool1d", "max_unpool2d", "lp_pool1d", "lp_pool2d", "pdist",
           "multi_margin_loss", "gumbel_softmax", "rrelu", "rrelu_", "embedding_bag"]


def _F():
    # NOTE: imported lazily: functional.py star-imports this module at its end
    from . import functional
    return functional


# ---------------------------------------------------------------------------------- fold
def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of ``unfold``: (N, C*kh*kw, L) -> (N, C, H, W), overlaps summed.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.fold(ember.ones(1, 4, 4), (3, 3), 2).sum().item()
    16.0
    """
    args = {"output_size": output_size, "kernel_size": kernel_size, "dilation": dilation,
            "padding": padding, "stride": stride}
    for name, value in args.items():
        # NOTE: torch's col2im refuses a length other than 1 or 2 with a RuntimeError
        if isinstance(value, (list, tuple)) and len(value) not in (1, 2):
            raise RuntimeError(f"It is expected {name} equals to 2, but got size {len(value)}")
    F = _F()
    out_hw, kernel, dil, pad, st = (F._ntuple(v, 2, k) for k, v in args.items())
    unbatched = input.dim() == 2
    if input.dim() not in (2, 3):
        raise RuntimeError("Input Error: Only unbatched (2D) or batched (3D) input Tensors are "
                           f"supported (got {input.dim()}D)")
    x = input.unsqueeze(0) if unbatched else input
    n, ckk, length = x.shape
    kk = kernel[0] * kernel[1]
    if ckk % kk != 0:
        raise RuntimeError("Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ckk} and "
                           f"kernel_size={kernel}")
    hp, wp = out_hw[0] + 2 * pad[0], out_hw[1] + 2 * pad[1]
    oh = (hp - dil[0] * (kernel[0] - 1) - 1) // st[0] + 1
    ow = (wp - dil[1] * (kernel[1] - 1) - 1) // st[1] + 1
    if oh * ow != length:
        raise RuntimeError(
            f"Given output_size={out_hw}, kernel_size={kernel}, dilation={dil}, "
            f"padding={pad}, stride={st}, expected size of input's dimension 2 to match the "
            f"calculated number of sliding blocks {oh} * {ow} = {oh * ow}, but got "
            f"input.size(2)={length}.")
    c = ckk // kk
    dev = x.device
    # flat position in the padded (hp, wp) image of every (kernel offset, block) column entry
    ki = ember.arange(kernel[0], device=dev).reshape(-1, 1, 1, 1) * dil[0]
    kj = ember.arange(kernel[1], device=dev).reshape(1, -1, 1, 1) * dil[1]
    bi = ember.arange(oh, device=dev).reshape(1, 1, -1, 1) * st[0]
    bj = ember.arange(ow, device=dev).reshape(1, 1, 1, -1) * st[1]
    pos = ((ki + bi) * wp + kj + bj).reshape(1, 1, kk * length)
    src = x.reshape(n, c, kk * length)
    canvas = ember.zeros((n, c, hp * wp), dtype=x.dtype, device=dev)
    out = canvas.scatter_add(2, pos.expand(n, c, kk * length), src).reshape(n, c, hp, wp)
    out = out[:, :, pad[0]:pad[0] + out_hw[0], pad[1]:pad[1] + out_hw[1]]
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------------------------- unpool
def _unpool_size(input, kernel, stride, padding, output_size, nd):
    spatial = tuple(input.shape[-nd:])
    default = tuple((spatial[i] - 1) * stride[i] + kernel[i] - 2 * padding[i]
                    for i in range(nd))
    if output_size is None:
        return default
    size = list(output_size.tolist() if isinstance(output_size, ember.Tensor) else output_size)
    if len(size) == nd + 2:
        size = size[2:]
    if len(size) != nd:
        raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                         f"elements, but it has a length of '{len(size)}'")
    for i in range(nd):
        lo, hi = default[i] - stride[i], default[i] + stride[i]
        if not lo < size[i] < hi:
            raise ValueError(f'invalid output_size "{size}" (dim {i} must be between {lo} and '
                             f"{hi})")
    return tuple(int(s) for s in size)


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nd):
    F = _F()
    kernel = F._ntuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None else F._ntuple(stride, nd, "stride")
    padding = F._ntuple(padding, nd, "padding")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"max_unpool{nd}d: expected {nd + 1}D or {nd + 2}D input, but got "
                           f"input of size: {list(input.shape)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError("Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    if indices.dtype != ember.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype}")
    out_size = _unpool_size(input, kernel, stride, padding, output_size, nd)
    plane = math.prod(out_size)
    lead = tuple(input.shape[:-nd])
    flat_idx = indices.reshape(lead + (-1,))
    if flat_idx.numel() and (bool((flat_idx < 0).any()) or bool((flat_idx >= plane).any())):
        raise RuntimeError("Found an invalid max index: "
                           f"{int(flat_idx[(flat_idx < 0) | (flat_idx >= plane)][0])} "
                           f"(output volumes are of size {'x'.join(map(str, out_size))})")
    zeros = ember.zeros(lead + (plane,), dtype=input.dtype, device=input.device)
    out = zeros.scatter(-1, flat_idx, input.reshape(lead + (-1,)))
    return out.reshape(lead + out_size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Place each value at the position ``max_pool1d(..., return_indices=True)`` took it from;
    zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1)


@_amp.float32_op
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool2d``: values go back to their indices, zeros elsewhere.

    >>> import ember
    >>> F = ember.nn.functional
    >>> x = ember.arange(16.).reshape(1, 1, 4, 4)
    >>> out, idx = F.max_pool2d(x, 2, return_indices=True)
    >>> F.max_unpool2d(out, idx, 2).sum().item()
    40.0
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2)


# ---------------------------------------------------------------------------------- lp_pool
def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, nd):
    F = _F()
    kernel = F._ntuple(kernel_size, nd, "kernel_size")
    if norm_type == math.inf:
        return F._max_pool(input.abs(), kernel, stride, 0, 1, ceil_mode, False, nd)
    if norm_type == -math.inf:
        return -F._max_pool(-input.abs(), kernel, stride, 0, 1, ceil_mode, False, nd)
    avg = F._avg_pool(input.pow(norm_type), kernel, stride, 0, ceil_mode, True, None, nd)
    # NOTE: torch takes sign(avg) * relu(|avg|) before the root, so a window whose mean is
    # zero gets a zero gradient there rather than the root's infinite one
    return (ember.sign(avg) * F.relu(avg.abs())).mul(math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling: ``(sum over window of x**p) ** (1/p)`` over the last dim."""
    if isinstance(kernel_size, (list, tuple)) and len(kernel_size) != 1:
        raise ValueError(f"lp_pool1d: kernel_size must be an int, got {kernel_size}")
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling over (kh, kw) windows of the last two dims.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.lp_pool2d(ember.ones(1, 1, 2, 2), 2, 2).item()
    2.0
    """
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2)


# ---------------------------------------------------------------------------------- pdist
@_amp.float32_op
def pdist(input, p: float = 2):
    """p-norm distance between every pair of rows of an (N, M) input: the N*(N-1)/2 entries
    above the diagonal of ``cdist(input, input)``, row by row.

    >>> import ember
    >>> ember.nn.functional.pdist(ember.tensor([[0., 0.], [3., 4.]])).tolist()
    [5.0]
    """
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if not input.is_floating_point():
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    n = input.shape[0]
    pairs = ember.triu_indices(n, n, 1, device=input.device)
    diff = (input[pairs[0]] - input[pairs[1]]).abs()
    if p == 0:
        # a count of differing coordinates: zero gradient, but still part of the graph
        return ((diff != 0).to(input.dtype) + diff * 0).sum(-1)
    if p == math.inf:
        return diff.amax(-1) if diff.shape[-1] else diff.sum(-1)
    if p == 1:
        return diff.sum(-1)
    # NOTE: torch gives a coordinate that does not differ a zero gradient, even for p < 1
    # where |d| ** p has an infinite slope at 0
    moved = diff > 0
    total = _where(moved, _where(moved, diff, 1.0).pow(p), 0.0).sum(-1)
    # NOTE: torch's pdist backward gives a zero gradient for a zero distance; keep the root
    # away from 0 there so no 0 * inf turns it into nan
    nonzero = total > 0
    safe = _where(nonzero, total, 1.0)
    return _where(nonzero, safe.pow(1.0 / p), 0.0)


def _where(cond, a, b):
    return _F()._where(cond, a, b)


# ---------------------------------------------------------------------------------- losses
@_amp.float32_op
def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean"):
    """Multi-class hinge loss: mean over classes i != y of ``w[y] * max(0, margin - x[y] +
    x[i]) ** p``.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.multi_margin_loss(ember.tensor([[0.1, 0.2, 0.4, 0.8]]), ember.tensor([3])).item()
    0.3249...
    """
    F = _F()
    reduction = F._legacy_reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError(f"weight must be one-dimensional, got {weight.dim()}-dimensional")
    if input.dim() > 2 or (input.dim() == 2 and input.shape[1] == 0):
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {list(input.shape)}")
    x = input.reshape(1, -1) if input.dim() < 2 else input
    t = target.reshape(-1)
    n, c = x.shape
    if t.shape[0] != n:
        raise RuntimeError(f"inconsistent target size, expected {n} but got "
                           f"{list(target.shape)}")
    if t.numel() and (bool((t < 0).any()) or bool((t >= c).any())):
        raise RuntimeError("target out of range")
    x_y = x.gather(1, t.reshape(-1, 1))
    z = (x - x_y + margin).clamp(min=0)
    # the target's own class is no violation: drop its (margin) term
    own = ember.arange(c, device=x.device).reshape(1, c) == t.reshape(-1, 1)
    z = F._where(own, 0.0, z)
    h = z if p == 1 else z * z
    if weight is not None:
        h = h * weight[t].reshape(-1, 1)
    loss = h.sum(1) / c
    if input.dim() < 2 and reduction == "none":
        loss = loss.reshape(target.shape)
    return F._reduce(loss, reduction)


# ---------------------------------------------------------------------------------- random
def gumbel_softmax(logits, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1):
    """A sample from the Gumbel-softmax (concrete) distribution; with ``hard=True`` a one-hot
    vector whose gradient is the soft sample's (straight-through).

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.gumbel_softmax(ember.zeros(2, 5), hard=True).sum(-1).tolist()
    [1.0, 1.0]
    """
    # NOTE: torch's cpu exponential_ is -log1p(-u) of a float64 uniform u, rounded to the
    # tensor's dtype; drawing it that way makes cpu samples equal to torch's after manual_seed
    with ember.no_grad():
        u = ember.empty(tuple(logits.shape), dtype=ember.float64, device=logits.device)
        expo = (-(-u.uniform_()).log1p()).to(logits.dtype)
    gumbels = -expo.log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim, keepdim=True)
    y_hard = ember.zeros_like(logits).scatter(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def _rrelu(input, lower, upper, training):
    F = _F()
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return F.leaky_relu(input, (lower + upper) / 2)
    neg = input <= 0
    count = int(neg.sum())
    # NOTE: torch draws one float64 uniform per non-positive element, in order; drawing the
    # same way gives torch's slopes on cpu after the same manual_seed
    with ember.no_grad():
        slopes = ember.empty((count,), dtype=ember.float64, device=input.device)
        slopes = slopes.uniform_(lower, upper).to(input.dtype)
        noise = ember.ones_like(input).masked_scatter(neg, slopes)
    return input * noise


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    """Randomised leaky ReLU: negative inputs are scaled by a slope drawn from U(lower, upper)
    in training and by (lower + upper) / 2 in eval.

    >>> import ember
    >>> ember.nn.functional.rrelu(ember.tensor([-8.0, 2.0])).tolist()
    [-1.833333...
    """
    out = _rrelu(input, lower, upper, training)
    if inplace:
        input.copy_(out)
        return input
    return out


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    """In-place ``rrelu``."""
    return rrelu(input, lower, upper, training, True)


# ---------------------------------------------------------------------------------- embedding
def _bag_ids(offsets, n, num_bags, device):
    """Bag number of each of the n flattened indices (offsets sorted, starting at 0)."""
    pos = ember.arange(n, device=device).reshape(-1, 1)
    return (pos >= offsets[:num_bags].reshape(1, -1)).to(ember.int64).sum(1) - 1


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights=None, include_last_offset: bool = False,
                  padding_idx: Optional[int] = None):
    """Sums, means or maxima of bags of embedding rows.

    sum and mean add rows into their bags with one ``index_add``; max compares the rows
    through a (bags, indices, dim) mask, so it costs memory proportional to that product.

    >>> import ember
    >>> F = ember.nn.functional
    >>> w = ember.arange(6.).reshape(3, 2)
    >>> F.embedding_bag(ember.tensor([0, 2, 1]), w, ember.tensor([0, 2]), mode="sum").tolist()
    [[4.0, 6.0], [2.0, 3.0]]
    """
    F = _F()
    if weight.dim() != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight.dim()}")
    if input.dtype not in (ember.int64, ember.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.type()} instead "
                           "(while checking arguments for embedding_bag)")
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is "
                         f"not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode}")
    if scale_grad_by_freq and mode == "max":
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. "
                                  "per_sample_weights is only supported for mode='sum' "
                                  f"(got mode='{mode}'). Please open a feature request on "
                                  "GitHub.")
    dev = weight.device
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found "
                             f"offsets of type {type(offsets)}")
        num_bags, length = input.shape
        offsets = ember.arange(num_bags, device=dev) * length
        include_last_offset = False
        idx = input.reshape(-1)
        psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.dim() != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        idx, psw = input, per_sample_weights
        num_bags = offsets.shape[0] - (1 if include_last_offset else 0)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()}")
    idx = idx.to(ember.int64)
    offsets = offsets.to(ember.int64)
    n = idx.shape[0]
    if num_bags > 0 and int(offsets[0]) != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(offsets[0])}")
    if num_bags > 0 and int(offsets[num_bags - 1]) > n:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length ({n}), but got "
                           f"offsets[-1] of {int(offsets[num_bags - 1])}")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise AssertionError("padding_idx must be within the number of embeddings")
        padding_idx %= weight.shape[0]
    if max_norm is not None:
        F.embedding(idx, weight, max_norm=max_norm, norm_type=norm_type)  # renorms in place
    num = weight.shape[0]
    if n and bool(((idx < 0) | (idx >= num)).any()):
        at = int(((idx < 0) | (idx >= num)).nonzero()[0, 0])
        raise RuntimeError(f"Index {at} of input takes value {int(idx[at])} which is not in "
                           f"the valid range [0, {num})")
    dim = weight.shape[1]
    rows = weight[idx]  # (n, dim)
    bags = _bag_ids(offsets, n, num_bags, dev)
    keep = ember.ones((n,), dtype=ember.bool, device=dev)
    if include_last_offset:
        # indices past the last offset belong to no bag
        keep = keep & (ember.arange(n, device=dev) < offsets[num_bags])
    if padding_idx is not None:
        keep = keep & (idx != padding_idx)
    bags = F._where(keep, bags, 0)
    if mode == "max":
        member = (bags.reshape(1, -1) == ember.arange(num_bags, device=dev).reshape(-1, 1))
        member = (member & keep.reshape(1, -1)).unsqueeze(-1)  # (bags, n, 1)
        lowest = ember.full((), -math.inf, dtype=weight.dtype, device=dev)
        vals = ember.where(member, rows.unsqueeze(0), lowest)
        if n == 0:
            return ember.zeros((num_bags, dim), dtype=weight.dtype, device=dev)
        # NOTE: max with indices sends the gradient to one row per (bag, feature), as torch
        # does; an empty bag gives zeros
        out = vals.max(1)[0]
        return F._where(member.any(1), out, 0.0)
    contrib = rows if psw is None else rows * psw.reshape(-1, 1).to(rows.dtype)
    contrib = F._where(keep.reshape(-1, 1), contrib, 0.0)
    out = ember.zeros((num_bags, dim), dtype=weight.dtype, device=dev)
    out = out.index_add(0, bags, contrib)
    if mode == "mean":
        counts = ember.zeros((num_bags,), dtype=weight.dtype, device=dev)
        counts = counts.index_add(0, bags, keep.to(weight.dtype))
        out = out / counts.clamp(min=1).reshape(-1, 1)
    return out
