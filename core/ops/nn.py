"""Fused ops of neural-network layers: one graph node with an exact backward instead of the
dozen small ops they decompose into (the dispatch of small ops is what costs on cpu)."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd import grad_mode
from ..tensor import Tensor
from .registry import _state, defop, record
from . import elementwise as E, indexing as I, reduction as R, shape as S


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
