"""Helpers shared by the distributions: broadcasting, probs/logits, lazy attributes, finfo."""
from __future__ import annotations

from collections import namedtuple
from functools import update_wrapper
from numbers import Number

import ember

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs",
           "probs_to_logits"]

_finfo = namedtuple("finfo", ["eps", "tiny", "min", "max"])
# NOTE: ember has no finfo; these are the IEEE constants torch.finfo reports.
_FINFO = {
    "float64": _finfo(2.220446049250313e-16, 2.2250738585072014e-308,
                      -1.7976931348623157e308, 1.7976931348623157e308),
    "float32": _finfo(1.1920928955078125e-07, 1.1754943508222875e-38,
                      -3.4028234663852886e38, 3.4028234663852886e38),
    "float16": _finfo(0.0009765625, 6.103515625e-05, -65504.0, 65504.0),
    "bfloat16": _finfo(0.0078125, 1.1754943508222875e-38,
                       -3.3895313892515355e38, 3.3895313892515355e38),
}


def finfo(dtype):
    """eps, tiny, min and max of a floating dtype (as torch.finfo)."""
    return _FINFO[dtype.name]


def broadcast_all(*values):
    """Broadcast tensors and numbers together; numbers take the dtype and device of the first
    tensor (the default dtype when there is none), as torch.distributions.utils.broadcast_all."""
    if not all(isinstance(v, (ember.Tensor, Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    first = next((v for v in values if isinstance(v, ember.Tensor)), None)
    opts = (dict(dtype=ember.get_default_dtype()) if first is None
            else dict(dtype=first.dtype, device=first.device))
    tensors = [v if isinstance(v, ember.Tensor) else ember.tensor(v, **opts) for v in values]
    return ember.broadcast_tensors(*tensors)


def _standard_normal(shape, dtype, device):
    return ember.randn(shape, dtype=dtype, device=device)


def _sum_rightmost(value, dim):
    """Sum out the ``dim`` rightmost dimensions of ``value``."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.ndim - dim]) + (-1,)).sum(-1)


def logits_to_probs(logits, is_binary=False):
    """Sigmoid of binary logits, softmax of categorical ones."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def clamp_probs(probs):
    """Keep probabilities in [eps, 1 - eps] so that their logits stay finite."""
    eps = finfo(probs.dtype).eps
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    """log(p) (categorical) or log(p / (1 - p)) (binary), of clamped probabilities."""
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


def _log1pexp(x):
    """softplus(x) = log(1 + exp(x)) without overflow (and without softplus's threshold)."""
    return x.clamp(min=0) + (-x.abs()).exp().log1p()


def _fmt(value):
    """``f"{value}"`` as torch renders it: a 0-d tensor prints as its Python number."""
    if isinstance(value, ember.Tensor) and value.ndim == 0:
        return str(value.item())
    return str(value)


class lazy_property:
    """A parameter computed from another on first access, then cached on the instance (so
    ``name in self.__dict__`` says whether it was given or derived)."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        update_wrapper(self, wrapped)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        # (torch computes it with grad on, so a derived parameter stays differentiable even
        # when it is first touched under no_grad)
        with ember.enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value
