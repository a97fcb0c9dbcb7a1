"""torch.distributions as models use them: Normal, Categorical, Bernoulli, MultivariateNormal,
Beta, Gamma, Dirichlet, Independent and TransformedDistribution (exp, affine, sigmoid, tanh),
log_prob, entropy, cdf/icdf, kl_divergence, gradients through reparameterised draws (the noise
comes from numpy, so nothing depends on torch's generator), argument validation errors, and a
REINFORCE step for a categorical policy and a Gaussian policy."""
import math

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import (Bernoulli, Beta, Categorical, Dirichlet, Gamma, Independent,
                                 MultivariateNormal, Normal, TransformedDistribution,
                                 kl_divergence)
from torch.distributions.transforms import (AffineTransform, ComposeTransform, ExpTransform,
                                            SigmoidTransform, TanhTransform)


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 4) if isinstance(v, float) else v


rng = np.random.default_rng(33)


def t(a):
    return torch.tensor(np.asarray(a, dtype="float32"))


# Normal: densities, cdf/icdf, and a reparameterised estimate of E[z^2] = loc^2 + scale^2
loc = t(rng.standard_normal(4)).requires_grad_()
scale = t(rng.uniform(0.5, 1.5, 4)).requires_grad_()
n = Normal(loc, scale)
x = t(rng.standard_normal(4))
print("normal_shapes:", tuple(n.batch_shape), tuple(n.event_shape), n.has_rsample,
      tuple(Normal(0.0, 1.0).batch_shape))
print("normal_log_prob:", r(n.log_prob(x)), r(n.log_prob(x).exp()))
print("normal_entropy:", r(n.entropy()), r(n.mean), r(n.stddev), r(n.variance))
print("normal_cdf_icdf:", r(n.cdf(x)), r(n.icdf(t([0.05, 0.5, 0.9, 0.99]))),
      r(n.icdf(n.cdf(x))))
eps = t(rng.standard_normal((512, 4)))
z = n.loc + n.scale * eps
(z ** 2).mean(0).sum().backward()
print("reparam_grad:", r(loc.grad), r(scale.grad))
loc.grad = None
scale.grad = None
u = t(rng.uniform(0.02, 0.98, (256, 4)))
z = n.icdf(u)  # inverse-cdf sampling: differentiable in loc and scale too
(-n.log_prob(z.detach()).mean() + z.mean()).backward()
print("icdf_grad:", r(loc.grad), r(scale.grad), r(z.mean(0)))

# Categorical and Bernoulli from logits and probs
logits = t(rng.standard_normal((3, 5))).requires_grad_()
cat = Categorical(logits=logits)
acts = torch.tensor(rng.integers(0, 5, 3))
print("cat_probs:", r(cat.probs), r(cat.logits.logsumexp(-1)))
print("cat_log_prob:", r(cat.log_prob(acts)), r(cat.entropy()), tuple(cat.batch_shape),
      tuple(cat.event_shape), cat.param_shape)
print("cat_support:", r(cat.enumerate_support().squeeze(-1)), tuple(cat.enumerate_support().shape),
      r(cat.log_prob(cat.enumerate_support()).exp().sum(0)))
cat2 = Categorical(probs=t(rng.uniform(0.1, 1.0, (3, 5))))
print("cat_probs_norm:", r(cat2.probs.sum(-1)), r(cat2.logits), r(kl_divergence(cat, cat2)))
kl = kl_divergence(cat, cat2).sum()
kl.backward()
print("cat_kl_grad:", r(logits.grad))
ber = Bernoulli(logits=t([-2.0, -0.5, 0.0, 1.5]))
ber_p = Bernoulli(probs=t([0.1, 0.4, 0.5, 0.9]))
y = t([0.0, 1.0, 1.0, 0.0])
print("bernoulli:", r(ber.probs), r(ber.log_prob(y)), r(ber.entropy()), r(ber.mean),
      r(ber.variance), r(ber_p.logits), r(kl_divergence(ber, ber_p)))

# MultivariateNormal: from a covariance and from a Cholesky factor
a = rng.standard_normal((3, 3))
cov = t(a @ a.T + np.eye(3))
mu = t(rng.standard_normal(3)).requires_grad_()
mvn = MultivariateNormal(mu, covariance_matrix=cov)
pts = t(rng.standard_normal((4, 3)))
print("mvn_log_prob:", r(mvn.log_prob(pts)), r(mvn.entropy()), tuple(mvn.event_shape))
print("mvn_scale_tril:", r(mvn.scale_tril), r(mvn.precision_matrix @ cov))
mvn2 = MultivariateNormal(torch.zeros(3), scale_tril=torch.linalg.cholesky(2.0 * torch.eye(3)))
print("mvn_kl:", r(kl_divergence(mvn, mvn2)), r(kl_divergence(mvn2, mvn)), r(mvn2.variance))
w = mvn.loc + (mvn.scale_tril @ t(rng.standard_normal((3, 64)))).T
(mvn2.log_prob(w).mean() + mvn.log_prob(pts).sum()).backward()
print("mvn_grad:", r(mu.grad))

# Beta, Gamma, Dirichlet: densities and their gradients in the concentrations (digamma)
ca = t([0.5, 2.0, 3.0]).requires_grad_()
cb = t([0.5, 1.0, 4.0]).requires_grad_()
beta = Beta(ca, cb)
v = t([0.2, 0.7, 0.4])
print("beta:", r(beta.log_prob(v)), r(beta.entropy()), r(beta.mean), r(beta.variance),
      r(kl_divergence(beta, Beta(t([1.0, 1.0, 1.0]), t([2.0, 2.0, 2.0])))))
beta.log_prob(v).sum().backward()
print("beta_grad:", r(ca.grad), r(cb.grad))
conc = t([1.5, 3.0]).requires_grad_()
rate = t([2.0, 0.5]).requires_grad_()
gam = Gamma(conc, rate)
print("gamma:", r(gam.log_prob(t([0.3, 4.0]))), r(gam.entropy()), r(gam.mean), r(gam.variance),
      r(kl_divergence(gam, Gamma(t([1.0, 2.0]), t([1.0, 1.0])))))
(gam.log_prob(t([0.3, 4.0])).sum() + gam.entropy().sum()).backward()
print("gamma_grad:", r(conc.grad), r(rate.grad))
alpha = t([[1.0, 2.0, 3.0], [0.5, 0.5, 4.0]]).requires_grad_()
dir_ = Dirichlet(alpha)
simplex = t([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])
print("dirichlet:", r(dir_.log_prob(simplex)), r(dir_.entropy()), r(dir_.mean),
      r(dir_.variance), tuple(dir_.batch_shape), tuple(dir_.event_shape),
      r(kl_divergence(dir_, Dirichlet(torch.ones(2, 3)))))
dir_.log_prob(simplex).sum().backward()
print("dirichlet_grad:", r(alpha.grad))

# Independent: a diagonal Gaussian over a vector
diag = Independent(Normal(t(rng.standard_normal((2, 3))), t(rng.uniform(0.5, 2.0, (2, 3)))), 1)
q = Independent(Normal(torch.zeros(2, 3), torch.ones(2, 3)), 1)
obs = t(rng.standard_normal((5, 2, 3)))
print("independent:", tuple(diag.batch_shape), tuple(diag.event_shape),
      tuple(diag.log_prob(obs).shape), r(diag.log_prob(obs)[0]), r(diag.entropy()),
      r(kl_divergence(diag, q)))

# TransformedDistribution: log-normal, logit-normal, an affine map and a tanh-squashed Gaussian
base = Normal(t([0.0, 0.5, -1.0]), t([1.0, 0.5, 2.0]))
lognormal = TransformedDistribution(base, [ExpTransform()])
pos = t([0.5, 1.0, 3.0])
print("lognormal:", r(lognormal.log_prob(pos)), r(lognormal.cdf(pos)), r(lognormal.icdf(t(
    [0.1, 0.5, 0.9]))), tuple(lognormal.batch_shape), lognormal.has_rsample)
logit_normal = TransformedDistribution(base, SigmoidTransform())
print("logit_normal:", r(logit_normal.log_prob(t([0.2, 0.5, 0.9]))))
affine = TransformedDistribution(base, [AffineTransform(loc=2.0, scale=t([1.0, -3.0, 0.5]))])
print("affine:", r(affine.log_prob(t([1.0, 0.0, 2.0]))), r(affine.cdf(t([2.5, 0.0, 1.0]))))
chain = ComposeTransform([AffineTransform(1.0, 2.0), ExpTransform()])
xs = t([-0.5, 0.0, 0.25])
print("compose:", r(chain(xs)), r(chain.inv(chain(xs))),
      r(chain.log_abs_det_jacobian(xs, chain(xs))))
# a SAC-style squashed policy: a = tanh(mu + sigma * eps), scored by the transformed density
mu_s = t([0.3, -0.2]).requires_grad_()
log_sigma = t([-0.5, 0.1]).requires_grad_()
squashed = TransformedDistribution(Normal(mu_s, log_sigma.exp()), [TanhTransform()])
pre = mu_s + log_sigma.exp() * t(rng.standard_normal((8, 2)))
act = torch.tanh(pre)
lp = squashed.log_prob(act)
print("squashed:", r(act[0]), r(lp.sum(0)), r(squashed.log_prob(t([0.0, 0.5]))))
(lp.sum(-1).mean() + (act ** 2).sum(-1).mean()).backward()
print("squashed_grad:", r(mu_s.grad), r(log_sigma.grad))

# argument validation and the KL table
for label, fn in [("bad_scale", lambda: Normal(0.0, t([-1.0]))),
                  ("bad_probs", lambda: Bernoulli(probs=t([1.5]))),
                  ("bad_support", lambda: Categorical(logits=torch.zeros(3)).log_prob(
                      torch.tensor(5))),
                  ("both_params", lambda: Categorical(probs=t([0.5, 0.5]), logits=t([0., 0.]))),
                  ("no_kl", lambda: kl_divergence(Categorical(logits=torch.zeros(2)),
                                                  Normal(0.0, 1.0)))]:
    try:
        fn()
        print(label + ":", "no error")
    except (ValueError, NotImplementedError) as err:
        print(label + ":", type(err).__name__)

# REINFORCE for a categorical policy: returns-to-go with a mean baseline, entropy bonus
policy = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
with torch.no_grad():
    for p in policy.parameters():
        p.copy_(t(rng.standard_normal(tuple(p.shape)) * 0.4))
opt = torch.optim.SGD(policy.parameters(), lr=0.05)
states = t(rng.standard_normal((10, 4)))
rewards = rng.standard_normal(10)
gamma_ = 0.9
rtg = np.zeros(10)
acc = 0.0
for i in reversed(range(10)):
    acc = rewards[i] + gamma_ * acc
    rtg[i] = acc
returns = t(rtg)
history = []
for step in range(3):
    dist = Categorical(logits=policy(states))
    u = t(rng.uniform(size=(10, 1)))
    actions = torch.searchsorted(dist.probs.detach().cumsum(-1), u).squeeze(-1).clamp(max=2)
    adv = returns - returns.mean()
    loss = -(dist.log_prob(actions) * adv).mean() - 0.01 * dist.entropy().mean()
    opt.zero_grad()
    loss.backward()
    gn = math.sqrt(sum(float((p.grad ** 2).sum()) for p in policy.parameters()))
    opt.step()
    history.append((r(loss.item()), r(gn), r(actions)))
print("reinforce:", history)
print("reinforce_params:", r(policy[2].bias), r(policy[0].weight.sum()))

# a Gaussian policy (state-dependent mean, learned log-std) with Adam
mean_net = nn.Linear(4, 2)
with torch.no_grad():
    mean_net.weight.copy_(t(rng.standard_normal((2, 4)) * 0.3))
    mean_net.bias.zero_()
log_std = nn.Parameter(torch.full((2,), -0.3))
opt = torch.optim.Adam(list(mean_net.parameters()) + [log_std], lr=0.02)
for step in range(3):
    pi = Independent(Normal(mean_net(states), log_std.exp()), 1)
    with torch.no_grad():
        a_t = pi.mean + log_std.exp() * t(rng.standard_normal((10, 2)))
    logp = pi.log_prob(a_t)
    loss = -(logp * (returns - returns.mean())).mean() - 0.001 * pi.entropy().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"gauss_step{step}:", r(loss.item()), r(logp[:3]), r(log_std.grad))
print("gauss_params:", r(log_std), r(mean_net.weight[0]), r(mean_net.bias))
