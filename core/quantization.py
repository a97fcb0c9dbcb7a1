"""Fake quantization, as ``torch.fake_quantize_per_tensor_affine`` and
``torch.fake_quantize_per_channel_affine``: quantize to integers in ``[quant_min, quant_max]`` and
dequantize straight back, in the input's float dtype. The gradient is the straight-through
estimator masked to the values that were not clamped, as torch's.

Built from ember ops only, so every backend runs it and autograd needs no rule of its own.

>>> import ember
>>> x = ember.tensor([-1.0, 0.26, 3.0])
>>> ember.fake_quantize_per_tensor_affine(x, 0.1, 0, -8, 7).tolist()
[-0.800000011920929, 0.30000001192092896, 0.699999988079071]
"""
from __future__ import annotations

import ember

from . import dtypes as _dt
from .tensor import Tensor

__all__ = ["fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine"]

_FLOATS = (_dt.float32, _dt.float16, _dt.bfloat16, _dt.float64)


def _check(name, input, quant_min, quant_max):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
    if input.dtype not in _FLOATS:
        raise RuntimeError(f"Unsupported dtype: {input.dtype}: {name} expects a float input")
    if quant_min > quant_max:
        raise RuntimeError("`quant_min` should be less than or equal to `quant_max`.")


def _fake_quantize(input, scale, zero_point, quant_min, quant_max, float_zero_point):
    # NOTE: torch multiplies by the float32 reciprocal of the scale (not a division) and rounds
    # half to even (nearbyint); the mask is taken before the clamp. Match all three so values
    # on a rounding boundary land where torch puts them.
    inv_scale = 1.0 / scale
    if float_zero_point:
        q = ember.round(input.detach() * inv_scale + zero_point)
    else:
        q = ember.round(input.detach() * inv_scale) + zero_point
    mask = (q >= quant_min) & (q <= quant_max)
    out = (ember.clamp(q, quant_min, quant_max) - zero_point) * scale
    if not input.requires_grad:
        return out
    # the straight-through estimator: d out / d input is 1 where nothing was clamped, else 0
    return out + (input - input.detach()) * mask.to(input.dtype)


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min: int,
                                    quant_max: int) -> Tensor:
    """``(clamp(round(input / scale) + zero_point, quant_min, quant_max) - zero_point) * scale``,
    with one ``scale`` (float or one-element tensor) and ``zero_point`` (int or one-element
    int32 tensor); the gradient passes where the value was not clamped.

    >>> ember.fake_quantize_per_tensor_affine(ember.tensor([0.26, 9.0]), 0.1, 3, -8, 7).tolist()
    [0.30000001192092896, 0.4000000059604645]
    """
    _check("fake_quantize_per_tensor_affine", input, quant_min, quant_max)
    if isinstance(scale, Tensor):
        if scale.numel() != 1 or not isinstance(zero_point, Tensor) or zero_point.numel() != 1:
            raise RuntimeError("fake_quantize_per_tensor_affine: scale and zero_point must be "
                               "one-element tensors")
        sc = scale.detach().reshape(()).to(dtype=_dt.float32, device=input.device)
        zp = zero_point.reshape(()).to(dtype=_dt.float32, device=input.device)
        zp_value = int(zero_point.item())
    else:
        sc = ember.tensor(float(scale), dtype=_dt.float32, device=input.device)
        zp_value = int(zero_point)
        zp = float(zp_value)
    if not quant_min <= zp_value <= quant_max:
        raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")
    out = _fake_quantize(input, sc, zp, quant_min, quant_max, float_zero_point=False)
    return out.to(input.dtype)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis: int, quant_min: int,
                                     quant_max: int) -> Tensor:
    """Fake quantization with one ``scale`` and ``zero_point`` per slice along ``axis``
    (1-D tensors of ``input.size(axis)``); an int zero point is added after rounding, a float
    one before, as torch does.

    >>> w = ember.tensor([[0.26, -0.4], [1.0, 2.0]])
    >>> zp = ember.tensor([0, 0], dtype=ember.int32)
    >>> ember.fake_quantize_per_channel_affine(w, ember.tensor([0.1, 0.5]), zp, 0, -4, 3).tolist()
    [[0.30000001192092896, -0.4000000059604645], [1.0, 1.5]]
    """
    _check("fake_quantize_per_channel_affine", input, quant_min, quant_max)
    if not isinstance(scale, Tensor) or not isinstance(zero_point, Tensor):
        raise TypeError("fake_quantize_per_channel_affine(): scale and zero_point must be "
                        "Tensors")
    if scale.ndim != 1 or zero_point.ndim != 1:
        raise RuntimeError("scale and zero_point should be 1-D tensors")
    if not 0 <= axis < input.ndim:           # NOTE: torch takes no negative axis here
        raise RuntimeError("`axis` must be between 0 and number of dimensions of input")
    if scale.numel() != input.shape[axis] or zero_point.numel() != input.shape[axis]:
        raise RuntimeError("dimensions of scale and zero-point are not consistent with input "
                           "tensor")
    float_zp = zero_point.dtype.is_floating_point
    if not float_zp:
        if zero_point.dtype not in (_dt.int32, _dt.int64):
            raise RuntimeError(f"Zero-point must be Int32, Float or Half, found "
                               f"{zero_point.dtype}")
        if bool((zero_point < quant_min).any()) or bool((zero_point > quant_max).any()):
            raise RuntimeError("`zero_point` must be between `quant_min` and `quant_max`.")
    shape = [1] * input.ndim
    shape[axis] = input.shape[axis]
    sc = scale.detach().to(dtype=_dt.float32, device=input.device).reshape(shape)
    zp = zero_point.detach().to(dtype=_dt.float32, device=input.device).reshape(shape)
    out = _fake_quantize(input, sc, zp, quant_min, quant_max, float_zero_point=float_zp)
    return out.to(input.dtype)
