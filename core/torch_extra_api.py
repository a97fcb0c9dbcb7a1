"""Top-level torch names that are thin over Ember's own ops: the deprecated linalg spellings
(``torch.solve`` ... which torch itself now refuses), ``nuclear_norm`` / ``frobenius_norm``,
the randomized ``svd_lowrank`` / ``pca_lowrank``, ``binomial``, the anomaly-mode flags,
``set_default_tensor_type`` and the window functions.

>>> import ember
>>> ember.hann_window(4).tolist()
[0.0, 0.5, 1.0, 0.5]
"""
from __future__ import annotations

import math
import warnings
from typing import Optional, Sequence

from . import dtypes as _dt
from .autograd.anomaly import (is_anomaly_check_nan_enabled, is_anomaly_enabled,  # noqa: F401
                               set_anomaly_enabled)
from .tensor import Tensor

__all__ = ["solve", "lstsq", "matrix_rank", "eig", "nuclear_norm", "frobenius_norm",
           "svd_lowrank", "pca_lowrank", "binomial", "set_default_tensor_type",
           "is_anomaly_enabled", "set_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


# ---- removed linalg spellings: torch 2.x keeps the names only to raise these --------------
_REMOVED = "This function was deprecated since version 1.9 and is now removed. "


def solve(input, A, *, out=None):
    raise RuntimeError(
        _REMOVED + "`torch.solve` is deprecated in favor of `torch.linalg.solve`. "
        "`torch.linalg.solve` has its arguments reversed and does not return the LU "
        "factorization.\n\nTo get the LU factorization see `torch.lu`, which can be used with "
        "`torch.lu_solve` or `torch.lu_unpack`.\nX = torch.solve(B, A).solution should be "
        "replaced with:\nX = torch.linalg.solve(A, B)")


def lstsq(input, A, *, out=None):
    raise RuntimeError(
        _REMOVED + "`torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
        "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition "
        "in the returned tuple (although it returns other information about the problem).\n\n"
        "To get the QR decomposition consider using `torch.linalg.qr`.\n\nThe returned solution "
        "in `torch.lstsq` stored the residuals of the solution in the last m - n columns of the "
        "returned value whenever m > n. In torch.linalg.lstsq, the residuals are in the field "
        "'residuals' of the returned named tuple.\n\nThe unpacking of the solution, as in\n"
        "X, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be replaced with:\n"
        "X = torch.linalg.lstsq(A, B).solution")


def matrix_rank(input, tol=None, symmetric=False, *, out=None):
    raise RuntimeError(
        "This function was deprecated since version 1.9 and is now removed.\nPlease use the "
        "`torch.linalg.matrix_rank` function instead. The parameter 'symmetric' was renamed in "
        "`torch.linalg.matrix_rank()` to 'hermitian'.")


def eig(self, eigenvectors: bool = False, *, e=None, v=None):
    raise RuntimeError(
        _REMOVED + "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` "
        "rather than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be "
        "replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, "
        "eigenvectors=True) should be replaced with:\nL_complex, V_complex = "
        "torch.linalg.eig(A)")


# ---- norms ---------------------------------------------------------------------------------
def nuclear_norm(input, dim=None, keepdim: bool = False):
    """The sum of singular values over the matrix dims ``dim`` (default the last two); torch's
    JIT-era spelling of ``linalg.matrix_norm(input, 'nuc', dim, keepdim)``."""
    from .linalg_api import matrix_norm
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim)


def frobenius_norm(input, dim: Sequence[int], keepdim: bool = False):
    """The 2-norm over at most two dims ``dim`` (all dims when empty)."""
    from .ops.reduction import norm
    dims = tuple(dim) if isinstance(dim, (list, tuple)) else (dim,)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions "
                           f"instead.")
    return norm(input, 2, dims if dims else None, keepdim)


# ---- randomized low-rank SVD / PCA (Halko, Martinsson and Tropp 2009) --------------------
def _approximate_basis(A, q, niter, M=None):
    """An orthonormal (.., m, q) Q whose span approximates the range of A - M."""
    from .linalg_api import qr
    from .ops.creation import randn
    R = randn(A.shape[-1], q, dtype=A.dtype, device=A.device)
    X = A @ R if M is None else A @ R - M @ R
    Q = qr(X).Q
    for _ in range(niter):
        X = A.mH @ Q if M is None else A.mH @ Q - M.mH @ Q
        Q = qr(X).Q
        X = A @ Q if M is None else A @ Q - M @ Q
        Q = qr(X).Q
    return Q


def _svd_lowrank(A, q, niter, M):
    from .linalg_api import svd
    m, n = A.shape[-2:]
    if M is not None:
        M = M.broadcast_to(A.shape)
    if m < n:
        A = A.mH
        M = None if M is None else M.mH
    Q = _approximate_basis(A, q, niter, M)
    B = Q.mH @ A if M is None else Q.mH @ A - Q.mH @ M
    U, S, Vh = svd(B, full_matrices=False)
    V = Vh.mH
    U = Q @ U
    if m < n:
        U, V = V, U
    return U, S, V


def svd_lowrank(A: Tensor, q: Optional[int] = 6, niter: int = 2, M: Optional[Tensor] = None):
    """(U, S, V) of a rank-``q`` approximate SVD of ``A - M`` (A ~ U diag(S) V^T), from a
    random projection refined by ``niter`` subspace iterations; exact when rank(A) <= q."""
    return _svd_lowrank(A, 6 if q is None else q, niter, M)


def pca_lowrank(A: Tensor, q: Optional[int] = None, center: bool = True, niter: int = 2):
    """(U, S, V) of ``svd_lowrank`` on ``A`` with its column means removed (``center``)."""
    m, n = A.shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (q >= 0 and q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than "
                         f"min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return _svd_lowrank(A, q, niter, None)
    return _svd_lowrank(A - A.mean(dim=(-2,), keepdim=True), q, niter, None)


# ---- sampling ------------------------------------------------------------------------------
def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """Binomial(count, prob) draws, elementwise (float ``count``, as torch): the number of
    ``count`` Bernoulli(prob) trials that succeed. A negative count gives 0; prob is clamped
    to [0, 1]. (Sums ``max(count)`` uniform draws: meant for moderate counts.)"""
    from .ops.creation import rand, zeros_like
    from .ops.elementwise import where
    if not count.dtype.is_floating_point:
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{_dt_title(count.dtype)}")
    if prob.dtype is not count.dtype:
        raise RuntimeError(f"Found dtype {_dt_title(prob.dtype)} but expected "
                           f"{_dt_title(count.dtype)}")
    count, prob = count.detach(), prob.detach()
    n = int(count.max().item()) if count.numel() else 0
    hits = zeros_like(count)
    for k in range(max(n, 0)):
        u = rand(count.shape, dtype=count.dtype, device=count.device, generator=generator)
        hits = hits + where((u < prob) & (count > k), 1.0, 0.0).to(count.dtype)
    return hits


def _dt_title(dt) -> str:
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
             "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char",
             "uint8": "Byte", "bool": "Bool"}
    return names.get(dt.name, dt.name)


# ---- default tensor type -------------------------------------------------------------------
def set_default_tensor_type(t) -> None:
    """Deprecated torch spelling of ``set_default_dtype`` (and, for ``torch.cuda.*Tensor``,
    ``set_default_device``): ``t`` is a legacy tensor type or its name."""
    from . import compat
    warnings.warn("torch.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use "
                  "torch.set_default_dtype() and torch.set_default_device() as alternatives.",
                  UserWarning, stacklevel=2)
    name = t if isinstance(t, str) else getattr(t, "__name__", str(t))
    parts = name.split(".")
    cls = getattr(compat, parts[-1], None)
    if cls is None or not hasattr(cls, "dtype") or parts[0] not in ("torch", "ember", parts[-1]):
        raise TypeError(f"invalid type: '{name}'")
    if not cls.dtype.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    _dt.set_default_dtype(cls.dtype)
    if "cuda" in parts[1:-1]:
        from .device import set_default_device
        set_default_device("cuda")


# ---- windows -------------------------------------------------------------------------------
def _window(name, n, periodic, dtype, device, requires_grad, fn):
    from .ops.creation import arange, ones, zeros
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"{name}(): argument 'window_length' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={n}")
    dt = _dt.get_default_dtype() if dtype is None else _dt.to_dtype(dtype)
    if not dt.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    if n == 0:
        w = zeros(0, dtype=dt, device=device)
    elif n == 1:
        w = ones(1, dtype=dt, device=device)
    else:
        length = n + 1 if periodic else n
        w = fn(arange(length, dtype=dt, device=device), length)
        if periodic:
            w = w[:n]
    return w.requires_grad_(requires_grad) if requires_grad else w


def _hamming(alpha, beta):
    def fn(k, length):
        return (k * (2 * math.pi / (length - 1))).cos() * -beta + alpha
    return fn


def _blackman(k, length):
    # NOTE: torch's order of terms (0.08 cos 2w - 0.5 cos w + 0.42) gives +0.0 at the ends
    w = k * (math.pi / (length - 1))
    return (w * 4).cos() * 0.08 - (w * 2).cos() * 0.5 + 0.42


def _bartlett(k, length):
    w = k * (2.0 / (length - 1))
    half = ((length - 1) >> 1) + 1
    return w.where(k < half, 2 - w)


def hann_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                device=None, requires_grad: bool = False) -> Tensor:
    """0.5 - 0.5 cos(2 pi k / (N - 1)); ``periodic`` drops the last point of an N+1 window.

    >>> import ember
    >>> ember.hann_window(5, periodic=False).tolist()
    [0.0, 0.5, 1.0, 0.5, 0.0]
    """
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   _hamming(0.5, 0.5))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype=None, layout=None, device=None,
                   requires_grad: bool = False) -> Tensor:
    """alpha - beta cos(2 pi k / (N - 1)) (``periodic``: as hann_window)."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   _hamming(alpha, beta))


def blackman_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """0.42 - 0.5 cos(2 pi k / (N - 1)) + 0.08 cos(4 pi k / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   _blackman)


def bartlett_window(window_length: int, periodic: bool = True, *, dtype=None, layout=None,
                    device=None, requires_grad: bool = False) -> Tensor:
    """The triangle 1 - |2k / (N - 1) - 1|."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   _bartlett)


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype=None, layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """I0(beta sqrt(1 - ((k - a) / a)^2)) / I0(beta), a = (N - 1) / 2."""
    def fn(k, length):
        # evaluated in float64 where the device has it, then rounded (torch's float32 i0 is
        # within an ulp of that)
        wide = k.to(_dt.float64) if "float64" in k._device._backend.dtypes else k
        a = (length - 1) / 2.0
        r = (wide - a) / a
        w = (beta * (1 - r * r).abs().sqrt()).i0() / wide.new_full((), beta).i0()
        return w.to(k.dtype)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, fn)
