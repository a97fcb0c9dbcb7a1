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


def _ce_forward_args(reduction, weighted):
    def make():
        x = _t(rng.standard_normal((9, 5)).astype(np.float32))
        target = _t(np.array([0, 4, 2, -100, 1, 3, 3, 0, 2]))
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


CASES = {
    "relu": [lambda: (_t(np.array([-1.0, 0.0, 2.0, np.nan], np.float32)),)],
    "tanh_backward": [_pair()],
    "sigmoid_backward": [_pair()],
    "threshold_backward": [_pair(), _pair((64, 300))],  # small and large kernel paths
    "cross_entropy_forward": [_ce_forward_args(r, w) for r in ("mean", "sum", "none")
                              for w in (False, True)],
    "cross_entropy_backward": [_ce_backward_args(False), _ce_backward_args(True)],
}


def _fused_on_cpu():
    kernels = ember.zeros(1)._device._backend.kernels
    return sorted(n for n in COMPOSITES if n in kernels)


@pytest.mark.parametrize("name", [n for n in _fused_on_cpu() if n in CASES])
def test_fused_kernel_matches_decomposition(name):
    op = COMPOSITES[name]
    for make in CASES[name]:
        args = make()
        with ember.no_grad():
            fused = op(*args)
            reference = op.decomposition(*args)
        fused = fused if isinstance(fused, tuple) else (fused,)
        reference = reference if isinstance(reference, tuple) else (reference,)
        assert len(fused) == len(reference)
        for f, r in zip(fused, reference):
            assert f.dtype == r.dtype and f.shape == r.shape, name
            np.testing.assert_allclose(f.numpy(), r.numpy(), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
