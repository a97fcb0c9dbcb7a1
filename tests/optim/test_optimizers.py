"""Each optimizer's trajectory against torch's, step by step, for 20 steps."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="torch is the reference for these parity tests")

STEPS = 20


def _init_arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal((4,)).astype(np.float32)]


def _grad(p: np.ndarray, k: int) -> np.ndarray:
    # A deterministic, parameter-dependent gradient: that of a shifted quadratic with a
    # per-element curvature, plus a step-dependent wobble so momentum terms are exercised.
    curv = 0.5 + np.arange(p.size, dtype=np.float32).reshape(p.shape) / p.size
    return (curv * (p - 0.3) + np.float32(0.1 * np.sin(k))).astype(np.float32)


def _run_ember(cls, kwargs, arrays, steps=STEPS, device="cpu"):
    params = [ember.tensor(a.copy(), device=device, requires_grad=True) for a in arrays]
    opt = cls(params, **kwargs)
    traj = []
    for k in range(steps):
        for p in params:
            p.grad = ember.tensor(_grad(p.detach().cpu().numpy(), k), device=device)
        opt.step()
        traj.append([p.detach().cpu().numpy().copy() for p in params])
    return traj, opt


def _run_torch(cls, kwargs, arrays, steps=STEPS):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    opt = cls(params, **kwargs, foreach=False)
    traj = []
    for k in range(steps):
        for p in params:
            p.grad = torch.tensor(_grad(p.detach().numpy(), k))
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj, opt


CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("Adam", dict(lr=0.02, amsgrad=True, maximize=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs):
    arrays = _init_arrays()
    ours, _ = _run_ember(getattr(ember.optim, name), kwargs, arrays)
    ref, _ = _run_torch(getattr(torch.optim, name), kwargs, arrays)
    for k, (a, b) in enumerate(zip(ours, ref)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6, err_msg=f"step {k}")
    # the parameters really moved (a trajectory test that cannot fail is no test)
    assert not np.allclose(ours[-1][0], arrays[0])


@pytest.mark.parametrize("kwargs", [dict(lr=0.05, momentum=0.9),
                                    dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)])
def test_sgd_large_parameters_match_torch(kwargs, monkeypatch):
    # parameters of 4096 elements or more take the cpu backend's BLAS update (backends/cpu/
    # blas.py), where that BLAS is present; smaller ones NumPy's ufuncs
    from ember.backends.cpu import blas
    calls = []
    if blas.LIB is not None:
        real = blas.sgd_momentum
        monkeypatch.setattr(blas, "sgd_momentum", lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((80, 70)).astype(np.float32),
              rng.standard_normal((70,)).astype(np.float32)]
    ours, _ = _run_ember(ember.optim.SGD, kwargs, arrays)
    ref, _ = _run_torch(torch.optim.SGD, kwargs, arrays)
    for k, (a, b) in enumerate(zip(ours, ref)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6, err_msg=f"step {k}")
    assert not np.allclose(ours[-1][0], arrays[0])
    assert len(calls) == (STEPS if blas.LIB is not None else 0)


def _accelerators():
    return [d for d in ember.backends.available() if d != "cpu"]


@pytest.mark.parametrize("device", _accelerators() or [pytest.param(
    "none", marks=pytest.mark.skip(reason="no accelerator backend available here"))])
@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1)),
])
def test_trajectory_on_other_devices(device, name, kwargs):
    """The same updates on each accelerator backend: its state lives on the device."""
    arrays = _init_arrays()
    ours, opt = _run_ember(getattr(ember.optim, name), kwargs, arrays, device=device)
    ref, _ = _run_torch(getattr(torch.optim, name), kwargs, arrays)
    for k, (a, b) in enumerate(zip(ours, ref)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-5, err_msg=f"step {k}")
    for p, st in opt.state.items():
        for key, v in st.items():
            if isinstance(v, ember.Tensor) and key != "step":
                assert v.device == p.device, key


@pytest.mark.parametrize("name,kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)), ("Adagrad", dict(lr=0.1))])
def test_state_matches_torch(name, kwargs):
    arrays = _init_arrays()
    _, opt = _run_ember(getattr(ember.optim, name), kwargs, arrays, steps=5)
    _, topt = _run_torch(getattr(torch.optim, name), kwargs, arrays, steps=5)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1]
    for i in (0, 1):
        assert sorted(sd["state"][i]) == sorted(tsd["state"][i])
        for key, v in tsd["state"][i].items():
            np.testing.assert_allclose(np.asarray(sd["state"][i][key].numpy()), v.numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=key)
    assert sd["param_groups"][0]["params"] == tsd["param_groups"][0]["params"] == [0, 1]
    for key, v in tsd["param_groups"][0].items():
        if key != "foreach":
            assert sd["param_groups"][0][key] == v, key


def test_tiny_model_with_autograd_matches_torch():
    """A 2-layer model trained with SGD+momentum through each framework's own autograd."""
    rng = np.random.default_rng(1)
    w1, b1 = rng.standard_normal((5, 8)).astype(np.float32) * 0.5, np.zeros(8, np.float32)
    w2 = rng.standard_normal((8, 1)).astype(np.float32) * 0.5
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.standard_normal((16, 1)).astype(np.float32)

    def run(lib, opt_cls):
        ps = [lib.tensor(a.copy(), requires_grad=True) for a in (w1, b1, w2)]
        opt = opt_cls(ps, lr=0.05, momentum=0.9)
        xs, ys = lib.tensor(x), lib.tensor(y)
        losses = []
        for _ in range(STEPS):
            opt.zero_grad()
            h = lib.tanh(xs @ ps[0] + ps[1])
            loss = ((h @ ps[2] - ys) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses, [p.detach().numpy() for p in ps]

    ours, pe = run(ember, ember.optim.SGD)
    ref, pt = run(torch, torch.optim.SGD)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-6)
    assert ours[-1] < ours[0]
    for a, b in zip(pe, pt):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_closure_returns_loss_and_runs_with_grad():
    w = ember.tensor([1.0, -2.0], requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0)
    np.testing.assert_allclose(w.detach().numpy(), [0.8, -1.6], rtol=1e-6)


def test_zero_grad():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = ember.optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    (w * 3).sum().backward()
    opt.zero_grad()
    assert w.grad is None


def test_param_groups_and_defaults():
    a = ember.zeros(2, requires_grad=True)
    b = ember.zeros(3, requires_grad=True)
    opt = ember.optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    assert opt.defaults["lr"] == 0.1
    c = ember.zeros(1, requires_grad=True)
    opt.add_param_group({"params": [c], "lr": 0.01})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["params"][0] is c
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_bad_arguments():
    w = ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError):
        ember.optim.SGD([w], lr=-1.0)
    with pytest.raises(ValueError):
        ember.optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        ember.optim.Adam([w], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty parameter list"):
        ember.optim.Adam([])
    with pytest.raises(TypeError):
        ember.optim.SGD(w, lr=0.1)


def test_state_dict_format_and_round_trip():
    arrays = _init_arrays()
    traj, opt = _run_ember(ember.optim.Adam, dict(lr=0.01), arrays, steps=3)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"].item() == 3.0
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["lr"] == 0.01

    # a fresh optimizer that loads the state continues exactly like the original (as torch,
    # loading aliases the given state tensors, so hand it copies)
    sd = {"state": {i: {k: v.clone() for k, v in s.items()} for i, s in sd["state"].items()},
          "param_groups": sd["param_groups"]}
    params2 = [ember.tensor(p.copy(), requires_grad=True) for p in traj[-1]]
    opt2 = ember.optim.Adam(params2, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01
    assert opt2.param_groups[0]["params"][0] is params2[0]
    for p in opt.param_groups[0]["params"]:
        p.grad = ember.tensor(_grad(p.detach().numpy(), 3))
    for p in params2:
        p.grad = ember.tensor(_grad(p.detach().numpy(), 3))
    opt.step()
    opt2.step()
    for p, q in zip(opt.param_groups[0]["params"], params2):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())

    with pytest.raises(ValueError):
        ember.optim.Adam([params2[0]]).load_state_dict(sd)
