"""The second batch of ember.distributions against torch.distributions: the count families,
the transformed and relaxed families, LowRankMultivariateNormal, the new transforms and the
constraint registries, the KL pairs they bring, and the reparameterized gamma family
(Gamma, Chi2, Beta, Dirichlet, StudentT, FisherSnedecor rsample).

Values and gradients run on every available backend, float64 (tight) where the backend has
it and float32 (loose) everywhere; torch computes the reference in float64. The implicit
gamma gradient is checked against finite differences of the quantile (scipy's, at fixed
uniform noise) and, statistically, through E[d x / d alpha] = d E[x] / d alpha.
"""
import math

import numpy as np
import pytest

import ember
from ember.core import distributions as D

torch = pytest.importorskip("torch", reason="these checks compare ember with torch directly")
TD = torch.distributions

DEVICES = ember.backends.available()
TOL = {"float64": dict(rtol=1e-8, atol=1e-9), "float32": dict(rtol=3e-4, atol=3e-5)}


from tests.dist_helpers import dtype_or_skip as _dtype_or_skip  # noqa: E402
from tests.dist_helpers import quiet_fallback  # noqa: E402,F401 (autouse fixture)


def _np(t):
    if isinstance(t, np.ndarray):
        return t
    if isinstance(t, torch.Tensor):
        return t.detach().double().numpy()
    return t.detach().to("cpu").to(ember.float64).numpy()


def _close(a, b, dtype, scale=1.0, **over):
    tol = dict(TOL[dtype])
    tol = {k: v * scale for k, v in tol.items()}
    tol.update(over)
    np.testing.assert_allclose(_np(a), _np(b), equal_nan=True, **tol)


# name -> (params as numpy data, ember/torch constructor taking the params, points to score,
#          which properties to compare, which params are differentiable)
_P = np.array([0.2, 0.5, 0.9])
CASES = {
    "Binomial": (dict(total_count=[5.0, 10.0, 3.0], probs=_P),
                 lambda M, p: M.Binomial(p["total_count"], probs=p["probs"]),
                 [[0.0, 4.0, 3.0], [2.0, 10.0, 1.0]], ("mean", "variance", "mode"), ("probs",)),
    "BinomialLogits": (dict(total_count=[4.0, 4.0, 4.0], logits=[-1.0, 0.3, 2.0]),
                       lambda M, p: M.Binomial(p["total_count"], logits=p["logits"]),
                       [[0.0, 4.0, 3.0]], ("mean", "variance", "entropy"), ("logits",)),
    "NegativeBinomial": (dict(total_count=[2.0, 3.5, 1.0], probs=[0.2, 0.5, 0.7]),
                         lambda M, p: M.NegativeBinomial(p["total_count"], probs=p["probs"]),
                         [[0.0, 4.0, 3.0], [7.0, 1.0, 0.0]], ("mean", "variance", "mode"),
                         ("total_count", "probs")),
    "Geometric": (dict(probs=_P), lambda M, p: M.Geometric(probs=p["probs"]),
                  [[0.0, 4.0, 3.0]], ("mean", "variance", "mode", "entropy"), ("probs",)),
    "GeometricLogits": (dict(logits=[-2.0, 0.0, 1.5]),
                        lambda M, p: M.Geometric(logits=p["logits"]),
                        [[1.0, 0.0, 5.0]], ("mean", "variance", "entropy"), ("logits",)),
    "Multinomial": (dict(probs=[[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]),
                    lambda M, p: M.Multinomial(4, probs=p["probs"]),
                    [[[1.0, 1.0, 2.0], [4.0, 0.0, 0.0]]], ("mean", "variance", "entropy"),
                    ("probs",)),
    "Weibull": (dict(scale=[1.0, 2.0, 0.5], concentration=[0.7, 1.5, 3.0]),
                lambda M, p: M.Weibull(p["scale"], p["concentration"]),
                [[0.3, 1.2, 2.5]], ("mean", "variance", "mode", "entropy"),
                ("scale", "concentration")),
    "Pareto": (dict(scale=[1.0, 2.0, 0.5], alpha=[0.7, 2.5, 3.0]),
               lambda M, p: M.Pareto(p["scale"], p["alpha"]),
               [[1.3, 2.2, 2.5]], ("mean", "variance", "mode", "entropy"), ("scale", "alpha")),
    "Kumaraswamy": (dict(a=[0.7, 2.0, 3.0], b=[1.5, 0.6, 4.0]),
                    lambda M, p: M.Kumaraswamy(p["a"], p["b"]),
                    [[0.3, 0.6, 0.9]], ("mean", "variance", "entropy"), ("a", "b")),
    "HalfCauchy": (dict(scale=[1.0, 2.0, 0.5]), lambda M, p: M.HalfCauchy(p["scale"]),
                   [[0.3, 1.2, 2.5]], ("mean", "mode", "entropy", "cdf"), ("scale",)),
    "FisherSnedecor": (dict(df1=[1.5, 3.0, 6.0], df2=[2.5, 5.0, 9.0]),
                       lambda M, p: M.FisherSnedecor(p["df1"], p["df2"]),
                       [[0.3, 1.2, 2.5]], ("mean", "variance", "mode"), ("df1", "df2")),
    "InverseGamma": (dict(a=[0.5, 1.5, 8.0], rate=[1.0, 2.0, 0.5]),
                     lambda M, p: M.InverseGamma(p["a"], p["rate"]),
                     [[0.3, 1.2, 9.5]], ("mean", "variance", "mode", "entropy"), ("a", "rate")),
    "Chi2": (dict(df=[0.5, 3.0, 8.0]), lambda M, p: M.Chi2(p["df"]),
             [[0.3, 1.2, 9.5]], ("mean", "variance", "mode", "entropy", "cdf"), ("df",)),
    "ContinuousBernoulli": (dict(probs=[0.1, 0.4995, 0.8]),
                            lambda M, p: M.ContinuousBernoulli(probs=p["probs"]),
                            [[0.3, 0.6, 0.9]], ("mean", "variance", "entropy", "cdf"),
                            ("probs",)),
    "ContinuousBernoulliLogits": (dict(logits=[-2.0, 0.001, 1.0]),
                                  lambda M, p: M.ContinuousBernoulli(logits=p["logits"]),
                                  [[0.3, 0.6, 0.9]], ("mean", "variance", "entropy"),
                                  ("logits",)),
    "VonMises": (dict(loc=[0.0, 1.0, -2.0], concentration=[0.5, 2.0, 8.0]),
                 lambda M, p: M.VonMises(p["loc"], p["concentration"]),
                 [[0.3, 1.2, -2.5]], ("mean", "mode", "variance"), ("loc", "concentration")),
    "RelaxedBernoulli": (dict(t=[0.5, 0.5, 0.5], probs=_P),
                         lambda M, p: M.RelaxedBernoulli(p["t"], probs=p["probs"]),
                         [[0.3, 0.6, 0.9]], (), ("t", "probs")),
    "RelaxedOneHotCategorical": (dict(t=[0.7], probs=[[0.2, 0.3, 0.5]]),
                                 lambda M, p: M.RelaxedOneHotCategorical(p["t"],
                                                                         probs=p["probs"]),
                                 [[0.2, 0.7, 0.1]], (), ("t", "probs")),
    "LogisticNormal": (dict(loc=[0.3, -0.2], scale=[1.0, 0.5]),
                       lambda M, p: M.LogisticNormal(p["loc"], p["scale"]),
                       [[0.2, 0.7, 0.1]], (), ("loc", "scale")),
    "LowRankMultivariateNormal": (
        dict(loc=[0.5, -1.0, 0.0], W=[[1.0, 0.2], [0.3, -0.5], [0.0, 0.7]],
             d=[0.5, 1.5, 0.8]),
        lambda M, p: M.LowRankMultivariateNormal(p["loc"], p["W"], p["d"]),
        [[0.3, 0.2, -1.0], [1.0, 1.0, 1.0]], ("mean", "variance", "entropy",
                                              "covariance_matrix", "precision_matrix",
                                              "scale_tril"),
        ("loc", "W", "d")),
}


def _build(name, lib, dtype, device=None, grad=False):
    data, ctor, _, _, diff = CASES[name]
    opts = dict(dtype=getattr(lib, dtype))
    if device is not None:
        opts["device"] = device
    params = {}
    for k, v in data.items():
        t = lib.tensor(np.asarray(v, dtype=np.float64), **opts)
        if grad and k in diff:
            t.requires_grad_()
        params[k] = t
    module = D if lib is ember else TD
    return ctor(module, params), params, opts


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,device", [(n, d) for n in CASES for d in DEVICES])
def test_values_match_torch(name, device, dtype):
    _dtype_or_skip(device, dtype)
    e, _, eopts = _build(name, ember, dtype, device)
    t, _, topts = _build(name, torch, "float64")
    assert tuple(e.batch_shape) == tuple(t.batch_shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    # VonMises: torch's log I0 is a polynomial fit good to about 1e-7; Multinomial: torch's
    # entropy takes lgamma(n + 1) of an integer tensor, in float32
    scale = 1e3 if name in ("VonMises", "Multinomial") and dtype == "float64" else 1.0
    for pts in CASES[name][2]:
        ev = ember.tensor(np.asarray(pts), **eopts)
        tv = torch.tensor(np.asarray(pts), **topts)
        _close(e.log_prob(ev), t.log_prob(tv), dtype, scale)
        if "cdf" in CASES[name][3]:
            _close(e.cdf(ev), t.cdf(tv), dtype, scale)
    for prop in CASES[name][3]:
        if prop == "cdf":
            continue
        ev = e.entropy() if prop == "entropy" else getattr(e, prop)
        tv = t.entropy() if prop == "entropy" else getattr(t, prop)
        _close(ev, tv, dtype, scale)


@pytest.mark.parametrize("name,device", [(n, d) for n in CASES for d in DEVICES])
def test_log_prob_gradients_match_torch(name, device):
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    e, ep, eopts = _build(name, ember, dtype, device, grad=True)
    t, tp, topts = _build(name, torch, "float64", grad=True)
    pts = CASES[name][2][0]
    ev = ember.tensor(np.asarray(pts), **eopts)
    tv = torch.tensor(np.asarray(pts), **topts)
    e.log_prob(ev).sum().backward()
    t.log_prob(tv).sum().backward()
    scale = 1e3 if name == "VonMises" else 10.0
    for k in CASES[name][4]:
        assert ep[k].grad is not None, k
        _close(ep[k].grad, tp[k].grad, dtype, scale)


def test_kumaraswamy_mode_is_the_mode():
    # NOTE: torch 2.13's Kumaraswamy.mode is nan for every concentration0 > 1 (it takes
    # log1p(-concentration0)); ember returns ((a - 1) / (a b - 1))^(1/a) itself
    a = np.array([2.0, 3.0, 0.5])
    b = np.array([3.0, 1.5, 2.0])
    d = D.Kumaraswamy(ember.tensor(a), ember.tensor(b))
    mode = _np(d.mode)
    want = ((a - 1) / (a * b - 1)) ** (1 / a)
    np.testing.assert_allclose(mode[:2], want[:2], rtol=1e-12)
    assert math.isnan(mode[2])
    # the density is largest there
    x = ember.tensor(mode[:2])
    lo, hi = x - 1e-4, x + 1e-4
    d2 = D.Kumaraswamy(ember.tensor(a[:2]), ember.tensor(b[:2]))
    assert bool((d2.log_prob(x) > d2.log_prob(lo)).all())
    assert bool((d2.log_prob(x) > d2.log_prob(hi)).all())


def test_binomial_enumerate_and_entropy_vs_float64_sum():
    n, p = 6, np.array([0.1, 0.5, 0.85])
    d = D.Binomial(n, probs=ember.tensor(p))
    support = _np(d.enumerate_support())
    assert support.shape == (n + 1, 3)
    k = np.arange(n + 1)[:, None]
    pmf = np.array([math.comb(n, int(i)) for i in k[:, 0]])[:, None] * p ** k * (1 - p) ** (n - k)
    np.testing.assert_allclose(_np(d.log_prob(ember.tensor(support))), np.log(pmf),
                               rtol=1e-12)
    np.testing.assert_allclose(_np(d.entropy()), -(pmf * np.log(pmf)).sum(0), rtol=1e-12)
    with pytest.raises(NotImplementedError):
        D.Binomial(ember.tensor([2.0, 3.0]), probs=ember.tensor([0.5, 0.5])).entropy()


# ---- sampling statistics (fixed seeds, tolerances many standard errors wide) ---------------

SAMPLED = {
    "Binomial": lambda M, T: M.Binomial(T([10.0, 3.0]), probs=T([0.3, 0.8])),
    "NegativeBinomial": lambda M, T: M.NegativeBinomial(T([3.0, 1.5]), probs=T([0.4, 0.2])),
    "Geometric": lambda M, T: M.Geometric(probs=T([0.3, 0.7])),
    "Multinomial": lambda M, T: M.Multinomial(5, probs=T([0.2, 0.3, 0.5])),
    "Weibull": lambda M, T: M.Weibull(T([1.0, 2.0]), T([1.5, 3.0])),
    "Pareto": lambda M, T: M.Pareto(T([1.0, 2.0]), T([5.0, 6.0])),
    "Kumaraswamy": lambda M, T: M.Kumaraswamy(T([2.0, 0.7]), T([3.0, 1.5])),
    "FisherSnedecor": lambda M, T: M.FisherSnedecor(T([4.0, 8.0]), T([12.0, 20.0])),
    "Chi2": lambda M, T: M.Chi2(T([0.5, 4.0])),
    "InverseGamma": lambda M, T: M.InverseGamma(T([6.0, 9.0]), T([1.0, 3.0])),
    "ContinuousBernoulli": lambda M, T: M.ContinuousBernoulli(probs=T([0.2, 0.5, 0.9])),
    "Gamma": lambda M, T: M.Gamma(T([0.3, 2.0, 50.0]), T([1.0, 2.0, 0.5])),
    "Beta": lambda M, T: M.Beta(T([0.5, 2.0]), T([3.0, 0.8])),
    "Dirichlet": lambda M, T: M.Dirichlet(T([0.5, 2.0, 3.0])),
    "StudentT": lambda M, T: M.StudentT(T([5.0, 9.0]), T([1.0, -1.0]), T([2.0, 0.5])),
    "LowRankMultivariateNormal": lambda M, T: M.LowRankMultivariateNormal(
        T([0.5, -1.0]), T([[1.0], [0.3]]), T([0.5, 1.5])),
}


@pytest.mark.parametrize("name,device", [(n, d) for n in SAMPLED for d in DEVICES])
def test_sample_moments(name, device):
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    ember.manual_seed(1234)
    d = SAMPLED[name](D, lambda v: ember.tensor(v, dtype=getattr(ember, dtype), device=device))
    n = 20000
    x = _np(d.sample((n,)))
    assert x.shape == (n,) + tuple(d.batch_shape) + tuple(d.event_shape)
    assert bool(d.support.check(ember.tensor(x[:200], device=device)).all())
    mean, var = _np(d.mean), _np(d.variance)
    se = np.sqrt(var / n)
    assert np.all(np.abs(x.mean(0) - mean) < 6 * se + 1e-12), (x.mean(0), mean)
    # the sample variance: a loose relative check (heavier tails widen its spread)
    np.testing.assert_allclose(x.var(0), var, rtol=0.15)


def test_vonmises_sample_circular_moments():
    ember.manual_seed(7)
    loc, k = np.array([0.5, -2.0, 3.0]), np.array([0.5, 4.0, 20.0])
    d = D.VonMises(ember.tensor(loc), ember.tensor(k))
    x = _np(d.sample((20000,)))
    assert np.all(np.abs(x) <= math.pi)
    # E[cos(x - loc)] = I1(k) / I0(k) = 1 - circular variance
    r = np.cos(x - loc).mean(0)
    np.testing.assert_allclose(r, 1 - _np(d.variance), atol=0.03)
    np.testing.assert_allclose(np.sin(x - loc).mean(0), 0.0, atol=0.03)


# ---- the implicit reparameterization gradient --------------------------------------------

def test_gamma_rsample_gradient_matches_quantile_finite_differences():
    sp = pytest.importorskip("scipy.special", reason="the reference quantile is scipy's")
    from ember.core.distributions.gamma import _standard_gamma_grad
    u = np.array([0.001, 0.05, 0.3, 0.5, 0.8, 0.999])
    for a0 in [0.02, 0.3, 1.0, 4.5, 40.0, 300.0, 3000.0]:
        a = np.full_like(u, a0)
        x = sp.gammaincinv(a, u)
        h = 1e-5 * a0
        fd = (sp.gammaincinv(a + h, u) - sp.gammaincinv(a - h, u)) / (2 * h)
        got = _np(_standard_gamma_grad(ember.tensor(x), ember.tensor(a)))
        # beyond alpha = 2000 the gradient is Wilson-Hilferty's, good to ~1e-5 there
        # (the finite differences themselves are good to a few 1e-6 at the extremes)
        np.testing.assert_allclose(got, fd, rtol=2e-5, err_msg=str(a0))


@pytest.mark.parametrize("device", DEVICES)
def test_gamma_rsample_gradient_through_distribution(device):
    # with the noise fixed, d x / d alpha from rsample equals d quantile / d alpha
    sp = pytest.importorskip("scipy.special", reason="the reference quantile is scipy's")
    ember.manual_seed(3)
    a = ember.tensor([0.4, 2.0, 7.0], device=device, requires_grad=True)
    rate = ember.tensor([1.0, 3.0, 0.5], device=device, requires_grad=True)
    x = D.Gamma(a, rate).rsample((5,))
    x.sum().backward()
    xs, an, rn = _np(x), _np(a), _np(rate)
    u = sp.gammainc(an, xs * rn)
    h = 1e-6
    q = lambda aa: sp.gammaincinv(aa, u) / rn  # noqa: E731
    fd = (q(an + h) - q(an - h)) / (2 * h)
    np.testing.assert_allclose(_np(a.grad), fd.sum(0), rtol=2e-4)
    np.testing.assert_allclose(_np(rate.grad), (-xs / rn).sum(0), rtol=2e-4)


def test_gamma_rsample_gradient_statistically():
    # E[d x / d alpha] = d E[x] / d alpha = 1 / rate, and for Beta(a, b):
    # d E[x] / d a = b / (a + b)^2
    ember.manual_seed(11)
    a = ember.tensor([0.3, 2.5, 30.0], dtype=ember.float64, requires_grad=True)
    n = 20000
    D.Gamma(a, 2.0).rsample((n,)).mean(0).sum().backward()
    np.testing.assert_allclose(_np(a.grad), 0.5, rtol=0.05)
    c1 = ember.tensor([0.5, 2.0], dtype=ember.float64, requires_grad=True)
    c0 = ember.tensor([1.5, 3.0], dtype=ember.float64)
    D.Beta(c1, c0).rsample((n,)).mean(0).sum().backward()
    np.testing.assert_allclose(_np(c1.grad), _np(c0) / (_np(c1) + _np(c0)) ** 2, rtol=0.05)
    # Chi2: E[x] = df
    df = ember.tensor([1.0, 6.0], dtype=ember.float64, requires_grad=True)
    D.Chi2(df).rsample((n,)).mean(0).sum().backward()
    np.testing.assert_allclose(_np(df.grad), 1.0, rtol=0.05)
    # StudentT: E[|x|] depends on df; compare with finite differences of the exact E|x|
    df = ember.tensor([3.0, 8.0], dtype=ember.float64, requires_grad=True)
    D.StudentT(df).rsample((4 * n,)).abs().mean(0).sum().backward()

    def e_abs(v):
        return 2 * np.sqrt(v) / ((v - 1) * np.exp(math.lgamma(v / 2) - math.lgamma((v + 1) / 2))
                                 * math.sqrt(math.pi))
    v = np.array([3.0, 8.0])
    fd = np.array([(e_abs(x + 1e-5) - e_abs(x - 1e-5)) / 2e-5 for x in v])
    np.testing.assert_allclose(_np(df.grad), fd, rtol=0.15)


def test_dirichlet_rsample_gradient_statistically():
    ember.manual_seed(5)
    c = ember.tensor([0.5, 2.0, 3.0], dtype=ember.float64, requires_grad=True)
    n = 20000
    x = D.Dirichlet(c).rsample((n,))
    assert bool(D.constraints.simplex.check(x.detach()).all())
    x[..., 0].mean().backward()
    # d/dc_j of E[x_0] = c_0 / c_sum
    cs = _np(c)
    s = cs.sum()
    want = np.array([1 / s - cs[0] / s ** 2, -cs[0] / s ** 2, -cs[0] / s ** 2])
    np.testing.assert_allclose(_np(c.grad), want, rtol=0.05, atol=2e-3)


def test_has_rsample_flags_match_torch():
    # (a property on TransformedDistribution, so compare instances)
    for name in CASES:
        assert _build(name, ember, "float64")[0].has_rsample == \
            _build(name, torch, "float64")[0].has_rsample, name
    for name in SAMPLED:
        e = SAMPLED[name](D, lambda v: ember.tensor(v, dtype=ember.float64))
        t = SAMPLED[name](TD, lambda v: torch.tensor(v, dtype=torch.float64))
        assert e.has_rsample == t.has_rsample, name


@pytest.mark.parametrize("device", DEVICES)
def test_relaxed_rsample_gradients_flow(device):
    ember.manual_seed(0)
    t = ember.tensor([0.5], device=device, requires_grad=True)
    p = ember.tensor([0.2, 0.3, 0.5], device=device, requires_grad=True)
    x = D.RelaxedOneHotCategorical(t, probs=p).rsample((4,))
    assert bool(D.constraints.simplex.check(x.detach()).all())
    (x[..., 0] * 3 + x[..., 1]).sum().backward()
    assert t.grad is not None and p.grad is not None
    loc = ember.tensor([0.3, -0.2], device=device, requires_grad=True)
    y = D.LogisticNormal(loc, ember.ones(2, device=device)).rsample((3,))
    assert y.shape == (3, 3)
    y[..., 0].sum().backward()
    assert loc.grad is not None


# ---- transforms and the registries -------------------------------------------------------

TRANSFORMS = {
    "StickBreaking": (lambda M: M.StickBreakingTransform(), (4, 3)),
    "CorrCholesky": (lambda M: M.CorrCholeskyTransform(), (2, 6)),
    "LowerCholesky": (lambda M: M.LowerCholeskyTransform(), (2, 3, 3)),
    "PositiveDefinite": (lambda M: M.PositiveDefiniteTransform(), (2, 3, 3)),
    "Softmax": (lambda M: M.SoftmaxTransform(), (4, 3)),
    "Reshape": (lambda M: M.ReshapeTransform((2, 3), (3, 2)), (4, 2, 3)),
    "Independent": (lambda M: M.IndependentTransform(M.ExpTransform(), 1), (4, 3)),
    "Cat": (lambda M: M.CatTransform([M.ExpTransform(), M.TanhTransform()], 1, [2, 1]),
            (4, 3)),
    "Stack": (lambda M: M.StackTransform([M.ExpTransform(), M.SigmoidTransform()], 1),
              (4, 2)),
    "CDF": (lambda M: M.CumulativeDistributionTransform(
        (D if M is D.transforms else TD).Normal(0.5, 2.0)), (4, 3)),
}


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transforms_match_torch(name):
    make, shape = TRANSFORMS[name]
    e, t = make(D.transforms), make(TD.transforms)
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ey, ty = e(ex), t(tx)
    _close(ey, ty, "float64")
    assert tuple(e.forward_shape(ember.Size(shape))) == tuple(t.forward_shape(torch.Size(shape)))
    assert tuple(e.inverse_shape(ey.shape)) == tuple(t.inverse_shape(ty.shape))
    if name not in ("Softmax", "PositiveDefinite", "LowerCholesky"):
        _close(e.inv(ey.detach()), x, "float64", scale=100)
    else:  # not onto the whole domain: compare the inverses instead
        _close(e.inv(ey.detach()), t.inv(ty.detach()), "float64", scale=100)
    if name != "Softmax" and name != "LowerCholesky" and name != "PositiveDefinite":
        ej, tj = e.log_abs_det_jacobian(ex, ey), t.log_abs_det_jacobian(tx, ty)
        _close(ej, tj, "float64", scale=10)
        if name == "Reshape":  # volume preserving: a constant zero
            return
        ej.sum().backward()
        tj.sum().backward()
        _close(ex.grad, tx.grad, "float64", scale=100)
    assert e.bijective == t.bijective
    assert e.domain.event_dim == t.domain.event_dim
    assert e.codomain.event_dim == t.codomain.event_dim


def test_stick_breaking_jacobian_vs_float64_numeric():
    # log |det J| of the square map x -> y[:-1], by finite differences
    t = D.StickBreakingTransform()
    x = np.array([0.3, -1.2, 0.5])
    f = lambda v: _np(t(ember.tensor(v)))[:-1]  # noqa: E731
    J = np.stack([(f(x + 1e-6 * e) - f(x - 1e-6 * e)) / 2e-6 for e in np.eye(3)], 1)
    xe = ember.tensor(x)
    np.testing.assert_allclose(_np(t.log_abs_det_jacobian(xe, t(xe))),
                               np.log(abs(np.linalg.det(J))), rtol=1e-7)


@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
def test_constraint_registries_match_torch(registry):
    C, TC = D.constraints, TD.constraints
    pairs = [(C.real, TC.real), (C.positive, TC.positive), (C.nonnegative, TC.nonnegative),
             (C.unit_interval, TC.unit_interval), (C.interval(-1.0, 2.0),
                                                   TC.interval(-1.0, 2.0)),
             (C.greater_than(1.5), TC.greater_than(1.5)), (C.less_than(3.0), TC.less_than(3.0)),
             (C.simplex, TC.simplex), (C.real_vector, TC.real_vector),
             (C.corr_cholesky, TC.corr_cholesky), (C.lower_cholesky, TC.lower_cholesky),
             (C.positive_definite, TC.positive_definite),
             (C.half_open_interval(0.0, 1.0), TC.half_open_interval(0.0, 1.0))]
    er, tr = getattr(D, registry), getattr(TD, registry)
    rng = np.random.default_rng(1)
    for ec, tc in pairs:
        try:
            tt = tr(tc)
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                er(ec)
            continue
        et = er(ec)
        assert type(et).__name__ == type(tt).__name__, (ec, et, tt)
        n = {C.corr_cholesky: (6,)}.get(ec, (3, 3) if ec.event_dim == 2 else (3,))
        x = rng.normal(size=n)
        y = et(ember.tensor(x))
        _close(y, tt(torch.tensor(x)), "float64")
        assert bool(ec.check(y).all())


def test_new_constraints():
    C = D.constraints
    v = ember.tensor([[1.0, 2.0, 0.0], [3.0, 0.0, 2.0]])
    assert _np(C.multinomial(3).check(v)).tolist() == [True, False]
    cat = C.cat([C.positive, C.real], 0, [1, 2])
    assert _np(cat.check(ember.tensor([1.0, -2.0, 3.0]))).tolist() == [True, True, True]
    assert _np(cat.check(ember.tensor([-1.0, -2.0, 3.0]))).tolist() == [False, True, True]
    st = C.stack([C.positive, C.unit_interval], 1)
    assert _np(st.check(ember.tensor([[1.0, 0.5], [1.0, 2.0]]))).tolist() == \
        [[True, True], [True, False]]
    L = D.CorrCholeskyTransform()(ember.tensor([0.3, -0.4, 1.2]))
    assert bool(C.corr_cholesky.check(L))
    assert not bool(C.corr_cholesky.check(L * 1.1))


# ---- KL divergences ----------------------------------------------------------------------

KL_PAIRS = {
    "Binomial": (lambda M, T: M.Binomial(T([5.0, 5.0]), probs=T([0.3, 0.6])),
                 lambda M, T: M.Binomial(T([5.0, 4.0]), probs=T([0.5, 0.2]))),
    "Geometric": (lambda M, T: M.Geometric(probs=T([0.3, 0.6])),
                  lambda M, T: M.Geometric(probs=T([0.5, 0.2]))),
    "Poisson": (lambda M, T: M.Poisson(T([0.3, 6.0])), lambda M, T: M.Poisson(T([2.0, 3.0]))),
    "Gumbel": (lambda M, T: M.Gumbel(T([0.3, 1.0]), T([1.0, 2.0])),
               lambda M, T: M.Gumbel(T([-0.5, 1.0]), T([2.0, 0.5]))),
    "HalfNormal": (lambda M, T: M.HalfNormal(T([0.3, 1.0])),
                   lambda M, T: M.HalfNormal(T([2.0, 0.5]))),
    "Cauchy": (lambda M, T: M.Cauchy(T([0.3, 1.0]), T([1.0, 2.0])),
               lambda M, T: M.Cauchy(T([-0.5, 1.0]), T([2.0, 0.5]))),
    "Pareto": (lambda M, T: M.Pareto(T([1.0, 1.0]), T([2.0, 3.0])),
               lambda M, T: M.Pareto(T([0.5, 2.0]), T([1.0, 3.0]))),
    "ContinuousBernoulli": (lambda M, T: M.ContinuousBernoulli(probs=T([0.2, 0.7])),
                            lambda M, T: M.ContinuousBernoulli(probs=T([0.6, 0.4]))),
    "BernoulliPoisson": (lambda M, T: M.Bernoulli(T([0.2, 0.7])),
                         lambda M, T: M.Poisson(T([0.6, 2.0]))),
    "PoissonBinomial": (lambda M, T: M.Poisson(T([0.2, 0.7])),
                        lambda M, T: M.Binomial(3, probs=T([0.6, 0.4]))),
    "Weibull": (lambda M, T: M.LogNormal(T([0.2, 0.7]), T([1.0, 2.0])),
                lambda M, T: M.LogNormal(T([0.6, 0.4]), T([0.5, 1.0]))),
    "LowRankLowRank": (
        lambda M, T: M.LowRankMultivariateNormal(T([0.5, -1.0, 0.0]),
                                                 T([[1.0], [0.3], [0.2]]), T([0.5, 1.5, 1.0])),
        lambda M, T: M.LowRankMultivariateNormal(T([0.0, 1.0, 2.0]),
                                                 T([[0.2, 0.1], [0.3, -1.0], [1.0, 0.0]]),
                                                 T([1.0, 0.5, 2.0]))),
    "MVNLowRank": (
        lambda M, T: M.MultivariateNormal(T([0.5, -1.0, 0.0]),
                                          scale_tril=T([[1.0, 0, 0], [0.3, 2.0, 0],
                                                        [0.1, -0.2, 0.5]])),
        lambda M, T: M.LowRankMultivariateNormal(T([0.0, 1.0, 2.0]),
                                                 T([[0.2, 0.1], [0.3, -1.0], [1.0, 0.0]]),
                                                 T([1.0, 0.5, 2.0]))),
    "LowRankMVN": (
        lambda M, T: M.LowRankMultivariateNormal(T([0.0, 1.0, 2.0]),
                                                 T([[0.2, 0.1], [0.3, -1.0], [1.0, 0.0]]),
                                                 T([1.0, 0.5, 2.0])),
        lambda M, T: M.MultivariateNormal(T([0.5, -1.0, 0.0]),
                                          scale_tril=T([[1.0, 0, 0], [0.3, 2.0, 0],
                                                        [0.1, -0.2, 0.5]]))),
}


@pytest.mark.parametrize("name,device", [(n, d) for n in KL_PAIRS for d in DEVICES])
def test_kl_matches_torch(name, device):
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    mp, mq = KL_PAIRS[name]

    def ET(v):
        return ember.tensor(v, dtype=getattr(ember, dtype), device=device)

    def TT(v):
        return torch.tensor(v, dtype=torch.float64)
    got = D.kl_divergence(mp(D, ET), mq(D, ET))
    want = TD.kl_divergence(mp(TD, TT), mq(TD, TT))
    _close(got, want, dtype, scale=10)


# ---- validation errors, with torch's exception classes ----------------------------------

ERRORS = [
    ("Binomial", lambda M, T: M.Binomial(T([2.5]), probs=T([0.5]), validate_args=True)),
    ("Binomial", lambda M, T: M.Binomial(2, probs=T([1.5]), validate_args=True)),
    ("Binomial", lambda M, T: M.Binomial(2, validate_args=True)),
    ("Geometric", lambda M, T: M.Geometric(probs=T([0.0]), validate_args=True)),
    ("NegativeBinomial", lambda M, T: M.NegativeBinomial(T([-1.0]), probs=T([0.5]),
                                                         validate_args=True)),
    ("NegativeBinomial", lambda M, T: M.NegativeBinomial(T([1.0]), probs=T([1.0]),
                                                         validate_args=True)),
    ("Weibull", lambda M, T: M.Weibull(T([1.0]), T([-1.0]), validate_args=True)),
    ("Pareto", lambda M, T: M.Pareto(T([0.0]), T([1.0]), validate_args=True)),
    ("Kumaraswamy", lambda M, T: M.Kumaraswamy(T([0.0]), T([1.0]), validate_args=True)),
    ("VonMises", lambda M, T: M.VonMises(T([0.0]), T([0.0]), validate_args=True)),
    ("FisherSnedecor", lambda M, T: M.FisherSnedecor(T([1.0]), T([-1.0]), validate_args=True)),
    ("Chi2", lambda M, T: M.Chi2(T([-1.0]), validate_args=True)),
    ("ContinuousBernoulli", lambda M, T: M.ContinuousBernoulli(T([1.5]), validate_args=True)),
    ("LowRankMultivariateNormal", lambda M, T: M.LowRankMultivariateNormal(
        T([0.0, 0.0]), T([[1.0], [1.0]]), T([1.0, -1.0]), validate_args=True)),
    ("LowRankMultivariateNormal", lambda M, T: M.LowRankMultivariateNormal(
        T([0.0, 0.0]), T([[1.0], [1.0], [1.0]]), T([1.0, 1.0]))),
    ("Multinomial", lambda M, T: M.Multinomial(3, probs=T([0.5, -0.5]), validate_args=True)),
    ("Binomial.log_prob", lambda M, T: M.Binomial(3, probs=T([0.5]), validate_args=True)
     .log_prob(T([4.0]))),
    ("Pareto.log_prob", lambda M, T: M.Pareto(T([2.0]), T([1.0]), validate_args=True)
     .log_prob(T([1.0]))),
    ("Multinomial.log_prob", lambda M, T: M.Multinomial(2, probs=T([0.5, 0.5]),
                                                        validate_args=True)
     .log_prob(T([2.0, 1.0]))),
    ("StickBreaking.shape", lambda M, T: M.StickBreakingTransform().forward_shape(())),
    ("Reshape", lambda M, T: M.ReshapeTransform((2, 3), (4,))),
    ("biject_to", lambda M, T: M.biject_to(M.constraints.lower_cholesky)),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_validation_errors_match_torch(i):
    name, make = ERRORS[i]

    def ET(v):
        return ember.tensor(v, dtype=ember.float64)

    def TT(v):
        return torch.tensor(v, dtype=torch.float64)
    with pytest.raises(Exception) as te:
        make(TD, TT)
    with pytest.raises(type(te.value)):
        make(D, ET)


@pytest.mark.parametrize("name", [n for n in CASES])
def test_expand(name):
    e, _, _ = _build(name, ember, "float64")
    t, _, _ = _build(name, torch, "float64")
    shape = (2,) + tuple(e.batch_shape)
    ee, te = e.expand(shape), t.expand(shape)
    assert type(ee) is type(e)
    assert tuple(ee.batch_shape) == tuple(te.batch_shape)
    pts = np.asarray(CASES[name][2][0])
    _close(ee.log_prob(ember.tensor(pts)), te.log_prob(torch.tensor(pts)), "float64", 1e3)
