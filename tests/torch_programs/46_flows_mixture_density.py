"""Density models as people write them: (a) a mixture density network whose head gives a
MixtureSameFamily(Categorical(logits=...), Independent(Normal(...), 1)) and is trained by
maximum likelihood, checked against a hand-written logsumexp formula, with mean/variance of the
mixture, cdf of a 1-D mixture and gradient clipping; (b) a RealNVP-style normalizing flow with
affine coupling layers (masks as buffers, tanh-bounded scales), a standard-normal base, exact
log-determinants checked against torch.autograd.functional.jacobian and slogdet, inversion
round trips, TransformedDistribution with AffineTransform/ExpTransform/SigmoidTransform and
ComposeTransform log_abs_det_jacobian; (c) the optimisation recipes around them:
ReduceLROnPlateau in 'max' mode with cooldown and threshold_mode='abs', OneCycleLR with
three-phase annealing, CosineAnnealingWarmRestarts, and torch.optim.swa_utils AveragedModel
(plain and EMA through get_ema_multi_avg_fn) with SWALR and update_bn."""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import (AffineTransform, Categorical, ComposeTransform, ExpTransform,
                                 Independent, MixtureSameFamily, Normal, SigmoidTransform,
                                 TransformedDistribution)
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(
                (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


# ---------------------------------------------------------------------------------------------
# (a) mixture density network on a two-branch 2-D target

K, D = 3, 2


class MDN(nn.Module):
    def __init__(self, hidden=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                  nn.Tanh())
        self.logits = nn.Linear(hidden, K)
        self.mu = nn.Linear(hidden, K * D)
        self.log_sigma = nn.Linear(hidden, K * D)

    def forward(self, x):
        h = self.body(x)
        mu = self.mu(h).view(-1, K, D)
        sigma = F.softplus(self.log_sigma(h)).view(-1, K, D) + 1e-3
        comp = Independent(Normal(mu, sigma), 1)
        return MixtureSameFamily(Categorical(logits=self.logits(h)), comp), (h, mu, sigma)


xs = torch.linspace(-1.0, 1.0, 24).unsqueeze(1)
branch = torch.tensor([(-1.0) ** i for i in range(24)]).unsqueeze(1)
ys = torch.cat([torch.sin(2.5 * xs) * branch, 0.5 * xs ** 2 + 0.1 * branch], dim=1)

mdn = fill(MDN(), 1)
dist, (h, mu, sigma) = mdn(xs)
print("mdn_batch_event:", tuple(dist.batch_shape), tuple(dist.event_shape))
lp = dist.log_prob(ys)
log_w = F.log_softmax(mdn.logits(h), dim=-1)
manual = torch.logsumexp(log_w + Normal(mu, sigma).log_prob(ys.unsqueeze(1)).sum(-1), dim=-1)
print("mdn_log_prob:", r(lp[:4]))
print("mdn_manual_matches:", torch.allclose(lp, manual, atol=1e-5))
print("mdn_mean:", r(dist.mean[3]))
print("mdn_variance:", r(dist.variance[3]))

opt = torch.optim.Adam(mdn.parameters(), lr=1e-2)
sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=1,
                                                   threshold=0.05, threshold_mode="abs",
                                                   cooldown=1)
hist, lrs, norms = [], [], []
for epoch in range(10):
    dist, _ = mdn(xs)
    nll = -dist.log_prob(ys).mean()
    opt.zero_grad()
    nll.backward()
    norms.append(torch.nn.utils.clip_grad_norm_(mdn.parameters(), max_norm=2.0).item())
    opt.step()
    hist.append(nll.item())
    sched.step(-nll.item() if epoch < 4 else -hist[3])   # a plateau from epoch 4 on
    lrs.append(opt.param_groups[0]["lr"])
print("mdn_nll:", r(hist))
print("mdn_grad_norms:", r(norms[:4]))
print("plateau_lrs:", r(lrs))
print("plateau_best:", r(sched.best), sched.num_bad_epochs, sched.cooldown_counter)

mix1 = MixtureSameFamily(Categorical(probs=torch.tensor([0.2, 0.5, 0.3])),
                         Normal(torch.tensor([-1.0, 0.0, 2.0]), torch.tensor([0.5, 1.0, 0.3])))
grid = torch.tensor([-2.0, -0.5, 0.0, 1.0, 2.5])
print("mix1_log_prob:", r(mix1.log_prob(grid)))
print("mix1_cdf:", r(mix1.cdf(grid)))
print("mix1_mean_var:", r(mix1.mean), r(mix1.variance))

# ---------------------------------------------------------------------------------------------
# (b) RealNVP coupling flow


class Coupling(nn.Module):
    def __init__(self, mask, hidden=12):
        super().__init__()
        self.register_buffer("mask", mask)
        dim = mask.numel()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 2 * dim))

    def forward(self, x):
        xm = x * self.mask
        s, t = self.net(xm).chunk(2, dim=-1)
        s = torch.tanh(s) * (1 - self.mask)
        t = t * (1 - self.mask)
        return xm + (1 - self.mask) * (x * torch.exp(s) + t), s.sum(-1)

    def inverse(self, y):
        ym = y * self.mask
        s, t = self.net(ym).chunk(2, dim=-1)
        s = torch.tanh(s) * (1 - self.mask)
        t = t * (1 - self.mask)
        return ym + (1 - self.mask) * ((y - t) * torch.exp(-s)), -s.sum(-1)


class Flow(nn.Module):
    def __init__(self, dim=3, layers=4):
        super().__init__()
        masks = [torch.tensor([float((i + k) % 2) for i in range(dim)]) for k in range(layers)]
        self.layers = nn.ModuleList(Coupling(m) for m in masks)
        self.base = Normal(torch.zeros(dim), torch.ones(dim))

    def forward(self, x):
        logdet = torch.zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z):
        for layer in reversed(self.layers):
            z, _ = layer.inverse(z)
        return z

    def log_prob(self, x):
        z, logdet = self(x)
        return self.base.log_prob(z).sum(-1) + logdet


flow = fill(Flow(), 2, scale=0.4)
pts = torch.tensor([[0.3, -1.2, 0.7], [1.5, 0.2, -0.4], [-0.8, 0.9, 1.1]])
z, logdet = flow(pts)
print("flow_z:", r(z[0]))
print("flow_logdet:", r(logdet))
for i in range(2):
    J = torch.autograd.functional.jacobian(lambda v: flow(v.unsqueeze(0))[0].squeeze(0), pts[i])
    sign, lad = torch.linalg.slogdet(J)
    print(f"flow_jacobian_{i}:", tuple(J.shape), r(sign), torch.allclose(lad, logdet[i],
                                                                         atol=1e-5))
print("flow_inverse_ok:", torch.allclose(flow.inverse(z), pts, atol=1e-5))
print("flow_log_prob:", r(flow.log_prob(pts)))

data = torch.tensor([[math.cos(0.4 * i) * (1 + 0.1 * (i % 3)), math.sin(0.4 * i),
                      0.3 * ((i % 5) - 2)] for i in range(20)])
opt = torch.optim.Adam(flow.parameters(), lr=5e-3)
onecycle = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-2, total_steps=8, pct_start=0.25,
                                               three_phase=True, anneal_strategy="linear")
swa = AveragedModel(flow)
ema = AveragedModel(flow, multi_avg_fn=get_ema_multi_avg_fn(0.8))
nlls, lrs = [], []
for step in range(8):
    loss = -flow.log_prob(data).mean()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(flow.parameters(), 0.5)
    opt.step()
    onecycle.step()
    swa.update_parameters(flow)
    ema.update_parameters(flow)
    nlls.append(loss.item())
    lrs.append(opt.param_groups[0]["lr"])
print("flow_nll:", r(nlls))
print("onecycle_lrs:", r(lrs))
print("onecycle_momentum:", r(opt.param_groups[0]["betas"][0]))
print("swa_n_averaged:", swa.n_averaged.item(), ema.n_averaged.item())
print("swa_param:", r(swa.module.layers[0].net[0].bias[:3]))
print("ema_param:", r(ema.module.layers[0].net[0].bias[:3]))
print("swa_log_prob:", r(swa.module.log_prob(pts)))
print("swa_buffers_copied:", torch.equal(swa.module.layers[1].mask, flow.layers[1].mask))

# ---------------------------------------------------------------------------------------------
# (c) SWALR and update_bn; restarts

net = fill(nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1)), 3)
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
swalr = SWALR(opt, swa_lr=0.02, anneal_epochs=3, anneal_strategy="cos")
avg = AveragedModel(net)
swa_lrs = []
for epoch in range(5):
    for b in range(2):
        xb = data[b * 10:(b + 1) * 10]
        loss = F.mse_loss(net(xb).squeeze(1), xb[:, 0] * xb[:, 1])
        opt.zero_grad()
        loss.backward()
        opt.step()
    avg.update_parameters(net)
    swalr.step()
    swa_lrs.append(opt.param_groups[0]["lr"])
print("swalr_lrs:", r(swa_lrs))
loader = [(data[:10],), (data[10:],)]
update_bn(loader, avg)
print("update_bn_mean:", r(avg.module[1].running_mean))
print("update_bn_var:", r(avg.module[1].running_var[:3]))
avg.eval()
print("swa_bn_out:", r(avg(data[:3]).squeeze(1)))

opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
warm = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.05)
seen = []
for it in range(10):
    opt.step()
    warm.step()
    seen.append(opt.param_groups[0]["lr"])
print("warm_restarts:", r(seen))
warm.step(4.5)
print("warm_restarts_fractional:", r(warm.get_last_lr()))

# ---------------------------------------------------------------------------------------------
# (d) transformed distributions

logit_normal = TransformedDistribution(Normal(torch.tensor([0.0, 0.5]), torch.tensor([1.0, 0.4])),
                                       [SigmoidTransform()])
u = torch.tensor([0.2, 0.7])
print("logit_normal_log_prob:", r(logit_normal.log_prob(u)))
log_normal = TransformedDistribution(Normal(torch.tensor(0.3), torch.tensor(0.8)),
                                     [AffineTransform(loc=0.1, scale=2.0), ExpTransform()])
print("log_normal_log_prob:", r(log_normal.log_prob(torch.tensor([0.5, 1.5, 4.0]))))
comp = ComposeTransform([AffineTransform(1.0, 3.0), SigmoidTransform()])
xv = torch.tensor([-0.5, 0.0, 0.4])
print("compose_forward:", r(comp(xv)))
print("compose_ladj:", r(comp.log_abs_det_jacobian(xv, comp(xv))))
print("compose_inverse:", r(comp.inv(comp(xv))))

# ---------------------------------------------------------------------------------------------
# (e) likelihoods and priors beyond the Normal: a robust StudentT regression with a HalfNormal
# prior on the scale, a Poisson count regression (GLM with a log link), LogNormal, Gumbel and
# Cauchy densities, and a positive parameter through SoftplusTransform

from torch.distributions import (Cauchy, Gumbel, HalfNormal, LogNormal, Poisson,  # noqa: E402
                                 SoftplusTransform, StudentT)

xr = torch.linspace(-2.0, 2.0, 16)
yr = 1.5 * xr - 0.3 + torch.tensor([0.1 * ((i * 7) % 5 - 2) for i in range(16)])
yr[3] += 6.0   # an outlier the t likelihood shrugs off
w = torch.zeros(2, requires_grad=True)
raw_scale = torch.zeros((), requires_grad=True)
to_pos = SoftplusTransform()
opt = torch.optim.Adam([w, raw_scale], lr=0.1)
for step in range(30):
    scale = to_pos(raw_scale)
    lik = StudentT(df=3.0, loc=w[0] * xr + w[1], scale=scale).log_prob(yr).sum()
    prior = HalfNormal(torch.tensor(1.0)).log_prob(scale)
    loss = -(lik + prior + to_pos.log_abs_det_jacobian(raw_scale, scale))
    opt.zero_grad()
    loss.backward()
    opt.step()
print("studentt_fit:", r(w), r(to_pos(raw_scale)), r(loss))
t3 = StudentT(torch.tensor([3.0, 1.5, 0.8]), torch.tensor(0.5), torch.tensor(2.0))
print("studentt_moments:", r(t3.mean), r(t3.variance), r(t3.entropy()))

counts = torch.tensor([float((i * 3) % 7 + i // 4) for i in range(12)])
feat = torch.linspace(0.0, 1.0, 12)
beta = torch.zeros(2, requires_grad=True)
opt = torch.optim.LBFGS([beta], lr=0.5, max_iter=20, history_size=5)


def closure():
    opt.zero_grad()
    nll = -Poisson((beta[0] + beta[1] * feat).exp()).log_prob(counts).mean()
    nll.backward()
    return nll


for _ in range(3):
    opt.step(closure)
pois = Poisson((beta[0] + beta[1] * feat).exp())
print("poisson_glm:", r(beta), r(closure()))
print("poisson_stats:", r(pois.mean[:3]), r(pois.mode[:3]), r(pois.log_prob(counts)[:4]))

ln = LogNormal(torch.tensor([0.0, 0.5]), torch.tensor([0.25, 1.0]))
print("lognormal:", r(ln.log_prob(torch.tensor([[1.2], [0.3]]))), r(ln.mean), r(ln.variance),
      r(ln.entropy()), r(ln.cdf(torch.tensor([1.0, 2.0]))))
hn = HalfNormal(torch.tensor([0.5, 2.0]))
print("halfnormal:", r(hn.log_prob(torch.tensor([0.3, 1.7]))), r(hn.mean), r(hn.cdf(
    torch.tensor([0.3, 1.7]))), r(hn.icdf(torch.tensor([0.25, 0.9]))))
gu = Gumbel(torch.tensor(1.0), torch.tensor(2.0))
print("gumbel:", r(gu.log_prob(torch.tensor([-1.0, 0.0, 3.5]))), r(gu.mean), r(gu.stddev),
      r(gu.cdf(torch.tensor(2.0))), r(gu.icdf(torch.tensor(0.3))))
ca = Cauchy(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5]))
print("cauchy:", r(ca.log_prob(torch.tensor([0.5, 3.0]))), r(ca.cdf(torch.tensor([0.5, 3.0]))),
      r(ca.entropy()), ca.mean.isnan().all().item(), ca.variance.isinf().all().item())
print("shapes:", tuple(StudentT(torch.ones(3)).sample((2,)).shape),
      tuple(Poisson(torch.ones(2, 1)).sample((4,)).shape),
      tuple(LogNormal(0.0, 1.0).expand((5,)).rsample().shape))
