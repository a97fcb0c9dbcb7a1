"""Indexing (basic, advanced, boolean; reading and writing), gather/scatter and friends."""
from __future__ import annotations

import numpy as _np

from .. import dtypes as _dt
from ..tensor import Tensor, _norm_dim
from .registry import _state, defop, device_mismatch, needs_grad, record, unrecorded
from . import shape as S

_wrap = Tensor._wrap


def _index_tensor(v, like):
    from .creation import tensor
    if isinstance(v, Tensor):
        return v
    t = tensor(v, device=like._device)
    if t._dtype.is_floating_point:
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return t


def _normalize(x, index):
    """Split an index into (basic-only?, normalised tuple). Bool masks become int64 index
    tensors (this reads the mask's count back, as every framework must)."""
    if not isinstance(index, tuple):
        index = (index,)
    items = []
    for it in index:
        if isinstance(it, (list,)) or (hasattr(it, "__array__") and not isinstance(it, Tensor)
                                        and not isinstance(it, (int, float))):
            it = _index_tensor(it, x)
        elif isinstance(it, bool):
            from .creation import tensor
            it = tensor(it, device=x._device)
        elif not isinstance(it, (int, slice, Tensor, type(None), type(Ellipsis))):
            if hasattr(it, "__index__"):
                it = it.__index__()
            else:
                raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long "
                                 f"or byte Variables are valid indices (got "
                                 f"{type(it).__name__})")
        items.append(it)
    consumed = 0
    for it in items:
        if isinstance(it, Tensor):
            consumed += it.ndim if it._dtype is _dt.bool_ or it._dtype is _dt.uint8 else 1
        elif it is not None and it is not Ellipsis:
            consumed += 1
    n = x.ndim
    n_ellipsis = len([it for it in items if it is Ellipsis])
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > n:
        raise IndexError(f"too many indices for tensor of dimension {n}")
    if n_ellipsis:
        i = next(j for j, it in enumerate(items) if it is Ellipsis)
        items[i:i + 1] = [slice(None)] * (n - consumed)
    else:
        items += [slice(None)] * (n - consumed)
    out, dim, advanced = [], 0, False
    shape = x._data.shape
    for it in items:
        if it is None:
            out.append(None)
            continue
        if isinstance(it, Tensor):
            if it._device is not x._device:
                if it._device.type == "cpu":
                    it = it.to(x._device)
                else:
                    raise RuntimeError(device_mismatch("index", x, it))
            if it._dtype is _dt.bool_ or it._dtype is _dt.uint8:
                m = it if it._dtype is _dt.bool_ else it.to(_dt.bool_)
                for j in range(m.ndim):
                    if m._data.shape[j] != shape[dim + j]:
                        raise IndexError(f"The shape of the mask {list(m.shape)} at index {j} "
                                         f"does not match the shape of the indexed tensor "
                                         f"{list(shape)} at index {dim + j}")
                if m.ndim == 0:
                    # a 0-d mask adds a dim of size 1 (or 0): an index into a new axis
                    out.append(("mask0", S.select(nonzero(S.reshape(m, (1,))), 1, 0)))
                    advanced = True
                    continue
                nz = nonzero(m)
                for j in range(m.ndim):
                    out.append(S.select(nz, 1, j))
                dim += m.ndim
                advanced = True
                continue
            if it._dtype.is_floating_point:
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            out.append(it if it._dtype is _dt.int64 else it.to(_dt.int64))
            dim += 1
            advanced = True
            continue
        size = shape[dim]
        if isinstance(it, int):
            if it < -size or it >= size:
                raise IndexError(f"index {it} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            out.append(it % size)
        else:
            start, stop, step = it.start, it.stop, it.step
            if step is None:
                step = 1
            else:
                step = int(step)
                if step <= 0:
                    raise ValueError("step must be greater than zero")
            start, stop, _ = slice(start, stop, step).indices(size)
            stop = max(stop, start)
            out.append(slice(start, stop, step))
        dim += 1
    return advanced, tuple(out)


def _native_index(index, x):
    res = []
    for it in index:
        if isinstance(it, Tensor):
            res.append(it._data)
        elif isinstance(it, tuple):  # 0-d mask: becomes a new axis indexed by 0 or nothing
            res.append(None)
        else:
            res.append(it)
    return tuple(res)


def _fix_mask0(x, index):
    # x[True] / x[False]: add an axis, then keep (index 0) or drop (empty index) it.
    if not any(isinstance(it, tuple) for it in index):
        return x, index
    new = []
    for it in index:
        if isinstance(it, tuple):
            x = S.unsqueeze(x, len([i for i in new if i is not None]))
            new.append(it[1])
        else:
            new.append(it)
    return x, tuple(new)


def _split_selects(x, idx):
    """torch applies integer indices (and 0-d integer tensors) as selects before the advanced
    ones, so they do not count when placing the advanced dims: for x of shape (2, 3, 4, 5),
    x[1, :, [0, 3]] has shape (3, 2, 5), where NumPy's rule gives (2, 3, 5). Returns (basic,
    rest), rest indexing x[basic], or None when no select mixes with an advanced index of at
    least one dim (otherwise both rules give the same result)."""
    def is_select(it):
        return isinstance(it, int) or (isinstance(it, Tensor) and it.ndim == 0)

    if any(isinstance(it, tuple) for it in idx) or not any(map(is_select, idx)):
        return None
    if not any(isinstance(it, Tensor) and it.ndim > 0 for it in idx):
        return None
    basic, rest, dim = [], [], 0
    for it in idx:
        if it is None:
            basic.append(None)
            rest.append(slice(None))
            continue
        size = x._data.shape[dim]
        dim += 1
        if is_select(it):
            i = it if isinstance(it, int) else int(it.item())
            if i < -size or i >= size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim - 1} with "
                                 f"size {size}")
            basic.append(i % size)
        elif isinstance(it, slice):
            basic.append(it)
            rest.append(slice(None))
        else:
            basic.append(slice(0, size, 1))
            rest.append(it)
    return tuple(basic), tuple(rest)


def getitem(x, index):
    """x[index] with torch's semantics: basic indexing gives a view, advanced a copy."""
    advanced, idx = _normalize(x, index)
    if not advanced:
        return S.getitem_basic(x, idx)
    split = _split_selects(x, idx)
    if split is not None:
        return getitem(S.getitem_basic(x, split[0]), split[1])
    x, idx = _fix_mask0(x, idx)
    return _gather_advanced(x, idx)


def _g_index(ctx, g):
    p = ctx.params
    return (_index_put_zeros(g, p["shape"], p["index"]), None)


_index_op = defop("index", _g_index, node_name="IndexBackward0")


def _gather_advanced(x, idx):
    data = x._device._backend.kernels["getitem_advanced"](x._data, _native_index(idx, x))
    res = _wrap(data, x._dtype, x._device)
    if _state.enabled and x._requires_grad:
        record(_index_op, (x,), res, {"shape": x._data.shape, "index": idx})
    return res


def _g_index_put_zeros(ctx, g):
    return (_gather_advanced(g, ctx.params["index"]),)


_index_put_zeros_op = defop("index_put_zeros", _g_index_put_zeros)


def _index_put_zeros(g, shape, idx):
    """zeros(shape) with g accumulated at idx (the backward of advanced indexing)."""
    k = g._device._backend.kernels
    data = k["full"](shape, 0, g._dtype, g._device.index)
    k["index_add"](data, _native_index(idx, g), g._data)
    out = _wrap(data, g._dtype, g._device)
    if _state.enabled and g._requires_grad:
        record(_index_put_zeros_op, (g,), out, {"index": idx})
    return out


def _g_index_put(ctx, g):
    idx = ctx.params["index"]
    accumulate = ctx.params["accumulate"]
    gx = g if accumulate else _index_put(g, idx, 0.0, False)
    vshape = ctx.params["vshape"]
    gv = None
    if vshape is not None:
        gv = _gather_advanced(g, idx) if ctx.params["advanced"] else S.getitem_basic(g, idx)
    return gx, gv


_index_put_op = defop("index_put", _g_index_put, node_name="IndexPutBackward0")


def _index_put(x, idx, value, accumulate, advanced=True):
    """A copy of x with value written (or accumulated) at idx."""
    k = x._device._backend.kernels
    data = k["contiguous"](x._data)
    v = value._data if isinstance(value, Tensor) else value
    native = _native_index(idx, x)
    if accumulate:
        if not isinstance(value, Tensor):
            from .creation import full
            v = full(_indexed_shape(x, native), value,
                     dtype=x._dtype, device=x._device)._data
        k["index_add"](data, native, v)
    else:
        k["setitem"](data, native, v)
    out = _wrap(data, x._dtype, x._device)
    if _state.enabled and (x._requires_grad or getattr(value, "_requires_grad", False)):
        record(_index_put_op, (x, value), out, {
            "index": idx, "accumulate": accumulate, "advanced": advanced,
            "vshape": value.shape if isinstance(value, Tensor) else None})
    return out


def _indexed_shape(x, native):
    return x._device._backend.kernels["getitem_advanced"](x._data, native).shape


def _prepare_value(x, value, op="setitem"):
    if isinstance(value, Tensor):
        if value._device is not x._device:
            if value.ndim == 0 or value._device.type == "cpu":
                value = value.to(x._device)
            else:
                raise RuntimeError(device_mismatch(op, x, value))
        if value._dtype is not x._dtype:
            value = value.to(x._dtype)
        return value
    if isinstance(value, (bool, int, float)):
        if x._dtype.is_floating_point:
            return float(value)
        if x._dtype is _dt.bool_:
            return bool(value)
        if isinstance(value, float):
            return int(value)
        return value
    from .creation import tensor
    return tensor(value, dtype=x._dtype, device=x._device)


def setitem(x, index, value):
    """x[index] = value, in place, seen through every view of x's storage."""
    value = _prepare_value(x, value)
    advanced, idx = _normalize(x, index)
    split = _split_selects(x, idx) if advanced else None
    if split is not None:
        return setitem(S.getitem_basic(x, split[0]), split[1], value)
    grad = _state.enabled and (x._requires_grad or getattr(value, "_requires_grad", False))
    if not grad:
        x._check_inplace()
        if any(isinstance(it, tuple) for it in idx):
            return _setitem_mask0(x, idx, value)
        v = value._data if isinstance(value, Tensor) else value
        k = x._device._backend.kernels
        if isinstance(value, Tensor) and not advanced:
            _check_value_shape(value._data.shape, k["getitem_basic"](x._data, idx).shape)
        try:
            k["setitem"](x._data, _native_index(idx, x), v)
        except ValueError as e:  # a backend's broadcasting complaint, in torch's class
            raise RuntimeError(f"shape mismatch in setitem: {e}") from None
        x._vc[0] += 1
        return
    if not advanced:
        view = S.getitem_basic(x, idx)
        view.copy_(value)
        return
    x._commit_inplace(_index_put(x, idx, value, False))


def _check_value_shape(vshape, target):
    from .elementwise import broadcast_shapes
    try:
        ok = broadcast_shapes("setitem", tuple(target), tuple(vshape)) == tuple(target)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(vshape)} cannot be "
                           f"broadcast to indexing result of shape {list(target)}")


def _setitem_mask0(x, idx, value):
    y, idx2 = _fix_mask0(x, idx)
    v = value._data if isinstance(value, Tensor) else value
    x._device._backend.kernels["setitem"](y._data, _native_index(idx2, y), v)
    x._vc[0] += 1


def index_put(x, indices, values, accumulate=False):
    values = _prepare_value(x, values)
    _, idx = _normalize(x, tuple(indices))
    return _index_put(x, idx, values, accumulate)


def index_put_(x, indices, values, accumulate=False):
    return x._commit_inplace(index_put(x, indices, values, accumulate))


def nonzero(x, *, as_tuple=False):
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or a tuple of 1-d ones."""
    res = _wrap(x._device._backend.kernels["nonzero"](x._data), _dt.int64, x._device)
    if as_tuple:
        if x.ndim == 0:
            return (S.reshape(res, (-1,)),)
        return tuple(S.select(res, 1, j) for j in range(x.ndim))
    return res


def argwhere(x):
    return nonzero(x)


def _long_index(index):
    """gather's and the scatters' index: int64, or int32 (taken as int64, as torch does)."""
    if isinstance(index, Tensor) and index._dtype is _dt.int32:
        return index.to(_dt.int64)
    return index


def _check_gather_args(op, x, dim, index):
    if not isinstance(index, Tensor) or index._dtype is not _dt.int64:
        # (torch's scatter_add reports as scatter)
        raise RuntimeError(f"{'scatter' if op == 'scatter_add' else op}(): Expected dtype "
                           "int32/int64 for index")
    if index._device is not x._device:
        raise RuntimeError(device_mismatch(op, x, index))
    if index.ndim != x.ndim and not (index.ndim <= 1 and x.ndim <= 1):
        raise RuntimeError(f"Index tensor must have the same number of dimensions as "
                           f"{'input' if op == 'gather' else 'self'} tensor")
    d = _norm_dim(dim, max(x.ndim, 1), op)
    for i in range(index.ndim):
        if i != d and index._data.shape[i] > x._data.shape[i]:
            raise RuntimeError(f"Size does not match at dimension {i} expected index "
                               f"{list(index.shape)} to be smaller than self {list(x.shape)} "
                               f"apart from dimension {d}")
    if op != "scatter_reduce":  # (it checks the shapes against src first)
        _check_index_range(index, d, x._data.shape[d] if x.ndim else 1)
    return d


def _check_index_range(index, d, size):
    """torch's bounds check for gather and the scatters: no negative indices either (unlike
    Python-style indexing); the first bad index, in order, is the one reported."""
    if _index_out_of_range(index, size):
        flat = S.reshape(index, (-1,))
        bad = masked_select(flat, (flat < 0) | (flat >= size))[0].item()
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {size}")


def _g_gather(ctx, g):
    p = ctx.params
    from .creation import zeros
    z = zeros(p["shape"], dtype=g.dtype, device=g.device)
    return scatter_add(z, p["dim"], p["index"], g), None


_gather_op = defop("gather", _g_gather)


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j] = input[index[i][j]][j] along ``dim`` (torch.gather)."""
    index = _long_index(index)
    d = _check_gather_args("gather", input, dim, index)
    if input.ndim == 0:
        input, index = S.reshape(input, (1,)), S.reshape(index, (1,))
        return S.reshape(gather(input, 0, index), ())
    data = input._device._backend.kernels["gather"](input._data, d, index._data)
    res = _wrap(data, input._dtype, input._device)
    if _state.enabled and input._requires_grad:
        record(_gather_op, (input, index), res, {"shape": input._data.shape, "dim": d,
                                                  "index": index})
    return res


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather(S.reshape(input, (-1,)), 0, S.reshape(indices, (-1,)))
    if input.ndim != indices.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, "
                           f"and {indices.ndim} dimensions for indices")
    if indices._dtype is not _dt.int64:
        from ..tensor import _dt_name
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                           f"{_dt_name(indices._dtype)}")
    d = _norm_dim(dim, input.ndim)
    # every dim but d broadcasts: d keeps indices' size in the index and input's in the input
    xshape, ishape = list(input.shape), list(indices.shape)
    for i, (x, n) in enumerate(zip(input.shape, indices.shape)):
        if i != d and x != n:
            if x != 1 and n != 1:
                raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor "
                                   f"b ({n}) at non-singleton dimension {i}")
            xshape[i] = ishape[i] = max(x, n)
    return gather(S.expand(input, xshape), d, S.expand(indices, ishape))


def _src_grad(g, dim, idx, src_shape):
    # only src[:index.shape] was used; the rest of src gets zero gradient
    gs = gather(g, dim, idx)
    if tuple(gs.shape) == tuple(src_shape):
        return gs
    from .creation import zeros
    full = zeros(src_shape, dtype=g.dtype, device=g.device)
    full[tuple(slice(0, s) for s in gs.shape)] = gs
    return full


def _g_scatter(ctx, g):
    p = ctx.params
    idx = p["index"]
    gx = scatter(g, p["dim"], idx, 0.0) if ctx.needs_input_grad[0] else None
    gs = (_src_grad(g, p["dim"], idx, p["src_shape"]) if p["src_is_tensor"] and
          ctx.needs_input_grad[3] else None)
    return gx, None, None, gs


_scatter_op = defop("scatter", _g_scatter)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """A copy of input with src (a tensor, or a scalar value) written at index along dim."""
    if src is None:
        src = value
    if reduce is not None:
        if reduce == "add":
            return scatter_add(input, dim, index, src if isinstance(src, Tensor) else
                               _full_like_index(index, src, input))
        if reduce == "multiply":
            # NOTE: every src value aimed at one position multiplies in (duplicate indices too)
            return scatter_reduce(input, dim, index, src if isinstance(src, Tensor) else
                                  _full_like_index(index, src, input), "prod")
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    index = _long_index(index)
    d = _check_gather_args("scatter", input, dim, index)
    src_t = src if isinstance(src, Tensor) else _full_like_index(index, src, input)
    if src_t._dtype is not input._dtype:
        src_t = src_t.to(input._dtype)
    data = input._device._backend.kernels["scatter"](input._data, d, index._data, src_t._data)
    res = _wrap(data, input._dtype, input._device)
    if _state.enabled and (input._requires_grad or getattr(src, "_requires_grad", False)):
        record(_scatter_op, (input, None, index, src if isinstance(src, Tensor) else None), res,
               {"dim": d, "index": index, "src_is_tensor": isinstance(src, Tensor),
                "src_shape": src.shape if isinstance(src, Tensor) else None})
    return res


def _full_like_index(index, value, like):
    from .creation import full
    return full(index.shape, value, dtype=like._dtype, device=like._device)


def _g_scatter_add(ctx, g):
    p = ctx.params
    return g, None, None, _src_grad(g, p["dim"], p["index"], p["src_shape"])


_scatter_add_op = defop("scatter_add", _g_scatter_add)


def scatter_add(input, dim, index, src):
    index = _long_index(index)
    d = _check_gather_args("scatter_add", input, dim, index)
    if src._dtype is not input._dtype:
        src = src.to(input._dtype)
    data = input._device._backend.kernels["scatter_add"](input._data, d, index._data, src._data)
    res = _wrap(data, input._dtype, input._device)
    if _state.enabled and (input._requires_grad or src._requires_grad):
        record(_scatter_add_op, (input, None, index, src), res, {"dim": d, "index": index,
                                                                  "src_shape": src.shape})
    return res


_SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")
# NOTE: torch also takes "max" and "min" (undocumented) for amax and amin, but has no gradient
# for them
_SCATTER_REDUCE_ALIASES = {"max": "amax", "min": "amin"}


def _check_scatter_reduce_args(input, dim, index, src, reduce):
    """torch's argument checks for scatter_reduce, with its exception classes; returns the
    normalised dim and the index as int64."""
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_reduce(): argument 'src' (position 3) must be Tensor, not "
                        f"{type(src).__name__}")
    if reduce not in _SCATTER_REDUCES and reduce not in _SCATTER_REDUCE_ALIASES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    index = _long_index(index)
    if not isinstance(index, Tensor) or index._dtype is not _dt.int64:
        got = index._dtype if isinstance(index, Tensor) else type(index).__name__
        raise RuntimeError(f"scatter_reduce(): Expected dtype int32/int64 for index, got {got}")
    if src._device is not input._device:
        raise RuntimeError(device_mismatch("scatter_reduce", input, src))
    d = _check_gather_args("scatter_reduce", input, dim, index)
    if src._dtype is not input._dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype, but "
                           f"got {input._dtype} for self and {src._dtype} for src")
    if reduce == "mean" and input._dtype is _dt.bool_:
        raise NotImplementedError("\"scatter_gather_tensor_cpu_reduce_mean\" not implemented for "
                                  "'Bool'")
    ishape, sshape = tuple(index.shape) or (1,), tuple(src.shape) or (1,)
    if len(ishape) != len(sshape):
        # (torch's class: IndexError when src has fewer dims, RuntimeError when it has more)
        err = IndexError if len(sshape) < len(ishape) else RuntimeError
        raise err(f"scatter_reduce(): Index tensor must have the same number of dimensions as "
                  f"src tensor (index {list(index.shape)}, src {list(src.shape)})")
    if any(i > s for i, s in zip(ishape, sshape)):
        raise RuntimeError(f"scatter_reduce(): Expected index {list(index.shape)} to be no "
                           f"larger than self {list(input.shape)} apart from dimension {d} and "
                           f"to be no larger size than src {list(src.shape)}")
    _check_index_range(index, d, input.shape[d] if input.ndim else 1)
    return d, index


def _reduce_identity(reduce, dt):
    """The value that leaves every element unchanged under ``reduce`` in dtype ``dt``."""
    if reduce == "prod":
        return True if dt is _dt.bool_ else 1
    high = reduce == "amin"
    if dt is _dt.bool_:
        return high
    if dt.is_floating_point:
        return float("inf") if high else float("-inf")
    info = _np.iinfo(dt.np)
    return int(info.max if high else info.min)


def _g_scatter_reduce(ctx, g):
    x, src = ctx.inputs
    out = ctx.out
    p = ctx.params
    d, index, reduce, include_self = p["dim"], p["index"], p["reduce"], p["include_self"]
    if reduce in _SCATTER_REDUCE_ALIASES:
        raise RuntimeError("Expected 'reduce' to be one of 'sum', 'prod', 'mean', 'amax', "
                           f"'amin' but got {reduce}.")
    need_x, _, _, need_src = ctx.needs_input_grad
    if reduce == "prod":
        gx = gs = None
        if need_x:
            # a zero in x would divide the product by zero: leave it out of the product instead
            x1 = masked_fill(x, x == 0, 1)
            gx = g * _scatter_reduce(x1, d, index, src, "prod", include_self) / x1
        if need_src:
            gs = _prod_src_grad(g, x, d, index, src, out, include_self)
    else:
        # torch shares the gradient evenly among the elements equal to the result. NOTE: like
        # torch, x's element is counted among them even when include_self is False (it then
        # gets no share itself, and the src elements that tie with it get less than all)
        value = gather(out, d, index)
        x_is = (x == out).to(g.dtype)
        src_is = (src == value).to(g.dtype)
        share = g / scatter_add(x_is, d, index, src_is)
        gx = x_is * share if need_x else None
        gs = src_is * gather(share, d, index) if need_src else None
    if gx is not None and not include_self:
        gx = scatter(gx, d, index, 0.0)
    return gx, None, None, gs


def _prod_src_grad(g, x, d, index, src, out, include_self):
    """d prod / d src, as torch: out / src, except where src is the only zero at its target
    (there the product of the others, computed with that zero replaced by one)."""
    from .creation import zeros_like
    from .elementwise import where
    src_zero = src == 0
    zeros = gather(scatter_add(zeros_like(x), d, index, src_zero.to(x.dtype)), d, index)
    single = src_zero & (zeros == 1)
    others = _scatter_reduce(x, d, index, masked_fill(src, single, 1), "prod", include_self)
    gs = where(single, gather(g * others, d, index),
               gather(g * out, d, index) / masked_fill(src, src_zero, 1))
    if _state.enabled and bool((zeros > 1).any()):
        # NOTE: with two zeros at one target this gradient is right but its own gradient is
        # not; torch refuses that double backward (when it is asked for), and so do we
        res = unrecorded(S.clone, gs)
        record(_prod_double_backward_op, (gs,), res)
        gs = res
    return gs


def _g_refuse_double_backward(ctx, g):
    raise RuntimeError("scatter_reduce(): Double backward is unsupported for src when >1 zeros "
                       "in src are scattered to the same position in self")


_prod_double_backward_op = defop("scatter_reduce_prod_double_backward",
                                 _g_refuse_double_backward)
_scatter_reduce_op = defop("scatter_reduce", _g_scatter_reduce,
                           inputs=lambda x, _, index, src: (x, src), out=True)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """input with src reduced into it at index along dim (torch.scatter_reduce): ``reduce`` is
    "sum", "prod", "mean", "amax" or "amin"; ``include_self`` False leaves input's own values
    at the written positions out of the reduction.

    >>> x = ember.tensor([1., 2., 3.])
    >>> x.scatter_reduce(0, ember.tensor([0, 0, 2]), ember.tensor([5., 4., 0.]), "amax")
    tensor([5., 2., 3.])
    """
    d, index = _check_scatter_reduce_args(input, dim, index, src, reduce)
    run = _scatter_sum_mean if reduce in ("sum", "mean") else _scatter_reduce
    if input.ndim == 0 or index.ndim == 0 or src.ndim == 0:  # a 0-d tensor acts as 1 element
        one = lambda t: S.reshape(t, (1,)) if t.ndim == 0 else t  # noqa: E731
        res = run(one(input), d, one(index), one(src), reduce, include_self)
        return S.reshape(res, ()) if input.ndim == 0 else res
    return run(input, d, index, src, reduce, include_self)


def _scatter_reduce_inplace_value(input, dim, index, src, reduce, *, include_self=True):
    """The value ``input.scatter_reduce_(...)`` writes into input."""
    if reduce in ("prod", "amax", "amin") and needs_grad(input, src):
        # NOTE: their backward reads input's old values, which the write replaces: reduce into a
        # copy (torch saves a copy of the original self for such in-place ops too)
        input = S.clone(input)
    return scatter_reduce(input, dim, index, src, reduce, include_self=include_self)


def _scatter_reduce(input, d, index, src, reduce, include_self):
    """prod, amax or amin, on checked arguments of at least one dim."""
    # NOTE: one primitive for the three: none of them composes exactly from the others' kernels
    # (a product through exp/log rounds; a maximum needs an ordered scatter)
    if tuple(src.shape) != tuple(index.shape):  # only src's leading index-shaped block is used
        src = src[tuple(slice(0, n) for n in index.shape)]
    base = input
    how = _SCATTER_REDUCE_ALIASES.get(reduce, reduce)
    if not include_self:  # the written positions start from the reduction's identity
        base = unrecorded(scatter, input, d, index, _reduce_identity(how, input._dtype))
    data = input._device._backend.kernels["scatter_reduce"](base._data, d, index._data,
                                                            src._data, how)
    res = _wrap(data, input._dtype, input._device)
    if _state.enabled and (input._requires_grad or src._requires_grad):
        record(_scatter_reduce_op, (input, None, index, src), res,
               {"dim": d, "index": index, "reduce": reduce, "include_self": include_self})
    return res


def _scatter_sum_mean(input, d, index, src, reduce, include_self):
    from .creation import ones_like, zeros_like
    from .elementwise import div, where
    base = input
    if not include_self:  # the written positions start from zero
        written = scatter(zeros_like(input, dtype=_dt.bool_), d, index, True)
        base = where(written, zeros_like(input), input)
    total = scatter_add(base, d, index, src)
    if reduce == "sum":
        return total
    count = scatter_add(ones_like(input) if include_self else zeros_like(input), d, index,
                        ones_like(src))
    # (positions nothing was written to keep input: divide those by 1, not 0, so no NaN reaches
    # the gradient through the unselected branch)
    mean = div(total, where(count > 0, count, ones_like(count)),
               rounding_mode=None if input._dtype.is_floating_point else "floor")
    return where(count > 0, mean, input)


def index_select(input, dim, index):
    """Entries of input along dim at the int64 positions in index (a copy)."""
    if not isinstance(index, Tensor):
        raise TypeError("index_select(): argument 'index' must be Tensor")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if index._dtype.is_floating_point or index._dtype is _dt.bool_:
        raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
    if index._device is not input._device and index.ndim != 0:
        raise RuntimeError(device_mismatch("index_select", input, index))
    d = _norm_dim(dim, max(input.ndim, 1), "index_select")
    if _index_out_of_range(index, input._data.shape[d] if input.ndim else 1):
        raise IndexError("index out of range in self")
    if input.ndim == 0:
        return getitem(S.reshape(input, (1,)), S.reshape(index, (-1,)))[0]
    return getitem(input, (slice(None),) * d + (S.reshape(index, (-1,)),))


def masked_fill(input, mask, value):
    from .elementwise import where
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    if mask._dtype is not _dt.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                           f"{_dt.TYPEMETA_NAMES.get(mask._dtype.name, str(mask._dtype))}")
    if isinstance(value, Tensor):
        value = value.to(input._dtype)
    else:
        value = _dt.checked_scalar(value, input._dtype)
    r = where(mask, value, input)
    return r if r._dtype is input._dtype else r.to(input._dtype)


def masked_select(input, mask):
    a, m = S.broadcast_tensors(input, mask)
    return getitem(a, m)


def masked_scatter(input, mask, source):
    a, m = S.broadcast_tensors(input, mask)
    n = int(m.sum().item())
    vals = S.narrow(S.reshape(source, (-1,)), 0, 0, n)
    return index_put(S.clone(a), (m,), vals)


def take(input, index):
    """The entries of ``input`` read as 1-d at ``index`` (negative counts from the end).

    >>> import ember
    >>> ember.take(ember.tensor([[1, 2], [3, 4]]), ember.tensor([0, -1])).tolist()
    [1, 4]
    """
    n = input.numel()
    if index.numel():
        backend = index._device._backend
        flat = S.reshape(index, (-1,))._data
        lo = int(backend.to_numpy(backend.kernels["amin"](flat, (0,), False)))
        hi = int(backend.to_numpy(backend.kernels["amax"](flat, (0,), False)))
        if lo < -n or hi >= n:
            # NOTE: torch names the offending index and the element count, not an axis
            raise IndexError(f"out of range: tried to access index {hi if hi >= n else lo} "
                             f"on a tensor of {n} elements.")
    return getitem(S.reshape(input, (-1,)), index)


def _g_index_add_flat(ctx, g):
    return g, None, gather(g, 0, ctx.params["index"])


_index_add_flat_op = defop("index_add_flat", _g_index_add_flat)


def index_add_flat(flat, positions, values):
    """A copy of 1-d ``flat`` with ``values`` accumulated at ``positions``."""
    k = flat._device._backend.kernels
    data = k["contiguous"](flat._data)
    k["index_add"](data, (positions._data,), values._data)
    out = _wrap(data, flat._dtype, flat._device)
    if _state.enabled and (flat._requires_grad or values._requires_grad):
        record(_index_add_flat_op, (flat, None, values), out, {"index": positions})
    return out


def _index_out_of_range(index, size):
    """Whether an int index tensor holds an entry outside [0, size) (torch's index_select,
    index_add and embedding take no negative indices)."""
    if not index.numel():
        return False
    # (the kernels directly: this runs on every gather, scatter and embedding lookup, as
    # torch's kernels check)
    backend = index._device._backend
    axes = tuple(range(index.ndim))
    lo = backend.to_numpy(backend.kernels["amin"](index._data, axes, False))
    hi = backend.to_numpy(backend.kernels["amax"](index._data, axes, False))
    return bool(lo < 0 or hi >= size)


def _check_index_add(input, d, index, source):
    from ..tensor import _dt_name
    if index.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{index.ndim} with type: {_dt_name(index._dtype)} and size: "
                         f"{list(index.shape)}")
    if index._dtype not in (_dt.int32, _dt.int64):
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{_dt_name(index._dtype)}")
    if not isinstance(source, Tensor):
        return
    if source._dtype is not input._dtype:
        raise RuntimeError(f"index_add_(): self ({_dt_name(input._dtype)}) and source "
                           f"({_dt_name(source._dtype)}) must have the same scalar type")
    n = source._data.shape[d] if source.ndim > d else 1
    if index.numel() != n:
        raise RuntimeError(f"index_add_(): Number of indices ({index.numel()}) should be equal "
                           f"to source.size(dim): ({n}), for dim: {d}")
    if (source.ndim != input.ndim or any(a != b for i, (a, b) in enumerate(
            zip(input._data.shape, source._data.shape)) if i != d)):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    size = input._data.shape[d] if input.ndim else 1
    if input.ndim <= 1:
        if _index_out_of_range(index, size):
            raise IndexError("index out of range in self")
    else:
        _check_index_range(index, d, size)


def index_add(input, dim, index, source, *, alpha=1):
    d = _norm_dim(dim, max(input.ndim, 1), "index_add")
    _check_index_add(input, d, index, source)
    if index.ndim == 0:  # (torch reads a 0-d index as a vector of one)
        index = S.reshape(index, (1,))
    if input.ndim == 0:
        src = S.reshape(source, (-1,)) if isinstance(source, Tensor) else source
        return S.reshape(index_add(S.reshape(input, (1,)), 0, S.reshape(index, (-1,)), src,
                                   alpha=alpha), ())
    if alpha != 1:
        source = source * alpha
    return index_put(input, (slice(None),) * d + (index,), source, accumulate=True)


def index_copy(input, dim, index, source):
    d = _norm_dim(dim, max(input.ndim, 1), "index_copy")
    return index_put(input, (slice(None),) * d + (index,), source)


def index_fill(input, dim, index, value):
    d = _norm_dim(dim, max(input.ndim, 1), "index_fill")
    if not isinstance(value, Tensor):
        # (a stored value that overflows the dtype is refused, as torch's)
        value = _dt.checked_scalar(value, input._dtype)
    return index_put(input, (slice(None),) * d + (index,), value)


def put(input, index, source, accumulate=False):
    flat = S.reshape(S.clone(input), (-1,))
    return S.reshape(index_put(flat, (S.reshape(index, (-1,)),), S.reshape(source, (-1,)),
                               accumulate), input.shape)
