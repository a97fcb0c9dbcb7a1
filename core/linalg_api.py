"""ember.linalg: norms, and inv/solve/det/svd/qr/eigh/cholesky where a backend has the kernels.

Decompositions are composite ops with kernels named ``linalg_<op>``; the cpu backend provides
them through numpy.linalg, and a backend without them raises a clear NotImplementedError.
"""
from __future__ import annotations

from collections import namedtuple

from .ops import reduction as _R
from .ops import shape as _S
from .ops.registry import _state, defop, record
from .tensor import Tensor

_wrap = Tensor._wrap


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    return _R.norm(x, ord, dim, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    if ord == "fro":
        return _R.norm(A, 2, dim, keepdim)
    if ord == "nuc":
        r = svdvals(A).sum(-1)
        return r
    if ord in (1, -1):
        s = A.abs().sum(dim[0], keepdim=True)
        r = s.amax(dim[1], keepdim=True) if ord == 1 else s.amin(dim[1], keepdim=True)
    elif ord in (float("inf"), float("-inf")):
        s = A.abs().sum(dim[1], keepdim=True)
        r = s.amax(dim[0], keepdim=True) if ord > 0 else s.amin(dim[0], keepdim=True)
    elif ord in (2, -2):
        sv = svdvals(A)
        return sv[..., 0] if ord == 2 else sv[..., -1]
    else:
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    return r if keepdim else r.squeeze(tuple(dim))


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """Vector norm for 1-d (or given dim int), Frobenius/matrix norm for 2-d."""
    if dim is None and ord is not None and A.ndim == 2:
        return matrix_norm(A, ord, keepdim=keepdim)
    if isinstance(dim, (tuple, list)) and len(dim) == 2 and ord is not None:
        return matrix_norm(A, ord, tuple(dim), keepdim)
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def _kernel(A, name):
    backend = A._device._backend
    k = backend.kernels.get("linalg_" + name)
    if k is None:
        # Decompositions are not primitives: a backend without them runs them on cpu, under the
        # same EMBER_FALLBACK policy (and counter) as a missing primitive.
        from ..plugins import registry
        k = registry.fallback_kernel(backend, "linalg_" + name)
    return k


def _float(A, op):
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"linalg.{op}: Expected a floating point tensor as input. Got "
                           f"{A.dtype}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        if op not in ("svd", "qr", "svdvals", "pinv"):
            raise RuntimeError(f"linalg.{op}: A must be batches of square matrices, but they are "
                               f"{A.shape[-2] if A.ndim >= 2 else 1} by {A.shape[-1]} matrices")


def _g_inv(ctx, g):
    inv_a = ctx.out
    t = inv_a.mT
    return (-(t @ g @ t),)


_inv_op = defop("linalg_inv", _g_inv, out=True, node_name="LinalgInvExBackward0")


def inv(A):
    """The inverse of square matrices (batched)."""
    _float(A, "inv")
    res = _wrap(_kernel(A, "inv")(A._data), A._dtype, A._device)
    if _state.enabled and A._requires_grad:
        record(_inv_op, (A,), res)
    return res


def _g_det(ctx, g):
    A, = ctx.inputs
    d = ctx.out
    return ((g * d).unsqueeze(-1).unsqueeze(-1) * inv(A).mT,)


_det_op = defop("linalg_det", _g_det, inputs=True, out=True)


def det(A):
    _float(A, "det")
    res = _wrap(_kernel(A, "det")(A._data), A._dtype, A._device)
    if _state.enabled and A._requires_grad:
        record(_det_op, (A,), res)
    return res


slogdet_ret = namedtuple("slogdet", ["sign", "logabsdet"])


def slogdet(A):
    d = det(A)
    return slogdet_ret(d.sign(), d.abs().log())


def logdet(A):
    return det(A).log()


def solve(A, B, *, left=True):
    """x with A x = B (via the inverse; differentiable through inv and matmul)."""
    _float(A, "solve")
    if not left:
        return B @ inv(A)
    # torch treats B as (a batch of) vectors when its shape is A's without the last dim
    if B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1])):
        return (inv(A) @ B.unsqueeze(-1)).squeeze(-1)
    return inv(A) @ B


def _native_multi(A, name):
    outs = _kernel(A, name)(A._data)
    return tuple(_wrap(o, A._dtype, A._device) for o in outs)


svd_ret = namedtuple("svd", ["U", "S", "Vh"])
qr_ret = namedtuple("qr", ["Q", "R"])
eigh_ret = namedtuple("eigh", ["eigenvalues", "eigenvectors"])


def svd(A, full_matrices=True):
    """Singular value decomposition (no gradient)."""
    _float(A, "svd")
    U, S, Vh = _native_multi(A, "svd_full" if full_matrices else "svd")
    return svd_ret(U, S, Vh)


def svdvals(A):
    return svd(A, full_matrices=False).S


def qr(A, mode="reduced"):
    _float(A, "qr")
    Q, R = _native_multi(A, "qr")
    return qr_ret(Q, R)


def eigh(A, UPLO="L"):
    _float(A, "eigh")
    w, v = _native_multi(A, "eigh")
    return eigh_ret(w, v)


def eigvalsh(A, UPLO="L"):
    return eigh(A, UPLO).eigenvalues


def _g_cholesky(ctx, g):
    # From dA = dL L^T + L dL^T: with M = L^T g, the gradient is L^-T P L^-1, P the lower
    # triangle of M with its strict part mirrored and everything halved: the symmetric
    # gradient torch reports. L^-1 is lower triangular; tril drops the round-off above.
    L = ctx.out
    M = L.mT @ g
    P = 0.5 * (M.tril() + M.tril(-1).mT)
    L_inv = inv(L.tril()).tril()
    return (L_inv.mT @ P @ L_inv,)


_cholesky_op = defop("linalg_cholesky", _g_cholesky, out=True,
                     node_name="LinalgCholeskyExBackward0")


def cholesky(A, *, upper=False):
    _float(A, "cholesky")
    (L,) = _native_multi(A, "cholesky")
    if _state.enabled and A._requires_grad:
        record(_cholesky_op, (A,), L)
    return L.mT if upper else L


def pinv(A):
    U, S, Vh = svd(A, full_matrices=False)
    from .ops.elementwise import where
    Sinv = where(S > 1e-10 * S.amax(-1, keepdim=True), 1.0 / S, 0.0)
    return (Vh.mT * Sinv.unsqueeze(-2)) @ U.mT


def matrix_power(A, n):
    if n == 0:
        from .ops.creation import eye
        return eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(A.shape)
    if n < 0:
        A, n = inv(A), -n
    r = A
    for _ in range(n - 1):
        r = r @ A
    return r


def matrix_rank(A, tol=None):
    S = svdvals(A)
    t = S.amax(-1, keepdim=True) * max(A.shape[-2:]) * 1.2e-7 if tol is None else tol
    return (S > t).sum(-1)


def cross(a, b, dim=-1):
    i = [1, 2, 0]
    j = [2, 0, 1]
    from .ops.creation import tensor
    ii = tensor(i, device=a.device)
    jj = tensor(j, device=a.device)
    return a.index_select(dim, ii) * b.index_select(dim, jj) - \
        a.index_select(dim, jj) * b.index_select(dim, ii)


def vecdot(x, y, dim=-1):
    return (x * y).sum(dim)


def multi_dot(tensors):
    r = tensors[0]
    for t in tensors[1:]:
        r = r @ t
    return r


from .ops.linalg import matmul  # noqa: E402,F401
