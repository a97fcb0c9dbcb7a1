"""Views and shape ops. A view shares its base's buffer and version counter and remembers how
to re-derive itself from the base (``view_fn``), which in-place autograd needs."""
from __future__ import annotations

from .. import dtypes as _dt
from ..autograd import grad_mode
from ..tensor import Size, Tensor, _layout_order, _norm_dim
from .registry import _state, defop, device_mismatch, record

_wrap = Tensor._wrap


def _as_shape(args, op="view"):
    if len(args) == 1 and not isinstance(args[0], int):
        args = args[0]
    try:
        return tuple(int(s) if isinstance(s, int) else s.__index__() for s in args)
    except AttributeError:
        raise TypeError(f"{op}(): size must be a tuple of ints, got {args!r}") from None


def _make_view(x, data, view_fn, op, params=None, dtype=None):
    """Wrap ``data`` (a backend view of x's buffer) as a view tensor of x (of ``dtype``: a real
    view of a complex tensor)."""
    t = _wrap(data, dtype or x._dtype, x._device)
    t._vc = x._vc
    if x._base is not None:
        parent = x._aux["view_fn"]
        t._base = x._base
        fn = (lambda b: view_fn(parent(b)))
    else:
        t._base = x
        fn = view_fn
    t._aux = {"view_fn": fn, "view_version": x._vc[0]}
    if _state.enabled and x._requires_grad:
        record(op, (x,), t, params)
        if x._base is not None and "multi_output" in x._aux:
            # a view of an output of split/unbind may not be modified in place either
            t._aux["multi_output"] = (op.node_cls.__name__.removesuffix("Backward0"), 0)
    return t


def _mark_multi_output(views, name):
    """Remember that ``views`` come from one multi-view op (split, unbind): torch refuses to
    modify such a view in place while autograd records it."""
    for i, t in enumerate(views):
        if t._requires_grad:
            t._aux["multi_output"] = (name, i)
    return views


def _infer_shape(shape, numel, op="view"):
    if -1 in shape:
        if shape.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred")
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        if s < 0:
            raise RuntimeError(f"invalid shape dimension {s}")
        n *= s
    if n != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


_view_op = defop("view", None, node_name="ViewBackward0")


def view(x, *shape):
    """A view with another shape; RuntimeError when x's strides do not allow one."""
    if len(shape) == 1 and isinstance(shape[0], _dt.dtype):
        return view_dtype(x, shape[0])
    shape = _infer_shape(_as_shape(shape), x.numel())
    if shape == x._data.shape and not (_state.enabled and x._requires_grad):
        return _make_view(x, x._data, lambda b: b, _view_op)
    data = x._device._backend.kernels["view"](x._data, shape)
    if data is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return _make_view(x, data, lambda b: view(b, shape), _view_op,
                      {"shape": x._data.shape})


def view_dtype(x, dtype):
    if dtype.itemsize != x._dtype.itemsize:
        raise RuntimeError("view(dtype) needs a dtype of the same size")
    h = x._host().view(dtype.np)
    from .creation import from_numpy
    return from_numpy(h.copy()).to(x._device)


def reshape(x, *shape):
    """A view when possible, else a copy (torch.reshape)."""
    shape = _infer_shape(_as_shape(shape, "reshape"), x.numel())
    data = x._device._backend.kernels["view"](x._data, shape)
    if data is not None:
        return _make_view(x, data, lambda b: reshape(b, shape), _view_op,
                          {"shape": x._data.shape})
    return view(contiguous(x), shape)


# The view backward needs the input's shape; ctx.params carries it.
def _view_backward(ctx, g):
    return (reshape(g, ctx.params["shape"]),)


_view_op.node_cls._backward = staticmethod(_view_backward)


def _permute_backward(ctx, g):
    dims = ctx.params["dims"]
    inv = [0] * len(dims)
    for i, d in enumerate(dims):
        inv[d] = i
    return (_permute(g, tuple(inv)),)


_permute_op = defop("permute", _permute_backward)


def permute(x, *dims):
    dims = _as_shape(dims, "permute")
    n = x.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    dims = tuple([_norm_dim(d, n, "permute") for d in dims])
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permute(x, dims)


def _permute(x, dims):
    """permute by ``dims``, a tuple already checked to be a permutation of x's dims."""
    data = x._device._backend.kernels["permute"](x._data, dims)
    return _make_view(x, data, lambda b: _permute(b, dims), _permute_op, {"dims": dims})


def transpose(x, dim0, dim1):
    n = len(x._data.shape)
    if n == 0:
        return view(x, ())
    d0, d1 = _norm_dim(dim0, n, "transpose"), _norm_dim(dim1, n, "transpose")
    if n == 2:
        return _permute(x, (0, 1) if d0 == d1 else (1, 0))
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return _permute(x, tuple(dims))


swapaxes = swapdims = transpose


def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x.ndim}D")
    return transpose(x, 0, 1) if x.ndim == 2 else view(x, x._data.shape)


def movedim(x, source, destination):
    n = x.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_norm_dim(s, n) for s in src]
    dst = [_norm_dim(d, n) for d in dst]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, order)


moveaxis = movedim


def _expand_backward(ctx, g):
    return (sum_to(g, ctx.params["shape"]),)


_expand_op = defop("expand", _expand_backward)


def expand(x, *sizes):
    sizes = _as_shape(sizes, "expand")
    shape = x._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i, s in enumerate(sizes):
        cur = shape[i - lead] if i >= lead else 1
        if s == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing "
                                   "dimension")
            out[i] = cur
        elif cur != s and cur != 1:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({cur}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(shape)}")
    return _expand_to(x, tuple(out))


def _expand_to(x, out):
    """expand to ``out``, a tuple of sizes already checked against x's shape (no -1)."""
    shape = x._data.shape
    if out == shape:
        return _make_view(x, x._data, lambda b: b, _expand_op, {"shape": shape}) \
            if _state.enabled and x._requires_grad else view(x, shape)
    k = x._device._backend.kernels
    lead = len(out) - len(shape)
    data = x._data if lead == 0 else k["view"](x._data, (1,) * lead + shape)
    if data is None:
        data = k["view"](k["contiguous"](x._data), (1,) * lead + shape)
    data = k["expand"](data, out)
    return _make_view(x, data, lambda b: _expand_to(b, out), _expand_op, {"shape": shape})


def expand_as(x, other):
    return expand(x, other.shape)


def broadcast_to(x, shape):
    return expand(x, shape)


def broadcast_tensors(*tensors):
    from .elementwise import broadcast_shapes
    shape = ()
    for t in tensors:
        shape = broadcast_shapes("broadcast_tensors", shape, t._data.shape)
    return tuple(expand(t, shape) for t in tensors)


def broadcast_shapes(*shapes):
    from .elementwise import broadcast_shapes as b
    out = ()
    for s in shapes:
        out = b("broadcast_shapes", out, tuple(s) if not isinstance(s, int) else (s,))
    return Size(out)


def sum_to(g, shape):
    """Sum ``g`` over the dims that broadcasting added to reach ``shape``."""
    gshape = g._data.shape
    if gshape == tuple(shape):
        return g
    lead = len(gshape) - len(shape)
    dims = list(range(lead))
    for i, s in enumerate(shape):
        if s == 1 and gshape[lead + i] != 1:
            dims.append(lead + i)
    from .reduction import sum as _sum
    if lead and len(dims) == lead:  # only broadcast's leading dims (a bias): no reshape after
        return _sum(g, dims)
    r = _sum(g, dims, keepdim=True) if dims else g
    if lead:
        r = reshape(r, shape)
    return r


def squeeze(x, dim=None):
    shape = x._data.shape
    if dim is None:
        new = tuple(s for s in shape if s != 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = {_norm_dim(d, len(shape), "squeeze") for d in dims}
        new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return view(x, new)


def unsqueeze(x, dim):
    shape = list(x._data.shape)
    d = _norm_dim(dim, len(shape) + 1, "unsqueeze")
    shape.insert(d, 1)
    return view(x, tuple(shape))


def flatten(x, start_dim=0, end_dim=-1):
    shape = x._data.shape
    if not shape:
        return reshape(x, (1,))
    s = _norm_dim(start_dim, len(shape), "flatten")
    e = _norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for v in shape[s:e + 1]:
        n *= v
    return reshape(x, shape[:s] + (n,) + shape[e + 1:])


def unflatten(x, dim, sizes):
    shape = x._data.shape
    d = _norm_dim(dim, len(shape), "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for v in sizes:
            if v != -1:
                known *= v
        sizes = tuple(shape[d] // known if v == -1 else v for v in sizes)
    n = 1
    for v in sizes:
        n *= v
    if n != shape[d]:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({shape[d]}) in the input tensor")
    return view(x, shape[:d] + sizes + shape[d + 1:])


def ravel(x):
    return reshape(x, (-1,))


def view_as(x, other):
    return view(x, other.shape)


def reshape_as(x, other):
    return reshape(x, other.shape)


# ---- basic indexing (views) -----------------------------------------------------------------

def _slice_backward(ctx, g):
    return (_slice_scatter_zeros(g, ctx.params["shape"], ctx.params["index"]),)


_slice_op = defop("slice", _slice_backward, node_name="SliceBackward0")


def getitem_basic(x, index):
    """x[index] for a normalised basic index (ints, clamped slices, None): a view."""
    data = x._device._backend.kernels["getitem_basic"](x._data, index)
    return _make_view(x, data, lambda b: getitem_basic(b, index), _slice_op,
                      {"shape": x._data.shape, "index": index})


def _g_slice_scatter(ctx, g):
    return (getitem_basic(g, ctx.params["index"]),)


_slice_scatter_op = defop("slice_scatter_zeros", _g_slice_scatter)


def _slice_scatter_zeros(g, shape, index):
    """zeros(shape) with g written at the basic index (the backward of slicing)."""
    k = g._device._backend.kernels
    data = k["full"](shape, 0, g._dtype, g._device.index)
    k["setitem"](data, index, g._data)
    out = _wrap(data, g._dtype, g._device)
    if _state.enabled and g._requires_grad:
        record(_slice_scatter_op, (g,), out, {"index": index})
    return out


def narrow(x, dim, start, length):
    n = x.ndim
    d = _norm_dim(dim, n, "narrow")
    size = x._data.shape[d]
    start = int(start)
    if start < 0:
        start += size
    if start < 0 or start + length > size or length < 0:
        raise IndexError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    idx = [slice(0, s, 1) for s in x._data.shape]
    idx[d] = slice(start, start + length, 1)
    return getitem_basic(x, tuple(idx))


def select(x, dim, index):
    n = x.ndim
    d = _norm_dim(dim, n, "select")
    size = x._data.shape[d]
    i = int(index)
    if i < -size or i >= size:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{list(x._data.shape)} at dimension {d}")
    idx = [slice(0, s, 1) for s in x._data.shape]
    idx[d] = i % size
    return getitem_basic(x, tuple(idx))


def split(x, split_size_or_sections, dim=0):
    d = _norm_dim(dim, x.ndim, "split")
    size = x._data.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {size}")
        sizes = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got split_sizes="
                               f"{sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    name = "Split" if isinstance(split_size_or_sections, int) else "SplitWithSizes"
    return _mark_multi_output(tuple(out), name) if _state.enabled else tuple(out)


def chunk(x, chunks, dim=0):
    d = _norm_dim(dim, x.ndim, "chunk")
    size = x._data.shape[d]
    step = -(-size // chunks) if chunks > 0 else 0
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0")
    return split(x, max(step, 1), d) if size else (x,)


def tensor_split(x, indices_or_sections, dim=0):
    d = _norm_dim(dim, x.ndim, "tensor_split")
    size = x._data.shape[d]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        q, r = divmod(size, n)
        sizes = [q + 1] * r + [q] * (n - r)
    else:
        idx = [0] + [min(max(int(i), 0), size) for i in indices_or_sections] + [size]
        sizes = [max(b - a, 0) for a, b in zip(idx, idx[1:])]
    out, start = [], 0
    for s in sizes:
        out.append(narrow(x, d, start, s))
        start += s
    return tuple(out)


def unbind(x, dim=0):
    d = _norm_dim(dim, x.ndim, "unbind")
    out = tuple(select(x, d, i) for i in range(x._data.shape[d]))
    return _mark_multi_output(out, "Unbind") if _state.enabled else out


def _as_strided_backward(ctx, g):
    p = ctx.params
    from .creation import arange, zeros
    from .indexing import index_add_flat
    pos = None
    for size, stride in zip(p["size"], p["stride"]):
        r = arange(size, device=g.device) * stride
        pos = r if pos is None else (pos.unsqueeze(-1) + r)
    if pos is None:
        pos = zeros((), dtype=_dt.int64, device=g.device)
    flat = zeros(p["numel"], dtype=g.dtype, device=g.device)
    flat = index_add_flat(flat, reshape(pos, (-1,)) + p["offset"], reshape(g, (-1,)))
    return (reshape(flat, p["shape"]),)


_as_strided_op = defop("as_strided", _as_strided_backward)


def as_strided(x, size, stride, storage_offset=0):
    """A view with explicit sizes and strides (in elements) starting ``storage_offset``
    elements after x's first element. Differentiable when x is contiguous."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape: {len(stride)} vs "
                           f"{len(size)}")
    if _state.enabled and x._requires_grad and not x.is_contiguous():
        x = contiguous(x)
    k = x._device._backend.kernels
    src = x._data
    if storage_offset:
        flat = k["view"](src, (x.numel(),)) if x.is_contiguous() else None
        if flat is None:
            raise RuntimeError("as_strided with storage_offset needs a contiguous tensor")
        src = k["getitem_basic"](flat, (slice(storage_offset, flat.shape[0], 1),))
    data = k["as_strided"](src, size, stride)
    return _make_view(x, data, lambda b: as_strided(b, size, stride, storage_offset),
                      _as_strided_op, {"size": size, "stride": stride, "numel": x.numel(),
                                       "shape": x._data.shape, "offset": storage_offset})


def unfold(x, dimension, size, step):
    """All slices of ``size`` along ``dimension`` every ``step`` elements, as a new last dim."""
    d = _norm_dim(dimension, max(x.ndim, 1), "unfold")
    x = contiguous(x) if not x.is_contiguous() else x
    shape = x._data.shape
    strides = x.stride()
    n = (shape[d] - size) // step + 1
    if n < 0 or size > shape[d]:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {shape[d]} but size is "
                           f"{size}")
    new_shape = shape[:d] + (n,) + shape[d + 1:] + (size,)
    new_strides = strides[:d] + (strides[d] * step,) + strides[d + 1:] + (strides[d],)
    return as_strided(x, new_shape, new_strides)


def _diagonal_backward(ctx, g):
    from .creation import zeros
    from .extra import diagonal_scatter
    p = ctx.params
    z = zeros(p["shape"], dtype=g.dtype, device=g.device)
    return (diagonal_scatter(z, g, p["offset"], p["dim1"], p["dim2"]),)


_diagonal_op = defop("diagonal", _diagonal_backward, node_name="DiagonalBackward0")


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal (offset, dim1, dim2) as a new last dim: a view, so that in-place ops on it
    (``x.diagonal().add_(1)``) write into x, as in torch.

    >>> ember.eye(2).diagonal().tolist()
    [1.0, 1.0]
    """
    n = x.ndim
    d1, d2 = _norm_dim(dim1, n, "diagonal"), _norm_dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rest = [i for i in range(n) if i not in (d1, d2)]
    k = x._device._backend.kernels
    y = k["permute"](x._data, tuple(rest + [d1, d2]))
    a, b = y.shape[-2:]
    m = max(min(a, b - offset), 0) if offset >= 0 else max(min(a + offset, b), 0)
    r0, c0 = (0, offset) if offset >= 0 else (-offset, 0)
    if m == 0:
        r0 = c0 = 0
    lead = (slice(None),) * len(rest)
    start = k["getitem_basic"](y, lead + (slice(r0, a, 1), slice(c0, b, 1)))
    st = k["strides"](start)
    data = k["as_strided"](start, tuple(y.shape[:-2]) + (m,),
                           tuple(st[:-2]) + (st[-2] + st[-1],))
    return _make_view(x, data, lambda t: diagonal(t, offset, d1, d2), _diagonal_op,
                      {"shape": x._data.shape, "offset": offset, "dim1": d1, "dim2": d2})


# ---- copies ---------------------------------------------------------------------------------

_clone_op = defop("clone", lambda c, g: (g,))


def clone(x, *, memory_format=None):
    """A copy of x (torch.clone). The default, preserve_format, keeps x's layout as torch's
    does: channels last stays channels last, a transposed tensor stays transposed.

    >>> ember.ones(2, 3).t().clone().stride()
    (1, 3)
    """
    kernels = x._device._backend.kernels
    data = x._data
    if memory_format is None and kernels.get("is_contiguous", _never)(data):
        # (the common case first: a row-major x needs no look at its strides; the kernel is
        # optional, see plugins/api.py)
        out = _wrap(kernels["contiguous"](data), x._dtype, x._device)
        if _state.enabled and x._requires_grad:
            record(_clone_op, (x,), out)
        return out
    return _copy(x, layout_plan(x, memory_format))


def _never(data):
    return False


def clone_contiguous(x):
    """A row-major copy of x, always a new tensor: torch's ``*_copy`` ops give one whatever
    x's layout."""
    return _copy(x, None)


def contiguous(x, memory_format=None):
    if x.is_contiguous(memory_format):
        return x
    order = _layout_order(memory_format, x.ndim)
    return _copy(x, None if order is None else (order, None))


def _copy(x, plan):
    kernels = x._device._backend.kernels
    if plan is None:
        data = kernels["contiguous"](x._data)
    else:
        data = kernels["contiguous"](kernels["permute"](x._data, plan[0]))
        data = restore_layout(kernels, data, x._data.shape, plan)
    out = _wrap(data, x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_clone_op, (x,), out)
    return out


# ---- memory layouts -------------------------------------------------------------------------

def layout_plan(x, memory_format=None):
    """How a new tensor like ``x`` is laid out for ``memory_format`` (clone, empty_like ...):
    None for row-major, else ``(order, strides)``: the values are made row-major over the dims
    in ``order`` (outermost first) and the dims are then put back (``restore_layout``);
    ``strides``, when not None, are the exact strides torch gives the result."""
    name = getattr(memory_format, "_name", None)
    if name is None or name == "preserve_format":
        return _preserve_plan(x)
    order = _layout_order(memory_format, x.ndim)
    return None if order is None else (order, None)


def _preserve_plan(x):
    # torch's preserve_format: a dense, non-overlapping layout is kept stride for stride;
    # any other gets dense strides in the same order of dims
    data = x._data
    shape = data.shape
    if len(shape) < 2:
        return None
    kernels = x._device._backend.kernels
    row_major = kernels.get("is_contiguous")
    if row_major is not None and row_major(data):
        return None
    strides = tuple(kernels["strides"](data))
    if _row_major(shape, strides) or 0 in shape:
        return None
    if not _dense(shape, strides):
        strides = _dense_strides(shape, strides)
        if _row_major(shape, strides):
            return None
    # (a size-1 dim tied with another goes inside it, where its row-major stride is the same)
    order = tuple(sorted(range(len(shape)), key=lambda d: (-strides[d], shape[d] == 1)))
    return order, strides


def _row_major(shape, strides) -> bool:
    expect = 1
    for n, st in zip(reversed(shape), reversed(strides)):
        if st != expect and n != 1:
            return False
        expect *= n
    return True


def _dense(shape, strides) -> bool:
    """Whether the elements fill a block of memory exactly once (strides of size-1 dims are
    free)."""
    expect = 1
    for st, n in sorted((st, n) for n, st in zip(shape, strides) if n != 1):
        if st != expect:
            return False
        expect *= n
    return True


def _dense_strides(shape, strides):
    """Dense strides ordering the dims as ``strides`` do, as torch infers them for a tensor that
    is not dense: dims sorted innermost first by stride (on a tie the larger one outside), by
    an insertion sort from the row-major order in which a 0-stride dim does not move others."""
    perm = list(range(len(shape)))[::-1]

    def outer(a, b):  # 1: dim a goes outside dim b, -1: inside, 0: keep their order
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa != sb:
            return 1 if sa > sb else -1
        return 1 if shape[a] > shape[b] else 0

    for i in range(1, len(perm)):
        j = i
        for k in range(i - 1, -1, -1):
            c = outer(perm[k], perm[j])
            if c > 0:
                perm[k], perm[j] = perm[j], perm[k]
                j = k
            elif c < 0:
                break
    out = [0] * len(shape)
    step = 1
    for d in perm:
        out[d] = step
        step *= max(shape[d], 1)
    return tuple(out)


def restore_layout(kernels, data, shape, plan):
    """``data``, row-major over the dims ``plan[0]``, with its dims put back in order."""
    order, strides = plan
    data = kernels["permute"](data, tuple(order.index(d) for d in range(len(order))))
    if strides is not None and tuple(kernels["strides"](data)) != strides:
        data = kernels["as_strided"](data, shape, strides)
    return data


def _cat_backward(ctx, g):
    d, sizes = ctx.params["dim"], ctx.params["sizes"]
    return split(g, sizes, d)


_cat_op = defop("cat", _cat_backward)


def cat(tensors, dim=0, *, out=None):
    """Concatenate along an existing dim; all tensors share the device (dtypes promote)."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        "Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    # NOTE: torch skips 1-d empty tensors in cat (legacy behaviour kept for compatibility)
    parts = [t for t in tensors if not (t.ndim == 1 and t._data.shape[0] == 0)] or tensors[:1]
    ref = parts[0]
    n = ref.ndim
    if n == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = _norm_dim(dim, n, "cat")
    dt = ref._dtype
    for t in parts[1:]:
        if t._device is not ref._device:
            raise RuntimeError(device_mismatch("cat", ref, t))
        if t._dtype is not dt:
            dt = _dt.promote_types(dt, t._dtype)
        if t.ndim != n:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {n} and "
                               f"{t.ndim}")
        for i in range(n):
            if i != d and t._data.shape[i] != ref._data.shape[i]:
                # NOTE: found by identity: list.index would compare tensors with ==
                pos = next(j for j, u in enumerate(tensors) if u is t)
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                   f"Expected size {ref._data.shape[i]} but got size "
                                   f"{t._data.shape[i]} for tensor number {pos} in "
                                   "the list.")
    k = ref._device._backend.kernels
    datas = [t._data if t._dtype is dt else k["cast"](t._data, dt) for t in parts]
    res = _wrap(k["cat"](datas, d), dt, ref._device)
    if _state.enabled and dt.is_inexact and any(t._requires_grad for t in parts):
        record(_cat_op, parts, res, {"dim": d, "sizes": [t._data.shape[d] for t in parts]})
    if out is not None:
        from .elementwise import _out
        return _out(res, out)
    return res


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    if isinstance(tensors, Tensor):
        raise TypeError("stack(): argument 'tensors' (position 1) must be tuple of Tensors, not "
                        "Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    d = _norm_dim(dim, len(shape) + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d, out=out)


def hstack(tensors):
    tensors = [atleast_1d(t) for t in tensors]
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(t) for t in tensors], 0)


row_stack = vstack


def dstack(tensors):
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    return hstack([reshape(t, (-1, 1)) if t.ndim <= 1 else t for t in tensors])


def atleast_1d(x):
    return reshape(x, (1,)) if x.ndim == 0 else x


def atleast_2d(x):
    return reshape(x, (1,) * (2 - x.ndim) + x._data.shape) if x.ndim < 2 else x


def atleast_3d(x):
    if x.ndim == 0:
        return reshape(x, (1, 1, 1))
    if x.ndim == 1:
        return reshape(x, (1, -1, 1))
    if x.ndim == 2:
        return unsqueeze(x, -1)
    return x


_flip_op = defop("flip", lambda c, g: (flip(g, c.params["dims"]),))


def flip(x, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    dims = tuple(_norm_dim(d, x.ndim, "flip") for d in dims)
    res = _wrap(x._device._backend.kernels["flip"](x._data, dims), x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_flip_op, (x,), res, {"dims": dims})
    return res


def fliplr(x):
    return flip(x, (1,))


def flipud(x):
    return flip(x, (0,))


def roll(x, shifts, dims=None):
    if dims is None:
        return reshape(roll(flatten(x), shifts, 0), x.shape)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    for s, d in zip(shifts, dims):
        d = _norm_dim(d, x.ndim, "roll")
        size = x._data.shape[d]
        if size == 0:
            continue
        s %= size
        if s:
            x = cat([narrow(x, d, size - s, s), narrow(x, d, 0, size - s)], d)
    return x


def repeat(x, *sizes):
    sizes = _as_shape(sizes, "repeat")
    if len(sizes) < x.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    shape = (1,) * (len(sizes) - x.ndim) + x._data.shape
    x = reshape(x, shape)
    inter, target, final = [], [], []
    for r, s in zip(sizes, shape):
        inter += [1, s]
        target += [r, s]
        final.append(r * s)
    return reshape(expand(reshape(x, inter), target), final)


def tile(x, dims):
    dims = tuple(dims)
    if len(dims) < x.ndim:
        dims = (1,) * (x.ndim - len(dims)) + dims
    return repeat(x, dims)


def repeat_interleave(x, repeats, dim=None):
    if dim is None:
        x, dim = flatten(x), 0
    d = _norm_dim(dim, x.ndim)
    if isinstance(repeats, int):
        shape = x._data.shape
        y = expand(unsqueeze(x, d + 1), shape[:d + 1] + (repeats,) + shape[d + 1:])
        return reshape(y, shape[:d] + (shape[d] * repeats,) + shape[d + 1:])
    from .creation import arange
    from .indexing import index_select
    reps = repeats.tolist()
    idx = [i for i, r in enumerate(reps) for _ in range(r)]
    from .creation import tensor
    return index_select(x, d, tensor(idx, dtype=_dt.int64, device=x.device))


_overwrite_op = defop("copy", lambda ctx, g: (), node_name="CopyBackwards")


def record_overwrite(t):
    """``t`` was overwritten in place by values that need no gradient: its grad_fn becomes a node
    with no inputs (torch keeps requires_grad and a CopyBackwards node)."""
    record(_overwrite_op, (), t)


def record_copy_slices(base, src, view_fn):
    """After ``view_fn(base)`` was overwritten in place with ``src``: base's new value is its old
    value with that region replaced, as a graph node (torch's CopySlices)."""
    op = _copy_slices_op
    node_inputs = (base, src)
    out = _wrap(base._data, base._dtype, base._device)
    out._vc = base._vc
    record(op, node_inputs, out, {"view_fn": view_fn, "shape": base._data.shape,
                                  "dtype": base._dtype})
    base._grad_fn, base._output_nr = out._grad_fn, 0
    base._requires_grad = True


def _copy_slices_backward(ctx, g):
    view_fn = ctx.params["view_fn"]
    if ctx.params["dtype"].is_complex:  # (the view may be one part: .real, .imag)
        from .complex import copy_slices_backward
        return copy_slices_backward(view_fn, ctx.params["shape"], g)
    with grad_mode.no_grad():
        from .creation import zeros
        mask = zeros(ctx.params["shape"], dtype=_dt.bool_, device=g.device)
        view_fn(mask).fill_(True)
    from .elementwise import where
    g_base = where(mask, 0.0, g)
    g_src = view_fn(g)
    return g_base, g_src


_copy_slices_op = defop("copy_slices", _copy_slices_backward, node_name="CopySlices")


def _windows_backward(ctx, g):
    from .nn import fold_windows  # nn builds on this module: imported when first needed
    p = ctx.params
    return (fold_windows(g, shape=p["shape"], kernel=p["kernel"], stride=p["stride"],
                         dilation=p["dilation"]),)


_windows_op = defop("sliding_windows", _windows_backward, node_name="UnfoldBackward0")


def sliding_windows(x, kernel, stride=(1, 1), dilation=(1, 1)):
    """The (N, C, OH, OW, kh, kw) view of all kh x kw windows of an (N, C, H, W) tensor: the
    im2col of convolution and pooling, without a copy. Its backward is the matching fold."""
    x = contiguous(x)
    n, c, h, w = x._data.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh = (h - dh * (kh - 1) - 1) // sh + 1
    ow = (w - dw * (kw - 1) - 1) // sw + 1
    if oh <= 0 or ow <= 0:
        raise RuntimeError(f"Calculated output size: ({oh}x{ow}). Output size is too small for "
                           f"input of spatial size ({h}x{w}) with kernel ({kh}x{kw}), stride "
                           f"({sh}x{sw}) and dilation ({dh}x{dw})")
    s0, s1, s2, s3 = x.stride()
    shape = (n, c, oh, ow, kh, kw)
    strides = (s0, s1, s2 * sh, s3 * sw, s2 * dh, s3 * dw)
    data = x._device._backend.kernels["as_strided"](x._data, shape, strides)
    params = {"kernel": (kh, kw), "stride": (sh, sw), "dilation": (dh, dw),
              "shape": x._data.shape}
    return _make_view(x, data, lambda b: sliding_windows(b, kernel, stride, dilation),
                      _windows_op, params)
