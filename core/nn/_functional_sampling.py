"""Spatial sampling (``affine_grid``, ``grid_sample``) and ``ctc_loss``, as compositions of
ember ops: every backend runs them and autograd gives the gradients.

>>> import ember
>>> import ember.nn.functional as F
>>> theta = ember.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
>>> F.affine_grid(theta, [1, 1, 2, 2], align_corners=True)[0, 0]
tensor([[-1., -1.],
        [ 1., -1.]])
"""
from __future__ import annotations

import math
from typing import Sequence

import ember
from .. import amp as _amp

__all__ = ["affine_grid", "grid_sample", "ctc_loss"]


# ------------------------------------------------------------------------------- affine_grid
def _base_coords(steps: int, align_corners: bool) -> list:
    """torch's normalised pixel centres along one dim: a single step sits at 0; without
    align_corners the corners move half a pixel inwards."""
    if steps <= 1:
        return [0.0] * steps
    pts = [-1.0 + 2.0 * i / (steps - 1) for i in range(steps)]
    if not align_corners:
        pts = [p * (steps - 1) / steps for p in pts]
    return pts


def affine_grid(theta, size: Sequence[int], align_corners=None):
    """Sampling grid of the affine maps ``theta`` ((N, 2, 3) or (N, 3, 4)) for an output of
    ``size`` ((N, C, H, W) or (N, C, D, H, W)); the last dim holds (x, y[, z]).

    >>> import ember, ember.nn.functional as F
    >>> F.affine_grid(ember.eye(2, 3).unsqueeze(0), [1, 1, 1, 3], align_corners=False).shape
    ember.Size([1, 1, 3, 2])
    """
    align_corners = bool(align_corners)
    size = [int(s) for s in size]
    if not theta.dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    nd = len(size) - 2
    if nd not in (2, 3):
        raise NotImplementedError(
            f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
            f"respectively. Got size {tuple(size)}.")
    if tuple(theta.shape) != (size[0], nd, nd + 1):
        raise ValueError(f"Expected a batch of {nd}D affine matrices of shape "
                         f"Nx{nd}x{nd + 1} for size {tuple(size)}. Got {tuple(theta.shape)}.")
    spatial = size[2:]
    if min(spatial) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {tuple(size)}")
    # the base grid rows are (x, y[, z], 1) with x running over the last (W) dim
    axes = [_base_coords(s, align_corners) for s in reversed(spatial)]
    rows = []
    for flat in range(math.prod(spatial)):
        idx, rest = [], flat
        for s in reversed(spatial):
            idx.append(rest % s)
            rest //= s
        rows.append([axes[k][i] for k, i in enumerate(idx)] + [1.0])
    base = ember.tensor(rows, dtype=theta.dtype, device=theta.device)
    grid = ember.matmul(base.unsqueeze(0), theta.transpose(1, 2))
    return grid.reshape([size[0]] + spatial + [nd])


# ------------------------------------------------------------------------------- grid_sample
def _unnormalize(coord, size: int, align_corners: bool):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low: int, twice_high: int):
    """Fold a coordinate into [twice_low/2, twice_high/2] by mirroring, as torch does."""
    if twice_low == twice_high:
        return coord * 0
    low = twice_low / 2
    span = (twice_high - twice_low) / 2
    dist = (coord - low).abs()
    extra = ember.fmod(dist, span)
    flips = ember.floor(dist / span)
    even = ember.fmod(flips, 2) == 0
    return ember.where(even, extra + low, span - extra + low)


def _pad_coord(coord, size: int, padding_mode: str, align_corners: bool):
    if padding_mode == "border":
        return coord.clamp(0, size - 1)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        return coord.clamp(0, size - 1)
    return coord


def _gather_2d(flat, ix, iy, H: int, W: int):
    """input[n, :, iy, ix] for integer-valued float coordinates, zero outside the image.
    ``flat`` is (N, C, H*W); ix and iy are (N, P); the result is (N, C, P)."""
    return _gather_nd(flat, [ix, iy], [W, H])


def _gather_nd(flat, coords, sizes):
    """input[n, :, ..., y, x] at integer-valued float coordinates (x, y[, z]) of the spatial
    sizes (W, H[, D]); zero outside. ``flat`` is (N, C, prod(sizes)), coords are (N, P)."""
    inside = None
    lin = None
    stride = 1
    for c, s in zip(coords, sizes):
        ok = (c >= 0) & (c <= s - 1)
        inside = ok if inside is None else inside & ok
        term = c.clamp(0, s - 1).to(ember.int64) * stride
        lin = term if lin is None else lin + term
        stride *= s
    ix = coords[0]
    lin = lin.unsqueeze(1).expand(flat.shape[0], flat.shape[1], ix.shape[1])
    vals = flat.gather(2, lin.contiguous())
    # NOTE: where, not a multiply by the mask: torch skips outside points, so a negative
    # value there gives +0.0, never -0.0
    return ember.where(inside.unsqueeze(1), vals, 0.0)


def _cubic_coeffs(t):
    """Keys cubic convolution weights (a = -0.75, as torch) of taps at -1, 0, 1, 2 from floor."""
    a = -0.75

    def near(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


@_amp.float32_op
def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners=None):
    """Sample ``input`` (N, C, H, W) at the normalised (x, y) locations of ``grid``
    (N, Ho, Wo, 2), or (N, C, D, H, W) at (x, y, z) of (N, Do, Ho, Wo, 3); modes 'bilinear'
    (trilinear for 5-D), 'nearest', 'bicubic' (4-D only); padding 'zeros', 'border',
    'reflection'.

    >>> import ember, ember.nn.functional as F
    >>> x = ember.arange(4.0).reshape(1, 1, 2, 2)
    >>> F.grid_sample(x, ember.zeros(1, 1, 1, 2), align_corners=True)
    tensor([[[[1.5000]]]])
    """
    align_corners = bool(align_corners)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    nd = input.dim() - 2
    if nd not in (2, 3):
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same "
                           f"number of dimensions, but got input with sizes "
                           f"{list(input.shape)} and grid with sizes {list(grid.shape)}")
    if (grid.dim() != input.dim() or grid.shape[-1] != nd
            or grid.shape[0] != input.shape[0]):
        raise RuntimeError(f"grid_sample(): expected grid of shape ({input.shape[0]}, ..., "
                           f"{nd}) for input of shape {tuple(input.shape)}, "
                           f"got {tuple(grid.shape)}")
    if mode == "bicubic" and nd != 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    N, C = input.shape[0], input.shape[1]
    sizes = list(reversed(input.shape[2:]))  # (W, H[, D]), matching the grid's (x, y[, z])
    out_sp = list(grid.shape[1:-1])
    P = math.prod(out_sp)
    flat = input.reshape(N, C, math.prod(sizes))
    coords = [_unnormalize(grid[..., k].reshape(N, P), sizes[k], align_corners)
              for k in range(nd)]
    if mode == "bicubic":
        W, H = sizes
        gx, gy = coords
        # NOTE: torch pads each integer tap coordinate, not the continuous one, so the grid's
        # gradient flows only through the cubic weights
        x0, y0 = ember.floor(gx).detach(), ember.floor(gy).detach()
        wx, wy = _cubic_coeffs(gx - x0), _cubic_coeffs(gy - y0)
        out = None
        for j in range(4):
            yj = _pad_coord(y0 + (j - 1), H, padding_mode, align_corners)
            row = None
            for i in range(4):
                xi = _pad_coord(x0 + (i - 1), W, padding_mode, align_corners)
                term = _gather_2d(flat, xi, yj, H, W) * wx[i].unsqueeze(1)
                row = term if row is None else row + term
            term = row * wy[j].unsqueeze(1)
            out = term if out is None else out + term
        return out.reshape([N, C] + out_sp)
    coords = [_pad_coord(c, s, padding_mode, align_corners) for c, s in zip(coords, sizes)]
    if mode == "nearest":
        # NOTE: torch rounds half to even (nearbyint); the grid gets an all-zero gradient
        # (where with an all-false mask: exactly 0 forward, whatever the grid holds)
        out = _gather_nd(flat, [ember.round(c.detach()) for c in coords], sizes)
        if grid.requires_grad:
            tie = ember.where(ember.zeros_like(coords[0], dtype=ember.bool), coords[0], 0.0)
            out = out + tie.unsqueeze(1)
        return out.reshape([N, C] + out_sp)
    lows = [ember.floor(c).detach() for c in coords]
    out = None
    for corner in range(2 ** nd):
        pts, weight = [], None
        for k in range(nd):
            if corner >> k & 1:
                pts.append(lows[k] + 1)
                w = coords[k] - lows[k]
            else:
                pts.append(lows[k])
                w = lows[k] + 1 - coords[k]
            weight = w if weight is None else weight * w
        term = _gather_nd(flat, pts, sizes) * weight.unsqueeze(1)
        out = term if out is None else out + term
    return out.reshape([N, C] + out_sp)


# ---------------------------------------------------------------------------------- ctc_loss
def _as_list(v) -> list:
    if isinstance(v, ember.Tensor):
        return [int(x) for x in v.reshape(-1).tolist()]
    return [int(x) for x in v]


@_amp.float32_op
def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False):
    """Connectionist temporal classification loss of ``log_probs`` (T, N, C) or (T, C).

    The forward (alpha) recursion runs in log space over time, vectorised over the batch and
    the label positions; autograd differentiates it.

    >>> import ember, ember.nn.functional as F
    >>> lp = ember.full((2, 1, 2), math.log(0.5))
    >>> round(F.ctc_loss(lp, ember.tensor([[1]]), [2], [1], reduction="sum").item(), 4)
    0.2877
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    batched = log_probs.dim() == 3
    if not batched:
        log_probs, targets = log_probs.unsqueeze(1), targets.reshape(1, -1)
    T, N, C = log_probs.shape
    in_lens = _as_list(input_lengths)
    tgt_lens = _as_list(target_lengths)
    if len(in_lens) != N or len(tgt_lens) != N:
        raise RuntimeError(f"ctc_loss: expected input_lengths and target_lengths of length {N}")
    where = "(while checking arguments for ctc_loss_allocate_outputs)"
    if max(in_lens) > T:
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value "
                           f"{max(in_lens)} {where}")
    flat = _as_list(targets)
    if targets.dim() == 1 and batched and len(flat) != sum(tgt_lens):
        raise RuntimeError(f"Expected tensor to have size {sum(tgt_lens)} at dimension 0, but "
                           f"got size {len(flat)} for argument #2 'targets' {where}")
    if targets.dim() != 1 and targets.shape[-1] < max(tgt_lens):
        raise RuntimeError(f"Expected tensor to have size at least {max(tgt_lens)} at dimension "
                           f"1, but got size {targets.shape[-1]} for argument #2 'targets' "
                           f"{where}")
    if targets.dim() == 1 and batched:
        # concatenated targets: sample n owns the next target_lengths[n] entries
        starts = [sum(tgt_lens[:n]) for n in range(N)]
        labels = [flat[s:s + tl] for s, tl in zip(starts, tgt_lens)]
    else:
        width = targets.shape[-1]
        labels = [flat[n * width:n * width + tl] for n, tl in enumerate(tgt_lens)]
    S = max(tgt_lens + [0])
    L = 2 * S + 1
    # extended labels: blank, l1, blank, l2, ..., blank (padded with blanks)
    ext = [[blank if s % 2 == 0 or s // 2 >= len(lab) else lab[s // 2] for s in range(L)]
           for lab in labels]
    skip = [[s >= 2 and e[s] != blank and e[s] != e[s - 2] for s in range(L)] for e in ext]
    dev, dt = log_probs.device, log_probs.dtype
    # NOTE: a large finite stand-in for log(0): logsumexp over all -inf entries would give a
    # NaN gradient; anything below _IMPOSSIBLE is read back as an infinite loss
    neg = -1e30 if dt != ember.float64 else -1e300
    idx = ember.tensor(ext, dtype=ember.int64, device=dev)
    lp_ext = log_probs.gather(2, idx.unsqueeze(0).expand(T, N, L).contiguous())  # (T, N, L)
    skip_ok = ember.tensor(skip, dtype=ember.bool, device=dev)
    neg_t = ember.full((N, 1), neg, dtype=dt, device=dev)
    neg_2 = ember.full((N, 2), neg, dtype=dt, device=dev)
    start = ember.tensor([[s < 2 for s in range(L)]] * N, dtype=ember.bool, device=dev)
    alpha = ember.where(start, lp_ext[0], ember.full((N, L), neg, dtype=dt, device=dev))
    lens_t = ember.tensor(in_lens, dtype=ember.int64, device=dev).unsqueeze(1)
    for t in range(1, T):
        prev1 = ember.cat([neg_t, alpha[:, :-1]], 1)
        prev2 = ember.cat([neg_2, alpha[:, :-2]], 1) if L > 2 else neg_t.expand(N, L)
        prev2 = ember.where(skip_ok, prev2, ember.full((), neg, dtype=dt, device=dev))
        new = ember.logsumexp(ember.stack([alpha, prev1, prev2]), 0) + lp_ext[t]
        # sequences shorter than T keep their alphas from their last step
        alpha = ember.where(lens_t > t, new, alpha)
    last = ember.tensor([[2 * tl, max(2 * tl - 1, 0)] for tl in tgt_lens], dtype=ember.int64,
                        device=dev)
    ends = alpha.gather(1, last)
    one_end = ember.tensor([[True, tl > 0] for tl in tgt_lens], dtype=ember.bool, device=dev)
    ends = ember.where(one_end, ends, ember.full((), neg, dtype=dt, device=dev))
    nll = -ember.logsumexp(ends, 1)
    # NOTE: torch's backward returns exp(log_probs) - posterior, the gradient with respect to
    # the logits under a log_softmax; a term that is zero forward adds the exp(log_probs) part
    valid = (ember.arange(T, device=dev).unsqueeze(1) < lens_t.reshape(1, N)).to(dt)
    p = log_probs.exp()
    nll = nll + ((p - p.detach()) * valid.unsqueeze(2)).sum((0, 2))
    infinite = nll.detach() > -neg / 2
    inf = ember.full((), math.inf, dtype=dt, device=dev)
    if zero_infinity:
        nll = ember.where(infinite, ember.zeros((), dtype=dt, device=dev), nll)
    else:
        nll = ember.where(infinite, inf, nll)
    if reduction == "none":
        return nll if batched else nll.reshape(())
    if reduction == "sum":
        return nll.sum()
    denom = ember.tensor([max(tl, 1) for tl in tgt_lens], dtype=dt, device=dev)
    return (nll / denom).mean()
