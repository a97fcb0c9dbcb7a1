"""The volumetric layers (conv3d, conv_transpose3d, 3-d pooling, normalisation, dropout and
padding) and the ``*_with_indices`` pools against torch: forward values, indices and the
gradients of input, weight and bias, on every available backend in float32 and float64, plus
gradcheck, module reprs/state_dicts/initialisation and torch's error cases."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF

DEVICES = ember.backends.available()
TOL = {"float32": (2e-4, 2e-5), "float64": (1e-9, 1e-11)}


DEV_DT = ember.testing.device_dtype_params()


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(t):
    return np.asarray(t.detach().to("cpu").to(ember.float64).numpy())


def _compare(dev, dt, t_fn, e_fn, arrays, grads=None):
    """Run t_fn/e_fn on the same arrays (the ones in ``grads`` require grad), compare every
    output (indices exactly), then backpropagate one random cotangent per float output and
    compare the gradients."""
    grads = range(len(arrays)) if grads is None else grads
    tt = [None if a is None else torch.tensor(a, dtype=getattr(torch, dt),
                                              requires_grad=i in grads)
          for i, a in enumerate(arrays)]
    et = [None if a is None else ember.tensor(a, dtype=getattr(ember, dt), device=dev,
                                              requires_grad=i in grads)
          for i, a in enumerate(arrays)]
    t_out, e_out = t_fn(*tt), e_fn(*et)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    e_out = e_out if isinstance(e_out, tuple) else (e_out,)
    assert len(t_out) == len(e_out)
    rtol, atol = TOL[dt]
    t_loss = e_loss = 0
    for k, (t, e) in enumerate(zip(t_out, e_out)):
        assert tuple(e.shape) == tuple(t.shape), f"output {k}"
        assert e.device.type == dev
        if not t.dtype.is_floating_point:
            assert e.dtype is ember.int64
            np.testing.assert_array_equal(_np(e), t.numpy(), err_msg=f"indices {k}")
            continue
        assert e.dtype is getattr(ember, dt)
        np.testing.assert_allclose(_np(e), t.detach().double().numpy(), rtol, atol,
                                   err_msg=f"output {k}")
        g = _randn(*t.shape, seed=7 + k)
        t_loss = t_loss + (t * torch.tensor(g, dtype=t.dtype)).sum()
        e_loss = e_loss + (e * ember.tensor(g, dtype=e.dtype, device=dev)).sum()
    t_loss.backward()
    e_loss.backward()
    for i in grads:
        if tt[i] is None:
            continue
        assert et[i].grad is not None, f"no gradient for input {i}"
        np.testing.assert_allclose(_np(et[i].grad), tt[i].grad.double().numpy(), rtol,
                                   atol * 10, err_msg=f"gradient of input {i}")


def _gradcheck(fn, *arrays):
    inputs = [ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in arrays]
    assert ember.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5)


# ---------------------------------------------------------------------------------- conv3d
CONV_CASES = [  # input shape, weight shape, kwargs
    ((2, 2, 4, 5, 4), (3, 2, 2, 3, 2), {}),
    ((1, 4, 5, 4, 6), (6, 2, 3, 2, 3), dict(stride=(2, 1, 2), padding=1, groups=2)),
    ((2, 3, 6, 5, 5), (2, 3, 2, 2, 3), dict(stride=2, padding=(1, 0, 2), dilation=(2, 1, 2))),
    ((1, 2, 4, 4, 5), (4, 2, 3, 2, 3), dict(padding="same", dilation=(1, 2, 1))),
    ((1, 2, 5, 4, 5), (2, 2, 4, 2, 3), dict(padding="same")),  # even kernels: odd total pad
    ((1, 2, 4, 4, 5), (4, 1, 2, 2, 2), dict(padding="valid", groups=2)),
    ((2, 4, 4, 4), (3, 2, 2, 2, 2), {}),  # unbatched
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("shape,wshape,kw", CONV_CASES, ids=[str(c[2]) for c in CONV_CASES])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own
def test_conv3d_matches_torch(dev, dt, shape, wshape, kw, bias):
    arrays = [_randn(*shape), _randn(*wshape, seed=1), _randn(wshape[0], seed=2) if bias
              else None]
    _compare(dev, dt, lambda x, w, b: TF.conv3d(x, w, b, **kw),
             lambda x, w, b: EF.conv3d(x, w, b, **kw), arrays)


TRANSPOSE_CASES = [
    ((2, 2, 3, 4, 3), (2, 3, 2, 3, 2), {}),
    ((1, 4, 3, 3, 2), (4, 2, 3, 2, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 2, 3, 3), (2, 2, 2, 2, 2),
     dict(stride=(1, 2, 3), padding=(0, 1, 1), output_padding=(0, 1, 2), dilation=(2, 1, 1))),
    ((2, 3, 3, 2), (2, 2, 2, 2, 2), dict(stride=2)),  # unbatched
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("shape,wshape,kw", TRANSPOSE_CASES,
                         ids=[str(c[2]) for c in TRANSPOSE_CASES])
def test_conv_transpose3d_matches_torch(dev, dt, shape, wshape, kw):
    groups = kw.get("groups", 1)
    arrays = [_randn(*shape), _randn(*wshape, seed=1), _randn(wshape[1] * groups, seed=2)]
    _compare(dev, dt, lambda x, w, b: TF.conv_transpose3d(x, w, b, **kw),
             lambda x, w, b: EF.conv_transpose3d(x, w, b, **kw), arrays)


def test_conv3d_and_transpose_gradcheck():
    x, w, b = _randn(1, 2, 3, 3, 3), _randn(2, 1, 2, 2, 2, seed=1), _randn(2, seed=2)
    _gradcheck(lambda x, w, b: EF.conv3d(x, w, b, stride=(1, 2, 1), padding=1, groups=2),
               x, w, b)
    _gradcheck(lambda x, w, b: EF.conv_transpose3d(x, w, b, stride=2, output_padding=1,
                                                   groups=2), x, w, b)


# ---------------------------------------------------------------------------------- pooling
POOL_CASES = [
    ((2, 2, 4, 4, 4), dict(kernel_size=2)),
    ((1, 2, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ((1, 1, 6, 5, 7), dict(kernel_size=(2, 3, 2), stride=(1, 2, 3), padding=(1, 1, 0))),
    ((2, 5, 4, 6), dict(kernel_size=(3, 2, 2), stride=(2, 1, 2), ceil_mode=True)),  # unbatched
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("shape,kw", POOL_CASES, ids=[str(c[1]) for c in POOL_CASES])
@pytest.mark.parametrize("dilation", [1, (2, 1, 1)], ids=["dil1", "dil211"])
def test_max_pool3d_matches_torch(dev, dt, shape, kw, dilation):
    x = _randn(*shape)
    _compare(dev, dt, lambda x: TF.max_pool3d(x, dilation=dilation, return_indices=True, **kw),
             lambda x: EF.max_pool3d(x, dilation=dilation, return_indices=True, **kw), [x])
    _compare(dev, dt, lambda x: TF.max_pool3d(x, dilation=dilation, **kw),
             lambda x: EF.max_pool3d(x, dilation=dilation, **kw), [x])


@pytest.mark.parametrize("dev", DEVICES)
def test_max_pool3d_ties_send_gradient_to_first_maximum(dev):
    x = np.maximum(_randn(1, 2, 4, 4, 6), 0.0)  # many tied zeros, as after a ReLU
    _compare(dev, "float32", lambda x: TF.max_pool3d(x, 2, 1, return_indices=True),
             lambda x: EF.max_pool3d(x, 2, 1, return_indices=True), [x])
    # non-overlapping windows take a separate (fused) path
    _compare(dev, "float32", lambda x: TF.max_pool3d(x, (2, 1, 3)),
             lambda x: EF.max_pool3d(x, (2, 1, 3)), [x])
    _compare(dev, "float32", lambda x: TF.max_pool3d(x, 2, ceil_mode=True),
             lambda x: EF.max_pool3d(x, 2, ceil_mode=True), [x[..., :3, :5]])


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("shape,kw", POOL_CASES, ids=[str(c[1]) for c in POOL_CASES])
@pytest.mark.parametrize("extra", [dict(count_include_pad=True),
                                   dict(count_include_pad=False), dict(divisor_override=3)],
                         ids=["include_pad", "exclude_pad", "divisor3"])
def test_avg_pool3d_matches_torch(dev, dt, shape, kw, extra):
    _compare(dev, dt, lambda x: TF.avg_pool3d(x, **kw, **extra),
             lambda x: EF.avg_pool3d(x, **kw, **extra), [_randn(*shape)])


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("p", [1, 2, 3.5])
def test_lp_pool3d_matches_torch(dev, dt, p):
    x = np.abs(_randn(1, 2, 5, 4, 5)) + 0.1
    _compare(dev, dt, lambda x: TF.lp_pool3d(x, p, (2, 2, 3), stride=(1, 2, 2), ceil_mode=True),
             lambda x: EF.lp_pool3d(x, p, (2, 2, 3), stride=(1, 2, 2), ceil_mode=True), [x])
    _compare(dev, dt, lambda x: TF.lp_pool3d(x, p, 2), lambda x: EF.lp_pool3d(x, p, 2), [x])


ADAPTIVE_SIZES = [2, (3, None, 4), (5, 6, 7), (1, 2, 3), (4, 3, 3)]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_pools3d_match_torch(dev, dt, size):
    x = _randn(2, 2, 5, 6, 7)
    _compare(dev, dt, lambda x: TF.adaptive_avg_pool3d(x, size),
             lambda x: EF.adaptive_avg_pool3d(x, size), [x])
    _compare(dev, dt, lambda x: TF.adaptive_max_pool3d(x, size, return_indices=True),
             lambda x: EF.adaptive_max_pool3d(x, size, return_indices=True), [x])
    _compare(dev, dt, lambda x: TF.adaptive_max_pool3d(x[0], size),
             lambda x: EF.adaptive_max_pool3d(x[0], size), [x])


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("shape,kw", POOL_CASES[:3], ids=[str(c[1]) for c in POOL_CASES[:3]])
def test_max_unpool3d_roundtrip_matches_torch(dev, dt, shape, kw):
    pool = {k: v for k, v in kw.items() if k != "ceil_mode"}
    unpool = {k: v for k, v in pool.items()}
    x = _randn(*shape)
    t_out, t_idx = TF.max_pool3d(torch.tensor(x), return_indices=True, **pool)
    e_out, e_idx = EF.max_pool3d(ember.tensor(x, device=dev), return_indices=True, **pool)
    size = list(shape)
    _compare(dev, dt, lambda v: TF.max_unpool3d(v, t_idx, output_size=size, **unpool),
             lambda v: EF.max_unpool3d(v, e_idx, output_size=size, **unpool),
             [t_out.numpy()])


def test_pools3d_gradcheck():
    x = _randn(1, 2, 4, 3, 5)
    _gradcheck(lambda x: EF.max_pool3d(x, 2, 1, padding=1, dilation=(1, 2, 1)), x)
    _gradcheck(lambda x: EF.avg_pool3d(x, 3, 2, 1, True, False), x)
    _gradcheck(lambda x: EF.adaptive_avg_pool3d(x, (3, 2, 4)), x)
    _gradcheck(lambda x: EF.adaptive_max_pool3d(x, (3, 2, 4)), x)
    _gradcheck(lambda x: EF.lp_pool3d(x, 2, 2, 1), np.abs(x) + 0.5)


# ---------------------------------------------------------------------------------- with_indices
def test_with_indices_functions_match_torch():
    x = _randn(2, 3, 5, 6, 7)
    cases = [("max_pool1d_with_indices", x[0, 0], (3, 2, 1)),
             ("max_pool2d_with_indices", x[0], (3, 2, 1)),
             ("max_pool3d_with_indices", x, (3, 2, 1)),
             ("adaptive_max_pool1d_with_indices", x[0, 0], (4,)),
             ("adaptive_max_pool2d_with_indices", x[0], ((4, 3),)),
             ("adaptive_max_pool3d_with_indices", x, ((4, 3, 5),))]
    for name, a, args in cases:
        t_val, t_idx = getattr(TF, name)(torch.tensor(a), *args)
        e_val, e_idx = getattr(EF, name)(ember.tensor(a), *args)
        np.testing.assert_allclose(_np(e_val), t_val.numpy(), err_msg=name)
        np.testing.assert_array_equal(_np(e_idx), t_idx.numpy(), err_msg=name)
        assert name in EF.__all__


# ---------------------------------------------------------------------------------- fractional
FRACTIONAL_CASES = [  # spatial dims, input shape, kernel, output_size / output_ratio
    (2, (2, 3, 7, 9), (2, 3), dict(output_size=(4, 5))),
    (2, (3, 11, 10), 3, dict(output_size=(9, 8))),
    (2, (1, 2, 9, 9), 2, dict(output_ratio=(0.5, 0.7))),
    (3, (2, 2, 5, 6, 7), 2, dict(output_size=(3, 4, 5))),
    (3, (2, 6, 5, 9), (2, 1, 3), dict(output_ratio=0.6)),
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("nd,shape,kernel,kw", FRACTIONAL_CASES,
                         ids=[f"{c[1]}{c[3]}" for c in FRACTIONAL_CASES])
def test_fractional_max_pool_matches_torch(dev, dt, nd, shape, kernel, kw):
    n = 1 if len(shape) == nd + 1 else shape[0]
    samples = np.random.default_rng(5).random((n, shape[-nd - 1], nd))
    fn = f"fractional_max_pool{nd}d"
    _compare(dev, dt, lambda x, u: getattr(TF, fn)(x, kernel, return_indices=True,
                                                   _random_samples=u, **kw),
             lambda x, u: getattr(EF, fn)(x, kernel, return_indices=True, _random_samples=u,
                                          **kw), [_randn(*shape), samples], grads=[0])
    _compare(dev, dt, lambda x, u: getattr(TF, fn + "_with_indices")(x, kernel,
                                                                    _random_samples=u, **kw),
             lambda x, u: getattr(EF, fn + "_with_indices")(x, kernel, _random_samples=u, **kw),
             [_randn(*shape), samples], grads=[0])


def test_fractional_max_pool_draws_torchs_samples_on_cpu():
    x = _randn(2, 3, 8, 9, 7)
    for nd in (2, 3):
        torch.manual_seed(3)
        ember.manual_seed(3)
        ratio = (0.5,) * nd  # NOTE: torch's 2-d functional fails on a single float ratio
        t_out = getattr(TF, f"fractional_max_pool{nd}d")(torch.tensor(x[0]), 2, None, ratio)
        e_out = getattr(EF, f"fractional_max_pool{nd}d")(ember.tensor(x[0]), 2, None, ratio)
        np.testing.assert_array_equal(_np(e_out), t_out.numpy())


def test_fractional_max_pool_modules_and_gradcheck():
    samples = np.random.default_rng(1).random((1, 2, 3))
    for name, args, kw in [("FractionalMaxPool2d", (2,), dict(output_size=3)),
                           ("FractionalMaxPool3d", ((2, 1, 2),), dict(output_ratio=(0.5, 0.6,
                                                                                    0.7)))]:
        t_mod = getattr(torch.nn, name)(*args, **kw, _random_samples=torch.tensor(samples))
        e_mod = getattr(ember.nn, name)(*args, **kw, _random_samples=ember.tensor(samples))
        assert repr(e_mod) == repr(t_mod)
        assert list(e_mod.state_dict()) == list(t_mod.state_dict()) == ["_random_samples"]
        assert e_mod.output_size == t_mod.output_size
        assert e_mod.output_ratio == t_mod.output_ratio
        if name.endswith("2d"):
            t_mod._random_samples = t_mod._random_samples[..., :2]
            e_mod._random_samples = e_mod._random_samples[..., :2]
        x = _randn(1, 2, 5, 6, 7)[..., 0] if name.endswith("2d") else _randn(1, 2, 5, 6, 7)
        _compare("cpu", "float64", t_mod, e_mod, [x])
        _gradcheck(e_mod, x)
    for kw in [{}, dict(output_size=2, output_ratio=0.5), dict(output_ratio=1.5),
               dict(output_ratio=(0.5, 0))]:
        t_msg, e_msg = _same_error(lambda: torch.nn.FractionalMaxPool2d(2, **kw),
                                   lambda: ember.nn.FractionalMaxPool2d(2, **kw))
        assert e_msg == t_msg
    for fn, shape, size in [("fractional_max_pool2d", (1, 1, 7, 7), (7, 6)),
                            ("fractional_max_pool3d", (1, 1, 7, 7, 7), (6, 5, 5)),
                            ("fractional_max_pool2d", (1, 1, 1, 7, 7), (5, 5))]:
        t_msg, e_msg = _same_error(
            lambda: getattr(TF, fn)(torch.zeros(shape), 2, output_size=size),
            lambda: getattr(EF, fn)(ember.zeros(shape), 2, output_size=size))
        assert e_msg == t_msg
    with pytest.raises(ValueError, match="requires specifying either an output_size"):
        EF.fractional_max_pool3d(ember.zeros(1, 1, 4, 4, 4), 2)


# ---------------------------------------------------------------------------------- modules
def _copy_state(t_mod, e_mod, dev, dt):
    e_mod.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                           t_mod.state_dict().items()})
    return e_mod.to(device=dev, dtype=getattr(ember, dt))


MODULE_CASES = [
    ("Conv3d", (2, 4, (2, 3, 2)), dict(stride=(1, 2, 1), padding=1, dilation=(1, 1, 2)),
     (2, 2, 4, 5, 6)),
    ("Conv3d", (4, 2, 3), dict(padding="same", groups=2, bias=False), (1, 4, 4, 4, 4)),
    ("Conv3d", (2, 3, 2), dict(padding=(1, 0, 1), padding_mode="reflect"), (1, 2, 3, 4, 4)),
    ("Conv3d", (2, 3, 2), dict(padding=1, padding_mode="circular"), (2, 3, 4, 3)),
    ("ConvTranspose3d", (4, 2, 3), dict(stride=2, padding=1, output_padding=1, groups=2),
     (1, 4, 3, 2, 3)),
    ("ConvTranspose3d", (2, 3, (2, 1, 3)), dict(dilation=(1, 2, 1), bias=False),
     (2, 2, 2, 3)),
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("name,args,kw,shape", MODULE_CASES,
                         ids=[f"{c[0]}{c[2]}" for c in MODULE_CASES])
def test_conv_modules_match_torch(dev, dt, name, args, kw, shape):
    t_mod = getattr(torch.nn, name)(*args, **kw).to(getattr(torch, dt))
    e_mod = _copy_state(t_mod, getattr(ember.nn, name)(*args, **kw), dev, dt)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    x = _randn(*shape)
    _compare(dev, dt, t_mod, e_mod, [x])
    rtol, atol = TOL[dt]
    for (pname, tp), ep in zip(t_mod.named_parameters(), e_mod.parameters()):
        np.testing.assert_allclose(_np(ep.grad), tp.grad.double().numpy(), rtol, atol * 10,
                                   err_msg=f"gradient of {pname}")


def test_conv_transpose3d_module_output_size():
    t_mod = torch.nn.ConvTranspose3d(2, 3, 3, stride=2)
    e_mod = _copy_state(t_mod, ember.nn.ConvTranspose3d(2, 3, 3, stride=2), "cpu", "float32")
    x = _randn(1, 2, 3, 3, 3).astype(np.float32)
    out_t = t_mod(torch.tensor(x), output_size=[8, 7, 8])
    out_e = e_mod(ember.tensor(x), output_size=[8, 7, 8])
    np.testing.assert_allclose(_np(out_e), out_t.detach().numpy(), 1e-5, 1e-6)
    with pytest.raises(ValueError, match="requested an output size"):
        e_mod(ember.tensor(x), output_size=[10, 7, 7])


def test_conv3d_module_default_initialisation():
    ember.manual_seed(0)
    mod = ember.nn.Conv3d(4, 6, (2, 3, 2), groups=2)
    fan_in = 2 * 2 * 3 * 2
    bound = 1 / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5)) gives 1/sqrt(fan_in)
    w, b = _np(mod.weight), _np(mod.bias)
    assert w.shape == (6, 2, 2, 3, 2) and b.shape == (6,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(b).max() <= bound and w.std() > 0.4 * bound
    transposed = ember.nn.ConvTranspose3d(4, 6, 3, groups=2)
    assert tuple(transposed.weight.shape) == (4, 3, 3, 3, 3)
    assert np.abs(_np(transposed.weight)).max() <= 1 / math.sqrt(3 * 27)


POOL_MODULES = [
    ("MaxPool3d", (2,), {}, (1, 2, 4, 5, 4)),
    ("MaxPool3d", (3, 2, 1), dict(ceil_mode=True, dilation=(1, 1, 2)), (1, 2, 5, 4, 6)),
    ("AvgPool3d", (2,), {}, (1, 2, 4, 5, 4)),
    ("AvgPool3d", ((2, 2, 2),), dict(stride=1, padding=1, ceil_mode=True, divisor_override=3),
     (2, 3, 3, 4)),
    ("AvgPool3d", (3, 2, 1), dict(count_include_pad=False), (1, 2, 5, 4, 6)),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 5, 4, 6)),
    ("AdaptiveMaxPool3d", ((2, 3, 4),), {}, (1, 2, 5, 4, 6)),
    ("LPPool3d", (2, 3), {}, (1, 2, 5, 4, 6)),
    ("LPPool3d", (1.5, (2, 1, 2)), dict(stride=1, ceil_mode=True), (1, 2, 3, 3, 3)),
    ("ZeroPad3d", (1,), {}, (1, 2, 2, 3, 2)),
    ("ConstantPad3d", ((1, 0, 2, 1, 0, 2), 2.5), {}, (2, 2, 3, 2)),
    ("ReflectionPad3d", ((1, 2, 0, 1, 2, 1),), {}, (1, 2, 3, 3, 4)),
    ("ReplicationPad3d", ((1, 2, 3, 0, 1, 2),), {}, (1, 2, 3, 3, 4)),
    ("CircularPad3d", (1,), {}, (1, 2, 3, 3, 4)),
    ("InstanceNorm3d", (2,), {}, (2, 2, 3, 3, 4)),
    ("InstanceNorm3d", (2,), dict(affine=True, track_running_stats=True), (2, 3, 3, 4)),
    ("BatchNorm3d", (2,), {}, (2, 2, 3, 3, 4)),
    ("BatchNorm3d", (2,), dict(affine=False, momentum=None), (2, 2, 3, 3, 4)),
    ("Dropout3d", (0.3,), {}, (2, 2, 3, 3, 4)),
]


@pytest.mark.parametrize("dev,dt", DEV_DT)
@pytest.mark.parametrize("name,args,kw,shape", POOL_MODULES,
                         ids=[f"{c[0]}{c[1]}{c[2]}" for c in POOL_MODULES])
def test_layer_modules_match_torch(dev, dt, name, args, kw, shape):
    t_mod = getattr(torch.nn, name)(*args, **kw).to(getattr(torch, dt))
    e_mod = _copy_state(t_mod, getattr(ember.nn, name)(*args, **kw), dev, dt)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    if name == "Dropout3d":  # random in training: compare in eval, where it is the identity
        t_mod.eval(), e_mod.eval()
    x = _randn(*shape)
    _compare(dev, dt, t_mod, e_mod, [x])
    rtol, atol = TOL[dt]
    for (pname, tp), ep in zip(t_mod.named_parameters(), e_mod.parameters()):
        np.testing.assert_allclose(_np(ep.grad), tp.grad.double().numpy(), rtol, atol * 10,
                                   err_msg=f"gradient of {pname}")
    for (bname, tb), eb in zip(t_mod.named_buffers(), e_mod.buffers()):
        np.testing.assert_allclose(_np(eb), tb.double().numpy(), rtol, atol, err_msg=bname)
    if "Norm" in name:  # and in eval, with the running statistics where there are any
        t_mod.eval(), e_mod.eval()
        _compare(dev, dt, t_mod, e_mod, [x])


def test_max_unpool3d_module_roundtrip():
    x = _randn(1, 2, 4, 4, 6).astype(np.float32)
    t_out, t_idx = torch.nn.MaxPool3d(2, return_indices=True)(torch.tensor(x))
    e_out, e_idx = ember.nn.MaxPool3d(2, return_indices=True)(ember.tensor(x))
    t_un = torch.nn.MaxUnpool3d(2)
    e_un = ember.nn.MaxUnpool3d(2)
    assert repr(e_un) == repr(t_un)
    np.testing.assert_array_equal(_np(e_un(e_out, e_idx)), t_un(t_out, t_idx).numpy())


@pytest.mark.parametrize("dev", DEVICES)
def test_dropout3d_zeroes_whole_channels(dev):
    x = ember.ones(4, 8, 2, 3, 2, device=dev, requires_grad=True)
    ember.manual_seed(0)
    out = EF.dropout3d(x, 0.5)
    per_channel = _np(out).reshape(4, 8, -1)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert (per_channel.min(-1) == per_channel.max(-1)).all()  # one draw per channel
    assert 0 < (per_channel[..., 0] == 0).sum() < 32
    out.sum().backward()
    np.testing.assert_array_equal(_np(x.grad), _np(out))
    unbatched = EF.dropout3d(ember.ones(3, 2, 2, 2, device=dev), 0.5)
    assert tuple(unbatched.shape) == (3, 2, 2, 2)
    assert EF.dropout3d(x, 0.5, training=False) is x
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input"):
        EF.dropout3d(ember.ones(2, 2, 2, device=dev), 0.5)


def test_functional_norms_accept_5d():
    x, w, b = _randn(2, 3, 2, 3, 2), _randn(3, seed=1), _randn(3, seed=2)
    t_stats = [torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)]
    e_stats = [ember.zeros(3, dtype=ember.float64), ember.ones(3, dtype=ember.float64)]
    _compare("cpu", "float64",
             lambda x, w, b: TF.batch_norm(x, *t_stats, weight=w, bias=b, training=True),
             lambda x, w, b: EF.batch_norm(x, *e_stats, weight=w, bias=b, training=True),
             [x, w, b])
    for te, ee in zip(t_stats, e_stats):  # the running statistics were updated alike
        np.testing.assert_allclose(_np(ee), te.numpy(), 1e-9, 1e-12)
    _compare("cpu", "float64", lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
             lambda x, w, b: EF.instance_norm(x, weight=w, bias=b), [x, w, b])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_with_six_values(mode):
    x = _randn(1, 2, 3, 4, 3)
    pad = (1, 2, 0, 1, 2, 1)
    _compare("cpu", "float64", lambda x: TF.pad(x, pad, mode),
             lambda x: EF.pad(x, pad, mode), [x])


# ---------------------------------------------------------------------------------- errors
def _same_error(t_call, e_call):
    with pytest.raises(Exception) as t_info:
        t_call()
    with pytest.raises(type(t_info.value)) as e_info:
        e_call()
    return str(t_info.value), str(e_info.value)


ERROR_CASES = [
    ("conv3d rank", lambda F, T: F.conv3d(T(3, 4, 4), T(2, 3, 1, 1, 1))),
    ("conv3d channels", lambda F, T: F.conv3d(T(1, 3, 4, 4, 4), T(2, 2, 1, 1, 1))),
    ("conv3d too small", lambda F, T: F.conv3d(T(1, 3, 2, 4, 4), T(2, 3, 3, 1, 1))),
    ("conv3d same strided", lambda F, T: F.conv3d(T(1, 3, 4, 4, 4), T(2, 3, 3, 1, 1),
                                                  stride=2, padding="same")),
    ("conv3d bad padding", lambda F, T: F.conv3d(T(1, 3, 4, 4, 4), T(2, 3, 3, 1, 1),
                                                 padding="full")),
    ("conv_transpose3d rank", lambda F, T: F.conv_transpose3d(T(3, 4, 4), T(3, 2, 1, 1, 1))),
    ("conv_transpose3d output_padding",
     lambda F, T: F.conv_transpose3d(T(1, 3, 2, 2, 2), T(3, 2, 1, 1, 1), stride=2,
                                     output_padding=2)),
    ("max_pool3d rank", lambda F, T: F.max_pool3d(T(3, 4), 2)),
    ("max_pool3d padding", lambda F, T: F.max_pool3d(T(1, 1, 4, 4, 4), 3, padding=2)),
    ("max_pool3d too small", lambda F, T: F.max_pool3d(T(1, 1, 1, 4, 4), 2)),
    ("avg_pool3d rank", lambda F, T: F.avg_pool3d(T(3, 4), 2)),
    ("avg_pool3d padding", lambda F, T: F.avg_pool3d(T(1, 1, 4, 4, 4), 3, padding=2)),
    ("avg_pool3d too small", lambda F, T: F.avg_pool3d(T(1, 1, 1, 4, 4), 2)),
    ("adaptive_avg_pool3d rank", lambda F, T: F.adaptive_avg_pool3d(T(3, 4), 2)),
    ("adaptive_max_pool3d rank", lambda F, T: F.adaptive_max_pool3d(T(3, 4), 2)),
    ("max_unpool3d indices", lambda F, T: F.max_unpool3d(T(1, 1, 2, 2, 2),
                                                         T(1, 1, 2, 2, 1).long(), 2)),
]


@pytest.mark.parametrize("name,call", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_match_torch(name, call):
    t_msg, e_msg = _same_error(lambda: call(TF, lambda *s: torch.zeros(s)),
                               lambda: call(EF, lambda *s: ember.zeros(s)))
    if "rank" in name or "padding" in name or "too small" in name:
        assert e_msg == t_msg


def test_module_errors_match_torch():
    for t_call, e_call in [
            (lambda: torch.nn.BatchNorm3d(3)(torch.zeros(3, 2, 2, 2)),
             lambda: ember.nn.BatchNorm3d(3)(ember.zeros(3, 2, 2, 2))),
            (lambda: torch.nn.InstanceNorm3d(3)(torch.zeros(3, 2, 2)),
             lambda: ember.nn.InstanceNorm3d(3)(ember.zeros(3, 2, 2))),
            (lambda: torch.nn.Conv3d(3, 4, 2, groups=2), lambda: ember.nn.Conv3d(3, 4, 2,
                                                                                groups=2)),
            (lambda: torch.nn.ConvTranspose3d(2, 2, 2, padding_mode="reflect"),
             lambda: ember.nn.ConvTranspose3d(2, 2, 2, padding_mode="reflect"))]:
        t_msg, e_msg = _same_error(t_call, e_call)
        assert e_msg == t_msg
