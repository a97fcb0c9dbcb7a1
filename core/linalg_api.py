"""ember.linalg (torch.linalg): norms, decompositions, solvers, with torch's gradients.

Decompositions are composite ops with kernels named ``linalg_<op>``: the cpu backend provides
them (numpy.linalg, and backends/cpu/linalg.py for LU, triangular solves and the ``*_ex`` error
codes); a backend without them runs them on cpu (see ``_kernel``). Backward rules are torch's,
written in ember ops, so they are differentiable again. Complex inputs (complex64, complex128)
follow torch: Hermitian where torch says symmetric, conjugate transposes (``mH``) in the rules,
and torch's complex gradient convention (see core/ops/complex.py); ``eig`` and ``eigvals``
return complex results for real inputs too.
"""
from __future__ import annotations

import math
from collections import namedtuple

from . import amp as _amp, dtypes as _dt, return_types as _return_types
from .ops import creation as _C
from .ops import reduction as _R
from .ops import shape as _S
from .ops.elementwise import maximum as _maximum, where as _where
from .ops.linalg import matmul  # noqa: F401  (torch.linalg.matmul)
from .ops.registry import _dtype_of, _state, defop, record
from .tensor import Tensor, _dt_name

_wrap = Tensor._wrap


class LinAlgError(RuntimeError):
    """A factorization or solve failed: a singular or not positive-definite input."""


# ---- helpers ---------------------------------------------------------------------------------

def _kernel(A, name):
    backend = A._device._backend
    k = backend.kernels.get("linalg_" + name)
    if k is None:
        # Decompositions are not primitives: a backend without them runs them on cpu, under the
        # same EMBER_FALLBACK policy (and counter) as a missing primitive.
        from ..plugins import registry
        k = registry.fallback_kernel(backend, "linalg_" + name)
    return k


def _native(A, name, *args):
    """Run kernel ``linalg_<name>`` on A (and more tensors or Python values); wrap its results."""
    outs = _kernel(A, name)(A._data, *[a._data if isinstance(a, Tensor) else a for a in args])
    if not isinstance(outs, tuple):
        return _wrap(outs, _dtype_of(outs, A._dtype), A._device)
    return tuple(_wrap(o, _dtype_of(o, A._dtype), A._device) for o in outs)


def _needs_grad(*tensors):
    return _state.enabled and any(t._requires_grad for t in tensors)


def _check_dtype(A, op):
    if A.dtype.is_complex:
        return
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_dt_name(A.dtype)}")
    if A.dtype in (_dt.float16, _dt.bfloat16):
        raise RuntimeError(f"{op}: Low precision dtypes not supported. Got {_dt_name(A.dtype)}")


def _check(A, op, square=True):
    """torch's checks of a matrix argument: floating or complex dtype, >= 2 dims, square."""
    if not isinstance(A, Tensor):
        raise TypeError(f"{op}(): argument 'A' must be Tensor, not {type(A).__name__}")
    _check_dtype(A, op)
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _same_dtype(A, B, op):
    if A.dtype is not B.dtype:
        raise RuntimeError(f"{op}: Expected A and B to have the same dtype, but found A of type "
                           f"{_dt_name(A.dtype)} and B of type {_dt_name(B.dtype)} instead")


def _check_info(info, A, op, message, error=LinAlgError):
    """Raise torch's error (LinAlgError) for the first batch element whose ``info`` is not 0."""
    if not bool((info != 0).any()):
        return
    flat = info.reshape(-1).tolist()
    i = next(b for b, v in enumerate(flat) if v)
    where = f"(Batch element {i}): " if A.ndim > 2 else ""
    raise error(f"{op}: {where}{message(flat[i])}")


def _broadcast_batch(A, B):
    """A and B expanded to their common batch shape (the matrices keep their own shapes)."""
    a, b = tuple(B.shape[:-2]), tuple(A.shape[:-2])   # (torch's order in its message)
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b "
                               f"({y}) at non-singleton dimension {i}")
    batch = tuple(max(x, y) if min(x, y) != 0 else 0 for x, y in zip(a, b))
    if tuple(A.shape[:-2]) != batch:
        A = A.expand(batch + tuple(A.shape[-2:]))
    if tuple(B.shape[:-2]) != batch:
        B = B.expand(batch + tuple(B.shape[-2:]))
    return A, B


def _eye_like(A, n=None, m=None):
    n = A.shape[-1] if n is None else n
    return _C.eye(n, m, dtype=A.dtype, device=A.device)


def _off_diagonal_ones(n, like):
    return 1 - _eye_like(like, n)


def _empty(dtype, device):
    return _C.empty(0, dtype=dtype, device=device)


def _default_rtol(A):
    return _dt.finfo(A.dtype).eps * max(A.shape[-2], A.shape[-1])


# ---- norms -----------------------------------------------------------------------------------

@_amp.float32_op(name="linalg_vector_norm")
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    """The ord-norm of x's entries (over ``dim``, or all)."""
    return _R.norm(x, ord, dim, keepdim, dtype)


@_amp.float32_op(name="linalg_matrix_norm")
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False):
    """Frobenius, nuclear, 1, inf, 2 (and negative) norms of (batched) matrices."""
    if ord == "fro":
        return _R.norm(A, 2, dim, keepdim)
    if ord == "nuc":
        # the matrices lie in ``dim``: bring them last; keepdim puts size-1 dims back there
        d0, d1 = (d % A.ndim for d in dim)
        r = svdvals(A.movedim((d0, d1), (-2, -1))).sum(-1)
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
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


# ---- inverse, determinants -------------------------------------------------------------------

inv_ex_ret = _return_types.make("linalg_inv_ex", ["inverse", "info"])


def _g_inv(ctx, g):
    t = ctx.out.mH
    return (-(t @ g @ t),)


_inv_op = defop("linalg_inv", _g_inv, out=True, node_name="LinalgInvExBackward0")


def _inv_message(k):
    return (f"The diagonal element {k} is zero, the inversion could not be completed because "
            "the input matrix is singular.")


@_amp.float32_op(name="linalg_inv_ex")
def inv_ex(A, *, check_errors=False):
    """(inverse, info): info is 0, or the 1-based index of U's zero pivot of a singular matrix.

    >>> import ember
    >>> ember.linalg.inv_ex(ember.eye(2)).info
    tensor(0, dtype=ember.int32)
    """
    _check(A, "linalg.inv_ex")
    X, info = _native(A, "inv_ex")
    if _needs_grad(A):
        record(_inv_op, (A,), X)
    if check_errors:
        _check_info(info, A, "linalg.inv_ex", _inv_message)
    return inv_ex_ret(X, info)


@_amp.float32_op(name="linalg_inv")
def inv(A):
    """The inverse of square matrices (batched); LinAlgError when one is singular.

    >>> import ember
    >>> ember.linalg.inv(ember.tensor([[2.0, 0.0], [0.0, 4.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.2500]])
    """
    _check(A, "linalg.inv")
    X, info = inv_ex(A)
    _check_info(info, A, "linalg.inv", _inv_message)
    return X


def _exclusive_prod(S):
    """prod_{j != i} S_j for each i (no division: exact when some S_j is 0)."""
    ones = _C.ones_like(S.narrow(-1, 0, 1))
    left = _S.cat([ones, S.narrow(-1, 0, S.shape[-1] - 1).cumprod(-1)], -1)
    rev = S.flip(-1)
    right = _S.cat([ones, rev.narrow(-1, 0, S.shape[-1] - 1).cumprod(-1)], -1).flip(-1)
    return left * right


def _g_det(ctx, g):
    A, = ctx.inputs
    d = ctx.out
    gd = (g * d.conj()).unsqueeze(-1).unsqueeze(-1)
    if not bool((d == 0).any()):
        return (gd * inv(A).mH,)
    # NOTE: at a singular matrix det * A^-H is 0 * inf; the cofactor matrix through the SVD
    # (torch's rule there) is finite: U diag(prod_{j != i} S_j) Vh, times conj(det(U) det(Vh)).
    U, S, Vh = svd(A, full_matrices=False)
    alpha = ((det(U) * det(Vh)).conj() * g).unsqueeze(-1)
    return ((U * (alpha * _exclusive_prod(S)).unsqueeze(-2)) @ Vh,)


_det_op = defop("linalg_det", _g_det, inputs=True, out=True, node_name="LinalgDetBackward0")


def det(A):
    """Determinants of (batched) square matrices (differentiable, also where singular)."""
    _check(A, "linalg.det")
    res = _native(A, "det")
    if _needs_grad(A):
        record(_det_op, (A,), res)
    return res


slogdet_ret = _return_types.make("linalg_slogdet", ["sign", "logabsdet"])


def _g_slogdet(ctx, g_sign, g_logabsdet):
    A, = ctx.inputs
    g = g_logabsdet
    if A.dtype.is_complex:
        # torch's rule: the sign's gradient enters as -i Im(conj(g_sign) sign)
        sign = ctx.outs[0]
        g = g - 1j * (g_sign.conj() * sign).imag
    return (g.unsqueeze(-1).unsqueeze(-1) * inv(A).mH,)


_slogdet_op = defop("linalg_slogdet", _g_slogdet, inputs=True, out=True, n_outputs=2,
                    node_name="LinalgSlogdetBackward0")


def slogdet(A):
    """(sign, log|det|) of square matrices: no overflow where det itself would.

    >>> import ember
    >>> ember.linalg.slogdet(ember.tensor([[-2.0, 0.0], [0.0, 3.0]])).sign
    tensor(-1.)
    """
    _check(A, "linalg.slogdet")
    sign, logabsdet = _native(A, "slogdet")
    if _needs_grad(A):
        record(_slogdet_op, (A,), (sign, logabsdet))
    return slogdet_ret(sign, logabsdet)


def logdet(A):
    """log(det(A)): NaN where det < 0, -inf where it is 0 (complex A: log(sign) + log|det|)."""
    sign, logabsdet = slogdet(A)
    if A.dtype.is_complex:
        return sign.log() + logabsdet
    return _where(sign < 0, float("nan"), logabsdet)


# ---- solvers ---------------------------------------------------------------------------------

solve_ex_ret = _return_types.make("linalg_solve_ex", ["result", "info"])


def _g_solve(ctx, g):
    A, _ = ctx.inputs
    gB = _solve_matrix(A.mH, g)
    gA = -(gB @ ctx.out.mH) if ctx.needs_input_grad[0] else None
    return gA, gB


_solve_op = defop("linalg_solve", _g_solve, inputs=True, out=True,
                  node_name="LinalgSolveExBackward0")


def _solve_matrix(A, B):
    """(X, info) with A X = B, A and B matrices of one batch shape."""
    X, info = _native(A, "solve_ex", B)
    if _needs_grad(A, B):
        record(_solve_op, (A, B), X)
    return X


def _is_vector_rhs(A, B):
    # torch: B is (a batch of) vectors when it is 1-d, or A's shape without the last dim
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))


def solve_ex(A, B, *, left=True, check_errors=False):
    """(result, info): the solution of A X = B (X A = B when not left) and LAPACK's info."""
    _check(A, "linalg.solve")
    _same_dtype(A, B, "linalg.solve")
    vector = _is_vector_rhs(A, B)
    Bm = B.unsqueeze(-1) if vector else B
    if not left:  # X A = B  <=>  A^T X^T = B^T
        A, Bm = A.mT, Bm.mT
    if A.shape[-1] != Bm.shape[-2]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({A.shape[-2]}x{A.shape[-1]} and "
                           f"{Bm.shape[-2]}x{Bm.shape[-1]})")
    A, Bm = _broadcast_batch(A, Bm)
    X, info = _native(A, "solve_ex", Bm)
    if _needs_grad(A, Bm):
        record(_solve_op, (A, Bm), X)
    if check_errors:
        _check_info(info, A, "torch.linalg.solve_ex", _singular_solve)
    if not left:
        X = X.mT
    return solve_ex_ret(X.squeeze(-1) if vector else X, info)


def _singular_solve(_):
    return "The solver failed because the input matrix is singular."


@_amp.float32_op(name="linalg_solve")
def solve(A, B, *, left=True):
    """X with A X = B (X A = B when not left), by LU with partial pivoting.

    >>> import ember
    >>> ember.linalg.solve(ember.tensor([[2.0, 0.0], [0.0, 4.0]]), ember.tensor([2.0, 2.0]))
    tensor([1.0000, 0.5000])
    """
    X, info = solve_ex(A, B, left=left)
    _check_info(info, A, "torch.linalg.solve", _singular_solve)
    return X


def _g_solve_triangular(ctx, g):
    A, _ = ctx.inputs
    upper, unit = ctx.params["upper"], ctx.params["unitriangular"]
    gB = solve_triangular(A.mH, g, upper=not upper, unitriangular=unit)
    gA = None
    if ctx.needs_input_grad[0]:
        gA = -(gB @ ctx.out.mH)
        gA = gA.triu(int(unit)) if upper else gA.tril(-int(unit))
    return gA, gB


_solve_triangular_op = defop("linalg_solve_triangular", _g_solve_triangular, inputs=True,
                             out=True, node_name="LinalgSolveTriangularBackward0")


def solve_triangular(A, B, *, upper, left=True, unitriangular=False):
    """X with A X = B (X A = B when not left), A upper or lower triangular (only that triangle
    is read; ``unitriangular``: its diagonal is taken as ones).

    >>> import ember
    >>> A = ember.tensor([[2.0, 1.0], [0.0, 1.0]])
    >>> ember.linalg.solve_triangular(A, ember.tensor([[3.0], [1.0]]), upper=True)
    tensor([[1.],
            [1.]])
    """
    _check(A, "linalg.solve_triangular")
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    _same_dtype(A, B, "linalg.solve_triangular")
    if not left:  # X A = B  <=>  A^T X^T = B^T, and A^T has the other triangle
        return solve_triangular(A.mT, B.mT, upper=not upper, unitriangular=unitriangular).mT
    if A.shape[-1] != B.shape[-2]:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the "
                           f"equation AX = B ({A.shape[-2]}x{A.shape[-1]} and {B.shape[-2]}x"
                           f"{B.shape[-1]})")
    A, B = _broadcast_batch(A, B)
    X = _native(A, "solve_triangular", B, bool(upper), bool(unitriangular))
    if _needs_grad(A, B):
        record(_solve_triangular_op, (A, B), X,
               {"upper": bool(upper), "unitriangular": bool(unitriangular)})
    return X


# ---- LU --------------------------------------------------------------------------------------

lu_factor_ret = _return_types.make("linalg_lu_factor", ["LU", "pivots"])
lu_factor_ex_ret = _return_types.make("linalg_lu_factor_ex", ["LU", "pivots", "info"])
lu_ret = _return_types.make("linalg_lu", ["P", "L", "U"])
lu_unpack_ret = _return_types.make("lu_unpack", ["P", "L", "U"])


def _lu_backward(gL, gU, P, L, U):
    """torch's linalg_lu_backward: the gradient of A = P L U from those of L and U."""
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    if m == n:
        # gA = P L^-H [L^H gL o 1_L + gU U^H o 1_U] U^-H
        gA = (L.mH @ gL).tril(-1) + (gU @ U.mH).triu()
        gA = solve_triangular(U.mH, gA, upper=False, left=False)
        gA = solve_triangular(L.mH, gA, upper=True, unitriangular=True)
    elif m < n:
        U1 = U.narrow(-1, 0, k)
        gA = (L.mH @ gL) - gU.triu() @ U.mH
        gA = solve_triangular(U1.mH, gA.tril(-1), upper=False, left=False)
        gA = _S.cat([gA + gU.narrow(-1, 0, k).triu(), gU.narrow(-1, k, n - k)], -1)
        gA = solve_triangular(L.mH, gA, upper=True, unitriangular=True)
    else:
        L1 = L.narrow(-2, 0, k)
        gA = gU @ U.mH - L.mH @ gL.tril(-1)
        gA = solve_triangular(L1.mH, gA.triu(), upper=True, unitriangular=True)
        gA = _S.cat([gA + gL.narrow(-2, 0, k).tril(-1), gL.narrow(-2, k, m - k)], -2)
        gA = solve_triangular(U.mH, gA, upper=False, left=False)
    return P @ gA


def _g_lu_factor(ctx, g):
    LU = ctx.out
    P, L, U = lu_unpack(LU, ctx.params["pivots"])
    k = min(LU.shape[-2], LU.shape[-1])
    gL = g.tril(-1).narrow(-1, 0, k)
    gU = g.triu().narrow(-2, 0, k)
    return (_lu_backward(gL, gU, P, L, U),)


_lu_factor_op = defop("linalg_lu_factor", _g_lu_factor, out=True,
                      node_name="LinalgLuFactorExBackward0")


def lu_factor_ex(A, *, pivot=True, check_errors=False):
    """(LU, pivots, info): LAPACK getrf's compact LU (L's unit diagonal left out), its 1-based
    int32 row swaps, and info (0, or the index of the first zero pivot).

    >>> import ember
    >>> ember.linalg.lu_factor_ex(ember.tensor([[0.0, 1.0], [2.0, 3.0]])).pivots
    tensor([2, 2], dtype=ember.int32)
    """
    _check(A, "linalg.lu_factor_ex", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, pivots, info = _native(A, "lu_factor_ex")
    if _needs_grad(A):
        record(_lu_factor_op, (A,), LU, {"pivots": pivots})
    if check_errors:
        _check_info(info, A, "torch.linalg.lu_factor_ex", _lu_message)
    return lu_factor_ex_ret(LU, pivots, info)


def _lu_message(k):
    return (f"U[{k},{k}] is zero and using it on lu_solve would result in a division by zero. "
            "If you still want to perform the factorization, consider calling linalg.lu(A, "
            "pivot) or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True):
    """(LU, pivots) of A = P L U; RuntimeError when U has a zero on its diagonal."""
    _check(A, "linalg.lu_factor", square=False)
    LU, pivots, info = lu_factor_ex(A, pivot=pivot)
    # (a plain RuntimeError in torch, not a LinAlgError)
    _check_info(info, A, "torch.linalg.lu_factor", _lu_message, RuntimeError)
    return lu_factor_ret(LU, pivots)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """(P, L, U) from lu_factor's compact form (empty tensors for the parts not unpacked)."""
    LU = LU_data
    m, n = LU.shape[-2], LU.shape[-1]
    k = min(m, n)
    L = U = P = _empty(LU.dtype, LU.device)
    if unpack_data:
        L = LU.tril(-1).narrow(-1, 0, k) + _eye_like(LU, m, k)
        U = LU.triu().narrow(-2, 0, k)
    if unpack_pivots:
        perm = _native(LU_pivots, "lu_permutation", m)
        cols = _C.arange(m, device=LU.device)
        # row i of P^T A is row perm[i] of A: P[perm[i], i] = 1
        P = (perm.unsqueeze(-1) == cols).to(LU.dtype).mT
        if tuple(P.shape[:-2]) != tuple(LU.shape[:-2]):
            P = P.expand(tuple(LU.shape[:-2]) + (m, m))
    return lu_unpack_ret(P, L, U)


def lu(A, *, pivot=True):
    """(P, L, U) with A = P L U (differentiable; singular matrices are fine)."""
    _check(A, "linalg.lu", square=False)
    LU, pivots, _ = lu_factor_ex(A, pivot=pivot)
    return lu_ret(*lu_unpack(LU, pivots))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False):
    """X with A X = B from lu_factor's (LU, pivots) of A (A^H X = B when adjoint; X A = B when
    not left)."""
    _check(LU, "linalg.lu_solve")
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    _same_dtype(LU, B, "linalg.lu_solve")
    if not left:  # X A = B  <=>  A^H X^H = B^H
        return lu_solve(LU, pivots, B.mH, adjoint=not adjoint).mH
    if LU.shape[-1] != B.shape[-2]:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({LU.shape[-2]}x{LU.shape[-1]} and {B.shape[-2]}x"
                           f"{B.shape[-1]})")
    P, L, U = lu_unpack(LU, pivots)
    if not adjoint:  # X = U^-1 L^-1 P^T B
        Y = solve_triangular(L, P.mT @ B, upper=False, unitriangular=True)
        return solve_triangular(U, Y, upper=True)
    # A^H = U^H L^H P^T: X = P L^-H U^-H B
    Y = solve_triangular(U.mH, B, upper=False)
    return P @ solve_triangular(L.mH, Y, upper=True, unitriangular=True)


# ---- Cholesky --------------------------------------------------------------------------------

cholesky_ex_ret = _return_types.make("linalg_cholesky_ex", ["L", "info"])


def _g_cholesky(ctx, g):
    # From dA = dL L^H + L dL^H: with M = L^H g, the gradient is L^-H P L^-1, P the lower
    # triangle of M with its strict part mirrored (conjugated) and everything halved: the
    # Hermitian gradient torch reports.
    L = ctx.out
    M = L.mH @ g
    P = 0.5 * (M.tril() + M.tril(-1).mH)
    X = solve_triangular(L.mH, P, upper=True)
    return (solve_triangular(L, X, upper=False, left=False),)


_cholesky_op = defop("linalg_cholesky", _g_cholesky, out=True,
                     node_name="LinalgCholeskyExBackward0")


def _cholesky_message(k):
    return ("The factorization could not be completed because the input is not "
            f"positive-definite (the leading minor of order {k} is not positive-definite).")


@_amp.float32_op(name="linalg_cholesky_ex")
def cholesky_ex(A, *, upper=False, check_errors=False):
    """(L, info): info is 0, or the order of the first leading minor that is not positive."""
    _check(A, "linalg.cholesky_ex")
    L, info = _native(A, "cholesky_ex")
    if _needs_grad(A):
        record(_cholesky_op, (A,), L)
    if check_errors:
        _check_info(info, A, "linalg.cholesky_ex", _cholesky_message)
    return cholesky_ex_ret(L.mH if upper else L, info)


@_amp.float32_op(name="linalg_cholesky")
def cholesky(A, *, upper=False):
    """L with A = L L^H (U^H U when upper); LinAlgError when A is not positive-definite."""
    _check(A, "linalg.cholesky")
    L, info = cholesky_ex(A, upper=upper)
    _check_info(info, A, "linalg.cholesky", _cholesky_message)
    return L


# ---- LDL^T (Bunch-Kaufman) -------------------------------------------------------------------

ldl_factor_ex_ret = _return_types.make("linalg_ldl_factor_ex", ["LD", "pivots", "info"])
ldl_factor_ret = _return_types.make("linalg_ldl_factor", ["LD", "pivots"])


def _not_differentiable(name):
    def backward(ctx, *grads):
        raise RuntimeError(f"derivative for aten::{name} is not implemented")
    return defop(name, backward, node_name=f"{''.join(p.title() for p in name.split('_'))}"
                                           "Backward0")


_ldl_factor_op = _not_differentiable("linalg_ldl_factor_ex")
_ldl_solve_op = _not_differentiable("linalg_ldl_solve")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False):
    """(LD, pivots, info): LAPACK sytrf's compact L D L^T of a symmetric A (read from its lower
    triangle; D has 1x1 and 2x2 blocks), its pivots, and info (0, or the first zero of D).
    A complex A is complex symmetric (A = A^T, sytrf), or Hermitian with ``hermitian=True``
    (A = L D L^H, hetrf: D's diagonal real); for a real A ``hermitian`` changes nothing.
    Not differentiable, as in torch.

    Example::

        >>> A = ember.tensor([[4.0 + 0j, 1 - 2j], [1 + 2j, 3.0]])
        >>> LD, pivots, info = ember.linalg.ldl_factor_ex(A, hermitian=True)
        >>> X = ember.linalg.ldl_solve(LD, pivots, ember.eye(2, dtype=A.dtype), hermitian=True)
    """
    _check(A, "torch.linalg.ldl_factor_ex")
    LD, pivots, info = _native(A, "ldl_factor_ex", bool(hermitian))
    if _needs_grad(A):
        record(_ldl_factor_op, (A,), LD)
    if check_errors:
        _check_info(info, A, "torch.linalg.ldl_factor_ex", _ldl_message)
    return ldl_factor_ex_ret(LD, pivots, info)


def _ldl_message(k):
    return f"The factorization could not be completed because D[{k},{k}] is zero (singular A)."


def ldl_factor(A, *, hermitian=False):
    """(LD, pivots) of ldl_factor_ex; RuntimeError when D is singular."""
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    _check_info(info, A, "torch.linalg.ldl_factor", _ldl_message)
    return ldl_factor_ret(LD, pivots)


def ldl_solve(LD, pivots, B, *, hermitian=False):
    """X with A X = B from ldl_factor's (LD, pivots) of A (LAPACK sytrs; hetrs for a complex
    LD with ``hermitian=True``, which must match the factorization's)."""
    _check(LD, "torch.linalg.ldl_solve")
    if not isinstance(B, Tensor) or B.ndim < 2:
        raise RuntimeError("torch.linalg.ldl_solve: Expected B to have at least 2 dimensions, "
                           f"but it has {B.ndim if isinstance(B, Tensor) else 0} dimensions "
                           "instead")
    if B.dtype is not LD.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type "
                           f"{_dt_name(B.dtype)} and A of type {_dt_name(LD.dtype)} instead.")
    if LD.shape[-1] != B.shape[-2]:
        raise RuntimeError(f"Incompatible matrix sizes for torch.linalg.ldl_solve: each A matrix "
                           f"is {LD.shape[-2]} by {LD.shape[-1]} but each b matrix is "
                           f"{B.shape[-2]} by {B.shape[-1]}")
    X = _native(LD, "ldl_solve", pivots, B, bool(hermitian))
    if _needs_grad(LD, B):
        record(_ldl_solve_op, (LD, B), X)
    return X


# ---- SVD, QR, eigh ---------------------------------------------------------------------------

svd_ret = _return_types.make("linalg_svd", ["U", "S", "Vh"])
qr_ret = _return_types.make("linalg_qr", ["Q", "R"])
eigh_ret = _return_types.make("linalg_eigh", ["eigenvalues", "eigenvectors"])


def _check_phase_invariant(im_diag, op, what):
    """torch's check that a loss does not depend on the phases of complex singular vectors or
    eigenvectors (which the decomposition does not determine)."""
    if not bool((im_diag.abs() <= 1e-2).all()):
        raise RuntimeError(f"{op}: The {what} in the complex case are specified up to "
                           "multiplication by e^{i phi}. The specified loss function depends "
                           "on this phase term, making it ill-defined.")


def _svd_backward(gU, gS, gVh, U, S, Vh):
    """torch's svd_backward (reduced U, Vh)."""
    m, n = U.shape[-2], Vh.shape[-1]
    V, gV = Vh.mH, gVh.mH
    UhgU = U.mH @ gU
    VhgV = V.mH @ gV
    k = S.shape[-1]
    if U.dtype.is_complex:
        im_u = UhgU.diagonal(0, -2, -1).imag
        _check_phase_invariant(im_u + VhgV.diagonal(0, -2, -1).imag, "svd_backward",
                               "singular vectors")
    UhgU = UhgU - UhgU.mH
    VhgV = VhgV - VhgV.mH
    S2 = S * S
    E = S2.unsqueeze(-2) - S2.unsqueeze(-1) + _eye_like(S, k)   # S_j^2 - S_i^2, 1 on diagonal
    gA = (UhgU * S.unsqueeze(-2) + S.unsqueeze(-1) * VhgV) / E
    gA = gA * _off_diagonal_ones(k, S) + gS.diag_embed()
    if U.dtype.is_complex:
        # the phase of u_i v_i^H: Im(u_i^H du_i) / S_i on the diagonal
        gA = gA + (1j * im_u / S).diag_embed()
    if m > n:
        # gA = [U gA + (I_m - U U^H) gU S^-1] V^H
        gA = U @ gA
        gUSinv = gU / S.unsqueeze(-2)
        gA = gA + gUSinv - U @ (U.mH @ gUSinv)
        return gA @ Vh
    if m < n:
        gA = gA @ Vh
        gVSinv = gV / S.unsqueeze(-2)
        gA = gA + gVSinv.mH - (gVSinv.mH @ V) @ Vh
        return U @ gA
    return U @ gA @ Vh


def _g_svd(ctx, gU, gS, gVh):
    U, S, Vh = ctx.outs
    if ctx.params["full"]:  # only the first k singular vectors enter A
        k = S.shape[-1]
        U, gU = U.narrow(-1, 0, k), gU.narrow(-1, 0, k)
        Vh, gVh = Vh.narrow(-2, 0, k), gVh.narrow(-2, 0, k)
    return (_svd_backward(gU, gS, gVh, U, S, Vh),)


_svd_op = defop("linalg_svd", _g_svd, out=True, n_outputs=3, node_name="LinalgSvdBackward0")


@_amp.float32_op(name="linalg_svd")
def svd(A, full_matrices=True, *, driver=None):
    """A = U diag(S) Vh, S descending (differentiable: torch's rule, for distinct S).

    >>> import ember
    >>> ember.linalg.svd(ember.tensor([[3.0, 0.0], [0.0, -2.0]])).S
    tensor([3., 2.])
    """
    _check(A, "linalg.svd", square=False)
    U, S, Vh = _native(A, "svd_full" if full_matrices else "svd")
    if _needs_grad(A):
        record(_svd_op, (A,), (U, S, Vh), {"full": bool(full_matrices)})
    return svd_ret(U, S, Vh)


def _g_svdvals(ctx, g):
    A, = ctx.inputs
    U, _, Vh = svd(A, full_matrices=False)
    return ((U * g.unsqueeze(-2)) @ Vh,)


_svdvals_op = defop("linalg_svdvals", _g_svdvals, inputs=True,
                    node_name="LinalgSvdBackward0")


@_amp.float32_op(name="linalg_svdvals")
def svdvals(A, *, driver=None):
    """The singular values, descending (gradient U diag(g) Vh: fine for repeated values)."""
    _check(A, "linalg.svd", square=False)   # (torch names svd in svdvals' errors)
    S = _native(A, "svd")[1]
    if _needs_grad(A):
        record(_svdvals_op, (A,), S)
    return S


def _qr_square_backward(gQ, gR, Q, R):
    # gA = [gQ + Q syminvadj(triu(gR R^H - Q^H gQ))] R^-H; syminvadj(M) = M + M^H with the
    # real part of its diagonal halved
    M = (gR @ R.mH - Q.mH @ gQ).triu()
    diag = M.diagonal(0, -2, -1)
    M = M + M.mH - (diag.real if M.dtype.is_complex else diag).diag_embed()
    return solve_triangular(R.mH, Q @ M + gQ, upper=False, left=False)


def _g_qr(ctx, gQ, gR):
    Q, R = ctx.outs
    mode = ctx.params["mode"]
    m, n = ctx.params["shape"]
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when "
                           "mode='r'. Please use linalg.qr(A, mode='reduced') if you are going "
                           "to differentiate through linalg.qr.")
    if mode == "complete" and m > n:
        raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                           "and nrows > ncols.")
    if m >= n:
        return (_qr_square_backward(gQ, gR, Q, R),)
    # A = [X | Y], R = [U | V], X = Q U: X's gradient sees gQ + Y gV^H
    Y = ctx.inputs[0].narrow(-1, m, n - m)
    gV = gR.narrow(-1, m, n - m)
    gX = _qr_square_backward(gQ + Y @ gV.mH, gR.narrow(-1, 0, m), Q, R.narrow(-1, 0, m))
    return (_S.cat([gX, Q @ gV], -1),)


_qr_op = defop("linalg_qr", _g_qr, inputs=True, out=True, n_outputs=2,
               node_name="LinalgQrBackward0")


@_amp.float32_op(name="linalg_qr")
def qr(A, mode="reduced"):
    """A = Q R, Q with orthonormal columns, R upper triangular (mode 'reduced', 'complete' or
    'r': R only, Q empty)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           "'reduced' (default), 'r', or 'complete'")
    _check(A, "linalg.qr", square=False)
    Q, R = _native(A, "qr", "complete" if mode == "complete" else "reduced")
    if mode == "r":
        Q = _empty(A.dtype, A.device)
    if _needs_grad(A):
        record(_qr_op, (A,), (Q, R), {"mode": mode, "shape": tuple(A.shape[-2:])})
    return qr_ret(Q, R)


def _check_uplo(UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def _g_eigh(ctx, gL, gV):
    L, V = ctx.outs
    n = L.shape[-1]
    E = L.unsqueeze(-2) - L.unsqueeze(-1) + _eye_like(L, n)   # L_j - L_i, 1 on the diagonal
    VhgV = V.mH @ gV
    if V.dtype.is_complex:
        _check_phase_invariant(VhgV.diagonal(0, -2, -1).imag, "linalg_eigh_backward",
                               "eigenvectors")
    # torch projects onto the skew-Hermitian matrices: its gradient is Hermitian
    inner = 0.5 * (VhgV - VhgV.mH) / E * _off_diagonal_ones(n, L) + gL.diag_embed()
    return (V @ inner @ V.mH,)


_eigh_op = defop("linalg_eigh", _g_eigh, out=True, n_outputs=2, node_name="LinalgEighBackward0")


def _eigh_native(A, UPLO):
    # the kernel reads the lower triangle: A^H's lower triangle is A's upper one (conjugated,
    # so that it stands for the same Hermitian matrix)
    return _native(A if UPLO == "L" else A.mH, "eigh")


@_amp.float32_op(name="linalg_eigh")
def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric matrices, read from
    the ``UPLO`` triangle.

    >>> import ember
    >>> ember.linalg.eigh(ember.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
    tensor([1., 2.])
    """
    _check_uplo(UPLO)
    _check(A, "linalg.eigh")
    w, v = _eigh_native(A, UPLO)
    if _needs_grad(A):
        record(_eigh_op, (A,), (w, v))
    return eigh_ret(w, v)


def _g_eigvalsh(ctx, g):
    A, = ctx.inputs
    V = eigh(A, ctx.params["UPLO"]).eigenvectors
    return ((V * g.unsqueeze(-2)) @ V.mH,)


_eigvalsh_op = defop("linalg_eigvalsh", _g_eigvalsh, inputs=True,
                     node_name="LinalgEighBackward0")


@_amp.float32_op(name="linalg_eigvalsh")
def eigvalsh(A, UPLO="L"):
    """Eigenvalues (ascending) of symmetric matrices."""
    _check_uplo(UPLO)
    _check(A, "linalg.eigvalsh")
    w = _eigh_native(A, UPLO)[0]
    if _needs_grad(A):
        record(_eigvalsh_op, (A,), w, {"UPLO": UPLO})
    return w


# ---- eig, eigvals (general matrices) ---------------------------------------------------------

eig_ret = _return_types.make("linalg_eig", ["eigenvalues", "eigenvectors"])


def _eig_backward(gL, gV, L, V):
    """torch's linalg_eig_backward: gA = V^-H (diag(gL) + P(V^H gV) / conj(E)) V^H, P the
    projection that keeps each eigenvector's norm (LAPACK's gauge: unit columns)."""
    n = L.shape[-1]
    Vh = V.mH
    inner = gL.diag_embed()
    if gV is not None:
        VhgV = Vh @ gV
        diag = VhgV.diagonal(0, -2, -1)
        _check_phase_invariant(diag.imag, "linalg_eig_backward", "eigenvectors")
        VhgV = VhgV - Vh @ (V * diag.real.unsqueeze(-2))
        Lc = L.conj()
        E = Lc.unsqueeze(-2) - Lc.unsqueeze(-1) + _eye_like(L, n)  # conj(L_j - L_i)
        inner = inner + VhgV / E * _off_diagonal_ones(n, L)
    return solve(Vh, inner @ Vh)


def _g_eig(ctx, gL, gV):
    L, V = ctx.outs
    return (_eig_backward(gL, gV, L, V),)


_eig_op = defop("linalg_eig", _g_eig, out=True, n_outputs=2, node_name="LinalgEigBackward0")


def _eig_check(A, op):
    _check(A, op)
    if not bool(A.detach().isfinite().all()):
        raise RuntimeError(f"{op}: input tensor should not contain infs or NaNs.")


@_amp.float32_op(name="linalg_eig")
def eig(A):
    """Eigenvalues and eigenvectors of general square matrices (LAPACK geev): complex results
    (complex64 for float32 input), eigenvectors of unit norm; differentiable for distinct
    eigenvalues and losses that do not depend on the eigenvectors' phases.

    >>> import ember
    >>> ember.linalg.eig(ember.tensor([[0.0, -1.0], [1.0, 0.0]])).eigenvalues
    tensor([0.+1.j, 0.-1.j])
    """
    _eig_check(A, "linalg.eig")
    w, v = _native(A, "eig")
    if _needs_grad(A):
        record(_eig_op, (A,), (w, v))
    return eig_ret(w, v)


def _g_eigvals(ctx, g):
    A, = ctx.inputs
    L, V = eig(A)
    return (_eig_backward(g, None, L, V),)


_eigvals_op = defop("linalg_eigvals", _g_eigvals, inputs=True, node_name="LinalgEigBackward0")


@_amp.float32_op(name="linalg_eigvals")
def eigvals(A):
    """The eigenvalues of general square matrices (complex, in LAPACK's order).

    >>> import ember
    >>> ember.linalg.eigvals(ember.tensor([[2.0, 0.0], [0.0, 3.0]]))
    tensor([2.+0.j, 3.+0.j])
    """
    _eig_check(A, "linalg.eigvals")
    w = _native(A, "eig")[0]
    if _needs_grad(A):
        record(_eigvals_op, (A,), w)
    return w


# ---- pseudo-inverse, rank, least squares -----------------------------------------------------

def _g_pinv(ctx, g):
    """torch's pinv_backward (valid where the rank is locally constant)."""
    A, = ctx.inputs
    pinvA = ctx.out
    m, n = A.shape[-2], A.shape[-1]
    pinvAh, gh = pinvA.mH, g.mH
    if m <= n:
        K = gh @ pinvA
        KpinvAh = K @ pinvAh
        return (-(pinvA @ K).mH + KpinvAh - (A @ pinvA) @ KpinvAh
                + (pinvAh @ pinvA) @ (gh - K @ A),)
    K = pinvA @ gh
    pinvAhK = pinvAh @ K
    return (-(K @ pinvA).mH + (gh - A @ K) @ pinvA @ pinvAh + pinvAhK
            - pinvAhK @ pinvA @ A,)


_pinv_op = defop("linalg_pinv", _g_pinv, inputs=True, out=True, node_name="LinalgPinvBackward0")


def _tolerance(S_max, A, atol, rtol):
    """max(atol, rtol * S_max) with torch's defaults (rtol = eps * max(m, n) when neither is
    given, 0 when only atol is)."""
    if rtol is None:
        rtol = _default_rtol(A) if atol is None or _is_zero(atol) else 0.0
    tol = S_max * rtol
    if atol is not None:
        tol = _maximum(tol, atol) if isinstance(atol, Tensor) else tol.clamp(min=atol)
    return tol


def _is_zero(x):
    return not isinstance(x, Tensor) and x == 0


def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None):
    """The Moore-Penrose pseudo-inverse (singular values <= max(atol, rtol * S_max) dropped).

    >>> import ember
    >>> ember.linalg.pinv(ember.tensor([[2.0, 0.0], [0.0, 0.0]]))
    tensor([[0.5000, 0.0000],
            [0.0000, 0.0000]])
    """
    if not isinstance(A, Tensor) or A.ndim < 2 or not (A.dtype.is_floating_point
                                                       or A.dtype.is_complex):
        what = f"{_dt_name(A.dtype)}{{{list(A.shape)}}}" if isinstance(A, Tensor) else A
        raise RuntimeError(f"linalg.pinv({what}): expected a tensor with 2 or more dimensions of "
                           "float, double, cfloat or cdouble types")
    _check(A, "linalg.pinv", square=hermitian)
    if rcond is not None:
        rtol = rcond
    from .autograd.grad_mode import no_grad
    with no_grad():
        if hermitian:
            w, V = eigh(A)
            tol = _tolerance(w.abs().amax(-1, keepdim=True), A, atol, rtol)
            winv = _where(w.abs() > tol, 1.0 / w, 0.0)
            X = (V * winv.unsqueeze(-2)) @ V.mH
        else:
            U, S, Vh = svd(A, full_matrices=False)
            tol = _tolerance(S.narrow(-1, 0, 1), A, atol, rtol) if S.shape[-1] else S
            Sinv = _where(S > tol, 1.0 / S, 0.0)
            X = (Vh.mH * Sinv.unsqueeze(-2)) @ U.mH
    if _needs_grad(A):
        record(_pinv_op, (A,), X)
    return X


@_amp.float32_op(name="linalg_matrix_rank")
def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None):
    """The number of singular values above max(atol, rtol * S_max) (int64)."""
    _check(A, "linalg.matrix_rank", square=hermitian)
    if tol is not None:
        atol, rtol = tol, 0.0
    from .autograd.grad_mode import no_grad
    with no_grad():
        S = eigvalsh(A).abs() if hermitian else svdvals(A)
        if S.shape[-1] == 0:
            return _C.zeros(tuple(A.shape[:-2]), dtype=_dt.int64, device=A.device)
        tol_ = _tolerance(S.amax(-1, keepdim=True), A, atol, rtol)
        return (S > tol_).sum(-1)


lstsq_ret = _return_types.make("linalg_lstsq",
                               ["solution", "residuals", "rank", "singular_values"])
_LSTSQ_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


@_amp.float32_op(name="linalg_lstsq")
def lstsq(A, B, rcond=None, *, driver=None):
    """The least-squares (minimum-norm) solution of A X = B, with torch's fields: residuals when
    m > n, A has full rank and the driver is not gelsy; rank unless gels; singular values for
    gelsd and gelss; empty tensors otherwise. Differentiable in the solution (through pinv)."""
    if driver is None:
        driver = "gelsy"
    if driver not in _LSTSQ_DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    _check(A, "torch.linalg.lstsq", square=False)
    _same_dtype(A, B, "torch.linalg.lstsq")
    vector = B.ndim == A.ndim - 1
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.ndim < 2 or A.shape[-2] != Bm.shape[-2]:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    m, n = A.shape[-2], A.shape[-1]
    rtol = _default_rtol(A) if rcond is None or rcond < 0 else rcond
    X = pinv(A, rtol=rtol) @ Bm
    from .autograd.grad_mode import no_grad
    real = A.dtype.to_real() if A.dtype.is_complex else A.dtype
    empty = _empty(real, A.device)   # (residuals and singular values are real)
    with no_grad():
        rank = (matrix_rank(A, rtol=rtol) if driver != "gels"
                else _empty(_dt.int64, A.device))
        sv = svdvals(A) if driver in ("gelsd", "gelss") else empty
    residuals = empty
    if m > n and driver != "gelsy" and (driver == "gels" or bool((rank == n).all())):
        r = A @ X - Bm
        if r.dtype.is_complex:
            r = r.abs()
        # (differentiable, as torch's; NOTE: torch keeps the size-1 last dim for a vector B)
        residuals = (r ** 2).sum(-2)
    return lstsq_ret(X.squeeze(-1) if vector else X, residuals, rank, sv)


@_amp.float32_op(name="linalg_cond")
def cond(A, p=None):
    """The condition number of A in the p-norm (the 2-norm by default: S_max / S_min); inf
    for a singular A."""
    spectral = p is None or p in (2, -2)
    _check(A, "linalg.cond", square=not spectral)
    if spectral:
        S = svdvals(A)
        hi = S.narrow(-1, 0, 1).squeeze(-1)
        lo = S.narrow(-1, S.shape[-1] - 1, 1).squeeze(-1)
        return lo / hi if p == -2 else hi / lo
    X, info = inv_ex(A)
    return _where(info != 0, float("inf"), matrix_norm(A, p) * matrix_norm(X, p))


# ---- matrix functions ------------------------------------------------------------------------

def matrix_exp(A):
    """exp(A) = sum A^k / k! (scaling and squaring with a Taylor polynomial; differentiable).

    >>> import ember
    >>> ember.linalg.matrix_exp(ember.zeros(2, 2))
    tensor([[1., 0.],
            [0., 1.]])
    """
    if isinstance(A, Tensor) and A.dtype in (_dt.float16, _dt.bfloat16):
        # NOTE: torch's CPU matrix_exp accepts the half types (the other linalg ops do not);
        # Ember evaluates them in float32 and rounds (torch 2.13's own half-precision results
        # are far off once ||A||_1 nears 1, so they are not replayed)
        _check(A.float(), "linalg.matrix_exp")
        return matrix_exp(A.float()).to(A.dtype)
    _check(A, "linalg.matrix_exp")
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    norm1 = float(A.detach().abs().sum(-2).amax())
    squarings = 0
    if math.isfinite(norm1) and norm1 > 0.5:
        # scale to ||A / 2^s||_1 <= 1/2: the Taylor tail is then below 0.5^(q+1) / (q+1)!
        squarings = max(0, math.ceil(math.log2(norm1)) + 1)
    X = A / (2.0 ** squarings) if squarings else A
    degree = 14 if A.dtype in (_dt.float64, _dt.complex128) else 8
    eye = _eye_like(A, n)
    R = eye + X / degree
    for j in range(degree - 1, 0, -1):  # Horner: I + X/j (I + X/(j+1) (...))
        R = eye + (X @ R) / j
    for _ in range(squarings):
        R = R @ R
    return R


@_amp.float32_op(name="linalg_householder_product")
def householder_product(A, tau):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i the i-th column of A
    below the diagonal with a 1 on it (LAPACK orgqr; differentiable)."""
    op = "torch.linalg.householder_product"
    if A.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    if tau.ndim < 1:
        raise RuntimeError(f"{op}: tau must have at least 1 dimension.")
    m, n = A.shape[-2], A.shape[-1]
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if n < tau.shape[-1]:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    if A.ndim - tau.ndim != 1:
        raise RuntimeError(f"{op}: Expected tau to have one dimension less than input, but "
                           f"got tau.ndim equal to {tau.ndim} and input.ndim is equal to "
                           f"{A.ndim}")
    if tuple(A.shape[:-2]) != tuple(tau.shape[:-1]):
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to "
                           f"input.shape[:-2], but got {tuple(tau.shape[:-1])}")
    _check_dtype(A, op)
    if A.dtype is not tau.dtype:
        raise RuntimeError(f"{op}: tau dtype {_dt_name(tau.dtype)} does not match input dtype "
                           f"{_dt_name(A.dtype)}")
    V = A.tril(-1) + _eye_like(A, m, n)
    Q = _eye_like(A, m, n).expand(tuple(A.shape[:-2]) + (m, n))
    for i in range(tau.shape[-1] - 1, -1, -1):  # H_i (H_{i+1} ... H_k I)
        v = V.narrow(-1, i, 1)
        t = tau.narrow(-1, i, 1).unsqueeze(-1)
        Q = Q - (t * v) @ (v.mH @ Q)
    return Q


def vander(x, *, N=None):
    """The Vandermonde matrix: columns x^0, x^1, ..., x^(N-1) (N defaults to x.shape[-1])."""
    if x.ndim < 1:
        raise RuntimeError("x must be at least 1-dimensional.")
    N = x.shape[-1] if N is None else N
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    col = x.unsqueeze(-1)
    # a cumulative product, not pow: its gradient is finite at x = 0
    powers = col.expand(tuple(x.shape) + (N - 1,)).cumprod(-1)
    return _S.cat([_C.ones_like(col), powers], -1)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of (batched) matrices (a view)."""
    return _S.diagonal(A, offset, dim1, dim2)


def _prod(shape):
    p = 1
    for s in shape:
        p *= s
    return p


@_amp.float32_op(name="linalg_tensorinv")
def tensorinv(A, ind=2):
    """The tensor X with tensordot(X, A, ind) the identity: inv of A as a matrix."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = _prod(A.shape[:ind]), _prod(A.shape[ind:])
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    out_shape = tuple(A.shape[ind:]) + tuple(A.shape[:ind])
    return inv(A.reshape(rows, cols)).reshape(out_shape)


@_amp.float32_op(name="linalg_tensorsolve")
def tensorsolve(A, B, dims=None):
    """X with tensordot(A, X, X.ndim) = B (``dims``: A's dims moved to the end first)."""
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = A.movedim(dims, list(range(A.ndim - len(dims), A.ndim)))
    result_shape = tuple(A.shape[B.ndim:])
    n = _prod(result_shape)
    if n * n != A.numel() or _prod(A.shape[:B.ndim]) != n:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:"
                           f"]) == prod(self.shape[:other.ndim]), but got {n} != "
                           f"{_prod(A.shape[:B.ndim])}")
    return solve(A.reshape(n, n), B.reshape(n)).reshape(result_shape)


def matrix_power(A, n):
    """A @ A @ ... (n times; n < 0 inverts first; n = 0 gives identities)."""
    from .ops.extra import matrix_power as _matrix_power
    return _matrix_power(A, n)


def cross(a, b, dim=-1):
    i = [1, 2, 0]
    j = [2, 0, 1]
    ii = _C.tensor(i, device=a.device)
    jj = _C.tensor(j, device=a.device)
    return a.index_select(dim, ii) * b.index_select(dim, jj) - \
        a.index_select(dim, jj) * b.index_select(dim, ii)


def vecdot(x, y, dim=-1):
    """sum(conj(x) * y) over ``dim`` (x conjugated when complex, as torch)."""
    return (x.conj() * y).sum(dim)


def multi_dot(tensors):
    r = tensors[0]
    for t in tensors[1:]:
        r = r @ t
    return r


# ---- torch.* spellings (deprecated or top-level forms of the above) --------------------------

triangular_solve_ret = _return_types.make("triangular_solve", ["solution", "cloned_coefficient"])
_lu_with_info_ret = namedtuple("lu_with_info", ["LU", "pivots", "info"])


@_amp.float32_op(name="triangular_solve")
def _triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """torch.triangular_solve: (X with op(A) X = b, a copy of A); op(A) = A^T if transpose."""
    M = A.mT if transpose else A
    X = solve_triangular(M, b, upper=upper != transpose, unitriangular=unitriangular)
    # torch's copy of A has the broadcast batch shape
    return triangular_solve_ret(X, A.expand(tuple(X.shape[:-2]) + tuple(A.shape[-2:])).clone())


def _lu(A, pivot=True, get_infos=False):
    """torch.lu: (LU, pivots), and info when get_infos (else errors are raised)."""
    if get_infos:
        return _lu_with_info_ret(*lu_factor_ex(A, pivot=pivot))
    return lu_factor(A, pivot=pivot)


@_amp.float32_op(name="lu_solve")
def _lu_solve(b, LU_data, LU_pivots):
    """torch.lu_solve: X with A X = b from torch.lu's factors (note the argument order)."""
    return lu_solve(LU_data, LU_pivots, b)


#: top-level names (ember.<name>), exported by the package's __init__
TORCH_FUNCTIONS = {"triangular_solve": _triangular_solve, "lu": _lu, "lu_solve": _lu_solve,
                   "lu_unpack": lu_unpack, "matrix_exp": matrix_exp}
