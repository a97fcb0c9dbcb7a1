"""Sampling-related layers: ``CTCLoss``."""
from __future__ import annotations

from .. import functional as F
from .loss import _Loss

__all__ = ["CTCLoss"]


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (see ``ember.nn.functional.ctc_loss``).

    >>> import ember
    >>> lp = ember.randn(5, 2, 4).log_softmax(2)
    >>> loss = ember.nn.CTCLoss()(lp, ember.tensor([[1, 2], [3, 3]]), [5, 5], [2, 2])
    >>> loss.dim()
    0
    """

    def __init__(self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
