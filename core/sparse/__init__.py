"""``ember.sparse``: sparse COO (and basic CSR) tensors, as ``torch.sparse``.

Sparse tensors are built from dense ember tensors (see ``coo.py``), so every backend runs them
and autograd follows them without a sparse kernel; a backend may add faster ones later.

Example::

    >>> s = ember.sparse_coo_tensor([[0, 1], [1, 0]], [2., 3.], (2, 2))
    >>> ember.sparse.mm(s, ember.ones(2, 1))
    tensor([[2.],
            [3.]])
"""
from __future__ import annotations

import ember

from ..ops.registry import defop, record
from ..tensor import Tensor
from .coo import (SparseTensor, _from_values, _parts, sparse_coo,  # noqa: F401
                  sparse_coo_tensor, sparse_mask, to_sparse, unsupported)
from .csr import SparseCsrTensor, sparse_csr, sparse_csr_tensor  # noqa: F401

__all__ = ["mm", "addmm", "sum", "softmax", "log_softmax", "as_sparse_gradcheck",
           "check_sparse_tensor_invariants"]

def _check_mm(op, s, d):
    if not isinstance(d, Tensor) or isinstance(d, SparseTensor):
        raise unsupported(f"{op} (sparse x sparse)", s._device)
    if s.ndim != 2 or s.sparse_dim() != 2:
        raise RuntimeError(f"{op}: expected a 2-D sparse matrix with 2 sparse dims, got size "
                           f"{list(s.shape)} with sparse_dim {s.sparse_dim()}")
    if d.ndim != 2:
        raise RuntimeError(f"{op}: mat2 must be a matrix, got {d.ndim}-D tensor")
    if s.shape[1] != d.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({s.shape[0]}x"
                           f"{s.shape[1]} and {d.shape[0]}x{d.shape[1]})")
    if s._device != d._device:
        from ..ops.registry import device_mismatch
        raise RuntimeError(device_mismatch(op, s, d))
    if s.dtype is not d.dtype:
        raise RuntimeError(f"expected mat1 and mat2 to have the same dtype, but got: "
                           f"{s.dtype} != {d.dtype}")


def _spmm(idx, vals, d, n):
    """rows idx[0] of the result accumulate vals * d[idx[1]]: a sparse [n, m] @ dense [m, p]."""
    prod = vals.unsqueeze(1) * d[idx[1]]
    out = ember.zeros((n, d.shape[1]), dtype=prod.dtype, device=prod.device)
    return out.index_add(0, idx[0], prod)


def mm(mat1, mat2):
    """sparse ``mat1`` @ dense ``mat2`` -> dense, as ``torch.sparse.mm``. The gradient of a
    sparse ``mat1`` is sparse, on its coalesced pattern.

    >>> s = ember.sparse_coo_tensor([[0, 1], [1, 0]], [2., 3.], (2, 2))
    >>> ember.sparse.mm(s, ember.eye(2))
    tensor([[0., 2.],
            [3., 0.]])
    """
    if not isinstance(mat1, SparseTensor):
        if isinstance(mat2, SparseTensor):
            raise unsupported("sparse.mm (dense x sparse)", mat2._device)
        return ember.mm(mat1, mat2)
    if isinstance(mat1, SparseCsrTensor):
        mat1 = mat1.to_sparse_coo()
    _check_mm("sparse.mm", mat1, mat2)
    idx, vals = _parts(mat1)
    return _spmm(idx, vals, mat2, mat1.shape[0])


def _g_mm(ctx, g):
    p = ctx.params
    s, d = p["sparse"], p["dense"]
    need_s, need_d = ctx.needs_input_grad
    gs = g.mm(d.t()) if need_s else None
    gd = _spmm(ember.stack([s._idx[1], s._idx[0]]), s._vals, g, s.shape[1]) \
        if need_d else None
    return gs, gd


_MM = defop("mm", _g_mm)


def _mm_dense_grad(s, d):
    """``torch.mm(sparse, dense)``: like sparse.mm, but the sparse input's gradient is dense
    (torch's mm rule, g @ mat2^T)."""
    _check_mm("mm", s, d)
    with ember.no_grad():
        out = _spmm(s._idx, s._vals, d.detach(), s.shape[0])
    if ember.is_grad_enabled() and (s.requires_grad or d.requires_grad):
        record(_MM, (s, d), out, {"sparse": s.detach(), "dense": d.detach()})
    return out


def addmm(input, mat1, mat2, *, beta=1.0, alpha=1.0):
    """``beta * input + alpha * (mat1 @ mat2)`` for a sparse ``mat1`` (torch.sparse.addmm)."""
    prod = mm(mat1, mat2)
    return (input if beta == 1 else input * beta) + (prod if alpha == 1 else prod * alpha)


def _dims(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    out = []
    for d in dim:
        if not -ndim <= d < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, "
                             f"{ndim - 1}], but got {d})")
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise RuntimeError("sparse.sum: dims to sum over must be unique")
    return tuple(sorted(out))


def sum(input, dim=None, dtype=None):
    """The sum of a sparse tensor: over everything (a dense 0-d tensor), or over ``dim``: a
    sparse tensor while some sparse dim is left, else dense (torch.sparse.sum).

    >>> s = ember.sparse_coo_tensor([[0, 1, 1], [2, 0, 2]], [3., 4., 5.], (2, 3))
    >>> ember.sparse.sum(s)
    tensor(12.)
    """
    if not isinstance(input, SparseTensor):
        return input.sum() if dim is None else input.sum(dim)
    dims = _dims(dim, input.ndim)
    idx, vals = _parts(input)
    if dtype is not None:
        vals = vals.to(dtype)
    sd = input.sparse_dim()
    dense_red = [d - sd + 1 for d in dims if d >= sd]
    if dense_red:
        vals = vals.sum(dim=dense_red)
    keep = [d for d in range(sd) if d not in dims]
    if not keep:
        return vals.sum(0)
    size = [input.shape[d] for d in keep] + [input.shape[d] for d in range(sd, input.ndim)
                                             if d not in dims]
    out = _from_values(idx[keep], vals, size, False)
    return out.coalesce()


def _softmax(input, dim, dtype, log):
    if not isinstance(input, SparseTensor):
        f = ember.log_softmax if log else ember.softmax
        return f(input, dim, dtype=dtype)
    n = input.ndim
    dim = _dims(dim, n)[0]
    idx, vals = _parts(input, coalesce=True)
    if dtype is not None:
        vals = vals.to(dtype)
    sd = input.sparse_dim()
    f = ember.log_softmax if log else ember.softmax
    if dim >= sd:
        return _from_values(idx, f(vals, dim - sd + 1), input.shape, True)
    # NOTE: torch treats the unspecified entries as -inf: each line along dim normalises
    # over its specified entries only
    others = [k for k in range(sd) if k != dim]
    key = ember.zeros(idx.shape[1], dtype=ember.int64, device=idx.device)
    for k in others:
        key = key * input.shape[k] + idx[k]
    with ember.no_grad():
        _, group = ember.unique(key, sorted=True, return_inverse=True)
        ng = int(group.max().item()) + 1 if group.numel() else 0
        gidx = group.reshape((-1,) + (1,) * (vals.ndim - 1)).expand(vals.shape)
        top = ember.zeros((ng,) + tuple(vals.shape[1:]), dtype=vals.dtype, device=vals.device)
        top = top.scatter_reduce(0, gidx, vals, "amax", include_self=False)
    shifted = vals - top[group]
    e = shifted.exp()
    total = ember.zeros((ng,) + tuple(vals.shape[1:]), dtype=vals.dtype,
                        device=vals.device).index_add(0, group, e)
    res = shifted - total.log()[group] if log else e / total[group]
    return _from_values(idx, res, input.shape, True)


def softmax(input, dim, *, dtype=None):
    """Softmax along ``dim`` over the specified entries only (unspecified ones count as -inf),
    as ``torch.sparse.softmax``; the result has the input's coalesced pattern."""
    return _softmax(input, dim, dtype, False)


def log_softmax(input, dim, *, dtype=None):
    """Log-softmax along ``dim`` over the specified entries (torch.sparse.log_softmax)."""
    return _softmax(input, dim, dtype, True)


def as_sparse_gradcheck(gradcheck):
    """torch's decorator for gradcheck over sparse inputs: Ember's gradcheck is used as is."""
    return gradcheck


class check_sparse_tensor_invariants:
    """torch's switch for invariant checks: Ember always checks indices against the size."""

    def __init__(self, enable=True):
        self.state = enable

    @staticmethod
    def is_enabled():
        return True

    @staticmethod
    def enable():
        pass

    @staticmethod
    def disable():
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        return fn


# ---- hooks into the dense API (installed once, by ember/__init__) --------------------------
_DENSE_OK = {
    # Tensor methods that are right for sparse tensors as they are (metadata and autograd)
    "size", "dim", "ndimension", "numel", "nelement", "element_size", "is_floating_point",
    "is_complex", "is_signed", "requires_grad_", "register_hook", "retain_grad", "backward",
    "_grad_edge", "_refresh_view_grad_fn", "_aux_dict", "_kernel", "_adopt", "_check_inplace",
    "_may_overlap", "_wrap", "get_device", "__init__", "__new__", "__hash__", "__len__",
    "__format__", "__init_subclass__", "__getattribute__", "__setattr__", "__delattr__",
    "__dir__", "__sizeof__", "__class__", "__subclasshook__", "__reduce__", "__str__",
    "register_post_accumulate_grad_hook", "is_shared", "_is_view", "is_set_to",
}


def _blocker(name):
    def method(self, *args, **kwargs):
        raise unsupported(name.strip("_"), self._device)
    method.__name__ = name
    return method


def _dense_refusal(name, what):
    def method(self, *args, **kwargs):
        raise RuntimeError(f"{name} expected {what} tensor layout but got Strided")
    method.__name__ = name
    return method


def _dense_missing(name):
    def method(self, *args, **kwargs):
        raise NotImplementedError(f"Could not run 'aten::{name}' with arguments from the "
                                  f"'{self._device.type.upper()}' backend: {name} is an op of "
                                  "sparse tensors")
    method.__name__ = name
    return method


def _install_tensor_hooks():
    """Give Tensor its sparse entry points (new names only: dense ops do not change) and make
    every dense Tensor method that a sparse tensor does not override raise torch's error."""
    Tensor.is_sparse = property(lambda self: False, doc="Whether the layout is sparse COO.")
    Tensor.is_sparse_csr = property(lambda self: False, doc="Whether the layout is sparse CSR.")
    Tensor.to_sparse = to_sparse
    Tensor.to_sparse_coo = to_sparse
    Tensor.sparse_mask = sparse_mask
    from .csr import dense_to_csr
    Tensor.to_sparse_csr = dense_to_csr
    Tensor.sparse_dim = lambda self: 0
    Tensor.dense_dim = lambda self: self.ndim
    for name, what in (("indices", "sparse coordinate"), ("values", "sparse"),
                       ("coalesce", "sparse coordinate"), ("is_coalesced", "sparse coordinate"),
                       ("crow_indices", "sparse row compressed"),
                       ("col_indices", "sparse row compressed")):
        if name not in Tensor.__dict__:
            setattr(Tensor, name, _dense_refusal(name, what))
    for name in ("_indices", "_values", "_nnz"):
        if name not in Tensor.__dict__:
            setattr(Tensor, name, _dense_missing(name))
    if "to_dense" not in Tensor.__dict__:
        Tensor.to_dense = lambda self, dtype=None, *, masked_grad=None: (
            self if dtype is None else self.to(dtype))
    for cls in (SparseTensor, SparseCsrTensor):
        own = set(cls.__dict__)
        for name, attr in list(Tensor.__dict__.items()):
            if name in own or name in _DENSE_OK or not callable(attr):
                continue
            if isinstance(attr, (type, staticmethod, classmethod)):
                continue
            setattr(cls, name, _blocker(name))


def _wrap_dense(dense_fn, sparse_fn):
    def fn(input, *args, **kwargs):
        if type(input) is SparseTensor or type(input) is SparseCsrTensor:
            return sparse_fn(input, *args, **kwargs)
        return dense_fn(input, *args, **kwargs)
    fn.__name__ = dense_fn.__name__
    fn.__qualname__ = dense_fn.__qualname__
    fn.__doc__ = dense_fn.__doc__
    fn.__wrapped__ = dense_fn
    return fn


def _sparse_mm(input, mat2, *, out=None):
    return input.mm(mat2)


def _sparse_matmul(input, other, *, out=None):
    return input.matmul(other)


def _sparse_addmm_first(input, mat1, mat2):
    raise unsupported("addmm (sparse input)", input._device)


def install(namespace: dict) -> None:
    """Install the sparse API into the top-level ``ember`` namespace."""
    _install_tensor_hooks()
    namespace["sparse_coo"] = sparse_coo
    namespace["sparse_csr"] = sparse_csr
    namespace["sparse_coo_tensor"] = sparse_coo_tensor
    namespace["sparse_csr_tensor"] = sparse_csr_tensor
    # torch.mm / matmul take a sparse first argument; addmm a sparse mat1 (checked by type
    # identity before the dense op: one comparison, not on the elementwise hot path)
    namespace["mm"] = _wrap_dense(namespace["mm"], _sparse_mm)
    namespace["matmul"] = _wrap_dense(namespace["matmul"], _sparse_matmul)
    dense_addmm = namespace["addmm"]

    def addmm_(input, mat1, mat2, *, beta=1, alpha=1):
        if type(mat1) is SparseTensor or type(mat1) is SparseCsrTensor:
            return addmm(input, mat1, mat2, beta=beta, alpha=alpha)
        if type(input) is SparseTensor:
            return _sparse_addmm_first(input, mat1, mat2)
        return dense_addmm(input, mat1, mat2, beta=beta, alpha=alpha)
    addmm_.__name__ = addmm_.__qualname__ = "addmm"
    addmm_.__doc__ = dense_addmm.__doc__
    namespace["addmm"] = addmm_
