"""The engine's order and the backward fast paths: nodes run newest first (torch's sequence-number
order, also the order hooks see), a node runs once with all its gradients, the kernel fast path
of output-saving rules gives the ember-op rule's numbers and errors, and the cpu kernels' cached
scalar operands keep NumPy's values (signed zeros, NaN, overflow)."""
import warnings

import numpy as np
import pytest
import torch

import ember

DEVICES = ember.backends.available()


def _diamond(m, x, log):
    a = x * 2.0
    b = x.exp()
    c = a * b
    d = a.tanh() + c.sigmoid()
    e = (d * b).relu()
    for name, t in (("a", a), ("b", b), ("c", c), ("d", d), ("e", e)):
        t.register_hook(lambda g, name=name: log.append(name))
    return e


@pytest.mark.parametrize("dev", DEVICES)
def test_hooks_see_torch_order_and_each_node_runs_once(dev):
    data = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    log_e, log_t = [], []
    xe = ember.tensor(data, device=dev, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    _diamond(ember, xe, log_e).sum().backward()
    _diamond(torch, xt, log_t).sum().backward()
    assert log_e == log_t
    assert sorted(log_e) == ["a", "b", "c", "d", "e"]  # each once: all its gradients arrived
    np.testing.assert_allclose(xe.grad.to("cpu").numpy(), xt.grad.numpy(), rtol=1e-6)


def test_two_roots_sharing_nodes():
    data = np.array([0.5, -1.5, 2.0])
    xe = ember.tensor(data, requires_grad=True)
    xt = torch.tensor(data, requires_grad=True)
    for m, x in ((ember, xe), (torch, xt)):
        h = (x * 3.0).tanh()
        u, v = (h * h).sum(), (h.exp() + x).sum()
        m.autograd.backward([u, v])
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "relu"])
def test_output_saving_rules_fast_and_recorded_forms_agree(op, dev):
    data = np.array([[-2.0, -0.5, 0.0], [0.25, 1.0, 3.0]])
    w = np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]])
    for dt in ("float32", "float64"):
        xe = ember.tensor(data, dtype=getattr(ember, dt), device=dev, requires_grad=True)
        xt = torch.tensor(data, dtype=getattr(torch, dt), requires_grad=True)
        ye, yt = getattr(ember, op)(xe), getattr(torch, op)(xt)
        (ye * ember.tensor(w, dtype=ye.dtype, device=dev)).sum().backward()
        (yt * torch.tensor(w, dtype=yt.dtype)).sum().backward()
        tol = 1e-6 if dt == "float32" else 1e-12
        np.testing.assert_allclose(xe.grad.to("cpu").numpy(), xt.grad.numpy(), rtol=tol,
                                   atol=tol)
        # create_graph: the rule's ember ops are recorded, so a second derivative exists
        xe = ember.tensor(data, dtype=getattr(ember, dt), device=dev, requires_grad=True)
        xt = torch.tensor(data, dtype=getattr(torch, dt), requires_grad=True)
        ge, = ember.autograd.grad(getattr(ember, op)(xe).sum(), xe, create_graph=True)
        gt, = torch.autograd.grad(getattr(torch, op)(xt).sum(), xt, create_graph=True)
        # (relu: torch's gradient requires grad through its zero second derivative, ember's
        # does not; the others are compared)
        assert ge.requires_grad == gt.requires_grad or op == "relu"
        if gt.requires_grad and ge.requires_grad:
            he, = ember.autograd.grad(ge.sum(), xe)
            ht, = torch.autograd.grad(gt.sum(), xt)
            np.testing.assert_allclose(he.to("cpu").numpy(), ht.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "relu"])
def test_output_modified_in_place_still_raises(op):
    x = ember.tensor([0.5, -0.5, 1.5], requires_grad=True)
    y = getattr(ember, op)(x)
    y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_cached_scalar_operands_keep_numpy_values():
    x = ember.tensor([1.0, -0.0, 2.0])
    for _ in range(2):  # (the second time from the cache)
        for s in (0.0, -0.0):
            got = (x * s).numpy()
            np.testing.assert_array_equal(np.signbit(got), np.signbit(x.numpy() * s))
        assert np.isnan((x * float("nan")).numpy()).all()
        assert (ember.tensor([-0.0]) + 0.0).numpy()[0] == 0.0
        assert not np.signbit((ember.tensor([-0.0]) + 0.0).numpy()[0])
        assert np.signbit((ember.tensor([-0.0]) + -0.0).numpy()[0])
    for _ in range(2):  # an overflowing scalar is not cached: inf each time, no warning (torch)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            r = (x * 1e39).numpy()
        assert np.isinf(r[[0, 2]]).all()
    d = ember.tensor([1.0, 2.0], dtype=ember.float64)
    assert (d * 0.1).dtype == ember.float64
    np.testing.assert_array_equal((d * 0.1).numpy(), np.array([1.0, 2.0]) * 0.1)
    np.testing.assert_array_equal((x / 3.0).numpy(), np.array([1.0, -0.0, 2.0], np.float32) / 3)


def test_grad_neither_runs_nor_frees_nodes_leading_to_no_input():
    for m in (ember, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = m.tensor([3.0, 4.0], requires_grad=True)
        a, b = x.exp(), y.exp()
        c = (a + b).sum()
        g, = m.autograd.grad(c, [a])  # (a's and b's ExpBackward are not needed for it)
        c.backward()  # so their saved results are still there
        np.testing.assert_allclose(g.detach().numpy(), [1.0, 1.0])
        np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]), rtol=1e-6)
        np.testing.assert_allclose(y.grad.numpy(), np.exp([3.0, 4.0]), rtol=1e-6)
        # a node that did run for the gradient asked for is freed, as in torch
        a, b = x.exp(), y.exp()
        c = (a * b).sum()
        m.autograd.grad(c, [a])
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            c.backward()


@pytest.mark.parametrize("materialize", [True, False])
def test_custom_function_sees_none_for_unused_outputs_without_materialize(materialize):
    seen = {}

    def make(m):
        class Split(m.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.set_materialize_grads(materialize)
                return x * 2.0, x * 3.0

            @staticmethod
            def backward(ctx, ga, gb):
                seen[m.__name__] = (ga is None, gb is None)
                return (ga if ga is not None else 0.0) * 2.0 + (
                    gb * 3.0 if gb is not None else 0.0)
        return Split

    for m in (ember, torch):
        x = m.tensor([1.0, -1.0], requires_grad=True)
        u, _ = make(m).apply(x)
        u.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    assert seen["ember"] == seen["torch"] == (False, not materialize)


def test_in_place_gradient_sums_never_touch_a_gradient_seen_elsewhere():
    for m in (ember, torch):
        x = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        a = x * 2.0
        b = a * 1.0
        kept = []
        b.register_hook(lambda g: kept.append(g))  # (the same tensor that goes on to a's sum)
        a.retain_grad()
        (a + b.exp() + b).sum().backward()
        np.testing.assert_allclose(kept[0].numpy(), [1 + np.exp(1.0), 1 + np.exp(-2.0),
                                                     1 + np.exp(4.0)], rtol=1e-6)
        np.testing.assert_allclose(a.grad.numpy(), 1 + kept[0].numpy(), rtol=1e-6)
        np.testing.assert_allclose(x.grad.numpy(), 2 * a.grad.numpy(), rtol=1e-6)
