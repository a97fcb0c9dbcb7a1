"""ember.optim.Adafactor against torch.optim.Adafactor, step by step, on every backend."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="torch is the reference for these parity tests")

STEPS = 20
DEVICES = ember.backends.available()


def _arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal((5,)).astype(np.float32),
            rng.standard_normal((2, 3, 4)).astype(np.float32)]


def _grad(p, k):
    curv = 0.5 + np.arange(p.size, dtype=np.float32).reshape(p.shape) / p.size
    return (curv * (p - 0.3) + np.float32(0.1 * np.sin(k))).astype(np.float32)


def _trajectory(lib, kwargs, device=None):
    dev = dict(device=device) if device else {}
    params = [lib.tensor(a.copy(), requires_grad=True, **dev) for a in _arrays()]
    opt = lib.optim.Adafactor(params, **kwargs)
    traj = []
    for k in range(STEPS):
        for p in params:
            p.grad = lib.tensor(_grad(p.detach().cpu().numpy(), k), **dev)
        opt.step()
        traj.append([p.detach().cpu().numpy().copy() for p in params])
    return traj, opt


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(lr=0.05, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=1.5, weight_decay=0.1),
    dict(lr=0.02, eps=(None, 1e-4), maximize=True),
    dict(lr=1.0, foreach=True),
])
def test_matches_torch_step_by_step(device, kwargs):
    ours, opt = _trajectory(ember, kwargs, device)
    ref, topt = _trajectory(torch, kwargs)
    for k, (a, b) in enumerate(zip(ours, ref)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=2e-5, atol=2e-6, err_msg=f"step {k}")
    ours_state = opt.state_dict()["state"]
    ref_state = topt.state_dict()["state"]
    for i in ref_state:
        assert set(ours_state[i]) == set(ref_state[i])
        for key, value in ref_state[i].items():
            np.testing.assert_allclose(ours_state[i][key].cpu().numpy(), value.numpy(),
                                       rtol=1e-4, atol=1e-7, err_msg=key)


def test_tensor_lr_and_float64():
    a = np.random.default_rng(1).standard_normal((4, 3))
    p, tp = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    opt = ember.optim.Adafactor([p], lr=ember.tensor(0.03))
    topt = torch.optim.Adafactor([tp], lr=torch.tensor(0.03))
    for k in range(5):
        p.grad, tp.grad = ember.tensor(a * k), torch.tensor(a * k)
        opt.step()
        topt.step()
    np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-9)


@pytest.mark.parametrize("kwargs", [dict(lr=-1.0), dict(beta2_decay=0.1), dict(eps=(-1, 1e-3)),
                                    dict(eps=(None, -1.0)), dict(d=0.5),
                                    dict(weight_decay=-0.1), dict(lr=ember.tensor([1.0, 2.0]))])
def test_errors_match_torch(kwargs):
    tkwargs = {k: (torch.tensor(v.tolist()) if isinstance(v, ember.Tensor) else v)
               for k, v in kwargs.items()}
    with pytest.raises(ValueError) as theirs:
        torch.optim.Adafactor([torch.zeros(2, requires_grad=True)], **tkwargs)
    with pytest.raises(ValueError) as ours:
        ember.optim.Adafactor([ember.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(theirs.value)
