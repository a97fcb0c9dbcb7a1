"""Tensor repr in torch's format: ``tensor([1., 2.], device='opencl:0', requires_grad=True)``."""
from __future__ import annotations

import numpy as np

from . import dtypes as _dt

_options = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
            "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """torch.set_printoptions."""
    if profile == "default":
        _options.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        _options.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        _options.update(precision=4, threshold=float("inf"), edgeitems=3, linewidth=80)
    for k, v in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems),
                 ("linewidth", linewidth)):
        if v is not None:
            _options[k] = v
    _options["sci_mode"] = sci_mode


def _format_floats(a):
    finite = a[np.isfinite(a)]
    prec = _options["precision"]
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{prec}f}"
    absf = np.abs(finite)
    integral = np.all(finite == np.round(finite))
    mx, mn = absf.max(), absf.min() if absf.size else 0
    nz = absf[absf > 0]
    mn = nz.min() if nz.size else 0
    sci = _options["sci_mode"]
    if sci is None:
        sci = mx >= 1e8 or (nz.size and mn < 1e-4) or (nz.size and mx / mn > 1000 and not
                                                       integral and mx > 1e3)
    if integral and not sci:
        return lambda v: _special(v) or f"{v:.0f}."
    if sci:
        return lambda v: _special(v) or f"{v:.{prec}e}"
    return lambda v: _special(v) or f"{v:.{prec}f}"


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _body(a, dtype):
    if dtype.is_floating_point:
        a = a.astype(np.float64)
        fmt = _format_floats(a)
    elif dtype is _dt.bool_:
        fmt = lambda v: "True" if v else "False"  # noqa: E731
    else:
        fmt = lambda v: str(int(v))  # noqa: E731
    summarize = a.size > _options["threshold"]
    if a.ndim == 0:
        return fmt(a.item())
    flat = a.reshape(-1)
    width = max((len(fmt(v)) for v in flat[:2000]), default=1)
    return _nested(a, fmt, width, 1, summarize)


def _nested(a, fmt, width, depth, summarize):
    edge = _options["edgeitems"]
    indent = " " * (len("tensor(") + depth)
    if a.ndim == 1:
        items = [fmt(v).rjust(width) for v in (a[:edge] if summarize and len(a) > 2 * edge
                                              else a)]
        if summarize and len(a) > 2 * edge:
            items += ["..."] + [fmt(v).rjust(width) for v in a[-edge:]]
        per_line = max(1, (_options["linewidth"] - len(indent)) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + indent).join(lines) + "]"
    rows = list(range(a.shape[0]))
    if summarize and a.shape[0] > 2 * edge:
        rows = rows[:edge] + [None] + rows[-edge:]
    parts = [("..." if r is None else _nested(a[r], fmt, width, depth + 1, summarize))
             for r in rows]
    sep = "," + "\n" * (a.ndim - 1) + indent
    return "[" + sep.join(parts) + "]"


def tensor_repr(t):
    host = t._host()
    if t._dtype is _dt.bfloat16:
        host = host.astype(np.float32)
    suffix = []
    if t._device.type != "cpu":
        suffix.append(f"device='{t._device}'")
    default_ok = t._dtype in (_dt.get_default_dtype(), _dt.int64, _dt.bool_)
    if t.numel() == 0:
        body = "[]"
        if t.ndim != 1:
            suffix.insert(0, f"size={tuple(t.shape)}")
        if t._dtype is not _dt.get_default_dtype():
            default_ok = False
    else:
        body = _body(host, t._dtype)
    if not default_ok:
        suffix.append(f"dtype={t._dtype}")
    fn = t._grad_fn
    if fn is not None:
        suffix.append(f"grad_fn=<{fn.name()}>")
    elif t._requires_grad:
        suffix.append("requires_grad=True")
    inner = body + "".join(", " + s for s in suffix)
    return f"tensor({inner})"
