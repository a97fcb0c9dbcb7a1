"""ember.core.special against torch.special: values (edge cases included), dtypes and gradients,
on every available backend."""
import math

import numpy as np
import pytest
import torch

import ember
from ember.core import special

DEVICES = ember.backends.available()
INF, NAN = float("inf"), float("nan")


def _np(t):
    return np.asarray(t.detach().to("cpu").to(ember.float64).numpy())


def _et(x, dev, dt, requires_grad=False):
    return ember.tensor(np.asarray(x, dtype=np.float64), dtype=getattr(ember, dt), device=dev,
                        requires_grad=requires_grad)


def _tt(x, dt, requires_grad=False):
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=getattr(torch, dt),
                        requires_grad=requires_grad)


RNG = np.random.default_rng(1234)
EDGE = [0.0, -0.0, 1.0, -1.0, 0.5, 0.99, 1.01, 8.0, 8.5, -8.5, 15.0, 27.5, 30.0, 49.0, 51.0,
        1e-8, -1e-8, INF, -INF, NAN]
DOMAINS = {
    "real": np.concatenate([RNG.uniform(-10, 10, 200), RNG.uniform(-3, 3, 100), EDGE]),
    "unit": np.concatenate([RNG.uniform(-1, 1, 200), [0.0, 1.0, -1.0, 0.7, 0.71, -0.9999, 1e-7,
                                                      1.5, -1.5, NAN]]),
    "prob": np.concatenate([RNG.uniform(0, 1, 200), 10.0 ** -np.arange(1, 36, 3),
                            1 - 10.0 ** -np.arange(1, 7), [0.0, 1.0, 0.5, 0.135, 0.8647, -0.1,
                                                           1.1, NAN]]),
}
# (name, domain, float32 rtol, float64 rtol): the tolerances leave room for a few ulp
VALUE_CASES = [
    ("erf", "real", 2e-6, 1e-14), ("erfc", "real", 4e-6, 1e-13), ("erfcx", "real", 4e-6, 1e-13),
    ("erfinv", "unit", 2e-5, 1e-11), ("ndtr", "real", 2e-6, 1e-14),
    ("log_ndtr", "real", 4e-6, 1e-13), ("ndtri", "prob", 4e-6, 1e-13), ("i0", "real", 2e-6, 1e-14),
    ("i0e", "real", 2e-6, 1e-14), ("i1", "real", 4e-6, 1e-14), ("i1e", "real", 4e-6, 1e-14),
    ("entr", "real", 2e-6, 1e-15), ("sinc", "real", 2e-6, 1e-15), ("logit", "prob", 2e-6, 1e-15),
    ("expit", "real", 2e-6, 1e-15), ("log1p", "prob", 2e-6, 1e-15),
    ("expm1", "real", 2e-6, 1e-15), ("exp2", "real", 2e-6, 1e-15),
    ("gammaln", "real", 1e-4, 1e-12), ("digamma", "real", 1e-4, 1e-12),
]
# torch computes ndtr as (1 + erf(x / sqrt 2)) / 2, which rounds the far lower tail to 0; ours
# keeps it (checked below against erfc): the absolute tolerance covers that tail. gammaln and
# digamma are ember's lgamma and digamma, a few 1e-6 off near their zeros in float32.
ATOL = {"ndtr": {"float32": 1e-7, "float64": 1e-16}, "gammaln": {"float32": 1e-5},
        "digamma": {"float32": 2e-6}}


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params())
@pytest.mark.parametrize("name,domain,rtol32,rtol64", VALUE_CASES,
                         ids=[c[0] for c in VALUE_CASES])
def test_values_match_torch(dev, dt, name, domain, rtol32, rtol64):
    x = DOMAINS[domain]
    if dt == "float32":
        x = x[~(np.abs(x) > 1e30)]
    ours = getattr(special, name)(_et(x, dev, dt))
    ref = getattr(torch.special, name)(_tt(x, dt))
    assert ours.dtype is getattr(ember, dt) and ours.device.type == dev
    np.testing.assert_allclose(_np(ours),
                               ember.testing.as_device_gives(ref.double().numpy(), dev, dt),
                               rtol=rtol32 if dt == "float32" else rtol64,
                               atol=ATOL.get(name, {}).get(dt, 0.0), equal_nan=True,
                               err_msg=name)


EDGE_CASES = [
    ("xlogy", [0.0, 0.0, 0.0, 0.0, 1.0, 0.0], [0.0, -1.0, INF, NAN, 0.0, 2.0]),
    ("xlog1py", [0.0, 0.0, 1.0, 0.0], [-1.0, -2.0, -1.0, NAN]),
    ("logit", [0.0, 1.0, 0.5, -0.1, 1.1, NAN]), ("sinc", [0.0, 1.0, -INF, NAN]),
    ("entr", [0.0, -1.0, INF, 1.0, NAN]), ("erfinv", [1.0, -1.0, 0.0, 1.5, -1.5, NAN]),
    ("ndtri", [0.0, 1.0, 0.5, -0.1, 1.1, NAN]), ("erf", [0.0, INF, -INF, NAN]),
    ("erfc", [INF, -INF, 0.0, NAN]), ("erfcx", [INF, -INF, 0.0, NAN]),
    ("ndtr", [INF, -INF, 0.0, NAN]), ("log_ndtr", [INF, -INF, 0.0, NAN]),
    ("i0", [0.0, INF, -INF, NAN]), ("i0e", [0.0, INF, -INF]), ("i1", [0.0, INF, -INF]),
    ("i1e", [0.0, INF, -INF]), ("expit", [INF, -INF, 0.0]),
]


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("name,args", [(c[0], c[1:]) for c in EDGE_CASES],
                         ids=[c[0] for c in EDGE_CASES])
def test_edge_cases_match_torch(dev, name, args):
    ours = getattr(special, name)(*[_et(a, dev, "float32") for a in args])
    ref = getattr(torch.special, name)(*[_tt(a, "float32") for a in args])
    np.testing.assert_allclose(_np(ours), ref.double().numpy(), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("dev", DEVICES)
def test_documented_edges(dev):
    f = lambda name, *xs: _np(getattr(special, name)(*[_et(v, dev, "float32") for v in xs]))
    assert f("xlogy", [0.0, 0.0], [0.0, -1.0]).tolist() == [0.0, 0.0]  # 0 * log(y) is 0
    assert np.isnan(f("xlogy", [0.0], [NAN])[0])  # ... unless y is NaN
    assert f("logit", [0.0, 1.0]).tolist() == [-INF, INF]
    assert f("sinc", [0.0])[0] == 1.0
    assert f("erfinv", [1.0, -1.0]).tolist() == [INF, -INF]
    assert f("ndtri", [0.0, 1.0]).tolist() == [-INF, INF]
    assert f("entr", [0.0, -1.0]).tolist() == [0.0, -INF]


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float64",)))
def test_lower_tails_are_accurate(dev, dt):
    # where torch's ndtr cancels to 0, ours follows erfc; log_ndtr reaches far below
    x = np.array([-6.0, -9.0, -20.0, -37.0])
    ref = 0.5 * torch.special.erfc(_tt(-x / math.sqrt(2), dt)).numpy()
    np.testing.assert_allclose(_np(special.ndtr(_et(x, dev, dt))), ref, rtol=1e-12)
    np.testing.assert_allclose(_np(special.log_ndtr(_et([-40.0, -1e3], dev, dt))),
                               torch.special.log_ndtr(_tt([-40.0, -1e3], dt)).numpy(),
                               rtol=1e-13)
    p = 10.0 ** -np.arange(20, 300, 40)  # ndtri far in the tail inverts ndtr
    back = _np(special.ndtr(special.ndtri(_et(p, dev, dt))))
    np.testing.assert_allclose(back, p, rtol=1e-11)


# ---- gradients --------------------------------------------------------------------------------

GRAD_POINTS = {
    "real": np.concatenate([RNG.uniform(-6, 6, 40), [0.0, 1.0, -1.0, 8.0, 9.0, -9.0, 30.0, INF,
                                                     -INF]]),
    "unit": np.concatenate([RNG.uniform(-1, 1, 40), [0.0, 1.0, -1.0, 0.8, 1.5]]),
    "prob": np.concatenate([RNG.uniform(0, 1, 40), [0.0, 1.0, 0.5, 1e-10, 0.99, -0.1, 1.1]]),
}
GRAD_CASES = [("erf", "real"), ("erfc", "real"), ("erfcx", "real"), ("erfinv", "unit"),
              ("ndtr", "real"), ("log_ndtr", "real"), ("ndtri", "prob"), ("i0", "real"),
              ("i0e", "real"), ("i1", "real"), ("i1e", "real"), ("entr", "real"),
              ("sinc", "real"), ("logit", "prob"), ("expit", "real"), ("log1p", "prob"),
              ("expm1", "real"), ("exp2", "real")]


def _grads_match(ours, ref, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(_np(ours), ref.detach().double().numpy(), rtol=rtol, atol=atol,
                               equal_nan=True)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float64",)))
@pytest.mark.parametrize("name,domain", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_gradients_match_torch(dev, dt, name, domain):
    x = GRAD_POINTS[domain]
    if name == "entr":
        x = np.concatenate([np.abs(x), [0.0, -1.0, 1e-300]])
    ex, tx = _et(x, dev, dt, True), _tt(x, dt, True)
    g = RNG.uniform(0.5, 2.0, x.shape)
    getattr(special, name)(ex).backward(_et(g, dev, dt))
    getattr(torch.special, name)(tx).backward(_tt(g, dt))
    _grads_match(ex.grad, tx.grad)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float64",)))
@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_binary_gradients_with_edges(dev, dt, name):
    xs = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.0, 0.0, 0.5])
    ys = np.array([0.0, -1.0, -2.0, NAN, 0.0, 3.0, 2.0, INF, 0.25])
    ex, ey = _et(xs, dev, dt, True), _et(ys, dev, dt, True)
    tx, ty = _tt(xs, dt, True), _tt(ys, dt, True)
    out = getattr(special, name)(ex, ey)
    ref = getattr(torch.special, name)(tx, ty)
    np.testing.assert_allclose(_np(out), ref.detach().numpy(), rtol=1e-15, equal_nan=True)
    out.sum().backward()
    ref.sum().backward()
    _grads_match(ex.grad, tx.grad)
    _grads_match(ey.grad, ty.grad)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float32",)))
def test_binary_broadcast_and_numbers(dev, dt):
    x = RNG.uniform(0, 2, (3, 1))
    y = RNG.uniform(0.1, 2, (4,))
    ex, ey = _et(x, dev, dt, True), _et(y, dev, dt, True)
    tx, ty = _tt(x, dt, True), _tt(y, dt, True)
    special.xlogy(ex, ey).sum().backward()
    torch.special.xlogy(tx, ty).sum().backward()
    assert ex.grad.shape == (3, 1) and ey.grad.shape == (4,)
    _grads_match(ex.grad, tx.grad, rtol=1e-5, atol=1e-6)
    _grads_match(ey.grad, ty.grad, rtol=1e-5, atol=1e-6)
    # a number on either side; integer tensors compute in the default float dtype
    for e, t in [(special.xlogy(2, ey), torch.special.xlogy(2, ty)),
                 (special.xlog1py(ey, 3.0), torch.special.xlog1py(ty, 3.0)),
                 (special.xlogy(ember.tensor([2, 0], device=dev),
                                ember.tensor([3, 0], device=dev)),
                  torch.special.xlogy(torch.tensor([2, 0]), torch.tensor([3, 0])))]:
        assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        np.testing.assert_allclose(_np(e), t.detach().double().numpy(), rtol=1e-6)
    with pytest.raises(TypeError):
        special.xlogy(2, 3)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float64",)))
@pytest.mark.parametrize("eps", [None, 0.1, 0.6, -1.0])
def test_logit_eps(dev, dt, eps):
    x = np.array([0.0, 0.05, 0.1, 0.3, 0.5, 0.9, 0.95, 1.0, -0.2, 1.2])
    ex, tx = _et(x, dev, dt, True), _tt(x, dt, True)
    out, ref = special.logit(ex, eps), torch.special.logit(tx, eps)
    np.testing.assert_allclose(_np(out), ref.detach().numpy(), rtol=1e-14, equal_nan=True)
    out.sum().backward()
    ref.sum().backward()
    _grads_match(ex.grad, tx.grad)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float64",)))
@pytest.mark.parametrize("name", ["erf", "erfinv", "ndtri", "i1", "sinc", "xlogy"])
def test_second_derivatives(dev, dt, name):
    x = np.array([0.1, 0.3, 0.45, 0.7]) if name != "sinc" else np.array([0.3, 1.5, -2.2])
    fe, ft = getattr(special, name), getattr(torch.special, name)
    if name == "xlogy":
        fe = lambda t, f=fe: f(t, t + 1)
        ft = lambda t, f=ft: f(t, t + 1)
    ex, tx = _et(x, dev, dt, True), _tt(x, dt, True)
    (ge,) = ember.autograd.grad(fe(ex).sum(), ex, create_graph=True)
    (gt,) = torch.autograd.grad(ft(tx).sum(), tx, create_graph=True)
    ge.sum().backward()
    gt.sum().backward()
    _grads_match(ge, gt)
    _grads_match(ex.grad, tx.grad, rtol=1e-8)


# ---- dtypes and the functions ember already had -----------------------------------------------

@pytest.mark.parametrize("name", ["erf", "erfc", "erfinv", "ndtr", "ndtri", "i0", "entr", "sinc",
                                  "logit", "expit", "log1p", "expm1", "exp2", "i1e"])
def test_integer_input_gives_default_float(name):
    x = [0, 1]
    ours = getattr(special, name)(ember.tensor(x))
    ref = getattr(torch.special, name)(torch.tensor(x))
    assert ours.dtype is ember.float32 and ref.dtype is torch.float32
    np.testing.assert_allclose(_np(ours), ref.double().numpy(), rtol=2e-6, equal_nan=True)


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float16", "bfloat16")))
@pytest.mark.parametrize("name", ["erf", "erfc", "erfinv", "ndtri", "i0", "i1", "entr", "sinc"])
def test_half_types_compute_in_float32(dev, dt, name):
    # torch computes these through float32 and rounds once (its ndtri has no half kernels):
    # the float32 result rounded to the half type is the reference
    x = np.array([0.05, 0.2, 0.5, 0.7, 0.9])
    ours = getattr(special, name)(_et(x, dev, dt))
    assert ours.dtype is getattr(ember, dt)
    x32 = _tt(x, dt).float()
    ref = getattr(torch.special, name)(x32).to(getattr(torch, dt))
    np.testing.assert_array_equal(_np(ours), ref.double().numpy())


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float32",)))
def test_reused_ops_match_torch(dev, dt):
    x = RNG.uniform(-3, 3, (3, 5))
    ex, tx = _et(x, dev, dt, True), _tt(x, dt, True)
    pos_e, pos_t = _et(np.abs(x) + 0.5, dev, dt, True), _tt(np.abs(x) + 0.5, dt, True)
    pairs = [
        (special.logsumexp(ex, 1), torch.special.logsumexp(tx, 1)),
        (special.logsumexp(ex, (0, 1), keepdim=True), torch.special.logsumexp(tx, (0, 1), True)),
        (special.softmax(ex, 0), torch.special.softmax(tx, 0)),
        (special.softmax(ex, 1, dtype=ember.float64),
         torch.special.softmax(tx, 1, dtype=torch.float64)),
        (special.log_softmax(ex, 1), torch.special.log_softmax(tx, 1)),
        (special.round(ex * 10, decimals=1), torch.special.round(tx * 10, decimals=1)),
        (special.round(ex), torch.special.round(tx)),
        (special.gammaln(pos_e), torch.special.gammaln(pos_t)),
        (special.digamma(pos_e), torch.special.digamma(pos_t)),
        (special.psi(pos_e), torch.special.psi(pos_t)),
        (special.polygamma(1, pos_e), torch.special.polygamma(1, pos_t)),
        (special.multigammaln(pos_e + 1, 2), torch.special.multigammaln(pos_t + 1, 2)),
    ]
    for i, (e, t) in enumerate(pairs):
        assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1], i
        np.testing.assert_allclose(_np(e), t.detach().double().numpy(), rtol=1e-5, atol=1e-5,
                                   err_msg=str(i))
        w = RNG.uniform(0.5, 1.5, tuple(t.shape))
        ge = ember.autograd.grad((e * _et(w, dev, str(e.dtype).split(".")[1])).sum(),
                                 [ex, pos_e], allow_unused=True)
        gt = torch.autograd.grad((t * _tt(w, str(t.dtype).split(".")[1])).sum(), [tx, pos_t],
                                 allow_unused=True)
        for a, b in zip(ge, gt):
            assert (a is None) == (b is None), i
            if a is not None:
                np.testing.assert_allclose(_np(a), b.double().numpy(), rtol=1e-4, atol=1e-4,
                                           err_msg=str(i))
    assert special.gammaln(ember.tensor([0.0, -1.0])).tolist() == [INF, INF]
    with pytest.raises(TypeError):
        special.softmax(ex)  # dim is required, as torch.special's


def test_not_a_tensor_is_a_type_error():
    with pytest.raises(TypeError, match="special_erf"):
        special.erf([0.5])


@pytest.mark.parametrize("dev,dt", ember.testing.device_dtype_params(("float64",)))
def test_sinc_derivatives_at_zero(dev, dt):
    # sinc'(0) = 0 (torch's too) and sinc''(0) = -pi^2 / 3 (torch's double backward gives NaN)
    x = _et([0.0], dev, dt, True)
    (g,) = ember.autograd.grad(special.sinc(x).sum(), x, create_graph=True)
    assert g.item() == 0.0
    (gg,) = ember.autograd.grad(g.sum(), x)
    assert gg.item() == pytest.approx(-math.pi ** 2 / 3, rel=1e-12)


def test_ember_erf_and_erfc_are_accurate_at_their_hard_ends():
    # erf near 0 in float32 (the cpu kernel's series; erf(0) is exactly 0, erf(-0) is -0), and
    # erfc where 1 - erf(x) would round to 0
    x = np.array([0.0, -0.0, 1e-30, -1e-8, 1e-5, 0.3, 0.49999, 0.5], np.float32)
    for dev in DEVICES:
        got = ember.erf(ember.tensor(x, device=dev)).cpu().numpy()
        want = torch.erf(torch.tensor(x)).numpy()
        np.testing.assert_allclose(got, want, rtol=3e-7, atol=0, err_msg=dev)
        assert list(np.signbit(got[:2])) == [False, True], dev
        big = ember.tensor([5.0, 9.0, -3.0], device=dev)
        np.testing.assert_allclose(ember.erfc(big).cpu().numpy(),
                                   torch.erfc(torch.tensor([5.0, 9.0, -3.0])).numpy(),
                                   rtol=2e-6, err_msg=dev)
        np.testing.assert_allclose(big.erfc().cpu().numpy(), ember.erfc(big).cpu().numpy())
