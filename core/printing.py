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


class _Formatter:
    """torch's element formatter: one width and one notation for the whole (summarised) tensor.

    Floats are chosen from the nonzero finite values only: integral ones print as ``2.``,
    scientific notation (unless set_printoptions(sci_mode=) says) when max/min > 1000,
    max > 1e8 or min < 1e-4."""

    def __init__(self, a, floating: bool):
        self.floating = floating
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        prec = _options["precision"]
        flat = a.reshape(-1)
        if not floating:
            self.max_width = max([1] + [len(self._plain(v)) for v in flat])
        else:
            vals = flat[np.isfinite(flat) & (flat != 0)]
            if vals.size:
                absv = np.abs(vals)
                mn, mx = absv.min(), absv.max()
                self.int_mode = bool(np.all(vals == np.ceil(vals)))
                forced = _options["sci_mode"]
                self.sci_mode = (bool(mx / mn > 1000.0 or mx > 1.0e8 or mn < 1.0e-4)
                                 if forced is None else forced)
                if self.sci_mode:
                    strs = [f"{v:.{prec}e}" for v in vals]
                elif self.int_mode:
                    strs = [f"{v:.0f}." for v in vals]
                else:
                    strs = [f"{v:.{prec}f}" for v in vals]
                self.max_width = max(len(x) for x in strs)

    @staticmethod
    def _plain(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return "True" if v else "False"
        return str(int(v))

    def __call__(self, v) -> str:
        if not self.floating:
            ret = self._plain(v)
        else:
            v = float(v)
            prec = _options["precision"]
            if self.sci_mode:
                ret = f"{v:{self.max_width}.{prec}e}"
            elif self.int_mode:
                ret = f"{v:.0f}" + ("" if np.isnan(v) or np.isinf(v) else ".")
            else:
                ret = f"{v:.{prec}f}"
        return ret.rjust(self.max_width)


def _summarized(a):
    """The edge items a summarised print shows (torch's get_summarized_data)."""
    edge = _options["edgeitems"]
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        # NOTE: a[-0:] is the whole row, as torch's self[-0:] with edgeitems=0
        return np.concatenate([a[:edge], a[-edge:]]) if len(a) > 2 * edge else a
    if not edge:
        return a[tuple(slice(0, 0) for _ in range(a.ndim))]
    rows = list(a[:edge]) + list(a[-edge:]) if len(a) > 2 * edge else list(a)
    return np.stack([_summarized(x) for x in rows])


class _ComplexFormatter:
    """torch's complex elements: the real parts formatted (and aligned) together, then the
    imaginary parts, formatted together but not aligned, with their sign (``1.5000+2.j``)."""

    def __init__(self, a):
        self.real, self.imag = _Formatter(a.real, True), _Formatter(a.imag, True)
        self.max_width = self.real.max_width + self.imag.max_width + 1

    def __call__(self, v) -> str:
        v = complex(v)
        im = (self.imag(v.imag) + "j").lstrip()
        return self.real(v.real) + (im if im[0] in "+-" else "+" + im)


def _body(a, dtype):
    if dtype.is_floating_point:
        a = a.astype(np.float64)
    summarize = a.size > _options["threshold"]
    if dtype.is_complex:
        a = a.astype(np.complex128)
        fmt = _ComplexFormatter(_summarized(a) if summarize else a)
    else:
        fmt = _Formatter(_summarized(a) if summarize else a, dtype.is_floating_point)
    if a.ndim == 0:
        return fmt(a.item())
    return _nested(a, fmt, len("tensor("), summarize)


def _nested(a, fmt, indent, summarize):
    """torch's _tensor_str_with_formatter: ``indent`` is the column of the opening bracket."""
    edge = _options["edgeitems"]
    cut = summarize and a.shape[0] > 2 * edge
    if a.ndim == 1:
        if summarize and not edge:
            items = ["..."]
        elif cut:
            items = [fmt(v) for v in a[:edge]] + [" ..."] + [fmt(v) for v in a[-edge:]]
        else:
            items = [fmt(v) for v in a]
        per_line = max(1, int((_options["linewidth"] - indent) // (fmt.max_width + 2)))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(a.shape[0]))
    if cut:
        rows = rows[:edge] + [None] + rows[len(rows) - edge:]
    parts = [("..." if r is None else _nested(a[r], fmt, indent + 1, summarize))
             for r in rows]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(parts) + "]"


def tensor_repr(t):
    host = t._host()
    if t._dtype is _dt.bfloat16:
        host = host.astype(np.float32)
    suffix = []
    if t._device.type != "cpu":
        suffix.append(f"device='{t._device}'")
    default_ok = t._dtype in (_dt.get_default_dtype(), _dt.int64, _dt.bool_,
                              _dt.default_complex())
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
