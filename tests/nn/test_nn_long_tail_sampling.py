"""affine_grid, grid_sample, ctc_loss / CTCLoss and the parametrization utilities (parametrize,
weight_norm, spectral_norm, old and new) against torch: outputs and gradients on every
available device, gradcheck in float64, state_dict layout."""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck
from nn_helpers import DEVICES, assert_close, copy_state, randn, to_numpy

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
TF = torch.nn.functional
EF = ember.nn.functional



def run_both(device, t_fn, e_fn, arrays, rtol=1e-4, atol=1e-5, seed=7):
    """Same float32 inputs to torch (cpu) and ember (on ``device``); compare the output and the
    gradient of every input under the same random cotangent."""
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_in = [ember.tensor(a, device=device, requires_grad=True) for a in arrays]
    ty, ey = t_fn(*t_in), e_fn(*e_in)
    assert ey.device.type == device
    assert tuple(ey.shape) == tuple(ty.shape)
    assert_close(to_numpy(ey), to_numpy(ty), rtol, atol, "forward")
    g = randn(*ty.shape, seed=seed)
    (ty * torch.tensor(g)).sum().backward()
    (ey * ember.tensor(g, device=device)).sum().backward()
    for i, (t, e) in enumerate(zip(t_in, e_in)):
        expected = to_numpy(t.grad)
        actual = np.zeros_like(expected) if e.grad is None else to_numpy(e.grad)
        assert_close(actual, expected, rtol, atol, f"grad of input {i}")


# --------------------------------------------------------------------------- affine_grid
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (1, 1, 1, 6), (3, 2, 7, 2), (2, 1, 3, 4, 5),
                                  (1, 2, 2, 1, 3)])
def test_affine_grid(device, align_corners, size):
    nd = len(size) - 2
    theta = randn(size[0], nd, nd + 1, seed=3)
    with pytest.warns(UserWarning) if 1 in size[2:] and align_corners else _nowarn():
        run_both(device, lambda t: TF.affine_grid(t, list(size), align_corners=align_corners),
                 lambda t: EF.affine_grid(t, list(size), align_corners=align_corners), [theta])


class _nowarn:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_affine_grid_errors():
    with pytest.raises(ValueError, match="Nx2x3"):
        EF.affine_grid(ember.zeros(1, 3, 3), [1, 1, 2, 2], align_corners=False)
    with pytest.raises(NotImplementedError, match="4D and 5D"):
        EF.affine_grid(ember.zeros(1, 2, 3), [1, 1, 2], align_corners=False)


# --------------------------------------------------------------------------- grid_sample
GRID_CASES = [((2, 3, 5, 6), (2, 4, 7), 0.8), ((1, 2, 4, 4), (1, 3, 3), 1.8),
              ((2, 1, 1, 5), (2, 2, 3), 1.2), ((1, 2, 6, 3), (1, 5, 2), 3.0)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("case", range(len(GRID_CASES)))
def test_grid_sample(device, mode, padding_mode, align_corners, case):
    shape, gshape, spread = GRID_CASES[case]
    x = randn(*shape, seed=case)
    grid = randn(*gshape, 2, seed=10 + case, scale=spread)
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    run_both(device, lambda a, g: TF.grid_sample(a, g, **kw),
             lambda a, g: EF.grid_sample(a, g, **kw), [x, grid], rtol=1e-4, atol=5e-5)


def test_grid_sample_identity_round_trip():
    # an identity affine grid samples every pixel centre exactly, whatever the corners mode
    x = randn(1, 2, 4, 5)
    for ac in (False, True):
        grid = EF.affine_grid(ember.eye(2, 3).unsqueeze(0), [1, 2, 4, 5], align_corners=ac)
        out = EF.grid_sample(ember.tensor(x), grid, align_corners=ac)
        assert_close(to_numpy(out), x, 1e-5, 1e-5, f"align_corners={ac}")


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_gradcheck(mode, padding_mode):
    x = ember.tensor(randn(1, 2, 3, 4).astype(np.float64), requires_grad=True)
    g = ember.tensor(randn(1, 2, 3, 2, seed=5, scale=0.7).astype(np.float64),
                     requires_grad=True)
    assert gradcheck(lambda a, b: EF.grid_sample(a, b, mode=mode, padding_mode=padding_mode,
                                                 align_corners=False), (x, g))


def test_grid_sample_errors():
    x, g = ember.zeros(1, 1, 2, 2), ember.zeros(1, 1, 1, 2)
    with pytest.raises(ValueError, match="mode"):
        EF.grid_sample(x, g, mode="area")
    with pytest.raises(ValueError, match="padding_mode"):
        EF.grid_sample(x, g, padding_mode="circular")


# ------------------------------------------------------------------------------ ctc_loss
CTC_CASES = [  # (T, N, C, input_lengths, target_lengths, S)
    (7, 3, 5, [7, 5, 6], [3, 2, 1], 4),
    (6, 2, 4, [6, 6], [0, 2], 3),
    (9, 2, 6, [9, 4], [4, 2], 5),
    (5, 1, 3, [5], [2], 2),
]


def _ctc_inputs(case):
    T, N, C, il, tl, S = CTC_CASES[case]
    x = randn(T, N, C, seed=case)
    rng = np.random.default_rng(case)
    tg = rng.integers(1, C, size=(N, S))
    if case == 3:
        tg[:] = 2  # a repeated label needs a blank between its copies
    return x, tg, il, tl


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", range(len(CTC_CASES)))
@pytest.mark.parametrize("log_softmax", [False, True])
def test_ctc_loss(device, reduction, case, log_softmax):
    x, tg, il, tl = _ctc_inputs(case)

    def t_fn(a):
        a = a.log_softmax(2) if log_softmax else a
        return TF.ctc_loss(a, torch.tensor(tg), torch.tensor(il), torch.tensor(tl),
                           reduction=reduction)

    def e_fn(a):
        a = a.log_softmax(2) if log_softmax else a
        return EF.ctc_loss(a, ember.tensor(tg, device=device), ember.tensor(il),
                           ember.tensor(tl), reduction=reduction)
    run_both(device, t_fn, e_fn, [x], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_ctc_loss_concatenated_targets_and_blank(device):
    x, tg, il, tl = _ctc_inputs(0)
    # blank = C - 1: labels from 0 .. C - 2
    tg = tg - 1
    flat = np.concatenate([row[:n] for row, n in zip(tg, tl)])
    run_both(device,
             lambda a: TF.ctc_loss(a, torch.tensor(flat), il, tl, blank=4, reduction="sum"),
             lambda a: EF.ctc_loss(a, ember.tensor(flat, device=device), il, tl, blank=4,
                                   reduction="sum"), [x], atol=1e-4)


def test_ctc_loss_unbatched():
    x = randn(6, 4, seed=2)
    tg = np.array([1, 3, 3])
    for reduction in ("none", "mean", "sum"):
        run_both("cpu",
                 lambda a: TF.ctc_loss(a, torch.tensor(tg), torch.tensor(6), torch.tensor(3),
                                       reduction=reduction),
                 lambda a: EF.ctc_loss(a, ember.tensor(tg), ember.tensor(6), ember.tensor(3),
                                       reduction=reduction), [x], atol=1e-4)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_loss_zero_infinity(reduction):
    # sample 2 needs 4 labels (2 repeats, so at least 6 steps) in 2 steps: impossible
    x = randn(7, 3, 5, seed=4)
    tg = np.array([[1, 2, 2, 3], [3, 1, 1, 1], [4, 4, 4, 4]])
    il, tl = [7, 3, 2], [3, 2, 4]
    run_both("cpu",
             lambda a: TF.ctc_loss(a, torch.tensor(tg), il, tl, reduction=reduction,
                                   zero_infinity=True),
             lambda a: EF.ctc_loss(a, ember.tensor(tg), il, tl, reduction=reduction,
                                   zero_infinity=True), [x], atol=1e-4)
    t = TF.ctc_loss(torch.tensor(x), torch.tensor(tg), il, tl, reduction="none")
    e = EF.ctc_loss(ember.tensor(x), ember.tensor(tg), il, tl, reduction="none")
    assert_close(to_numpy(e), to_numpy(t), 1e-4, 1e-4, "infinite loss")
    assert np.isinf(to_numpy(e)[2])


def test_ctc_loss_gradcheck():
    x = ember.tensor(randn(5, 2, 4, seed=1).astype(np.float64), requires_grad=True)
    tg = ember.tensor([[1, 2], [3, 3]])

    def f(a):
        return EF.ctc_loss(a.log_softmax(2), tg, [5, 4], [2, 2], reduction="none")
    assert gradcheck(f, (x,))


def test_ctc_module():
    x, tg, il, tl = _ctc_inputs(2)
    for kw in ({}, {"reduction": "sum"}, {"blank": 0, "zero_infinity": True}):
        tm, em = torch.nn.CTCLoss(**kw), ember.nn.CTCLoss(**kw)
        run_both("cpu", lambda a: tm(a.log_softmax(2), torch.tensor(tg), il, tl),
                 lambda a: em(a.log_softmax(2), ember.tensor(tg), il, tl), [x], atol=1e-4)


# ------------------------------------------------------------------------------ parametrize
def _check_module_pair(tm, em, x, rtol=1e-4, atol=1e-5):
    """Same state in both, then outputs and parameter gradients match."""
    copy_state(tm, em)
    assert list(em.state_dict()) == list(tm.state_dict())
    ty = tm(torch.tensor(x))
    ey = em(ember.tensor(x))
    assert_close(to_numpy(ey), to_numpy(ty), rtol, atol, "forward")
    g = randn(*ty.shape, seed=9)
    (ty * torch.tensor(g)).sum().backward()
    (ey * ember.tensor(g)).sum().backward()
    tp, ep = dict(tm.named_parameters()), dict(em.named_parameters())
    assert list(ep) == list(tp)
    for name in tp:
        assert_close(to_numpy(ep[name].grad), to_numpy(tp[name].grad), rtol, atol, name)


class _TSym(torch.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class _ESym(ember.nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class _TScale(torch.nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, x):
        return x / 2


class _EScale(ember.nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, x):
        return x / 2


def test_register_parametrization_matches_torch():
    P, EP = torch.nn.utils.parametrize, ember.nn.utils.parametrize
    tm, em = torch.nn.Linear(4, 4), ember.nn.Linear(4, 4)
    P.register_parametrization(tm, "weight", _TSym())
    EP.register_parametrization(em, "weight", _ESym())
    P.register_parametrization(tm, "weight", _TScale())
    EP.register_parametrization(em, "weight", _EScale())
    assert EP.is_parametrized(em) and EP.is_parametrized(em, "weight")
    assert not EP.is_parametrized(em, "bias")
    assert EP.type_before_parametrizations(em) is ember.nn.Linear
    assert isinstance(em, ember.nn.Linear)
    _check_module_pair(tm, em, randn(3, 4))
    w = to_numpy(em.weight)
    assert_close(w, w.T, 0, 0, "symmetric")


def test_parametrization_setter_cached_and_remove():
    EP = ember.nn.utils.parametrize
    m = ember.nn.Linear(3, 3)
    EP.register_parametrization(m, "weight", _EScale())
    target = randn(3, 3, seed=2)
    m.weight = ember.tensor(target)  # goes through right_inverse
    assert_close(to_numpy(m.parametrizations.weight.original), target / 2, 1e-6, 1e-6, "inv")
    with EP.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    other = ember.nn.Linear(3, 3)
    assert not hasattr(type(other), "weight")  # the property lives on this instance's class
    original = m.parametrizations.weight.original
    EP.remove_parametrizations(m, "weight")
    assert type(m) is ember.nn.Linear and not EP.is_parametrized(m)
    assert m.weight is original  # the same Parameter, now holding the parametrized value
    assert_close(to_numpy(m.weight), target, 1e-6, 1e-6, "left parametrized")
    assert list(m.state_dict()) == ["bias", "weight"]  # re-registered last, as in torch


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization(dim):
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 3), dim=dim)
    em = ember.nn.utils.parametrizations.weight_norm(ember.nn.Linear(5, 3), dim=dim)
    _check_module_pair(tm, em, randn(4, 5))
    assert_close(to_numpy(em.weight), to_numpy(tm.weight.detach()), 1e-5, 1e-6, "weight")


def test_weight_norm_parametrization_init_and_conv():
    # fresh registration splits the weight as torch does (g = norms, v = weight)
    conv = ember.nn.Conv2d(2, 3, 3)
    w = to_numpy(conv.weight).copy()
    ember.nn.utils.parametrizations.weight_norm(conv)
    g = conv.parametrizations.weight.original0
    assert tuple(g.shape) == (3, 1, 1, 1)
    assert_close(to_numpy(g).ravel(), np.sqrt((w ** 2).reshape(3, -1).sum(1)), 1e-5, 1e-6, "g")
    assert_close(to_numpy(conv.weight), w, 1e-5, 1e-6, "value unchanged")
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(2, 3, 3))
    _check_module_pair(tm, conv, randn(1, 2, 5, 5))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_spectral_norm_parametrization(training, kind):
    make = {"linear": lambda nn: nn.Linear(5, 4), "conv": lambda nn: nn.Conv2d(2, 3, 2),
            "convT": lambda nn: nn.ConvTranspose2d(3, 2, 2)}[kind]
    x = randn(4, 5) if kind == "linear" else randn(1, 2 if kind == "conv" else 3, 4, 4)
    tm = torch.nn.utils.parametrizations.spectral_norm(make(torch.nn))
    em = ember.nn.utils.parametrizations.spectral_norm(make(ember.nn))
    tm.train(training)
    em.train(training)
    _check_module_pair(tm, em, x)
    # the power iteration updated u and v in place the same way
    ts, es = tm.state_dict(), em.state_dict()
    for k in ("parametrizations.weight.0._u", "parametrizations.weight.0._v"):
        assert_close(to_numpy(es[k]), to_numpy(ts[k]), 1e-4, 1e-5, k)


@pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")
def test_weight_norm_hook():
    for dim in (0, 1, None):
        tm = torch.nn.utils.weight_norm(torch.nn.Linear(5, 3), dim=dim)
        with pytest.warns(FutureWarning, match="deprecated"):
            em = ember.nn.utils.weight_norm(ember.nn.Linear(5, 3), dim=dim)
        assert list(em.state_dict()) == ["bias", "weight_g", "weight_v"]
        _check_module_pair(tm, em, randn(2, 5))
        w = to_numpy(em.weight).copy()
        ember.nn.utils.remove_weight_norm(em)
        assert list(em.state_dict()) == ["bias", "weight"]
        assert_close(to_numpy(em.weight), w, 1e-6, 1e-6, "removed")
    with pytest.raises(ValueError, match="weight_norm"):
        ember.nn.utils.remove_weight_norm(ember.nn.Linear(2, 2))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
def test_spectral_norm_hook(training, kind):
    make = {"linear": lambda nn: nn.Linear(5, 4), "conv": lambda nn: nn.Conv2d(2, 3, 2),
            "convT": lambda nn: nn.ConvTranspose2d(3, 2, 2)}[kind]
    x = randn(4, 5) if kind == "linear" else randn(1, 2 if kind == "conv" else 3, 4, 4)
    tm = torch.nn.utils.spectral_norm(make(torch.nn))
    em = ember.nn.utils.spectral_norm(make(ember.nn))
    assert list(em.state_dict()) == list(tm.state_dict())
    tm.train(training)
    em.train(training)
    _check_module_pair(tm, em, x)
    ts, es = tm.state_dict(), em.state_dict()
    for k in ("weight_u", "weight_v"):
        assert_close(to_numpy(es[k]), to_numpy(ts[k]), 1e-4, 1e-5, k)
    w = to_numpy(em.weight).copy()
    ember.nn.utils.remove_spectral_norm(em)
    assert "weight" in dict(em.named_parameters())
    assert_close(to_numpy(em.weight), w, 1e-4, 1e-5, "removed")
