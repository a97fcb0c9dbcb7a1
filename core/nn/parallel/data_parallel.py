"""``DataParallel``: on the cpu (Ember's only device for it) the wrapped module runs as is."""
from __future__ import annotations

from ..modules.module import Module

__all__ = ["DataParallel"]


class DataParallel(Module):
    """Runs ``module`` on the batch; with no accelerator devices to split the batch over (as
    torch does on a cpu-only machine), it is a pass-through that keeps ``.module``.

    >>> m = ember.nn.DataParallel(ember.nn.Linear(2, 1))
    >>> m(ember.ones(3, 2)).shape
    ember.Size([3, 1])
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if device_ids:
            raise ValueError("Ember's DataParallel runs on the cpu only: device_ids must be "
                             f"None or empty, got {device_ids}")
        self.module = module
        self.device_ids = []
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)
