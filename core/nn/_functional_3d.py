"""Volumetric layers (conv3d, conv_transpose3d, 3-d pooling, dropout3d) and the
``*_with_indices`` pooling variants, as compositions of the 2-d machinery.

A 3-d window is a stack of ``kd`` depth slices, each met by the 2-d im2col
(``ember.sliding_windows``): ``conv3d`` folds the depth taps into the channels of one fused
``conv2d`` call, and the pools reduce over the (kd, kh, kw) windows that ``_windows3d`` gives.
Every backend runs them and autograd flows through them.

>>> import ember
>>> import ember.nn.functional as F
>>> F.conv3d(ember.ones(1, 1, 3, 3, 3), ember.ones(1, 1, 2, 2, 2)).shape
ember.Size([1, 1, 2, 2, 2])
"""
from __future__ import annotations

import itertools
import math
import warnings

import ember

from .. import amp as _amp

__all__ = ["conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d",
           "adaptive_max_pool3d", "lp_pool3d", "max_unpool3d", "dropout3d",
           "max_pool1d_with_indices", "max_pool2d_with_indices", "max_pool3d_with_indices",
           "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "fractional_max_pool2d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
           "fractional_max_pool3d_with_indices"]


def _F():
    # NOTE: imported lazily: functional.py star-imports this module at its end
    from . import functional
    return functional


def _batched(input, name: str):
    """(5-d input, whether a batch dim was added) for a 4-d or 5-d volume."""
    if input.dim() not in (4, 5):
        raise RuntimeError(f"Expected 4D (unbatched) or 5D (batched) input to {name}, "
                           f"but got input of size: {list(input.shape)}")
    return (input, False) if input.dim() == 5 else (input.unsqueeze(0), True)


def _depth_taps(x, k: int, s: int, d: int):
    """(N, C, OD, k, H, W): the k strided depth slices of an (N, C, D, H, W) tensor that windows
    of depth k (stride s, dilation d) read, stacked."""
    od = (x.shape[2] - d * (k - 1) - 1) // s + 1
    stop = s * (od - 1) + 1
    return ember.stack([x[:, :, i * d:i * d + stop:s] for i in range(k)], 3)


def _windows3d(x, kernel, stride, dilation):
    """The (N, C, OD, OH, OW, kd, kh, kw) windows of a padded (N, C, D, H, W) tensor: the 2-d
    sliding windows of its depth taps (the caller has checked that every output size is
    positive)."""
    depth = _depth_taps(x, kernel[0], stride[0], dilation[0])
    n, c, od, kd, h, w = depth.shape
    win = ember.sliding_windows(depth.reshape(n, c * od * kd, h, w), kernel[1:], stride[1:],
                                dilation[1:])
    oh, ow, kh, kw = win.shape[2:]
    return win.reshape(n, c, od, kd, oh, ow, kh, kw).permute(0, 1, 2, 4, 5, 3, 6, 7)


# ---------------------------------------------------------------------------------- conv
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-d convolution (cross-correlation) over an (N, C, D, H, W) or (C, D, H, W) input.

    The kd depth taps become channels: one ``conv2d`` of (N*OD, C*kd, H, W) slices with the
    (C_out, C/groups*kd, kh, kw) weight, so a backend's fused 2-d kernel does the work.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.conv3d(ember.ones(1, 1, 2, 2, 2), ember.ones(1, 1, 2, 2, 2)).tolist()
    [[[[[8.0]]]]]
    """
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    F = _F()
    x, unbatched = _batched(input, "conv3d")
    if weight.dim() != 5:
        raise RuntimeError(f"conv3d: expected a 5D weight (C_out, C_in/groups, kD, kH, kW), "
                           f"but got weight of size: {list(weight.shape)}")
    kernel = tuple(weight.shape[2:])
    stride = F._ntuple(stride, 3, "stride")
    dilation = F._ntuple(dilation, 3, "dilation")
    pads = F._conv_padding(padding, kernel, dilation, stride, 3)
    n, c_in = x.shape[:2]
    c_out, c_group = weight.shape[:2]
    if c_in != c_group * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input"
            f"{list(x.shape)} to have {c_group * groups} channels, but got {c_in} channels "
            "instead")
    x = F._pad_spatial(x, pads)
    spatial = tuple(x.shape[2:])
    if any(s < d * (k - 1) + 1 for s, k, d in zip(spatial, kernel, dilation)):
        raise RuntimeError(
            f"Calculated padded input size per channel: ({' x '.join(map(str, spatial))}). "
            f"Kernel size: ({' x '.join(str(d * (k - 1) + 1) for k, d in zip(kernel, dilation))}"
            "). Kernel size can't be greater than actual input size")
    kd = kernel[0]
    # (N, C, OD, kd, H, W): channel c's depth taps sit next to each other, as in the weight
    depth = _depth_taps(x, kd, stride[0], dilation[0])
    od = depth.shape[2]
    slices = depth.permute(0, 2, 1, 3, 4, 5).reshape(n * od, c_in * kd, *spatial[1:])
    w = weight.reshape(c_out, c_group * kd, *kernel[1:])
    out = F.conv2d(slices, w, bias, stride[1:], 0, dilation[1:], groups)
    out = out.reshape(n, od, c_out, *out.shape[2:]).permute(0, 2, 1, 3, 4).contiguous()
    return out.squeeze(0) if unbatched else out


def _conv_transpose_nd(input, weight, bias, stride, padding, output_padding, groups, dilation,
                       nd: int, conv):
    """Transposed convolution as a stride-1 ``conv`` of the zero-dilated, padded input with the
    flipped, transposed kernel (the gradient of conv with respect to its input)."""
    F = _F()
    stride = F._ntuple(stride, nd, "stride")
    padding = F._ntuple(padding, nd, "padding")
    output_padding = F._ntuple(output_padding, nd, "output_padding")
    dilation = F._ntuple(dilation, nd, "dilation")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        dims = ("depth", "height", "width")[-nd:]
        got = " ".join(f"{name}_{dim}: {v}" for name, values in (
            ("output_padding", output_padding), ("stride", stride), ("dilation", dilation))
            for dim, v in zip(dims, values))
        raise RuntimeError(f"output padding must be smaller than either stride or dilation, but "
                           f"got {got}")
    c_in, c_out_g = weight.shape[:2]
    kernel = tuple(weight.shape[2:])
    if input.shape[1] != c_in:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input"
            f"{list(input.shape)} to have {c_in} channels, but got {input.shape[1]} channels "
            "instead")
    x = F._dilate_input(input, stride)
    pads = [(d * (k - 1) - p, d * (k - 1) - p + op)
            for k, p, d, op in zip(kernel, padding, dilation, output_padding)]
    x = F._pad_spatial(x, pads)
    # (C_in, C_out/g, *k) -> (C_out, C_in/g, *k), flipped in space
    w = weight.reshape((groups, c_in // groups, c_out_g) + kernel).transpose(1, 2)
    w = w.reshape((groups * c_out_g, c_in // groups) + kernel).flip(list(range(2, 2 + nd)))
    return conv(x, w, bias, 1, 0, dilation, groups)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 3-d convolution over an (N, C, D, H, W) or (C, D, H, W) input; weight
    (C_in, C_out/groups, kD, kH, kW).

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.conv_transpose3d(ember.ones(1, 1, 2, 2, 2), ember.ones(1, 1, 2, 2, 2)).shape
    ember.Size([1, 1, 3, 3, 3])
    """
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    x, unbatched = _batched(input, "conv_transpose3d")
    out = _conv_transpose_nd(x, weight, bias, stride, padding, output_padding, groups, dilation,
                             3, conv3d)
    return out.squeeze(0) if unbatched else out


# ---------------------------------------------------------------------------------- pooling
def _pool3d_setup(input, kernel_size, stride, padding, dilation, ceil_mode, fill):
    """Check a 3-d pool's input; return the padded (M, 1, D', H', W') planes, the leading
    shape, the output size and the normalised arguments."""
    F = _F()
    if input.dim() not in (4, 5) or input.numel() == 0:
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    x, lead, kernel, stride, padding, dilation, _ = F._pool_prepare(
        input, kernel_size, stride, padding, dilation, ceil_mode, 3, fill)
    # the padding covers exactly the windows that torch's (floor or ceil) rule keeps
    outs = tuple(F._out_size(size, k, s, d) for size, k, s, d in
                 zip(x.shape[2:], kernel, stride, dilation))
    return x, lead, outs, kernel, stride, padding, dilation


def _max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if not input.is_floating_point():
        raise NotImplementedError("max_pool3d: integer inputs are not supported")
    x, lead, outs, kernel, stride, padding, dilation = _pool3d_setup(
        input, kernel_size, stride, padding, dilation, ceil_mode, float("-inf"))
    if min(outs) <= 0:
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, input.shape[-4:]))}). Calculated output "
            f"size: ({'x'.join(map(str, (input.shape[-4],) + outs))}). Output size is too small")
    if not return_indices and stride == kernel and not any(padding) and dilation == (1, 1, 1):
        # NOTE: non-overlapping windows: a 2-d pool over (H, W), then one over D, each the
        # fused block pool; the first maximum in (d, h, w) order still takes the gradient
        m, (d, h, w) = x.shape[0], x.shape[2:]
        planes = _F().max_pool2d(x.reshape(m * d, 1, h, w), kernel[1:])
        out = _F().max_pool2d(planes.reshape(m, 1, d, -1), (kernel[0], 1))
        return out.reshape(lead + outs)
    win = _windows3d(x, kernel, stride, dilation)  # (M, 1, OD, OH, OW, kd, kh, kw)
    m = win.shape[0]
    win = win.reshape((m, 1) + outs + (-1,))
    # NOTE: torch sends the whole gradient to the first maximum of each window (in d, h, w
    # order); argmax + gather does the same
    idx = win.argmax(dim=-1, keepdim=True)
    out = win.gather(-1, idx).reshape(lead + outs)
    if not return_indices:
        return out
    (kh, kw), idx = kernel[1:], idx.reshape((m,) + outs)
    offsets = (idx // (kh * kw), (idx // kw) % kh, idx % kw)
    flat = 0
    for axis in range(3):
        shape = [1, 1, 1, 1]
        shape[axis + 1] = outs[axis]
        start = ember.arange(outs[axis], device=input.device).reshape(shape) * stride[axis]
        pos = start - padding[axis] + offsets[axis] * dilation[axis]
        flat = flat * input.shape[-3 + axis] + pos
    return out, flat.reshape(out.shape)


@_amp.float32_op
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over (kd, kh, kw) windows of an (N, C, D, H, W) or (C, D, H, W) input; indices are
    flat positions in each D*H*W input volume.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.max_pool3d(ember.arange(8.).reshape(1, 1, 2, 2, 2), 2).item()
    7.0
    """
    return _max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_divisors(size, k, s, p, out, count_include_pad):
    """torch's per-window divisor along one dim (the padded span or only the input's part)."""
    res = []
    for o in range(out):
        start = o * s - p
        end = min(start + k, size + p)
        res.append(end - start if count_include_pad else min(end, size) - max(start, 0))
    return res


def _avg_pool3d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
    x, lead, outs, kernel, stride, padding, dilation = _pool3d_setup(
        input, kernel_size, stride, padding, 1, ceil_mode, 0.0)
    spatial = tuple(input.shape[-3:])
    if min(outs) <= 0:
        raise RuntimeError(
            f"input image (T: {spatial[0]} H: {spatial[1]} W: {spatial[2]}) smaller than kernel "
            f"size (kT: {kernel[0]} kH: {kernel[1]} kW: {kernel[2]})")
    # NOTE: a box sum is separable: add the depth taps, then sum the 2-d windows of that
    # (kh*kw copies of the input rather than kd*kh*kw)
    depth = _depth_taps(x, kernel[0], stride[0], 1).sum(3)
    depth = depth.reshape((-1, 1) + tuple(x.shape[3:]))
    total = ember.sliding_windows(depth, kernel[1:], stride[1:], (1, 1)).sum(dim=(-2, -1))
    total = total.reshape(lead + outs)
    if divisor_override:
        return total / divisor_override
    # the divisor of a box window is the product of its per-dim extents
    divisor = None
    for axis in range(3):
        shape = [1, 1, 1]
        shape[axis] = outs[axis]
        part = ember.tensor(_avg_divisors(spatial[axis], kernel[axis], stride[axis],
                                          padding[axis], outs[axis], count_include_pad),
                            dtype=input.dtype, device=input.device).reshape(shape)
        divisor = part if divisor is None else divisor * part
    return total / divisor


@_amp.float32_op
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average over (kd, kh, kw) windows of an (N, C, D, H, W) or (C, D, H, W) input.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.avg_pool3d(ember.arange(8.).reshape(1, 1, 2, 2, 2), 2).item()
    3.5
    """
    return _avg_pool3d(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override)


def _adaptive_sizes3d(input, output_size, error: str):
    """(input's D, H, W) and the output's; ``None`` in output_size keeps that dim's size."""
    if input.dim() not in (4, 5):
        raise RuntimeError(f"{error} {list(input.shape)}")
    out = tuple(output_size) if isinstance(output_size, (list, tuple)) else (output_size,)
    out = out * 3 if len(out) == 1 else out
    if len(out) != 3:
        raise ValueError(f"output_size must be an int or a tuple of 3 ints, got {output_size}")
    spatial = tuple(input.shape[-3:])
    return spatial, tuple(s if o is None else int(o) for s, o in zip(spatial, out))


def _bounds(i: int, in_size: int, out_size: int):
    """torch's adaptive window [floor(i*in/out), ceil((i+1)*in/out))."""
    return (i * in_size) // out_size, -(-((i + 1) * in_size) // out_size)


@_amp.float32_op
def adaptive_avg_pool3d(input, output_size):
    """Average pooling to a fixed (OD, OH, OW) output; ``None`` keeps that dim's size.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.adaptive_avg_pool3d(ember.ones(1, 2, 4, 5, 6), (2, None, 3)).shape
    ember.Size([1, 2, 2, 5, 3])
    """
    F = _F()
    spatial, outs = _adaptive_sizes3d(
        input, output_size, "adaptive_avg_pool3d(): Expected 4D or 5D tensor, but got")
    if all(s % o == 0 for s, o in zip(spatial, outs)):
        return avg_pool3d(input, tuple(s // o for s, o in zip(spatial, outs)))
    # NOTE: averaging over a box is separable: one averaging matrix per dim gives exactly
    # torch's (possibly overlapping) windows
    pd, ph, pw = (F._adaptive_matrix(s, o, input.dtype, input.device)
                  for s, o in zip(spatial, outs))
    x = ember.matmul(ph, ember.matmul(input, pw.t()))  # (..., D, OH, OW)
    lead = tuple(x.shape[:-3])
    x = ember.matmul(pd, x.reshape(lead + (spatial[0], -1)))
    return x.reshape(lead + outs)


def _adaptive_max_nd(input, spatial, outs, return_indices):
    """Adaptive max pooling over the last len(spatial) dims: one gather per output cell
    (the windows overlap and vary in size; the output is small)."""
    nd = len(spatial)
    lead = tuple(input.shape[:-nd])
    x = input.reshape((-1,) + spatial)
    values, indices = [], []
    for cell in itertools.product(*(range(o) for o in outs)):
        box = [_bounds(i, s, o) for i, s, o in zip(cell, spatial, outs)]
        region = x[(slice(None),) + tuple(slice(a, b) for a, b in box)].reshape(x.shape[0], -1)
        idx = region.argmax(dim=1, keepdim=True)
        values.append(region.gather(1, idx))
        if return_indices:
            flat, rest = 0, idx
            widths = [b - a for a, b in box]
            # position inside the box, per dim, back to the flat input position
            for axis in range(nd):
                inner = math.prod(widths[axis + 1:])
                pos = rest // inner + box[axis][0]
                rest = rest % inner
                flat = flat * spatial[axis] + pos
            indices.append(flat)
    res = ember.cat(values, 1).reshape(lead + outs)
    if return_indices:
        return res, ember.cat(indices, 1).reshape(lead + outs)
    return res


@_amp.float32_op
def adaptive_max_pool3d(input, output_size, return_indices: bool = False):
    """Max pooling to a fixed (OD, OH, OW) output with torch's adaptive windows.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.adaptive_max_pool3d(ember.arange(8.).reshape(1, 1, 2, 2, 2), 1).item()
    7.0
    """
    spatial, outs = _adaptive_sizes3d(
        input, output_size, "adaptive_max_pool3d(): Expected 4D or 5D tensor, but got:")
    if all(s % o == 0 for s, o in zip(spatial, outs)):
        return max_pool3d(input, tuple(s // o for s, o in zip(spatial, outs)),
                          return_indices=return_indices)
    return _adaptive_max_nd(input, spatial, outs, return_indices)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode: bool = False):
    """Power-average pooling: ``(sum over each (kd, kh, kw) window of x**p) ** (1/p)``.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.lp_pool3d(ember.ones(1, 1, 2, 2, 2), 1, 2).item()
    8.0
    """
    from ._functional_pool import _lp_pool
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3)


@_amp.float32_op
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of ``max_pool3d``: values go back to their indices, zeros elsewhere.

    >>> import ember
    >>> F = ember.nn.functional
    >>> out, idx = F.max_pool3d(ember.arange(8.).reshape(1, 1, 2, 2, 2), 2, return_indices=True)
    >>> F.max_unpool3d(out, idx, 2).sum().item()
    7.0
    """
    from ._functional_pool import _max_unpool
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3)


# ---------------------------------------------------------------------------------- with_indices
def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool1d`` returning (values, indices) whatever ``return_indices`` says."""
    return _F().max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool2d`` returning (values, indices) whatever ``return_indices`` says."""
    return _F().max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """``max_pool3d`` returning (values, indices) whatever ``return_indices`` says."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices: bool = False):
    """``adaptive_max_pool1d`` returning (values, indices)."""
    return _F().adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices: bool = False):
    """``adaptive_max_pool2d`` returning (values, indices)."""
    return _F().adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices: bool = False):
    """``adaptive_max_pool3d`` returning (values, indices)."""
    return adaptive_max_pool3d(input, output_size, True)


# ---------------------------------------------------------------------------------- fractional
def _fractional_starts(sample, in_size: int, out_size: int, pool: int):
    """torch's pseudo-random window starts along one dim, (P,) samples -> (P, out_size) int64.

    Computed in the samples' dtype as torch's kernel does (``int((i + u) * alpha) -
    int(u * alpha)``, the last window flush with the end), so the windows are torch's."""
    last = ember.full((sample.shape[0], 1), in_size - pool, dtype=ember.int64,
                      device=sample.device)
    if out_size == 1:
        return last
    alpha = ember.tensor((in_size - pool) / (out_size - 1), dtype=sample.dtype,
                         device=sample.device)
    u = sample.reshape(-1, 1)
    i = ember.arange(out_size - 1, dtype=sample.dtype, device=sample.device)
    starts = ((i + u) * alpha).floor() - (u * alpha).floor()
    return ember.cat([starts.to(ember.int64), last], 1)


def _fractional_max_pool(input, kernel_size, output_size, output_ratio, random_samples, nd):
    name = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    F = _F()
    spatial = tuple(input.shape[-nd:])
    kernel = F._ntuple(kernel_size, nd, "kernel_size")
    if output_size is None:
        ratio = tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else (
            output_ratio,)
        ratio = ratio * nd if len(ratio) == 1 else ratio
        outs = tuple(int(s * r) for s, r in zip(spatial, ratio))
    else:
        outs = F._ntuple(output_size, nd, "output_size")
    dim_names = ("time", "height", "width")[-nd:]
    for dim, size, k, o in zip(dim_names, spatial, kernel, outs):
        # NOTE: torch's 3-d kernel wants one spare input element per dim, its 2-d one none
        if o + k - 1 > size - (nd == 3):
            where = name + ("_out" if nd == 3 else "")
            raise RuntimeError(f"{where}(): pool {dim} {k} too large relative to input {dim} "
                               f"{size}")
    unbatched = input.dim() == nd + 1
    x = input.unsqueeze(0) if unbatched else input
    n, c = x.shape[:2]
    if random_samples is None:
        random_samples = ember.rand((n, c, nd), dtype=input.dtype, device=input.device)
    samples = random_samples.reshape(n * c, nd)
    # NOTE: torch's 2-d kernel keeps the width's sample first, its 3-d one the depth's
    order = (1, 0) if nd == 2 else (0, 1, 2)
    plane = math.prod(spatial)
    pos = 0
    for axis in range(nd):
        starts = _fractional_starts(samples[:, order[axis]], spatial[axis], outs[axis],
                                    kernel[axis])
        shape = [n * c] + [1] * (2 * nd)
        shape[1 + axis] = outs[axis]
        offsets = [1] * (1 + 2 * nd)
        offsets[1 + nd + axis] = kernel[axis]
        taps = ember.arange(kernel[axis], device=input.device).reshape(offsets)
        pos = pos * spatial[axis] + starts.reshape(shape) + taps
    pos = pos.reshape(n, c, -1)  # every window's flat input positions, window by window
    win = x.reshape(n, c, plane).gather(2, pos).reshape(n, c, -1, math.prod(kernel))
    # NOTE: the first maximum of each window takes the gradient, as in torch's kernel
    idx = win.argmax(dim=-1, keepdim=True)
    out = win.gather(-1, idx).reshape((n, c) + outs)
    indices = pos.reshape(n, c, -1, math.prod(kernel)).gather(-1, idx).reshape((n, c) + outs)
    if unbatched:
        out, indices = out.squeeze(0), indices.squeeze(0)
    return out, indices


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool2d`` returning (values, indices)."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples,
                                2)


@_amp.float32_op
def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling (Graham, 2014) over the last two dims: kh x kw windows at
    pseudo-random, increasing starts so that the output has ``output_size`` (or
    ``output_ratio`` times the input's size); ``_random_samples`` (N, C, 2) in [0, 1) fixes them.

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.fractional_max_pool2d(ember.randn(1, 2, 7, 8), 2, output_size=(3, 4)).shape
    ember.Size([1, 2, 3, 4])
    """
    res = _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples,
                               2)
    return res if return_indices else res[0]


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """``fractional_max_pool3d`` returning (values, indices)."""
    return _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples,
                                3)


@_amp.float32_op
def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over the last three dims (see ``fractional_max_pool2d``);
    ``_random_samples`` is (N, C, 3).

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.fractional_max_pool3d(ember.randn(1, 2, 5, 6, 7), 2, output_ratio=0.5).shape
    ember.Size([1, 2, 2, 3, 3])
    """
    res = _fractional_max_pool(input, kernel_size, output_size, output_ratio, _random_samples,
                               3)
    return res if return_indices else res[0]


# ---------------------------------------------------------------------------------- dropout
def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of an (N, C, D, H, W) input (a 4-d input is one unbatched sample).

    >>> import ember
    >>> F = ember.nn.functional
    >>> F.dropout3d(ember.ones(1, 2, 1, 1, 1), training=False).sum().item()
    2.0
    """
    if input.dim() not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.dim()}-D input to dropout3d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).")
    return _F()._feature_dropout(input, p, training, inplace, 5)
