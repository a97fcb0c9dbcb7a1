"""The 3-d layers: convolution, pooling, normalisation, dropout and padding over
(N, C, D, H, W) volumes, each the N-d base class of its 1-d/2-d siblings with three spatial dims;
and fractional max pooling (2-d and 3-d).

>>> import ember
>>> ember.nn.Conv3d(2, 4, 3, padding=1)(ember.randn(1, 2, 4, 4, 4)).shape
ember.Size([1, 4, 4, 4, 4])
"""
from __future__ import annotations

from .. import functional as F
from .conv import ConvTranspose2d, _ConvNd
from .dropout import _DropoutNd
from .extra_pool import _LPPoolNd, _MaxUnpoolNd
from .module import Module
from .normalization import _InstanceNorm, _NormBase
from .padding import _ConstantPadNd, _PadNd, _ZeroPad
from .pooling import AvgPool2d, _AdaptiveAvgPoolNd, _AdaptiveMaxPoolNd, _MaxPoolNd

__all__ = ["Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
           "AdaptiveMaxPool3d", "LPPool3d", "MaxUnpool3d", "BatchNorm3d", "InstanceNorm3d",
           "Dropout3d", "ConstantPad3d", "ZeroPad3d", "ReflectionPad3d", "ReplicationPad3d",
           "CircularPad3d", "FractionalMaxPool2d", "FractionalMaxPool3d"]


# ---------------------------------------------------------------------------------- conv
class Conv3d(_ConvNd):
    """3-d convolution over (N, C, D, H, W) inputs; weight (out, in/groups, kd, kh, kw)."""

    _nd = 3

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias, F.conv3d)


class ConvTranspose3d(ConvTranspose2d):
    """Transposed 3-d convolution; weight (in, out/groups, kd, kh, kw)."""

    _nd = 3

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


# ---------------------------------------------------------------------------------- pooling
class MaxPool3d(_MaxPoolNd):
    """Max over (kd, kh, kw) windows.

    >>> import ember
    >>> ember.nn.MaxPool3d(2)(ember.randn(1, 3, 4, 4, 4)).shape
    ember.Size([1, 3, 2, 2, 2])
    """

    def forward(self, input):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool3d(AvgPool2d):
    """Average over (kd, kh, kw) windows."""

    def forward(self, input):
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Average pooling to a fixed (OD, OH, OW) output."""

    def forward(self, input):
        return F.adaptive_avg_pool3d(input, self.output_size)


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling to a fixed (OD, OH, OW) output."""

    def forward(self, input):
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class LPPool3d(_LPPoolNd):
    """Power-average pooling over (kd, kh, kw) windows."""

    def forward(self, input):
        return F.lp_pool3d(input, float(self.norm_type), self.kernel_size, self.stride,
                           self.ceil_mode)


class MaxUnpool3d(_MaxUnpoolNd):
    """Undo ``MaxPool3d(return_indices=True)``: values back in place, zeros elsewhere."""

    _nd = 3

    def forward(self, input, indices, output_size=None):
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


# ---------------------------------------------------------------------------------- norm
class BatchNorm3d(_NormBase):
    """Batch normalisation over (N, C, D, H, W) inputs, with running statistics for eval."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class InstanceNorm3d(_InstanceNorm):
    """Instance normalisation over (N, C, D, H, W) or (C, D, H, W) inputs."""
    _no_batch_dim = 4


class Dropout3d(_DropoutNd):
    """Zero whole channels of (N, C, D, H, W) inputs during training."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, self.inplace)


# ---------------------------------------------------------------------------------- padding
class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with ``value``: ``padding`` is an int or a 6-tuple
    (left, right, top, bottom, front, back)."""
    _nd = 3


class ZeroPad3d(_ZeroPad, ConstantPad3d):
    """Pad the last three dims with zeros."""


class ReflectionPad3d(_PadNd):
    """Pad the last three dims with their reflection."""
    _nd, _mode = 3, "reflect"


class ReplicationPad3d(_PadNd):
    """Pad the last three dims by repeating the edge values."""
    _nd, _mode = 3, "replicate"


class CircularPad3d(_PadNd):
    """Pad the last three dims by wrapping around."""
    _nd, _mode = 3, "circular"


# ---------------------------------------------------------------------------------- fractional
class _FractionalMaxPoolNd(Module):
    _nd = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None,
                 return_indices: bool = False, _random_samples=None):
        super().__init__()
        nd, name = self._nd, type(self).__name__
        self.kernel_size = F._ntuple(kernel_size, nd, "kernel_size")
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = F._ntuple(output_size, nd) if output_size is not None else None
        self.output_ratio = None if output_ratio is None else (
            tuple(output_ratio) if isinstance(output_ratio, (list, tuple)) else
            (output_ratio,) * nd)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling over (kh, kw) windows at pseudo-random starts (see
    ``ember.nn.functional.fractional_max_pool2d``)."""

    _nd = 2

    def forward(self, input):
        return F.fractional_max_pool2d(input, self.kernel_size, self.output_size,
                                       self.output_ratio, self.return_indices,
                                       _random_samples=self._random_samples)


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over (kd, kh, kw) windows at pseudo-random starts."""

    _nd = 3

    def forward(self, input):
        return F.fractional_max_pool3d(input, self.kernel_size, self.output_size,
                                       self.output_ratio, self.return_indices,
                                       _random_samples=self._random_samples)
