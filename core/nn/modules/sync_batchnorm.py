"""``SyncBatchNorm`` for a single process, and the legacy ``NLLLoss2d``.

Without an initialised process group torch's SyncBatchNorm is plain batch normalisation over
all dims but the channel (any rank >= 2); Ember has no multi-process collectives in the layer
path, so that is what it always is here.

>>> import ember
>>> ember.nn.SyncBatchNorm(3)(ember.randn(4, 3, 5)).shape
ember.Size([4, 3, 5])
"""
from __future__ import annotations

import ember

from .loss import NLLLoss
from .normalization import _NormBase

__all__ = ["SyncBatchNorm", "NLLLoss2d"]


class SyncBatchNorm(_NormBase):
    """Batch normalisation whose statistics would be reduced across ``process_group``."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None,
                 dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm*d layer (recursively) replaced by a SyncBatchNorm
        holding the same parameters and running statistics."""
        out = module
        if isinstance(module, _NormBase) and _is_batch_norm(module):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                with ember.no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        del module
        return out


def _is_batch_norm(module) -> bool:
    # the BatchNorm{1,2,3}d family (and their lazy forms), not instance norms
    return any(c.__name__.startswith("BatchNorm") for c in type(module).__mro__)


class NLLLoss2d(NLLLoss):
    """Deprecated spelling of ``NLLLoss`` (for (N, C, H, W) inputs), kept by torch."""
