"""Fused ops of neural-network layers: one graph node with an exact backward instead of the
dozen small ops they decompose into (the dispatch of small ops is what costs on cpu)."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd import grad_mode
from ..tensor import Tensor
from .registry import _state, composite, defop, record
from . import creation as C, elementwise as E, indexing as I, reduction as R, shape as S


def _g_cross_entropy(ctx, g):
    x, = ctx.inputs
    p = ctx.params
    safe, coef = p["target"], p["coef"]
    # With create_graph the softmax is recomputed from x, so second derivatives are exact.
    probs = R.softmax(x, 1) if grad_mode.is_grad_enabled() else E.exp(p["logp"])
    onehot = I.scatter(probs * 0.0, 1, S.unsqueeze(safe, 1), 1.0)
    scale = coef * g
    return ((probs - onehot) * S.unsqueeze(scale, 1),)


_ce_op = defop("cross_entropy_loss", _g_cross_entropy, inputs=True,
               node_name="NllLossBackward0")


def cross_entropy_indices(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """cross_entropy of (N, C) logits against int64 class indices (N,), as one node."""
    with grad_mode.no_grad():
        logp = R.log_softmax(input, 1)
        valid = E.ne(target, ignore_index)
        safe = E.where(valid, target, 0)
        picked = S.squeeze(I.gather(logp, 1, S.unsqueeze(safe, 1)), 1)
        w = valid.to(input.dtype)
        if weight is not None:
            w = w * I.index_select(weight, 0, safe)
        losses = -picked * w
        if reduction == "none":
            out, coef = losses, w
        elif reduction == "sum":
            out, coef = R.sum(losses), w
        elif reduction == "mean":
            denom = R.sum(w)
            out, coef = R.sum(losses) / denom, w / denom
        else:
            raise ValueError(f"{reduction} is not a valid value for reduction")
    if _state.enabled and input._requires_grad:
        record(_ce_op, (input,), out, {"target": safe, "coef": coef, "logp": logp,
                                       "reduction": reduction})
    return out


# ---------------------------------------------------------------------------------- max-pool
def _g_max_pool2d_blocks(ctx, g):
    x, = ctx.inputs
    return (max_pool2d_blocks_backward(g, x, ctx.out, kernel=ctx.params["kernel"]),)


@composite("max_pool2d_blocks", _g_max_pool2d_blocks, inputs=True, out=True)
def max_pool2d_blocks(x, kernel):
    """Max over the non-overlapping kh x kw blocks of an (N, C, H, W) tensor (max-pool with
    stride == kernel, no padding or dilation; leftover rows and columns are dropped, as in
    torch's floor mode). A backend may fuse it; the gradient goes to the first maximum of each
    block, as torch's."""
    win = S.sliding_windows(x, kernel, kernel)
    n, c, oh, ow, kh, kw = win.shape
    win = win.reshape(n, c, oh, ow, kh * kw)
    # NOTE: argmax + gather, not amax: amax would split the gradient between ties
    return I.gather(win, -1, R.argmax(win, -1, True)).squeeze(-1)


@composite("max_pool2d_blocks_backward")
def max_pool2d_blocks_backward(grad, x, out, kernel):
    """The input gradient of ``max_pool2d_blocks``: ``grad`` at the first maximum of each block,
    zero elsewhere. Written as a select with a constant mask, so it is differentiable again."""
    n, c, h, w = x.shape
    kh, kw = kernel
    with grad_mode.no_grad():
        win = S.sliding_windows(x, kernel, kernel)
        oh, ow = win.shape[2:4]
        idx = R.argmax(win.reshape(n, c, oh, ow, kh * kw), -1, True)
        first = E.eq(idx, C.arange(kh * kw, device=x.device))
        mask = first.reshape(n, c, oh, ow, kh, kw).permute(0, 1, 2, 4, 3, 5)
    # NOTE: a select, not a product with the mask: torch's gradient is 0 off the maxima even
    # where grad is inf or NaN
    g = E.where(mask, grad.reshape(n, c, oh, 1, ow, 1), 0.0)  # (N, C, OH, kh, OW, kw)
    g = g.reshape(n, c, oh * kh, ow * kw)
    if oh * kh < h:
        g = S.cat([g, C.zeros((n, c, h - oh * kh, ow * kw), dtype=g.dtype, device=g.device)], 2)
    if ow * kw < w:
        g = S.cat([g, C.zeros((n, c, h, w - ow * kw), dtype=g.dtype, device=g.device)], 3)
    return g


# ---------------------------------------------------------------------------------- col2im
@composite("fold_windows")
def fold_windows(grad, shape, kernel, stride, dilation):
    """col2im, the gradient of ``sliding_windows``: the (N, C, OH, OW, kh, kw) window gradients
    summed back into an input-shaped (N, C, H, W) tensor. A backend may fuse it (the strided
    adds below are one dispatch each)."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    n, c, oh, ow = grad.shape[:4]
    gx = C.zeros(shape, dtype=grad.dtype, device=grad.device)
    # one strided add per kernel offset
    for i in range(kh):
        for j in range(kw):
            idx = (slice(0, n, 1), slice(0, c, 1),
                   slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
                   slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            region = S.getitem_basic(gx, idx)
            region += S.getitem_basic(grad, (slice(0, n, 1), slice(0, c, 1), slice(0, oh, 1),
                                             slice(0, ow, 1), i, j))
    return gx
