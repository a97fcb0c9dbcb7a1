"""ember.nn.init, ember.nn.utils, and a small end-to-end training loop against torch."""
import math

import numpy as np
import pytest

import ember
from nn_helpers import randn, copy_state, to_numpy, assert_close

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
init = ember.nn.init


@pytest.mark.parametrize("nonlinearity,param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None), ("leaky_relu", math.sqrt(5)),
])
def test_calculate_gain(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param))


def test_fan_computation_matches_torch():
    for shape in [(3, 4), (8, 4, 3, 3), (5, 2, 7)]:
        assert init._calculate_fan_in_and_fan_out(ember.empty(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))


def _bound_check(fn, shape, bound, **kwargs):
    w = ember.empty(*shape)
    out = fn(w, **kwargs)
    assert out is w
    v = to_numpy(w)
    assert np.abs(v).max() <= bound * (1 + 1e-6)
    assert np.abs(v).max() > 0.9 * bound
    assert abs(v.mean()) < 0.1 * bound


def test_uniform_style_inits_have_torchs_bounds():
    _bound_check(init.kaiming_uniform_, (256, 128), math.sqrt(6 / 128))
    _bound_check(init.kaiming_uniform_, (256, 128), math.sqrt(6 / 256), mode="fan_out",
                 nonlinearity="relu")
    _bound_check(init.kaiming_uniform_, (64, 16, 3, 3), 1 / math.sqrt(144), a=math.sqrt(5))
    _bound_check(init.xavier_uniform_, (200, 100), math.sqrt(6 / 300))
    _bound_check(init.xavier_uniform_, (200, 100), 2 * math.sqrt(6 / 300), gain=2.0)
    _bound_check(init.uniform_, (100, 100), 0.5, a=-0.5, b=0.5)


def test_normal_style_inits_have_torchs_std():
    w = init.kaiming_normal_(ember.empty(400, 300), nonlinearity="relu")
    assert to_numpy(w).std() == pytest.approx(math.sqrt(2 / 300), rel=0.03)
    w = init.xavier_normal_(ember.empty(400, 300))
    assert to_numpy(w).std() == pytest.approx(math.sqrt(2 / 700), rel=0.03)
    w = init.normal_(ember.empty(400, 300), mean=2.0, std=0.5)
    assert to_numpy(w).mean() == pytest.approx(2.0, abs=0.01)
    w = to_numpy(init.trunc_normal_(ember.empty(400, 300), std=1.0, a=-1.0, b=1.5))
    assert w.min() >= -1.0 and w.max() <= 1.5 and w.min() < -0.99 and w.max() > 1.49


def test_constant_inits_and_eye_orthogonal():
    np.testing.assert_allclose(to_numpy(init.constant_(ember.empty(2, 3), 0.3)),
                               np.full((2, 3), 0.3), rtol=1e-6)
    assert to_numpy(init.ones_(ember.empty(2))).tolist() == [1.0, 1.0]
    assert to_numpy(init.zeros_(ember.empty(2))).tolist() == [0.0, 0.0]
    np.testing.assert_array_equal(to_numpy(init.eye_(ember.empty(3, 4))), np.eye(3, 4))
    q = to_numpy(init.orthogonal_(ember.empty(6, 4)))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    p = ember.nn.Parameter(ember.empty(3, 3))
    init.kaiming_uniform_(p)  # works on a leaf that requires grad (under no_grad)
    assert p.requires_grad and p.grad_fn is None


def _params_with_grads(lib, seed):
    ps = []
    for i, shape in enumerate([(3, 4), (5,), (2, 2, 2)]):
        p = lib.tensor(randn(*shape, seed=seed + i), requires_grad=True)
        p.grad = lib.tensor(randn(*shape, seed=seed + 10 + i, scale=3.0))
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf"), 3.0])
@pytest.mark.parametrize("max_norm", [0.5, 1000.0])
def test_clip_grad_norm_(norm_type, max_norm):
    tp, ep = _params_with_grads(torch, 0), _params_with_grads(ember, 0)
    t_total = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    e_total = ember.nn.utils.clip_grad_norm_(ep, max_norm, norm_type)
    assert float(e_total.item()) == pytest.approx(float(t_total), rel=1e-5)
    for a, b in zip(ep, tp):
        assert_close(to_numpy(a.grad), b.grad.numpy())


def test_clip_grad_norm_nonfinite_and_value():
    ep = _params_with_grads(ember, 0)
    ep[0].grad = ember.tensor(np.full((3, 4), np.inf, np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        ember.nn.utils.clip_grad_norm_(ep, 1.0, error_if_nonfinite=True)
    tp, ep = _params_with_grads(torch, 1), _params_with_grads(ember, 1)
    torch.nn.utils.clip_grad_value_(tp, 0.7)
    ember.nn.utils.clip_grad_value_(ep, 0.7)
    for a, b in zip(ep, tp):
        assert_close(to_numpy(a.grad), b.grad.numpy())
    single = ember.tensor(randn(3), requires_grad=True)
    single.grad = ember.tensor(np.array([3.0, 4.0, 0.0], np.float32))
    assert float(ember.nn.utils.clip_grad_norm_(single, 1.0).item()) == pytest.approx(5.0)


def test_parameters_vector_roundtrip():
    net = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Linear(4, 2))
    vec = ember.nn.utils.parameters_to_vector(net.parameters())
    assert tuple(vec.shape) == (3 * 4 + 4 + 4 * 2 + 2,)
    new = ember.tensor(np.arange(vec.shape[0], dtype=np.float32))
    ember.nn.utils.vector_to_parameters(new, net.parameters())
    assert to_numpy(net[0].bias).tolist() == [12.0, 13.0, 14.0, 15.0]
    assert_close(to_numpy(ember.nn.utils.parameters_to_vector(net.parameters())), to_numpy(new))


def test_pad_sequence():
    seqs = [randn(3, 2), randn(1, 2, seed=1), randn(4, 2, seed=2)]
    for bf in (False, True):
        for side in ("right", "left"):
            e = ember.nn.utils.rnn.pad_sequence([ember.tensor(s) for s in seqs], batch_first=bf,
                                                padding_value=-1.0, padding_side=side)
            t = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=bf,
                                                padding_value=-1.0, padding_side=side)
            assert_close(to_numpy(e), t.numpy())


def _cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Dropout(0.0), nn.Linear(6, 3))


def test_training_loop_matches_torch():
    """Five steps of plain SGD on a small CNN give torch's parameters (and losses)."""
    t_net, e_net = _cnn(torch.nn), _cnn(ember.nn)
    copy_state(t_net, e_net)
    lr = 0.1
    rg = np.random.default_rng(0)
    for step in range(5):
        x = rg.standard_normal((8, 1, 8, 8)).astype(np.float32)
        y = rg.integers(0, 3, 8).astype(np.int64)
        t_loss = torch.nn.functional.cross_entropy(t_net(torch.tensor(x)), torch.tensor(y))
        e_loss = ember.nn.functional.cross_entropy(e_net(ember.tensor(x)), ember.tensor(y))
        assert float(e_loss.item()) == pytest.approx(float(t_loss.item()), rel=1e-4)
        t_net.zero_grad()
        e_net.zero_grad()
        t_loss.backward()
        e_loss.backward()
        ember.nn.utils.clip_grad_norm_(e_net.parameters(), 5.0)
        torch.nn.utils.clip_grad_norm_(t_net.parameters(), 5.0)
        with torch.no_grad():
            for p in t_net.parameters():
                p -= lr * p.grad
        with ember.no_grad():
            for p in e_net.parameters():
                p.sub_(p.grad * lr)
    t_sd = t_net.state_dict()
    for k, v in e_net.state_dict().items():
        assert_close(to_numpy(v), t_sd[k].numpy(), rtol=1e-3, atol=1e-4, what=k)
