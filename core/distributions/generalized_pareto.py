"""The generalized Pareto distribution (as torch.distributions.GeneralizedPareto)."""
from __future__ import annotations

import math
from numbers import Number

import ember

from . import constraints
from .distribution import Distribution
from .utils import broadcast_all

__all__ = ["GeneralizedPareto"]


class GeneralizedPareto(Distribution):
    """GeneralizedPareto(loc, scale, concentration): survival function
    (1 + c (x - loc) / scale)^(-1/c), or exp(-(x - loc) / scale) at c = 0.

    Exponential (loc = 0, c = 0), Pareto (c > 0, loc = scale / c) and Uniform (c = -1) are
    special cases. Draws are the inverse cdf of uniform noise, so ``rsample`` differentiates.

    >>> GeneralizedPareto(0.0, 1.0, 0.0).log_prob(ember.tensor(1.0))
    tensor(-1.)
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive,
                       "concentration": constraints.real}
    has_rsample = True

    def __init__(self, loc, scale, concentration, validate_args=None):
        self.loc, self.scale, self.concentration = broadcast_all(loc, scale, concentration)
        if all(isinstance(v, Number) for v in (loc, scale, concentration)):
            batch_shape = ember.Size()
        else:
            batch_shape = self.loc.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(GeneralizedPareto, _instance)
        batch_shape = ember.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        super(GeneralizedPareto, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def _safe_concentration(self):
        """(c == 0 up to isclose's default tolerance, c with those entries set to 1): the
        c = 0 branch is the exponential limit, and the other branch must stay finite there."""
        c = self.concentration
        # NOTE: torch compares with isclose(c, 0) (rtol 1e-5, atol 1e-8): match its cut-off
        eq_zero = ember.isclose(c, ember.zeros_like(c))
        return eq_zero, ember.where(eq_zero, ember.ones_like(c), c)

    def _z(self, value):
        return (value - self.loc) / self.scale

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = ember.rand(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.icdf(u)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, c = self._safe_concentration()
        y = 1 / c + ember.ones_like(z)
        # c = -1 (uniform): y = 0 and the density is flat, whatever log1p(c z) is
        nonzero = ember.where(y == 0, y, y * (c * z).log1p())
        return -self.scale.log() - ember.where(eq_zero, z, nonzero)

    def log_survival_function(self, value):
        if self._validate_args:
            self._validate_sample(value)
        z = self._z(value)
        eq_zero, c = self._safe_concentration()
        return ember.where(eq_zero, -z, -(c * z).log1p() / c)

    def log_cdf(self, value):
        return (-self.log_survival_function(value).exp()).log1p()

    def cdf(self, value):
        return self.log_cdf(value).exp()

    def icdf(self, value):
        eq_zero, c = self._safe_concentration()
        log_u = (-value).log1p()
        nonzero = self.loc + self.scale / c * (-c * log_u).expm1()
        return ember.where(eq_zero, self.loc - self.scale * log_u, nonzero)

    @property
    def mean(self):
        c = self.concentration
        valid = c < 1  # the mean is infinite from c = 1 on: torch reports nan
        safe = ember.where(valid, c, ember.full_like(c, 0.5))
        return ember.where(valid, self.loc + self.scale / (1 - safe), math.nan)

    @property
    def variance(self):
        c = self.concentration
        valid = c < 0.5
        safe = ember.where(valid, c, ember.full_like(c, 0.25))
        result = self.scale.pow(2) / ((1 - safe).pow(2) * (1 - 2 * safe))
        return ember.where(valid, result, math.nan)

    @property
    def mode(self):
        return self.loc

    def entropy(self):
        return (self.scale.log() + self.concentration + 1).expand(self._batch_shape)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        c = self.concentration
        # bounded above only for c < 0, at loc - scale / c
        upper = ember.where(c < 0, self.loc - self.scale / c, math.inf)
        return constraints.interval(self.loc, upper)
