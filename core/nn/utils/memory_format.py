"""``convert_conv2d_weight_memory_format`` / ``convert_conv3d_weight_memory_format``: re-lay the
weights of every (transposed) convolution in a module tree in a memory format, as torch's."""
from __future__ import annotations

import ember

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert(module, memory_format, kinds):
    if isinstance(module, kinds):
        # the same values and Parameter, with its data re-laid (channels_last ...)
        weight = module.weight.detach().clone().contiguous(memory_format=memory_format)
        module.weight.data = weight
    for child in module.children():
        _convert(child, memory_format, kinds)
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """``module`` with the weights of its ``Conv2d`` / ``ConvTranspose2d`` layers (recursively)
    laid out in ``memory_format`` (e.g. ``ember.channels_last``); returns the module.

    >>> import ember
    >>> m = ember.nn.utils.convert_conv2d_weight_memory_format(ember.nn.Conv2d(2, 4, 3),
    ...                                                        ember.channels_last)
    >>> m.weight.is_contiguous(memory_format=ember.channels_last)
    True
    """
    nn = ember.nn
    return _convert(module, memory_format, (nn.Conv2d, nn.ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    """As ``convert_conv2d_weight_memory_format`` for ``Conv3d`` / ``ConvTranspose3d``."""
    nn = ember.nn
    return _convert(module, memory_format, (nn.Conv3d, nn.ConvTranspose3d))
