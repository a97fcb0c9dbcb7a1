"""ember.testing.assert_close, with torch's default tolerances per dtype."""
from __future__ import annotations

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
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"sequence lengths differ: {len(actual)} vs " \
            f"{len(expected)}"
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_device=check_device, check_dtype=check_dtype, msg=msg)
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
        bad = int((~ok).sum())
        diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
        raise AssertionError(msg or f"Tensor-likes are not close!\n\nMismatched elements: {bad} "
                             f"/ {a.size} ({100.0 * bad / max(a.size, 1):.1f}%)\nGreatest "
                             f"absolute difference: {np.nanmax(diff)}\n(up to {atol} allowed, "
                             f"rtol {rtol})")


assert_allclose = assert_close
