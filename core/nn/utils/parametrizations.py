"""``ember.nn.utils.parametrizations``: weight norm, spectral norm and orthogonal matrices as
parametrizations (``ember.nn.utils.parametrize``), with torch's state_dict layout.

>>> import ember
>>> from ember.nn.utils.parametrizations import weight_norm
>>> m = weight_norm(ember.nn.Linear(3, 2))
>>> sorted(m.state_dict())
['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
"""
from __future__ import annotations

from enum import Enum, auto
from typing import Optional

import ember

from ..modules.conv import ConvTranspose1d, ConvTranspose2d
from ..modules.module import Module
from . import parametrize
from ._norms import (norm_except_dim, normalize, random_unit, reshape_weight_to_matrix,
                     weight_norm_value)

__all__ = ["orthogonal", "weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    def __init__(self, dim: Optional[int] = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_norm_value(weight_g, weight_v, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: Optional[int] = 0) -> Module:
    """Reparametrize ``module.<name>`` as magnitude ``original0`` times direction
    ``original1 / ||original1||`` (norm over every dim but ``dim``; ``None``: the whole tensor)."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations: int = 1, dim: int = 0,
                 eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.dim()
        if n_power_iterations <= 0:
            raise ValueError("Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = reshape_weight_to_matrix(weight.detach(), self.dim)
            h, w = mat.shape
            self.register_buffer("_u", random_unit(h, mat, eps))
            self.register_buffer("_v", random_unit(w, mat, eps))
            # NOTE: torch starts from many more iterations so the first forward is accurate
            self._power_method(mat, 15)

    def _power_method(self, mat, iterations: int) -> None:
        with ember.no_grad():
            u, v = self._u, self._v
            for _ in range(iterations):
                u = normalize(ember.mv(mat, v), self.eps)
                v = normalize(ember.mv(mat.transpose(0, 1), u), self.eps)
            self._u.copy_(u)
            self._v.copy_(v)

    def forward(self, weight):
        if weight.dim() == 1:
            return normalize(weight, self.eps)
        mat = reshape_weight_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = ember.dot(u, ember.mv(mat, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: Optional[int] = None) -> Module:
    """Divide ``module.<name>`` by its spectral norm, estimated by power iteration (one step
    per training forward); ``dim`` defaults to 1 for transposed convolutions, else 0."""
    weight = getattr(module, name, None)
    if not isinstance(weight, ember.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


def _is_orthogonal(Q) -> bool:
    n, k = Q.size(-2), Q.size(-1)
    eye = ember.eye(k, dtype=Q.dtype, device=Q.device)
    eps = 10.0 * n * ember.finfo(Q.dtype).eps
    return ember.allclose(Q.mT @ Q, eye, atol=eps)


def _make_orthogonal(A):
    """The Q of ``A = QR`` (A tall) with ``diag(R) >= 0``, which makes Q unique."""
    Q, R = ember.linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sgn().unsqueeze(-2)


def _geqrf(A):
    """LAPACK ``geqrf`` of a tall (batch of) matrix: R on and above the diagonal, the
    Householder vectors (unit leading entry implied) below it, and their ``tau``."""
    A = A.clone()
    m, n = A.size(-2), A.size(-1)
    taus = []
    for j in range(min(m, n)):
        alpha = A[..., j, j]
        x = A[..., j + 1:, j]
        xnorm = ember.linalg.vector_norm(x, dim=-1)
        # NOTE: LAPACK's dlarfg: beta = -sign(alpha) * ||(alpha, x)||, sign(0) = +1, and no
        # reflection at all (tau = 0) when x is already zero
        sign = ember.where(alpha >= 0, ember.ones_like(alpha), -ember.ones_like(alpha))
        beta = -sign * ember.sqrt(alpha * alpha + xnorm * xnorm)
        reflect = xnorm != 0
        beta = ember.where(reflect, beta, alpha)
        tau = ember.where(reflect, (beta - alpha) / beta, ember.zeros_like(alpha))
        denom = ember.where(reflect, alpha - beta, ember.ones_like(alpha))
        v = ember.cat([ember.ones_like(alpha).unsqueeze(-1), x / denom.unsqueeze(-1)], dim=-1)
        trailing = A[..., j:, j + 1:]
        w = (v.unsqueeze(-1) * trailing).sum(dim=-2) * tau.unsqueeze(-1)
        A[..., j:, j + 1:] = trailing - v.unsqueeze(-1) * w.unsqueeze(-2)
        A[..., j, j] = beta
        A[..., j + 1:, j] = v[..., 1:]
        taus.append(tau)
    return A, ember.stack(taus, dim=-1)


class _Orthogonal(Module):
    def __init__(self, weight, orthogonal_map: _OrthMaps, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        # X is tall (n >= k) from here on
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            # only the n*k - k(k-1)/2 entries on and below the diagonal are used
            X = X.tril()
            if n != k:
                X = ember.cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mT  # skew-symmetric
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = ember.matrix_exp(A)
            else:
                eye = ember.eye(n, dtype=A.dtype, device=A.device)
                Q = ember.linalg.solve(ember.add(eye, A, alpha=-0.5),
                                       ember.add(eye, A, alpha=0.5))
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = ember.linalg.householder_product(A, tau)
            # NOTE: the diagonal of X holds the signs (+-1) of the columns; as torch, it is read
            # through an integer cast so it is neither differentiated nor changed
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if hasattr(self, "base"):
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q):
        with ember.no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q):
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        Q_init = Q
        n, k = Q.size(-2), Q.size(-1)
        transpose = n < k
        if transpose:
            Q = Q.mT
            n, k = k, n
        if not hasattr(self, "base"):
            if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
                raise NotImplementedError("It is not possible to assign to the matrix "
                                          "exponential or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            # Householder: the reflectors of Q's QR, with the signs of diag(R) on the diagonal
            # (flipped where LAPACK skipped the reflection, as forward always reflects)
            A, tau = _geqrf(Q)
            diag = A.diagonal(dim1=-2, dim2=-1).sign()
            diag = ember.where(tau == 0.0, -diag, diag)
            eye = ember.eye(n, k, dtype=A.dtype, device=A.device)
            A = A * (1 - eye) + diag.unsqueeze(-2) * eye
            return A.mT if transpose else A
        if n == k:
            Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
        else:
            # complete Q to an n x n orthogonal matrix whose first k columns span Q's
            N = ember.randn(*(tuple(Q.shape[:-2]) + (n, n - k)), dtype=Q.dtype,
                            device=Q.device)
            Q = _make_orthogonal(ember.cat([Q, N], dim=-1))
        self.base = Q
        # NOTE: forward maps -Id to Id for all three maps, so the weight is base[..., :k]
        neg_eye = -ember.eye(Q_init.size(-2), Q_init.size(-1), dtype=Q_init.dtype,
                             device=Q_init.device)
        return neg_eye.expand(Q_init.shape).clone()


def orthogonal(module: Module, name: str = "weight", orthogonal_map: Optional[str] = None, *,
               use_trivialization: bool = True) -> Module:
    """Constrain ``module.<name>`` (a matrix or batch of matrices, ``(..., m, n)``) to have
    orthonormal columns (``m >= n``) or rows (``m < n``).

    ``orthogonal_map``: ``"matrix_exp"`` or ``"cayley"`` of a skew-symmetric matrix, or
    ``"householder"`` (a product of reflectors); default ``"matrix_exp"`` for square matrices,
    ``"householder"`` otherwise. With ``use_trivialization`` (default) an extra ``base`` matrix
    is kept at ``module.parametrizations.<name>[0].base``.

    At registration the weight keeps its value if it is already orthogonal and is replaced by
    the Q of its QR decomposition (``diag(R) >= 0``) otherwise (with ``use_trivialization`` or
    the ``"householder"`` map; other choices start from the map applied to the current tensor).

    >>> import ember
    >>> from ember.nn.utils.parametrizations import orthogonal
    >>> m = orthogonal(ember.nn.Linear(3, 5))
    >>> Q = m.weight
    >>> bool(ember.allclose(Q.T @ Q, ember.eye(3), atol=1e-5))
    True
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, ember.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. "
                         f"Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.size(-2) == weight.size(-1) else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
