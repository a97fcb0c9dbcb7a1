"""Regressions found by torch programs 39 (vision ops) and 40 (numerics edge cases), against
torch on every backend: grid_sample's nearest-mode grid gradient and 5-D input, channels_last
memory format, clamp with NaN bounds, diff of bools, isclose of opposite infinities, and
median with NaN and ties."""
import math
import re

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as EF
import torch.nn.functional as TF

DEVICES = ember.backends.available()
nan, inf = math.nan, math.inf


def _np(t):
    return np.asarray(t.detach().to("cpu").to(ember.float64).numpy())


def _close(e, t, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(_np(e), t.detach().double().numpy(), rtol=rtol, atol=atol)


def _pair(arr, device, grad=False):
    e = ember.tensor(arr, device=device, requires_grad=grad)
    t = torch.tensor(arr, requires_grad=grad)
    return e, t


@pytest.mark.parametrize("device", DEVICES)
def test_grid_sample_nearest_grid_gets_zero_gradient(device):
    rng = np.random.default_rng(0)
    img = rng.standard_normal((1, 2, 4, 5)).astype("float32")
    grid = rng.uniform(-1.2, 1.2, (1, 3, 3, 2)).astype("float32")
    (ei, ti), (eg, tg) = _pair(img, device, True), _pair(grid, device, True)
    eo = EF.grid_sample(ei, eg, mode="nearest", align_corners=False)
    to = TF.grid_sample(ti, tg, mode="nearest", align_corners=False)
    _close(eo, to)
    e_gi, e_gg = ember.autograd.grad(eo.sum(), (ei, eg))
    t_gi, t_gg = torch.autograd.grad(to.sum(), (ti, tg))
    _close(e_gi, t_gi)
    _close(e_gg, t_gg)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_5d(device, mode, padding_mode):
    rng = np.random.default_rng(1)
    vol = rng.standard_normal((2, 2, 3, 4, 5)).astype("float32")
    grid = rng.uniform(-1.3, 1.3, (2, 2, 3, 2, 3)).astype("float32")
    (ev, tv), (eg, tg) = _pair(vol, device, True), _pair(grid, device, True)
    for ac in (True, False):
        eo = EF.grid_sample(ev, eg, mode=mode, padding_mode=padding_mode, align_corners=ac)
        to = TF.grid_sample(tv, tg, mode=mode, padding_mode=padding_mode, align_corners=ac)
        assert tuple(eo.shape) == tuple(to.shape)
        _close(eo, to)
        e_g = ember.autograd.grad((eo * eo).sum(), (ev, eg))
        t_g = torch.autograd.grad((to * to).sum(), (tv, tg))
        _close(e_g[0], t_g[0], 1e-4, 1e-5)
        _close(e_g[1], t_g[1], 1e-4, 1e-4)


def test_grid_sample_5d_bicubic_refused():
    with pytest.raises(RuntimeError) as theirs:
        TF.grid_sample(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 1, 1, 1, 3), mode="bicubic",
                       align_corners=False)
    with pytest.raises(RuntimeError, match=re.escape(str(theirs.value))):
        EF.grid_sample(ember.zeros(1, 1, 2, 2, 2), ember.zeros(1, 1, 1, 1, 3), mode="bicubic",
                       align_corners=False)


@pytest.mark.parametrize("device", DEVICES)
def test_channels_last_layout(device):
    x = np.arange(120, dtype="float32").reshape(2, 3, 4, 5)
    e, t = _pair(x, device)
    for fmt in ("channels_last",):
        ec = e.to(memory_format=getattr(ember, fmt))
        tc = t.to(memory_format=getattr(torch, fmt))
        assert ec.stride() == tc.stride()
        assert ec.is_contiguous() == tc.is_contiguous()
        assert ec.is_contiguous(memory_format=ember.channels_last)
        assert ec.contiguous().stride() == tc.contiguous().stride()
        assert ec.to(memory_format=ember.channels_last) is ec
        assert e.contiguous(memory_format=ember.channels_last).stride() == tc.stride()
        assert e.clone(memory_format=ember.channels_last).stride() == tc.stride()
        _close(ec, tc)
    v = ember.zeros(1, 2, 3, 4, 5, device=device).to(memory_format=ember.channels_last_3d)
    w = torch.zeros(1, 2, 3, 4, 5).to(memory_format=torch.channels_last_3d)
    assert v.stride() == w.stride()
    assert not ember.zeros(2, 3, 4).is_contiguous(memory_format=ember.channels_last)
    assert repr(ember.channels_last) == "ember.channels_last"
    with pytest.raises(RuntimeError) as theirs:
        torch.zeros(2, 3, 4).to(memory_format=torch.channels_last)
    with pytest.raises(RuntimeError, match=re.escape(str(theirs.value))):
        ember.zeros(2, 3, 4).to(memory_format=ember.channels_last)


def test_module_to_channels_last():
    conv = ember.nn.Conv2d(3, 4, 3)
    conv.to(memory_format=ember.channels_last)
    assert conv.weight.is_contiguous(memory_format=ember.channels_last)
    assert conv.bias.is_contiguous()
    tconv = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    assert conv.weight.stride() == tconv.weight.stride()


@pytest.mark.parametrize("device", DEVICES)
def test_clamp_nan_bounds(device):
    x = [nan, -3.0, 1.5, 2.0, 1.0]
    lo = [0.0, -1.0, 2.0, nan, 0.0]
    hi = [1.0, 0.5, 1.0, 3.0, nan]
    (ex, tx), (el, tl), (eh, th) = (_pair(v, device) for v in (x, lo, hi))
    _close(ember.clamp(ex, el, eh), torch.clamp(tx, tl, th))
    _close(ex.clamp(min=el), tx.clamp(min=tl))
    _close(ex.clamp(max=eh), tx.clamp(max=th))
    _close(ember.clamp(ex, min=nan), torch.clamp(tx, min=nan))
    _close(ember.clamp(ex, 0.0, nan), torch.clamp(tx, 0.0, nan))
    eg, tg = _pair([1.0, 2.0, 0.5], device, True)
    el, tl = _pair([nan, 0.0, 1.0], device, True)
    ember.clamp(eg, min=el).sum().backward()
    torch.clamp(tg, min=tl).sum().backward()
    _close(eg.grad, tg.grad)
    _close(el.grad, tl.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_diff_bool(device):
    e, t = _pair([True, False, False, True, True], device)
    assert ember.diff(e).tolist() == torch.diff(t).tolist()
    assert ember.diff(e, n=2).tolist() == torch.diff(t, n=2).tolist()
    assert ember.diff(e).dtype == ember.bool


@pytest.mark.parametrize("device", DEVICES)
def test_isclose_opposite_infinities(device):
    a = [1.0, inf, -inf, inf, nan, 0.0]
    b = [1.0, inf, inf, -inf, nan, 1e-9]
    (ea, ta), (eb, tb) = _pair(a, device), _pair(b, device)
    for kw in ({}, {"equal_nan": True}, {"rtol": 1e-3, "atol": 0.0}, {"rtol": 0.0, "atol": 0.0}):
        assert ember.isclose(ea, eb, **kw).tolist() == torch.isclose(ta, tb, **kw).tolist()
    assert not ember.allclose(ea[2:3], eb[2:3])


@pytest.mark.parametrize("device", DEVICES)
def test_median_nan_and_ties(device):
    x = [[1.0, nan, 2.0, nan], [3.0, 1.0, 2.0, 0.0], [7.0, 6.0, 1.0, 0.5]]
    e, t = _pair(x, device, True)
    em, tm = ember.median(e, 1), torch.median(t, 1)
    _close(em.values, tm.values)
    assert em.indices.tolist() == tm.indices.tolist()
    em.values.sum().backward()
    tm.values.sum().backward()
    _close(e.grad, t.grad)
    e.grad = t.grad = None
    ember.median(e).backward()
    torch.median(t).backward()
    _close(e.grad, t.grad)
    assert math.isnan(ember.median(e).item())
    ties = [2.0, 1.0, 2.0, 3.0, 2.0]
    e, t = _pair(ties, device, True)
    (ember.median(e) * 3).backward()
    (torch.median(t) * 3).backward()
    assert ember.median(e).item() == torch.median(t).item()
    _close(e.grad, t.grad)
    em = ember.median(e.detach().reshape(1, 5), 1, keepdim=True)
    tm = torch.median(t.detach().reshape(1, 5), 1, keepdim=True)
    assert tuple(em.values.shape) == tuple(tm.values.shape)
