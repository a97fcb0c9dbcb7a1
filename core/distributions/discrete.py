"""Binomial, Multinomial, NegativeBinomial and Geometric, as torch.distributions: the count
likelihoods built on a success probability (given as ``probs`` or as ``logits``)."""
from __future__ import annotations

import math
from numbers import Number

import ember

from . import constraints
from .bernoulli import ProbsOrLogits
from .categorical import Categorical
from .distribution import Distribution
from .gamma import Gamma
from .utils import broadcast_all, finfo

__all__ = ["Binomial", "Geometric", "Multinomial", "NegativeBinomial"]


def _clamp_by_zero(x):
    # max(x, 0) whose gradient at 0 is 1/2, as torch's binomial normaliser uses
    return (x.clamp(min=0) + x - x.clamp(max=0)) / 2


def _count_and_param(total_count, probs, logits):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    param = probs if probs is not None else logits
    count, param = broadcast_all(total_count, param)
    return count.to(param.dtype), param


class _Counted(ProbsOrLogits):
    """Families of a count of trials and one of ``probs`` / ``logits``: Binomial and
    NegativeBinomial."""

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        self.total_count, param = _count_and_param(total_count, probs, logits)
        if probs is not None:
            self.probs = param
        else:
            self.logits = param
        self._param = param
        super().__init__(param.shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(type(self), _instance)
        batch_shape = ember.Size(batch_shape)
        new.total_count = self.total_count.expand(batch_shape)
        self._expand_params(new, batch_shape)
        super(_Counted, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new


class Binomial(_Counted):
    """Binomial(total_count, probs=p): successes in ``total_count`` independent trials.

    >>> Binomial(10, ember.tensor(0.5)).log_prob(ember.tensor(5.0))
    tensor(-1.4020)
    """

    arg_constraints = {"total_count": constraints.nonnegative_integer,
                       "probs": constraints.unit_interval, "logits": constraints.real}
    has_enumerate_support = True

    @constraints.dependent_property(is_discrete=True, event_dim=0)
    def support(self):
        return constraints.integer_interval(0, self.total_count)

    @property
    def mean(self):
        return self.total_count * self.probs

    @property
    def mode(self):
        return ((self.total_count + 1) * self.probs).floor().clamp(max=self.total_count)

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with ember.no_grad():
            return ember.binomial(self.total_count.expand(shape), self.probs.expand(shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        n, logits = self.total_count, self.logits
        # n log(1 + e^logits), written so that neither sign of logits overflows
        normalizer = (n * _clamp_by_zero(logits) + n * (-logits.abs()).exp().log1p()
                      - ember.lgamma(n + 1))
        return (value * logits - ember.lgamma(value + 1) - ember.lgamma(n - value + 1)
                - normalizer)

    def _homogeneous_count(self, what):
        count = int(self.total_count.max())
        if not int(self.total_count.min()) == count:
            raise NotImplementedError(f"Inhomogeneous total count not supported by `{what}`.")
        return count

    def entropy(self):
        self._homogeneous_count("entropy")
        lp = self.log_prob(self.enumerate_support(False))
        return -(lp.exp() * lp).sum(0)

    def enumerate_support(self, expand=True):
        count = self._homogeneous_count("enumerate_support")
        values = ember.arange(1 + count, dtype=self._param.dtype, device=self._param.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values


class Multinomial(Distribution):
    """Multinomial(total_count, probs): category counts of ``total_count`` categorical draws
    (``total_count`` is one int, as torch's; log_prob ignores it).

    >>> Multinomial(2, ember.tensor([0.5, 0.5])).log_prob(ember.tensor([1.0, 1.0]))
    tensor(-0.6931)
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, Number):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits)
        self._binomial = Binomial(total_count=total_count, probs=self.probs)
        batch_shape = self._categorical.batch_shape
        event_shape = self._categorical.param_shape[-1:]
        super().__init__(batch_shape, event_shape, validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Multinomial, _instance)
        batch_shape = ember.Size(batch_shape)
        new.total_count = self.total_count
        new._categorical = self._categorical.expand(batch_shape)
        new._binomial = self._binomial.expand(batch_shape + self.event_shape)
        super(Multinomial, new).__init__(batch_shape, self.event_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @constraints.dependent_property(is_discrete=True, event_dim=1)
    def support(self):
        return constraints.multinomial(self.total_count)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        sample_shape = ember.Size(sample_shape)
        with ember.no_grad():
            idx = self._categorical.sample(ember.Size((self.total_count,)) + sample_shape)
            # the draws' axis goes last, then one-hot counts add up over it
            idx = idx.permute(*range(1, idx.ndim), 0)
            k = self.event_shape[0]
            counts = ember.nn.functional.one_hot(idx, k).sum(-2)
            return counts.to(self.probs.dtype).expand(self._extended_shape(sample_shape))

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logits, value = broadcast_all(self.logits, value)
        log_factorial_n = ember.lgamma(value.sum(-1) + 1)
        log_factorial_xs = ember.lgamma(value + 1).sum(-1)
        # 0 * log(0) counts as 0: an impossible category that never occurs costs nothing
        logits = ember.where((value == 0) & (logits == -math.inf), 0.0, logits)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        n = ember.tensor(float(self.total_count), dtype=self.probs.dtype,
                         device=self.probs.device)
        term1 = n * self._categorical.entropy() - ember.lgamma(n + 1)
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = ember.lgamma(support + 1)
        return term1 + (binomial_probs * weights).sum((0, -1))


class NegativeBinomial(_Counted):
    """NegativeBinomial(total_count, probs=p): successes before ``total_count`` failures, each
    trial a success with probability p.

    >>> NegativeBinomial(2.0, ember.tensor(0.5)).log_prob(ember.tensor(0.0))
    tensor(-1.3863)
    """

    arg_constraints = {"total_count": constraints.greater_than_eq(0),
                       "probs": constraints.half_open_interval(0.0, 1.0),
                       "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, total_count, probs=None, logits=None, validate_args=None):
        super().__init__(total_count, probs, logits, validate_args)  # (no default count)

    @property
    def mean(self):
        return self.total_count * self.logits.exp()

    @property
    def mode(self):
        return ((self.total_count - 1) * self.logits.exp()).floor().clamp(min=0.0)

    @property
    def variance(self):
        return self.mean / (-self.logits).sigmoid()

    def sample(self, sample_shape=()):
        with ember.no_grad():
            # a gamma-mixed Poisson
            rate = Gamma(self.total_count, (-self.logits).exp(),
                         validate_args=False).sample(sample_shape)
            return ember.poisson(rate)

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        logsig = ember.nn.functional.logsigmoid
        n = self.total_count
        unnormalized = n * logsig(-self.logits) + value * logsig(self.logits)
        normalization = -ember.lgamma(n + value) + ember.lgamma(1.0 + value) + ember.lgamma(n)
        normalization = ember.where(n + value == 0.0, 0.0, normalization)
        return unnormalized - normalization


class Geometric(ProbsOrLogits):
    """Geometric(probs=p): failures before the first success, P(k) = (1 - p)^k p.

    >>> Geometric(ember.tensor(0.5)).log_prob(ember.tensor(1.0))
    tensor(-1.3863)
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.nonnegative_integer

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            (self.probs,) = broadcast_all(probs)
        else:
            (self.logits,) = broadcast_all(logits)
        given = probs if probs is not None else logits
        batch_shape = ember.Size() if isinstance(given, Number) else given.shape
        super().__init__(batch_shape, validate_args=validate_args)
        # NOTE: beyond unit_interval, torch insists on p > 0 (p = 0 never stops)
        if self._validate_args and probs is not None:
            value = self.probs
            if not bool((value > 0).all()):
                raise ValueError(f"Expected parameter probs ({type(value).__name__} of shape "
                                 f"{tuple(value.shape)}) of distribution {self!r} to be "
                                 f"positive but found invalid values:\n{value}")

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Geometric, _instance)
        batch_shape = ember.Size(batch_shape)
        if "probs" in self.__dict__:
            new.probs = self.probs.expand(batch_shape)
        if "logits" in self.__dict__:
            new.logits = self.logits.expand(batch_shape)
        super(Geometric, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self):
        return 1.0 / self.probs - 1.0

    @property
    def mode(self):
        return ember.zeros_like(self.probs)

    @property
    def variance(self):
        return (1.0 / self.probs - 1.0) / self.probs

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        tiny = finfo(self.probs.dtype).tiny
        with ember.no_grad():
            u = ember.rand(shape, dtype=self.probs.dtype, device=self.probs.device)
            u = u.clamp(min=tiny)
            return (u.log() / (-self.probs).log1p()).floor()

    def log_prob(self, value):
        if self._validate_args:
            self._validate_sample(value)
        value, probs = broadcast_all(value, self.probs)
        # p = 1 puts all mass on 0: 0 * log(0) must read 0 there
        probs = ember.where((probs == 1) & (value == 0), 0.0, probs)
        return value * (-probs).log1p() + self.probs.log()

    def entropy(self):
        bce = ember.nn.functional.binary_cross_entropy_with_logits(
            self.logits, self.probs, reduction="none")
        return bce / self.probs
