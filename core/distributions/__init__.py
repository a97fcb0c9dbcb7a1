"""ember.distributions: probability distributions with sampling, log densities and KL
divergences, as ``torch.distributions``.

>>> from ember import distributions as D
>>> D.Normal(ember.zeros(3), 1.0).log_prob(ember.zeros(3))
tensor([-0.9189, -0.9189, -0.9189])

Everything is written with ember tensor ops, so it runs on every backend and differentiates
through ember's autograd; draws come from ember's generators (``ember.manual_seed``).
Gamma (and so Chi2, Beta, Dirichlet, StudentT, FisherSnedecor) has a reparameterized
``rsample``: the gradient to the concentration is the implicit one, at a fixed CDF value.
TransformedDistribution pushes a distribution through ``transforms`` (exp, affine, ...);
``biject_to`` / ``transform_to`` pick the transform onto a constraint.
"""
from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .constraint_registry import biject_to, transform_to
from .continuous import (ContinuousBernoulli, FisherSnedecor, HalfCauchy, InverseGamma,
                         Kumaraswamy, Pareto, VonMises, Weibull)
from .discrete import Binomial, Geometric, Multinomial, NegativeBinomial
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .relaxed import LogisticNormal, RelaxedBernoulli, RelaxedOneHotCategorical
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .gamma import Chi2, Gamma
from .generalized_pareto import GeneralizedPareto
from .independent import Independent
from .kl import kl_divergence, register_kl
# imported only to register torch's other cross-family KL pairs
from . import kl_cross
from .lkj_cholesky import LKJCholesky
from .laplace import Laplace
from .mixture_same_family import MixtureSameFamily
from .more_families import Cauchy, Gumbel, HalfNormal, LogNormal, Poisson, StudentT
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .transformed_distribution import TransformedDistribution
# NOTE: torch.distributions re-exports every transform (from .transforms import *)
from .transforms import *  # noqa: F401,F403
from .uniform import Uniform
from .wishart import Wishart

del kl_cross

__all__ = ["Bernoulli", "Beta", "Categorical", "Cauchy", "Dirichlet", "Distribution",
           "Exponential", "Gumbel", "HalfNormal", "LogNormal", "Poisson", "StudentT",
           "ExponentialFamily", "Gamma", "Independent", "Laplace", "MixtureSameFamily",
           "MultivariateNormal",
           "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough",
           "TransformedDistribution", "Uniform", "constraints", "kl_divergence", "register_kl",
           "transforms", "Binomial", "Chi2", "ContinuousBernoulli", "FisherSnedecor",
           "Geometric", "HalfCauchy", "InverseGamma", "Kumaraswamy", "LogisticNormal",
           "LowRankMultivariateNormal", "Multinomial", "NegativeBinomial", "Pareto",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "VonMises", "Weibull", "biject_to",
           "transform_to", "GeneralizedPareto", "LKJCholesky", "Wishart",
           *transforms.__all__]
