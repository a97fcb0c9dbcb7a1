"""The Gamma distribution, and the standard-gamma sampler that Dirichlet and Beta share."""
from __future__ import annotations

from numbers import Number

import ember

from . import constraints
from .exp_family import ExponentialFamily
from .utils import broadcast_all, finfo

__all__ = ["Chi2", "Gamma"]


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


def _work_dtype(t):
    """float64 where the backend has it: the gradient series below cancels terms."""
    caps = ember.backends.capabilities(t.device.type)["dtypes"]
    return ember.float64 if "float64" in caps else t.dtype


# above this concentration the series needs ~sqrt(a) terms; Wilson-Hilferty is accurate there
_LARGE_ALPHA = 2000.0


def _standard_gamma_grad(x, alpha):
    """d x / d alpha for x ~ Gamma(alpha, 1) at fixed CDF value F(x; alpha) = P(alpha, x).

    Implicit function theorem: dx/da = -(dP/da) / (dP/dx). With the series
    P(a, x) = sum_n exp((a + n) log x - x - lgamma(a + n + 1)), dP/dx = x^(a-1) e^-x / G(a),
    and the ratio is sum_n r_n (psi(a + n + 1) - log x) with r_0 = x / a,
    r_n = r_(n-1) x / (a + n): no gamma functions, one digamma, then recurrences.
    For large alpha, P is Phi(z) with Wilson-Hilferty's z(a, x) and dx/da = -z_a / z_x.
    """
    out_dtype = x.dtype
    wd = _work_dtype(x)
    x, a = x.detach().to(wd), alpha.detach().to(wd)
    large = a > _LARGE_ALPHA
    a_s = ember.where(large, 1.0, a)  # the series only runs where it converges quickly
    x_s = ember.where(large, 1.0, x)
    log_x = x_s.log()
    r = x_s / a_s
    psi = ember.digamma(a_s) + 1 / a_s  # psi(a + 1)
    total = r * (psi - log_x)
    eps = finfo(wd).eps
    for n in range(1, 100000):
        r = r * x_s / (a_s + n)
        psi = psi + 1 / (a_s + n)
        term = r * (psi - log_x)
        total = total + term
        # terms shrink geometrically once a + n > x; stop when the last ones are negligible
        if n % 8 == 0:
            past_peak = (a_s + n > x_s)
            small = term.abs() <= eps * total.abs()
            if bool((past_peak & small).all()):
                break
    # Wilson-Hilferty: z = 3 sqrt(a) ((x/a)^(1/3) - 1 + 1/(9a))
    c = (x / a).pow(1 / 3)
    sa = a.sqrt()
    z_x = sa * c / x
    z_a = 1.5 / sa * (c - 1 + 1 / (9 * a)) - 3 * sa * (c / (3 * a) + 1 / (9 * a * a))
    wh = -z_a / z_x
    return ember.where(large, wh, total).to(out_dtype)


class _StandardGammaRsample(ember.autograd.Function):
    """A Gamma(alpha, 1) draw whose gradient to alpha is the implicit one above."""

    @staticmethod
    def forward(ctx, alpha):
        x = _standard_gamma(alpha)
        ctx.save_for_backward(x, alpha)
        return x

    @staticmethod
    def backward(ctx, g):
        x, alpha = ctx.saved_tensors
        return g * _standard_gamma_grad(x, alpha)


def _rsample_standard_gamma(alpha):
    """Gamma(alpha, 1) draws, reparameterized (gradients reach ``alpha``)."""
    if not (ember.is_grad_enabled() and alpha.requires_grad):
        return _standard_gamma(alpha)
    return _StandardGammaRsample.apply(alpha)


class Gamma(ExponentialFamily):
    """Gamma(concentration, rate): density rate^a x^(a-1) exp(-rate x) / Gamma(a) on x > 0.

    Sampling is exact (see ``_standard_gamma``); ``rsample`` differentiates the draw with
    respect to the concentration implicitly, at a fixed value of the CDF (the gradient
    torch's ``_standard_gamma_grad`` gives), and with respect to the rate directly.

    >>> _ = ember.manual_seed(0); a = ember.tensor(2.0, requires_grad=True)
    >>> Gamma(a, 1.0).rsample().backward(); bool(a.grad > 0)
    True
    """
    has_rsample = True

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

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        value = _rsample_standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        return value.clamp(min=finfo(value.dtype).tiny)

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return ember.special.gammainc(self.concentration, self.rate * value)

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


class Chi2(Gamma):
    """Chi-squared with ``df`` degrees of freedom: Gamma(df / 2, 1 / 2).

    >>> Chi2(ember.tensor(2.0)).mean
    tensor(2.)
    """

    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        (df,) = broadcast_all(df)
        super().__init__(0.5 * df, ember.full_like(df, 0.5), validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Chi2, _instance)
        return super().expand(batch_shape, new)

    @property
    def df(self):
        return self.concentration * 2
