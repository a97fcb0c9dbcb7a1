"""The rest of torch's registered cross-family KL pairs among the univariate families: Beta,
ContinuousBernoulli, Exponential, Gamma, Gumbel, Laplace, Normal, Pareto and Uniform.

Most are -H(p) - E_p[log q(x)], with E_p taken in closed form; where p puts mass outside q's
support the divergence is infinite. Importing this module registers them (the package does).
"""
from __future__ import annotations

import math

import ember

from .beta import Beta
from .continuous import ContinuousBernoulli, Pareto
from .exponential import Exponential
from .gamma import Gamma
from .kl import _infinite_like, register_kl
from .laplace import Laplace
from .more_families import Gumbel
from .normal import Normal
from .uniform import Uniform

__all__ = []

_EULER_GAMMA = 0.57721566490153286060
_LOG_2PI = math.log(2 * math.pi)


def _x_log_x(x):
    return x * x.log()


def _gamma_cross_log_norm(q):
    """log Gamma(a) - a log(rate): the part of -log q(x) for q = Gamma(a, rate) that is
    constant in x."""
    return q.concentration.lgamma() - q.concentration * q.rate.log()


def _beta_mean(p):
    return p.concentration1 / (p.concentration1 + p.concentration0)


def _inf_where(cond, result):
    return ember.where(cond, math.inf, result)


# ---- p puts mass where q has none --------------------------------------------------------

@register_kl(Beta, Pareto)
def _kl_beta_infinity(p, q):
    return _infinite_like(p.concentration1)


@register_kl(ContinuousBernoulli, Pareto)
def _kl_continuous_bernoulli_infinity(p, q):
    return _infinite_like(p.probs)


@register_kl(Exponential, Beta)
@register_kl(Exponential, ContinuousBernoulli)
@register_kl(Exponential, Pareto)
@register_kl(Exponential, Uniform)
def _kl_exponential_infinity(p, q):
    return _infinite_like(p.rate)


@register_kl(Gamma, Beta)
@register_kl(Gamma, ContinuousBernoulli)
@register_kl(Gamma, Pareto)
@register_kl(Gamma, Uniform)
def _kl_gamma_infinity(p, q):
    return _infinite_like(p.concentration)


@register_kl(Gumbel, Beta)
@register_kl(Gumbel, ContinuousBernoulli)
@register_kl(Gumbel, Exponential)
@register_kl(Gumbel, Gamma)
@register_kl(Gumbel, Pareto)
@register_kl(Gumbel, Uniform)
@register_kl(Laplace, Beta)
@register_kl(Laplace, ContinuousBernoulli)
@register_kl(Laplace, Gamma)
@register_kl(Laplace, Pareto)
@register_kl(Normal, Beta)
@register_kl(Normal, ContinuousBernoulli)
@register_kl(Normal, Gamma)
@register_kl(Normal, Pareto)
@register_kl(Normal, Uniform)
@register_kl(Normal, Exponential)
@register_kl(Laplace, Uniform)
@register_kl(Laplace, Exponential)
def _kl_real_line_infinity(p, q):
    # (p has mass outside q's support)
    return _infinite_like(p.loc)


@register_kl(Pareto, Beta)
@register_kl(Pareto, ContinuousBernoulli)
@register_kl(Pareto, Uniform)
def _kl_pareto_infinity(p, q):
    return _infinite_like(p.scale)


# ---- p = Beta -----------------------------------------------------------------------------

@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_continuous_bernoulli(p, q):
    return -p.entropy() - p.mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * _beta_mean(p)


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    # E_p[log x] = digamma(a1) - digamma(a1 + a0)
    total = p.concentration1 + p.concentration0
    e_log_x = p.concentration1.digamma() - total.digamma()
    return (-p.entropy() + _gamma_cross_log_norm(q) - (q.concentration - 1) * e_log_x
            + q.rate * _beta_mean(p))


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    mean = _beta_mean(p)
    var_q = q.scale.pow(2)
    second = mean * (1 - mean) / (p.concentration1 + p.concentration0 + 1) + mean.pow(2)
    return (-p.entropy() + 0.5 * (var_q * 2 * math.pi).log()
            + (0.5 * second - q.loc * mean + 0.5 * q.loc.pow(2)) / var_q)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    return _inf_where((q.low > 0) | (q.high < 1), result)


# ---- p = ContinuousBernoulli --------------------------------------------------------------

@register_kl(ContinuousBernoulli, Exponential)
def _kl_continuous_bernoulli_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_continuous_bernoulli_normal(p, q):
    t2 = 0.5 * (_LOG_2PI + (q.loc / q.scale).pow(2)) + q.scale.log()
    t3 = (p.variance + p.mean.pow(2) - 2 * q.loc * p.mean) / (2 * q.scale.pow(2))
    return -p.entropy() + t2 + t3


@register_kl(ContinuousBernoulli, Uniform)
def _kl_continuous_bernoulli_uniform(p, q):
    result = -p.entropy() + (q.high - q.low).log()
    # NOTE: torch calls it infinite as soon as q.low >= 0 or q.high <= 1, so also for q's
    # interval exactly [0, 1] where the divergence is -H(p); match its numbers
    return _inf_where((q.low >= 0) | (q.high <= 1), result)


# ---- p = Exponential ----------------------------------------------------------------------

@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    ratio = q.rate / p.rate
    return (-q.concentration * ratio.log() + ratio + q.concentration.lgamma()
            + q.concentration * _EULER_GAMMA - (1 + _EULER_GAMMA))


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    # E_p[exp(-(x - m) / s)] = exp(m / s) rate s / (rate s + 1)
    rs = p.rate * q.scale
    m = q.loc / q.scale
    return rs.log() - 1 - m + m.exp() * rs / (rs + 1) + rs.reciprocal()


# ---- p = Gamma ----------------------------------------------------------------------------

@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.concentration / p.rate


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    a = p.concentration
    bs = p.rate * q.scale
    m = q.loc / q.scale
    t1 = (a - 1) * a.digamma() - a.lgamma() - a
    t2 = bs.log() + a / bs
    # E_p[exp(-x / s)] is the gamma moment generating function at -1/s
    t3 = m.exp() * (1 + bs.reciprocal()).pow(-a) - m
    return t1 + t2 + t3


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    a = p.concentration
    var_q = q.scale.pow(2)
    rate2 = p.rate.pow(2)
    t1 = 0.5 * (rate2 * var_q * 2 * math.pi).log() - a - a.lgamma()
    second = 0.5 * (a.pow(2) + a) / rate2
    return t1 + (a - 1) * a.digamma() + (second - q.loc * a / p.rate
                                         + 0.5 * q.loc.pow(2)) / var_q


# ---- p = Gumbel ---------------------------------------------------------------------------

@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    ratio = p.scale / q.scale
    t1 = (ratio / math.sqrt(2 * math.pi)).log()
    t2 = (math.pi * ratio * 0.5).pow(2) / 3
    t3 = ((p.loc + p.scale * _EULER_GAMMA - q.loc) / q.scale).pow(2) * 0.5
    return -t1 + t2 + t3 - (_EULER_GAMMA + 1)


# ---- p = Normal ---------------------------------------------------------------------------

@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # E_p[exp(-x / s)] is the normal moment generating function at -1/s
    mean_ratio = p.loc / q.scale
    var_ratio = (p.scale / q.scale).pow(2)
    loc_ratio = q.loc / q.scale
    t3 = (-mean_ratio + 0.5 * var_ratio + loc_ratio).exp()
    return -0.5 * var_ratio.log() + mean_ratio - loc_ratio + t3 - 0.5 * (1 + _LOG_2PI)


# ---- p = Pareto ---------------------------------------------------------------------------

@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    sr = p.scale * q.rate
    result = (p.alpha / sr).log() - p.alpha.reciprocal() + p.alpha * sr / (p.alpha - 1) - 1
    return _inf_where(p.alpha <= 1, result)  # infinite mean


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    e_log_x = p.scale.log() + p.alpha.reciprocal()
    result = (p.alpha.log() - e_log_x + _gamma_cross_log_norm(q)
              + (1 - q.concentration) * e_log_x
              + q.rate * p.alpha * p.scale / (p.alpha - 1) - 1)
    return _inf_where(p.alpha <= 1, result)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    two_var = 2 * q.scale.pow(2)
    common = p.scale / (p.alpha - 1)
    t1 = (math.sqrt(2 * math.pi) * q.scale * p.alpha / p.scale).log()
    t3 = p.alpha * common.pow(2) / (p.alpha - 2)  # the variance
    t4 = (p.alpha * common - q.loc).pow(2)
    result = t1 - p.alpha.reciprocal() + (t3 + t4) / two_var - 1
    return _inf_where(p.alpha <= 2, result)  # infinite variance


# ---- p = Uniform --------------------------------------------------------------------------

def _uniform_e_log_x(p):
    """E_p[log x] for p = Uniform(low, high) with low >= 0."""
    width = p.high - p.low
    return (_x_log_x(p.high) - _x_log_x(p.low) - width) / width


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    width = p.high - p.low
    e_log_x = _uniform_e_log_x(p)
    # E_p[log(1 - x)], by the substitution y = 1 - x
    e_log_1mx = (_x_log_x(1 - p.low) - _x_log_x(1 - p.high) - width) / width
    log_beta_fn = (q.concentration1.lgamma() + q.concentration0.lgamma()
                   - (q.concentration1 + q.concentration0).lgamma())
    result = (-width.log() - (q.concentration1 - 1) * e_log_x
              - (q.concentration0 - 1) * e_log_1mx + log_beta_fn)
    return _inf_where((p.high > 1) | (p.low < 0), result)


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_continuous_bernoulli(p, q):
    result = -p.entropy() - p.mean * q.logits - (-q.probs).log1p() - q._cont_bern_log_norm()
    # NOTE: as torch, infinite already when p.high == 1 or p.low == 0
    return _inf_where((p.high >= 1) | (p.low <= 0), result)


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    width = p.high - p.low
    result = (-width.log() + _gamma_cross_log_norm(q)
              + (1 - q.concentration) * _uniform_e_log_x(p) + q.rate * (p.high + p.low) / 2)
    return _inf_where(p.low < 0, result)


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    ratio = q.scale / (p.high - p.low)
    z_high = (p.high - q.loc) / q.scale
    z_low = (p.low - q.loc) / q.scale
    return (ratio.log() + 0.5 * (z_high + z_low)
            - ratio * ((-z_high).exp() - (-z_low).exp()))


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    width = p.high - p.low
    t1 = (q.alpha * q.scale.pow(q.alpha) * width).log()
    result = _uniform_e_log_x(p) * (q.alpha + 1) - t1
    return _inf_where(p.low < q.scale, result)
