"""ember.testing: assert_close (torch's default tolerances per dtype) and make_tensor."""
from __future__ import annotations

import math
import warnings

import numpy as np

_TOL = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
        "float64": (1e-7, 1e-7)}


def _host(x):
    from .tensor import Tensor
    if isinstance(x, Tensor):
        a = x.detach()._host()
        return a.astype(np.float64) if x.dtype.name == "bfloat16" else a, x
    return np.asarray(x), None


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_device=True,
                 check_dtype=True, check_stride=False, msg=None):
    """Raise AssertionError unless actual and expected are close elementwise
    (|a - e| <= atol + rtol * |e|), with matching shape, dtype and device."""
    kw = dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
              check_dtype=check_dtype, msg=msg)
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(msg or f"The length of the sequences mismatch: {len(actual)} "
                                 f"!= {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            _item(a, e, f"[{i}]", kw)
        return
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            missing, extra = set(expected) - set(actual), set(actual) - set(expected)
            raise AssertionError(msg or f"The keys of the mappings do not match:\n"
                                 f"Missing keys in the actual mapping: {sorted(missing)}\n"
                                 f"Additional keys in the actual mapping: {sorted(extra)}")
        for k in actual:
            _item(actual[k], expected[k], f"[{k!r}]", kw)
        return
    a, ta = _host(actual)
    e, te = _host(expected)
    if ta is not None and te is not None:
        if check_dtype and ta.dtype is not te.dtype:
            raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                 f"{ta.dtype} != {te.dtype}.")
        if check_device and ta.device != te.device:
            raise AssertionError(msg or f"The values for attribute 'device' do not match: "
                                 f"{ta.device} != {te.device}.")
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                             f"{a.shape} != {e.shape}.")
    name = ta.dtype.name if ta is not None else str(a.dtype)
    r, t = _TOL.get(name, (0.0, 0.0))
    rtol = r if rtol is None else rtol
    atol = t if atol is None else atol
    ok = np.isclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                    equal_nan=equal_nan)
    if not ok.all():
        raise AssertionError(msg or _mismatch(a, e, ok, rtol, atol, scalar=(
            a.ndim == 0 if ta is not None else np.ndim(actual) == 0)))


def _item(actual, expected, where: str, kw: dict) -> None:
    """Compare one entry of a sequence or mapping; say which one failed, as torch does."""
    try:
        assert_close(actual, expected, **kw)
    except AssertionError as err:
        text, marker = str(err), "\n\nThe failure occurred for item "
        if kw["msg"] is None:
            # the outer container's key goes first: "for item ['x'][0]"
            text = (text.replace(marker, marker + where) if marker in text
                    else text + marker + where)
        raise AssertionError(text) from None


def _mismatch(a, e, ok, rtol: float, atol: float, scalar: bool) -> str:
    """torch's wording: 'Scalars' for 0-d values, 'equal' when both tolerances are 0."""
    exact = rtol == 0 and atol == 0
    head = f"{'Scalars' if scalar else 'Tensor-likes'} are not {'equal' if exact else 'close'}!"
    exact_ints = a.dtype.kind in "iub" and e.dtype.kind in "iub"
    # NOTE: torch takes the differences in the tensors' own dtype (int64 for integers, whose
    # relative difference is then a float32 division); the printed digits follow from that
    same_float = a.dtype == e.dtype and a.dtype.kind in "fc"
    wide = a.dtype if same_float else np.float64
    diff = (np.abs(a.astype(np.int64) - e.astype(np.int64)) if exact_ints
            else np.abs(a.astype(wide) - e.astype(wide)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = (diff.astype(np.float32) / np.abs(e.astype(np.float32)) if exact_ints
               else diff / np.abs(e.astype(wide)))

    def tol(t):
        return "" if exact else f" (up to {t} allowed)"

    if scalar:
        return (f"{head}\n\nExpected {e.item()} but got {a.item()}.\nAbsolute difference: "
                f"{diff.item()}{tol(atol)}\nRelative difference: {rel.item()}{tol(rtol)}")
    bad = int((~ok).sum())
    diff = np.where(ok, 0, diff)
    rel = np.where(ok, 0.0, rel)
    ia = np.unravel_index(int(np.argmax(diff)), a.shape)
    ir = np.unravel_index(int(np.nanargmax(rel)) if not np.isnan(rel).all() else 0, a.shape)
    return (f"{head}\n\nMismatched elements: {bad} / {a.size} ({bad / max(a.size, 1):.1%})\n"
            f"Greatest absolute difference: {diff[ia]} at index {tuple(int(i) for i in ia)}"
            f"{tol(atol)}\nGreatest relative difference: {rel[ir]} at index "
            f"{tuple(int(i) for i in ir)}{tol(rtol)}")


assert_allclose = assert_close


def _low_high(low, high, dtype, lowest, highest, default_low, default_high):
    """torch's checks and clamping of make_tensor's [low, high) for ``dtype``."""
    low = default_low if low is None else low
    high = default_high if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and dtype.is_floating_point:
        warnings.warn("Passing `low==high` to `torch.testing.make_tensor` for floating or "
                      "complex types is deprecated since 2.1 and will be removed in 2.3. Use "
                      "`torch.full(...)` instead.", FutureWarning, stacklevel=3)
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lowest or low >= highest:
        raise ValueError(f"The value interval specified by `low` and `high` is [{low}, {high}), "
                         f"but {dtype} only supports [{lowest}, {highest})")
    low, high = min(max(low, lowest), highest), min(max(high, lowest), highest)
    if not dtype.is_floating_point:
        return math.ceil(low), math.ceil(high)
    return low, high


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` with values drawn uniformly from ``[low, high)``; the defaults are
    torch's: [0, 2) for bool, [-9, 10) for signed and [0, 10) for unsigned integers, [-9, 9) for
    floating types. ``noncontiguous`` gives a strided view, ``exclude_zero`` replaces zeros (by
    1, or the dtype's smallest normal).

    >>> import ember
    >>> t = ember.testing.make_tensor(2, 3, dtype=ember.float32, device="cpu", low=0, high=1)
    """
    import ember
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    shape = tuple(shape)
    dtype = ember.core.dtypes.to_dtype(dtype)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    floating = dtype.is_floating_point
    if requires_grad and not floating:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={dtype}")
    noncontiguous = noncontiguous and math.prod(shape) > 1
    if noncontiguous:
        shape = (*shape[:-1], 2 * shape[-1])
    if dtype is ember.bool:
        low, high = _low_high(low, high, dtype, 0, 2, 0, 2)
        result = ember.randint(low, high, shape, device=device, dtype=dtype)
    elif not floating:
        info = ember.iinfo(dtype)
        low, high = _low_high(low, high, dtype, info.min,
                              info.max + (1 if dtype is not ember.int64 else 0), -9, 10)
        result = ember.randint(low, high, shape, device=device, dtype=dtype)
    else:
        info = ember.finfo(dtype)
        low, high = _low_high(low, high, dtype, info.min, info.max, -9, 9)
        result = ember.empty(shape, device=device, dtype=dtype)
        if high - low >= info.max:  # the width itself would overflow: draw half of it
            result.uniform_(low / 2, high / 2).mul_(2)
        else:
            result.uniform_(low, high)
    if noncontiguous:
        result = result[..., 1::2]
    elif memory_format is not None:
        result = result.clone(memory_format=memory_format)
    if exclude_zero:
        result[result == 0] = 1 if not floating else ember.finfo(dtype).tiny
    if floating:
        result.requires_grad = requires_grad
    return result


def as_device_gives(reference, device, dtype):
    """``reference`` (a NumPy array of torch's values) as ``device`` can give them in ``dtype``:
    float32 and bfloat16 subnormals become 0 on a backend that flushes them (its capabilities'
    ``flushes_subnormals``: CuPy compiles its kernels with -ftz=true), other values unchanged.

    >>> ember.testing.as_device_gives(np.array([1e-40, 1.0]), "cpu", "float32")
    array([1.e-40, 1.e+00])
    """
    from .. import backends
    name = getattr(device, "type", str(device)).split(":")[0]
    if not backends.capabilities(name).get("flushes_subnormals") or \
            str(dtype).replace("ember.", "") not in ("float32", "bfloat16"):
        return reference
    ref = np.asarray(reference)
    tiny = np.finfo(np.float32).tiny
    return np.where(np.abs(ref) < tiny, np.copysign(0.0, ref), ref)


def device_dtype_params(dtypes=("float32", "float64")):
    """pytest parameters ``(device, dtype name)`` for every available backend and each of
    ``dtypes``; the pairs a backend lacks are skipped, saying which (for a backend's own tests,
    and Ember's)."""
    import pytest
    from .. import backends
    params = []
    for dev in backends.available():
        have = backends.capabilities(dev)["dtypes"]
        for name in dtypes:
            marks = () if name in have else pytest.mark.skip(
                reason=f"the {dev} backend has no {name}")
            params.append(pytest.param(dev, name, marks=marks, id=f"{dev}-{name}"))
    return params
