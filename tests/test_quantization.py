"""ember.fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine against torch (forward,
the masked straight-through gradient, rounding boundaries) on every available device."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="torch is the reference for fake quantization")

DEVICES = list(ember.backends.available())
# values on rounding boundaries (x * 1/scale == k + 0.5), beyond both clamps, and signed zero
X = np.array([-1.3, -0.25, -0.05, -0.0, 0.0, 0.05, 0.15, 0.25, 0.35, 0.74, 1.2, 3.0, -4.0],
             dtype=np.float32)


def _per_tensor(mod, x, *qargs):
    return mod.fake_quantize_per_tensor_affine(x, *qargs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("qargs", [(0.1, 3, -8, 7), (0.02, 128, 0, 255), (0.05, 0, -128, 127)])
def test_per_tensor_matches_torch_forward_and_grad(device, qargs):
    tx = torch.tensor(X, requires_grad=True)
    ex = ember.tensor(X, device=device, requires_grad=True)
    tout, eout = _per_tensor(torch, tx, *qargs), _per_tensor(ember, ex, *qargs)
    (tout * torch.arange(13.0)).sum().backward()
    (eout * ember.arange(13.0, device=device)).sum().backward()
    np.testing.assert_array_equal(eout.detach().cpu().numpy(), tout.detach().numpy())
    np.testing.assert_array_equal(ex.grad.cpu().numpy(), tx.grad.numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_per_tensor_tensor_qparams(device):
    ts, tz = torch.tensor([0.05]), torch.tensor([2], dtype=torch.int32)
    es = ember.tensor([0.05], device=device)
    ez = ember.tensor([2], dtype=ember.int32, device=device)
    want = torch.fake_quantize_per_tensor_affine(torch.tensor(X), ts, tz, -16, 15)
    got = ember.fake_quantize_per_tensor_affine(ember.tensor(X, device=device), es, ez, -16, 15)
    np.testing.assert_array_equal(got.cpu().numpy(), want.numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("float_zp", [False, True])
def test_per_channel_matches_torch(device, axis, float_zp):
    rng = np.random.default_rng(3)
    w = (rng.standard_normal((4, 5)) * 0.5).astype(np.float32)
    n = w.shape[axis]
    scale = (rng.random(n) * 0.1 + 0.02).astype(np.float32)
    zp = rng.integers(-3, 4, n)
    tzp = torch.tensor(zp, dtype=torch.float32 if float_zp else torch.int32)
    ezp = ember.tensor(zp, dtype=ember.float32 if float_zp else ember.int32, device=device)
    tw = torch.tensor(w, requires_grad=True)
    ew = ember.tensor(w, device=device, requires_grad=True)
    tout = torch.fake_quantize_per_channel_affine(tw, torch.tensor(scale), tzp, axis, -8, 7)
    eout = ember.fake_quantize_per_channel_affine(ew, ember.tensor(scale, device=device), ezp,
                                                  axis, -8, 7)
    tout.pow(2).sum().backward()
    eout.pow(2).sum().backward()
    np.testing.assert_allclose(eout.detach().cpu().numpy(), tout.detach().numpy(), atol=1e-7)
    np.testing.assert_allclose(ew.grad.cpu().numpy(), tw.grad.numpy(), atol=1e-6)
    assert (ew.grad.cpu().numpy() == 0).sum() == (tw.grad.numpy() == 0).sum() > 0


def test_errors_match_torch():
    x = ember.tensor(X)
    with pytest.raises(RuntimeError, match="`zero_point` must be between"):
        ember.fake_quantize_per_tensor_affine(x, 0.1, 9, -8, 7)
    with pytest.raises(RuntimeError, match="`quant_min` should be less than or equal"):
        ember.fake_quantize_per_tensor_affine(x, 0.1, 0, 7, -8)
    with pytest.raises(RuntimeError, match="not consistent"):
        ember.fake_quantize_per_channel_affine(ember.ones(2, 3), ember.ones(2),
                                               ember.zeros(2, dtype=ember.int32), 1, -8, 7)
    for mod in (torch, ember):          # torch takes no negative axis
        with pytest.raises(RuntimeError, match="`axis` must be between 0"):
            mod.fake_quantize_per_channel_affine(mod.ones(2, 3), mod.ones(3),
                                                 mod.zeros(3, dtype=mod.int32), -1, -8, 7)
    with pytest.raises(RuntimeError, match="float input"):
        ember.fake_quantize_per_tensor_affine(ember.tensor([1, 2]), 0.1, 0, -8, 7)
