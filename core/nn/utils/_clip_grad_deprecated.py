"""``clip_grad_norm``: the deprecated spelling of ``clip_grad_norm_``."""
from __future__ import annotations

import warnings

from .clip_grad import clip_grad_norm_

__all__ = ["clip_grad_norm"]


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None):
    """Deprecated: warns (FutureWarning, as torch) and calls ``clip_grad_norm_``."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
