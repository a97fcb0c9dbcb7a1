"""The Gamma distribution, and the standard-gamma sampler that Dirichlet and Beta share."""
from __future__ import annotations

from numbers import Number

import ember

from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, finfo

__all__ = ["Gamma"]


def _standard_gamma(alpha):
    """Draws of Gamma(alpha, 1), one per element of ``alpha``, without gradient.

    Marsaglia and Tsang's method (2000): for a >= 1, d = a - 1/3, c = 1/sqrt(9d), a normal x
    gives v = (1 + c x)^3 and d v is accepted when log u < x^2/2 + d - d v + d log v. It is
    exact rejection sampling (about 95% accepted), run on whole tensors until every element
    is accepted. For a < 1 the draw is Gamma(a + 1) * U^(1/a).
    """
    with ember.no_grad():
        alpha = alpha.detach()
        small = alpha < 1
        a = ember.where(small, alpha + 1, alpha)
        d = a - 1 / 3
        c = (9 * d).rsqrt()
        out = ember.zeros_like(a)
        done = ember.zeros(a.shape, dtype=ember.bool, device=a.device)
        tiny = finfo(a.dtype).tiny
        while not bool(done.all()):
            x = ember.randn(a.shape, dtype=a.dtype, device=a.device)
            u = ember.rand(a.shape, dtype=a.dtype, device=a.device)
            v = (1 + c * x) ** 3
            log_v = v.clamp(min=tiny).log()
            ok = (v > 0) & (u.log() < 0.5 * x * x + d - d * v + d * log_v) & ~done
            out = ember.where(ok, d * v, out)
            done = done | ok
        u = ember.rand(a.shape, dtype=a.dtype, device=a.device)
        # U^(1/a) as exp(log U / a): a tiny a underflows to 0, which the clamp below lifts
        boost = ember.where(small, (u.log() / alpha).exp(), 1.0)
        return (out * boost).clamp(min=tiny)


class Gamma(ExponentialFamily):
    """Gamma(concentration, rate): density rate^a x^(a-1) exp(-rate x) / Gamma(a) on x > 0.

    Sampling is exact (see ``_standard_gamma``) but not reparameterized: ember has no
    gradient of the gamma CDF, so ``rsample`` and ``cdf`` are not provided.
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    _mean_carrier_measure = 0

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        both_numbers = isinstance(concentration, Number) and isinstance(rate, Number)
        batch_shape = ember.Size() if both_numbers else self.concentration.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        batch_shape = ember.Size(batch_shape)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        super(Gamma, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with ember.no_grad():
            value = _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
            return value.clamp(min=finfo(value.dtype).tiny)

    def log_prob(self, value):
        value = ember.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return ember.xlogy(a, b) + ember.xlogy(a - 1, value) - b * value - ember.lgamma(a)

    def entropy(self):
        a = self.concentration
        return a - self.rate.log() + ember.lgamma(a) + (1.0 - a) * ember.digamma(a)

    @property
    def _natural_params(self):
        return (self.concentration - 1, -self.rate)

    def _log_normalizer(self, x, y):
        return ember.lgamma(x + 1) + (x + 1) * (-y.reciprocal()).log()
