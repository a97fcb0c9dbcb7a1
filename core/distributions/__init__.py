"""ember.distributions: probability distributions with sampling, log densities and KL
divergences, as ``torch.distributions``.

>>> from ember import distributions as D
>>> D.Normal(ember.zeros(3), 1.0).log_prob(ember.zeros(3))
tensor([-0.9189, -0.9189, -0.9189])

Everything is written with ember tensor ops, so it runs on every backend and differentiates
through ember's autograd; draws come from ember's generators (``ember.manual_seed``).
Gamma, Beta and Dirichlet sample exactly but have no ``rsample`` (and Gamma no ``cdf``).
TransformedDistribution pushes a distribution through ``transforms`` (exp, affine, ...).
"""
from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .transformed_distribution import TransformedDistribution
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Exponential",
           "ExponentialFamily", "Gamma", "Independent", "Laplace", "MultivariateNormal",
           "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough",
           "TransformedDistribution", "Uniform", "constraints", "kl_divergence", "register_kl",
           "transforms"]
