"""Tensor methods and operators, bound to the op table (each method is the op of the same
name). In-place variants compute out of place and commit into the tensor's storage."""
from __future__ import annotations

from . import amp as _amp, dtypes as _dt
from .device import canonical, device as _device
from .ops import creation as C, elementwise as E, indexing as I, linalg as L, reduction as R
from .ops import shape as S
from .ops.registry import _state
from .tensor import Tensor, _dt_name

# method name -> op function (first argument is the tensor)
_METHODS = {
    # elementwise
    "add": E.add, "sub": E.sub, "subtract": E.sub, "mul": E.mul, "multiply": E.mul,
    "div": E.div, "divide": E.div, "true_divide": E.div, "floor_divide": E.floor_divide,
    "remainder": E.remainder, "fmod": E.fmod, "pow": E.pow, "float_power": E.float_power,
    "maximum": E.maximum, "minimum": E.minimum,
    "atan2": E.atan2, "arctan2": E.atan2, "eq": E.eq, "ne": E.ne, "lt": E.lt, "le": E.le,
    "gt": E.gt, "ge": E.ge, "greater": E.gt, "greater_equal": E.ge, "less": E.lt,
    "less_equal": E.le, "not_equal": E.ne, "logical_and": E.logical_and,
    "logical_or": E.logical_or, "logical_xor": E.logical_xor, "logical_not": E.logical_not,
    "bitwise_and": E.bitwise_and, "bitwise_or": E.bitwise_or, "bitwise_xor": E.bitwise_xor,
    "bitwise_not": E.bitwise_not, "exp": E.exp, "log": E.log, "log1p": E.log1p,
    "expm1": E.expm1, "sqrt": E.sqrt, "rsqrt": E.rsqrt, "sin": E.sin, "cos": E.cos,
    "tan": E.tan, "tanh": E.tanh, "sigmoid": E.sigmoid, "erf": E.erf, "erfc": E.erfc,
    "erfinv": E.erfinv, "asin": E.asin, "acos": E.acos, "atan": E.atan, "arcsin": E.asin,
    "arccos": E.acos, "arctan": E.atan, "sinh": E.sinh, "cosh": E.cosh, "log2": E.log2,
    "log10": E.log10, "exp2": E.exp2, "reciprocal": E.reciprocal, "neg": E.neg,
    "negative": E.neg, "abs": E.abs, "absolute": E.abs, "sign": E.sign, "sgn": E.sign,
    "floor": E.floor, "ceil": E.ceil, "round": E.round, "trunc": E.trunc, "fix": E.trunc,
    "frac": E.frac, "isnan": E.isnan, "isinf": E.isinf, "isfinite": E.isfinite,
    "relu": E.relu, "clamp": E.clamp, "clip": E.clamp, "clamp_min": E.clamp_min,
    "clamp_max": E.clamp_max, "nan_to_num": E.nan_to_num, "lerp": E.lerp,
    "addcmul": E.addcmul, "addcdiv": E.addcdiv, "hypot": E.hypot, "logaddexp": E.logaddexp,
    "square": E.square, "logit": E.logit, "sinc": E.sinc,
    "deg2rad": E.deg2rad, "rad2deg": E.rad2deg, "signbit": E.signbit, "copysign": E.copysign,
    "heaviside": E.heaviside, "where": lambda self, cond, other: E.where(cond, self, other),
    "positive": E.positive,
    # reductions
    "sum": R.sum, "nansum": R.nansum, "mean": R.mean, "nanmean": R.nanmean, "prod": R.prod,
    "amax": R.amax, "amin": R.amin, "max": R.max, "min": R.min, "aminmax": R.aminmax,
    "argmax": R.argmax, "argmin": R.argmin, "all": R.all, "any": R.any, "var": R.var,
    "std": R.std, "logsumexp": R.logsumexp, "norm": R.norm, "cumsum": R.cumsum,
    "cumprod": R.cumprod, "sort": R.sort, "argsort": R.argsort,
    "msort": R.msort, "topk": R.topk, "kthvalue": R.kthvalue, "median": R.median,
    "quantile": R.quantile, "nanquantile": R.nanquantile, "mode": R.mode, "unique": R.unique,
    "unique_consecutive": R.unique_consecutive, "bincount": R.bincount,
    "histc": R.histc, "count_nonzero": R.count_nonzero, "softmax": R.softmax,
    "log_softmax": R.log_softmax, "diff": R.diff, "isclose": E.isclose,
    "allclose": E.allclose, "equal": E.equal,
    # shape
    "view": S.view, "reshape": S.reshape, "permute": S.permute, "transpose": S.transpose,
    "swapaxes": S.transpose, "swapdims": S.transpose, "t": S.t, "movedim": S.movedim,
    "moveaxis": S.movedim, "expand": S.expand, "expand_as": S.expand_as,
    "broadcast_to": S.broadcast_to, "squeeze": S.squeeze, "unsqueeze": S.unsqueeze,
    "flatten": S.flatten, "unflatten": S.unflatten, "ravel": S.ravel, "view_as": S.view_as,
    "reshape_as": S.reshape_as, "narrow": S.narrow, "select": S.select, "split": S.split,
    "chunk": S.chunk, "tensor_split": S.tensor_split, "unbind": S.unbind,
    "as_strided": S.as_strided, "unfold": S.unfold, "diagonal": S.diagonal, "clone": S.clone,
    "contiguous": S.contiguous, "flip": S.flip, "fliplr": S.fliplr, "flipud": S.flipud,
    "roll": S.roll, "repeat": S.repeat, "tile": S.tile, "repeat_interleave": S.repeat_interleave,
    # indexing
    "gather": I.gather, "scatter": I.scatter, "scatter_add": I.scatter_add,
    "scatter_reduce": I.scatter_reduce, "index_select": I.index_select,
    "masked_fill": I.masked_fill, "masked_select": I.masked_select,
    "masked_scatter": I.masked_scatter, "take": I.take, "take_along_dim": I.take_along_dim,
    "index_add": I.index_add, "index_copy": I.index_copy, "index_fill": I.index_fill,
    "index_put": I.index_put, "nonzero": I.nonzero, "argwhere": I.argwhere, "put": I.put,
    # linear algebra
    "matmul": L.matmul, "mm": L.mm, "bmm": L.bmm, "mv": L.mv, "dot": L.dot, "inner": L.inner,
    "outer": L.outer, "ger": L.outer, "addmm": L.addmm, "addmv": L.addmv, "baddbmm": L.baddbmm,
    "addbmm": L.addbmm, "addr": L.addr, "kron": L.kron, "trace": L.trace,
    "tril": C.tril, "triu": C.triu, "diag": C.diag, "diag_embed": C.diag_embed,
    "bernoulli": C.bernoulli, "multinomial": C.multinomial,
}

# in-place method -> out-of-place op it commits
_INPLACE = {n + "_": f for n, f in _METHODS.items() if n in {
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "fmod", "pow", "float_power", "atan2", "eq", "ne", "lt",
    "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "logical_not",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "exp", "log", "log1p",
    "expm1", "sqrt", "rsqrt", "sin", "cos", "tan", "tanh", "sigmoid", "erf", "erfinv",
    "asin", "acos", "atan", "sinh", "cosh", "log2", "log10", "exp2", "reciprocal", "neg",
    "negative", "abs", "absolute", "sign", "floor", "ceil", "round", "trunc", "fix", "frac",
    "relu", "clamp", "clip", "clamp_min", "clamp_max", "nan_to_num", "lerp", "addcmul",
    "addcdiv", "hypot", "square", "logit", "copysign", "masked_fill", "scatter",
    "scatter_add", "index_add", "index_copy", "index_fill", "index_put", "tril", "triu",
    "addmm", "baddbmm", "addmv", "maximum", "minimum", "masked_scatter", "put", "deg2rad",
    "rad2deg", "cumsum", "cumprod", "sgn"}}
_INPLACE["scatter_reduce_"] = I._scatter_reduce_inplace_value


def _install():
    from .ops import extra
    _METHODS.update(extra.METHODS)
    _INPLACE.update({n + "_": extra.METHODS[n] for n in extra.INPLACE})
    from .ops import extra2
    _METHODS.update(extra2.METHODS)
    _INPLACE.update({n + "_": extra2.METHODS[n] for n in extra2.INPLACE})
    # (xlogy is special's: torch's NaN where y is NaN, and d/dx = log(y) at x == 0)
    from . import special
    _METHODS["xlogy"] = _INPLACE["xlogy_"] = special.xlogy
    for name, fn in _METHODS.items():
        setattr(Tensor, name, fn)
    for name, fn in _INPLACE.items():
        setattr(Tensor, name, _inplace(fn, name))


def _inplace(fn, name):
    if name in _FAST_INPLACE:
        return _fast_inplace(fn, name)

    def method(self, *args, **kwargs):
        return self._commit_inplace(fn(self, *args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"In-place version of :meth:`{name[:-1]}`."
    return method


# in-place methods with an optional backend kernel of the same name (plugins/api.py)
_FAST_INPLACE = {"add_": "add_", "sub_": "sub_", "mul_": "mul_", "div_": "div_",
                 "subtract_": "sub_", "multiply_": "mul_", "divide_": "div_",
                 "true_divide_": "div_"}


def _fast_inplace(fn, name):
    kname = _FAST_INPLACE[name]
    is_div = kname == "div_"

    def method(self, other, *args, **kwargs):
        # Outside autograd, write straight into self's buffer (one pass instead of computing a
        # result and copying it in).
        if not args and (not _state.enabled or not (
                self._requires_grad or getattr(other, "_requires_grad", False))):
            kernel = self._device._backend.kernels.get(kname)
            dt = self._dtype
            if kernel is not None and (dt.is_floating_point or not is_div) and \
                    dt is not _dt.bool_:
                alpha = kwargs.get("alpha", 1)
                if len(kwargs) <= (1 if "alpha" in kwargs else 0):
                    b = _inplace_operand(self, other, alpha)
                    if b is not None:
                        kernel(self._data, b)
                        self._vc[0] += 1
                        return self
        return self._commit_inplace(fn(self, other, *args, **kwargs))
    method.__name__ = name
    method.__doc__ = f"In-place version of :meth:`{name[:-1]}`."
    return method


def _inplace_operand(self, other, alpha):
    """The native operand for an in-place kernel, or None when the general path must run
    (another dtype or device, a shape that would not broadcast to self's, an expanded self)."""
    dt = self._dtype
    if type(other) is Tensor:
        if other._dtype is not dt or other._device is not self._device:
            return None
        oshape, shape = other._data.shape, self._data.shape
        if oshape != shape:
            n = len(shape)
            if len(oshape) > n or any(o != 1 and o != s for o, s in
                                      zip(oshape[::-1], shape[::-1])):
                return None
        if self._may_overlap():
            return None
        if alpha != 1:
            return E.mul(other, alpha)._data
        return other._data
    t = type(other)
    if t is float and dt.is_floating_point or t is int and dt is not _dt.bool_:
        if self._may_overlap():
            return None
        v = other * alpha if alpha != 1 else other
        # (an out-of-range int wraps into an integer dtype, as torch casts it: int8 += 300)
        return E._int_in(v, dt) if t is int and dt.category < 2 else v
    return None


def _resize_to(self, other):
    """out= support: an out tensor of another shape takes the result's shape (torch resizes)."""
    if self._requires_grad and _state.enabled:
        raise RuntimeError("out= arguments don't support automatic differentiation, but one of "
                           "the arguments requires grad.")
    fresh = C.empty(other.shape, dtype=self._dtype, device=self._device)
    self._data = fresh._data


def copy_(self, src, non_blocking=False):
    """Copy src's values (broadcast, cast, moved across devices) into self, in place."""
    if not isinstance(src, Tensor):
        src = C.tensor(src, dtype=self._dtype, device=self._device)
    if src._device is not self._device:
        src = src.to(self._device)
    if src._dtype is not self._dtype:
        src = src.to(self._dtype)
    if src._data.shape != self._data.shape:
        src = S.expand(src, self._data.shape)
    elif src._requires_grad and _state.enabled:
        src = _identity(src)
    else:
        src = src if not src._requires_grad else src.detach()
    return self._commit_inplace(src)


def _identity(x):
    # NOTE: copy_ must not alias src's graph node identity; a view keeps it cheap.
    return S.view(x, x._data.shape)


def fill_(self, value):
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        if value._requires_grad and _state.enabled:
            return copy_(self, value)
        value = value.item()
    self._check_inplace()
    k = self._device._backend.kernels
    v = _dt.checked_scalar(value, self._dtype)
    if _state.enabled and self._requires_grad:
        return self._commit_inplace(C.full(self.shape, v, dtype=self._dtype, device=self._device))
    k["setitem"](self._data, (), v)
    self._vc[0] += 1
    return self


def zero_(self):
    return fill_(self, 0)


def _rng_inplace(sample):
    def method(self, *args, generator=None, **kwargs):
        with _no_grad():
            vals = sample(self, *args, generator=generator, **kwargs)
        self._check_inplace()
        self._device._backend.kernels["setitem"](self._data, (), vals._data if vals._dtype is
                                                 self._dtype else vals.to(self._dtype)._data)
        self._vc[0] += 1
        return self
    return method


def _no_grad():
    from .autograd.grad_mode import no_grad
    return no_grad()


def _uniform(self, a=0.0, b=1.0, generator=None):
    d = self._dtype if self._dtype.is_floating_point else _dt.float32
    return C._uniform_range(self.shape, a, b, d, self._device, generator)


def _normal(self, mean=0.0, std=1.0, generator=None):
    d = self._dtype if self._dtype.is_floating_point else _dt.float32
    return C._normal_scaled(self.shape, mean, std, d, self._device, generator)


def _random(self, from_=0, to=None, generator=None):
    if to is None and from_ == 0:
        return C._random_bits(self.shape, self._dtype, self._device, generator)
    if to is None:
        from_, to = 0, from_  # random_(to): [0, to), as torch
    return C.randint(from_, to, self.shape, generator=generator, device=self._device)


def _bernoulli(self, p=0.5, generator=None):
    if not isinstance(p, Tensor):
        return C._bernoulli_scalar(self.shape, float(p), self._dtype, self._device, generator)
    u = C.rand(self.shape, generator=generator, device=self._device, dtype=_dt.float32)
    return (u < p)


def _exponential(self, lambd=1.0, generator=None):
    # (torch draws a float64 uniform and computes in float64: the same values on cpu)
    wide = _dt.float64 if "float64" in self._device._backend.dtypes else self._dtype
    u = C.rand(self.shape, generator=generator, device=self._device, dtype=wide)
    return -E.log1p(-u) / lambd


def _log_normal(self, mean=1.0, std=2.0, generator=None):
    return E.exp(_normal(self, mean, std, generator))


def to(self, *args, **kwargs):
    """Move and/or cast: ``to("opencl")``, ``to(ember.float64)``, ``to(other)``,
    ``to(device, dtype)``; returns self when nothing changes (as torch)."""
    dev = dtype = None
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    fmt = kwargs.pop("memory_format", None)
    for a in args:
        if isinstance(a, _dt.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dev, dtype = a._device, a._dtype
        elif isinstance(a, (str, _device, int)):
            dev = a
        elif a is None:
            continue
        else:
            dtype = _dt.to_dtype(a)
    if "device" in kwargs:
        dev = kwargs.pop("device")
    if "dtype" in kwargs:
        dtype = kwargs.pop("dtype")
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    t = self
    if dev is not None:
        dev = canonical(dev)
        if dev is not t._device:
            t = _to_device(t, dev)
    if dtype is not None:
        dtype = _dt.to_dtype(dtype)
        if dtype is not t._dtype:
            if t._dtype.is_complex and dtype.category in (1, 2):
                _warn_complex_to_real()
            t = _cast(t, dtype)
    if fmt is not None and getattr(fmt, "_name", "preserve_format") != "preserve_format":
        if copy and t is self:
            return S.clone(self, memory_format=fmt)
        return S.contiguous(t, memory_format=fmt)
    if copy and t is self:
        t = S.clone(self)
    return t


def _warn_complex_to_real():
    import warnings
    warnings.warn("Casting complex values to real discards the imaginary part", UserWarning,
                  stacklevel=3)


def _g_cast(ctx, g):
    return (_cast(g, ctx.params["dtype"]),)


from .ops.registry import defop, record  # noqa: E402

_cast_op = defop("to_copy", _g_cast, node_name="ToCopyBackward0")
_to_device_op = defop("to_device", lambda ctx, g: (_to_device(g, ctx.params["device"]),),
                      node_name="ToCopyBackward0")


def _cast(t, dtype):
    backend = t._device._backend
    if dtype.name not in backend.dtypes:
        # NOTE: said here, before a backend is asked for a kernel it cannot build
        raise TypeError(f"the {t._device.type} backend does not support dtype {dtype} "
                        f"(it supports {sorted(backend.dtypes)})")
    data = backend.kernels["cast"](t._data, dtype)
    r = Tensor._wrap(data, dtype, t._device)
    if _state.enabled and t._requires_grad and dtype.is_inexact:
        record(_cast_op, (t,), r, {"dtype": t._dtype})
    return r


def _to_device(t, dev):
    if t._dtype.name not in dev._backend.dtypes:
        raise TypeError(f"the {dev.type} backend does not support dtype {t._dtype} "
                        f"(it supports {sorted(dev._backend.dtypes)})")
    host = t._device._backend.to_numpy(t._data)
    data = dev._backend.from_numpy(host, dev.index)
    if t._device.type == "cpu" and dev.type == "cpu":
        data = host.copy()
    r = Tensor._wrap(data, t._dtype, dev)
    if _state.enabled and t._requires_grad:
        record(_to_device_op, (t,), r, {"device": t._device})
    return r


def _type_method(dtype):
    def method(self, memory_format=None):
        return to(self, dtype)
    return method


def type_(self, dtype=None, non_blocking=False):
    """The legacy type name (``ember.FloatTensor``), or a copy converted to ``dtype`` (a dtype
    or a legacy name)."""
    if dtype is None:
        return f"ember.{_dt_name(self._dtype)}Tensor"
    if isinstance(dtype, str):
        legacy = {f"{_dt_name(d)}Tensor": d for d in _dt.ALL}
        dtype = legacy.get(dtype.split(".")[-1]) or _dt.to_dtype(dtype)
    return to(self, dtype)


def cpu(self, memory_format=None):
    return to(self, "cpu")


def cuda(self, device=None, non_blocking=False, memory_format=None):
    return to(self, "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int)
                                                   else device))


def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    return C.tensor(data, dtype=dtype or self._dtype, device=device or self._device,
                    requires_grad=requires_grad)


def _new_factory(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, dtype=dtype or self._dtype, device=device or self._device,
                  requires_grad=requires_grad)
    return method


def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return C.full(size, fill_value, dtype=dtype or self._dtype, device=device or self._device,
                  requires_grad=requires_grad)


def _binop(fn, reflected=False):
    if reflected:
        def method(self, other):
            return fn(other, self)
    else:
        def method(self, other):
            return fn(self, other)
    return method


def _rtruediv(self, other):
    # (torch's is reciprocal(self) * other: under autocast, on reciprocal's float32 list)
    if _amp.active:
        self = _amp.widen("reciprocal", self)
    return E.div_true(other, self)


def _iop(fn):
    def method(self, other):
        return self._commit_inplace(fn(self, other))
    return method


def _getitem(self, index):
    if type(index) is int:  # fast path: x[i]
        shape = self._data.shape
        if shape:
            n = shape[0]
            if -n <= index < n:
                idx = (index % n,) + tuple(slice(0, s, 1) for s in shape[1:])
                return S.getitem_basic(self, idx)
    return I.getitem(self, index)


def _matmul_r(self, other):
    return L.matmul(other, self)


def _install_operators():
    T = Tensor
    # NOTE: the op functions themselves are the methods (no wrapper frame on the hot path);
    # reflected operators swap the operands.
    T.__add__ = T.__radd__ = E.add_
    T.__sub__ = E.sub_
    T.__rsub__ = _binop(E.sub_, True)
    T.__mul__ = T.__rmul__ = E.mul
    T.__truediv__ = E.div_true
    T.__rtruediv__ = _rtruediv
    T.__floordiv__ = E.floor_divide
    T.__rfloordiv__ = _binop(E.floor_divide, True)
    T.__mod__ = E.remainder
    T.__rmod__ = _binop(E.remainder, True)
    T.__pow__ = E.pow_
    T.__rpow__ = _binop(E.pow_, True)
    T.__matmul__ = _binop(L.matmul)
    T.__rmatmul__ = _matmul_r
    T.__and__ = T.__rand__ = _binop(E.bitwise_and)
    T.__or__ = T.__ror__ = _binop(E.bitwise_or)
    T.__xor__ = T.__rxor__ = _binop(E.bitwise_xor)
    T.__invert__ = lambda self: E.bitwise_not(self)
    T.__neg__ = lambda self: E.neg(self)
    T.__pos__ = lambda self: self
    T.__abs__ = lambda self: E.abs(self)
    T.__eq__, T.__ne__ = E.eq, E.ne
    T.__lt__, T.__le__, T.__gt__, T.__ge__ = E.lt, E.le, E.gt, E.ge
    T.__iadd__ = T.add_
    T.__isub__ = T.sub_
    T.__imul__ = T.mul_
    T.__itruediv__ = T.div_
    T.__ifloordiv__ = _iop(E.floor_divide)
    T.__imod__ = _iop(E.remainder)
    T.__ipow__ = _iop(E.pow_)
    T.__iand__ = _iop(E.bitwise_and)
    T.__ior__ = _iop(E.bitwise_or)
    T.__ixor__ = _iop(E.bitwise_xor)
    T.__getitem__ = _getitem
    T.__setitem__ = I.setitem
    T.__hash__ = object.__hash__  # (identity, as torch's; a C slot keeps dict lookups fast)
    T.copy_ = copy_
    T.fill_ = fill_
    T.zero_ = zero_
    T.uniform_ = _rng_inplace(_uniform)
    T.normal_ = _rng_inplace(_normal)
    T.random_ = _rng_inplace(_random)
    T.bernoulli_ = _rng_inplace(_bernoulli)
    T.exponential_ = _rng_inplace(_exponential)
    T.log_normal_ = _rng_inplace(_log_normal)
    T.to = to
    T.type = type_
    T.cpu = cpu
    T.cuda = cuda
    T._resize_to = _resize_to
    T.new_tensor = new_tensor
    T.new_zeros = _new_factory(C.zeros)
    T.new_ones = _new_factory(C.ones)
    T.new_empty = _new_factory(C.empty)
    T.new_full = new_full
    T.T = property(lambda self: S.permute(self, tuple(reversed(range(self.ndim)))))
    T.mT = property(lambda self: S.transpose(self, -2, -1))
    T.H = T.T
    T.mH = T.mT
    for name, dt in (("float", _dt.float32), ("double", _dt.float64), ("half", _dt.float16),
                     ("bfloat16", _dt.bfloat16), ("long", _dt.int64), ("int", _dt.int32),
                     ("short", _dt.int16), ("char", _dt.int8), ("byte", _dt.uint8),
                     ("bool", _dt.bool_)):
        setattr(T, name, _type_method(dt))
    T.type_as = lambda self, other: to(self, other._dtype)
    T.inverse = lambda self: _linalg().inv(self)
    T.det = lambda self: _linalg().det(self)
    T.logdet = lambda self: _linalg().logdet(self)
    T.cholesky = lambda self, upper=False: _linalg().cholesky(self, upper=upper)
    T.matrix_exp = lambda self: _linalg().matrix_exp(self)
    T.lu = lambda self, pivot=True, get_infos=False: _linalg()._lu(self, pivot, get_infos)
    T.lu_solve = lambda self, LU_data, LU_pivots: _linalg().lu_solve(LU_data, LU_pivots, self)
    T.triangular_solve = lambda self, A, upper=True, transpose=False, unitriangular=False: \
        _linalg()._triangular_solve(self, A, upper, transpose, unitriangular)
    T.apply_ = _apply_


def _linalg():
    from . import linalg_api
    return linalg_api


def _apply_(self, fn):
    import numpy as np
    h = self._host()
    vals = np.vectorize(fn, otypes=[h.dtype])(h)
    self._device._backend.kernels["setitem"](self._data, (),
                                             self._device._backend.from_numpy(vals,
                                                                              self._device.index))
    self._vc[0] += 1
    return self


def _nn_method(name: str):
    """A Tensor method that calls ``ember.nn.functional.<name>`` (imported at call time: nn is
    built on these methods, so it loads after them)."""
    def method(self, *args, **kwargs):
        from .nn import functional
        return getattr(functional, name)(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = f"``ember.nn.functional.{name}(self, ...)``."
    return method


_METHODS.update({name: _nn_method(name) for name in ("prelu", "hardshrink")})


def _resize(self, *sizes):
    """Deprecated non-in-place resize: a reshape that keeps the number of elements (torch's
    autograd ``Resize``)."""
    import warnings
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    import math
    n = math.prod(sizes)
    if n != self.numel():
        raise RuntimeError(
            f"requested resize to {'x'.join(map(str, sizes))} ({n} elements in total), but the "
            f"given tensor has a size of {'x'.join(map(str, self.shape))} ({self.numel()} "
            f"elements). autograd's resize can only change the shape of a given tensor, while "
            f"preserving the number of elements. ")
    return self.contiguous().view(*sizes)


def _resize_as(self, tensor):
    import warnings
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _resize(self, *tensor.shape)


def _as_subclass(self, cls):
    """``self`` as an instance of Tensor subclass ``cls``: the same data, version counter and
    autograd history (an alias, as torch's)."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    src = self.view(self.shape)  # (an alias: a leaf's subclass copy is not itself a leaf)
    obj = object.__new__(cls)
    for name in Tensor.__slots__:
        if name in ("__dict__", "__weakref__"):
            continue
        try:
            object.__setattr__(obj, name, object.__getattribute__(src, name))
        except AttributeError:
            pass
    return obj


def _removed_linalg(name):
    def method(self, *args, **kwargs):
        from . import torch_extra_api
        return getattr(torch_extra_api, name)(self, *args, **kwargs)
    method.__name__ = name
    return method


def _nonzero_static(self, *, size, fill_value=-1):
    from .ops.extra2 import nonzero_static
    return nonzero_static(self, size=size, fill_value=fill_value)


_METHODS.update({"resize": _resize, "resize_as": _resize_as, "as_subclass": _as_subclass,
                 "nonzero_static": _nonzero_static,
                 **{n: _removed_linalg(n) for n in ("solve", "lstsq", "eig")}})

_install()
_install_operators()
