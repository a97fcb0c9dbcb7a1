"""The Dirichlet distribution over the probability simplex."""
from __future__ import annotations

import ember

from . import constraints
from .exp_family import ExponentialFamily
from .gamma import _rsample_standard_gamma
from .utils import finfo

__all__ = ["Dirichlet"]


def _sample_dirichlet(concentration):
    """Independent Gamma(c_i, 1) draws normalised to sum to one (reparameterized: the
    gamma draws carry their implicit gradients through the normalisation)."""
    g = _rsample_standard_gamma(concentration)
    x = g / g.sum(-1, keepdim=True)
    return x.clamp(min=finfo(x.dtype).tiny)


class Dirichlet(ExponentialFamily):
    """Dirichlet(concentration): vectors on the simplex, over the last dimension.

    Sampling is exact; ``rsample`` differentiates through the gamma draws (see Gamma).
    """

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration, validate_args=None):
        if concentration.ndim < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        super().__init__(concentration.shape[:-1], concentration.shape[-1:],
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Dirichlet, _instance)
        batch_shape = ember.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape + self.event_shape)
        super(Dirichlet, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        return _sample_dirichlet(self.concentration.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        c = self.concentration
        return (ember.xlogy(c - 1.0, value).sum(-1) + ember.lgamma(c.sum(-1))
                - ember.lgamma(c).sum(-1))

    @property
    def mean(self):
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self):
        concm1 = (self.concentration - 1).clamp(min=0.0)
        mode = concm1 / concm1.sum(-1, keepdim=True)
        # with every concentration below one, every vertex is a mode: report the first, as
        # torch does
        k = concm1.shape[-1]
        first = (ember.arange(k, device=concm1.device) == 0).to(mode.dtype)
        all_small = (self.concentration < 1).all(-1, keepdim=True)
        return ember.where(all_small, first, mode)

    @property
    def variance(self):
        c = self.concentration
        c0 = c.sum(-1, keepdim=True)
        return c * (c0 - c) / (c0.pow(2) * (c0 + 1))

    def entropy(self):
        c = self.concentration
        k = c.shape[-1]
        a0 = c.sum(-1)
        return (ember.lgamma(c).sum(-1) - ember.lgamma(a0) - (k - a0) * ember.digamma(a0)
                - ((c - 1.0) * ember.digamma(c)).sum(-1))

    @property
    def _natural_params(self):
        return (self.concentration,)

    def _log_normalizer(self, x):
        return ember.lgamma(x).sum(-1) - ember.lgamma(x.sum(-1))
