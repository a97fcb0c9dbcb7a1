"""Parity gaps against torch 2.13: preserve_format layouts of clone and the *_like factories,
fmod/remainder signs (negative zero, infinite divisors, int/float mixes), clamp's gradient at
NaN, the module path (and pickling) of nn.Parameter, half-precision log_softmax bit for bit,
out-of-range scalars of integer and half dtypes, and the deprecated non-full backward hooks."""
import io
import math
import pickle
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn.modules.module as ember_module_mod
from tests.nn.nn_helpers import DEVICES

nan, inf = math.nan, math.inf


def _np(t):
    return t.detach().to("cpu").numpy()


def _same_bits(e, t):
    """Equal values, NaN where torch has NaN, and the sign of every non-NaN value (-0.)."""
    a, b = np.asarray(_np(e), np.float64), t.detach().double().numpy()
    assert a.shape == b.shape
    both_nan = np.isnan(a) & np.isnan(b)
    ok = both_nan | ((a == b) & (np.signbit(a) == np.signbit(b)))
    assert ok.all(), f"ember {a[~ok]} vs torch {b[~ok]}"


# ---- 1. preserve_format layouts --------------------------------------------------------------

def _layouts(m, device="cpu"):
    r = lambda *s: m.arange(float(np.prod(s)), device=device).reshape(*s)  # noqa: E731
    return {
        "channels_last": lambda: r(2, 3, 4, 5).to(memory_format=m.channels_last),
        "channels_last_3d": lambda: r(2, 3, 4, 5, 6).to(memory_format=m.channels_last_3d),
        "transposed": lambda: r(3, 4).t(),
        "permuted": lambda: r(2, 3, 4).permute(2, 0, 1),
        "permuted_4d": lambda: r(2, 3, 4, 5).permute(3, 1, 0, 2),
        # not dense: torch gives dense strides in the same order of dims
        "channels_last_sliced_c": lambda: r(2, 6, 4, 5).to(memory_format=m.channels_last)[:, ::2],
        "channels_last_sliced_w": lambda: r(2, 6, 4, 5).to(
            memory_format=m.channels_last)[..., ::2],
        "permuted_sliced": lambda: r(4, 5, 6).permute(1, 2, 0)[::2],
        "transposed_narrowed": lambda: r(6, 5).t()[1:3],
        "sliced": lambda: r(4, 6)[:, ::2],
        "expanded": lambda: r(3, 4).expand(2, 3, 4),
        "expanded_transposed": lambda: r(4, 1).expand(4, 3).t(),
        "expanded_permuted": lambda: r(3, 1, 4).expand(3, 5, 4).permute(2, 0, 1),
        "contiguous": lambda: r(3, 4),
    }


def _factories(m):
    return {
        "clone": lambda x: x.clone(),
        "clone_preserve": lambda x: x.clone(memory_format=m.preserve_format),
        "torch.clone": lambda x: m.clone(x),
        "empty_like": lambda x: m.empty_like(x),
        "zeros_like": lambda x: m.zeros_like(x),
        "ones_like": lambda x: m.ones_like(x),
        "full_like": lambda x: m.full_like(x, 2.0),
        "rand_like": lambda x: m.rand_like(x),
        "randn_like": lambda x: m.randn_like(x),
        "randint_like": lambda x: m.randint_like(x, 5),
        "clone_contiguous": lambda x: x.clone(memory_format=m.contiguous_format),
        "empty_like_contiguous": lambda x: m.empty_like(x, memory_format=m.contiguous_format),
        "contiguous": lambda x: x.contiguous(),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("factory", list(_factories(torch)))
@pytest.mark.parametrize("layout", list(_layouts(torch)))
def test_preserve_format_strides_match_torch(device, factory, layout):
    t = _factories(torch)[factory](_layouts(torch)[layout]())
    x = _layouts(ember, device)[layout]()
    e = _factories(ember)[factory](x)
    assert e.stride() == t.stride()
    assert tuple(e.shape) == tuple(t.shape)
    if factory.startswith("clone") or factory in ("torch.clone", "contiguous"):
        np.testing.assert_array_equal(_np(e), _np(t))
    if factory in ("full_like", "ones_like", "zeros_like"):
        np.testing.assert_array_equal(_np(e), _np(t))


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_clone_is_channels_last(device):
    for fmt, shape in ((ember.channels_last, (2, 3, 4, 5)),
                       (ember.channels_last_3d, (2, 3, 4, 5, 6))):
        x = ember.randn(*shape, device=device).to(memory_format=fmt)
        for y in (x.clone(), ember.empty_like(x), ember.zeros_like(x)):
            assert y.is_contiguous(memory_format=fmt)
            assert not y.is_contiguous()
        assert x.contiguous().is_contiguous()


@pytest.mark.parametrize("device", DEVICES)
def test_clone_of_a_layout_keeps_values_and_gradient(device):
    a = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    x = ember.tensor(a, device=device, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    ey = x.to(memory_format=ember.channels_last).clone()
    ty = t.to(memory_format=torch.channels_last).clone()
    np.testing.assert_array_equal(_np(ey), _np(ty))
    w = np.arange(a.size, dtype=np.float32).reshape(a.shape)
    (ey * ember.tensor(w, device=device)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(_np(x.grad), _np(t.grad))


def test_rand_like_of_a_layout_fills_memory_in_order_as_torch():
    # torch draws a preserved layout's uniforms in memory order
    t = torch.zeros(2, 3, 4, 5).to(memory_format=torch.channels_last)
    e = ember.zeros(2, 3, 4, 5).to(memory_format=ember.channels_last)
    torch.manual_seed(7)
    ember.manual_seed(7)
    np.testing.assert_array_equal(_np(ember.rand_like(e)), _np(torch.rand_like(t)))
    torch.manual_seed(7)
    ember.manual_seed(7)
    np.testing.assert_array_equal(_np(ember.rand_like(e[0, 0].t())),
                                  _np(torch.rand_like(t[0, 0].t())))


# ---- 2. fmod and remainder -----------------------------------------------------------------

_DIVIDENDS = [-3.0, -2.0, -0.5, -0.0, 0.0, 0.5, 2.0, 3.0, 7.25, -7.25, inf, -inf, nan]
_DIVISORS = [2.0, -2.0, 0.5, -0.5, 0.0, -0.0, inf, -inf, nan, 3.0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["fmod", "remainder"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fmod_remainder_float_grid(device, op, dtype):
    a = np.array(_DIVIDENDS)[:, None]
    b = np.array(_DIVISORS)[None, :]
    td, ed = getattr(torch, dtype), getattr(ember, dtype)
    t = getattr(torch, op)(torch.tensor(a, dtype=td), torch.tensor(b, dtype=td))
    e = getattr(ember, op)(ember.tensor(a, dtype=ed, device=device),
                           ember.tensor(b, dtype=ed, device=device))
    _same_bits(e, t)
    for s in (2.0, -2.0, 0.5, 2, -2, 3, inf, -inf, -0.0):
        ta, ea = torch.tensor(a, dtype=td), ember.tensor(a, dtype=ed, device=device)
        _same_bits(getattr(ember, op)(ea, s), getattr(torch, op)(ta, s))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["fmod", "remainder"])
def test_fmod_remainder_int_float_mixes(device, op):
    ints = np.array([-7, -5, -4, -1, 0, 1, 4, 5, 7])
    fl = np.array([2.0, -2.0, 2.5, -0.5, inf, -inf, 0.0], dtype=np.float32)
    f = getattr(torch, op), getattr(ember, op)
    ti, ei = torch.tensor(ints), ember.tensor(ints, device=device)
    for s in (2.0, -2.0, 2.5, -0.0, 3, -3, 1, -1):
        t, e = f[0](ti, s), f[1](ei, s)
        assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
        _same_bits(e, t)
    t = f[0](ti[:, None], torch.tensor(fl)[None])
    e = f[1](ei[:, None], ember.tensor(fl, device=device)[None])
    assert e.dtype == ember.float32
    _same_bits(e, t)
    # float tensor by an int tensor
    t = f[0](torch.tensor(fl)[:, None], ti[None])
    e = f[1](ember.tensor(fl, device=device)[:, None], ei[None])
    _same_bits(e, t)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["fmod", "remainder"])
@pytest.mark.parametrize("dtype", ["int8", "int32", "int64"])
def test_fmod_remainder_integers(device, op, dtype):
    info = np.iinfo(dtype)
    a = np.array([info.min, info.min + 1, -100, -7, -1, 0, 1, 7, 100, info.max], dtype=dtype)
    b = np.array([3, -3, 7, -7, 1, -1, 2, 127, -128], dtype=dtype)
    td, ed = getattr(torch, dtype), getattr(ember, dtype)
    t = getattr(torch, op)(torch.tensor(a, dtype=td)[:, None], torch.tensor(b, dtype=td)[None])
    e = getattr(ember, op)(ember.tensor(a, dtype=ed, device=device)[:, None],
                           ember.tensor(b, dtype=ed, device=device)[None])
    assert e.dtype == ed
    np.testing.assert_array_equal(_np(e), _np(t))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["fmod", "remainder"])
def test_fmod_remainder_exact_for_large_quotients(device, op):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(3000) * 10.0 ** rng.integers(-3, 30, 3000)).astype(np.float32)
    b = (rng.standard_normal(3000) * 10.0 ** rng.integers(-3, 5, 3000)).astype(np.float32)
    t = getattr(torch, op)(torch.tensor(a), torch.tensor(b))
    e = getattr(ember, op)(ember.tensor(a, device=device), ember.tensor(b, device=device))
    _same_bits(e, t)


def test_remainder_scalar_dividend_and_fmod_refuses_it():
    b = [2.0, -2.0, 0.5, inf, -inf, 0.0]
    for s in (-0.0, 0.0, -3.0, 3, -4):
        _same_bits(ember.remainder(s, ember.tensor(b)), torch.remainder(s, torch.tensor(b)))
    with pytest.raises(TypeError, match="fmod"):
        torch.fmod(2.0, torch.tensor(b))
    with pytest.raises(TypeError, match="fmod"):
        ember.fmod(2.0, ember.tensor(b))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("op", ["fmod", "remainder"])
def test_fmod_remainder_gradients(device, op):
    a = np.array([-3.0, -2.0, 2.5, 4.0, -0.5, 7.0], dtype=np.float32)
    b = np.array([2.0, 2.0, -1.5, -2.0, 0.3, 3.0], dtype=np.float32)
    w = np.arange(1.0, 7.0, dtype=np.float32)
    grads = []
    for m, dev in ((torch, "cpu"), (ember, device)):
        x = m.tensor(a, device=dev, requires_grad=True)
        y = m.tensor(b, device=dev, requires_grad=True)
        (getattr(m, op)(x, y) * m.tensor(w, device=dev)).sum().backward()
        x2 = m.tensor(a, device=dev, requires_grad=True)
        getattr(m, op)(x2, 2.0).sum().backward()
        x3 = m.tensor(a, device=dev, requires_grad=True)
        getattr(m, op)(x3[:, None], y[None, :3].detach()).sum().backward()
        grads.append([_np(g) for g in (x.grad, y.grad, x2.grad, x3.grad)])
    for ge, gt in zip(grads[1], grads[0]):
        np.testing.assert_allclose(ge, gt, rtol=1e-6)


def test_fmod_half_precision():
    a = np.array([5.0, -5.0, -4.0, 0.3, -0.0, 1000.0], dtype=np.float32)
    for dt in ("float16", "bfloat16"):
        t = torch.fmod(torch.tensor(a).to(getattr(torch, dt)), 0.7)
        e = ember.fmod(ember.tensor(a).to(getattr(ember, dt)), 0.7)
        assert e.dtype == getattr(ember, dt)
        _same_bits(e, t)


# ---- 3. clamp's gradient at NaN --------------------------------------------------------------

def _clamp_fns(m):
    F = m.nn.functional
    return {
        "clamp": lambda x: m.clamp(x, -1.0, 1.0),
        "clamp_min": lambda x: m.clamp_min(x, 0.0),
        "clamp_max": lambda x: m.clamp_max(x, 0.0),
        "clip": lambda x: m.clip(x, -1, 1),
        "clamp_method_min": lambda x: x.clamp(min=0.5),
        "clamp_method_max": lambda x: x.clamp(max=0.5),
        "clamp_tensor_bounds": lambda x: m.clamp(x, m.full_like(x, -1.0), m.full_like(x, 1.0)),
        "clamp_min_tensor": lambda x: m.clamp_min(x, m.tensor(0.0, device=x.device)),
        "hardtanh": F.hardtanh,  # torch passes the gradient at NaN here: 1
        "relu6": F.relu6,
        "relu": F.relu,
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(_clamp_fns(torch)))
def test_clamp_gradient_at_nan(device, name):
    a = np.array([nan, 0.5, 2.0, -2.0, 1.0, -1.0, 0.0, nan], dtype=np.float32)
    res = []
    for m, dev in ((torch, "cpu"), (ember, device)):
        x = m.tensor(a, device=dev, requires_grad=True)
        y = _clamp_fns(m)[name](x)
        y.sum().backward()
        res.append((_np(y), _np(x.grad)))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_tensor_bounds_gradients_with_nan(device):
    xs = np.array([nan, 0.5, 2.0, -2.0, nan], dtype=np.float32)
    lo = np.array([-1.0, -1.0, -1.0, -1.0, nan], dtype=np.float32)
    hi = np.ones(5, dtype=np.float32)
    w = np.arange(1.0, 6.0, dtype=np.float32)
    res = []
    for m, dev in ((torch, "cpu"), (ember, device)):
        ts = [m.tensor(v, device=dev, requires_grad=True) for v in (xs, lo, hi)]
        (m.clamp(*ts) * m.tensor(w, device=dev)).sum().backward()
        res.append([_np(t.grad) for t in ts])
    for ge, gt in zip(res[1], res[0]):
        np.testing.assert_array_equal(ge, gt)


# ---- 4. nn.Parameter's module ----------------------------------------------------------------

def test_parameter_classes_live_in_nn_parameter():
    assert repr(type(ember.nn.Parameter(ember.ones(2)))) == \
        "<class 'ember.nn.parameter.Parameter'>"
    assert repr(type(torch.nn.Parameter(torch.ones(2)))) == \
        "<class 'torch.nn.parameter.Parameter'>"
    import ember.nn.parameter as P
    for name in ("Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"):
        assert getattr(P, name) is getattr(ember.nn, name)
        assert getattr(ember.nn, name).__module__ == "ember.nn.parameter"
        assert getattr(torch.nn, name).__module__ == "torch.nn.parameter"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("requires_grad", [True, False])
def test_parameter_pickles_round_trip(device, requires_grad):
    p = ember.nn.Parameter(ember.randn(2, 3, device=device), requires_grad=requires_grad)
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        q = pickle.loads(pickle.dumps(p, protocol=proto))
        assert type(q) is ember.nn.Parameter
        assert q.requires_grad == requires_grad
        assert q.device == p.device
        np.testing.assert_array_equal(_np(q), _np(p))
    assert pickle.loads(pickle.dumps(ember.nn.Parameter)) is ember.nn.Parameter
    assert pickle.loads(pickle.dumps(ember.nn.Buffer)) is ember.nn.Buffer


@pytest.mark.parametrize("device", DEVICES)
def test_parameter_through_save_and_load(device):
    p = ember.nn.Parameter(ember.randn(3, device=device))
    m = ember.nn.Linear(2, 3).to(device)
    buf = io.BytesIO()
    ember.save({"p": p, "same": [p], "module": m.state_dict()}, buf)
    buf.seek(0)
    d = ember.load(buf)
    assert type(d["p"]) is ember.nn.Parameter and d["p"].requires_grad
    assert d["same"][0] is d["p"]
    np.testing.assert_array_equal(_np(d["p"]), _np(p))
    np.testing.assert_array_equal(_np(d["module"]["weight"]), _np(m.weight))
    q = pickle.loads(pickle.dumps(m))
    assert type(q.weight) is ember.nn.Parameter


# ---- 5. log_softmax in half precision --------------------------------------------------------

_SHAPES = [(7,), (4, 33), (3, 5, 17), (2, 64, 9), (8, 300), (4, 33, 1), (2, 3, 4, 5)]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("shape", _SHAPES)
def test_log_softmax_half_bit_exact(dtype, shape):
    # (cpu only: the opencl backend has no half-precision dtypes)
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    t = torch.tensor(rng.standard_normal(shape) * 4).to(getattr(torch, dtype))
    e = ember.tensor(t.float().numpy()).to(getattr(ember, dtype))
    for d in range(-len(shape), len(shape)):
        np.testing.assert_array_equal(_np(ember.log_softmax(e, d).float()),
                                      _np(torch.log_softmax(t, d).float()))
        np.testing.assert_array_equal(_np(ember.nn.functional.log_softmax(e, d).float()),
                                      _np(torch.nn.functional.log_softmax(t, d).float()))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_log_softmax_full_precision_still_close(device, dtype):
    rng = np.random.default_rng(1)
    for shape in _SHAPES:
        a = rng.standard_normal(shape) * 4
        t = torch.tensor(a).to(getattr(torch, dtype))
        e = ember.tensor(a, device=device).to(getattr(ember, dtype))
        for d in range(len(shape)):
            np.testing.assert_allclose(_np(ember.log_softmax(e, d)),
                                       _np(torch.log_softmax(t, d)), rtol=1e-6, atol=1e-6)


# ---- 6. out-of-range scalars -----------------------------------------------------------------

def _scalar_cases(m):
    mask = lambda dev: m.tensor([True, False], device=dev)  # noqa: E731
    idx = lambda dev: m.tensor([0], device=dev)  # noqa: E731
    i8 = lambda dev: m.zeros(2, dtype=m.int8, device=dev)  # noqa: E731
    return {
        "fill_": lambda dev: i8(dev).fill_(300),
        "fill_uint8_negative": lambda dev: m.zeros(2, dtype=m.uint8, device=dev).fill_(-1),
        "fill_float": lambda dev: i8(dev).fill_(1e10),
        "fill_int64_2**63": lambda dev: m.zeros(2, dtype=m.int64, device=dev).fill_(2 ** 63),
        "full": lambda dev: m.full((2,), 300, dtype=m.int8, device=dev),
        "masked_fill": lambda dev: i8(dev).masked_fill(mask(dev), 300),
        "masked_fill_": lambda dev: i8(dev).masked_fill_(mask(dev), -300),
        "index_fill": lambda dev: i8(dev).index_fill(0, idx(dev), 300),
        "index_fill_": lambda dev: i8(dev).index_fill_(0, idx(dev), -129),
        "index_fill_uint8": lambda dev: m.zeros(2, dtype=m.uint8, device=dev).index_fill(
            0, idx(dev), 256),
        "index_fill_int32": lambda dev: m.zeros(2, dtype=m.int32, device=dev).index_fill(
            0, idx(dev), 2 ** 31),
        "index_fill_in_range": lambda dev: i8(dev).index_fill(0, idx(dev), 127),
        "clamp": lambda dev: m.clamp(i8(dev), 0, 300),
        "clamp_min": lambda dev: m.clamp(i8(dev), min=-300),
        "clamp_": lambda dev: i8(dev).clamp_(0, 300),
        "clamp_max_fn": lambda dev: m.clamp_max(i8(dev), 300),
        "clamp_int64_2**64": lambda dev: m.clamp(m.zeros(2, dtype=m.int64, device=dev), 0,
                                                 2 ** 64),
        "where": lambda dev: m.where(mask(dev), i8(dev), 300),
        "where_other_side": lambda dev: m.where(mask(dev), 300, i8(dev)),
        "where_float_scalar": lambda dev: m.where(mask(dev), i8(dev), 1.5),
        # nan_to_num casts its replacements: torch never raises there
        "nan_to_num_int": lambda dev: m.nan_to_num(i8(dev), nan=300, posinf=1e10),
    }


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", list(_scalar_cases(torch)))
def test_out_of_range_scalars_match_torch(device, case):
    def outcome(m, dev):
        try:
            return "ok", _scalar_cases(m)[case](dev).tolist()
        except Exception as ex:  # noqa: BLE001 - the class and message are compared
            return type(ex).__name__, str(ex)
    assert outcome(ember, device) == outcome(torch, "cpu")


@pytest.mark.parametrize("case", ["index_fill", "masked_fill", "fill_", "clamp"])
def test_out_of_range_half_scalars_match_torch(case):
    def run(m):
        x = m.zeros(2, dtype=m.float16)
        f = {"index_fill": lambda: x.index_fill(0, m.tensor([0]), 1e6),
             "masked_fill": lambda: x.masked_fill(m.tensor([True, False]), 1e6),
             "fill_": lambda: x.fill_(-1e6),
             "clamp": lambda: m.clamp(x, 0, 1e6)}[case]
        try:
            return "ok", f().tolist()
        except Exception as ex:  # noqa: BLE001
            return type(ex).__name__, str(ex)
    assert run(ember) == run(torch)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_nan_to_num_rounds_replacements_as_torch(dtype):
    a = [nan, inf, -inf, 1.0, -0.0]
    for kw in ({}, {"nan": 1e6, "posinf": 65519.0, "neginf": -65520.0},
               {"nan": 1e40, "posinf": 1e300, "neginf": -1e39}, {"nan": -3, "posinf": 7}):
        t = torch.nan_to_num(torch.tensor(a, dtype=getattr(torch, dtype)), **kw)
        e = ember.nan_to_num(ember.tensor(a, dtype=getattr(ember, dtype)), **kw)
        assert e.dtype == getattr(ember, dtype)
        _same_bits(e, t)


@pytest.mark.parametrize("device", DEVICES)
def test_nan_to_num_on_device_and_its_gradient(device):
    a = np.array([nan, inf, -inf, 1.0, -2.0], dtype=np.float32)
    res = []
    for m, dev in ((torch, "cpu"), (ember, device)):
        x = m.tensor(a, device=dev, requires_grad=True)
        y = m.nan_to_num(x, nan=1e39, posinf=2.0)
        y.sum().backward()
        res.append((_np(y), _np(x.grad)))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])


# ---- 7. the deprecated non-full backward hooks -----------------------------------------------

def _grads_seen(m, make, device, register):
    seen = []

    def hook(mod, grad_input, grad_output):
        seen.append(([None if g is None else _np(g) for g in grad_input],
                     [_np(g) for g in grad_output]))

    m.manual_seed(0)
    mod = make(m)
    if m is ember:
        mod = mod.to(device)
        for p_e, p_t in zip(mod.parameters(), _torch_twin(make).parameters()):
            p_e.data = ember.tensor(_np(p_t), device=device)
    handle = register(mod, hook)
    x = m.tensor(np.linspace(-2, 2, 12, dtype=np.float32).reshape(4, 3),
                 device=device if m is ember else "cpu", requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = mod(x)
    (y * m.arange(1.0, y.numel() + 1, device=y.device).reshape(y.shape)).sum().backward()
    handle.remove()
    return seen, [(w.category, str(w.message)) for w in caught], _np(x.grad)


def _torch_twin(make):
    torch.manual_seed(0)
    return make(torch)


_MODULES = {
    "relu": lambda m: m.nn.ReLU(),
    "tanh": lambda m: m.nn.Tanh(),
    "sequential": lambda m: m.nn.Sequential(m.nn.Linear(3, 2), m.nn.Sigmoid()),
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", list(_MODULES))
def test_register_backward_hook_sees_last_op_grads_and_warns(device, name):
    make = _MODULES[name]
    register = lambda mod, hook: mod.register_backward_hook(hook)  # noqa: E731
    t_seen, t_warn, t_grad = _grads_seen(torch, make, "cpu", register)
    e_seen, e_warn, e_grad = _grads_seen(ember, make, device, register)
    assert e_warn == t_warn and t_warn and t_warn[0][0] is FutureWarning
    assert len(e_seen) == len(t_seen) == 1
    for (egi, ego), (tgi, tgo) in zip(e_seen, t_seen):
        assert len(ego) == len(tgo)
        for a, b in zip(ego, tgo):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        # (the last op may take other non-differentiable inputs: relu is a where() on opencl)
        egi, tgi = [g for g in egi if g is not None], [g for g in tgi if g is not None]
        assert len(egi) == len(tgi)
        for a, b in zip(egi, tgi):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e_grad, t_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_register_backward_hook_can_replace_grad_input(device):
    res = []
    for m, dev in ((torch, "cpu"), (ember, device)):
        mod = m.nn.ReLU()
        mod.register_backward_hook(lambda mod, gi, go: tuple(None if g is None else g * 3
                                                         for g in gi))
        x = m.tensor([-1.0, 2.0, 3.0], device=dev, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            mod(x).sum().backward()
        res.append(_np(x.grad))
    np.testing.assert_array_equal(res[1], res[0])


def test_backward_hook_kinds_do_not_mix():
    for m in (torch, ember):
        a = m.nn.Linear(2, 2)
        a.register_full_backward_hook(lambda *args: None)
        with pytest.raises(RuntimeError, match="Cannot use both regular backward hooks and "
                                               "full backward hooks on a single Module"):
            a.register_backward_hook(lambda *args: None)
        b = m.nn.Linear(2, 2)
        b.register_backward_hook(lambda *args: None).remove()
        with pytest.raises(RuntimeError, match="on a single Module. Please use only one"):
            b.register_full_backward_hook(lambda *args: None)


@pytest.fixture
def restore_global_hook_kind():
    saved = (torch.nn.modules.module._global_is_full_backward_hook,
             ember_module_mod._global_is_full_backward_hook)
    torch.nn.modules.module._global_is_full_backward_hook = None
    ember_module_mod._global_is_full_backward_hook = None
    yield
    (torch.nn.modules.module._global_is_full_backward_hook,
     ember_module_mod._global_is_full_backward_hook) = saved


@pytest.mark.usefixtures("restore_global_hook_kind")
@pytest.mark.parametrize("device", DEVICES)
def test_register_module_backward_hook_global(device):
    make = _MODULES["sequential"]
    results = []
    for m, mod_mod, dev in ((torch, torch.nn.modules.module, "cpu"),
                            (ember, ember_module_mod, device)):
        names = []
        handle = mod_mod.register_module_backward_hook(
            lambda mod, gi, go: names.append((type(mod).__name__, len(gi), len(go))))
        with pytest.raises(RuntimeError, match="as a global Module hook"):
            mod_mod.register_module_full_backward_hook(lambda *args: None)
        net = make(m).to(dev)
        x = m.tensor(np.ones((4, 3), np.float32), device=dev, requires_grad=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = net(x)
        y.sum().backward()
        handle.remove()
        results.append((names, [w.category for w in caught]))
    # the Linear's last op takes other inputs in each library (addmm, ember's linear): compare
    # which modules were called, in which order, and the warnings
    assert [n[0] for n in results[1][0]] == [n[0] for n in results[0][0]]
    assert [n[2] for n in results[1][0]] == [n[2] for n in results[0][0]]
    assert results[1][1] == results[0][1]


def test_gather_and_scatters_take_int32_indices_and_say_so():
    import torch as _torch
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    for dt in ("int32", "int64"):
        e_i, t_i = ember.tensor(idx, dtype=getattr(ember, dt)), _torch.tensor(
            idx, dtype=getattr(_torch, dt))
        ex, tx = ember.tensor(x), _torch.tensor(x)
        np.testing.assert_array_equal(ex.gather(1, e_i).numpy(), tx.gather(1, t_i).numpy())
        np.testing.assert_array_equal(ex.scatter_add(1, e_i, ex[:, :2]).numpy(),
                                      tx.scatter_add(1, t_i, tx[:, :2]).numpy())
    for call in (lambda m, x: x.gather(1, m.zeros(3, 1)),
                 lambda m, x: x.scatter(1, m.zeros(3, 1), 1.0),
                 lambda m, x: x.scatter_add(1, m.zeros(3, 1), x)):
        msgs = []
        for m in (_torch, ember):
            with pytest.raises(RuntimeError) as err:
                call(m, m.ones(3, 2))
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]


_INT_DIV = {
    "floordiv": lambda m, a, z: a // z, "remainder": lambda m, a, z: a % z,
    "fmod": lambda m, a, z: m.fmod(a, z),
    "div_trunc": lambda m, a, z: m.div(a, z, rounding_mode="trunc"),
    "div_floor": lambda m, a, z: m.div(a, z, rounding_mode="floor"),
    "scalar_divisor": lambda m, a, z: a // 0, "scalar_dividend": lambda m, a, z: 5 % z,
    "uint8": lambda m, a, z: a.to(m.uint8) // z.to(m.uint8),
    "in_place": lambda m, a, z: a.clone().floor_divide_(z),
    # float results divide by zero as IEEE says, in torch too
    "float_dividend": lambda m, a, z: a.float() // z, "float_divisor": lambda m, a, z: a % 0.0,
    "true_div": lambda m, a, z: a / z,
}


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("case", sorted(_INT_DIV))
def test_integer_division_by_zero_as_torch(dev, case):
    import torch as _torch
    got = []
    for m, d in ((_torch, "cpu"), (ember, dev)):
        a, z = m.tensor([5, -3], device=d), m.tensor([0, 1], device=d)
        try:
            got.append(_INT_DIV[case](m, a, z).cpu().tolist())
        except RuntimeError as e:
            got.append(("RuntimeError", str(e)))
    np.testing.assert_equal(got[1], got[0])
