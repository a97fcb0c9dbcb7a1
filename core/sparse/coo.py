"""Sparse COO tensors (``layout=ember.sparse_coo``), built from two dense ember tensors.

A :class:`SparseTensor` holds ``indices`` (int64, ``[sparse_dim, nnz]``) and ``values``
(``[nnz, *dense_sizes]``) on one device; every sparse op is written in ember ops on those two,
so each backend gets sparse tensors (and their gradients) without a kernel of its own.

It is a Tensor subclass, so ``isinstance(s, ember.Tensor)``, ``p.grad = s`` and the autograd
engine work unchanged; its ``_data`` is a :class:`_SparseData` stub that carries the shape and
dtype the dense machinery reads and raises torch's ``NotImplementedError`` when a dense kernel
tries to compute with it. Dense ops therefore pay nothing for sparse tensors existing.

Autograd: a sparse tensor that requires grad is a graph node of its own (a leaf, whose ``.grad``
is sparse, or the output of ``sparse_coo_tensor(indices, values)``). Ops read its values through
:func:`_parts`, which records a node whose backward turns the values' gradient into a sparse
gradient on the coalesced pattern (torch's ``sparse_mask`` rule).
"""
from __future__ import annotations

import re

import ember

from .. import dtypes as _dt
from ..autograd import grad_mode
from ..compat import layout
from ..ops.registry import defop, record
from ..tensor import Size, Tensor

__all__ = ["SparseTensor", "sparse_coo", "sparse_coo_tensor", "to_sparse", "embedding_sparse"]

sparse_coo = layout("sparse_coo")
_state = grad_mode.state


def _dispatch_key(device) -> str:
    t = device.type
    return "SparseCPU" if t == "cpu" else "SparseCUDA" if t == "cuda" else f"Sparse{t.upper()}"


def unsupported(op: str, device) -> NotImplementedError:
    """torch's error for an op that has no sparse COO kernel."""
    return NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the '{_dispatch_key(device)}' backend: "
        "Ember has no sparse COO version of this op (convert with .to_dense() first)")


class _SparseData:
    """The ``_data`` of a sparse tensor: its shape and NumPy dtype, which the dense machinery
    reads for metadata. A dense kernel that tries to compute with it raises torch's
    NotImplementedError instead of computing on garbage."""

    __slots__ = ("shape", "dtype", "_device")

    def __init__(self, shape, np_dtype, device):
        self.shape = tuple(shape)
        self.dtype = np_dtype
        self._device = device

    @property
    def ndim(self):
        return len(self.shape)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        raise unsupported(ufunc.__name__, self._device)

    def __array_function__(self, func, types, args, kwargs):
        raise unsupported(func.__name__, self._device)

    def __array__(self, *args, **kwargs):
        raise unsupported("to_numpy", self._device)

    def __getitem__(self, key):
        raise unsupported("index", self._device)

    def __setitem__(self, key, value):
        raise unsupported("index_put_", self._device)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        # (a backend kernel reading the storage of a tensor that has none)
        raise NotImplementedError(
            f"Could not run this op with arguments from the '{_dispatch_key(self._device)}' "
            f"backend (its kernel read '{name}' of a dense buffer; a sparse COO tensor has "
            "none): convert with .to_dense() first")


def _make(indices, values, size, coalesced=False):
    """A sparse tensor from ``indices`` and ``values`` (no graph is recorded)."""
    t = Tensor._wrap(_SparseData(size, values._dtype.np, values._device), values._dtype,
                     values._device, SparseTensor)
    t._idx = indices
    t._vals = values
    t._coalesced = bool(coalesced)
    return t


def _g_from_values(ctx, g):
    # the values' gradient is the sparse tensor's gradient read at each of its entries
    # (duplicates each read the same position, as torch)
    idx = ctx.params["indices"]
    if g.is_sparse:
        g = g.to_dense()
    if idx.shape[0] == 0:
        return g.expand((idx.shape[1],) + tuple(g.shape))
    return g[tuple(idx.unbind(0))]


_FROM_VALUES = defop("sparse_coo_tensor_with_dims_and_tensors", _g_from_values)


def _from_values(indices, values, size, coalesced=False):
    """A sparse tensor whose gradient flows back into ``values`` when they require one."""
    s = _make(indices, values.detach(), size, coalesced)
    if _state.enabled and values._requires_grad:
        record(_FROM_VALUES, (values,), (s,), {"indices": indices})
    return s


def _g_values(ctx, g):
    p = ctx.params
    # (on the coalesced pattern, yet not flagged coalesced: torch's sparse_mask result)
    return _make(p["indices"], g, p["size"], False)


_VALUES = defop("sparse_values", _g_values, node_name="ValuesBackward0")


def _parts(s, coalesce=False):
    """(indices, values) of sparse ``s`` for an op to compute with. When ``s`` needs a gradient
    (or ``coalesce``) they are coalesced, and the values carry the gradient back to ``s`` as a
    sparse tensor on that pattern."""
    needs = _state.enabled and s._requires_grad
    if not (needs or coalesce):
        return s._idx, s._vals
    c = s if s._coalesced else _coalesce_raw(s)
    vals = c._vals
    if needs:
        vals = Tensor._wrap(vals._data, vals._dtype, vals._device)
        record(_VALUES, (s,), vals, {"indices": c._idx, "size": s.shape})
    return c._idx, vals


def _flat_keys(indices, sizes):
    """One int64 key per entry: its row-major position among the sparse dims ``sizes``."""
    n = indices.shape[0]
    if n == 0:
        return ember.zeros(indices.shape[1], dtype=ember.int64, device=indices.device)
    key = indices[0]
    for k in range(1, n):
        key = key * sizes[k] + indices[k]
    return key


def _unflatten_keys(key, sizes):
    rows = []
    for s in reversed(sizes):
        rows.append(key % s)
        key = key // s
    if not rows:
        return ember.zeros((0, key.shape[0]), dtype=ember.int64, device=key.device)
    return ember.stack(rows[::-1])


def _coalesce_raw(s):
    """``s`` coalesced (indices sorted and unique, duplicates summed), without a graph."""
    idx, vals = s._idx, s._vals
    sd = idx.shape[0]
    if idx.shape[1] == 0:
        return _make(idx, vals, s.shape, True)
    sizes = s.shape[:sd]
    with ember.no_grad():
        uniq, inv = ember.unique(_flat_keys(idx, sizes), sorted=True, return_inverse=True)
        summed = ember.zeros((uniq.shape[0],) + tuple(vals.shape[1:]), dtype=vals.dtype,
                             device=vals.device).index_add(0, inv, vals)
        return _make(_unflatten_keys(uniq, sizes), summed, s.shape, True)


def _numel(sizes):
    n = 1
    for x in sizes:
        n *= x
    return n


def _to_dense(s, dtype=None):
    idx, vals = _parts(s)
    shape = tuple(s.shape)
    sd = idx.shape[0]
    if dtype is not None and dtype is not vals.dtype:
        vals = vals.to(dtype)
    flat = ember.zeros((_numel(shape[:sd]),) + shape[sd:], dtype=vals.dtype, device=vals.device)
    return flat.index_add(0, _flat_keys(idx, shape[:sd]), vals).reshape(shape)


def _parse_to(args, kwargs):
    dtype, device = kwargs.get("dtype"), kwargs.get("device")
    for a in args:
        if isinstance(a, _dt.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif a is not None and not isinstance(a, bool):
            device = a
    return dtype, device


class SparseTensor(Tensor):
    """A sparse COO tensor (``layout=ember.sparse_coo``): ``indices`` int64 ``[sparse_dim,
    nnz]`` and ``values`` ``[nnz, *dense_sizes]``, as torch's.

    >>> s = ember.sparse_coo_tensor([[0, 1], [2, 0]], [3., 4.], (2, 3))
    >>> s.to_dense()
    tensor([[0., 0., 3.],
            [4., 0., 0.]])
    """

    __slots__ = ("_idx", "_vals", "_coalesced")

    def __new__(cls, *args, **kwargs):
        raise TypeError("create sparse tensors with ember.sparse_coo_tensor or .to_sparse()")

    # ---- metadata -------------------------------------------------------------------------
    @property
    def layout(self):
        return sparse_coo

    @property
    def is_sparse(self):
        return True

    @property
    def is_sparse_csr(self):
        return False

    def sparse_dim(self) -> int:
        return self._idx.shape[0]

    def dense_dim(self) -> int:
        return self._vals.ndim - 1

    def _nnz(self) -> int:
        return self._idx.shape[1]

    def is_coalesced(self) -> bool:
        return self._coalesced

    def _coalesced_(self, flag):
        self._coalesced = bool(flag)
        return self

    def _indices(self):
        """The indices, coalesced or not (torch's ``_indices``)."""
        return self._idx

    def _values(self):
        """The values, coalesced or not (torch's ``_values``)."""
        return self._vals

    def indices(self):
        """The indices (int64 ``[sparse_dim, nnz]``) of a coalesced tensor."""
        if not self._coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return self._idx

    def values(self):
        """The values (``[nnz, *dense_sizes]``) of a coalesced tensor, differentiable."""
        if not self._coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call "
                               ".coalesce() first")
        return _parts(self)[1]

    def stride(self, dim=None):
        raise RuntimeError("sparse tensors do not have strides")

    def is_contiguous(self, memory_format=None):
        raise RuntimeError("sparse tensors do not have is_contiguous")

    def data_ptr(self):
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage")

    # ---- conversion -----------------------------------------------------------------------
    def coalesce(self):
        """This tensor with sorted, unique indices (duplicate entries summed)."""
        if self._coalesced:
            return self
        idx, vals = _parts(self, coalesce=True)
        return _from_values(idx, vals, self.shape, True)

    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense (strided) tensor; differentiable."""
        return _to_dense(self, dtype)

    def to_sparse(self, *args, **kwargs):
        if kwargs.get("layout") not in (None, sparse_coo):
            return self.to_dense().to_sparse(*args, **kwargs)
        return self

    to_sparse_coo = to_sparse

    def to_sparse_csr(self, dense_dim=None):
        from .csr import coo_to_csr
        return coo_to_csr(self)

    def numpy(self, *, force=False):
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def to(self, *args, **kwargs):
        """The tensor on another device or dtype (``copy=True`` always copies)."""
        dtype, device = _parse_to(args, kwargs)
        dev = ember.device(device) if device is not None else self._device
        if dev == self._device and (dtype is None or dtype is self._dtype) and \
                not kwargs.get("copy"):
            return self
        idx, vals = _parts(self)
        vals = vals.to(dev, dtype) if dtype is not None else vals.to(dev)
        coalesced = self._coalesced or (_state.enabled and self._requires_grad)
        return _from_values(idx.to(dev), vals, self.shape, coalesced)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(device if device is not None else "cuda")

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(ember.float32)

    def double(self):
        return self.to(ember.float64)

    def half(self):
        return self.to(ember.float16)

    def clone(self, *, memory_format=None):
        idx, vals = _parts(self)
        coalesced = self._coalesced or (_state.enabled and self._requires_grad)
        return _from_values(idx.clone(), vals.clone(), self.shape, coalesced)

    def detach(self):
        return _make(self._idx, self._vals, self.shape, self._coalesced)

    def detach_(self):
        self._grad_fn = None
        self._requires_grad = False
        return self

    def __deepcopy__(self, memo):
        t = _make(self._idx.clone(), self._vals.detach().clone(), self.shape,
                  self._coalesced)
        t._requires_grad = self._requires_grad
        if self._grad is not None:
            t._grad = self._grad.clone()
        memo[id(self)] = t
        return t

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._idx.detach(), self._vals.detach(), tuple(self.shape),
                           self._coalesced, self._requires_grad))

    def __repr__(self, *, tensor_contents=None):
        return sparse_repr(self)

    # ---- in place (no graph: used by optimizers and accumulation) --------------------------
    def zero_(self):
        d = self._vals
        self._idx = ember.zeros((self._idx.shape[0], 0), dtype=ember.int64,
                                    device=self._device)
        self._vals = ember.zeros((0,) + tuple(d.shape[1:]), dtype=d.dtype, device=d.device)
        self._coalesced = True
        self._vc[0] += 1
        return self

    def add_(self, other, *, alpha=1):
        r = self.add(other, alpha=alpha)
        if not r.is_sparse:
            raise RuntimeError("add_(sparse, dense) is not supported: the result of adding a "
                               "dense tensor is dense")
        self._idx, self._vals, self._coalesced = r._idx, r._vals.detach(), \
            r._coalesced
        self._vc[0] += 1
        return self

    def mul_(self, other):
        r = self.mul(other)
        self._idx, self._vals, self._coalesced = r._idx, r._vals.detach(), \
            r._coalesced
        self._vc[0] += 1
        return self

    # ---- arithmetic -----------------------------------------------------------------------
    def add(self, other, *, alpha=1):
        """sparse + alpha * sparse is sparse; sparse + dense raises, as torch."""
        if isinstance(other, SparseTensor):
            return _add_sparse(self, other, alpha)
        if isinstance(other, Tensor):
            raise RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) "
                               "instead.")
        raise unsupported("add", self._device)

    def sub(self, other, *, alpha=1):
        return self.add(other, alpha=-alpha)

    def __add__(self, other):
        return self.add(other)

    def __radd__(self, other):
        # dense + sparse is dense (Python tries this first: SparseTensor subclasses Tensor)
        if isinstance(other, Tensor) and not isinstance(other, SparseTensor):
            return other + self.to_dense()
        return self.add(other)

    def __sub__(self, other):
        return self.add(other, alpha=-1)

    def __rsub__(self, other):
        if isinstance(other, Tensor) and not isinstance(other, SparseTensor):
            return other - self.to_dense()
        raise unsupported("sub", self._device)

    def __neg__(self):
        return self.mul(-1)

    neg = __neg__

    def mul(self, other):
        """sparse * scalar and sparse * dense (same shape) are sparse, as torch."""
        idx, vals = _parts(self)
        if isinstance(other, SparseTensor):
            raise unsupported("mul (sparse * sparse)", self._device)
        if isinstance(other, Tensor):
            if other.ndim == 0:
                return _from_values(idx, vals * other, self.shape, self._coalesced)
            if tuple(other.shape) != tuple(self.shape):
                raise RuntimeError(f"mul(sparse, dense): expected the dense tensor to have the "
                                   f"sparse tensor's size {list(self.shape)}, got "
                                   f"{list(other.shape)}")
            idx, vals = _parts(self, coalesce=True)
            picked = other[tuple(idx.unbind(0))] if idx.shape[0] else other.unsqueeze(0)
            return _from_values(idx, vals * picked, self.shape, True)
        if isinstance(other, (int, float, bool)):
            coalesced = self._coalesced or (_state.enabled and self._requires_grad)
            return _from_values(idx, vals * other, self.shape, coalesced)
        return NotImplemented

    def __mul__(self, other):
        return self.mul(other)

    def __rmul__(self, other):
        return self.mul(other)

    def div(self, other):
        if isinstance(other, (int, float)) or (isinstance(other, Tensor) and other.ndim == 0
                                               and not isinstance(other, SparseTensor)):
            idx, vals = _parts(self)
            coalesced = self._coalesced or (_state.enabled and self._requires_grad)
            return _from_values(idx, vals / other, self.shape, coalesced)
        raise unsupported("div", self._device)

    __truediv__ = div

    def pow(self, exponent):
        if not isinstance(exponent, (int, float)) or exponent <= 0:
            raise unsupported("pow", self._device)
        idx, vals = _parts(self, coalesce=True)
        return _from_values(idx, vals ** exponent, self.shape, True)

    __pow__ = pow

    def sum(self, dim=None, keepdim=False, dtype=None):
        """The sum over all entries (dense 0-d), or over ``dim`` as ``ember.sparse.sum``."""
        if keepdim:
            raise unsupported("sum (keepdim=True)", self._device)
        from . import sum as sparse_sum
        return sparse_sum(self, dim, dtype=dtype)

    # ---- shape ----------------------------------------------------------------------------
    def transpose(self, dim0, dim1):
        """Swap two sparse dims (a dense dim cannot be swapped with a sparse one)."""
        n = self.ndim
        d0, d1 = dim0 % n if n else 0, dim1 % n if n else 0
        sd = self.sparse_dim()
        if d0 == d1:
            return self
        if d0 >= sd or d1 >= sd:
            raise unsupported("transpose (of a dense dim of a hybrid sparse tensor)",
                              self._device)
        idx, vals = _parts(self)
        perm = list(range(sd))
        perm[d0], perm[d1] = perm[d1], perm[d0]
        shape = list(self.shape)
        shape[d0], shape[d1] = shape[d1], shape[d0]
        return _from_values(idx[perm], vals, shape, False)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{self.ndim}D")
        return self if self.ndim < 2 else self.transpose(0, 1)

    @property
    def T(self):
        return self.t()

    # ---- products -------------------------------------------------------------------------
    def mm(self, mat2):
        from . import _mm_dense_grad
        return _mm_dense_grad(self, mat2)

    def matmul(self, other):
        if other.ndim == 1:
            return self.mm(other.unsqueeze(1)).squeeze(1)
        return self.mm(other)

    __matmul__ = matmul

    def __rmatmul__(self, other):
        # dense @ sparse = (sparse^T @ dense^T)^T, dense (Python asks the subclass first)
        if isinstance(other, Tensor) and not isinstance(other, SparseTensor) and other.ndim == 2:
            return self.t().mm(other.t()).t()
        raise unsupported("matmul (dense x sparse of these shapes)", self._device)

    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        raise unsupported("addmm (sparse input)", self._device)


def _rebuild(indices, values, size, coalesced, requires_grad):
    t = _make(indices, values, size, coalesced)
    t._requires_grad = bool(requires_grad)
    return t


def _check_same(op, a, b):
    if tuple(a.shape) != tuple(b.shape):
        raise RuntimeError(f"{op}: expected 'self' and 'other' to have same size, but self has "
                           f"size {list(a.shape)} while other has size {list(b.shape)} (FYI: "
                           "dense-sparse addition does not currently support broadcasting)")
    if a._device != b._device:
        from ..ops.registry import device_mismatch
        raise RuntimeError(device_mismatch(op, a, b))
    if a.sparse_dim() != b.sparse_dim():
        raise RuntimeError(f"{op}: expected both tensors to have the same sparse_dim, got "
                           f"{a.sparse_dim()} and {b.sparse_dim()}")


def _add_sparse(a, b, alpha=1):
    _check_same("add", a, b)
    ia, va = _parts(a)
    ib, vb = _parts(b)
    dt = _dt.result_type(a, b) if a._dtype is not b._dtype else a._dtype
    if alpha != 1:
        vb = vb * alpha
    va, vb = va.to(dt), vb.to(dt)
    if ia is ib:
        # (the same pattern, as torch: add the values, keep the nnz)
        return _from_values(ia, va + vb, a.shape, a._coalesced or _state.enabled and
                            a._requires_grad)
    return _from_values(ember.cat([ia, ib], 1), ember.cat([va, vb], 0), a.shape, False)


# ---- construction -------------------------------------------------------------------------
def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor from ``indices`` (``[sparse_dim, nnz]``) and ``values``
    (``[nnz, *dense_sizes]``), as ``torch.sparse_coo_tensor``. Without ``size`` the sparse
    sizes are the largest index + 1 in each dim.

    >>> s = ember.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [3., 4., 5.], (2, 3))
    >>> s.to_dense()
    tensor([[0., 0., 3.],
            [4., 0., 5.]])
    """
    if not isinstance(indices, Tensor):
        indices = ember.tensor(indices, dtype=ember.int64)
    if not isinstance(values, Tensor):
        values = ember.tensor(values, dtype=dtype)
    if isinstance(indices, SparseTensor) or isinstance(values, SparseTensor):
        raise TypeError("sparse_coo_tensor(): indices and values must be dense tensors")
    if indices.dtype is not ember.int64:
        if indices.dtype.is_floating_point or indices.dtype is ember.bool:
            raise RuntimeError(f"indices must be an int64 tensor, got {indices.dtype}")
        indices = indices.to(ember.int64)
    if indices.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(indices.shape)}")
    if values.ndim == 0:
        raise RuntimeError("values must be at least 1-dimensional ([nnz, *dense_sizes]), got a "
                           "0-d tensor")
    if indices.shape[1] != values.shape[0]:
        raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: "
                           f"{indices.shape[1]}, nnz from values: {values.shape[0]}")
    dev = ember.device(device) if device is not None else values.device
    if dtype is not None and dtype is not values.dtype:
        values = values.to(dtype)
    values = values.to(dev)
    indices = indices.to(dev)
    sd, nnz = indices.shape
    if size is None:
        top = (indices.max(dim=1).values + 1).tolist() if nnz else [0] * sd
        size = list(top) + list(values.shape[1:])
    size = Size(int(x) for x in size)
    if len(size) != sd + values.ndim - 1:
        raise RuntimeError(f"number of dimensions must be sparse_dim ({sd}) + dense_dim "
                           f"({values.ndim - 1}), but got {len(size)}")
    if tuple(size[sd:]) != tuple(values.shape[1:]):
        raise RuntimeError(f"values has incorrect size, expected {[nnz] + list(size[sd:])}, "
                           f"got {list(values.shape)}")
    if nnz:
        lo = indices.min().item()
        if lo < 0:
            raise RuntimeError(f"found negative index {lo} for dim "
                               f"{int(indices.min(dim=1).values.argmin().item())}")
        top = indices.max(dim=1).values.tolist()
        for d in range(sd):
            if top[d] >= size[d]:
                raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is "
                                   f"{size[d]} but found index {top[d]}")
    # NOTE: torch calls a tensor with at most one entry coalesced
    s = _from_values(indices, values, size, bool(is_coalesced) or nnz <= 1)
    if requires_grad:
        if s._grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables.")
        s.requires_grad_(True)
    return s


def to_sparse(self, *args, sparse_dim=None, layout=None, blocksize=None, dense_dim=None):
    """``Tensor.to_sparse``: the entries that are not zero, as a coalesced COO tensor (or CSR
    with ``layout=ember.sparse_csr``); the leading ``sparse_dim`` dims become sparse."""
    if layout is not None and layout is not sparse_coo:
        from .csr import sparse_csr
        if layout is sparse_csr:
            return self.to_sparse_csr()
        raise unsupported(f"to_sparse (layout={layout})", self._device)
    if args:
        sparse_dim = args[0]
    if sparse_dim is None:
        sparse_dim = self.ndim - (dense_dim or 0)
    if not 0 < sparse_dim <= self.ndim:
        if self.ndim == 0 and sparse_dim == 0:
            pass
        else:
            raise RuntimeError(f"sparse_dim must be in [1, {self.ndim}] for a "
                               f"{self.ndim}-D tensor, got {sparse_dim}")
    with ember.no_grad():
        mask = self != 0
        if sparse_dim < self.ndim:
            mask = mask.any(dim=tuple(range(sparse_dim, self.ndim)))
        idx = mask.nonzero().t().to(ember.int64)
    vals = self[tuple(idx.unbind(0))] if sparse_dim else self.unsqueeze(0)
    return _from_values(idx, vals, self.shape, True)


def sparse_mask(self, mask):
    """``Tensor.sparse_mask``: this dense tensor's entries at the coalesced pattern of the
    sparse ``mask``, as a sparse tensor."""
    if not isinstance(mask, SparseTensor):
        raise RuntimeError("sparse_mask expects mask to be sparse")
    if tuple(mask.shape) != tuple(self.shape):
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size "
                           f"{list(self.shape)} but mask has size {list(mask.shape)}")
    m = mask if mask._coalesced else _coalesce_raw(mask)
    idx = m._idx
    return _from_values(idx, self[tuple(idx.unbind(0))], self.shape, True)


# ---- nn.Embedding(sparse=True) ------------------------------------------------------------
def _g_embedding(ctx, g):
    p = ctx.params
    idx = p["input"].reshape(-1).to(ember.int64)
    vals = g.reshape(-1, g.shape[-1])
    if p["scale_grad_by_freq"]:
        raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse "
                           "gradients")
    pad = p["padding_idx"]
    if pad is not None:
        keep = idx != pad
        idx, vals = idx[keep], vals[keep]
    return _make(idx.unsqueeze(0), vals, p["size"], False)


_EMBEDDING = defop("embedding", _g_embedding)


def embedding_sparse(input, weight, padding_idx=None, scale_grad_by_freq=False):
    """The rows of ``weight`` picked by ``input``; the gradient of ``weight`` is sparse
    (uncoalesced: one entry per looked-up index, as torch's)."""
    with ember.no_grad():
        out = weight[input]
    if _state.enabled and weight.requires_grad:
        record(_EMBEDDING, (weight,), out, {"input": input, "padding_idx": padding_idx,
                                            "size": weight.shape,
                                            "scale_grad_by_freq": bool(scale_grad_by_freq)})
    return out


# ---- printing -----------------------------------------------------------------------------
def _indent(text, n):
    return text.replace("\n", "\n" + " " * n)


def _inner_repr(t) -> str:
    # (the dtype is the sparse tensor's, printed once at the end, as torch does)
    return re.sub(r", dtype=ember\.\w+\)$", ")", repr(t.detach().cpu()))


def repr_suffixes(t, body, *, force_newline) -> str:
    """``tensor(<body>, <suffixes>)`` in torch's layout: device, size, nnz, dtype, layout and
    autograd suffixes, each on the current line while it fits in 80 columns (the first one on
    a new line for COO, as torch)."""
    suffixes = []
    if t._device.type != "cpu":
        suffixes.append(f"device='{t._device}'")
    suffixes += [f"size={tuple(t.shape)}", f"nnz={t._nnz()}"]
    if t._dtype not in (_dt.get_default_dtype(), _dt.int64, _dt.bool_):
        suffixes.append(f"dtype={t._dtype}")
    suffixes.append(f"layout={t.layout}")
    if t._grad_fn is not None:
        suffixes.append(f"grad_fn=<{t._grad_fn.name()}>")
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    out = "tensor(" + body
    # (torch's count: the last line's length plus one)
    width = len(out) - out.rfind("\n") + 1
    for suffix in suffixes:
        if force_newline or width + len(suffix) + 2 > 80:
            out += ",\n       " + suffix
            width = 7 + len(suffix)
            force_newline = False
        else:
            out += ", " + suffix
            width += len(suffix) + 2
    return out + ")"


def sparse_repr(s) -> str:
    """torch's repr of a sparse COO tensor."""
    body = (f"indices={_indent(_inner_repr(s._idx), 15)},\n"
            f"       values={_indent(_inner_repr(s._vals), 14)}")
    return repr_suffixes(s, body, force_newline=True)
