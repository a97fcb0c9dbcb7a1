"""Which ``k`` entries ``torch.topk`` picks when values tie, as a sorted index set.

Pruning masks are built from ``topk`` indices; ``ember.topk`` already breaks ties as torch's CPU
``topk`` does (``ember.core.ops.topk_order`` replays its selection), so this only adapts it to
the host arrays the pruning code holds. The selection decides a mask, never a gradient.
"""
from __future__ import annotations

import numpy as np

__all__ = ["topk_indices"]


def topk_indices(values: np.ndarray, k: int, largest: bool = True) -> np.ndarray:
    """The set of indices ``torch.topk(values, k, largest=largest).indices`` holds (1-D CPU
    input), as a sorted int64 array; ties are broken as torch breaks them."""
    import ember
    values = np.ascontiguousarray(np.asarray(values).reshape(-1))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    k = min(k, values.size)
    picked = ember.topk(ember.from_numpy(values), k, largest=largest).indices
    return np.sort(picked.numpy()).astype(np.int64)
