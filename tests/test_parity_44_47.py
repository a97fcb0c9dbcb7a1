"""Regressions found by torch programs 44-47 (seq2seq Transformer, U-Net with torch.jit,
density models, data-science tensor API), each checked against torch directly: cat's size
error naming the offending tensor, scatter's reduce="multiply" with repeated indices,
MixtureSameFamily and the transforms re-exported by ember.distributions, and str(tensor) as
torch writes it (notation chosen from nonzero finite values, widths of the summarised data,
the " ..." item, line wrapping at torch's indent)."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="these checks compare ember with torch directly")

_OPENCL = "opencl" in ember.backends.available()
DEVICES = ["cpu", pytest.param("opencl", marks=pytest.mark.skipif(
    not _OPENCL, reason="the opencl backend is not available here"))]


def _close(e, t, rtol=1e-5, atol=1e-6):
    got = e.detach().cpu().numpy()
    want = t.detach().numpy()
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)


# ---- cat ------------------------------------------------------------------------------------

def test_cat_size_error_names_the_tensor_without_comparing_tensors():
    # list.index compared tensors with ==, which itself raised a broadcasting error
    a, b, c = np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4))
    with pytest.raises(RuntimeError) as want:
        torch.cat([torch.tensor(a), torch.tensor(b), torch.tensor(c)], dim=0)
    with pytest.raises(RuntimeError) as got:
        ember.cat([ember.tensor(a), ember.tensor(b), ember.tensor(c)], dim=0)
    assert str(got.value) == str(want.value)


# ---- scatter reduce="multiply" --------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_scatter_multiply_repeated_indices(device):
    idx = [1, 1, 3]
    want = torch.ones(4).scatter_(0, torch.tensor(idx), 2.0, reduce="multiply")
    got = ember.ones(4, device=device).scatter_(0, ember.tensor(idx, device=device), 2.0,
                                                  reduce="multiply")
    _close(got, want)
    src = np.array([[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]], dtype="float32")
    index = np.array([[0, 0, 2], [1, 1, 1]])
    want = torch.full((2, 3), 2.0).scatter(1, torch.tensor(index), torch.tensor(src),
                                           reduce="multiply")
    got = ember.full((2, 3), 2.0, device=device).scatter(
        1, ember.tensor(index, device=device), ember.tensor(src, device=device),
        reduce="multiply")
    _close(got, want)


# ---- distributions --------------------------------------------------------------------------

def _mixtures(lib, device=None):
    kw = {} if device is None else {"device": device}
    D = lib.distributions
    logits = lib.tensor([[0.2, -0.4, 1.0], [0.0, 0.5, -1.0]], **kw)
    mu = lib.tensor(np.linspace(-1, 1, 12).reshape(2, 3, 2).astype("float32"), **kw)
    sd = lib.tensor(np.linspace(0.5, 1.5, 12).reshape(2, 3, 2).astype("float32"), **kw)
    mvn = D.MixtureSameFamily(D.Categorical(logits=logits), D.Independent(D.Normal(mu, sd), 1))
    uni = D.MixtureSameFamily(D.Categorical(probs=lib.tensor([0.2, 0.5, 0.3], **kw)),
                              D.Normal(lib.tensor([-1.0, 0.0, 2.0], **kw),
                                       lib.tensor([0.5, 1.0, 0.3], **kw)))
    return mvn, uni


@pytest.mark.parametrize("device", DEVICES)
def test_mixture_same_family(device):
    em, eu = _mixtures(ember, device)
    tm, tu = _mixtures(torch)
    assert tuple(em.batch_shape) == tuple(tm.batch_shape) == (2,)
    assert tuple(em.event_shape) == tuple(tm.event_shape) == (2,)
    x = np.array([[[0.3, -0.2]], [[1.0, 0.5]], [[-0.4, 0.0]]], dtype="float32")  # (3, 1, 2)
    _close(em.log_prob(ember.tensor(x, device=device)), tm.log_prob(torch.tensor(x)))
    _close(em.mean, tm.mean)
    _close(em.variance, tm.variance)
    g = np.array([-2.0, -0.5, 0.0, 1.0, 2.5], dtype="float32")
    _close(eu.log_prob(ember.tensor(g, device=device)), tu.log_prob(torch.tensor(g)))
    _close(eu.cdf(ember.tensor(g, device=device)), tu.cdf(torch.tensor(g)))
    _close(eu.mean, tu.mean)
    _close(eu.variance, tu.variance)
    assert tuple(em.sample((4,)).shape) == tuple(tm.sample((4,)).shape) == (4, 2, 2)
    assert tuple(eu.sample((5, 2)).shape) == tuple(tu.sample((5, 2)).shape) == (5, 2)
    assert tuple(em.expand((3, 2)).log_prob(ember.tensor(x, device=device)).shape) == (3, 2)
    assert not em.has_rsample


def test_mixture_same_family_gradient_and_errors():
    D = ember.distributions
    logits = ember.tensor([0.1, 0.3], requires_grad=True)
    loc = ember.tensor([-0.5, 0.7], requires_grad=True)
    mix = D.MixtureSameFamily(D.Categorical(logits=logits), D.Normal(loc, ember.ones(2)))
    mix.log_prob(ember.tensor([0.2, 1.0])).sum().backward()
    tl = torch.tensor([0.1, 0.3], requires_grad=True)
    tloc = torch.tensor([-0.5, 0.7], requires_grad=True)
    tm = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(logits=tl),
                                               torch.distributions.Normal(tloc, torch.ones(2)))
    tm.log_prob(torch.tensor([0.2, 1.0])).sum().backward()
    _close(logits.grad, tl.grad)
    _close(loc.grad, tloc.grad)
    with pytest.raises(ValueError):
        D.MixtureSameFamily(D.Categorical(logits=ember.zeros(3)), D.Normal(ember.zeros(2), 1.0))
    with pytest.raises(ValueError):
        D.MixtureSameFamily(D.Normal(ember.zeros(2), 1.0), D.Normal(ember.zeros(2), 1.0))


def test_distributions_reexport_transforms():
    for name in ("AffineTransform", "ComposeTransform", "ExpTransform", "SigmoidTransform",
                 "TanhTransform", "PowerTransform", "Transform", "MixtureSameFamily"):
        assert hasattr(torch.distributions, name)
        assert getattr(ember.distributions, name) is not None
    assert ember.distributions.AffineTransform is ember.distributions.transforms.AffineTransform


# ---- printing -------------------------------------------------------------------------------

_PRINT_CASES = [
    ([-0.0, 0.0, 1.0], {}),
    ([0.001, 1000.0, 12.5], {}),
    ([1.23456, 2.5, -0.001], {"precision": 2}),
    ([1.0, 10000.0], {}),                                  # integral, ratio > 1000: sci
    ([float("nan"), 0.0, -0.0], {}),
    (list(range(10)), {"threshold": 5, "edgeitems": 2}),
    (np.arange(36).reshape(6, 6).tolist(), {"threshold": 5, "edgeitems": 2}),
    ((np.arange(20) / 3).tolist(), {"threshold": 5, "linewidth": 30}),
    ((np.arange(20) / 3).tolist(), {"linewidth": 37}),      # (37 - 7) / (6 + 2) wraps at 3
    ([1e-6, 2.0, 1e5], {"sci_mode": False}),
    ([1.5, 250.0], {"sci_mode": True}),
    (list(range(1200)), {}),
    ([[1e-5, 1.0], [2.0, 3.0]] * 700, {}),                 # the width of the summarised data
]


@pytest.mark.parametrize("values,options", _PRINT_CASES)
def test_str_matches_torch(values, options):
    try:
        torch.set_printoptions(**options)
        ember.set_printoptions(**options)
        floats = any(isinstance(v, float) for v in np.asarray(values, dtype=object).ravel())
        dtype = "float32" if floats else "int64"
        arr = np.asarray(values, dtype=dtype)
        assert str(ember.tensor(arr)) == str(torch.tensor(arr))
    finally:
        torch.set_printoptions(profile="default", sci_mode=None)
        ember.set_printoptions(profile="default", sci_mode=None)


# ---- the families program 46 needed (LogNormal, HalfNormal, Cauchy, Gumbel, StudentT, Poisson)

_FAMILIES = [
    ("LogNormal", (0.2, 0.7), [0.3, 1.2, 4.0], ["mean", "mode", "variance", "entropy", "cdf"]),
    ("HalfNormal", (1.3,), [0.3, 1.2, 4.0], ["mean", "mode", "variance", "entropy", "cdf"]),
    ("Cauchy", (0.2, 0.7), [-1.0, 0.3, 4.0], ["mean", "variance", "entropy", "cdf"]),
    ("Gumbel", (0.2, 0.7), [-1.0, 0.3, 4.0], ["mean", "mode", "stddev", "entropy", "cdf"]),
    ("StudentT", (3.0, 0.2, 0.7), [-1.0, 0.3, 4.0], ["mean", "mode", "variance", "entropy"]),
    ("StudentT", (0.8, 0.2, 0.7), [-1.0, 0.3, 4.0], ["mean", "variance"]),
    ("Poisson", (2.5,), [0.0, 1.0, 7.0], ["mean", "mode", "variance"]),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,args,values,stats", _FAMILIES, ids=[f[0] for f in _FAMILIES])
def test_more_families_match_torch(device, name, args, values, stats):
    targs = [torch.tensor([a, a * 1.3], requires_grad=True) for a in args]
    eargs = [ember.tensor([a, a * 1.3], device=device).requires_grad_() for a in args]
    td = getattr(torch.distributions, name)(*targs)
    ed = getattr(ember.distributions, name)(*eargs)
    x = np.array(values, dtype="float32").reshape(-1, 1)
    tl, el = td.log_prob(torch.tensor(x)), ed.log_prob(ember.tensor(x, device=device))
    _close(el, tl)
    tl.sum().backward()
    el.sum().backward()
    if td.has_rsample:   # a reparameterised family differentiates log_prob in every parameter
        for a, b in zip(eargs, targs):
            _close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    for s in stats:
        if s == "cdf":
            _close(ed.cdf(ember.tensor(x, device=device)), td.cdf(torch.tensor(x)))
        elif s == "entropy":
            _close(ed.entropy(), td.entropy())
        else:
            _close(getattr(ed, s), getattr(td, s))
    assert tuple(ed.sample((3,)).shape) == tuple(td.sample((3,)).shape)
    assert tuple(ed.expand((4, 2)).batch_shape) == tuple(td.expand((4, 2)).batch_shape)


def test_softplus_and_abs_transforms():
    xv = np.array([-2.0, -0.1, 0.5, 3.0], dtype="float32")
    for name in ("SoftplusTransform", "AbsTransform"):
        tt, et = getattr(torch.distributions, name)(), getattr(ember.distributions, name)()
        _close(et(ember.tensor(xv)), tt(torch.tensor(xv)))
    tt, et = torch.distributions.SoftplusTransform(), ember.distributions.SoftplusTransform()
    ex, tx = ember.tensor(xv), torch.tensor(xv)
    _close(et.log_abs_det_jacobian(ex, et(ex)), tt.log_abs_det_jacobian(tx, tt(tx)))
    _close(et.inv(ember.tensor(np.abs(xv))), tt.inv(torch.tensor(np.abs(xv))))
