"""Fused ops of neural-network layers: one graph node with an exact backward instead of the
dozen small ops they decompose into (the dispatch of small ops is what costs on cpu)."""
from __future__ import annotations

from .. import amp as _amp, dtypes as _dt
from ..autograd import grad_mode
from ..tensor import Tensor
from .registry import _state, composite, defop, record, unrecorded
from . import creation as C, elementwise as E, indexing as I, linalg as L, reduction as R
from . import shape as S


def _g_linear(ctx, g):
    x, w = ctx.inputs
    nexts = ctx.next_functions
    need_x, need_w = nexts[0] is not None, nexts[1] is not None
    need_b = len(nexts) == 3 and nexts[2] is not None
    # on 2-d operands: (N, out) gradient rows against (N, in) input rows
    g2 = g if g.ndim == 2 else S.reshape(g, (-1, g.shape[-1]))
    x2 = x if x.ndim == 2 else S.reshape(x, (-1, x.shape[-1]))
    gx, gw, gb = linear_backward(g2, x2, w, need_x, need_w, need_b)
    if gx is not None and x.ndim != 2:
        gx = S.reshape(gx, x.shape)
    return gx, gw, gb


@composite("linear_backward")
def linear_backward(grad, input, weight, need_input, need_weight, need_bias):
    """(grad_input, grad_weight, grad_bias) of linear for 2-d ``grad`` (N, out) and ``input``
    (N, in), None where not needed; a backend may fuse it. The weight's gradient comes out in
    the weight's own (out, in) layout."""
    gx = L.matmul(grad, weight) if need_input else None
    gw = L.matmul(S.t(grad), input) if need_weight else None
    gb = R.sum(grad, 0) if need_bias else None
    return gx, gw, gb


@composite("linear_forward")
def linear_forward(input, weight, bias):
    """``input @ weight.T (+ bias)`` for checked operands (bias None or of shape (out,)); a
    backend may fuse it."""
    out = L.matmul(input, S.t(weight))
    return out if bias is None else out + bias


def _save_linear(x, weight, bias=None):
    return (x, weight)


_linear_op = defop("linear", _g_linear, inputs=_save_linear, node_name="AddmmBackward0")
_linear_nobias_op = defop("linear_nobias", _g_linear, inputs=_save_linear,
                          node_name="MmBackward0")


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` as one graph node (torch's addmm): its backward gives the
    weight's gradient in the weight's layout, without the transpose and broadcast-sum nodes."""
    if _amp.active:  # autocast: a lower-precision op
        input, weight, bias = _amp.cast(input, weight, bias)
    dt = input._dtype
    wshape = weight._data.shape
    if not (dt.is_floating_point and len(wshape) == 2 and input._data.shape
            and input._data.shape[-1] == wshape[1] and weight._dtype is dt and (bias is None or (
                bias._dtype is dt and bias._data.shape == wshape[:1]))):
        # anything else (broadcast biases, mismatches) as plain ops: their rules and errors
        out = L.matmul(input, S.t(weight) if weight.ndim == 2 else weight)
        return out if bias is None else out + bias
    if not (_state.enabled and (input._requires_grad or weight._requires_grad or (
            bias is not None and bias._requires_grad))):
        return linear_forward(input, weight, bias)
    out = unrecorded(linear_forward, input, weight, bias)
    if bias is None:
        record(_linear_nobias_op, (input, weight), out)
    else:
        record(_linear_op, (input, weight, bias), out)
    return out


def _g_cross_entropy(ctx, g):
    p = ctx.params
    if grad_mode.is_grad_enabled():
        # With create_graph the softmax is recomputed from x, so second derivatives are exact.
        x, = ctx.inputs
        return (_ce_logits_grad(R.softmax(x, 1), p["target"], p["coef"], g),)
    return (cross_entropy_backward(g, p["logp"], p["target"], p["coef"]),)


def _ce_logits_grad(probs, target, coef, grad):
    # (softmax - onehot(target)) * coef * grad, per row
    onehot = I.scatter(probs * 0.0, 1, S.unsqueeze(target, 1), 1.0)
    return (probs - onehot) * S.unsqueeze(coef * grad, 1)


_ce_op = defop("cross_entropy_loss", _g_cross_entropy, inputs=True,
               node_name="NllLossBackward0")


def cross_entropy_indices(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """cross_entropy of (N, C) logits against int64 class indices (N,), as one node."""
    if reduction not in ("none", "sum", "mean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    out, logp, safe, coef = unrecorded(cross_entropy_forward, input, target, weight,
                                       ignore_index, reduction)
    if _state.enabled and input._requires_grad:
        record(_ce_op, (input,), out, {"target": safe, "coef": coef, "logp": logp,
                                       "reduction": reduction})
    return out


@composite("cross_entropy_forward")
def cross_entropy_forward(input, target, weight, ignore_index, reduction):
    """(loss, log_softmax(input), target with ignored entries set to 0, per-sample gradient
    coefficient) of cross_entropy over (N, C) logits and class indices; a backend may fuse it."""
    logp = R.log_softmax(input, 1)
    valid = E.ne(target, ignore_index)
    safe = E.where(valid, target, 0)
    picked = S.squeeze(I.gather(logp, 1, S.unsqueeze(safe, 1)), 1)
    w = valid.to(input.dtype)
    if weight is not None:
        w = w * I.index_select(weight, 0, safe)
    losses = -picked * w
    if reduction == "none":
        return losses, logp, safe, w
    if reduction == "sum":
        return R.sum(losses), logp, safe, w
    denom = R.sum(w)
    return R.sum(losses) / denom, logp, safe, w / denom


@composite("cross_entropy_backward")
def cross_entropy_backward(grad, logp, target, coef):
    """The logits' gradient of cross_entropy: (softmax - onehot(target)) * coef * grad, per row
    (grad is the loss's gradient: a scalar, or per sample for reduction='none')."""
    return _ce_logits_grad(E.exp(logp), target, coef, grad)


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


# ---------------------------------------------------------------------------------- conv2d
def _g_conv2d(ctx, g):
    x, weight, bias = ctx.inputs
    stride, dilation = ctx.params["stride"], ctx.params["dilation"]
    need_x, need_w, need_b = ctx.needs_input_grad
    gx = conv2d_input_grad(g, weight, tuple(x.shape), stride=stride, dilation=dilation) \
        if need_x else None
    gw = conv2d_weight_grad(g, x, tuple(weight.shape[2:]), stride=stride, dilation=dilation) \
        if need_w else None
    gb = R.sum(g, (0, 2, 3)) if need_b else None
    return gx, gw, gb


@composite("conv2d", _g_conv2d)
def conv2d(x, weight, bias, stride, dilation):
    """2-d cross-correlation of an (N, C, H, W) input (already padded) with (C_out, C, kh, kw)
    weights, plus a (C_out,) bias or None: im2col and one GEMM. A backend may fuse it, with
    ``conv2d_input_grad`` and ``conv2d_weight_grad`` for its gradient."""
    c_out, _, kh, kw = weight.shape
    win = S.sliding_windows(x, (kh, kw), stride, dilation)  # (N, C, OH, OW, kh, kw), a view
    n, _, oh, ow = win.shape[:4]
    # NOTE: one big 2-d GEMM over columns laid out (C*kh*kw, N*OH*OW): the im2col copy then
    # moves whole output rows, and the gradient comes back in the same layout, so the fold in
    # sliding_windows' backward adds contiguous runs (3-5x faster than the (N*OH*OW, C*kh*kw)
    # layout, forward and backward).
    cols = win.permute(1, 4, 5, 0, 2, 3).reshape(-1, n * oh * ow)
    out = L.matmul(weight.reshape(c_out, -1), cols)  # (C_out, N*OH*OW)
    out = out.reshape(c_out, n, oh, ow).permute(1, 0, 2, 3)
    if bias is not None:
        out = out + bias.reshape(1, c_out, 1, 1)
    return S.contiguous(out)  # torch returns NCHW-contiguous, so .view() works on the result


@composite("conv2d_input_grad")
def conv2d_input_grad(grad, weight, shape, stride, dilation):
    """The gradient of ``conv2d`` with respect to its input of ``shape``: the (N, C_out, OH, OW)
    ``grad`` through the transposed weights to columns, folded back (col2im)."""
    c_out, c, kh, kw = weight.shape
    n, _, oh, ow = grad.shape
    g = grad.permute(1, 0, 2, 3).reshape(c_out, -1)
    cols = L.matmul(weight.reshape(c_out, -1).transpose(0, 1), g)  # (C*kh*kw, N*OH*OW)
    cols = cols.reshape(c, kh, kw, n, oh, ow).permute(3, 0, 4, 5, 1, 2)
    return fold_windows(cols, shape, (kh, kw), stride, dilation)


@composite("conv2d_weight_grad")
def conv2d_weight_grad(grad, x, kernel, stride, dilation):
    """The gradient of ``conv2d`` with respect to its (C_out, C, kh, kw) weights: ``grad``
    times the columns of ``x``."""
    win = S.sliding_windows(x, kernel, stride, dilation)
    n, c, oh, ow, kh, kw = win.shape
    cols = win.permute(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, -1)  # as conv2d's
    g = grad.permute(1, 0, 2, 3).reshape(grad.shape[1], -1)  # (C_out, N*OH*OW)
    return L.matmul(g, cols.transpose(0, 1)).reshape(-1, c, kh, kw)


# ---- optimizer updates ----------------------------------------------------------------------

@composite("sgd_momentum_update_", mutates=(0, 2))
def sgd_momentum_update_(param, grad, buf, lr, momentum, dampening, nesterov):
    """One SGD step with a momentum buffer, in place (torch's rule): ``buf = momentum * buf +
    (1 - dampening) * grad``; ``param -= lr * (grad + momentum * buf if nesterov else buf)``.
    For tensors of one dtype and shape; a backend may fuse it."""
    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
    step = grad.add(buf, alpha=momentum) if nesterov else buf
    param.add_(step, alpha=-lr)


# ---- hard activations: torch's own backward formulas ----------------------------------------
# NOTE: written as ops (not composites) so the gradient is torch's at every input: 0 for
# hardsigmoid and 1 for hardswish at NaN (their backward's comparisons are false there), and
# hardsigmoid's slope is 1/6 rounded to float32 in every dtype, as torch's kernel has it.
_ONE_SIXTH_F32 = 0.1666666716337204


def _g_hardsigmoid(ctx, g):
    x = ctx.inputs[0]
    return (E.where((x > -3.0) & (x < 3.0), g * _ONE_SIXTH_F32, 0.0),)


def _g_hardswish(ctx, g):
    x = ctx.inputs[0]
    return (E.where(x <= -3.0, 0.0, E.where(x < 3.0, g * (x / 3.0 + 0.5), g)),)


_hardsigmoid_op = defop("hardsigmoid", _g_hardsigmoid, inputs=True,
                        node_name="HardsigmoidBackward0")
_hardswish_op = defop("hardswish", _g_hardswish, inputs=True, node_name="HardswishBackward0")


def _hard_activation(op, x, fn):
    with grad_mode.no_grad():
        r = fn(x.detach())
    if _state.enabled and x._requires_grad:
        record(op, (x,), r)
    return r


def hardsigmoid(x: Tensor) -> Tensor:
    """min(max(x + 3, 0), 6) / 6, torch's formula (NaN stays NaN)."""
    return _hard_activation(_hardsigmoid_op, x, lambda t: E.clamp(t + 3.0, 0.0, 6.0) / 6.0)


def hardswish(x: Tensor) -> Tensor:
    """x * min(max(x + 3, 0), 6) / 6, torch's formula (so -inf gives NaN and -3 gives -0)."""
    return _hard_activation(_hardswish_op, x, lambda t: t * E.clamp(t + 3.0, 0.0, 6.0) / 6.0)


def _g_elu(ctx, g):
    x = ctx.inputs[0]
    alpha, scale, input_scale = ctx.params["coefs"]
    neg = E.where(x <= 0, x, 0.0)
    # NOTE: torch's elu_backward: exp(x) (not expm1's result + 1) on the negative side, and the
    # positive side (so gradient ``scale``) at NaN
    return (E.where(x <= 0, g * (input_scale * alpha * scale) * E.exp(neg * input_scale),
                    g * scale),)


_elu_op = defop("elu", _g_elu, inputs=True, node_name="EluBackward0")


def elu(x: Tensor, alpha: float = 1.0, scale: float = 1.0, input_scale: float = 1.0) -> Tensor:
    """torch's elu family: ``expm1(x * input_scale) * alpha * scale`` where ``x <= 0``, else
    ``x * scale`` (selu and celu pick the coefficients)."""
    def fn(t):
        neg = E.where(t <= 0, t, 0.0)
        return E.where(t <= 0, E.expm1(neg * input_scale) * (alpha * scale), t * scale)
    with grad_mode.no_grad():
        r = fn(x.detach())
    if _state.enabled and x._requires_grad:
        record(_elu_op, (x,), r, {"coefs": (alpha, scale, input_scale)})
    return r
