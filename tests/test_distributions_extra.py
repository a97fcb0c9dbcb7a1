"""The third batch of ember.distributions against torch.distributions: Wishart, LKJCholesky,
GeneralizedPareto, and the rest of torch's registered cross-family KL pairs.

Values run on every available backend, float64 (tight) where the backend has it and float32
(loose) everywhere; torch computes the reference in float64. Draws are not torch's (ember has
its own generators), so samples are checked for shape, support and loose moments, and the
reparameterized gradients against finite differences at fixed noise (ember.manual_seed).
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
TOL = {"float64": dict(rtol=1e-8, atol=1e-9), "float32": dict(rtol=3e-4, atol=3e-5)}

from tests import dist_helpers  # noqa: E402

dtype_or_skip = dist_helpers.dtype_or_skip
quiet_fallback = dist_helpers.quiet_fallback  # autouse: the expected cpu-fallback warnings


@pytest.fixture(autouse=True)
def torch_default_float64():
    """torch 2.13's GeneralizedPareto compares concentration with torch.tensor(0.0), which
    fails for float64 parameters unless the default dtype is float64 too."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().double().numpy()
    return t.detach().to("cpu").to(ember.float64).numpy()


def _close(a, b, dtype, scale=1.0):
    tol = {k: v * scale for k, v in TOL[dtype].items()}
    assert tuple(a.shape) == tuple(b.shape), (a.shape, b.shape)
    np.testing.assert_allclose(_np(a), _np(b), equal_nan=True, **tol)


class Maker(dist_helpers.Maker):
    @property
    def M(self):
        """The distributions module of the maker's library."""
        return D if self.lib is ember else TD


def _makers(dtype="float64", device="cpu", grad=False):
    return Maker(ember, dtype, device, grad), Maker(torch, "float64", None, grad)


# ---- the three new families: values against torch -------------------------------------------

_SIGMA = [[2.0, 0.3, -0.4], [0.3, 1.0, 0.2], [-0.4, 0.2, 1.5]]
_TRIL = [[[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.1, 0.7]],
         [[0.8, 0.0, 0.0], [0.0, 1.2, 0.0], [0.4, -0.6, 1.1]]]
_PREC = [[1.5, -0.2, 0.1], [-0.2, 2.0, 0.4], [0.1, 0.4, 0.8]]
# two positive definite points (3 x 3)
_X = [[[3.0, 0.5, 0.2], [0.5, 2.0, -0.3], [0.2, -0.3, 1.0]],
      [[1.0, 0.1, 0.0], [0.1, 4.0, 1.0], [0.0, 1.0, 2.5]]]


def _corr_chol(rows):
    """A lower Cholesky factor of a correlation matrix from free lower rows."""
    L = np.tril(np.asarray(rows, dtype=np.float64))
    return (L / np.linalg.norm(L, axis=-1, keepdims=True)).tolist()


_L3 = [_corr_chol([[1, 0, 0], [0.4, 1.0, 0], [-0.2, 0.5, 0.9]]),
       _corr_chol([[1, 0, 0], [-0.9, 0.3, 0], [0.1, 0.1, 2.0]]),
       _corr_chol([[1, 0, 0], [0.0, 1.0, 0], [0.7, -0.7, 0.2]])]

# name -> (build(M, T), points to score, properties to compare)
CASES = {
    "GeneralizedPareto": (
        lambda M, T: M.GeneralizedPareto(T([0.1, 0.0, -1.0, 0.5]), T([2.0, 1.0, 0.5, 1.5]),
                                         T([0.4, 0.0, -0.3, 1.2])),
        [[1.0, 2.0, 0.2, 3.0], [0.1, 0.5, 0.6, 0.5]],
        ("mean", "variance", "mode", "entropy", "cdf", "icdf", "log_survival_function")),
    "GeneralizedParetoUniform": (  # concentration -1: the uniform law on [loc, loc + scale]
        lambda M, T: M.GeneralizedPareto(T([0.0, 1.0]), T([1.0, 2.0]), T([-1.0, -1.0])),
        [[0.3, 2.5]], ("mean", "variance", "entropy", "cdf")),
    "WishartCovariance": (
        lambda M, T: M.Wishart(T([6.0, 3.5]), covariance_matrix=T(_SIGMA)),
        [_X], ("mean", "variance", "mode", "entropy", "covariance_matrix", "precision_matrix",
               "scale_tril")),
    "WishartScaleTril": (
        lambda M, T: M.Wishart(T(4.0), scale_tril=T(_TRIL)),
        [_X, _X[0]], ("mean", "variance", "mode", "entropy", "covariance_matrix",
                      "precision_matrix")),
    "WishartPrecision": (
        lambda M, T: M.Wishart(T([[5.0], [3.0]]), precision_matrix=T(_PREC)),
        [_X], ("mean", "variance", "entropy", "covariance_matrix", "scale_tril")),
    "LKJCholesky": (
        lambda M, T: M.LKJCholesky(3, T([0.5, 1.0, 2.5])),
        [_L3, _L3[1]], ()),
    "LKJCholesky2": (
        lambda M, T: M.LKJCholesky(2, T(1.7)),
        [_corr_chol([[1, 0], [0.6, 0.8]])], ()),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,device", [(n, d) for n in CASES for d in DEVICES])
def test_values_match_torch(name, device, dtype):
    dtype_or_skip(device, dtype)
    build, points, props = CASES[name]
    me, mt = _makers(dtype, device)
    e, t = build(D, me), build(TD, mt)
    assert tuple(e.batch_shape) == tuple(t.batch_shape)
    assert tuple(e.event_shape) == tuple(t.event_shape)
    for pts in points:
        _close(e.log_prob(me(pts)), t.log_prob(mt(pts)), dtype, 10)
        for fn in ("cdf", "log_survival_function"):
            if fn in props:
                _close(getattr(e, fn)(me(pts)), getattr(t, fn)(mt(pts)), dtype, 10)
    for prop in props:
        if prop in ("cdf", "log_survival_function"):
            continue
        if prop == "icdf":
            u = [0.1, 0.5, 0.9, 0.99]
            _close(e.icdf(me(u)), t.icdf(mt(u)), dtype, 10)
            continue
        got = e.entropy() if prop == "entropy" else getattr(e, prop)
        want = t.entropy() if prop == "entropy" else getattr(t, prop)
        _close(got, want, dtype, 10)


def _is_nan(x):
    return bool(ember.isnan(x).all())


def test_nan_moments_where_torch_has_them():
    # GeneralizedPareto: no mean from concentration 1, no variance from 1/2; Wishart: no mode
    # for df <= dim + 1 (the 3.5 entry); the others are finite
    g = CASES["GeneralizedPareto"][0](D, ember.tensor)
    assert [math.isnan(v) for v in _np(g.mean)] == [False, False, False, True]
    assert [math.isnan(v) for v in _np(g.variance)] == [False, False, False, True]
    w = CASES["WishartCovariance"][0](D, Maker(ember, "float64"))
    mode = _np(w.mode)
    assert np.isnan(mode[1]).all() and np.isfinite(mode[0]).all()


@pytest.mark.parametrize("name,device", [(n, d) for n in CASES for d in DEVICES])
def test_log_prob_gradients_match_torch(name, device):
    dtype = "float64" if "float64" in ember.backends.capabilities(device)["dtypes"] \
        else "float32"
    build, points, _ = CASES[name]
    me, mt = _makers(dtype, device, grad=True)
    e, t = build(D, me), build(TD, mt)
    n_params = len(me.leaves)
    e.log_prob(me(points[0])).sum().backward()
    t.log_prob(mt(points[0])).sum().backward()
    assert n_params >= 1
    for a, b in zip(me.leaves, mt.leaves):  # the parameters, then the point
        assert a.grad is not None
        _close(a.grad, b.grad, dtype, 100)


@pytest.mark.parametrize("name", ["GeneralizedPareto", "WishartCovariance", "WishartPrecision"])
def test_entropy_gradients_match_torch(name):
    build = CASES[name][0]
    me, mt = _makers(grad=True)
    build(D, me).entropy().sum().backward()
    build(TD, mt).entropy().sum().backward()
    for a, b in zip(me.leaves, mt.leaves):
        assert (a.grad is None) == (b.grad is None)  # (GeneralizedPareto's loc has none)
        if b.grad is not None:
            _close(a.grad, b.grad, "float64", 100)


# ---- shapes, supports and sample statistics -------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(CASES))
def test_sample_shapes_and_support(name, device):
    me, mt = _makers("float32", device)
    e, t = CASES[name][0](D, me), CASES[name][0](TD, mt)
    ember.manual_seed(0)
    for shape in ((), (5,), (2, 3)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no spurious singular-sample warning
            warnings.filterwarnings("ignore", message=".*has no .* kernel; running it on cpu")
            x = e.sample(shape)
        assert tuple(x.shape) == tuple(t.sample(shape).shape)
        assert x.device.type == device
        assert x.requires_grad is False
        assert bool(e.support.check(x).all()), (name, shape)
        assert bool(ember.isfinite(e.log_prob(x)).all())


def test_has_rsample_flags_and_constraints_match_torch():
    for name, (build, _, _) in CASES.items():
        e, t = build(D, Maker(ember, "float64")), build(TD, Maker(torch, "float64"))
        assert e.has_rsample == t.has_rsample, name
        assert sorted(e.arg_constraints) == sorted(t.arg_constraints), name
        for k, c in e.arg_constraints.items():
            assert type(c).__name__ == type(t.arg_constraints[k]).__name__, (name, k)
        assert type(e.support).__name__ == type(t.support).__name__, name
        assert repr(e.support).split("(")[0] == repr(t.support).split("(")[0], name
    w = D.Wishart(ember.tensor(5.0), covariance_matrix=ember.eye(3))
    assert w.arg_constraints["df"].lower_bound == 2
    g = CASES["GeneralizedPareto"][0](D, Maker(ember, "float64"))
    tg = CASES["GeneralizedPareto"][0](TD, Maker(torch, "float64"))
    _close(g.support.upper_bound, tg.support.upper_bound, "float64")
    _close(g.support.lower_bound, tg.support.lower_bound, "float64")


def test_generalized_pareto_sample_moments():
    # concentration < 1/4 so that the sample variance settles
    loc, scale, c = np.array([0.5, -1.0, 0.0]), np.array([1.0, 2.0, 0.5]), np.array([0.2, -0.5,
                                                                                     0.0])
    d = D.GeneralizedPareto(ember.tensor(loc), ember.tensor(scale), ember.tensor(c))
    ember.manual_seed(1)
    x = _np(d.sample((40000,)))
    mean, var = _np(d.mean), _np(d.variance)
    assert (abs(x.mean(0) - mean) < 4 * np.sqrt(var / 40000) + 1e-3).all()
    np.testing.assert_allclose(x.var(0), var, rtol=0.1)
    assert (x[:, 1] <= -1.0 + 2.0 / 0.5).all()  # bounded above for c < 0


@pytest.mark.parametrize("device", DEVICES)
def test_wishart_sample_moments(device):
    sigma = np.array(_SIGMA)
    df = 5.5
    d = D.Wishart(ember.tensor(df, device=device),
                  covariance_matrix=ember.tensor(sigma, dtype=ember.float32, device=device))
    ember.manual_seed(2)
    x = _np(d.sample((20000,)))
    np.testing.assert_allclose(x.mean(0), df * sigma, atol=0.1)
    np.testing.assert_allclose(x.var(0), _np(d.variance), rtol=0.1, atol=0.1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("eta", [0.5, 1.0, 3.0])
def test_lkj_sample_moments(device, eta):
    # each off-diagonal correlation r of LKJ(dim, eta) has (r + 1) / 2 ~ Beta(b, b) with
    # b = eta - 1 + dim / 2, so E r = 0 and E r^2 = 1 / (2 eta + dim - 1), for every pair
    # (torch 2.13's draws fail this for rows >= 2: see lkj_cholesky.py)
    dim = 4
    d = D.LKJCholesky(dim, ember.tensor(eta, device=device))
    ember.manual_seed(3)
    L = _np(d.sample((20000,)))
    corr = L @ np.swapaxes(L, -1, -2)
    np.testing.assert_allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0, atol=1e-5)
    off = corr[:, np.tril_indices(dim, -1)[0], np.tril_indices(dim, -1)[1]]
    want = 1 / (2 * eta + dim - 1)
    np.testing.assert_allclose(off.mean(0), 0.0, atol=0.02)
    np.testing.assert_allclose((off ** 2).mean(0), want, rtol=0.06)


# ---- reparameterized gradients --------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_generalized_pareto_rsample_is_icdf_and_differentiates_like_torch(device):
    data = dict(loc=[0.1, 0.0, -1.0], scale=[2.0, 1.0, 0.5], c=[0.4, 0.0, -0.3])
    me, mt = _makers("float64" if device == "cpu" else "float32", device, grad=True)
    e = D.GeneralizedPareto(me(data["loc"]), me(data["scale"]), me(data["c"]))
    t = TD.GeneralizedPareto(mt(data["loc"]), mt(data["scale"]), mt(data["c"]))
    ember.manual_seed(4)
    x = e.rsample((6,))
    ember.manual_seed(4)
    u = ember.rand((6, 3), dtype=x.dtype, device=device)
    np.testing.assert_array_equal(_np(x), _np(e.icdf(u)))
    x.sum().backward()
    t.icdf(torch.tensor(_np(u))).sum().backward()
    dtype = "float64" if device == "cpu" else "float32"
    for a, b in zip(me.leaves, mt.leaves):
        _close(a.grad, b.grad, dtype, 10)


def _wishart_sum(tril, df, seed, n=4):
    ember.manual_seed(seed)
    return D.Wishart(df, scale_tril=tril).rsample((n,)).sum()


def test_wishart_rsample_scale_gradient_matches_finite_differences():
    tril = np.array(_TRIL[0])
    df = ember.tensor(4.5, dtype=ember.float64)
    L = ember.tensor(tril, requires_grad=True)
    _wishart_sum(L, df, seed=5).backward()
    got = _np(L.grad)
    eps = 1e-6
    for i, j in zip(*np.tril_indices(3)):
        hi, lo = tril.copy(), tril.copy()
        hi[i, j] += eps
        lo[i, j] -= eps
        fd = (_wishart_sum(ember.tensor(hi), df, 5).item()
              - _wishart_sum(ember.tensor(lo), df, 5).item()) / (2 * eps)
        np.testing.assert_allclose(got[i, j], fd, rtol=1e-5, atol=1e-6)


def test_wishart_rsample_df_gradient_statistically():
    # E[X] = df Sigma, so E[d sum(X) / d df] = sum(Sigma) (the chi draws carry the gradient)
    sigma = np.array(_SIGMA)
    df = ember.tensor(4.0, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(6)
    d = D.Wishart(df, covariance_matrix=ember.tensor(sigma))
    n = 20000
    d.rsample((n,)).sum().backward()
    np.testing.assert_allclose(df.grad.item() / n, sigma.sum(), rtol=0.05)


def test_lkj_has_no_rsample():
    d = D.LKJCholesky(3, 1.0)
    assert d.has_rsample is False
    with pytest.raises(NotImplementedError):
        d.rsample()


def test_wishart_singular_draws_are_redrawn_with_a_warning():
    # df just above dim - 1: Bartlett's chi draw of df - 2 is mostly 0, so the draws are
    # often singular (in float32); the correction redraws only those
    with pytest.warns(UserWarning, match="Low df values detected"):
        d = D.Wishart(ember.tensor(2.0001, dtype=ember.float32),
                      covariance_matrix=ember.eye(3), validate_args=False)
    ember.manual_seed(7)
    with pytest.warns(UserWarning) as record:
        d.rsample((200,), max_try_correction=2)
    assert any("Singular sample detected." in str(r.message) for r in record)
    # a comfortable df gives no warning at all (torch 2.13 warns here: its check is inverted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=".*has no .* kernel; running it on cpu")
        D.Wishart(ember.tensor(8.0), covariance_matrix=ember.eye(3)).rsample((50,))


# ---- expand and validation ------------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_expand(name):
    build, points, _ = CASES[name]
    e, t = build(D, Maker(ember, "float64")), build(TD, Maker(torch, "float64"))
    shape = (2,) + tuple(e.batch_shape)
    ee, te = e.expand(shape), t.expand(shape)
    assert type(ee) is type(e)
    assert tuple(ee.batch_shape) == tuple(te.batch_shape)
    assert tuple(ee.event_shape) == tuple(te.event_shape)
    me, mt = _makers()
    _close(ee.log_prob(me(points[0])), te.log_prob(mt(points[0])), "float64", 10)
    ember.manual_seed(0)
    assert tuple(ee.sample().shape) == tuple(te.sample().shape)


def _same_error(make, exact=True):
    def ET(v):
        return ember.tensor(v, dtype=ember.float64)

    def TT(v):
        return torch.tensor(v, dtype=torch.float64)
    with pytest.raises(Exception) as want:
        make(TD, TT)
    with pytest.raises(type(want.value)) as got:
        make(D, ET)
    if exact:
        assert str(got.value) == str(want.value)
    else:  # the message shows tensors, which print differently: compare its first words
        assert str(got.value).split("(")[0] == str(want.value).split("(")[0]


ERRORS = [  # (what, make, whether the message matches exactly)
    ("Wishart: no matrix", lambda M, T: M.Wishart(T(3.0)), True),
    ("Wishart: two matrices", lambda M, T: M.Wishart(T(3.0), covariance_matrix=T(_SIGMA),
                                                     scale_tril=T(_TRIL[0])), True),
    ("Wishart: a vector", lambda M, T: M.Wishart(T(3.0), covariance_matrix=T([1.0, 2.0])), True),
    ("Wishart: df <= dim - 1", lambda M, T: M.Wishart(2.0, covariance_matrix=T(_SIGMA)), True),
    ("Wishart: scale_tril", lambda M, T: M.Wishart(T(4.0), scale_tril=T([[1.0, 0], [0, -1.0]]),
                                                   validate_args=True), False),
    ("Wishart: covariance", lambda M, T: M.Wishart(T(4.0),
                                                   covariance_matrix=T([[1.0, 2], [2, 1.0]]),
                                                   validate_args=True), False),
    ("Wishart.log_prob", lambda M, T: M.Wishart(T(4.0), covariance_matrix=T(_SIGMA),
                                                validate_args=True)
     .log_prob(T([[1.0, 0, 0], [0, -1, 0], [0, 0, 1]])), False),
    ("LKJCholesky: dim", lambda M, T: M.LKJCholesky(1, 1.0), True),
    ("LKJCholesky: concentration", lambda M, T: M.LKJCholesky(3, T([0.0]), validate_args=True),
     False),
    ("LKJCholesky.log_prob", lambda M, T: M.LKJCholesky(2, T(1.0), validate_args=True)
     .log_prob(T([[1.0, 0.0], [0.5, 0.5]])), False),
    ("GeneralizedPareto: scale", lambda M, T: M.GeneralizedPareto(T([0.0]), T([0.0]), T([0.1]),
                                                                  validate_args=True), False),
    ("GeneralizedPareto: loc", lambda M, T: M.GeneralizedPareto(T([math.nan]), T([1.0]),
                                                                T([0.1]), validate_args=True),
     False),
    ("GeneralizedPareto.log_prob below", lambda M, T: M.GeneralizedPareto(
        T([1.0]), T([1.0]), T([0.1]), validate_args=True).log_prob(T([0.5])), False),
    ("GeneralizedPareto.log_prob above", lambda M, T: M.GeneralizedPareto(
        T([0.0]), T([1.0]), T([-0.5]), validate_args=True).log_prob(T([2.5])), False),
]


@pytest.mark.parametrize("i", range(len(ERRORS)), ids=[e[0] for e in ERRORS])
def test_validation_errors_match_torch(i):
    _, make, exact = ERRORS[i]
    _same_error(make, exact)


def test_wishart_low_df_warns_like_torch():
    for mk in _makers():
        with pytest.warns(UserWarning, match="Low df values detected. Singular samples are "
                                             "highly likely to occur for ndim - 1 < df < ndim."):
            mk.M.Wishart(mk(2.5), covariance_matrix=mk(_SIGMA))


# ---- KL divergences --------------------------------------------------------------------------

FAMILIES = {  # each family with a two-element batch, in its generic position
    "Beta": lambda M, T: M.Beta(T([0.5, 2.0]), T([1.5, 3.0])),
    "ContinuousBernoulli": lambda M, T: M.ContinuousBernoulli(probs=T([0.2, 0.7])),
    "Exponential": lambda M, T: M.Exponential(T([0.5, 2.0])),
    "Gamma": lambda M, T: M.Gamma(T([0.7, 3.0]), T([1.5, 0.5])),
    "Gumbel": lambda M, T: M.Gumbel(T([0.3, -1.0]), T([1.0, 2.0])),
    "Laplace": lambda M, T: M.Laplace(T([0.0, 1.0]), T([1.0, 0.5])),
    "Normal": lambda M, T: M.Normal(T([0.5, -1.0]), T([2.0, 0.7])),
    "Pareto": lambda M, T: M.Pareto(T([1.0, 0.5]), T([2.5, 3.5])),
    "Uniform": lambda M, T: M.Uniform(T([0.2, 0.1]), T([0.6, 0.9])),
}
# the pairs this batch adds, by (p, q); a few take other parameters for a finite value
NEW_PAIRS = [
    ("Beta", "ContinuousBernoulli"), ("Beta", "Pareto"), ("Beta", "Exponential"),
    ("Beta", "Gamma"), ("Beta", "Normal"), ("Beta", "Uniform"),
    ("ContinuousBernoulli", "Pareto"), ("ContinuousBernoulli", "Exponential"),
    ("ContinuousBernoulli", "Normal"), ("ContinuousBernoulli", "Uniform"),
    ("Exponential", "Beta"), ("Exponential", "ContinuousBernoulli"), ("Exponential", "Pareto"),
    ("Exponential", "Gamma"), ("Exponential", "Gumbel"),
    ("Gamma", "Beta"), ("Gamma", "ContinuousBernoulli"), ("Gamma", "Pareto"),
    ("Gamma", "Uniform"), ("Gamma", "Exponential"), ("Gamma", "Gumbel"), ("Gamma", "Normal"),
    ("Gumbel", "Beta"), ("Gumbel", "ContinuousBernoulli"), ("Gumbel", "Exponential"),
    ("Gumbel", "Gamma"), ("Gumbel", "Pareto"), ("Gumbel", "Uniform"), ("Gumbel", "Normal"),
    ("Laplace", "Beta"), ("Laplace", "ContinuousBernoulli"), ("Laplace", "Gamma"),
    ("Laplace", "Pareto"),
    ("Normal", "Beta"), ("Normal", "ContinuousBernoulli"), ("Normal", "Gamma"),
    ("Normal", "Pareto"), ("Normal", "Gumbel"),
    ("Pareto", "Beta"), ("Pareto", "ContinuousBernoulli"), ("Pareto", "Uniform"),
    ("Pareto", "Exponential"), ("Pareto", "Gamma"), ("Pareto", "Normal"),
    ("Uniform", "Beta"), ("Uniform", "ContinuousBernoulli"), ("Uniform", "Gamma"),
    ("Uniform", "Gumbel"), ("Uniform", "Pareto"),
]
OVERRIDES = {
    # q's interval must hold p's support for a finite value
    ("Beta", "Uniform"): (None, lambda M, T: M.Uniform(T([-0.5, 0.0]), T([1.0, 2.0]))),
    ("ContinuousBernoulli", "Uniform"): (None,
                                         lambda M, T: M.Uniform(T([-0.5, -1.0]), T([1.5, 2.0]))),
    ("Uniform", "Pareto"): (lambda M, T: M.Uniform(T([1.2, 0.6]), T([2.0, 3.0])), None),
}
KL_EDGE = {  # where torch's answer is infinite, or its boundary rule bites
    "beta_uniform_narrow": lambda M, T: (FAMILIES["Beta"](M, T),
                                         M.Uniform(T([0.1, 0.0]), T([1.0, 0.9]))),
    "cb_uniform_unit": lambda M, T: (FAMILIES["ContinuousBernoulli"](M, T),
                                     M.Uniform(T([0.0, -1.0]), T([2.0, 1.0]))),
    "uniform_cb_touching": lambda M, T: (M.Uniform(T([0.0, 0.5, 0.2]), T([0.5, 1.0, 0.3])),
                                         M.ContinuousBernoulli(probs=T([0.3, 0.3, 0.3]))),
    "uniform_beta_outside": lambda M, T: (M.Uniform(T([-0.1, 0.5]), T([0.5, 1.2])),
                                          FAMILIES["Beta"](M, T)),
    "uniform_gamma_negative": lambda M, T: (M.Uniform(T([-0.1, 0.5]), T([0.5, 1.2])),
                                            FAMILIES["Gamma"](M, T)),
    "uniform_pareto_below": lambda M, T: (M.Uniform(T([0.9, 2.0]), T([1.5, 3.0])),
                                          M.Pareto(T([1.0, 1.0]), T([2.0, 2.0]))),
    "pareto_heavy_tails": lambda M, T: (M.Pareto(T([1.0, 1.0, 1.0]), T([0.8, 1.5, 2.0])),
                                        M.Normal(T([0.0, 0.0, 0.0]), T([1.0, 1.0, 1.0]))),
    "pareto_exponential_heavy": lambda M, T: (M.Pareto(T([1.0, 1.0]), T([1.0, 1.5])),
                                              M.Exponential(T([1.0, 2.0]))),
    "pareto_gamma_heavy": lambda M, T: (M.Pareto(T([1.0, 1.0]), T([0.5, 1.5])),
                                        FAMILIES["Gamma"](M, T)),
    "chi2_gumbel": lambda M, T: (M.Chi2(T([1.5, 4.0])), FAMILIES["Gumbel"](M, T)),
}


def _pair_builder(p, q):
    bp, bq = OVERRIDES.get((p, q), (None, None))
    bp, bq = bp or FAMILIES[p], bq or FAMILIES[q]
    return lambda M, T: (bp(M, T), bq(M, T))


KL_ALL = {f"{p}-{q}": _pair_builder(p, q) for p, q in NEW_PAIRS}
KL_ALL.update(KL_EDGE)


def test_kl_registry_has_torchs_pairs():
    from ember.core.distributions.kl import _KL_REGISTRY

    def pairs(registry, package):  # (other test modules register their own subclasses)
        return {(a.__name__, b.__name__) for a, b in registry
                if a.__module__.startswith(package) and b.__module__.startswith(package)}
    ours = pairs(_KL_REGISTRY, "ember.core.distributions")
    theirs = pairs(TD.kl._KL_REGISTRY, "torch.distributions")
    assert len(theirs) > 80
    assert ours == theirs
    assert set(NEW_PAIRS) <= ours


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(KL_ALL))
def test_kl_values_match_torch(name, device, dtype):
    dtype_or_skip(device, dtype)
    me, mt = _makers(dtype, device)
    got = D.kl_divergence(*KL_ALL[name](D, me))
    want = TD.kl_divergence(*KL_ALL[name](TD, mt))
    assert got.dtype == getattr(ember, dtype)
    assert got.device.type == device
    _close(got, want, dtype, 10)


FINITE = [n for n in KL_ALL
          if np.isfinite(_np(TD.kl_divergence(*KL_ALL[n](TD, Maker(torch, "float64"))))).all()]


def test_the_finite_kl_cases_are_most_of_them():
    # guards the gradient check below against silently checking nothing
    assert len(FINITE) >= 24


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", FINITE)
def test_kl_gradients_match_torch(name, device):
    dtype = dtype_or_skip(device, "float64")
    me, mt = _makers(dtype, device, grad=True)
    D.kl_divergence(*KL_ALL[name](D, me)).sum().backward()
    TD.kl_divergence(*KL_ALL[name](TD, mt)).sum().backward()
    assert len(me.leaves) == len(mt.leaves) > 0
    for a, b in zip(me.leaves, mt.leaves):
        assert a.grad is not None
        _close(a.grad, b.grad, dtype, 100)


@pytest.mark.parametrize("name", ["Gamma-Normal", "Normal-Gumbel", "Uniform-Beta",
                                  "Beta-Gamma", "Pareto-Normal"])
def test_kl_against_monte_carlo(name):
    # independent of torch: E_p[log p(x) - log q(x)] over many draws of p
    p, q = KL_ALL[name](D, Maker(ember, "float64"))
    ember.manual_seed(8)
    x = p.sample((200000,))
    diff = _np(p.log_prob(x) - q.log_prob(x))
    want = _np(D.kl_divergence(p, q))
    np.testing.assert_allclose(diff.mean(0), want, atol=5 * diff.std(0).max() / 200000 ** 0.5)


def test_kl_wishart_wishart_matches_torch():
    # no closed form is registered: both go through the exponential-family Bregman divergence
    me, mt = _makers()
    for M, T in ((D, me), (TD, mt)):
        pair = (M.Wishart(T(4.5), covariance_matrix=T(_SIGMA)),
                M.Wishart(T(6.0), scale_tril=T(_TRIL[1])))
        if M is D:
            got = D.kl_divergence(*pair)
        else:
            want = TD.kl_divergence(*pair)
    _close(got, want, "float64", 100)
