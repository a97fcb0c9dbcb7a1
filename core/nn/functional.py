"""``ember.nn.functional``: layers and losses as functions, built only from public tensor ops.

Everything here is a composite of ember tensor ops, so every backend runs it and autograd flows
through it. Convolution and pooling use im2col (``ember.sliding_windows`` views) and
a single GEMM per call; nothing loops over pixels in Python.

>>> import ember
>>> import ember.nn.functional as F
>>> F.relu(ember.tensor([-1.0, 2.0]))
tensor([0., 2.])
"""
from __future__ import annotations

import functools
import math
import numbers
import struct
import warnings
from typing import Optional, Sequence

import ember

from .. import amp as _amp
from ..ops.nn import conv2d as _conv2d, max_pool2d_blocks as _max_pool2d_blocks
from ..ops.nn import cross_entropy_indices as _cross_entropy_indices, linear as _linear
from ..ops.nn import elu as _elu, hardsigmoid as _hardsigmoid, hardswish as _hardswish
from ..ops.indexing import _index_out_of_range
from ..ops.reduction import norm as _linalg_vector_norm

__all__ = [
    "linear", "bilinear", "conv1d", "conv2d", "conv_transpose2d", "unfold", "max_pool1d",
    "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "batch_norm", "layer_norm", "group_norm", "dropout", "dropout1d", "dropout2d", "embedding",
    "one_hot", "pad", "softmax", "log_softmax", "softmin", "relu", "relu6", "leaky_relu", "prelu",
    "gelu", "silu", "mish", "elu", "selu", "celu", "softplus", "softsign", "hardtanh",
    "hardsigmoid", "hardswish", "tanhshrink", "threshold", "tanh", "sigmoid", "logsigmoid",
    "glu", "normalize", "cosine_similarity", "pairwise_distance", "scaled_dot_product_attention",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
    "cosine_embedding_loss", "margin_ranking_loss", "multi_head_attention_forward",
    "instance_norm", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
    "pixel_shuffle", "pixel_unshuffle",
    "soft_margin_loss", "gaussian_nll_loss", "poisson_nll_loss", "hinge_embedding_loss",
    "softshrink", "hardshrink", "conv_transpose1d", "adaptive_max_pool1d", "adaptive_max_pool2d",
    "triplet_margin_loss", "multilabel_soft_margin_loss", "relu_", "elu_", "leaky_relu_",
    "hardtanh_", "threshold_",
]


# ---------------------------------------------------------------------------------- helpers
def _ntuple(x, n: int, name: str = "argument") -> tuple:
    if isinstance(x, (list, tuple)):
        if len(x) == 1:
            return tuple(x) * n
        if len(x) != n:
            raise ValueError(f"expected {name} to be a single int or a tuple of {n} ints, got {x}")
        return tuple(int(v) for v in x)
    return (int(x),) * n


def _where(cond, a, b):
    """``ember.where`` that accepts a Python number for either branch."""
    ref = a if isinstance(a, ember.Tensor) else b
    if not isinstance(a, ember.Tensor):
        a = ember.full((), a, dtype=ref.dtype, device=ref.device)
    if not isinstance(b, ember.Tensor):
        b = ember.full((), b, dtype=ref.dtype, device=ref.device)
    return ember.where(cond, a, b)


def _inplace_variant(position: int):
    """Give an activation torch's ``inplace=True``: the result is written into the input (autograd
    records a ``copy_``). ``position`` is the index of ``inplace`` among the positional args."""
    def wrap(fn):
        @functools.wraps(fn)
        def f(input, *args, **kwargs):
            inplace = kwargs.pop("inplace", False)
            if len(args) >= position:
                inplace = args[position - 1]
                args = args[:position - 1] + args[position:]
            if not inplace:
                return fn(input, *args, **kwargs)
            # NOTE: like torch's in-place autograd, compute from a copy of the original when the
            # backward needs it, since the input itself is about to be overwritten
            needs_grad = input.requires_grad and ember.is_grad_enabled()
            out = fn(input.clone() if needs_grad else input, *args, **kwargs)
            input.copy_(out)
            return input
        return f
    return wrap


def _reduce(loss, reduction: str):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _narrow(x, dim: int, start: int, stop: int, step: int = 1):
    index = [slice(None)] * x.dim()
    index[dim] = slice(start, stop, step)
    return x[tuple(index)]


def _channel_view(t, ndim: int, channel_dim: int = 1):
    """Reshape a per-channel vector (C,) so it broadcasts against an ndim-d input."""
    shape = [1] * ndim
    shape[channel_dim] = -1
    return t.reshape(shape)


# ---------------------------------------------------------------------------------- linear
def linear(input, weight, bias=None):
    """``y = x @ weight.T + bias``.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.linear(ember.ones(1, 2), ember.ones(3, 2)).shape
    ember.Size([1, 3])
    """
    return _linear(input, weight, bias)


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]``."""
    out_f, in1, in2 = weight.shape
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    tmp = ember.matmul(x1, weight.permute(1, 0, 2).reshape(in1, out_f * in2))
    out = (tmp.reshape(-1, out_f, in2) * x2.unsqueeze(1)).sum(-1)
    if bias is not None:
        out = out + bias
    return out.reshape(lead + (out_f,))


# ---------------------------------------------------------------------------------- padding
def pad(input, pad: Sequence[int], mode: str = "constant", value: Optional[float] = None):
    """Pad the last ``len(pad) // 2`` dims; ``pad`` lists (left, right) from the last dim back.

    Modes: 'constant' (negative pads crop), 'reflect', 'replicate', 'circular'.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.pad(ember.ones(1, 2), (1, 1)).tolist()
    [[0.0, 1.0, 1.0, 0.0]]
    """
    pad = [int(p) for p in pad]
    if _amp.active and (mode == "replicate" or (mode == "reflect" and len(pad) <= 4)):
        # (torch's cpu float32 list: reflection_pad1d/2d and replication_pad1d/2d/3d)
        input = _amp.widen("reflection_pad" if mode == "reflect" else "replication_pad", input)
    if len(pad) % 2:
        raise ValueError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.dim():
        raise ValueError("Padding length should be less than or equal to two times the input "
                         "dimension but got padding length {} and input of dimension {}"
                         .format(len(pad), input.dim()))
    if mode != "constant" and value not in (None, 0):
        raise ValueError(f"Padding mode \"{mode}\" doesn't take in value argument.")
    out = input
    for i in range(len(pad) // 2):
        dim = input.dim() - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        if left == 0 and right == 0:
            continue
        n = out.shape[dim]
        # negative pads crop first
        if left < 0 or right < 0:
            out = _narrow(out, dim, max(-left, 0), n - max(-right, 0))
            n = out.shape[dim]
            left, right = max(left, 0), max(right, 0)
        parts = []
        if mode == "constant":
            fill = 0.0 if value is None else value
            for width in (left, right):
                shape = list(out.shape)
                shape[dim] = width
                parts.append(ember.full(tuple(shape), fill, dtype=out.dtype, device=out.device)
                             if width else None)
        elif mode == "reflect":
            if left >= n or right >= n:
                raise RuntimeError(
                    f"Argument #4: Padding size should be less than the corresponding input "
                    f"dimension, but got: padding ({left}, {right}) at dimension {dim} of input "
                    f"{tuple(input.shape)}")
            parts = [_narrow(out, dim, 1, left + 1).flip([dim]) if left else None,
                     _narrow(out, dim, n - 1 - right, n - 1).flip([dim]) if right else None]
        elif mode == "replicate":
            def edge(start, width):
                shape = list(out.shape)
                shape[dim] = width
                return _narrow(out, dim, start, start + 1).expand(*shape)
            parts = [edge(0, left) if left else None, edge(n - 1, right) if right else None]
        elif mode == "circular":
            if left > n or right > n:
                raise ValueError("Padding value causes wrapping around more than once.")
            parts = [_narrow(out, dim, n - left, n) if left else None,
                     _narrow(out, dim, 0, right) if right else None]
        else:
            raise NotImplementedError(f"pad: unsupported mode '{mode}'")
        pieces = [p for p in (parts[0], out, parts[1]) if p is not None]
        out = ember.cat(pieces, dim)
    return out


# ---------------------------------------------------------------------------------- im2col
def _out_size(size: int, k: int, s: int, d: int) -> int:
    return (size - d * (k - 1) - 1) // s + 1


def _check_windows(shape, kernel, stride, dilation):
    """Raise torch's error when an (N, C, H, W) input has no complete window."""
    n, c, h, w = shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = _out_size(h, kh, sh, dh), _out_size(w, kw, sw, dw)
    if oh <= 0 or ow <= 0:
        raise RuntimeError(
            f"Calculated output size: ({oh}x{ow}). Output size is too small for input of spatial "
            f"size ({h}x{w}) with kernel ({kh}x{kw}), stride ({sh}x{sw}) and dilation "
            f"({dh}x{dw})")


def _windows(x, kernel, stride, dilation):
    """All sliding windows of an (N, C, H, W) tensor (already padded) as the (N, C, OH, OW, kh, kw)
    view ``ember.sliding_windows`` gives: no copy, and its backward is one strided add per
    kernel offset (col2im)."""
    _check_windows(x.shape, kernel, stride, dilation)
    return ember.sliding_windows(x, tuple(kernel), tuple(stride), tuple(dilation))


def _im2col(x, kernel, stride, dilation):
    """(N, C, H, W) -> columns (N, C*kh*kw, OH*OW) and (OH, OW)."""
    win = _windows(x, kernel, stride, dilation)  # (N, C, OH, OW, kh, kw)
    n, c, oh, ow, kh, kw = win.shape
    return win.permute(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow), (oh, ow)


def _conv_padding(padding, kernel, dilation, stride, nd: int):
    """Return per-dim (left, right) padding for a conv's ``padding`` argument."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                # NOTE: torch puts the odd extra element of 'same' padding on the right
                out.append((total // 2, total - total // 2))
            return out
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    return [(p, p) for p in _ntuple(padding, nd, "padding")]


def _pad_spatial(x, pads, value=0.0):
    """pads: list of (left, right) for the spatial dims in order."""
    if all(l == 0 and r == 0 for l, r in pads):
        return x
    flat = []
    for l, r in reversed(pads):
        flat += [l, r]
    return pad(x, flat, "constant", value)


def _conv_nd(input, weight, bias, stride, padding, dilation, groups, nd: int, name: str):
    unbatched = input.dim() == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    if input.dim() != nd + 2:
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = _ntuple(stride, nd, "stride")
    dilation = _ntuple(dilation, nd, "dilation")
    pads = _conv_padding(padding, kernel, dilation, stride, nd)
    n, c_in = input.shape[:2]
    c_out = weight.shape[0]
    if c_in != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
            f"{list(input.shape)} to have {weight.shape[1] * groups} channels, but got {c_in} "
            "channels instead")
    x = _pad_spatial(input, pads)
    if nd == 1:
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        kernel, stride, dilation = (1,) + kernel, (1,) + stride, (1,) + dilation
    if groups == 1:
        _check_windows(x.shape, kernel, stride, dilation)
        out = _conv2d(x, weight, bias, stride=stride, dilation=dilation)
    else:
        # one batched GEMM over the groups (rows = output pixels)
        win = _windows(x, kernel, stride, dilation)  # (N, C, OH, OW, kh, kw), a view
        oh, ow = win.shape[2:4]
        rows = win.permute(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, -1)
        ck = rows.shape[1] // groups
        rows = rows.reshape(n * oh * ow, groups, ck).transpose(0, 1)
        w = weight.reshape(groups, c_out // groups, ck).transpose(1, 2)
        out = ember.matmul(rows, w).transpose(0, 1)  # (N*OH*OW, G, C_out/G)
        out = out.reshape(n, oh, ow, c_out).permute(0, 3, 1, 2)
        if bias is not None:
            out = out + _channel_view(bias, out.dim())
        out = out.contiguous()  # torch returns NCHW-contiguous, so .view() works on the result
    if nd == 1:
        out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution (cross-correlation) over an (N, C, L) input."""
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) over an (N, C, H, W) input.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    return _conv_nd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _dilate_input(x, stride):
    """Insert (stride - 1) zeros between the elements of each spatial dim of (N, C, *spatial)."""
    for dim, s in zip(range(2, x.dim()), stride):
        if s == 1:
            continue
        size = x.shape[dim]
        zshape = list(x.shape)
        zshape.insert(dim + 1, s - 1)
        zeros = ember.zeros(tuple(zshape), dtype=x.dtype, device=x.device)
        x = ember.cat([x.unsqueeze(dim + 1), zeros], dim + 1)
        shape = list(x.shape)
        shape[dim:dim + 2] = [size * s]
        x = _narrow(x.reshape(shape), dim, 0, (size - 1) * s + 1)
    return x


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-d convolution: the gradient of conv2d with respect to its input.

    Computed as a stride-1 conv2d of the zero-dilated input with the flipped, transposed kernel.
    """
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    unbatched = input.dim() == 3
    out = _f3d._conv_transpose_nd(input.unsqueeze(0) if unbatched else input, weight, bias,
                                  stride, padding, output_padding, groups, dilation, 2, conv2d)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-d convolution, as a conv_transpose2d over a height-1 image."""
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    unbatched = input.dim() == 2
    x = (input.unsqueeze(0) if unbatched else input).unsqueeze(2)
    out = conv_transpose2d(x, weight.unsqueeze(2), bias, (1,) + _ntuple(stride, 1),
                           (0,) + _ntuple(padding, 1), (0,) + _ntuple(output_padding, 1), groups,
                           (1,) + _ntuple(dilation, 1)).squeeze(2)
    return out.squeeze(0) if unbatched else out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) -> (N, C*kh*kw, L) sliding blocks, as torch.nn.functional.unfold."""
    kernel = _ntuple(kernel_size, 2, "kernel_size")
    pads = [(p, p) for p in _ntuple(padding, 2, "padding")]
    unbatched = input.dim() == 3
    x = _pad_spatial(input.unsqueeze(0) if unbatched else input, pads)
    cols, _ = _im2col(x, kernel, _ntuple(stride, 2), _ntuple(dilation, 2))
    return cols.squeeze(0) if unbatched else cols


# ---------------------------------------------------------------------------------- pooling
def _pool_geometry(size, k, s, p, d, ceil_mode):
    """Output size and the extra right padding that ceil_mode needs (torch's rule)."""
    span = size + 2 * p - d * (k - 1) - 1
    if ceil_mode:
        out = -(-span // s) + 1
        # NOTE: torch drops a last window that would start inside the right padding
        if (out - 1) * s >= size + p:
            out -= 1
    else:
        out = span // s + 1
    extra = max(0, (out - 1) * s + d * (k - 1) + 1 - (size + 2 * p))
    return out, extra


def _pool_prepare(input, kernel_size, stride, padding, dilation, ceil_mode, nd, fill):
    kernel = _ntuple(kernel_size, nd, "kernel_size")
    stride = kernel if stride is None or (isinstance(stride, (list, tuple)) and not stride) \
        else _ntuple(stride, nd, "stride")
    padding = _ntuple(padding, nd, "padding")
    dilation = _ntuple(dilation, nd, "dilation")
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p}, kernel_size={k} and dilation={dilation[0]}")
    spatial = tuple(input.shape[-nd:])
    pads, outs = [], []
    for size, k, s, p, d in zip(spatial, kernel, stride, padding, dilation):
        out, extra = _pool_geometry(size, k, s, p, d, ceil_mode)
        outs.append(out)
        pads.append((p, p + extra))
    lead = tuple(input.shape[:-nd])
    x = input.reshape((-1, 1) + spatial)
    x = _pad_spatial(x, pads, fill)
    if nd == 1:
        x = x.unsqueeze(2)
        kernel, stride, dilation, padding = ((1,) + kernel, (1,) + stride, (1,) + dilation,
                                             (0,) + padding)
    return x, lead, kernel, stride, padding, dilation, spatial


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, nd):
    if nd == 3:  # volumes: see _functional_3d
        return _f3d._max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode,
                                return_indices)
    if input.is_floating_point():
        fill = float("-inf")
    else:
        raise NotImplementedError("max_pool: integer inputs are not supported")
    x, lead, kernel, stride, padding, dilation, spatial = _pool_prepare(
        input, kernel_size, stride, padding, dilation, ceil_mode, nd, fill)
    if (not return_indices and stride == kernel and not any(padding) and dilation == (1, 1)
            and x.shape[2] >= kernel[0] and x.shape[3] >= kernel[1]):
        # the common non-overlapping pool: one fused node (a backend may give it a kernel)
        out = _max_pool2d_blocks(x, kernel=kernel)
        return out.reshape(lead + ((out.shape[3],) if nd == 1 else tuple(out.shape[2:])))
    win = _windows(x, kernel, stride, dilation)  # (M, 1, OH, OW, kh, kw)
    m, _, oh, ow, kh, kw = win.shape
    win = win.reshape(m, 1, oh, ow, kh * kw)
    # NOTE: torch's max_pool sends the whole gradient to the first maximum of each window;
    # argmax + gather does the same (amax would split it between ties, e.g. after a ReLU).
    idx = win.argmax(dim=-1, keepdim=True)
    out = win.gather(-1, idx).reshape(lead + ((ow,) if nd == 1 else (oh, ow)))
    if not return_indices:
        return out
    idx = idx.reshape(m, oh, ow)
    ki, kj = idx // kw, idx % kw
    rows = ember.arange(oh, device=input.device).reshape(oh, 1) * stride[0] - padding[0]
    cols = ember.arange(ow, device=input.device).reshape(1, ow) * stride[1] - padding[1]
    flat = (rows + ki * dilation[0]) * spatial[-1] + cols + kj * dilation[1]
    return out, flat.reshape(out.shape)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of the last dim of an (N, C, L) or (C, L) input."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 1)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over sliding windows of the last two dims of an (N, C, H, W) or (C, H, W) input.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.max_pool2d(ember.arange(16.).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2)


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, nd):
    if nd == 3:  # volumes: see _functional_3d
        return _f3d._avg_pool3d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                                divisor_override)
    x, lead, kernel, stride_, padding_, dilation, spatial = _pool_prepare(
        input, kernel_size, stride, padding, 1, ceil_mode, nd, 0.0)
    win = _windows(x, kernel, stride_, dilation)  # (M, 1, OH, OW, kh, kw)
    m, _, oh, ow, kh, kw = win.shape
    k = kh * kw
    total = win.sum(dim=(-2, -1))
    if divisor_override:
        out = total / divisor_override
    elif count_include_pad and not ceil_mode:
        out = total / k
    else:
        # NOTE: torch counts the zero padding (when count_include_pad) but never the extra
        # right-hand region that ceil_mode adds; count both with a window sum over a mask.
        with ember.no_grad():
            ones = ember.ones((1, 1) + spatial, dtype=input.dtype, device=input.device)
            pads = [(p, p) for p in _ntuple(padding, nd)]
            mask = _pad_spatial(ones, pads, 1.0 if count_include_pad else 0.0)
            extra = [x.shape[-nd + i] - mask.shape[-nd + i] for i in range(nd)]
            mask = _pad_spatial(mask, [(0, e) for e in extra], 0.0)
            if nd == 1:
                mask = mask.unsqueeze(2)
            counts = _windows(mask, kernel, stride_, dilation).sum(dim=(-2, -1))
        out = total / counts
    return out.reshape(lead + ((ow,) if nd == 1 else (oh, ow)))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Average over sliding windows of the last dim."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None, 1)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average over sliding windows of the last two dims."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2)


def _adaptive_matrix(in_size: int, out_size: int, dtype, device):
    """(out, in) averaging matrix with torch's adaptive windows [floor(i*in/out),
    ceil((i+1)*in/out))."""
    rows = []
    for i in range(out_size):
        start = (i * in_size) // out_size
        end = -(-((i + 1) * in_size) // out_size)
        rows.append([1.0 / (end - start) if start <= j < end else 0.0 for j in range(in_size)])
    return ember.tensor(rows, dtype=dtype, device=device)


def _adaptive_sizes(input, output_size):
    """(H, W, OH, OW) for an adaptive pool; ``None`` in output_size keeps that dim's size."""
    if isinstance(output_size, (list, tuple)):
        out = tuple(output_size) if len(output_size) == 2 else tuple(output_size) * 2
    else:
        out = (output_size, output_size)
    h, w = input.shape[-2:]
    return h, w, (h if out[0] is None else out[0]), (w if out[1] is None else out[1])


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW) output; ``None`` keeps that dim's size."""
    h, w, oh, ow = _adaptive_sizes(input, output_size)
    if h % oh == 0 and w % ow == 0:
        return avg_pool2d(input, (h // oh, w // ow))
    # NOTE: windows overlap when sizes don't divide; averaging is separable over a rectangle, so
    # two small matmuls with averaging matrices give exactly torch's windows.
    ph = _adaptive_matrix(h, oh, input.dtype, input.device)
    pw = _adaptive_matrix(w, ow, input.dtype, input.device)
    return ember.matmul(ph, ember.matmul(input, pw.t()))


def adaptive_max_pool2d(input, output_size, return_indices: bool = False):
    """Max pooling to a fixed (OH, OW) output with torch's adaptive windows."""
    h, w, oh, ow = _adaptive_sizes(input, output_size)
    if h % oh == 0 and w % ow == 0:
        return max_pool2d(input, (h // oh, w // ow), return_indices=return_indices)
    # NOTE: overlapping variable-size windows: one gather per output cell (the output is small)
    lead = tuple(input.shape[:-2])
    x = input.reshape((-1, h, w))
    values, indices = [], []
    for i in range(oh):
        hs, he = (i * h) // oh, -(-((i + 1) * h) // oh)
        for j in range(ow):
            ws, we = (j * w) // ow, -(-((j + 1) * w) // ow)
            region = x[:, hs:he, ws:we].reshape(x.shape[0], -1)
            idx = region.argmax(dim=1, keepdim=True)
            values.append(region.gather(1, idx))
            if return_indices:
                width = we - ws
                indices.append((idx // width + hs) * w + idx % width + ws)
    res = ember.cat(values, 1).reshape(lead + (oh, ow))
    if return_indices:
        return res, ember.cat(indices, 1).reshape(lead + (oh, ow))
    return res


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    size = output_size[0] if isinstance(output_size, (list, tuple)) else output_size
    res = adaptive_max_pool2d(input.unsqueeze(-2), (1, size), return_indices)
    if return_indices:
        return res[0].squeeze(-2), res[1].squeeze(-2)
    return res.squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of the last dim to ``output_size``."""
    size = output_size[0] if isinstance(output_size, (list, tuple)) else output_size
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, size)).squeeze(-2)


# ---------------------------------------------------------------------------------- normalization
def _opmath_norm(fn):
    """torch's normalisations on a float16/bfloat16 input: computed in float32 (with float32
    parameters too: torch's "mixed dtype" kernels) and returned in the input's dtype."""
    @functools.wraps(fn)
    def norm(input, *args, **kwargs):
        dt = input.dtype
        if dt is not ember.float16 and dt is not ember.bfloat16:
            return fn(input, *args, **kwargs)
        return fn(input.float(), *args, **kwargs).to(dt)
    return norm


@_opmath_norm
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise over every dim but the channel dim (1); in training, update running stats in
    place (running_var takes the unbiased variance, as torch)."""
    ndim = input.dim()
    dims = (0,) + tuple(range(2, ndim))
    if training:
        count = input.numel() // input.shape[1]
        if count <= 1:
            raise ValueError("Expected more than 1 value per channel when training, got input "
                             f"size {input.shape}")
        mean = input.mean(dim=dims)
        centered = input - _channel_view(mean, ndim)
        var = (centered * centered).mean(dim=dims)
        if running_mean is not None:
            with ember.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
        if running_var is not None:
            with ember.no_grad():
                running_var.mul_(1 - momentum).add_(var.detach() * (momentum * count
                                                                    / (count - 1)))
    else:
        mean, var = running_mean, running_var
        centered = input - _channel_view(mean, ndim)
    out = centered * _channel_view((var + eps).rsqrt(), ndim)
    if weight is not None:
        out = out * _channel_view(weight, ndim)
    if bias is not None:
        out = out + _channel_view(bias, ndim)
    return out


@_amp.float32_op
@_opmath_norm
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims (biased variance)."""
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    if tuple(input.shape[-len(normalized_shape):]) != normalized_shape:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with "
                           f"shape [*, {', '.join(map(str, normalized_shape))}], but got input "
                           f"of size{list(input.shape)}")
    dims = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    mean = input.mean(dim=dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dim=dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@_amp.float32_op
@_opmath_norm
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each of ``num_groups`` channel groups over its channels and spatial dims."""
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {input.shape} and num_groups={num_groups}")
    x = input.reshape(n, num_groups, -1)
    mean = x.mean(dim=-1, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dim=-1, keepdim=True)
    out = (centered * (var + eps).rsqrt()).reshape(input.shape)
    if weight is not None:
        out = out * _channel_view(weight, input.dim())
    if bias is not None:
        out = out + _channel_view(bias, input.dim())
    return out


@_opmath_norm
def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each (sample, channel) over its spatial dims; running stats (when given) take
    the batch average of the per-instance statistics, as torch's."""
    ndim = input.dim()
    dims = tuple(range(2, ndim))
    if use_input_stats:
        mean = input.mean(dim=dims, keepdim=True)
        centered = input - mean
        var = (centered * centered).mean(dim=dims, keepdim=True)
        if running_mean is not None or running_var is not None:
            count = 1
            for d in dims:
                count *= input.shape[d]
            with ember.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(
                        mean.detach().reshape(input.shape[:2]).mean(dim=0) * momentum)
                if running_var is not None:
                    unbiased = var.detach().reshape(input.shape[:2]) * (count / max(count - 1, 1))
                    running_var.mul_(1 - momentum).add_(unbiased.mean(dim=0) * momentum)
        out = centered * (var + eps).rsqrt()
    else:
        out = (input - _channel_view(running_mean, ndim)) * _channel_view(
            (running_var + eps).rsqrt(), ndim)
    if weight is not None:
        out = out * _channel_view(weight, ndim)
    if bias is not None:
        out = out + _channel_view(bias, ndim)
    return out


# ---------------------------------------------------------------------------------- dropout
def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_mask(shape, p, like):
    # NOTE: torch's order of draws and roundings (a bernoulli of 1 - p, then a division), so
    # that on cpu the masks and values are torch's
    noise = ember.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(1.0 - p)
    return noise.div_(1.0 - p)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability p and scale the rest by 1/(1-p); identity in eval."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        out = input * 0.0
    else:
        out = input * _dropout_mask(tuple(input.shape), p, input)
    if inplace:
        input.copy_(out)
        return input
    return out


def _feature_dropout(input, p, training, inplace, batched_dim):
    _check_p(p)
    if not training or p == 0.0:
        return input
    batched = input.dim() == batched_dim
    x = input if batched else input.unsqueeze(0)
    shape = tuple(x.shape[:2]) + (1,) * (x.dim() - 2)
    out = x * 0.0 if p == 1.0 else x * _dropout_mask(shape, p, x)
    return out if batched else out.squeeze(0)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of an (N, C, L) input."""
    return _feature_dropout(input, p, training, inplace, 3)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of an (N, C, H, W) input."""
    return _feature_dropout(input, p, training, inplace, 4)


# ---------------------------------------------------------------------------------- embedding
def _embedding_rows(weight, index):
    try:
        return weight[index]
    except IndexError:
        raise IndexError("index out of range in self") from None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` picked by the integer ``input``; no gradient reaches ``padding_idx``."""
    if input.dtype not in (ember.int64, ember.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.type()} "
                           "instead (while checking arguments for embedding)")
    if _index_out_of_range(input, weight.shape[0]):  # (no negative indices either)
        raise IndexError("index out of range in self")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    if max_norm is not None:
        with ember.no_grad():
            idx = input.reshape(-1)
            rows = _embedding_rows(weight, idx)
            norms = (rows.abs() ** norm_type).sum(dim=1, keepdim=True) ** (1.0 / norm_type)
            scale = _where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            weight[idx] = rows * scale
    if sparse and weight.requires_grad and ember.is_grad_enabled():
        from ..sparse.coo import embedding_sparse  # (weight.grad: a sparse COO tensor)
        return embedding_sparse(input, weight, padding_idx, scale_grad_by_freq)
    out = _embedding_rows(weight, input)
    if padding_idx is not None:
        keep = (input != padding_idx).unsqueeze(-1)
        out = ember.where(keep, out, out.detach())
    return out


def one_hot(tensor, num_classes: int = -1):
    """int64 one-hot encoding along a new last dim.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.one_hot(ember.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    if num_classes < 0:
        num_classes = int(tensor.max().item()) + 1
    classes = ember.arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).to(ember.int64)


# ---------------------------------------------------------------------------------- activations
@_inplace_variant(1)
def relu(input, inplace: bool = False):
    # NOTE: torch gives relu a zero gradient at 0; where(x > 0) matches it
    return ember.relu(input)



def relu_(input):
    return relu(input, inplace=True)


@_inplace_variant(1)
def relu6(input, inplace: bool = False):
    return hardtanh(input, 0.0, 6.0)


@_inplace_variant(3)
def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    # NOTE: torch's hardtanh gradient is 0 at the clip points (clamp's would be 1)
    return _where(input <= min_val, min_val, _where(input >= max_val, max_val, input))


@_inplace_variant(2)
def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    return ember.where(input > 0, input, input * negative_slope)


def prelu(input, weight):
    w = weight if input.dim() < 2 or weight.numel() == 1 else _channel_view(weight, input.dim())
    return ember.where(input > 0, input, input * w)


def gelu(input, approximate: str = "none"):
    if approximate == "tanh":
        inner = math.sqrt(2.0 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1.0 + inner.tanh())
    if approximate != "none":
        raise RuntimeError(f"approximate argument must be either none or tanh.")
    return 0.5 * input * (1.0 + (input * (1.0 / math.sqrt(2.0))).erf())


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


@_inplace_variant(1)
def silu(input, inplace: bool = False):
    return input * input.sigmoid()


@_amp.float32_op
def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    scaled = input * beta
    # NOTE: clamp inside exp so the unused branch never overflows (its gradient would be NaN)
    soft = (scaled.clamp(max=threshold).exp()).log1p() / beta
    return ember.where(scaled > threshold, input, soft)


def logsigmoid(input):
    return -softplus(-input)


@_inplace_variant(1)
def mish(input, inplace: bool = False):
    return input * softplus(input).tanh()


@_inplace_variant(2)
def elu(input, alpha: float = 1.0, inplace: bool = False):
    return _elu(input, alpha)


@_inplace_variant(1)
def selu(input, inplace: bool = False):
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    return _elu(input, alpha, scale)


@_inplace_variant(2)
def celu(input, alpha: float = 1.0, inplace: bool = False):
    return _elu(input, alpha, 1.0, 1.0 / alpha)


def softsign(input):
    return input / (input.abs() + 1.0)


@_inplace_variant(1)
def hardsigmoid(input, inplace: bool = False):
    return _hardsigmoid(input)


@_inplace_variant(1)
def hardswish(input, inplace: bool = False):
    # NOTE: torch gives hardswish a zero gradient at -3 and a gradient of 1 at 3 (see the op)
    return _hardswish(input)


def tanhshrink(input):
    return input - input.tanh()


@_inplace_variant(3)
def threshold(input, threshold: float, value: float, inplace: bool = False):
    return _where(input > threshold, input, value)


def softshrink(input, lambd: float = 0.5):
    return _where(input > lambd, input - lambd, _where(input < -lambd, input + lambd, 0.0))


def hardshrink(input, lambd: float = 0.5):
    return _where((input > lambd) | (input < -lambd), input, 0.0)


def glu(input, dim: int = -1):
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def _softmax_dim(ndim: int) -> int:
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None):
    """exp(x) / exp(x).sum(dim), computed stably (ember.softmax, with F's warning when dim is
    left implicit)."""
    if _amp.active and dtype is None:
        input = _amp.widen("softmax", input)
    return ember.softmax(input, _softmax_dim(input.dim()) if dim is None else dim, dtype)


def log_softmax(input, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None):
    """x - logsumexp(x, dim), computed stably (ember.log_softmax)."""
    if _amp.active and dtype is None:
        input = _amp.widen("log_softmax", input)
    return ember.log_softmax(input, _softmax_dim(input.dim()) if dim is None else dim, dtype)


def softmin(input, dim: Optional[int] = None, _stacklevel: int = 3, dtype=None):
    if _amp.active and dtype is None:
        input = _amp.widen("softmin", input)
    return ember.softmin(input, _softmax_dim(input.dim()) if dim is None else dim, dtype)


# ---------------------------------------------------------------------------------- resampling
def pixel_shuffle(input, upscale_factor: int):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    r = upscale_factor
    *lead, c, h, w = input.shape
    x = input.reshape(tuple(lead) + (c // (r * r), r, r, h, w))
    n = len(lead)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(tuple(lead) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor: int):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    r = downscale_factor
    *lead, c, h, w = input.shape
    x = input.reshape(tuple(lead) + (c, h // r, r, w // r, r))
    n = len(lead)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(tuple(lead) + (c * r * r, h // r, w // r))


def _to_f32(v: float) -> float:
    return struct.unpack("f", struct.pack("f", v))[0]


def _keep(v: float) -> float:
    return v


def _index_rounding(dtype):
    """torch's CPU kernels do the source-index arithmetic in float32 unless the input is float64;
    rounding every step the same way picks the same input pixels at exact boundaries."""
    return _keep if dtype == ember.float64 else _to_f32


def _src_scale(in_size, out_size, align_corners, scale, r):
    """Input pixels per output pixel (torch's area_pixel_compute_scale): a scale factor the caller
    gave wins over in/out unless align_corners pins the corner pixels."""
    if align_corners:
        return r((in_size - 1) / (out_size - 1)) if out_size > 1 else 0.0
    if scale is not None and scale > 0:
        return r(1.0 / scale)
    return r(in_size / out_size)


def _src_index(scale, i, align_corners, cubic, r):
    """Continuous input coordinate of output pixel i; only cubic keeps a negative one, since its
    4-tap window still reaches pixel 0 from there."""
    if align_corners:
        return r(scale * i)
    # NOTE: torch's compiled kernels fuse this multiply-add (one rounding); a rounding between
    # the two steps moves nearest-exact's pick at exact half-pixel boundaries
    src = r(scale * (i + 0.5) - 0.5)
    return src if cubic or src > 0 else 0.0


def _split_index(src, in_size, r):
    """(floor, fraction) of a source coordinate. NOTE: torch floors through floorf, so a float64
    coordinate is rounded to float32 first; the fraction is clamped to [0, 1]."""
    i0 = min(math.floor(_to_f32(src)), in_size - 1)
    return i0, min(max(r(src - i0), 0.0), 1.0)


def _cubic_weights(t, a):
    """Keys cubic convolution weights of the taps at offsets -1, 0, 1, 2 from floor(src)."""
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 <= |x| <= 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1.0), near(t), near(1.0 - t), far(2.0 - t)]


def _aa_filter(mode):
    """Kernels of torch's antialiased resize (Pillow's): triangle, Keys cubic with a=-0.5 (not
    the -0.75 of plain bicubic) and Lanczos-3; each paired with its half-width in taps."""
    if mode == "linear":
        return (lambda x: max(0.0, 1.0 - abs(x))), 2

    if mode == "bicubic":
        def cubic(x):
            x = abs(x)
            if x < 1.0:
                return (1.5 * x - 2.5) * x * x + 1
            return (((-0.5 * x + 2.5) * x - 4.0) * x + 2.0) if x < 2.0 else 0.0
        return cubic, 4

    def sinc(x):
        return 1.0 if x == 0.0 else math.sin(math.pi * x) / (math.pi * x)
    return (lambda x: sinc(x) * sinc(x / 3.0) if abs(x) < 3.0 else 0.0), 6


def _nearest_taps(mode, in_size, out_size, scale, spatial_dims, r):
    """Source pixels of torch's nearest modes. NOTE: torch's 2-d kernels (upsample_nearest2d)
    compute the index in float32 whatever the dtype, and 'nearest' there copies a dim whose size
    is unchanged or exactly doubled without rounding; its 1-d and 3-d kernels work in the
    input's precision (float32 for half types) and have no such shortcut. Matched as is."""
    if spatial_dims == 2:
        step = _src_scale(in_size, out_size, False, scale, _to_f32)
        if mode == "nearest-exact":
            src = [_to_f32((i + 0.5) * step) for i in range(out_size)]
        elif out_size == in_size:
            return None
        elif out_size == 2 * in_size:
            return [i >> 1 for i in range(out_size)]
        else:
            src = [_to_f32(step * i) for i in range(out_size)]
    else:
        step = _src_scale(in_size, out_size, False, scale, r)
        if mode == "nearest-exact":
            src = [_to_f32(_src_index(step, i, False, False, r) + 0.5) for i in range(out_size)]
        else:
            src = [_to_f32(r(step * i)) for i in range(out_size)]
    return [min(math.floor(v), in_size - 1) for v in src]


def _resample_taps(mode, in_size, out_size, scale, align_corners, antialias, spatial_dims, r):
    """Where each output pixel of one spatial dim reads from: (indices, weights, taps), with
    ``taps`` (index, weight) pairs per output pixel laid out flat, or ``None`` when the dim is
    copied unchanged. Weights are ``None`` for the nearest modes (a pure gather).

    Borders follow torch: the plain modes clamp indices into the input (bicubic's outer taps read
    the edge pixel again); the antialiased modes drop taps outside the input and renormalise."""
    idx, wts = [], []
    if mode in ("nearest", "nearest-exact"):
        idx = _nearest_taps(mode, in_size, out_size, scale, spatial_dims, r)
        return None if idx is None else (idx, None, 1)
    if mode == "area":
        # NOTE: torch's adaptive windows [floor(i*in/out), ceil((i+1)*in/out)) may overlap and
        # differ in length by one; short ones are padded with zero-weight taps
        bounds = [((i * in_size) // out_size, -(-((i + 1) * in_size) // out_size))
                  for i in range(out_size)]
        taps = max((e - s for s, e in bounds), default=1)
        for s, e in bounds:
            idx += list(range(s, e)) + [s] * (taps - (e - s))
            wts += [1.0 / (e - s)] * (e - s) + [0.0] * (taps - (e - s))
        return idx, wts, taps
    step = _src_scale(in_size, out_size, align_corners, scale, r)
    if antialias:
        return _antialias_taps(mode, in_size, out_size, step, r)
    if mode == "linear":
        if out_size == in_size:
            return None  # torch copies a dim whose size is unchanged, whatever the scale factor
        for i in range(out_size):
            i0, lam = _split_index(_src_index(step, i, align_corners, False, r), in_size, r)
            idx += [i0, i0 + 1 if i0 < in_size - 1 else i0]
            wts += [1.0 - lam, lam]
        return idx, wts, 2
    for i in range(out_size):  # bicubic
        i0, t = _split_index(_src_index(step, i, align_corners, True, r), in_size, r)
        idx += [min(max(i0 + j, 0), in_size - 1) for j in (-1, 0, 1, 2)]
        wts += _cubic_weights(t, -0.75)
    return idx, wts, 4


def _antialias_taps(mode, in_size, out_size, step, r):
    """torch's antialiased (Pillow-style) weights: when shrinking, the filter is stretched by the
    scale so every input pixel under an output pixel contributes."""
    filt, width = _aa_filter(mode)
    if step >= 1.0:
        support, inv = r(width * 0.5 * step), r(1.0 / step)
    else:
        support, inv = width * 0.5, 1.0
    taps = math.ceil(support) * 2 + 1
    idx, wts = [], []
    for i in range(out_size):
        center = r(step * (i + 0.5))
        # NOTE: C++ truncation toward zero, then clipping to the input, as torch does
        lo = max(int(r(center - support) + 0.5), 0)
        size = min(max(min(int(r(center + support) + 0.5), in_size) - lo, 0), taps)
        w = [filt(r((r(lo + j - center) + 0.5) * inv)) for j in range(size)]
        total = sum(w)
        if total != 0.0:
            w = [v / total for v in w]
        pad = min(lo, in_size - 1)
        idx += list(range(lo, lo + size)) + [pad] * (taps - size)
        wts += w + [0.0] * (taps - size)
    return idx, wts, taps


def _resample_dim(x, dim, out_size, scale, mode, align_corners, antialias=False):
    """Resample one spatial dim: one gather of every tap, then a weighted sum over the taps. Only
    ember ops, so every backend runs it and autograd scatters the gradient back."""
    plan = _resample_taps(mode, x.shape[dim], out_size, scale, align_corners, antialias,
                          x.dim() - 2, _index_rounding(x.dtype))
    if plan is None:
        return x
    idx, wts, taps = plan
    innermost = dim == x.dim() - 1
    if innermost:
        # NOTE: a gather along the innermost dim copies one element at a time; moving the dim
        # outward first (one contiguous copy) lets every tap copy whole rows, several times faster
        x, dim = x.transpose(-1, -2).contiguous(), dim - 1
    g = x.index_select(dim, ember.tensor(idx, dtype=ember.int64, device=x.device))
    if wts is not None:
        shape = list(x.shape)
        shape[dim:dim + 1] = [out_size, taps]
        wshape = [1] * len(shape)
        wshape[dim:dim + 2] = [out_size, taps]
        w = ember.tensor(wts, dtype=x.dtype, device=x.device).reshape(wshape)
        g = (g.reshape(shape) * w).sum(dim + 1)
    return g.transpose(-1, -2) if innermost else g


_MODE_NDIM = {"linear": 3, "bilinear": 4, "bicubic": 4, "lanczos": 4, "trilinear": 5}


def _is_int(v) -> bool:
    if isinstance(v, ember.Tensor):
        return not v.dtype.is_floating_point and v.numel() == 1
    return isinstance(v, numbers.Integral)


def _interp_check_mode(input, mode, align_corners, antialias):
    """torch's checks of mode against the input's rank, with its messages."""
    nd = input.dim()
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and nd == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         "and requires a 4-D tensor as input")
    need = _MODE_NDIM.get(mode)
    if mode in ("nearest", "nearest-exact", "area") and nd in (3, 4, 5) or need == nd:
        if mode == "lanczos" and align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if mode == "lanczos" and not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
        return
    if need in (3, 4, 5) and nd in (3, 4, 5) and mode != "bicubic" and mode != "lanczos":
        raise NotImplementedError(f"Got {nd}D input, but {mode} mode needs {need}D input")
    raise NotImplementedError(
        f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {nd}D) for the modes: "
        "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact "
        f"(got {mode})")


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False):
    """Resize the spatial dims of a (N, C, *spatial) input as torch does: 'nearest',
    'nearest-exact' and 'area' for 3-d to 5-d input, 'linear' (3-d), 'bilinear', 'bicubic' and
    'lanczos' (4-d; antialias for the last three) and 'trilinear' (5-d).

    A ``scale_factor`` sets the output size (floor of size * factor) and, unless
    ``recompute_scale_factor=True``, also the sampling step (1 / factor), as in torch.

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.interpolate(ember.tensor([[[1.0, 2.0]]]), scale_factor=2, mode="linear")
    tensor([[[1.0000, 1.2500, 1.7500, 2.0000]]])
    """
    if _amp.active and mode != "area":  # (torch's float32 list has the upsample ops)
        input = _amp.widen("interpolate", input)
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = input.dim() - 2
    spatial = list(input.shape[2:])
    scales = [None] * max(nd, 0)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {spatial} and output size of {size}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output "
                    "size in (o1, o2, ...,oK) format.")
            sizes = list(size)
        else:
            sizes = [size] * max(nd, 0)
        if not all(_is_int(v) for v in sizes):
            raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                            "Tuple[int, int, int], but got size with types "
                            f"{[type(v) for v in sizes]}")
        out_sizes = [int(v) for v in sizes]
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {spatial} and scale_factor of shape "
                    f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                    "format and scale_factor in (s1, s2, ...,sK) format.")
            factors = [float(f) for f in scale_factor]
        else:
            factors = [float(scale_factor)] * max(nd, 0)
        # NOTE: the output size truncates size * factor, computed in double as torch does
        out_sizes = [int(s * f) for s, f in zip(spatial, factors)]
        # 'area' always works from the integer output size (torch recomputes its scale)
        if not (recompute_scale_factor or mode == "area"):
            scales = factors
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    _interp_check_mode(input, mode, align_corners, antialias)
    if mode not in ("nearest", "nearest-exact") and not input.dtype.is_floating_point:
        raise RuntimeError(f"interpolate: mode '{mode}' needs a floating-point input, got "
                           f"{input.dtype}")
    # NOTE: torch's 'area' is adaptive_avg_pool, which returns an empty result for a zero size
    if min(spatial) <= 0 or min(out_sizes) < (0 if mode == "area" else 1):
        names = "DHW"[3 - nd:]
        raise RuntimeError(
            "Input and output sizes should be greater than 0, but got input ("
            + ", ".join(f"{n}: {s}" for n, s in zip(names, spatial))
            + (") and output (" if nd == 1 else ") output (")
            + ", ".join(f"{n}: {s}" for n, s in zip(names, out_sizes)) + ")")
    sub_mode = "linear" if mode in ("bilinear", "trilinear") else mode
    # NOTE: each dim is resampled on its own (all of torch's modes are separable); shrinking dims
    # go first so the later passes touch fewer elements
    order = sorted(range(nd), key=lambda k: out_sizes[k] / spatial[k])
    out = input
    for k in order:
        out = _resample_dim(out, 2 + k, out_sizes[k], scales[k], sub_mode, bool(align_corners),
                            antialias)
    return out


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate` (torch warns the same way).

    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.upsample(ember.ones(1, 1, 2), scale_factor=2).shape
    ember.Size([1, 1, 4])
    """
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(mode="nearest")``."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: ``interpolate(mode="bilinear", align_corners=True)``."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------------- distances
def _vector_norm(x, p, dim, keepdim):
    if p == 1:
        return x.abs().sum(dim=dim, keepdim=keepdim)
    if p == float("inf"):
        return x.abs().amax(dim=dim, keepdim=keepdim)
    # linalg.vector_norm: a zero vector gets a zero subgradient (not NaN), as in torch
    return _linalg_vector_norm(x, p, dim, keepdim)


@_amp.float32_op
def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """x / max(||x||_p, eps) along ``dim``."""
    return input / _vector_norm(input, p, dim, True).clamp(min=eps)


@_amp.float32_op
def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """Cosine of the angle between x1 and x2 along ``dim`` (broadcasting)."""
    n1 = _vector_norm(x1, 2, dim, True)
    n2 = _vector_norm(x2, 2, dim, True)
    # NOTE: torch clamps the norms in place under no_grad, so the clamp has no gradient of its own
    n1 = n1 + (n1.clamp(min=eps) - n1).detach()
    n2 = n2 + (n2.clamp(min=eps) - n2).detach()
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    return _vector_norm(x1 - x2 + eps, p, -1, keepdim)


# ---------------------------------------------------------------------------------- attention
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False):
    """softmax(q @ k^T * scale + mask) @ v; a bool mask marks the positions that may attend."""
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.shape[-3] != key.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, dim=-3)
        value = value.repeat_interleave(rep, dim=-3)
    scores = ember.matmul(query, key.transpose(-2, -1)) * scale
    if is_causal:
        causal = (ember.arange(L, device=query.device).unsqueeze(-1)
                  >= ember.arange(S, device=query.device))
        scores = _where(causal, scores, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == ember.bool:
            scores = _where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return ember.matmul(weights, value)


def _canonical_mask(mask, target_dtype, name):
    """Turn a bool mask (True = masked out) into an additive float mask."""
    if mask is None:
        return None
    if mask.dtype == ember.bool:
        zeros = ember.zeros(tuple(mask.shape), dtype=target_dtype, device=mask.device)
        return _where(mask, float("-inf"), zeros)
    if not mask.is_floating_point():
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """torch's multi-head attention on (L, N, E) sequence-first inputs."""
    unbatched = query.dim() == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                             f"{embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint.")

    if not use_separate_proj_weight:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
        b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None,) * 3
    else:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
        b_q, b_k, b_v = in_proj_bias.chunk(3) if in_proj_bias is not None else (None,) * 3
    q = linear(query, w_q, b_q)
    k = linear(key, w_k, b_k)
    v = linear(value, w_v, b_v)

    attn_mask = _canonical_mask(attn_mask, q.dtype, "attn_mask")
    key_padding_mask = _canonical_mask(key_padding_mask, q.dtype, "key_padding_mask")
    if attn_mask is not None and attn_mask.dim() == 2:
        attn_mask = attn_mask.unsqueeze(0)

    if bias_k is not None and bias_v is not None:
        k = ember.cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        v = ember.cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    # (L, N, E) -> (N * H, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    if add_zero_attn:
        zshape = (bsz * num_heads, 1, head_dim)
        k = ember.cat([k, ember.zeros(zshape, dtype=k.dtype, device=k.device)], 1)
        v = ember.cat([v, ember.zeros(zshape, dtype=v.dtype, device=v.device)], 1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    src_len = k.shape[1]

    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    scores = ember.matmul(q * (1.0 / math.sqrt(head_dim)), k.transpose(-2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training)
    out = ember.matmul(weights, v)  # (N*H, L, head_dim)
    out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if unbatched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(dim=1)
    if unbatched:
        weights = weights.squeeze(0)
    return out, weights


# ---------------------------------------------------------------------------------- losses
@_amp.float32_op
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_amp.float32_op
def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
            weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = (input - target).abs()
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_amp.float32_op
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    diff = input - target
    ad = diff.abs()
    if beta == 0.0:
        return _reduce(ad, reduction)
    loss = ember.where(ad < beta, 0.5 * diff * diff / beta, ad - 0.5 * beta)
    return _reduce(loss, reduction)


@_amp.float32_op
def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    diff = input - target
    ad = diff.abs()
    loss = ember.where(ad < delta, 0.5 * diff * diff, delta * (ad - 0.5 * delta))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_amp.float32_op
def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean"):
    """Negative log likelihood of the target class; input is (N, C, ...) log-probabilities.
    'mean' divides by the summed weights of the non-ignored targets, as torch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input.dim() == 1:
        input, target = input.unsqueeze(0), target.unsqueeze(0)
    if input.dim() < 2:
        raise ValueError(f"Expected 2 or more dimensions (got {input.dim()})")
    if input.shape[0] != target.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0]}).")
    valid = target != ignore_index
    safe_target = _where(valid, target, 0) if ignore_index is not None else target
    picked = -input.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    w = valid.to(input.dtype)
    if weight is not None:
        w = w * weight[safe_target]
    loss = picked * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / w.sum()
    raise ValueError(f"{reduction} is not a valid value for reduction")


@_amp.float32_op
def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
    """log_softmax + nll_loss for class indices, or -sum(p * log_softmax) for class
    probabilities; label smoothing as torch's cross_entropy_loss_label_smoothing.

    >>> import ember
    >>> F = ember.nn.functional
    >>> round(F.cross_entropy(ember.zeros(1, 2), ember.tensor([0])).item(), 4)
    0.6931
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    if (input.ndim == 2 and label_smoothing <= 0.0 and target.ndim == 1
            and not target._dtype.is_floating_point):
        # the common case as one fused node (ember.core.ops.nn)
        if target._dtype is not ember.int64:
            target = target.long()
        return _cross_entropy_indices(input, target, weight, ignore_index, reduction)
    class_dim = 0 if input.dim() == 1 else 1
    n_classes = input.shape[class_dim]
    logp = log_softmax(input, class_dim)
    if target.is_floating_point():
        if label_smoothing > 0.0:
            target = target * (1.0 - label_smoothing) + label_smoothing / n_classes
        prod = logp * target
        if weight is not None:
            prod = prod * _channel_view(weight, input.dim(), class_dim)
        loss = -prod.sum(dim=class_dim)
        if reduction == "mean":
            return loss.sum() / (input.numel() // n_classes) if input.dim() > 1 else loss
        return _reduce(loss, reduction)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0.0:
        return nll
    valid = target != ignore_index
    if weight is not None:
        smooth = -(logp * _channel_view(weight, input.dim(), class_dim)).sum(dim=class_dim)
    else:
        smooth = -logp.sum(dim=class_dim)
    smooth = smooth * valid.to(smooth.dtype)
    if reduction == "mean":
        if weight is not None:
            safe = _where(valid, target, 0)
            denom = (weight[safe] * valid.to(weight.dtype)).sum()
        else:
            denom = valid.sum().to(smooth.dtype)
        ret = smooth.sum() / denom
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    return (1.0 - label_smoothing) * nll + ret * (label_smoothing / n_classes)


@_amp.float32_op(unsafe_on=("cuda",))
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """-(t log x + (1-t) log(1-x)), each log clamped at -100 as torch."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    log_x = input.log().clamp(min=-100.0)
    log_1mx = (1.0 - input).log().clamp(min=-100.0)
    loss = -(target * log_x + (1.0 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_amp.float32_op
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable expression."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    log_sig = logsigmoid(input)
    if pos_weight is not None:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = (1.0 - target) * input - log_weight * log_sig
    else:
        loss = (1.0 - target) * input - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_amp.float32_op
def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """Pointwise KL divergence with ``input`` given as log-probabilities."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        safe = _where(positive, target, 1.0)
        loss = _where(positive, target * safe.log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() > 0 else loss.sum()
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.")
    return _reduce(loss, reduction)


@_amp.float32_op
def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = target.dim() + 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(f"{target.dim()}D target tensor expects {want}D input tensors, but "
                           f"found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    dim = 1 if input1.dim() == 2 else 0
    eps = 1e-12
    prod = (input1 * input2).sum(dim=dim)
    mag1 = (input1 * input1).sum(dim=dim) + eps
    mag2 = (input2 * input2).sum(dim=dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    pos = _where(target == 1, 1.0 - cos, 0.0)
    neg = _where(target == -1, (cos - margin).clamp(min=0.0), 0.0)
    return _reduce(pos + neg, reduction)


@_amp.float32_op
def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = (-target * (input1 - input2) + margin).clamp(min=0.0)
    return _reduce(loss, reduction)


@_amp.float32_op
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """log(1 + exp(-y * x))."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _reduce((-(target * input)).exp().log1p(), reduction)


@_amp.float32_op
def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    neg = (margin - input).clamp(min=0.0)
    loss = _where(target == 1, input, 0.0) + _where(target == -1, neg, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean"):
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ const when full)."""
    if not isinstance(var, ember.Tensor):
        var = ember.full(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.shape[-1] == 1):
            raise ValueError("var is of incorrect size")
    if bool((var < 0).any().item()):
        raise ValueError("var has negative entry/entries")
    # NOTE: torch clamps a clone of var in place under no_grad: the clamp has no gradient
    var = var + (var.clamp(min=eps) - var).detach()
    diff = input - target
    loss = 0.5 * (var.log() + diff * diff / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


@_amp.float32_op
def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = _where(target > 1, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + _where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction)


@_amp.float32_op
def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    d_ap = pairwise_distance(anchor, positive, p, eps)
    d_an = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_an = ember.minimum(d_an, pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_ap - d_an).clamp(min=0.0), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1.0 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(dim=class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def elu_(input, alpha: float = 1.0):
    return elu(input, alpha, inplace=True)


def leaky_relu_(input, negative_slope: float = 0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


_threshold = threshold  # the parameter below shadows the function's name, as in torch's API


def threshold_(input, threshold: float, value: float):
    return _threshold(input, threshold, value, inplace=True)


# (the long tail of torch.nn.functional, kept in files of their own)
from ._functional_pool import *  # noqa: E402,F401,F403
from ._functional_sampling import *  # noqa: E402,F401,F403
from ._functional_3d import *  # noqa: E402,F401,F403
from . import _functional_pool as _fp, _functional_sampling as _fs  # noqa: E402
from . import _functional_3d as _f3d  # noqa: E402
from ._functional_extra import *  # noqa: E402,F401,F403
from . import _functional_extra as _fx  # noqa: E402
__all__ += _fp.__all__ + _fs.__all__ + _f3d.__all__ + _fx.__all__
