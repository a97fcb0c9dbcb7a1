"""ember.distributions against torch.distributions: values (log_prob, entropy, moments, cdf,
icdf, KL), shapes, sampling statistics, gradients, and validation errors.

Value and gradient checks run on every available backend: float64 (tight tolerance) where the
backend has it, float32 (loose tolerance) everywhere; torch computes the reference in float64.
"""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.core import distributions as D

torch = pytest.importorskip("torch", reason="these checks compare ember with torch directly")
TD = torch.distributions

DEVICES = ember.backends.available()
TOL = {"float64": dict(rtol=1e-9, atol=1e-10), "float32": dict(rtol=2e-4, atol=2e-5)}


from tests.dist_helpers import Maker, dtype_or_skip as _dtype_or_skip  # noqa: E402
from tests.dist_helpers import quiet_fallback  # noqa: E402,F401 (autouse fixture)


def _pair(dtype="float64", device="cpu", grad=False):
    return Maker(ember, dtype, device, grad), Maker(torch, "float64", None, grad)


def _np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return x.detach().to(ember.float64).cpu().numpy() if x.dtype.is_floating_point \
        else x.detach().cpu().numpy()


def _close(e, t, dtype, what=""):
    assert isinstance(e, ember.Tensor), (what, type(e))
    assert tuple(e.shape) == tuple(t.shape), (what, e.shape, t.shape)
    tdt = str(t.dtype).split(".")[1]
    # float64 references come back in the working dtype; others (default-dtype results of
    # Python-number parameters, integers) in torch's own dtype
    want = dtype if tdt == "float64" else tdt
    assert e.dtype.name == want, (what, e.dtype, want)
    tol = TOL["float32" if "float32" in (want, dtype) else "float64"]
    np.testing.assert_allclose(_np(e), _np(t), equal_nan=True, err_msg=what, **tol)


MVN_COV = [[2.0, 0.3, -0.4], [0.3, 1.0, 0.2], [-0.4, 0.2, 1.5]]
MVN_PREC = [[1.5, -0.2, 0.1], [-0.2, 2.0, 0.4], [0.1, 0.4, 0.8]]

# name -> (build(M, t), args(t) for log_prob/cdf, args(t) for icdf or None)
CASES = {
    "normal": (lambda M, t: M.Normal(t([0.0, 1.0, -2.0]), t([[1.0], [2.5]])),
               lambda t: t.value([[0.3, -1.0, 2.0], [1.0, 0.0, 5.0]]),
               lambda t: t.value([[0.1, 0.5, 0.9], [0.3, 0.7, 0.99]])),
    "normal_numbers": (lambda M, t: M.Normal(0.5, 2.0),
                       lambda t: t.value(1.3), lambda t: t.value(0.25)),
    "uniform": (lambda M, t: M.Uniform(t([0.0, -1.0, 2.0]), t([1.0, 3.0, 2.5])),
                lambda t: t.value([0.5, 0.0, 2.2]), lambda t: t.value([0.1, 0.5, 0.9])),
    "bernoulli_probs": (lambda M, t: M.Bernoulli(probs=t([0.1, 0.5, 0.8])),
                        lambda t: t.value([0.0, 1.0, 1.0]), None),
    "bernoulli_logits": (lambda M, t: M.Bernoulli(logits=t([[-2.0, 0.3], [4.0, -30.0]])),
                         lambda t: t.value([[1.0, 0.0], [0.0, 1.0]]), None),
    "categorical_probs": (lambda M, t: M.Categorical(probs=t([[0.1, 0.2, 0.7, 0.0],
                                                               [1.0, 2.0, 3.0, 4.0]])),
                          lambda t: t.long([2, 3]), None),
    "categorical_logits": (lambda M, t: M.Categorical(logits=t([0.5, -1.0, 2.0])),
                           lambda t: t.long([[0], [2]]), None),
    "onehot": (lambda M, t: M.OneHotCategorical(probs=t([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])),
               lambda t: t.value([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]), None),
    "onehot_logits": (lambda M, t: M.OneHotCategorical(logits=t([0.2, -1.3, 0.5])),
                      lambda t: t.value([[0.0, 1.0, 0.0]]), None),
    "exponential": (lambda M, t: M.Exponential(t([0.5, 2.0, 7.0])),
                    lambda t: t.value([0.1, 1.0, 3.0]), lambda t: t.value([0.1, 0.5, 0.9])),
    "laplace": (lambda M, t: M.Laplace(t([0.0, 1.0]), t([[0.5], [2.0]])),
                lambda t: t.value([[0.3, 1.0], [-2.0, 4.0]]),
                lambda t: t.value([[0.1, 0.5], [0.7, 0.99]])),
    "independent": (lambda M, t: M.Independent(M.Normal(t([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]),
                                                        t([1.0, 2.0, 3.0])), 1),
                    lambda t: t.value([[0.5, 0.5, 0.5], [3.0, 2.0, 1.0]]), None),
    "mvn_cov": (lambda M, t: M.MultivariateNormal(t([[0.0, 1.0, 2.0], [1.0, 0.0, -1.0]]),
                                                  covariance_matrix=t(MVN_COV)),
                lambda t: t.value([[[[0.5, 0.2, 1.0]]], [[[1.0, -1.0, 0.0]]]]), None),
    "mvn_tril": (lambda M, t: M.MultivariateNormal(
                     t([0.0, 1.0]), scale_tril=t([[[1.0, 0.0], [0.5, 2.0]],
                                                  [[0.3, 0.0], [-1.0, 1.0]]])),
                 lambda t: t.value([0.7, -0.4]), None),
    "mvn_prec": (lambda M, t: M.MultivariateNormal(t([0.0, 1.0, 2.0]),
                                                   precision_matrix=t(MVN_PREC)),
                 lambda t: t.value([[0.5, 0.2, 1.0], [1.0, -1.0, 0.0]]), None),
    "gamma": (lambda M, t: M.Gamma(t([0.5, 2.0, 7.0]), t([[1.0], [3.0]])),
              lambda t: t.value([[0.3, 1.0, 2.0], [0.1, 0.5, 4.0]]), None),
    "beta": (lambda M, t: M.Beta(t([0.5, 2.0, 3.0, 0.5]), t([1.5, 0.7, 3.0, 0.5])),
             lambda t: t.value([0.2, 0.5, 0.9, 0.01]), None),
    # (number parameters are float32, so the value is too: a float64 one would promote the
    # result to float64 while its lgamma terms keep float32 accuracy)
    "beta_numbers": (lambda M, t: M.Beta(2.0, 3.0), lambda t: t.value(0.3).float(), None),
    "dirichlet": (lambda M, t: M.Dirichlet(t([[0.5, 0.8, 0.3], [0.5, 2.0, 3.0],
                                              [2.0, 2.0, 2.0]])),
                  lambda t: t.value([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]]), None),
}

# Gamma, Beta and Dirichlet are reparameterized as torch's (the implicit gamma gradient; see
# tests/test_distributions_more.py), so nothing is left out here any more
NO_RSAMPLE = set()
GAMMA_FAMILY = {"gamma", "beta", "beta_numbers", "dirichlet"}
OMITTED = set()
# neither torch nor ember differentiates igamma in its first argument (Gamma.cdf's)
NO_GRAD = {("gamma", "cdf")}

SHAPES = {  # name -> (batch_shape, event_shape)
    "normal": ((2, 3), ()), "normal_numbers": ((), ()), "uniform": ((3,), ()),
    "bernoulli_probs": ((3,), ()), "bernoulli_logits": ((2, 2), ()),
    "categorical_probs": ((2,), ()), "categorical_logits": ((), ()), "onehot": ((2,), (3,)),
    "onehot_logits": ((), (3,)), "exponential": ((3,), ()), "laplace": ((2, 2), ()),
    "independent": ((2,), (3,)), "mvn_cov": ((2,), (3,)), "mvn_tril": ((2,), (2,)),
    "mvn_prec": ((), (3,)), "gamma": ((2, 3), ()), "beta": ((4,), ()), "beta_numbers": ((), ()),
    "dirichlet": ((3,), (3,)),
}


def _both(name, dtype, device, grad=False):
    build, value, icdf = CASES[name]
    me, mt = _pair(dtype, device, grad)
    return (build(D, me), build(TD, mt), me, mt, value, icdf)


def _outputs(d, t, value, icdf):
    """Each quantity torch defines for d, by name: a callable giving it."""
    out = {name: (lambda name=name: getattr(d, name))
           for name in ("mean", "mode", "variance", "stddev")}
    out["entropy"] = d.entropy
    out["perplexity"] = d.perplexity
    out["log_prob"] = lambda: d.log_prob(value(t))
    out["cdf"] = lambda: d.cdf(value(t))
    if icdf is not None:
        out["icdf"] = lambda: d.icdf(icdf(t))
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
# (Python-number parameters make default-device tensors: those cases run on cpu only)
@pytest.mark.parametrize("name,device", [(n, d) for n in CASES for d in DEVICES
                                         if d == "cpu" or not n.endswith("_numbers")])
def test_values_match_torch(name, device, dtype):
    _dtype_or_skip(device, dtype)
    de, dt, me, mt, value, icdf = _both(name, dtype, device)
    assert tuple(de.batch_shape) == tuple(dt.batch_shape) == SHAPES[name][0]
    assert tuple(de.event_shape) == tuple(dt.event_shape) == SHAPES[name][1]
    assert de.has_rsample == (dt.has_rsample and name not in NO_RSAMPLE)
    assert de.has_enumerate_support == dt.has_enumerate_support
    oe, ot = _outputs(de, me, value, icdf), _outputs(dt, mt, value, icdf)
    for key in ot:
        try:
            if (name, key) in OMITTED:
                raise NotImplementedError
            ref = ot[key]()
        except NotImplementedError:  # torch has no such quantity here: nor must ember
            with pytest.raises(NotImplementedError):
                oe[key]()
            continue
        _close(oe[key](), ref, dtype, f"{name}.{key}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [n for n in CASES if CASES[n][0](TD, Maker(torch, "float64"))
                                  .has_enumerate_support])
def test_enumerate_support(name, device):
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    de, dt, *_ = _both(name, dtype, device)
    for expand in (True, False):
        _close(de.enumerate_support(expand), dt.enumerate_support(expand), dtype, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [n for n in CASES if not n.endswith("_numbers")])
def test_gradients_match_torch(name, device):
    """d/dparams of log_prob + entropy (+ cdf, icdf): ember's autograd against torch's."""
    dtype = _dtype_or_skip(device, "float64")
    de, dt, me, mt, value, icdf = _both(name, dtype, device, grad=True)

    def loss(d, t):
        total = d.log_prob(value(t)).sum() + d.entropy().sum()
        for fn, arg in (("cdf", value), ("icdf", icdf)):
            if arg is not None and getattr(type(dt), fn) is not getattr(TD.Distribution, fn) \
                    and (name, fn) not in OMITTED | NO_GRAD:
                total = total + getattr(d, fn)(arg(t)).sum()
        return total

    loss(de, me).backward()
    loss(dt, mt).backward()
    for e, t in zip(me.leaves, mt.leaves):
        if name in GAMMA_FAMILY:  # the gamma family's gradients use ember's trigamma (~1e-9)
            np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=1e-7, err_msg=name)
            continue
        _close(e.grad, t.grad, dtype, f"{name} gradient")


@pytest.mark.parametrize("name", [n for n in CASES if not n.endswith("_numbers")])
def test_float32_gradients(name):
    """Float32 gradients (on cpu) against torch's in float32: the probability clamps depend
    on the dtype's eps, so a float64 reference would differ at zero probabilities."""
    build, value, _ = CASES[name]
    me, mt = Maker(ember, "float32", "cpu", True), Maker(torch, "float32", None, True)
    de, dt = build(D, me), build(TD, mt)
    (de.log_prob(value(me)).sum() + de.entropy().sum()).backward()
    (dt.log_prob(value(mt)).sum() + dt.entropy().sum()).backward()
    for e, t in zip(me.leaves, mt.leaves):
        np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=1e-3, atol=1e-4)


# ---- shapes and sampling --------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(CASES))
def test_sample_shapes(name, device):
    de, dt, *_ = _both(name, "float32", device)
    batch, event = SHAPES[name]
    home = "cpu" if name.endswith("_numbers") else device  # numbers make cpu tensors
    for sample_shape in [(), (5,), (2, 3), ember.Size([4])]:
        want = tuple(sample_shape) + batch + event
        s = de.sample(sample_shape)
        assert tuple(s.shape) == want == tuple(dt.sample(tuple(sample_shape)).shape)
        assert s.device.type == ember.device(home).type and not s.requires_grad
        assert bool(de.support.check(s).all())
        if de.has_rsample:
            assert tuple(de.rsample(sample_shape).shape) == want
        else:
            with pytest.raises(NotImplementedError):
                de.rsample(sample_shape)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(CASES))
def test_sampling_is_reproducible(name, device):
    de = CASES[name][0](D, Maker(ember, "float32", device))
    draws = []
    for _ in range(2):
        ember.manual_seed(123)
        draws.append(_np(de.sample((50,))))
    ember.manual_seed(124)
    other = _np(de.sample((50,)))
    np.testing.assert_array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[0], other)


def _moments_ok(x, mean, var, n, what):
    """Sample mean within 5 standard errors of mean, and sample variance within 5 standard
    errors (from the sample's fourth central moment) of var."""
    m = x.mean(0)
    assert np.all(np.abs(m - mean) <= 5 * np.sqrt(var / n) + 1e-12), (what, m, mean)
    c = x - m
    v = (c ** 2).mean(0)
    se_v = np.sqrt(np.maximum((c ** 4).mean(0) - v ** 2, 0) / n)
    assert np.all(np.abs(v - var) <= 5 * se_v + 1e-12), (what, v, var)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [n for n in CASES if not n.startswith("categorical")])
def test_sample_moments(name, device):
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    de, dt, *_ = _both(name, dtype, device)
    ember.manual_seed(2024)
    n = 20000
    _moments_ok(_np(de.sample((n,))), _np(dt.mean), _np(dt.variance), n, name)
    if de.has_rsample:
        _moments_ok(_np(de.rsample((n,))), _np(dt.mean), _np(dt.variance), n, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["categorical_probs", "categorical_logits"])
def test_categorical_frequencies(name, device):
    de, dt, *_ = _both(name, "float32", device)
    ember.manual_seed(7)
    n = 20000
    s = _np(de.sample((n,)))
    p = _np(dt.probs)
    freq = (s[..., None] == np.arange(p.shape[-1])).mean(0)
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12), (freq, p)
    assert np.all(freq[p == 0] == 0)  # a zero-probability category is never drawn


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("device", DEVICES)
def test_gamma_sampler_distribution(device, dtype):
    """The rejection sampler's draws follow the gamma CDF (torch's gammainc) at its deciles,
    including concentrations below one (the boosted path) and large ones."""
    _dtype_or_skip(device, dtype)
    a = np.array([0.05, 0.3, 1.0, 2.5, 30.0])
    ember.manual_seed(99)
    n = 20000
    x = _np(D.Gamma(ember.tensor(a, dtype=getattr(ember, dtype), device=device), 2.0)
            .sample((n,))) * 2.0  # rate 2: scale back to Gamma(a, 1)
    assert x.min() > 0
    for q in np.linspace(0.1, 0.9, 9):
        at = np.quantile(x, q, axis=0)
        p = torch.special.gammainc(torch.tensor(a), torch.tensor(at)).numpy()
        assert np.all(np.abs(p - q) <= 5 * np.sqrt(q * (1 - q) / n)), (q, p)


def test_mvn_sample_covariance():
    me, mt = _pair()
    cov = np.array(MVN_COV)
    d = D.MultivariateNormal(me.value([1.0, -2.0, 0.5]), covariance_matrix=me.value(cov))
    ember.manual_seed(5)
    n = 40000
    x = _np(d.rsample((n,)))
    c = np.cov(x, rowvar=False)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / n)
    assert np.all(np.abs(c - cov) <= 5 * se), (c, cov)


@pytest.mark.parametrize("name,seed", [(n, s) for n in ["normal", "uniform", "exponential",
                                                         "laplace", "bernoulli_probs",
                                                         "bernoulli_logits", "mvn_cov",
                                                         "mvn_prec", "independent"]
                                       for s in (0, 31)])
def test_cpu_draws_equal_torchs(name, seed):
    """On cpu ember's generator reproduces torch's stream, so the draws themselves agree."""
    de, dt, *_ = _both(name, "float64", "cpu")
    for method in ("sample", "rsample") if dt.has_rsample else ("sample",):
        torch.manual_seed(seed)
        ember.manual_seed(seed)
        ref = getattr(dt, method)((300,))
        np.testing.assert_allclose(_np(getattr(de, method)((300,))), _np(ref), rtol=1e-12,
                                   atol=1e-12, err_msg=f"{name}.{method}")


@pytest.mark.parametrize("name", ["normal", "uniform", "exponential", "laplace", "mvn_cov",
                                  "mvn_tril", "mvn_prec", "independent"])
def test_rsample_gradient_matches_torch(name):
    """Pathwise gradients: same noise (cpu streams agree), same d(f(rsample))/dparams."""
    de, dt, me, mt, *_ = _both(name, "float64", "cpu", grad=True)
    for d, seed_fn in ((de, ember.manual_seed), (dt, torch.manual_seed)):
        seed_fn(11)
        x = d.rsample((50,))
        (x.sin() * x).sum().backward()
    for e, t in zip(me.leaves, mt.leaves):
        _close(e.grad, t.grad, "float64", f"{name} rsample gradient")


@pytest.mark.parametrize("device", DEVICES)
def test_rsample_pathwise_identities(device):
    """On every backend: for x = loc + scale * eps, d(sum x)/dloc = n and
    d(sum x)/dscale = sum((x - loc) / scale); likewise for Uniform and Exponential."""
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    t = Maker(ember, dtype, device, grad=True)
    n = 64
    for cls in (D.Normal, D.Laplace):
        loc, scale = t([0.5, -1.0]), t([2.0, 0.3])
        x = cls(loc, scale).rsample((n,))
        x.sum().backward()
        np.testing.assert_allclose(_np(loc.grad), [n, n], **TOL[dtype])
        eps = (x - loc) / scale
        np.testing.assert_allclose(_np(scale.grad), _np(eps.sum(0)), **TOL[dtype])
    low, high = t([0.0, 1.0]), t([2.0, 1.5])
    x = D.Uniform(low, high).rsample((n,))
    x.sum().backward()
    u = _np((x - low) / (high - low)).sum(0)
    np.testing.assert_allclose(_np(high.grad), u, **TOL[dtype])
    np.testing.assert_allclose(_np(low.grad), n - u, **TOL[dtype])
    rate = t([0.5, 3.0])
    x = D.Exponential(rate).rsample((n,))
    x.sum().backward()
    np.testing.assert_allclose(_np(rate.grad), _np(-(x / rate).sum(0)), **TOL[dtype])


def test_sample_has_no_grad_but_rsample_does():
    loc = ember.zeros(3, requires_grad=True)
    d = D.Normal(loc, 1.0)
    assert not d.sample().requires_grad
    assert d.rsample().requires_grad
    # straight-through: the gradient reaches probs as if the sample were probs itself
    pe = ember.tensor([0.2, 0.8], requires_grad=True)
    pt = torch.tensor([0.2, 0.8], requires_grad=True)
    for probs, M, lib in ((pe, D, ember), (pt, TD, torch)):
        x = M.OneHotCategoricalStraightThrough(probs * 2).rsample((10,))
        assert x.requires_grad and set(np.unique(_np(x.detach()))) <= {0.0, 1.0}
        (x * lib.tensor([1.0, 3.0])).sum().backward()
    np.testing.assert_allclose(_np(pe.grad), _np(pt.grad), rtol=1e-6)


# ---- expand, repr, parameters ---------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_expand(name):
    de, dt, me, mt, value, _ = _both(name, "float64", "cpu")
    batch = (4,) + SHAPES[name][0]
    ee, et = de.expand(batch), dt.expand(batch)
    assert type(ee) is type(de) and tuple(ee.batch_shape) == batch
    assert tuple(ee.event_shape) == tuple(et.event_shape)
    # a new axis in front of the value's batch dims keeps it broadcastable with (4,) + batch
    ve, vt = value(me), value(mt)
    at = max(0, ve.ndim - len(SHAPES[name][0]) - len(SHAPES[name][1]))
    _close(ee.log_prob(ve.unsqueeze(at)), et.log_prob(vt.unsqueeze(at)), "float64", name)
    _close(ee.entropy(), et.entropy(), "float64", name)
    assert tuple(ee.sample((2,)).shape) == (2,) + batch + SHAPES[name][1]


def test_expand_of_subclass_requires_own_expand():
    class MyNormal(D.Normal):
        def __init__(self, loc):
            super().__init__(loc, 1.0)

    with pytest.raises(NotImplementedError, match="must also define a custom .expand"):
        MyNormal(ember.zeros(2)).expand((3, 2))


def test_probs_logits_conversions():
    me, mt = _pair()
    for cls in ("Bernoulli", "Categorical", "OneHotCategorical"):
        for kw in ("probs", "logits"):
            data = [[0.2, 0.3, 0.5], [0.0, 0.5, 0.5]] if kw == "probs" else [[1.0, -2.0, 30.0]]
            de = getattr(D, cls)(**{kw: me.value(data)})
            dt = getattr(TD, cls)(**{kw: mt.value(data)})
            _close(de.probs, dt.probs, "float64", f"{cls}.probs")
            _close(de.logits, dt.logits, "float64", f"{cls}.logits")
            assert tuple(de.param_shape) == tuple(dt.param_shape)


def test_mvn_matrix_parameters():
    me, mt = _pair()
    for kw, m in (("covariance_matrix", MVN_COV), ("precision_matrix", MVN_PREC)):
        de = D.MultivariateNormal(me.value([[0.0, 1.0, 2.0]] * 2), **{kw: me.value(m)})
        dt = TD.MultivariateNormal(mt.value([[0.0, 1.0, 2.0]] * 2), **{kw: mt.value(m)})
        for attr in ("scale_tril", "covariance_matrix", "precision_matrix"):
            _close(getattr(de, attr), getattr(dt, attr), "float64", f"{kw}: {attr}")


def test_numbers_and_tensors_broadcast_like_torch():
    x = ember.tensor([1.0, 2.0], dtype=ember.float64)
    d = D.Normal(x, 2)  # the number takes the tensor's dtype
    assert d.scale.dtype == ember.float64 and tuple(d.scale.shape) == (2,)
    assert D.Normal(0.0, 1.0).loc.dtype == ember.get_default_dtype()
    assert tuple(D.Uniform(ember.zeros(3, 1), ember.ones(4)).batch_shape) == (3, 4)
    with pytest.raises(ValueError, match="Input arguments must all be instances of Number"):
        D.Normal("a", 1.0)


def test_reprs_match_torch():
    me, mt = _pair()
    for build in (lambda M, t: M.Normal(0.0, 1.0), lambda M, t: M.Bernoulli(t.value([0.3])),
                  lambda M, t: M.Uniform(t.value([0.0, 1.0]), 3.0),
                  lambda M, t: M.Independent(M.Normal(t.value([0.0, 1.0]), 1.0), 1),
                  lambda M, t: M.Categorical(logits=t.value([0.0, 1.0]))):
        assert repr(build(D, me)) == repr(build(TD, mt)).replace("torch.", "ember.")
    for c in ("real", "positive", "unit_interval", "simplex", "boolean", "one_hot",
              "real_vector", "lower_cholesky", "positive_definite", "nonnegative"):
        assert repr(getattr(D.constraints, c)) == repr(getattr(TD.constraints, c))
    assert repr(D.Categorical(ember.ones(3)).support) == repr(TD.Categorical(torch.ones(3))
                                                              .support)


EDGES = [  # (build(M, t), method, argument): boundary values, infinities, zero masses
    (lambda M, t: M.Uniform(0.0, 1.0, validate_args=False), "log_prob",
     [0.0, 1.0, 2.0, -1.0, 0.5]),
    (lambda M, t: M.Uniform(0.0, 1.0, validate_args=False), "cdf", [-1.0, 0.0, 1.0, 2.0]),
    (lambda M, t: M.Categorical(logits=t([-math.inf, 0.0, 1.0])), "entropy", None),
    (lambda M, t: M.Categorical(logits=t([-math.inf, 0.0, 1.0])), "log_prob", [0, 1, 2]),
    (lambda M, t: M.Categorical(t([0.0, 0.0, 1.0])), "entropy", None),
    (lambda M, t: M.Bernoulli(t([0.0, 1.0, 0.0, 1.0])), "log_prob", [0.0, 1.0, 1.0, 0.0]),
    (lambda M, t: M.Bernoulli(t([0.0, 1.0, 0.5])), "entropy", None),
    (lambda M, t: M.Bernoulli(t([0.0, 1.0, 0.5])), "mode", None),
    (lambda M, t: M.Bernoulli(logits=t([-800.0, 800.0])), "log_prob", [0.0, 1.0]),
    (lambda M, t: M.Normal(0.0, 1.0), "icdf", [0.0, 1.0, 0.5]),
    (lambda M, t: M.Normal(t([0.0]), t([1.0])), "cdf", [-40.0, 40.0, 0.0]),
    (lambda M, t: M.Exponential(t([2.0])), "cdf", [0.0, math.inf]),
    (lambda M, t: M.Exponential(t([2.0])), "icdf", [0.0, 1.0]),
    (lambda M, t: M.Laplace(t([0.0]), t([1.0])), "icdf", [0.0, 1.0, 0.5]),
    (lambda M, t: M.Laplace(t([0.0]), t([1.0])), "cdf", [-800.0, 800.0, 0.0]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("i", range(len(EDGES)))
def test_edge_values_match_torch(i, device):
    build, method, arg = EDGES[i]
    me, mt = _pair("float64", device)
    de, dt = build(D, me), build(TD, mt)
    if arg is None:
        res_e, res_t = getattr(de, method), getattr(dt, method)
        res_e, res_t = (res_e(), res_t()) if callable(res_t) else (res_e, res_t)
    else:
        conv = (lambda m: m.long) if isinstance(arg[0], int) else (lambda m: m.value)
        res_e, res_t = getattr(de, method)(conv(me)(arg)), getattr(dt, method)(conv(mt)(arg))
    _close(res_e, res_t, "float64", f"{method}")


CONSTRAINT_VALUES = [
    [0.0, 1.0, -1.0, 0.5, math.inf, -math.inf, math.nan],
    [[0.2, 0.8], [0.5, 0.6], [-0.1, 1.1], [1.0, 0.0], [0.3, 0.3]],
    [[[1.0, 0.0], [0.5, 2.0]], [[1.0, 0.1], [0.1, 1.0]], [[1.0, 0.0], [0.0, -1.0]],
     [[1.0, 2.0], [2.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]],
]


@pytest.mark.parametrize("name", ["real", "positive", "nonnegative", "unit_interval", "boolean",
                                  "simplex", "one_hot", "real_vector", "lower_cholesky",
                                  "lower_triangular", "positive_definite", "symmetric",
                                  "positive_semidefinite", "nonnegative_integer",
                                  "interval", "half_open_interval", "greater_than",
                                  "greater_than_eq", "less_than", "integer_interval"])
def test_constraints_match_torch(name):
    args = {"interval": (0.0, 1.0), "half_open_interval": (0.0, 1.0), "greater_than": (0.5,),
            "greater_than_eq": (0.5,), "less_than": (0.5,), "integer_interval": (0, 1)}
    ce, ct = getattr(D.constraints, name), getattr(TD.constraints, name)
    if name in args:
        ce, ct = ce(*args[name]), ct(*args[name])
    assert repr(ce) == repr(ct)
    assert (ce.event_dim, ce.is_discrete) == (ct.event_dim, ct.is_discrete)
    for values in CONSTRAINT_VALUES:
        if np.ndim(values) - 1 < ct.event_dim:
            continue
        got = ce.check(ember.tensor(values, dtype=ember.float64))
        want = ct.check(torch.tensor(values, dtype=torch.float64))
        np.testing.assert_array_equal(_np(got), want.numpy(), err_msg=f"{name}: {values}")


# ---- validation -----------------------------------------------------------------------------

def _bad(M, t):
    """Invalid constructions and evaluations, built alike for ember (M=D) and torch."""
    nan = float("nan")
    return [
        lambda: M.Normal(0.0, -1.0),
        lambda: M.Normal(t([0.0, 0.0]), t([1.0, 0.0])),
        lambda: M.Normal(nan, 1.0),
        lambda: M.Normal(0.0, 1.0).log_prob(1.0),
        lambda: M.Normal(0.0, 1.0).log_prob(t(nan)),
        lambda: M.Normal(t([0.0, 0.0, 0.0]), 1.0).log_prob(t([0.0, 0.0])),
        lambda: M.Normal(t([[0.0] * 3] * 2), 1.0).log_prob(t([[0.0] * 3] * 4)),
        lambda: M.Uniform(1.0, 0.0),
        lambda: M.Uniform(0.0, 1.0).log_prob(t(2.0)),
        lambda: M.Uniform(0.0, 1.0).cdf(t(-0.5)),
        lambda: M.Bernoulli(probs=0.3, logits=0.1),
        lambda: M.Bernoulli(),
        lambda: M.Bernoulli(t([1.5])),
        lambda: M.Bernoulli(t([0.3])).log_prob(t([0.5])),
        lambda: M.Categorical(t(1.0)),
        lambda: M.Categorical(logits=t(1.0)),
        lambda: M.Categorical(t([-1.0, 2.0])),
        lambda: M.Categorical(t([1.0, 1.0, 1.0])).log_prob(t(3.0)),
        lambda: M.Categorical(t([1.0, 1.0, 1.0])).log_prob(t(1.5)),
        lambda: M.OneHotCategorical(t([1.0, 1.0, 1.0])).log_prob(t([1.0, 1.0, 0.0])),
        lambda: M.OneHotCategorical(t([1.0, 1.0, 1.0])).log_prob(t([1.0, 0.0])),
        lambda: M.Exponential(0.0),
        lambda: M.Exponential(1.0).log_prob(t(-1.0)),
        lambda: M.Laplace(0.0, t([1.0, -2.0])),
        lambda: M.Independent(M.Normal(0.0, 1.0), 1),
        lambda: M.MultivariateNormal(t([0.0, 0.0])),
        lambda: M.MultivariateNormal(t(0.0), t([[1.0]])),
        lambda: M.MultivariateNormal(t([0.0, 0.0]), t([1.0, 1.0])),
        lambda: M.MultivariateNormal(t([0.0, 0.0]), t([[1.0, 2.0], [2.0, 1.0]])),
        lambda: M.MultivariateNormal(t([0.0, 0.0]), t([[1.0, 0.5], [0.4, 1.0]])),
        lambda: M.MultivariateNormal(t([0.0, 0.0]), scale_tril=t([[1.0, 2.0], [2.0, 1.0]])),
        lambda: M.MultivariateNormal(t([0.0, 0.0]), scale_tril=t([[1.0, 0.0], [2.0, -1.0]])),
        lambda: M.MultivariateNormal(t([0.0, 0.0]), t([[2.0, 0.0], [0.0, 1.0]]))
        .log_prob(t([0.0, 0.0, 0.0])),
        lambda: M.Gamma(0.0, 1.0),
        lambda: M.Gamma(1.0, t([1.0, -1.0])),
        lambda: M.Gamma(2.0, 1.0).log_prob(t(-1.0)),
        lambda: M.Beta(-1.0, 1.0),
        lambda: M.Beta(t([1.0, 2.0]), 0.0),
        lambda: M.Beta(2.0, 2.0).log_prob(t(1.5)),
        lambda: M.Dirichlet(t(1.0)),
        lambda: M.Dirichlet(t([1.0, -1.0])),
        lambda: M.Dirichlet(t([1.0, 1.0])).log_prob(t([0.5, 0.6])),
        lambda: M.Distribution.set_default_validate_args(3),
    ]


@pytest.mark.parametrize("i", range(len(_bad(D, None))))
def test_validation_errors_match_torch(i):
    e_fn = _bad(D, lambda x: ember.tensor(x))[i]
    t_fn = _bad(TD, lambda x: torch.tensor(x))[i]
    with pytest.raises(Exception) as ref:
        t_fn()
    with pytest.raises(type(ref.value)) as got:
        e_fn()
    assert str(got.value) == str(ref.value).replace("torch.Size", "ember.Size")


def test_validate_args_false_and_default_switch():
    assert D.Distribution._validate_args is True
    d = D.Normal(0.0, -1.0, validate_args=False)  # accepted when not validating
    assert math.isnan(d.log_prob(ember.tensor(0.0)).item())
    u = D.Uniform(0.0, 1.0, validate_args=False)
    assert u.log_prob(ember.tensor(2.0)).item() == -math.inf
    try:
        D.Distribution.set_default_validate_args(False)
        assert D.Exponential(-1.0).rate.item() == -1.0
        with pytest.raises(ValueError, match=r"GreaterThan\(lower_bound=0.0\)"):
            D.Exponential(-1.0, validate_args=True)  # an explicit flag still wins
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Exponential(-1.0)


def test_bernoulli_lazy_parameter_is_not_validated_twice():
    # logits are given: probs is derived, so only logits (any real) are checked
    d = D.Bernoulli(logits=ember.tensor([50.0, -50.0]))
    assert "probs" not in d.__dict__
    np.testing.assert_allclose(_np(d.probs), [1.0, 0.0], atol=1e-7)
    assert "probs" in d.__dict__


# ---- KL divergence --------------------------------------------------------------------------

KL_PAIRS = {
    "normal": lambda M, t: (M.Normal(t([0.0, 1.0]), t([1.0, 0.5])),
                            M.Normal(t([[0.5], [-1.0]]), t([2.0, 0.7]))),
    "bernoulli": lambda M, t: (M.Bernoulli(t([0.1, 0.5, 0.9])),
                               M.Bernoulli(logits=t([0.3, -1.0, 2.0]))),
    "categorical": lambda M, t: (M.Categorical(t([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])),
                                 M.Categorical(logits=t([0.4, -0.2, 1.0]))),
    "onehot": lambda M, t: (M.OneHotCategorical(t([0.2, 0.3, 0.5])),
                            M.OneHotCategorical(t([0.6, 0.3, 0.1]))),
    "uniform": lambda M, t: (M.Uniform(t([0.0, 0.5]), t([1.0, 0.8])),
                             M.Uniform(t([-1.0, 0.0]), t([2.0, 3.0]))),
    "exponential": lambda M, t: (M.Exponential(t([0.5, 2.0])), M.Exponential(t([1.5, 0.2]))),
    "laplace": lambda M, t: (M.Laplace(t([0.0, 1.0]), t([1.0, 0.5])),
                             M.Laplace(t([0.5, -1.0]), t([2.0, 0.7]))),
    "independent": lambda M, t: (
        M.Independent(M.Normal(t([[0.0, 1.0], [2.0, 3.0]]), t([1.0, 0.5])), 1),
        M.Independent(M.Normal(t([0.5, -1.0]), t([[2.0, 0.7], [1.0, 1.0]])), 1)),
    "mvn": lambda M, t: (
        M.MultivariateNormal(t([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]),
                             covariance_matrix=t(MVN_COV)),
        M.MultivariateNormal(t([0.5, 0.0, -1.0]), precision_matrix=t(MVN_PREC))),
    "mvn_tril": lambda M, t: (
        M.MultivariateNormal(t([0.0, 1.0]), scale_tril=t([[1.0, 0.0], [0.5, 2.0]])),
        M.MultivariateNormal(t([[0.5, 0.0]]), scale_tril=t([[[0.3, 0.0], [-1.0, 1.0]]]))),
    "gamma": lambda M, t: (M.Gamma(t([0.5, 2.0]), t([1.0, 3.0])),
                           M.Gamma(t([[1.5], [0.7]]), t([2.0, 0.4]))),
    "beta": lambda M, t: (M.Beta(t([0.5, 2.0]), t([1.0, 3.0])), M.Beta(t([1.5, 0.7]), 2.0)),
    "dirichlet": lambda M, t: (M.Dirichlet(t([[0.5, 1.0, 3.0], [2.0, 2.0, 2.0]])),
                               M.Dirichlet(t([1.0, 0.3, 2.0]))),
    "exponential_normal": lambda M, t: (M.Exponential(t([0.5, 2.0])),
                                        M.Normal(t([0.0, 1.0]), t([1.0, 3.0]))),
    "laplace_normal": lambda M, t: (M.Laplace(t([0.0, 1.0]), t([1.0, 0.5])),
                                    M.Normal(t([0.5, -1.0]), t([2.0, 0.7]))),
    "normal_laplace": lambda M, t: (M.Normal(t([0.0, 1.0]), t([1.0, 0.5])),
                                    M.Laplace(t([0.5, -1.0]), t([2.0, 0.7]))),
    "uniform_normal": lambda M, t: (M.Uniform(t([0.0, -1.0]), t([1.0, 2.0])),
                                    M.Normal(t([0.5, -1.0]), t([2.0, 0.7]))),
    "uniform_exponential": lambda M, t: (M.Uniform(t([0.0, 1.0]), t([1.0, 2.0])),
                                         M.Exponential(t([0.5, 3.0]))),
}

KL_EDGE = {  # values only: infinite or degenerate divergences
    "bernoulli_edges": lambda M, t: (M.Bernoulli(t([0.0, 1.0, 0.0, 1.0, 0.3, 0.3])),
                                     M.Bernoulli(t([0.5, 0.5, 0.0, 1.0, 0.0, 1.0]))),
    "categorical_zeros": lambda M, t: (M.Categorical(t([[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]])),
                                       M.Categorical(t([0.5, 0.5, 0.0]))),
    "uniform_outside": lambda M, t: (M.Uniform(t([0.0, -2.0]), t([3.0, 1.0])),
                                     M.Uniform(t([-1.0, -1.0]), t([2.0, 2.0]))),
    "uniform_exponential_negative": lambda M, t: (M.Uniform(t([-1.0]), t([1.0])),
                                                  M.Exponential(t([2.0]))),
    "normal_uniform": lambda M, t: (M.Normal(t([0.0]), t([1.0])),
                                    M.Uniform(t([0.0]), t([1.0]))),
    "normal_exponential": lambda M, t: (M.Normal(t([0.0]), t([1.0])), M.Exponential(t([1.0]))),
    "laplace_uniform": lambda M, t: (M.Laplace(t([0.0]), t([1.0])),
                                     M.Uniform(t([0.0]), t([1.0]))),
    "laplace_exponential": lambda M, t: (M.Laplace(t([0.0]), t([1.0])),
                                         M.Exponential(t([1.0]))),
    "exponential_uniform": lambda M, t: (M.Exponential(t([1.0])),
                                         M.Uniform(t([0.0]), t([1.0]))),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(KL_PAIRS) + list(KL_EDGE))
def test_kl_values_match_torch(name, device, dtype):
    _dtype_or_skip(device, dtype)
    build = KL_PAIRS.get(name) or KL_EDGE[name]
    me, mt = _pair(dtype, device)
    _close(D.kl_divergence(*build(D, me)), TD.kl_divergence(*build(TD, mt)), dtype, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_kl_gradients_match_torch(name, device):
    dtype = _dtype_or_skip(device, "float64")
    me, mt = _pair(dtype, device, grad=True)
    D.kl_divergence(*KL_PAIRS[name](D, me)).sum().backward()
    TD.kl_divergence(*KL_PAIRS[name](TD, mt)).sum().backward()
    for e, t in zip(me.leaves, mt.leaves):
        _close(e.grad, t.grad, dtype, f"{name} gradient")


def test_kl_unregistered_pairs_raise_like_torch():
    for build in (lambda M, t: (M.Normal(0.0, 1.0), M.Categorical(t([0.5, 0.5]))),
                  lambda M, t: (M.Normal(0.0, 1.0), M.Bernoulli(0.3)),
                  lambda M, t: (M.Uniform(0.0, 1.0), M.Laplace(0.0, 1.0)),
                  lambda M, t: (M.Independent(M.Normal(t([[0.0]]), 1.0), 1),
                                M.Independent(M.Normal(t([[0.0]]), 1.0), 2))):
        with pytest.raises(NotImplementedError) as ref:
            TD.kl_divergence(*build(TD, torch.tensor))
        with pytest.raises(NotImplementedError) as got:
            D.kl_divergence(*build(D, ember.tensor))
        assert str(got.value) == str(ref.value)


def test_kl_exponential_family_bregman_fallback():
    """Same-family members without a closed form use the Bregman divergence of F."""
    class MyNormal(D.Normal):
        pass

    class MyExponential(D.Exponential):
        pass

    me, mt = _pair()
    pairs = [((MyNormal(me.value([0.0, 1.0]), me.value([1.0, 0.5])),
               MyNormal(me.value([0.5, -1.0]), me.value([2.0, 0.7]))),
              TD.kl_divergence(TD.Normal(mt.value([0.0, 1.0]), mt.value([1.0, 0.5])),
                               TD.Normal(mt.value([0.5, -1.0]), mt.value([2.0, 0.7])))),
             ((MyExponential(me.value([0.5, 2.0])), MyExponential(me.value([1.5, 0.2]))),
              TD.kl_divergence(TD.Exponential(mt.value([0.5, 2.0])),
                               TD.Exponential(mt.value([1.5, 0.2]))))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (the dispatch is unambiguous)
        for (p, q), ref in pairs:
            # MyNormal is not registered itself, but Normal is: that wins over the fallback
            _close(D.kl_divergence(p, q), ref, "float64", type(p).__name__)
            _close(D.kl._kl_expfamily_expfamily(p, q), ref, "float64", "bregman")


@pytest.mark.parametrize("name", ["normal", "bernoulli_probs", "exponential", "gamma"])
def test_exponential_family_generic_entropy(name):
    """ExponentialFamily.entropy (from the log normaliser by autograd) equals the closed form."""
    de, dt, *_ = _both(name, "float64", "cpu")
    _close(D.ExponentialFamily.entropy(de), dt.entropy(), "float64", name)


def test_register_kl_dispatch():
    class MyNormal(D.Normal):
        pass

    calls = []
    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    assert D.kl_divergence(p, q).item() > 0  # Normal-Normal, remembered for (MyNormal, Normal)

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        calls.append((type(p), type(q)))
        return ember.zeros(())

    assert D.kl_divergence(p, q).item() == 0.0 and calls == [(MyNormal, D.Normal)]
    # the reverse pair still uses the Normal-Normal formula
    ref = TD.kl_divergence(TD.Normal(1.0, 2.0), TD.Normal(0.0, 1.0))
    np.testing.assert_allclose(D.kl_divergence(q, p).item(), ref.item(), rtol=1e-6)
    with pytest.raises(TypeError, match="Distribution subclass"):
        D.register_kl(int, D.Normal)


def test_kl_mvn_event_shapes_must_agree():
    p = D.MultivariateNormal(ember.zeros(2), ember.eye(2))
    q = D.MultivariateNormal(ember.zeros(3), ember.eye(3))
    with pytest.raises(ValueError, match="different event shapes"):
        D.kl_divergence(p, q)
