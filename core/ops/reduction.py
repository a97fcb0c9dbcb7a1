"""Reductions, scans and sorting: dim/keepdim handling, dtype rules and backward rules."""
from __future__ import annotations

import builtins
import math

import numpy as np

from .. import amp as _amp, dtypes as _dt, return_types as _return_types
from ..tensor import Tensor, _norm_dim
from .registry import _state, defop, record
from . import shape as S

_wrap = Tensor._wrap


def _named(name):
    return _return_types.make(name, ["values", "indices"])


max_ret, min_ret, sort_ret, topk_ret = _named("max"), _named("min"), _named("sort"), _named("topk")
kthvalue_ret, median_ret, mode_ret = _named("kthvalue"), _named("median"), _named("mode")
aminmax_ret = _return_types.make("aminmax", ["min", "max"])


def _axes(x, dim, op):
    n = x.ndim
    if dim is None:
        return tuple(range(n))
    if n == 0:
        # torch accepts dim 0 / -1 (or a list of them) on a 0-d tensor: nothing to reduce
        for d in (dim if isinstance(dim, (list, tuple)) else (dim,)):
            _norm_dim(d, 0, op)
        return ()
    if isinstance(dim, (list, tuple)):
        axes = tuple(sorted({_norm_dim(d, n, op) for d in dim}))
        if len(axes) != len(dim):
            raise RuntimeError(f"{op}(): dim appears multiple times in the list of dims")
        return axes if axes else tuple(range(n))
    return (_norm_dim(dim, n, op),)


def _unsqueeze_to(g, shape, axes, keepdim):
    if not g._data.shape:  # a full reduction: broadcast the 0-d gradient directly
        return S._expand_to(g, shape)
    if not keepdim and axes:
        new = list(g._data.shape)
        for a in axes:
            new.insert(a, 1)
        g = S.reshape(g, tuple(new))
    return S._expand_to(g, shape)


def _g_sum(ctx, g):
    p = ctx.params
    return (_unsqueeze_to(g, p["shape"], p["axes"], p["keepdim"]),)


_sum_op = defop("sum", _g_sum)
_ALL_AXES = [tuple(range(n)) for n in range(65)]  # ndim -> every axis


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum over ``dim`` (all dims when None); integer and bool inputs sum in int64."""
    x = input
    if _amp.active and dtype is None:
        x = _amp.widen("sum", x)
    if dim is None and dtype is None and out is None and x._dtype.is_floating_point and \
            x._data.ndim:
        # the common case (a loss): a full reduction, no cast, no out
        shape = x._data.shape
        res = _wrap(x._device._backend.kernels["sum"](x._data, _ALL_AXES[len(shape)], False),
                    x._dtype, x._device)
        if _state.enabled and x._requires_grad:
            record(_sum_op, (x,), res, {"shape": shape, "axes": _ALL_AXES[len(shape)],
                                         "keepdim": False})
        return res
    if dtype is not None:
        x = x.to(_dt.to_dtype(dtype))
    elif x._dtype.category < 2:
        x = x.to(_dt.int64)
    axes = _axes(x, dim, "sum")
    shape = x._data.shape
    k = x._device._backend.kernels
    if not axes:
        data = k["contiguous"](x._data) if shape == () else x._data
        res = _wrap(k["contiguous"](x._data), x._dtype, x._device)
    else:
        res = _wrap(k["sum"](x._data, axes, keepdim), x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_sum_op, (x,), res, {"shape": shape, "axes": axes, "keepdim": keepdim})
    return _maybe_out(res, out)


def _maybe_out(res, out):
    if out is None:
        return res
    from .elementwise import _out
    return _out(res, out)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    from .elementwise import where, isnan
    return sum(where(isnan(input), 0, input), dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    x = input if dtype is None else input.to(_dt.to_dtype(dtype))
    if x._dtype.category < 2:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {_title(x._dtype)}")
    axes = _axes(x, dim, "mean")
    n = 1
    for a in axes:
        n *= x._data.shape[a]
    s = sum(x, axes if dim is not None else None, keepdim)
    return _maybe_out(s / n if n else s * float("nan"), out)


def nanmean(input, dim=None, keepdim=False):
    if input._dtype.category < 2:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {_title(input._dtype)}")
    from .elementwise import isnan, logical_not
    keep = logical_not(isnan(input))
    return nansum(input, dim, keepdim) / sum(keep, dim, keepdim)


from ..tensor import _dt_name as _title  # noqa: E402  (torch's "Float", "Long" ...)


def _g_prod(ctx, g):
    x, = ctx.inputs
    p = ctx.params
    axes = p["axes"]
    # Product of all other elements: exclusive cumprods from both sides (safe with zeros).
    rest = [i for i in range(x.ndim) if i not in axes]
    y = S.permute(x, rest + list(axes))
    lead = y._data.shape[:len(rest)]
    flat = S.reshape(y, lead + (-1,))
    from .creation import ones
    one = ones(lead + (1,), dtype=x.dtype, device=x.device)
    left = cumprod(S.cat([one, S.narrow(flat, -1, 0, flat.shape[-1] - 1)], -1), -1)
    right = S.flip(cumprod(S.cat([one, S.narrow(S.flip(flat, -1), -1, 0, flat.shape[-1] - 1)],
                                 -1), -1), -1)
    others = S.reshape(left * right, y._data.shape)
    inv = [0] * x.ndim
    for i, d in enumerate(rest + list(axes)):
        inv[d] = i
    others = S.permute(others, inv)
    return (_unsqueeze_to(g, x.shape, axes, p["keepdim"]) * others,)


_prod_op = defop("prod", _g_prod, inputs=True)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    x = input
    if _amp.active and dtype is None:
        x = _amp.widen("prod", x)
    if dtype is not None:
        x = x.to(_dt.to_dtype(dtype))
    elif x._dtype.category < 2:
        x = x.to(_dt.int64)
    axes = _axes(x, dim, "prod")
    if not axes:
        return S.clone(x)
    res = _wrap(x._device._backend.kernels["prod"](x._data, axes, keepdim), x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_prod_op, (x,), res, {"axes": axes, "keepdim": keepdim})
    return res


def _g_amax(ctx, g):
    x, = ctx.inputs
    out = ctx.out
    p = ctx.params
    o = _unsqueeze_to(out, x.shape, p["axes"], p["keepdim"])
    mask = (x == o).to(g.dtype)
    count = _unsqueeze_to(sum(mask, p["axes"], p["keepdim"]), x.shape, p["axes"], p["keepdim"])
    # NOTE: torch's amax/amin (and max() without dim) share the gradient evenly among ties
    return (_unsqueeze_to(g, x.shape, p["axes"], p["keepdim"]) * mask / count,)


_amax_op = defop("amax", _g_amax, inputs=True, out=True)
_amin_op = defop("amin", _g_amax, inputs=True, out=True)


def _extreme(kname, op, x, dim, keepdim, opname):
    axes = _axes(x, dim, opname)
    if x.numel() == 0:
        if dim is None:
            raise RuntimeError(f"{opname}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        for a in axes:
            if x._data.shape[a] == 0:
                raise IndexError(f"{opname}(): Expected reduction dim {a} to have non-zero size.")
    if not axes:
        return S.clone(x)
    res = _wrap(x._device._backend.kernels[kname](x._data, axes, keepdim), x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(op, (x,), res, {"axes": axes, "keepdim": keepdim})
    return res


def _refuse_complex(x, cls, msg):
    """torch's error for a reduction without complex kernels ({dev}: the device type)."""
    if isinstance(x, Tensor) and x._dtype.is_complex:
        raise cls(msg.format(dev=x._device.type, DEV=x._device.type.upper(),
                             dt=_title(x._dtype)))


def amax(input, dim=(), keepdim=False):
    _refuse_complex(input, NotImplementedError, '"max_values_{dev}" not implemented for '
                                                "'{dt}'")
    return _extreme("amax", _amax_op, input, None if dim == () else dim, keepdim, "amax")


def amin(input, dim=(), keepdim=False):
    _refuse_complex(input, NotImplementedError, '"min_values_{dev}" not implemented for '
                                                "'{dt}'")
    return _extreme("amin", _amin_op, input, None if dim == () else dim, keepdim, "amin")


def _arg(kname, x, dim, keepdim, opname):
    if dim is None:
        if x.numel() == 0:
            raise RuntimeError(f"{opname}(): Expected reduction dim to be specified for "
                               "input.numel() == 0.")
        flat = S.reshape(x, (-1,))
        r = _wrap(x._device._backend.kernels[kname](flat._data, 0, False), _dt.int64, x._device)
        return S.reshape(r, (1,) * x.ndim) if keepdim else r
    d = _norm_dim(dim, x.ndim, opname)
    if x.ndim == 0:
        from .creation import zeros
        return zeros((), dtype=_dt.int64, device=x.device)
    if x._data.shape[d] == 0:
        raise IndexError(f"{opname}(): Expected reduction dim {d} to have non-zero size.")
    return _wrap(x._device._backend.kernels[kname](x._data, d, keepdim), _dt.int64, x._device)


def argmax(input, dim=None, keepdim=False):
    _refuse_complex(input, RuntimeError, "argmax(): does not support complex input")
    return _arg("argmax", input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim=False):
    _refuse_complex(input, RuntimeError, "argmin(): does not support complex input")
    return _arg("argmin", input, dim, keepdim, "argmin")


def _with_indices(kname, ext, input, dim, keepdim, ret, opname):
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        from . import elementwise
        return (elementwise.maximum if kname == "argmax" else elementwise.minimum)(input, dim)
    if dim is None:
        _refuse_complex(input, NotImplementedError, f'"{opname}_all" not implemented for '
                                                    "'{dt}'")
    else:
        _refuse_complex(input, RuntimeError, f"{opname}(): does not support complex input")
    if dim is None:
        return ext(input)
    idx = _arg(kname, input, dim, True, opname)
    from .indexing import gather
    vals = gather(input, dim, idx) if input.ndim else S.clone(input)
    if not keepdim and input.ndim:
        d = _norm_dim(dim, input.ndim)
        vals, idx = S.squeeze(vals, d), S.squeeze(idx, d)
    return ret(vals, idx)


def max(input, dim=None, keepdim=False, *, out=None):
    """Largest element, or (values, indices) along ``dim``; ``max(a, b)`` is maximum."""
    return _with_indices("argmax", amax, input, dim, keepdim, max_ret, "max")


def min(input, dim=None, keepdim=False, *, out=None):
    return _with_indices("argmin", amin, input, dim, keepdim, min_ret, "min")


def aminmax(input, *, dim=None, keepdim=False):
    _refuse_complex(input, NotImplementedError, '"aminmax_{dev}" not implemented for \'{dt}\'')
    return aminmax_ret(amin(input, () if dim is None else dim, keepdim),
                       amax(input, () if dim is None else dim, keepdim))


def all(input, dim=None, keepdim=False):
    """True where every element along dim is nonzero (uint8 in, uint8 out, as torch)."""
    from .elementwise import ne
    b = input if input._dtype is _dt.bool_ else ne(input, 0)
    if b.numel() == 0:
        from .creation import ones
        r = ones(_reduced_shape(b, dim, keepdim), dtype=_dt.bool_, device=input.device)
    else:
        r = amin(b, () if dim is None else dim, keepdim)
    return r.to(_dt.uint8) if input._dtype is _dt.uint8 else r


def any(input, dim=None, keepdim=False):
    """True where some element along dim is nonzero (uint8 in, uint8 out, as torch)."""
    from .elementwise import ne
    b = input if input._dtype is _dt.bool_ else ne(input, 0)
    if b.numel() == 0:
        from .creation import zeros
        r = zeros(_reduced_shape(b, dim, keepdim), dtype=_dt.bool_, device=input.device)
    else:
        r = amax(b, () if dim is None else dim, keepdim)
    return r.to(_dt.uint8) if input._dtype is _dt.uint8 else r


def _reduced_shape(x, dim, keepdim):
    axes = _axes(x, dim, "reduce")
    return tuple((1 if keepdim else None) if i in axes else s
                 for i, s in enumerate(x._data.shape) if keepdim or i not in axes)


def count_nonzero(input, dim=None):
    from .elementwise import ne
    return sum(ne(input, 0), dim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with ``correction`` (default 1, Bessel's) as torch.var."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    if isinstance(dim, bool):  # legacy var(x, unbiased)
        correction, dim = (1 if dim else 0), None
    x = input
    if x._dtype.is_complex:
        # (the variance of z is that of its real part plus that of its imaginary part)
        from .complex import imag, real
        return var(real(x), dim, correction=correction, keepdim=keepdim) + \
            var(imag(x), dim, correction=correction, keepdim=keepdim)
    if not x._dtype.is_floating_point:
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = _axes(x, dim, "var")
    n = 1
    for a in axes:
        n *= x._data.shape[a]
    mu = mean(x, axes, keepdim=True)
    d = x - mu
    s = sum(d * d, axes, keepdim)
    denom = n - correction
    return s / denom if denom > 0 else s * float("inf") if n else s * float("nan")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    from .elementwise import sqrt
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


@_amp.float32_op
def logsumexp(input, dim, keepdim=False):
    from .elementwise import exp, log, where, isinf
    x = input if input._dtype.is_floating_point else input.to(_dt.get_default_dtype())
    axes = _axes(x, dim, "logsumexp")
    m = amax(x, axes, keepdim=True).detach()
    m = where(isinf(m), 0.0, m)
    r = log(sum(exp(x - m), axes, keepdim=True)) + m
    return r if keepdim else S.reshape(r, _reduced_shape(x, axes, False))


@_amp.float32_op
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm (matrix 'fro'/'nuc' via linalg)."""
    from .elementwise import abs as _abs, sqrt, pow
    x = input if dtype is None else input.to(dtype)
    if x._dtype.is_complex:
        x = _abs(x)  # (a vector norm depends on the magnitudes only)
    if not x._dtype.is_floating_point:
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_title(x._dtype)}")
    if p == "fro" or p == 2 or p is None:
        return _norm2(x, dim, keepdim)
    if p == float("inf"):
        return amax(_abs(x), () if dim is None else dim, keepdim)
    if p == float("-inf"):
        return amin(_abs(x), () if dim is None else dim, keepdim)
    if p == 0:
        r = sum((x != 0).to(x.dtype), dim, keepdim)
        if _state.enabled and x._requires_grad:  # torch: a grad_fn, but no gradient
            record(_norm0_op, (x,), r, {})
        return r
    if p == 1:
        return sum(_abs(x), dim, keepdim)
    if p == "nuc":
        from . import linalg
        return linalg.matrix_norm(x, "nuc", keepdim=keepdim)
    return _normp(x, p, dim, keepdim)


def _g_norm2(ctx, g):
    x, = ctx.inputs
    out = ctx.out
    p = ctx.params
    from .elementwise import where
    o, gg = out, g
    if o._data.shape and not p["keepdim"] and p["axes"]:  # (kept dims: broadcasts against x)
        new = list(o._data.shape)
        for a in p["axes"]:
            new.insert(a, 1)
        o, gg = S.reshape(o, tuple(new)), S.reshape(gg, tuple(new))
    # NOTE: torch gives the 2-norm a zero subgradient at the zero vector (not NaN); the
    # masking runs on the reduced shape, then one product broadcasts over x
    zero = o == 0
    return (x * where(zero, 0.0, gg / where(zero, 1.0, o)),)


_norm2_op = defop("linalg_vector_norm", _g_norm2, inputs=True, out=True)


def _norm2(x, dim, keepdim):
    from .elementwise import sqrt
    if not (_state.enabled and x._requires_grad):
        return sqrt(sum(x * x, dim, keepdim))
    axes = _axes(x, dim, "norm")
    _state.enabled = False  # (as no_grad, without the context manager's cost)
    try:
        r = sqrt(sum(x * x, dim, keepdim))
    finally:
        _state.enabled = True
    record(_norm2_op, (x,), r, {"axes": axes, "keepdim": keepdim})
    return r


def _g_normp(ctx, g):
    x, = ctx.inputs
    p = ctx.params
    q = p["p"]
    from .elementwise import where, sign, abs as _abs
    o = _unsqueeze_to(ctx.out, x.shape, p["axes"], p["keepdim"])
    gg = _unsqueeze_to(g, x.shape, p["axes"], p["keepdim"])
    # NOTE: as torch, zero entries and zero norms get a zero subgradient (not NaN or inf):
    # d||x||_p / dx = sign(x) |x|^(p-1) ||x||^(1-p)
    zx, zo = x == 0, o == 0
    part = where(zx, 0.0, where(zx, 1.0, _abs(x)) ** (q - 1))
    scale = where(zo, 0.0, where(zo, 1.0, o) ** (1 - q))
    return (sign(x) * part * (scale * gg),)


_norm0_op = defop("linalg_vector_norm_0", lambda ctx, g: (None,),
                  node_name="LinalgVectorNormBackward0")
_normp_op = defop("linalg_vector_norm_p", _g_normp, inputs=True, out=True,
                  node_name="LinalgVectorNormBackward0")


def _normp(x, p, dim, keepdim):
    from ..autograd import grad_mode
    from .elementwise import abs as _abs, pow
    axes = _axes(x, dim, "norm")
    with grad_mode.no_grad():
        r = pow(sum(pow(_abs(x), p), dim, keepdim), 1.0 / p)
    if _state.enabled and x._requires_grad:
        record(_normp_op, (x,), r, {"axes": axes, "keepdim": keepdim, "p": p})
    return r


def _g_cumsum(ctx, g):
    d = ctx.params["dim"]
    return (S.flip(cumsum(S.flip(g, (d,)), d), (d,)),)


_cumsum_op = defop("cumsum", _g_cumsum)


def cumsum(input, dim, *, dtype=None):
    x = input
    if _amp.active and dtype is None:
        x = _amp.widen("cumsum", x)
    if dtype is not None:
        x = x.to(_dt.to_dtype(dtype))
    elif x._dtype.category < 2:
        x = x.to(_dt.int64)
    if x.ndim == 0:
        return S.clone(x)
    d = _norm_dim(dim, x.ndim, "cumsum")
    res = _wrap(x._device._backend.kernels["cumsum"](x._data, d), x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_cumsum_op, (x,), res, {"dim": d})
    return res


def _g_cumprod(ctx, g):
    x, = ctx.inputs
    out = ctx.out
    d = ctx.params["dim"]
    if not bool(any(x == 0)):  # one read-back, as torch's check
        return (S.flip(cumsum(S.flip(g * out, (d,)), d), (d,)) / x,)
    return (_cumprod_grad_exact(x, g, d),)


def _cumprod_grad_exact(x, g, d):
    """d cumprod / dx without dividing by x (zeros allowed): grad_i = sum_{j>=i} g_j *
    prod_{k<=j, k!=i} x_k, through an (n, n) table of partial products along dim d."""
    from .creation import arange, ones
    from .elementwise import where
    xm = S.movedim(x, d, -1)
    gm = S.movedim(g, d, -1)
    n = xm.shape[-1]
    i = S.unsqueeze(arange(n, device=x.device), 1)
    j = S.unsqueeze(arange(n, device=x.device), 0)
    # row i: x_j for j > i, else 1 -> running products give prod_{i<k<=j} x_k
    table = where(j > i, S.unsqueeze(xm, -2), 1.0)
    right = cumprod(table, -1)
    left = cumprod(S.cat([ones(xm.shape[:-1] + (1,), dtype=x.dtype, device=x.device),
                          S.narrow(xm, -1, 0, n - 1)], -1), -1)  # prod_{k<i} x_k
    contrib = where(j >= i, S.unsqueeze(gm, -2) * right, 0.0)
    grad = left * sum(contrib, -1)
    return S.movedim(grad, -1, d)


_cumprod_op = defop("cumprod", _g_cumprod, inputs=True, out=True)


def cumprod(input, dim, *, dtype=None):
    x = input
    if _amp.active and dtype is None:
        x = _amp.widen("cumprod", x)
    if dtype is not None:
        x = x.to(_dt.to_dtype(dtype))
    elif x._dtype.category < 2:
        x = x.to(_dt.int64)
    if x.ndim == 0:
        return S.clone(x)
    d = _norm_dim(dim, x.ndim, "cumprod")
    res = _wrap(x._device._backend.kernels["cumprod"](x._data, d), x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_cumprod_op, (x,), res, {"dim": d})
    return res


def _g_sort(ctx, g, _gi=None):
    idx = ctx.outs[1]
    d = ctx.params["dim"]
    from .creation import zeros
    from .indexing import scatter
    z = zeros(ctx.params["shape"], dtype=g.dtype, device=g.device)
    return (scatter(z, d, idx, g),)


_sort_op = defop("sort", _g_sort, out=True, n_outputs=2)


def sort(input, dim=-1, descending=False, stable=False):
    """Sorted values and their int64 indices along ``dim`` (NaN sorts as the largest)."""
    x = input
    _refuse_complex(x, RuntimeError, " Sort does not support complex dtypes on {DEV}")
    if x.ndim == 0:
        from .creation import zeros
        return sort_ret(S.clone(x), zeros((), dtype=_dt.int64, device=x.device))
    d = _norm_dim(dim, x.ndim, "sort")
    vals, idx = x._device._backend.kernels["sort"](x._data, d, bool(descending), True)
    v = _wrap(vals, x._dtype, x._device)
    i = _wrap(idx, _dt.int64, x._device)
    if _state.enabled and x._requires_grad:
        record(_sort_op, (x,), (v, i), {"dim": d, "shape": x._data.shape})
    return sort_ret(v, i)


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending, stable)[1]


def msort(input):
    return sort(input, 0)[0]


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (``largest=False``: smallest) entries along ``dim`` and their int64
    indices; NaN ranks above every number. Among equal values, which win and their order are
    torch's CPU choices (see ``topk_order``), on every device, where the rows to replay hold
    up to 65536 elements (``_TOPK_REPLAY_ELEMENTS``); beyond that, lower indices first.

    >>> import ember
    >>> ember.topk(ember.tensor([1., 3., 3., 2.]), 2).indices
    tensor([1, 2])
    """
    _refuse_complex(input, RuntimeError, " topk does not support complex dtypes on {DEV}")
    d = _norm_dim(dim, builtins.max(input.ndim, 1), "topk")
    size = input.shape[d] if input.ndim else 1
    if k > size or k < 0:
        raise RuntimeError("selected index k out of range")
    if input._dtype is _dt.bool_:
        raise RuntimeError("topk does not support bool dtypes on CPU")
    if input.ndim == 0:
        # NOTE: torch returns the 0-d input itself for k = 0 as well as k = 1
        from .creation import zeros
        return topk_ret(S.clone(input), zeros((), dtype=_dt.int64, device=input.device))
    fv, fi = sort(input, d, descending=largest)
    order = _topk_tie_order(input, fv.detach(), fi, d, k, sorted)
    if order is None:
        return topk_ret(S.narrow(fv, d, 0, k), S.narrow(fi, d, 0, k))
    from .indexing import gather
    return topk_ret(gather(input, d, order), order)


# How many row elements topk replays torch's choices for, at most, per call: the replay is host
# code, about 0.5 us an element (measured: 1000 rows of 1000 tied integers took 0.47 s against
# 0.03 s without it); past this the stable sort's order stands (lower index first among ties),
# which torch's contract allows (it leaves the order of ties and of sorted=False unspecified).
_TOPK_REPLAY_ELEMENTS = 1 << 16


def _topk_tie_order(x, s, si, d, k, sorted):
    """torch's topk indices where they differ from the first k of the stable sort's (``s``,
    ``si``: the sorted values and their indices), else None. They can only differ where equal
    values meet within the first k + 1 sorted places, or, for ``sorted=False``, wherever torch
    selects with nth_element."""
    from .creation import tensor, zeros
    from .elementwise import isnan
    n = x.shape[d]
    if k == 0 or n < 2 or x.numel() == 0:
        return None
    unsorted = not sorted and k > 1 and k * 64 > n
    n_rows = x.numel() // n
    if (n_rows if unsorted else 1) * n > _TOPK_REPLAY_ELEMENTS:
        return None
    if unsorted:
        rows = list(range(n_rows))
    else:
        # (only ties within the first k + 1 places change which entries win, or their order;
        # found on the host: a few NumPy calls instead of a handful of ops)
        head = np.moveaxis(S.narrow(s, d, 0, builtins.min(k + 1, n)).cpu().numpy(), d, -1)
        a, b = head[..., 1:], head[..., :-1]
        same = (a == b) | ((a != a) & (b != b))  # (NaN ties NaN)
        rows = np.flatnonzero(same.any(-1).reshape(-1)).tolist()
        if not rows or len(rows) * n > _TOPK_REPLAY_ELEMENTS:
            return None
    s, si = S.movedim(s, d, -1).reshape(-1, n), S.movedim(si, d, -1).reshape(-1, n)
    # equal values share a key; the entry torch ranks first has the largest key
    same = s[:, 1:] == s[:, :-1]
    if x._dtype.is_floating_point:
        same = same | (isnan(s[:, 1:]) & isnan(s[:, :-1]))
    first = zeros((s.shape[0], 1), dtype=_dt.int64, device=x.device)
    groups = cumsum(S.cat([first, (~same).to(_dt.int64)], 1), 1)
    from .topk_order import topk_order
    out = S.narrow(si, 1, 0, k).tolist()
    g_rows, s_rows = groups[rows].tolist(), si[rows].tolist()
    for r, g, src in zip(rows, g_rows, s_rows):
        rank = [0] * n
        for gid, j in zip(g, src):
            rank[j] = -gid
        out[r] = topk_order(rank, k, sorted)
    shape = tuple(x.shape[:d]) + tuple(x.shape[d + 1:]) + (k,)
    idx = tensor(out, dtype=_dt.int64, device=x.device).reshape(shape)
    return S.movedim(idx, -1, d)


def kthvalue(input, k, dim=-1, keepdim=False):
    _refuse_complex(input, NotImplementedError, '"kthvalue_{dev}" not implemented for '
                                                "'{dt}'")
    d = _norm_dim(dim, builtins.max(input.ndim, 1), "kthvalue")
    if not 1 <= k <= (input.shape[d] if input.ndim else 1):
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    v, i = sort(input, d)
    v, i = S.narrow(v, d, k - 1, 1), S.narrow(i, d, k - 1, 1)
    if not keepdim:
        v, i = S.squeeze(v, d), S.squeeze(i, d)
    return kthvalue_ret(v, i)


def median(input, dim=None, keepdim=False):
    """Lower median, as torch (no averaging of the two middle values)."""
    _refuse_complex(input, NotImplementedError, '"median_{dev}" not implemented for \'{dt}\'')
    from .elementwise import isnan, where
    if dim is None:
        flat = S.reshape(input, (-1,))
        v, _ = sort(flat)
        # NaN (sorted last) wins, as torch; the gradient is shared evenly by the elements
        # equal to the median (the NaNs when it is NaN): exact forward, spread backward
        mid = where(isnan(v[-1]), v[-1], v[(flat.shape[0] - 1) // 2]).detach()
        if not (_state.enabled and input._requires_grad):
            return mid
        tie = (flat.detach() == mid) | (isnan(flat.detach()) & isnan(mid))
        count = sum(tie.to(flat._dtype)).clamp(min=1)
        return mid + sum(where(tie, flat - flat.detach(), 0.0)) / count
    d = _norm_dim(dim, input.ndim, "median")
    n = input.shape[d] if input.ndim else 1
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    r = kthvalue(input, (n - 1) // 2 + 1, d, True)
    if input._dtype.is_floating_point and n:
        # a row holding NaN has median NaN at its first NaN (torch)
        nan = isnan(input)
        first = argmax(nan.to(_dt.uint8), d, keepdim=True)
        idx = where(any(nan, d, keepdim=True), first, r[1])
        from .indexing import gather
        r = (gather(input, d, idx), idx)
    v, i = r
    if not keepdim and input.ndim:
        v, i = S.squeeze(v, d), S.squeeze(i, d)
    return median_ret(v, i)


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(op, input, q, dim, keepdim, interpolation, ignore_nan):
    """torch's quantile (``ignore_nan``: nanquantile): the q-th quantiles along ``dim`` (of all
    entries when None), one per q, between the sorted values of ranks floor and ceil of
    q * (n - 1); a reduced row holding NaN gives NaN (nanquantile: n counts the other values,
    and a row of NaNs only gives NaN)."""
    from .creation import tensor
    from .elementwise import ceil, floor, isnan, lerp, round as _round, where
    from .indexing import gather
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    if input._dtype not in (_dt.float32, _dt.float64):
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor")
        if q._dtype is not input._dtype:
            raise RuntimeError(f"{op}() q tensor must be same dtype as the input tensor")
        if q._device is not input._device:
            raise RuntimeError(f"{op}() q tensor must be on the same device as the input tensor")
        one_q = q.ndim == 0
        qt = S.reshape(q, (-1,))
        if qt.numel() and not bool(((qt >= 0) & (qt <= 1)).all()):
            raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    else:
        one_q = isinstance(q, (int, float))
        qs = [q] if one_q else list(q)
        for v in qs:
            if not 0 <= v <= 1:
                raise RuntimeError(f"{op}() q must be in the range [0, 1] but got {v}")
        qt = tensor(qs, dtype=input._dtype, device=input._device)
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{op}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if input.numel() == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    x = S.reshape(input, (-1,)) if dim is None else input
    d = 0 if dim is None else _norm_dim(dim, x.ndim, op)
    if x.ndim == 0:
        x = S.reshape(x, (1,))
    v = S.movedim(sort(x, d)[0], d, -1)  # (..., n), NaNs last
    n = v.shape[-1]
    nan = isnan(v)
    if ignore_nan:
        k = sum(~nan, -1, keepdim=True).to(v._dtype)
        ranks = qt * (k - 1)  # (..., len(q)); -q where a row is all NaN
    else:
        ranks = where(any(nan, -1, keepdim=True), float(n - 1), qt * (n - 1))
    lo = floor(ranks).clamp(min=0)
    hi = ceil(ranks).clamp(min=0)
    if interpolation == "lower":
        r = gather(v, -1, lo.long())
    elif interpolation == "higher":
        r = gather(v, -1, hi.long())
    elif interpolation == "nearest":
        r = gather(v, -1, _round(ranks).clamp(min=0).long())
    else:
        below, above = gather(v, -1, lo.long()), gather(v, -1, hi.long())
        r = lerp(below, above, 0.5 if interpolation == "midpoint" else ranks - lo)
    r = S.movedim(r, -1, 0)  # (len(q), ...)
    if keepdim:
        if dim is None:
            r = S.reshape(r, (r.shape[0],) + (1,) * input.ndim)
        else:
            r = S.unsqueeze(r, d + 1)
    return S.reshape(r, r.shape[1:]) if one_q else r


@_amp.float32_op
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    return _maybe_out(_quantile("quantile", input, q, dim, keepdim, interpolation, False), out)


@_amp.float32_op
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear", out=None):
    return _maybe_out(_quantile("nanquantile", input, q, dim, keepdim, interpolation, True),
                      out)


def mode(input, dim=-1, keepdim=False):
    import numpy as np
    h = input.detach().cpu().numpy()
    d = _norm_dim(dim, input.ndim)
    moved = np.moveaxis(h, d, -1)
    vals = np.empty(moved.shape[:-1], dtype=h.dtype)
    idxs = np.empty(moved.shape[:-1], dtype=np.int64)
    for ix in np.ndindex(*moved.shape[:-1]):
        row = moved[ix]
        u, c = np.unique(row, return_counts=True)
        m = u[np.argmax(c)]
        vals[ix] = m
        # (np.unique counts NaNs as one value, as torch's mode does; NaN != NaN)
        idxs[ix] = np.nonzero((row == m) | (np.isnan(row) & np.isnan(m)) if h.dtype.kind in "fc"
                              else row == m)[0][-1]
    from .creation import from_numpy
    v, i = from_numpy(vals).to(input.device), from_numpy(idxs).to(input.device)
    if keepdim:
        v, i = S.unsqueeze(v, d), S.unsqueeze(i, d)
    return mode_ret(v, i)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    _refuse_complex(input, NotImplementedError, '"unique" not implemented for \'{dt}\'')
    import numpy as np
    h = input.detach().cpu().numpy()
    res = np.unique(h, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    from .creation import from_numpy
    if not (return_inverse or return_counts):
        return from_numpy(res).to(input.device)
    out = [from_numpy(np.asarray(r)).to(input.device) for r in res]
    if return_inverse:
        out[1] = S.reshape(out[1].to(_dt.int64), input.shape if dim is None else (-1,))
    return tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """The first element of each run of equal consecutive elements (or slices along ``dim``);
    NaNs never equal each other, as in torch.

    >>> ember.unique_consecutive(ember.tensor([1, 1, 2, 2, 1]))
    tensor([1, 2, 1])
    """
    import numpy as np
    from .creation import from_numpy
    h = input.detach().cpu().numpy()
    if dim is None:
        rows = h.reshape(-1, 1)
    else:
        d = _norm_dim(dim, h.ndim if h.ndim else 1, "unique_consecutive")
        rows = np.moveaxis(h, d, 0).reshape(h.shape[d], -1)
    n = rows.shape[0]
    change = np.ones(n, dtype=bool)
    change[1:] = (rows[1:] != rows[:-1]).any(axis=1)
    starts = np.flatnonzero(change)
    values = h.reshape(-1)[starts] if dim is None else np.take(h, starts, axis=d)
    out = [from_numpy(np.ascontiguousarray(values)).to(input.device)]
    if return_inverse:
        inverse = (np.cumsum(change) - 1).astype(np.int64)
        out.append(from_numpy(inverse.reshape(h.shape if dim is None else (n,)))
                   .to(input.device))
    if return_counts:
        counts = np.diff(np.append(starts, n)).astype(np.int64)
        out.append(from_numpy(counts).to(input.device))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    """Counts of each value of a 1-d non-negative integer tensor (or the sums of weights at
    them), as torch.bincount: int64 counts, float32 sums for float32 weights, else float64."""
    import numpy as np
    from ..tensor import _dt_name
    from .creation import from_numpy, zeros
    if input._dtype.is_floating_point or input._dtype is _dt.bool_:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for "
                                  f"'{_dt_name(input._dtype)}'")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if input.ndim == 1 and input.numel() == 0:
        return zeros(minlength, dtype=_dt.int64, device=input.device)
    h = input.detach().cpu().numpy()
    if input.ndim != 1 or h.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != h.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if weights is None:
        r = np.bincount(h, minlength=minlength).astype(np.int64)
    else:
        w = weights.detach().cpu().numpy().astype(np.float64)
        r = np.bincount(h, w, minlength).astype(
            np.float32 if weights._dtype is _dt.float32 else np.float64)
    return from_numpy(r).to(input.device)


def histc(input, bins=100, min=0, max=0):
    import numpy as np
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f'"histogram_{input.device.type}" not implemented for '
                                  f"'{_title(input._dtype)}'")
    h = input.detach().cpu().numpy()
    lo, hi = (float(h.min()), float(h.max())) if min == max else (min, max)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    r, _ = np.histogram(h, bins=bins, range=(lo, hi))
    from .creation import from_numpy
    return from_numpy(r.astype(h.dtype)).to(input.device)


def _g_softmax(ctx, g):
    out = ctx.out
    d = ctx.params["dim"]
    return (out * (g - sum(g * out, d, keepdim=True)),)


def _g_log_softmax(ctx, g):
    out = ctx.out
    d = ctx.params["dim"]
    from .elementwise import exp
    return (g - exp(out) * sum(g, d, keepdim=True),)


_softmax_op = defop("softmax", _g_softmax, out=True)
_log_softmax_op = defop("log_softmax", _g_log_softmax, out=True)


def _softmax_common(op, input, dim, dtype, log):
    from .elementwise import exp, log as _log
    from ..autograd import grad_mode
    x = input if dtype is None else input.to(_dt.to_dtype(dtype))
    if not x._dtype.is_floating_point:
        raise NotImplementedError(f"\"softmax_lastdim_kernel_impl\" not implemented for "
                                  f"'{_title(x._dtype)}'")
    if x.ndim == 0:
        x = S.reshape(x, (1,))
        return S.reshape(_softmax_common(op, x, 0, None, log), ())
    d = _norm_dim(dim, x.ndim, op.name)
    # One graph node with an exact backward, instead of the five ops it is built from; half
    # precision computed in float32 and rounded once, as torch's opmath
    w = x.to(_dt.float32) if x._dtype in (_dt.float16, _dt.bfloat16) else x
    with grad_mode.no_grad():
        shifted = w - amax(w, d, keepdim=True)
        if log:
            total = sum(exp(shifted), d, keepdim=True)
            if w is not x and d == x.ndim - 1:
                # NOTE: torch's half-precision kernel over the last dim rounds the sum of exps
                # and its log to the input dtype before subtracting (its other dims do not)
                total = _log(total.to(x._dtype).to(_dt.float32)).to(x._dtype).to(_dt.float32)
            else:
                total = _log(total)
            out = shifted - total
        else:
            e = exp(shifted)
            out = e / sum(e, d, keepdim=True)
        if w is not x:
            out = out.to(x._dtype)
    if _state.enabled and x._requires_grad:
        record(op, (x,), out, {"dim": d})
    return out


def softmax(input, dim=None, dtype=None, _stacklevel=3):
    """exp(x) / sum(exp(x)) along dim, computed stably (torch.softmax)."""
    if _amp.active and dtype is None:
        input = _amp.widen("softmax", input)
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return _softmax_common(_softmax_op, input, dim, dtype, False)


def log_softmax(input, dim=None, dtype=None, _stacklevel=3):
    """log(softmax(x)) along dim, computed stably."""
    if _amp.active and dtype is None:
        input = _amp.widen("log_softmax", input)
    if dim is None:
        dim = 0 if input.ndim in (0, 1, 3) else 1
    return _softmax_common(_log_softmax_op, input, dim, dtype, True)


def softmin(input, dim=None, dtype=None):
    if _amp.active and dtype is None:
        input = _amp.widen("softmin", input)
    return softmax(-input, dim, dtype)


def diff(input, n=1, dim=-1, prepend=None, append=None):
    x = input
    d = _norm_dim(dim, x.ndim, "diff")
    if prepend is not None or append is not None:
        parts = ([prepend] if prepend is not None else []) + [x] + (
            [append] if append is not None else [])
        x = S.cat(parts, d)
    for _ in range(n):
        m = x.shape[d]
        if x._dtype is _dt.bool_:
            # booleans differ where they change: torch takes logical_xor
            x = S.narrow(x, d, 1, m - 1) ^ S.narrow(x, d, 0, m - 1)
        else:
            x = S.narrow(x, d, 1, m - 1) - S.narrow(x, d, 0, m - 1)
    return x


def searchsorted(sorted_sequence, values, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices where values would be inserted to keep sorted_sequence (last dim) sorted: torch's
    binary search, run for every value at once in ceil(log2(n + 1)) rounds of ember ops, so it
    gives torch's answers also where the sequence holds NaN or is not sorted.

    >>> import ember
    >>> ember.searchsorted(ember.tensor([1.0, 3.0, 5.0]), ember.tensor([3.0, 4.0]))
    tensor([1, 2])
    """
    from .elementwise import where
    from .indexing import gather
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence
    if not isinstance(values, Tensor):
        from .creation import tensor
        values = tensor(values, dtype=seq.dtype, device=seq.device)
    shape = values.shape
    n = seq.shape[-1]
    if seq.ndim == 1:  # one sequence for every value
        v = S.reshape(values, (1, -1))
        seq = S.unsqueeze(seq, 0)
        order = None if sorter is None else S.unsqueeze(sorter, 0)
    else:
        v, order = values, sorter
    lo = v.new_zeros(v.shape, dtype=_dt.int64)
    hi = lo + n
    for _ in range(n.bit_length()):
        active = lo < hi
        mid = (lo + hi) // 2
        at = mid.clamp(max=builtins.max(n - 1, 0))
        if order is not None:
            at = gather(order, -1, at)
        m = gather(seq, -1, at) if n else v
        # torch's predicates: NaN in the sequence moves the search right, a NaN value too
        go_right = ~(m > v) if right else ~(m >= v)
        lo = where(active & go_right, mid + 1, lo)
        hi = where(active & ~go_right, mid, hi)
    r = S.reshape(lo, shape)
    return r.to(_dt.int32) if out_int32 else r


def bucketize(input, boundaries, *, out_int32=False, right=False):
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)
