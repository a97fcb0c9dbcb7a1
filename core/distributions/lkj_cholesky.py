"""The LKJ distribution over lower Cholesky factors of correlation matrices
(as torch.distributions.LKJCholesky)."""
from __future__ import annotations

import math

import ember

from . import constraints
from .beta import Beta
from .distribution import Distribution
from .utils import broadcast_all, finfo

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    """LKJCholesky(dim, concentration): the law of L with L L^T a correlation matrix M of
    density proportional to det(M)^(concentration - 1); concentration 1 is uniform over the
    Cholesky factors. Draws use the onion method (Lewandowski, Kurowicka and Joe, 2009, s. 3):
    row i is sqrt(y_i) times a uniform direction, y_i ~ Beta(i / 2, concentration + (dim - 2
    - i) / 2), and the diagonal completes the unit row norm. There is no ``rsample``.

    >>> LKJCholesky(2, 1.0).log_prob(ember.eye(2))
    tensor(-0.6931)
    """

    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError("Expected dim to be an integer greater than or equal to 2. "
                             f"Found dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_all(concentration)
        batch_shape = self.concentration.shape
        self._beta = self._row_betas(self.concentration)
        super().__init__(batch_shape, ember.Size((dim, dim)), validate_args)

    def _row_betas(self, concentration):
        """Beta(i / 2, concentration + (dim - 1 - i) / 2) for the squared norm of row i's
        off-diagonal part (row 0 has none: its draw is multiplied by 0, Beta(1/2, .) keeps
        it valid)."""
        # NOTE: torch 2.13 takes Beta(i - 1/2, .) for rows i >= 1, which agrees for row 1 only;
        # its draws then disagree with its own log_prob from dim 3 on (E r_ij^2 is not
        # 1 / (2 concentration + dim - 1) for i >= 2). Ember draws from the onion method as
        # published, so draws and log_prob describe one law.
        c = concentration
        i = ember.arange(self.dim, dtype=c.dtype, device=c.device)
        conc1 = (0.5 * i).clamp(min=0.5)
        marginal = c + 0.5 * (self.dim - 1)
        return Beta(conc1, marginal.unsqueeze(-1) - 0.5 * i.clamp(min=1))

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LKJCholesky, _instance)
        batch_shape = ember.Size(batch_shape)
        new.dim = self.dim
        new.concentration = self.concentration.expand(batch_shape)
        new._beta = self._beta.expand(batch_shape + (self.dim,))
        super(LKJCholesky, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        with ember.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            shape = self._extended_shape(sample_shape)
            u = ember.randn(shape, dtype=y.dtype, device=y.device).tril(-1)
            # row 0 has no off-diagonal part: its direction is 0 (not 0 / 0)
            first_row = ember.arange(self.dim, device=y.device).unsqueeze(-1) == 0
            norm = ember.where(first_row, 1.0, u.norm(dim=-1, keepdim=True))
            w = y.sqrt() * (u / norm)
            diag = (1 - w.pow(2).sum(-1)).clamp(min=finfo(w.dtype).tiny).sqrt()
            return w + ember.diag_embed(diag)

    def log_prob(self, value):
        # Lewandowski et al. give the density of M = L L^T; the Jacobian of L -> M adds
        # prod_i L_ii^(dim - i), so log p(L) = sum_{i >= 1} (2 (c - 1) + dim - i - 1) log L_ii
        # less the normaliser
        if self._validate_args:
            self._validate_sample(value)
        diag = value.diagonal(dim1=-1, dim2=-2)[..., 1:]
        order = ember.arange(2, self.dim + 1, device=self.concentration.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + self.dim - order
        unnormalized = (order * diag.log()).sum(-1)
        dm1 = self.dim - 1
        alpha = self.concentration + 0.5 * dm1
        normalizer = (0.5 * dm1 * math.log(math.pi) + ember.mvlgamma(alpha - 0.5, p=dm1)
                      - ember.lgamma(alpha) * dm1)
        return unnormalized - normalizer
