"""F.interpolate's modes against torch: bicubic, area, nearest-exact, antialias (bilinear, bicubic,
lanczos) and the plain modes, forward and gradients, on every available device; gradcheck in
float64; torch's error messages."""
import warnings

import numpy as np
import pytest

import ember
from nn_helpers import DEVICES, assert_close, randn, to_numpy

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
TF = torch.nn.functional
EF = ember.nn.functional



def compare(device, shape, rtol=1e-5, atol=1e-5, dtype=np.float32, grads=True, **kwargs):
    """Same input in torch (cpu) and ember (on ``device``): outputs and input gradients."""
    x = randn(*shape).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, device=device, requires_grad=True)
    ty = TF.interpolate(tx, **kwargs)
    ey = EF.interpolate(ex, **kwargs)
    assert ey.device.type == device
    assert tuple(ey.shape) == tuple(ty.shape)
    assert_close(to_numpy(ey), to_numpy(ty), rtol, atol, f"forward {kwargs}")
    if not grads:
        return
    g = randn(*ty.shape, seed=7).astype(dtype)
    (ty * torch.tensor(g)).sum().backward()
    (ey * ember.tensor(g, device=device)).sum().backward()
    assert_close(to_numpy(ex.grad), to_numpy(tx.grad), rtol, atol, f"grad {kwargs}")


BICUBIC = [
    ((2, 3, 5, 7), {"size": (9, 4)}), ((2, 3, 5, 7), {"size": (5, 7)}),
    ((1, 2, 4, 4), {"size": (1, 1)}), ((1, 2, 1, 6), {"size": (3, 11)}),
    ((2, 2, 6, 5), {"scale_factor": 2}), ((2, 2, 6, 5), {"scale_factor": 0.5}),
    ((1, 3, 7, 9), {"scale_factor": (1.7, 0.6)}), ((1, 2, 8, 8), {"scale_factor": 1.0 / 3}),
    ((1, 2, 5, 6), {"scale_factor": 1.7, "recompute_scale_factor": True}),
    ((1, 2, 9, 4), {"scale_factor": 2.5}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,kwargs", BICUBIC, ids=[str(i) for i in range(len(BICUBIC))])
def test_bicubic(device, align_corners, shape, kwargs):
    compare(device, shape, mode="bicubic", align_corners=align_corners, **kwargs)


AREA = [
    ((2, 3, 9), {"size": 4}), ((2, 3, 9), {"size": 3}), ((2, 3, 4), {"size": 9}),
    ((2, 3, 9), {"scale_factor": 0.4}), ((2, 3, 8, 6), {"size": (3, 4)}),
    ((2, 3, 8, 6), {"size": (4, 3)}), ((1, 2, 7, 5), {"size": (7, 10)}),
    ((1, 2, 10, 7), {"scale_factor": 0.35}), ((1, 2, 10, 7), {"scale_factor": (0.5, 1.5)}),
    ((1, 2, 10, 7), {"scale_factor": 0.35, "recompute_scale_factor": False}),
    ((1, 2, 5, 6, 7), {"size": (2, 3, 4)}), ((1, 2, 4, 6, 8), {"scale_factor": 0.5}),
    ((1, 2, 3, 4, 5), {"size": (5, 4, 3)}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,kwargs", AREA, ids=[str(i) for i in range(len(AREA))])
def test_area(device, shape, kwargs):
    compare(device, shape, mode="area", **kwargs)


NEAREST = [
    ((2, 3, 5), {"size": 8}), ((2, 3, 8), {"size": 3}), ((2, 3, 5), {"scale_factor": 1.7}),
    ((2, 3, 7), {"scale_factor": 0.6}), ((2, 3, 4, 6), {"size": (7, 5)}),
    ((2, 3, 4, 6), {"scale_factor": 1.5}), ((1, 2, 9, 7), {"scale_factor": (0.4, 2.3)}),
    ((1, 2, 6, 6), {"scale_factor": 1.1}), ((1, 2, 3, 4, 5), {"size": (5, 3, 8)}),
    ((1, 2, 3, 4, 5), {"scale_factor": 1.5}), ((1, 2, 6, 4, 5), {"scale_factor": 1.1}),
    ((2, 3, 6), {"scale_factor": 1.1}), ((2, 3, 5), {"scale_factor": 2.0000001}),
]


def _torch_nearest_backward_disagrees(mode, shape, kwargs):
    """torch's 1-d and 3-d 'nearest' backward copies a dim whose size is unchanged or doubled,
    while its forward samples with the given scale factor: there torch's gradient is not the
    gradient of its own output, and ember's (the true one) is checked by gradcheck instead."""
    if mode != "nearest" or len(shape) == 4 or "scale_factor" not in kwargs:
        return False
    outs = [int(n * kwargs["scale_factor"]) for n in shape[2:]]
    return any(o in (n, 2 * n) for n, o in zip(shape[2:], outs))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("shape,kwargs", NEAREST, ids=[str(i) for i in range(len(NEAREST))])
def test_nearest_modes(device, mode, shape, kwargs):
    if not _torch_nearest_backward_disagrees(mode, shape, kwargs):
        compare(device, shape, mode=mode, **kwargs)
        return
    compare(device, shape, mode=mode, grads=False, **kwargs)
    x = ember.tensor(randn(*shape).astype(np.float64), device=device, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: EF.interpolate(t, mode=mode, **kwargs), (x,))


ANTIALIAS = [
    ((1, 2, 16, 13), {"size": (5, 4)}), ((2, 2, 9, 9), {"size": (3, 3)}),
    ((1, 2, 30, 7), {"size": (4, 7)}), ((1, 2, 8, 8), {"size": (1, 1)}),
    ((1, 2, 5, 7), {"size": (11, 15)}), ((1, 2, 12, 10), {"size": (6, 17)}),
    ((1, 2, 20, 20), {"scale_factor": 0.3}), ((1, 2, 20, 20), {"scale_factor": (0.25, 1.6)}),
    ((1, 2, 15, 9), {"scale_factor": 0.77, "recompute_scale_factor": True}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode,align_corners", [
    ("bilinear", False), ("bilinear", True), ("bicubic", False), ("bicubic", True),
    ("lanczos", False)])
@pytest.mark.parametrize("shape,kwargs", ANTIALIAS, ids=[str(i) for i in range(len(ANTIALIAS))])
def test_antialias(device, mode, align_corners, shape, kwargs):
    compare(device, shape, mode=mode, align_corners=align_corners, antialias=True, **kwargs)


LINEAR = [
    ((2, 3, 5), "linear", {"size": 9}), ((2, 3, 9), "linear", {"scale_factor": 0.45}),
    ((2, 3, 6), "linear", {"scale_factor": 1.1}),
    ((2, 3, 4, 6), "bilinear", {"scale_factor": (1.7, 0.6)}),
    ((1, 2, 5, 5), "bilinear", {"scale_factor": 1.05}),
    ((1, 2, 3, 4, 5), "trilinear", {"size": (4, 7, 2)}),
    ((1, 2, 3, 4, 5), "trilinear", {"scale_factor": 1.6}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape,mode,kwargs", LINEAR, ids=[str(i) for i in range(len(LINEAR))])
def test_linear_modes_with_scale_factors(device, align_corners, shape, mode, kwargs):
    compare(device, shape, mode=mode, align_corners=align_corners, **kwargs)


def test_given_scale_factor_sets_the_sampling_step():
    """torch samples with 1/scale_factor unless recompute_scale_factor=True (then in/out): 5 * 1.7
    gives 8 pixels, and the two steps (1/1.7 and 5/8) give different pictures."""
    x = randn(1, 1, 5, 5)
    for mode, extra in [("bilinear", {"align_corners": False}), ("bicubic", {}),
                        ("nearest", {}), ("nearest-exact", {})]:
        outs = []
        for recompute in (None, True):
            kwargs = dict(scale_factor=1.7, mode=mode, recompute_scale_factor=recompute, **extra)
            t = TF.interpolate(torch.tensor(x), **kwargs).numpy()
            e = EF.interpolate(ember.tensor(x), **kwargs).numpy()
            assert_close(e, t, what=f"{mode} recompute={recompute}")
            outs.append(e)
        assert not np.allclose(outs[0], outs[1]), mode


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_source_pixels_match_torch_exactly(mode, dtype):
    """The picked pixel is an exact float rounding question at boundaries (torch computes in
    float32, with shortcuts in its 2-d kernel): compare every pick for many sizes and scales."""
    for spatial in (1, 2, 3):
        for n in range(1, 16):
            cases = [(o, None) for o in range(1, 60)]
            cases += [(None, s) for s in (0.51, 0.7, 1.1, 1.3, 1.0 / 3, 2.0000001, 3.3)
                      if int(n * s) > 0]
            for o, s in cases:
                shape = (1, 1, n) + (1,) * (spatial - 1)
                x = np.arange(n, dtype=dtype).reshape(shape)
                kw = {"size": (o,) + (1,) * (spatial - 1)} if o else \
                    {"scale_factor": (s,) + (1.0,) * (spatial - 1)}
                t = TF.interpolate(torch.tensor(x), mode=mode, **kw).numpy()
                e = EF.interpolate(ember.tensor(x), mode=mode, **kw).numpy()
                np.testing.assert_array_equal(e, t, err_msg=f"{spatial}-d n={n} {kw}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,kwargs", [
    ((1, 2, 4, 5), {"size": (6, 3), "mode": "bicubic"}),
    ((1, 1, 3, 4), {"scale_factor": 1.5, "mode": "bicubic", "align_corners": True}),
    ((1, 2, 7, 5), {"size": (3, 2), "mode": "area"}),
    ((1, 1, 5), {"size": 3, "mode": "area"}),
    ((1, 1, 3, 4, 5), {"size": (2, 3, 2), "mode": "area"}),
    ((1, 2, 4, 5), {"scale_factor": 1.3, "mode": "nearest-exact"}),
    ((1, 1, 7, 6), {"size": (3, 2), "mode": "bilinear", "antialias": True}),
    ((1, 1, 7, 6), {"size": (3, 8), "mode": "bicubic", "antialias": True}),
    ((1, 1, 8, 5), {"size": (3, 2), "mode": "lanczos", "antialias": True}),
])
def test_gradcheck_float64(device, shape, kwargs):
    x = ember.tensor(randn(*shape).astype(np.float64), device=device, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: EF.interpolate(t, **kwargs), (x,))


def test_area_zero_size_and_integer_nearest():
    x = randn(1, 2, 3, 4)
    t = TF.interpolate(torch.tensor(x), size=(0, 2), mode="area")
    e = EF.interpolate(ember.tensor(x), size=(0, 2), mode="area")
    assert tuple(e.shape) == tuple(t.shape) == (1, 2, 0, 2)
    # the nearest modes only gather, so they keep an integer dtype (torch's 2-d cpu kernel has
    # no int64 version, so its float result is the reference)
    ints = np.arange(24, dtype=np.int64).reshape(1, 2, 3, 4)
    for mode in ("nearest", "nearest-exact"):
        t = TF.interpolate(torch.tensor(ints, dtype=torch.float64), size=(5, 3), mode=mode)
        e = EF.interpolate(ember.tensor(ints), size=(5, 3), mode=mode)
        assert e.dtype == ember.int64
        np.testing.assert_array_equal(e.numpy(), t.numpy().astype(np.int64))
    with pytest.raises(RuntimeError, match="bicubic"):
        EF.interpolate(ember.tensor(ints), size=(5, 3), mode="bicubic")


ERRORS = [
    ((1, 1, 4, 4), {"size": (2,), "mode": "nearest"}),
    ((1, 1, 4, 4), {"size": [2, 2.0], "mode": "nearest"}),
    ((1, 1, 4, 4), {"scale_factor": (2,), "mode": "nearest"}),
    ((1, 1, 4, 4), {"mode": "nearest"}),
    ((1, 1, 4, 4), {"size": 2, "scale_factor": 2}),
    ((1, 1, 4, 4), {"size": 2, "mode": "area", "align_corners": True}),
    ((1, 1, 4, 4), {"size": 2, "mode": "nearest-exact", "align_corners": False}),
    ((1, 1, 4, 4), {"size": 2, "mode": "nearest", "recompute_scale_factor": True}),
    ((1, 1, 4, 4), {"size": 2, "mode": "linear"}),
    ((1, 1, 4, 4), {"size": 2, "mode": "trilinear"}),
    ((1, 1, 4, 4), {"size": 2, "mode": "bogus"}),
    ((1, 1, 4, 4), {"size": 2, "mode": "nearest", "antialias": True}),
    ((1, 1, 4, 4), {"size": 2, "mode": "lanczos"}),
    ((1, 1, 4, 4), {"size": 2, "mode": "lanczos", "antialias": True, "align_corners": True}),
    ((1, 1, 4, 4), {"scale_factor": 0.1, "mode": "bicubic"}),
    ((1, 1, 4, 4), {"scale_factor": -1.0, "mode": "nearest"}),
    ((1, 1, 4), {"size": 0, "mode": "nearest-exact"}),
    ((1, 1, 4, 4, 4), {"size": 0, "mode": "trilinear"}),
    ((1, 1, 4), {"size": 2, "mode": "bicubic"}),
    ((1, 1, 4), {"size": 2, "mode": "bilinear"}),
    ((1, 1, 4, 4, 4), {"size": 2, "mode": "bicubic"}),
    ((1, 1, 4, 4, 4), {"size": 2, "mode": "linear", "antialias": True}),
    ((1, 4), {"size": 2}),
    ((1, 1, 1, 2, 2, 2), {"size": 2, "mode": "area"}),
]


@pytest.mark.parametrize("shape,kwargs", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors_match_torch(shape, kwargs):
    x = randn(*shape)
    with pytest.raises(Exception) as t_err:
        TF.interpolate(torch.tensor(x), **kwargs)
    with pytest.raises(Exception) as e_err:
        EF.interpolate(ember.tensor(x), **kwargs)
    assert type(e_err.value) is type(t_err.value)
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2, "mode": "bicubic"}, {"size": (3, 4), "mode": "area"},
    {"scale_factor": 1.5, "mode": "nearest-exact"},
    {"scale_factor": 0.5, "mode": "bicubic", "align_corners": True},
    {"size": (7, 3), "mode": "bilinear", "align_corners": False},
])
def test_upsample_module_and_function(device, kwargs):
    t, e = torch.nn.Upsample(**kwargs), ember.nn.Upsample(**kwargs)
    assert repr(e) == repr(t)
    x = randn(2, 2, 6, 5)
    assert_close(to_numpy(e(ember.tensor(x, device=device))), to_numpy(t(torch.tensor(x))))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = EF.upsample(ember.tensor(x, device=device), **kwargs)
    assert any("`nn.functional.upsample` is deprecated" in str(w.message) for w in seen)
    assert_close(to_numpy(out), to_numpy(TF.interpolate(torch.tensor(x), **kwargs)))


def test_deprecated_upsample_wrappers_match_torch():
    x = np.arange(12.0, dtype=np.float32).reshape(1, 1, 3, 4)
    for name, kw in (("upsample_nearest", {"scale_factor": 2}),
                     ("upsample_bilinear", {"size": (5, 7)})):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = getattr(ember.nn.functional, name)(ember.tensor(x), **kw)
            assert any("deprecated" in str(w.message) for w in caught)
            want = getattr(torch.nn.functional, name)(torch.tensor(x), **kw)  # (warns too)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-6)
