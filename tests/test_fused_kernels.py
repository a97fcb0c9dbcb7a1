"""Every fused cpu kernel of a composite op gives its decomposition's numbers.

A composite (core/ops/registry.py ``composite``) runs a backend's fused kernel when the backend
has one, and its decomposition over primitives elsewhere (opencl, third-party backends). Both
must agree, or the same program would give other numbers on another device.
"""
import numpy as np
import pytest

import ember
from ember.core.ops import COMPOSITES

rng = np.random.default_rng(0)


def _t(a, **kw):
    return ember.tensor(np.asarray(a), **kw)


def _ce_forward_args(reduction, weighted, ignored=True):
    def make():
        x = _t(rng.standard_normal((9, 5)).astype(np.float32))
        target = _t(np.array([0, 4, 2, -100 if ignored else 4, 1, 3, 3, 0, 2]))
        weight = _t(rng.random(5).astype(np.float32)) if weighted else None
        return (x, target, weight, -100, reduction)
    return make


def _ce_backward_args(per_sample):
    def make():
        logp = ember.log_softmax(_t(rng.standard_normal((6, 4)).astype(np.float32)), 1)
        target = _t(np.array([0, 3, 1, 0, 2, 2]))
        coef = _t(rng.random(6).astype(np.float32))
        g = _t(rng.standard_normal(6 if per_sample else ()).astype(np.float32))
        return (g, logp, target, coef)
    return make


def _pair(shape=(4, 7)):
    def make():
        g = _t(rng.standard_normal(shape).astype(np.float32))
        out = _t(np.tanh(rng.standard_normal(shape)).astype(np.float32))
        return (g, out)
    return make


def _nonfinite_pair(shape):
    def make():
        g, out = _pair(shape)()
        out[0, :5] = ember.tensor([0.0, -1.0, 2.0, 3.0, float("nan")])
        g[0, :5] = ember.tensor([float("nan"), float("inf"), float("nan"), -float("inf"), 2.0])
        return (g, out)
    return make


def _randn(*shape):
    return _t(rng.standard_normal(shape).astype(np.float32))


def _conv(stride, dilation):
    # (x, weight, bias, stride, dilation), output positions of a 2 x 3 x 11 x 9 input
    def make():
        return (_randn(2, 3, 11, 9), _randn(4, 3, 3, 2), _randn(4), stride, dilation)
    return make


def _conv_grads(stride, dilation, which):
    def make():
        x, w, _, s, d = _conv(stride, dilation)()
        out = ember.nn.functional.conv2d(x, w, stride=s, dilation=d)
        g = _randn(*out.shape)
        if which == "input":
            return (g, w, tuple(x.shape), s, d)
        return (g, x, tuple(w.shape[2:]), s, d)
    return make


def _pool(kernel):
    def make():
        x = _randn(2, 3, 7, 9)
        x[0, 0, 0, :2] = 1.5  # a tie: the gradient goes to the first maximum
        return (x, kernel)
    return make


def _pool_backward(kernel):
    def make():
        x, _ = _pool(kernel)()
        with ember.no_grad():
            out = COMPOSITES["max_pool2d_blocks"].decomposition(x, kernel)
        return (_randn(*out.shape), x, out, kernel)
    return make


def _fold():
    def make():
        return (_randn(2, 3, 4, 2, 3, 2), (2, 3, 10, 8), (3, 2), (2, 3), (1, 2))
    return make


def _linear(bias, shape=(5, 7), out_features=3, dtype=np.float32):
    def make():
        return tuple(None if a is None else a.to(getattr(ember, np.dtype(dtype).name))
                     for a in (_randn(*shape), _randn(out_features, shape[-1]),
                               _randn(out_features) if bias else None))
    return make


def _linear_grads(need_input, need_weight, need_bias):
    def make():
        return (_randn(5, 3), _randn(5, 7), _randn(3, 7), need_input, need_weight, need_bias)
    return make


def _sgd(dampening, nesterov, dtype=np.float32, shape=(6, 5)):
    def make():
        p, g, buf = (_t(rng.standard_normal(shape).astype(dtype)) for _ in range(3))
        return (p, g, buf, 0.1, 0.9, dampening, nesterov)
    return make


CASES = {
    # (64 x 80 and larger: the BLAS path of backends/cpu/blas.py)
    "sgd_momentum_update_": [_sgd(0, False), _sgd(0, True), _sgd(0.3, False),
                             _sgd(0, False, np.float64), _sgd(0, False, shape=(64, 80)),
                             _sgd(0.3, False, np.float64, (64, 80)),
                             _sgd(0, True, shape=(64, 80))],
    # (64 x 130 by 130 x 140 and larger: one BLAS gemm from the bias, backends/cpu/blas.py)
    "linear_forward": [_linear(True), _linear(False), _linear(True, (2, 4, 7)),
                       _linear(True, (7,)), _linear(True, (64, 130), 140),
                       _linear(True, (64, 130), 140, np.float64)],
    "linear_backward": [_linear_grads(True, True, True), _linear_grads(False, True, False),
                        _linear_grads(True, False, True)],
    "conv2d": [_conv((1, 1), (1, 1)), _conv((2, 1), (1, 2))],
    "conv2d_input_grad": [_conv_grads((1, 1), (1, 1), "input"),
                          _conv_grads((2, 1), (1, 2), "input")],
    "conv2d_weight_grad": [_conv_grads((1, 1), (1, 1), "weight"),
                           _conv_grads((2, 1), (1, 2), "weight")],
    "max_pool2d_blocks": [_pool((2, 2)), _pool((3, 2))],
    "max_pool2d_blocks_backward": [_pool_backward((2, 2)), _pool_backward((3, 2))],
    "fold_windows": [_fold()],
    "relu": [lambda: (_t(np.array([-1.0, 0.0, 2.0, np.nan], np.float32)),)],
    "tanh_backward": [_pair()],
    "sigmoid_backward": [_pair()],
    # small and large kernel paths; non-finite gradients where the mask is 0 and where it is 1
    "threshold_backward": [_pair(), _pair((64, 300)), _nonfinite_pair((64, 300))],
    "cross_entropy_forward": [_ce_forward_args(r, w) for r in ("mean", "sum", "none")
                              for w in (False, True)] + [_ce_forward_args("mean", False, False)],
    "cross_entropy_backward": [_ce_backward_args(False), _ce_backward_args(True)],
}


def _fused_on_cpu():
    kernels = ember.zeros(1)._device._backend.kernels
    return sorted(n for n in COMPOSITES if n in kernels)


def test_every_fused_cpu_kernel_has_cases():
    assert [n for n in _fused_on_cpu() if n not in CASES] == []


@pytest.mark.parametrize("name", [n for n in _fused_on_cpu() if n in CASES])
def test_fused_kernel_matches_decomposition(name):
    op = COMPOSITES[name]
    for make in CASES[name]:
        args = make()
        if op.mutates:  # an in-place op: compare what it wrote
            copies = [a.clone() if isinstance(a, ember.Tensor) else a for a in args]
            versions = [args[i]._version for i in op.mutates]
            with ember.no_grad():
                assert op(*args) is None
                op.decomposition(*copies)
            for i, v in zip(op.mutates, versions):
                assert args[i]._version > v, name
                # NOTE: BLAS's axpy rounds a * x + y once (a fused multiply-add, as torch's
                # add_(x, alpha=a)); the decomposition rounds the product first
                np.testing.assert_allclose(args[i].numpy(), copies[i].numpy(), rtol=1e-6,
                                           atol=1e-7, err_msg=name)
            continue
        with ember.no_grad():
            fused = op(*args)
            reference = op.decomposition(*args)
        fused = fused if isinstance(fused, tuple) else (fused,)
        reference = reference if isinstance(reference, tuple) else (reference,)
        assert len(fused) == len(reference)
        for f, r in zip(fused, reference):
            assert (f is None) == (r is None), name
            if f is None:
                continue
            assert f.dtype == r.dtype and f.shape == r.shape, name
            np.testing.assert_allclose(f.numpy(), r.numpy(), rtol=1e-4, atol=1e-5,
                                       err_msg=name)


@pytest.mark.parametrize("device", ember.backends.available())
@pytest.mark.parametrize("n", [1, 1000])  # the small and the large cpu kernel paths
def test_relu_gradient_at_nan_and_zero_matches_torch(device, n):
    torch = pytest.importorskip("torch")
    v = np.array([np.nan, -1.0, 2.0, 0.0, -0.0] * n, np.float32)
    tx = torch.tensor(v, requires_grad=True)
    (torch.relu(tx) * 3).sum().backward()
    ex = ember.tensor(v, device=device, requires_grad=True)
    (ember.relu(ex) * 3).sum().backward()
    np.testing.assert_array_equal(ex.grad.cpu().numpy(), tx.grad.numpy())
