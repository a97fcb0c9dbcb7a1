"""ember.utils.checkpoint (both ways) and the saved_tensors_hooks it is built on."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.autograd.graph import save_on_cpu, saved_tensors_hooks
from ember.utils.checkpoint import checkpoint, checkpoint_sequential

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (parity check)")


def _block(lib, dropout=0.0):
    lib.manual_seed(0)
    m = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Dropout(dropout),
                          lib.nn.Linear(8, 3))
    rng = np.random.default_rng(1)
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return m


def _grads(m):
    return [p.grad.numpy().copy() for p in m.parameters()]


X = np.random.default_rng(2).standard_normal((5, 4)).astype(np.float32)


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_gives_the_plain_gradients(reentrant):
    plain, ckpt = _block(ember), _block(ember)
    x1 = ember.tensor(X, requires_grad=True)
    x2 = ember.tensor(X, requires_grad=True)
    (plain(x1) ** 2).sum().backward()
    (checkpoint(ckpt, x2, use_reentrant=reentrant) ** 2).sum().backward()
    for a, b in zip(_grads(plain), _grads(ckpt)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(x1.grad.numpy(), x2.grad.numpy(), rtol=1e-6)


@needs_torch
@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_matches_torch(reentrant):
    grads = []
    for lib in (ember, torch):
        m = _block(lib)
        x = lib.tensor(X, requires_grad=True)
        out = lib.utils.checkpoint.checkpoint(m, x, use_reentrant=reentrant)
        (out ** 2).sum().backward()
        grads.append(_grads(m) + [x.grad.numpy()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dropout_replays_the_same_mask():
    for reentrant in (False, True):
        plain, ckpt = _block(ember, 0.5), _block(ember, 0.5)
        ember.manual_seed(7)
        (plain(ember.tensor(X)) ** 2).sum().backward()
        ember.manual_seed(7)
        (checkpoint(ckpt, ember.tensor(X, requires_grad=True), use_reentrant=reentrant)
         ** 2).sum().backward()
        for a, b in zip(_grads(plain), _grads(ckpt)):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_non_reentrant_reaches_parameters_without_input_grad_and_supports_grad():
    m = _block(ember)
    out = checkpoint(m, ember.tensor(X), use_reentrant=False)
    assert out.requires_grad
    w = m[0].weight
    (gw,) = ember.autograd.grad((out ** 2).sum(), [w])
    plain = _block(ember)
    (plain(ember.tensor(X)) ** 2).sum().backward()
    np.testing.assert_allclose(gw.numpy(), plain[0].weight.grad.numpy(), rtol=1e-6)


def test_reentrant_without_input_grad_warns_and_records_nothing():
    m = _block(ember)
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad"):
        out = checkpoint(m, ember.tensor(X), use_reentrant=True)
    assert not out.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.sum().backward()


def test_intermediates_are_not_kept_and_rerun_once():
    calls = []

    def f(x):
        calls.append(1)
        return (x.tanh() * x).exp().sum(0)

    x = ember.tensor(X, requires_grad=True)
    out = checkpoint(f, x, use_reentrant=False)
    node = out.grad_fn.next_functions[0][0]  # ExpBackward0 saved its output
    assert not isinstance(node._saved[1][0].data, np.ndarray)
    out.sum().backward()
    assert len(calls) == 2  # the forward, and one rerun for the whole backward
    ref = ember.tensor(X, requires_grad=True)
    f(ref).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), rtol=1e-6)


def test_a_rerun_that_saves_differently_is_an_error():
    state = {"n": 0}

    def f(x):
        state["n"] += 1
        return x.exp() if state["n"] == 1 else x.exp().exp()

    out = checkpoint(f, ember.tensor(X, requires_grad=True), use_reentrant=False)
    with pytest.raises(RuntimeError, match="different number of tensors"):
        out.sum().backward()


def test_argument_checks_and_warning():
    x = ember.tensor(X, requires_grad=True)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda t, scale: t * scale, x, use_reentrant=True, scale=2.0)
    out = checkpoint(lambda t, scale: t * scale, x, use_reentrant=False, scale=2.0)
    out.sum().backward()
    assert x.grad.tolist() == np.full(X.shape, 2.0).tolist()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        checkpoint(lambda t: t * 2, x)
    assert any("use_reentrant" in str(w.message) for w in caught)


@pytest.mark.parametrize("reentrant", [False, True])
def test_checkpoint_sequential(reentrant):
    plain, ckpt = _block(ember), _block(ember)
    (plain(ember.tensor(X, requires_grad=True)) ** 2).sum().backward()
    out = checkpoint_sequential(ckpt, 2, ember.tensor(X, requires_grad=True),
                                use_reentrant=reentrant)
    (out ** 2).sum().backward()
    for a, b in zip(_grads(plain), _grads(ckpt)):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_saved_tensors_hooks_see_every_saved_tensor():
    packed, unpacked = [], []

    def pack(t):
        packed.append(t)
        return ("box", t.detach().numpy().copy())

    def unpack(box):
        unpacked.append(box)
        return ember.tensor(box[1])

    x = ember.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(pack, unpack):
        y = (x * x).sigmoid()  # mul saves both inputs, sigmoid its output
    assert len(packed) == 3
    y.sum().backward()
    assert len(unpacked) == 3
    s = 1 / (1 + np.exp(-(x.detach().numpy() ** 2)))
    np.testing.assert_allclose(x.grad.numpy(), s * (1 - s) * 2 * x.detach().numpy(), rtol=1e-6)
    with pytest.raises(TypeError, match="unpack_hook"):
        with saved_tensors_hooks(lambda t: t, lambda t: 3):
            z = x.exp()
        z.sum().backward()


def test_saved_tensors_hooks_are_per_thread_and_nest():
    import threading
    seen = []
    x = ember.ones(3, requires_grad=True)
    with saved_tensors_hooks(lambda t: seen.append("outer") or t, lambda t: t):
        with saved_tensors_hooks(lambda t: seen.append("inner") or t, lambda t: t):
            x.exp()
        x.exp()
        worker = threading.Thread(target=lambda: x.exp())
        worker.start()
        worker.join()
    assert seen == ["inner", "outer"]


def test_save_on_cpu_round_trips():
    x = ember.tensor([0.5, 1.5], requires_grad=True)
    with save_on_cpu():
        y = (x * x.exp()).sum()
    y.backward()
    xv = x.detach().numpy()
    np.testing.assert_allclose(x.grad.numpy(), np.exp(xv) * (1 + xv), rtol=1e-6)


def test_disable_saved_tensors_hooks():
    from ember.autograd.graph import disable_saved_tensors_hooks
    with disable_saved_tensors_hooks("not here"):
        with pytest.raises(RuntimeError, match="not here"):
            with saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        pass
