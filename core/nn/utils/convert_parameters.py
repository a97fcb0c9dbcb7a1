"""parameters_to_vector / vector_to_parameters."""
from __future__ import annotations

import ember

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Flatten and concatenate ``parameters`` into one 1-d tensor."""
    return ember.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters) -> None:
    """Copy slices of the 1-d ``vec`` into ``parameters`` (in order) in place."""
    if not isinstance(vec, ember.Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    with ember.no_grad():
        for param in parameters:
            n = param.numel()
            param.copy_(vec[pointer:pointer + n].reshape(param.shape))
            pointer += n
