"""More of torch's long tail, built from the op table: the in-place view ops (``unsqueeze_``,
``t_`` ...), ``resize_``, strided and permuted factories, ``frombuffer``, ``as_strided_scatter``,
``nextafter``, ``nonzero_static``, ``gradient``, ``index_reduce``, ``histogramdd`` and the
regularized incomplete gamma functions (``igamma``, ``igammac``).

``METHODS`` maps Tensor method names to these functions; core/methods.py binds them (the
in-place view methods are complete methods: they are not committed like ``add_``).
"""
from __future__ import annotations

import builtins
import math

from .. import dtypes as _dt, return_types as _return_types
from ..tensor import Tensor, _norm_dim
from . import creation as C, elementwise as E, indexing as I, reduction as R
from . import shape as S
from .registry import _state, defop, record

__all__ = ["empty_strided", "empty_permuted", "nextafter", "nonzero_static", "gradient",
           "frombuffer", "index_reduce", "igamma", "igammac", "histogramdd",
           "as_strided_copy", "as_strided_scatter"]


# ---- in-place view ops ------------------------------------------------------------------------

def _inplace_view(view_op, name):
    """``name``: self becomes ``view_op(self, ...)``: its shape and strides change in place, the
    version bumps, and autograd records the view op on self (as torch does)."""

    def method(self, *args, **kwargs):
        self._check_inplace()
        view = view_op(self, *args, **kwargs)
        self._data = view._data
        self._vc[0] += 1
        if self._base is not None:
            self._aux["view_fn"] = view._aux["view_fn"]
            self._aux["view_version"] = self._vc[0]
        if view._requires_grad:
            self._grad_fn, self._output_nr = view._grad_fn, view._output_nr
        return self

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"In-place version of :meth:`{name[:-1]}`: changes self's shape and " \
                     f"strides, not its values."
    return method


def _t_inplace_op(x):
    if x.ndim > 2:
        raise RuntimeError(f"t_() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return S.t(x)


def _as_strided_view(x, size, stride, storage_offset=None):
    return S.as_strided(x, size, stride, storage_offset or 0)


_INPLACE_VIEWS = {"squeeze_": S.squeeze, "unsqueeze_": S.unsqueeze, "t_": _t_inplace_op,
                  "transpose_": S.transpose, "swapaxes_": S.transpose, "swapdims_": S.transpose,
                  "as_strided_": _as_strided_view}


# ---- strided and permuted factories -----------------------------------------------------------

def _fresh_strided(base, size, stride, requires_grad):
    """``as_strided(base, ...)`` as a tensor of its own (not a view of the scratch base)."""
    t = S.as_strided(base, size, stride).detach()
    return t.requires_grad_(requires_grad) if requires_grad else t


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False) -> Tensor:
    """An uninitialised tensor with the given sizes and strides (in elements).

    >>> import ember
    >>> ember.empty_strided((2, 3), (1, 2)).stride()
    (1, 2)
    """
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(stride)} vs "
                           f"{len(size)}")
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension "
                           f"{min(size)}: {list(size)}")
    extent = 0 if 0 in size else 1 + sum((n - 1) * st for n, st in zip(size, stride))
    base = C.empty(extent, dtype=dtype, device=device)
    return _fresh_strided(base, size, stride, requires_grad)


def _new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False,
                       layout=None, pin_memory=False):
    return empty_strided(size, stride, dtype=dtype or self._dtype,
                         device=device or self._device, requires_grad=requires_grad)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False) -> Tensor:
    """An uninitialised tensor of shape ``size`` whose dims lie in memory in the order
    ``physical_layout`` (outermost first): ``empty_permuted((2, 3, 4), (0, 2, 1))`` has strides
    ``(12, 1, 3)``."""
    size = tuple(int(s) for s in size)
    order = tuple(int(d) for d in physical_layout)
    if len(order) != len(size):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(size)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    if sorted(order) != list(range(len(size))):
        raise RuntimeError(f"Dimension {order} in physical_layout is not a permutation of the "
                           f"dimensions")
    physical = C.empty(tuple(size[d] for d in order), dtype=dtype, device=device)
    inverse = tuple(order.index(d) for d in range(len(size)))
    t = S.permute(physical, inverse).detach()
    return t.requires_grad_(requires_grad) if requires_grad else t


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False) -> Tensor:
    """A 1-d cpu tensor over an object that exposes the buffer protocol (shares its memory).

    >>> import ember, array
    >>> ember.frombuffer(array.array("i", [1, 2, 3]), dtype=ember.int32)
    tensor([1, 2, 3], dtype=ember.int32)
    """
    import numpy as np  # NOTE: the buffer protocol is a host concept: the tensor is on cpu
    dtype = _dt.to_dtype(dtype)
    nbytes = memoryview(buffer).nbytes
    if offset < 0 or offset >= nbytes:
        raise ValueError(f"both buffer length ({nbytes}) and offset ({offset}) must be "
                         f"non-negative and smaller than the buffer length")
    if count == 0 or count < -1:
        raise ValueError(f"expected 'count' to be either -1 or a positive number, but got "
                         f"{count}")
    if count == -1 and (nbytes - offset) % dtype.itemsize:
        raise ValueError(f"buffer length ({nbytes - offset} after offset) must be a multiple of "
                         f"element size ({dtype.itemsize})")
    if count > 0 and count * dtype.itemsize > nbytes - offset:
        raise ValueError(f"requested buffer length ({count} * {dtype.itemsize} bytes) after "
                         f"offset ({offset}) must not be greater than actual buffer length "
                         f"({nbytes})")
    t = C.from_numpy(np.frombuffer(buffer, dtype=dtype.np, count=count, offset=offset))
    return t.requires_grad_(requires_grad) if requires_grad else t



def as_strided_copy(input: Tensor, size, stride, storage_offset=None) -> Tensor:
    """``as_strided(input, size, stride, storage_offset)`` as a new tensor (not a view)."""
    return S.clone_contiguous(S.as_strided(input, size, stride, storage_offset or 0))


def as_strided_scatter(input: Tensor, src: Tensor, size, stride, storage_offset=None) -> Tensor:
    """A copy of ``input`` whose ``as_strided(size, stride, storage_offset)`` view holds
    ``src``.

    >>> import ember
    >>> ember.as_strided_scatter(ember.zeros(4), ember.ones(2), (2,), (2,))
    tensor([1., 0., 1., 0.])
    """
    out = S.clone(input, memory_format=None)
    region = S.as_strided(out, size, stride, storage_offset or 0)
    if tuple(region.shape) != tuple(src.shape):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(region.shape)}")
    region.copy_(src)
    return out


def _resize_(self, *sizes, memory_format=None):
    """Give self the shape ``sizes`` (contiguous): its first elements are kept, new elements
    are uninitialised. Only for contiguous tensors that do not require grad."""
    shape = S._as_shape(sizes, "resize_")
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if any(n < 0 for n in shape):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: "
                           f"{list(shape)}")
    if tuple(shape) != tuple(self.shape):
        if not self.is_contiguous():
            raise RuntimeError("resize_: Ember resizes contiguous tensors only; call "
                               ".contiguous() first")
        flat = S.reshape(self.detach(), (-1,))
        n, have = math.prod(shape), flat.shape[0]
        if n > have:
            grown = C.empty(n, dtype=self._dtype, device=self._device)
            S.narrow(grown, 0, 0, have).copy_(flat)
            flat = grown
        self._data = S.reshape(S.narrow(flat, 0, 0, n), shape)._data
    self._vc[0] += 1
    return self


def _resize_as_(self, the_template, *, memory_format=None):
    return _resize_(self, the_template.shape)


# ---- nextafter ---------------------------------------------------------------------------------

def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next floating-point value after ``input`` towards ``other``, elementwise.

    >>> import ember
    >>> ember.nextafter(ember.tensor([1.0]), ember.tensor([2.0])) - 1
    tensor([1.1921e-07])
    """
    from .extra import frexp
    dt = _dt.result_type(input, other)
    if not dt.is_floating_point:
        raise NotImplementedError(f"\"nextafter\" not implemented for "
                                  f"'{_dt_title(dt)}'")
    x = input.detach().to(dt)
    y = (other.detach() if isinstance(other, Tensor) else C.tensor(other)).to(dt)
    x, y = S.broadcast_tensors(x, y)
    fi = _dt.finfo(dt)
    smallest = fi.tiny * fi.eps  # the smallest subnormal
    x64, y64 = x.to(_dt.float64), y.to(_dt.float64)
    direction = E.sign(y64 - x64)
    mant, exp = frexp(x64)
    # one ulp at x's binade is eps * 2**(e-1); stepping down from a power of two, it halves
    ulp = E.exp2(exp.to(_dt.float64) - 1) * fi.eps
    towards_zero = direction * E.sign(x64) < 0
    ulp = E.where(towards_zero & (E.abs(mant) == 0.5), ulp * 0.5, ulp)
    ulp = E.clamp(ulp, min=smallest)
    out = E.where(x64 == 0, direction * smallest, x64 + direction * ulp)
    out = E.where(E.isinf(x64) & towards_zero, E.sign(x64) * fi.max, out)
    out = E.where(x64 == y64, y64, out)
    out = E.where(E.isnan(x64) | E.isnan(y64), math.nan, out).to(dt)
    xs = (input, other)
    if _state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in xs):
        record(_nextafter_op, xs, out)
    return out


# NOTE: torch passes the gradient straight to input and gives other a zero gradient
_nextafter_op = defop("nextafter", lambda ctx, g: (g, C.zeros_like(g)),
                      node_name="NextafterBackward0")


from ..tensor import _dt_name as _dt_title  # noqa: E402  (torch's "Float", "Long" ...)


# ---- nonzero_static, gradient ------------------------------------------------------------------

def nonzero_static(input: Tensor, *, size: int, fill_value: int = -1) -> Tensor:
    """``nonzero(input)`` cut or padded with ``fill_value`` to exactly ``size`` rows.

    >>> import ember
    >>> ember.nonzero_static(ember.tensor([0, 1, 0, 2]), size=3)
    tensor([[ 1],
            [ 3],
            [-1]])
    """
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but got "
                           f"size = {size}")
    found = I.nonzero(input)
    n = found.shape[0]
    if n >= size:
        return S.narrow(found, 0, 0, size).clone()
    pad = C.full((size - n, input.ndim), fill_value, dtype=_dt.int64, device=input.device)
    return S.cat([found, pad], 0)


def _gradient_along(f, d, h, coords, edge_order):
    """The derivative of f along dim d: central differences inside, one-sided at the ends, with
    uniform spacing h or at coordinates ``coords`` (numpy's and torch's formulas)."""
    n = f.shape[d]

    def part(start, length):
        return S.narrow(f, d, start, length)

    def along(v):  # a 1-d coordinate tensor broadcast along dim d
        shape = [1] * f.ndim
        shape[d] = -1
        return S.reshape(v, shape)

    if coords is None:
        inner = (part(2, n - 2) - part(0, n - 2)) / (2.0 * h)
        if edge_order == 1:
            first = (part(1, 1) - part(0, 1)) / h
            last = (part(n - 1, 1) - part(n - 2, 1)) / h
        else:
            first = (-1.5 * part(0, 1) + 2.0 * part(1, 1) - 0.5 * part(2, 1)) / h
            last = (0.5 * part(n - 3, 1) - 2.0 * part(n - 2, 1) + 1.5 * part(n - 1, 1)) / h
        return S.cat([first, inner, last], d)
    dx = coords[1:] - coords[:-1]
    hl, hr = along(dx[:-1]), along(dx[1:])
    a = -hr / (hl * (hl + hr))
    b = (hr - hl) / (hl * hr)
    c = hl / (hr * (hl + hr))
    inner = a * part(0, n - 2) + b * part(1, n - 2) + c * part(2, n - 2)
    if edge_order == 1:
        first = (part(1, 1) - part(0, 1)) / dx[0]
        last = (part(n - 1, 1) - part(n - 2, 1)) / dx[-1]
    else:
        h1, h2 = dx[0], dx[1]
        first = (-(2.0 * h1 + h2) / (h1 * (h1 + h2)) * part(0, 1)
                 + (h1 + h2) / (h1 * h2) * part(1, 1) - h1 / (h2 * (h1 + h2)) * part(2, 1))
        h1, h2 = dx[-2], dx[-1]
        last = (h2 / (h1 * (h1 + h2)) * part(n - 3, 1) - (h2 + h1) / (h1 * h2) * part(n - 2, 1)
                + (2.0 * h2 + h1) / (h2 * (h1 + h2)) * part(n - 1, 1))
    return S.cat([first, inner, last], d)


def gradient(input: Tensor, *, spacing=1, dim=None, edge_order: int = 1) -> tuple:
    """Estimate the gradient of a function sampled in ``input`` along each of ``dim`` (all
    dims by default): second-order central differences inside, first- or second-order
    (``edge_order``) one-sided differences at the boundaries. ``spacing`` is a number (the
    same sample distance everywhere), one number per dim, or one coordinate tensor per dim.

    >>> import ember
    >>> ember.gradient(ember.tensor([1.0, 4.0, 9.0, 16.0]))
    (tensor([3., 4., 6., 7.]),)
    """
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = list(range(input.ndim)) if dim is None else \
        ([dim] if isinstance(dim, int) else list(dim))
    dims = [_norm_dim(d, input.ndim, "gradient") for d in dims]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims) and dim is None:
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, "
                               f"or a list of length equal to 'self.dim() = {input.ndim}', "
                               f"since dim argument was not given, but got a list of length "
                               f"{len(spacing)}")
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                               f"it's spacing and dim arguments to have the same length, but "
                               f"got a spacing argument of length {len(spacing)} and a dim "
                               f"argument of length {len(dims)}.")
        spacings = list(spacing)
    else:
        spacings = [spacing] * len(dims)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    f = input if input.dtype.is_floating_point else input.to(_dt.get_default_dtype())
    out = []
    for d, h in zip(dims, spacings):
        if isinstance(h, Tensor):
            if h.ndim != 1 or h.shape[0] != input.shape[d]:
                raise RuntimeError(f"torch.gradient expected each tensor to be on the same "
                                   f"device and to have the size of the input along dim {d}")
            coords = h if h.dtype.is_floating_point else h.to(f.dtype)
            out.append(_gradient_along(f, d, None, coords.to(f.dtype), edge_order))
        else:
            out.append(_gradient_along(f, d, h, None, edge_order))
    return tuple(out)


# ---- Tensor.map_ -------------------------------------------------------------------------------

def _map_(self, tensor, callable):
    """self[i] = callable(self[i], tensor[i]) for every element (tensor broadcast to self);
    Python-level, as torch's (cpu only there)."""
    import numpy as np
    other = S.expand(tensor.to(self._dtype), self._data.shape)._host()
    vals = np.vectorize(callable, otypes=[self._dtype.np])(self._host(), other)
    with _no_grad_ctx():
        self.copy_(C.tensor(vals, dtype=self._dtype, device=self._device))
    return self


def _no_grad_ctx():
    from ..autograd.grad_mode import no_grad
    return no_grad()


# ---- index_reduce ------------------------------------------------------------------------------

def index_reduce(input: Tensor, dim: int, index: Tensor, source: Tensor, reduce: str, *,
                 include_self: bool = True) -> Tensor:
    """input with slice ``i`` of ``source`` along ``dim`` reduced ("prod", "mean", "amax" or
    "amin") into slice ``index[i]``; ``include_self`` False leaves input's own values at the
    written slices out of the reduction. A scatter_reduce with the index spread over source.

    >>> import ember
    >>> x = ember.ones(3, 2)
    >>> x.index_reduce(0, ember.tensor([0, 2, 0]), ember.full((3, 2), 2.0), "prod")
    tensor([[4., 4.],
            [1., 1.],
            [2., 2.]])
    """
    name = "index_reduce_()"
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    if index.ndim > 1:
        raise IndexError(f"{name}: Index is supposed to be a vector, but got dim: {index.ndim} "
                         f"with type: {_dt_title(index.dtype)} and size: {list(index.shape)}")
    if index.dtype not in (_dt.int32, _dt.int64):
        raise RuntimeError(f"{name}: Expected dtype int32/int64 for index but got: "
                           f"{_dt_title(index.dtype)}")
    d = _norm_dim(dim, max(input.ndim, 1), "index_reduce")
    n_src = source.shape[d] if source.ndim else 1
    if index.numel() != n_src:
        raise RuntimeError(f"{name}: Number of indices ({index.numel()}) should be equal to "
                           f"source.size(dim): ({n_src}), for dim: {dim}")
    if input.ndim != source.ndim or any(a != b for k, (a, b) in
                                        enumerate(zip(input.shape, source.shape)) if k != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    if index.numel() and (R.amax(index).item() >= max(input.shape[d] if input.ndim else 1, 1)
                          or R.amin(index).item() < 0):
        raise IndexError("index out of range in self")
    spread = [1] * source.ndim
    if source.ndim:
        spread[d] = -1
    idx = S.expand(S.reshape(index.to(_dt.int64), spread), source.shape)
    return I.scatter_reduce(input, d, idx, source.to(input.dtype), reduce,
                            include_self=include_self)



# ---- the regularized incomplete gamma functions ------------------------------------------------

def regularized_gamma(a: Tensor, x: Tensor, upper: bool) -> Tensor:
    """P(a, x) (``upper`` False) or Q(a, x) = 1 - P(a, x) on floating tensors of one dtype,
    unrecorded: the power series where x < a + 1, else Legendre's continued fraction (Lentz's
    method), each iterated until every element converged. ember.special.gammainc builds on it.
    """
    from .extra import lgamma
    dt = a.dtype
    eps, tiny = _dt.finfo(dt).eps, _dt.finfo(dt).tiny
    a, x = S.broadcast_tensors(a, x)
    series = x < a + 1
    # each method gets harmless stand-ins where the other one answers
    xs, as_ = E.where(series, x, 0.5), E.where(series, a, 1.0)
    xc, ac = E.where(series, 2.0, x), E.where(series, 1.0, a)

    def log_prefactor(a_, x_):
        """log(x**a * exp(-x) / Gamma(a)); for a >= 10 through Stirling's series, as the
        direct form loses digits to cancellation there (a * log(x) ~ x ~ lgamma(a))."""
        direct = a_ * E.log(x_) - x_ - lgamma(a_)
        big = a_ >= 10
        ab = E.where(big, a_, 10.0)
        t = (x_ - ab) / ab
        stirling = 1 / (12 * ab) - 1 / (360 * ab ** 3) + 1 / (1260 * ab ** 5)
        asymptotic = ab * (E.log1p(t) - t) + 0.5 * E.log(ab / (2 * math.pi)) - stirling
        return E.where(big, asymptotic, direct)

    term = total = 1.0 / as_
    denom = as_
    for i in range(1, 4000):
        denom = denom + 1
        term = term * xs / denom
        total = total + term
        if i % 16 == 0 and not R.any(E.abs(term) > E.abs(total) * eps).item():
            break
    p_series = E.exp(log_prefactor(as_, xs)) * total

    b = xc + 1 - ac
    c = C.full_like(b, 1.0 / tiny)
    d = 1.0 / b
    h = d
    for i in range(1, 4000):
        an = -i * (i - ac)
        b = b + 2
        d = an * d + b
        d = E.where(E.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = E.where(E.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = d * c
        h = h * delta
        if i % 8 == 0 and not R.any(E.abs(delta - 1) > eps).item():
            break
    q_cf = E.exp(log_prefactor(ac, xc)) * h
    out = E.where(series, 1 - p_series, q_cf) if upper else \
        E.where(series, p_series, 1 - q_cf)
    # the edges, as torch's (Cephes): x = 0, x = inf, a = 0, a = inf, negative arguments
    low, high = (1.0, 0.0) if upper else (0.0, 1.0)
    out = E.where(x == 0, low, out)
    out = E.where(E.isinf(x), high, out)
    out = E.where((a == 0) & (x > 0), high, out)
    out = E.where(E.isinf(a) & ~E.isinf(x), low, out)
    bad = (a < 0) | (x < 0) | E.isnan(a) | E.isnan(x) | ((a == 0) & (x == 0)) | \
        (E.isinf(a) & E.isinf(x))
    return E.where(bad, math.nan, out)


def igamma(input: Tensor, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function P(input, other)
    (``ember.special.gammainc``).

    >>> import ember
    >>> ember.igamma(ember.tensor([1.0, 2.0]), ember.tensor([0.5, 3.0]))
    tensor([0.3935, 0.8009])
    """
    from ..special import gammainc
    return gammainc(input, other)


def igammac(input: Tensor, other: Tensor) -> Tensor:
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P(input, other)
    (``ember.special.gammaincc``)."""
    from ..special import gammaincc
    return gammaincc(input, other)



# ---- histogramdd -------------------------------------------------------------------------------

histogramdd_ret = _return_types.make("histogramdd", ["hist", "bin_edges"])


def histogramdd(input: Tensor, bins=10, *, range=None, weight=None, density=False):
    """The D-dimensional histogram of the points in the rows of ``input`` (shape (..., D)):
    ``bins`` is a count for every dim, one count per dim, or one edge tensor per dim;
    ``range`` is ``[lo_0, hi_0, lo_1, hi_1, ...]`` (default: each dim's min and max).

    >>> import ember
    >>> ember.histogramdd(ember.tensor([[0.0, 1.0], [1.0, 0.0]]), bins=2).hist
    tensor([[0., 1.],
            [1., 0.]])
    """
    from .extra import histogram
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f"\"histogramdd\" not implemented for "
                                  f"'{_dt_title(input.dtype)}'")
    n_dims = input.shape[-1]
    points = S.reshape(input.detach(), (-1, n_dims))
    per_dim = list(bins) if isinstance(bins, (list, tuple)) else [bins] * n_dims
    if len(per_dim) != n_dims:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    if range is not None and len(range) != 2 * n_dims:
        raise RuntimeError("histogramdd: The size of range must be equal to twice the "
                           "innermost dimension of the input.")
    edges, flat_pos, inside, sizes = [], None, None, []
    for d in builtins.range(n_dims):
        x = points[:, d]
        dim_range = None if range is None else (range[2 * d], range[2 * d + 1])
        if isinstance(per_dim[d], Tensor):
            e = per_dim[d].to(input.dtype)
        else:  # histogram's edges are torch's (data range, widening of an empty range)
            e = histogram(x, per_dim[d], range=dim_range).bin_edges
        nb = e.shape[0] - 1
        pos = R.searchsorted(e, x, right=True) - 1
        pos = E.where(x == e[-1], nb - 1, pos)
        ok = (pos >= 0) & (pos < nb)
        inside = ok if inside is None else inside & ok
        flat_pos = pos if flat_pos is None else flat_pos * nb + pos
        edges.append(e)
        sizes.append(nb)
    w = C.ones(points.shape[0], dtype=input.dtype, device=input.device) if weight is None \
        else S.reshape(weight, (-1,)).to(input.dtype)
    total = math.prod(sizes)
    hist = I.scatter_add(C.zeros(total, dtype=input.dtype, device=input.device), 0,
                         E.where(inside, flat_pos, 0), E.where(inside, w, 0.0))
    hist = S.reshape(hist, tuple(sizes))
    if density:
        volume = None
        for d, e in enumerate(edges):
            shape = [1] * n_dims
            shape[d] = -1
            width = S.reshape(R.diff(e), shape)
            volume = width if volume is None else volume * width
        hist = hist / (R.sum(hist) * volume)
    return histogramdd_ret(hist, tuple(edges))



METHODS: dict = {
    **{name: _inplace_view(op, name) for name, op in _INPLACE_VIEWS.items()},
    "new_empty_strided": _new_empty_strided, "nextafter": nextafter, "map_": _map_,
    "index_reduce": index_reduce, "igamma": igamma, "igammac": igammac,
    "as_strided_scatter": as_strided_scatter, "resize_": _resize_, "resize_as_": _resize_as_,
}
INPLACE: set = {"nextafter", "index_reduce", "igamma", "igammac"}
