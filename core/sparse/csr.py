"""Sparse CSR matrices (``layout=ember.sparse_csr``), basic: construction, conversion to and from
dense and COO, and matrix products (through COO). 2-D only, without batch or dense dims."""
from __future__ import annotations

import ember

from ..autograd import grad_mode
from ..compat import layout
from ..tensor import Size, Tensor
from .coo import (SparseTensor, _SparseData, _from_values, _indent, _inner_repr, _parts,
                  repr_suffixes, unsupported)

__all__ = ["SparseCsrTensor", "sparse_csr", "sparse_csr_tensor"]

sparse_csr = layout("sparse_csr")
_state = grad_mode.state


def _make_csr(crow, col, values, size):
    t = Tensor._wrap(_SparseData(size, values._dtype.np, values._device), values._dtype,
                     values._device, SparseCsrTensor)
    t._requires_grad = values._requires_grad and _state.enabled
    t._crow, t._col, t._csr_values = crow, col, values
    return t


class SparseCsrTensor(Tensor):
    """A sparse CSR matrix: ``crow_indices`` ``[rows + 1]``, ``col_indices`` ``[nnz]`` and
    ``values`` ``[nnz]``, as torch's ``sparse_csr`` layout. Its values carry autograd.

    >>> c = ember.tensor([[0., 2.], [3., 0.]]).to_sparse_csr()
    >>> c.crow_indices()
    tensor([0, 1, 2])
    """

    __slots__ = ("_crow", "_col", "_csr_values")

    def __new__(cls, *args, **kwargs):
        raise TypeError("create CSR tensors with ember.sparse_csr_tensor or .to_sparse_csr()")

    @property
    def layout(self):
        return sparse_csr

    @property
    def is_sparse(self):
        return False

    @property
    def is_sparse_csr(self):
        return True

    def crow_indices(self):
        return self._crow

    def col_indices(self):
        return self._col

    def values(self):
        return self._csr_values

    def _nnz(self):
        return self._col.shape[0]

    def sparse_dim(self):
        return 2

    def dense_dim(self):
        return 0

    def _row_indices(self):
        counts = self._crow[1:] - self._crow[:-1]
        rows = ember.arange(self.shape[0], device=self._device)
        return ember.repeat_interleave(rows, counts)

    def to_sparse_coo(self):
        """The same matrix as a (coalesced) COO tensor; its values keep their gradient."""
        idx = ember.stack([self._row_indices(), self._col])
        return _from_values(idx, self._csr_values, self.shape, True)

    to_sparse = to_sparse_coo

    def to_sparse_csr(self, dense_dim=None):
        return self

    def to_dense(self, dtype=None, *, masked_grad=None):
        return self.to_sparse_coo().to_dense(dtype)

    def mm(self, mat2):
        return self.to_sparse_coo().mm(mat2)

    def matmul(self, other):
        return self.to_sparse_coo().matmul(other)

    __matmul__ = matmul

    def to(self, *args, **kwargs):
        from .coo import _parse_to
        dtype, device = _parse_to(args, kwargs)
        dev = ember.device(device) if device is not None else self._device
        vals = self._csr_values.to(dev, dtype) if dtype is not None else \
            self._csr_values.to(dev)
        return _make_csr(self._crow.to(dev), self._col.to(dev), vals, self.shape)

    def cpu(self):
        return self.to("cpu")

    def detach(self):
        return _make_csr(self._crow, self._col, self._csr_values.detach(), self.shape)

    def numpy(self, *, force=False):
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def __repr__(self, *, tensor_contents=None):
        body = (f"crow_indices={_indent(_inner_repr(self._crow), 20)},\n"
                f"       col_indices={_indent(_inner_repr(self._col), 19)},\n"
                f"       values={_indent(_inner_repr(self._csr_values), 14)}")
        return repr_suffixes(self, body, force_newline=False)


def coo_to_csr(s):
    """A 2-D COO tensor (2 sparse dims) as CSR."""
    if s.ndim != 2 or s.sparse_dim() != 2:
        raise RuntimeError(f"to_sparse_csr: expected a 2-D tensor with 2 sparse dims, got size "
                           f"{list(s.shape)} with sparse_dim {s.sparse_dim()}")
    idx, vals = _parts(s, coalesce=True)
    rows, cols = idx[0], idx[1]
    n = s.shape[0]
    with ember.no_grad():
        counts = ember.zeros(n, dtype=ember.int64, device=s.device).index_add(
            0, rows, ember.ones_like(rows))
        crow = ember.cat([ember.zeros(1, dtype=ember.int64, device=s.device),
                          counts.cumsum(0)])
    return _make_csr(crow, cols, vals, s.shape)


def dense_to_csr(self, dense_dim=None):
    """``Tensor.to_sparse_csr``: a 2-D dense tensor as CSR."""
    if self.ndim != 2:
        raise RuntimeError(f"to_sparse_csr: only 2-D tensors are supported by Ember, got a "
                           f"{self.ndim}-D tensor")
    return coo_to_csr(self.to_sparse())


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None,
                      pin_memory=False, requires_grad=False, check_invariants=None):
    """A sparse CSR matrix from compressed row pointers, column indices and values
    (torch.sparse_csr_tensor); 2-D only.

    >>> c = ember.sparse_csr_tensor([0, 1, 2], [1, 0], [2., 3.], (2, 2))
    >>> c.to_dense()
    tensor([[0., 2.],
            [3., 0.]])
    """
    crow = crow_indices if isinstance(crow_indices, Tensor) else ember.tensor(
        crow_indices, dtype=ember.int64)
    col = col_indices if isinstance(col_indices, Tensor) else ember.tensor(
        col_indices, dtype=ember.int64)
    vals = values if isinstance(values, Tensor) else ember.tensor(values, dtype=dtype)
    if isinstance(vals, (SparseTensor, SparseCsrTensor)):
        raise TypeError("sparse_csr_tensor(): values must be a dense tensor")
    if crow.ndim != 1 or col.ndim != 1 or vals.ndim != 1:
        raise RuntimeError("sparse_csr_tensor: Ember supports 2-D CSR matrices only "
                           "(1-D crow_indices, col_indices and values)")
    if col.shape[0] != vals.shape[0]:
        raise RuntimeError(f"col_indices and values must have the same number of elements, but "
                           f"got {col.shape[0]} and {vals.shape[0]}")
    dev = ember.device(device) if device is not None else vals.device
    if dtype is not None:
        vals = vals.to(dtype)
    crow, col, vals = crow.to(dev, ember.int64), col.to(dev, ember.int64), vals.to(dev)
    nrows = crow.shape[0] - 1
    if size is None:
        ncols = int(col.max().item()) + 1 if col.numel() else 0
        size = (nrows, ncols)
    size = Size(int(x) for x in size)
    if len(size) != 2 or size[0] != nrows:
        raise RuntimeError(f"crow_indices.size(-1) must be equal to size[-2] + 1 (that is "
                           f"{size[0] + 1 if len(size) == 2 else '?'}), but got: {crow.shape[0]}")
    if col.numel() and int(col.max().item()) >= size[1]:
        raise RuntimeError(f"col_indices must be less than the number of columns ({size[1]})")
    if int(crow[-1].item()) != col.shape[0]:
        raise RuntimeError(f"crow_indices[-1] must be equal to nnz ({col.shape[0]}), but got "
                           f"{int(crow[-1].item())}")
    t = _make_csr(crow, col, vals, size)
    if requires_grad:
        raise unsupported("sparse_csr_tensor (requires_grad=True; give values that require "
                          "grad instead)", dev)
    return t
