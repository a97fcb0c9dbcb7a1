"""``ember.nn.utils.spectral_norm``: the older, hook-based spectral normalisation, with torch's
names (parameter ``<name>_orig``, buffers ``<name>_u`` and ``<name>_v``).

>>> import ember
>>> m = ember.nn.utils.spectral_norm(ember.nn.Linear(3, 2))
>>> sorted(m.state_dict())
['bias', 'weight_orig', 'weight_u', 'weight_v']
"""
from __future__ import annotations

from typing import Optional

import ember

from ..modules.conv import ConvTranspose1d, ConvTranspose2d
from ..modules.module import Module
from ..parameter import Parameter
from ._norms import normalize, random_unit, reshape_weight_to_matrix

__all__ = ["spectral_norm", "remove_spectral_norm"]


class _SpectralNormHook:
    """Forward pre-hook: one power-iteration step per training forward, then
    ``module.<name> = <name>_orig / sigma``."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        self.name = name
        self.n_power_iterations = n_power_iterations
        self.dim = dim
        self.eps = eps

    def compute_weight(self, module: Module, do_power_iteration: bool):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = reshape_weight_to_matrix(weight, self.dim)
        if do_power_iteration:
            with ember.no_grad():
                m = mat.detach()
                for _ in range(self.n_power_iterations):
                    # NOTE: the old hook updates v from u first (the new parametrization does
                    # u first); matched to each
                    v.copy_(normalize(ember.mv(m.transpose(0, 1), u), self.eps))
                    u.copy_(normalize(ember.mv(m, v), self.eps))
            u, v = u.clone(), v.clone()
        sigma = ember.dot(u, ember.mv(mat, v))
        return weight / sigma

    def __call__(self, module: Module, inputs) -> None:
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """Replace ``module.<name>`` by ``<name>_orig`` divided by its spectral norm."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter "
                               f"{name}")
    if n_power_iterations <= 0:
        raise ValueError("Expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    weight = getattr(module, name)
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    mat = reshape_weight_to_matrix(weight.detach(), dim)
    h, w = mat.shape
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    # NOTE: torch also keeps the plain tensor as an attribute, read between forwards
    setattr(module, name, weight.detach() * 1)
    module.register_buffer(name + "_u", random_unit(h, mat, eps))
    module.register_buffer(name + "_v", random_unit(w, mat, eps))
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Turn ``<name>`` back into a plain parameter holding the normalised weight."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            with ember.no_grad():
                weight = hook.compute_weight(module, False)
            delattr(module, name)
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"]
            del module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach()))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
