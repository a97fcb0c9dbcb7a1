"""Regressions found by torch programs 41 (physics-informed networks, higher-order autograd) and
42 (reinforcement learning), against torch: torch._foreach_* ops (values, overloads, return types,
errors, autograd), subtraction involving a bool tensor, autograd.grad's empty-inputs and unused
input errors, autograd.functional.jacobian's strategy/strict/constant-output handling, and the
beta/delta checks of smooth_l1_loss / huber_loss."""
import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as EF
import torch.nn.functional as TF
from ember.autograd.functional import jacobian as ejacobian
from torch.autograd.functional import jacobian as tjacobian

DEVICES = ember.backends.available()


def _np(t):
    return np.asarray(t.detach().to("cpu").to(ember.float64).numpy())


def _lists(mod, device=None):
    rng = np.random.default_rng(3)
    arrs = [rng.standard_normal(s).astype("float32") for s in [(2,), (3, 2), ()]]
    if mod is torch:
        return [torch.tensor(a) for a in arrs]
    return [ember.tensor(a, device=device) for a in arrs]


def _raises(fn_e, fn_t):
    with pytest.raises(Exception) as te:
        fn_t()
    with pytest.raises(type(te.value)) as ee:
        fn_e()
    return str(ee.value).splitlines()[0], str(te.value).splitlines()[0]


FOREACH_CASES = [
    ("add", lambda m, a, b: m._foreach_add(a, b, alpha=0.5)),
    ("add_scalar", lambda m, a, b: m._foreach_add(a, 2.0)),
    ("add_scalars", lambda m, a, b: m._foreach_add(a, [1.0, 2, -1.5])),
    ("sub_tensor", lambda m, a, b: m._foreach_sub(a, m.tensor(0.25))),
    ("mul", lambda m, a, b: m._foreach_mul(a, b)),
    ("div_scalar", lambda m, a, b: m._foreach_div(a, 4.0)),
    ("maximum", lambda m, a, b: m._foreach_maximum(a, b)),
    ("clamp_min", lambda m, a, b: m._foreach_clamp_min(a, [0.1, -0.2, 0.0])),
    ("clamp_max", lambda m, a, b: m._foreach_clamp_max(a, 0.3)),
    ("pow", lambda m, a, b: m._foreach_pow(a, 2)),
    ("pow_base", lambda m, a, b: m._foreach_pow(2.0, a)),
    ("lerp", lambda m, a, b: m._foreach_lerp(a, b, 0.3)),
    ("lerp_scalars", lambda m, a, b: m._foreach_lerp(a, b, [0.1, 0.5, 0.9])),
    ("addcmul", lambda m, a, b: m._foreach_addcmul(a, b, b, value=0.5)),
    ("addcdiv_scalars", lambda m, a, b: m._foreach_addcdiv(a, a, [t.abs() + 1 for t in b],
                                                           [1.0, 2.0, 3.0])),
    ("exp", lambda m, a, b: m._foreach_exp(a)),
    ("neg", lambda m, a, b: m._foreach_neg(a)),
    ("sigmoid", lambda m, a, b: m._foreach_sigmoid(a)),
    ("norm", lambda m, a, b: m._foreach_norm(a)),
    ("norm_inf", lambda m, a, b: m._foreach_norm(a, float("inf"))),
    ("max", lambda m, a, b: m._foreach_max(a)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", FOREACH_CASES, ids=[c[0] for c in FOREACH_CASES])
def test_foreach_out_of_place_matches_torch(device, case):
    _, fn = case
    ta, tb = _lists(torch), [t * 0.5 + 0.1 for t in _lists(torch)]
    ea, eb = _lists(ember, device), [t * 0.5 + 0.1 for t in _lists(ember, device)]
    tr, er = fn(torch, ta, tb), fn(ember, ea, eb)
    assert type(er) is type(tr) is tuple and len(er) == len(tr)
    for e, t in zip(er, tr):
        assert tuple(e.shape) == tuple(t.shape)
        np.testing.assert_allclose(_np(e), t.double().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_foreach_inplace_returns_self_and_matches(device):
    ta, tb = _lists(torch), _lists(torch)
    ea, eb = _lists(ember, device), _lists(ember, device)
    for m, a, b in ((torch, ta, tb), (ember, ea, eb)):
        assert m._foreach_mul_(a, 0.8) is a
        m._foreach_add_(a, b, alpha=0.2)
        m._foreach_lerp_(a, [x * 2 for x in b], 0.25)
        m._foreach_addcdiv_(a, b, [x.abs() + 1 for x in b], value=0.5)
        m._foreach_clamp_min_(a, -0.5)
        m._foreach_copy_(b, a)
        m._foreach_zero_(a)
    for e, t in zip(ea + eb, ta + tb):
        np.testing.assert_allclose(_np(e), t.double().numpy(), rtol=1e-5, atol=1e-6)


def test_foreach_autograd_and_inplace_leaf_error():
    for m in (torch, ember):
        w = m.ones(2, requires_grad=True)
        (out,) = m._foreach_mul([w], 3.0)
        out.sum().backward()
        assert w.grad.tolist() == [3.0, 3.0]
    e, t = _raises(lambda: ember._foreach_mul_([ember.ones(2, requires_grad=True)], 2.0),
                   lambda: torch._foreach_mul_([torch.ones(2, requires_grad=True)], 2.0))
    assert e == t


@pytest.mark.parametrize("call", [
    lambda m, a: m._foreach_add([], 1.0),
    lambda m, a: m._foreach_add(a, [m.ones(2)]),
    lambda m, a: m._foreach_add(a, [1.0]),
    lambda m, a: m._foreach_add(a, m.ones(2)),
    lambda m, a: m._foreach_add(a, [1, m.tensor(2.0), 3]),
    lambda m, a: m._foreach_add([m.ones(2), 3], 1),
    lambda m, a: m._foreach_add_([m.tensor([1, 2])], 1.5),
    lambda m, a: m._foreach_sub([m.ones(2, dtype=m.bool)], 1),
    lambda m, a: m._foreach_addcmul(a, a, a, m.tensor(2.0)),
    lambda m, a: m._foreach_addcmul(a, a, a, m.tensor([1.0, 2.0])),
    lambda m, a: m._foreach_max([m.ones(0)]),
    lambda m, a: m._foreach_norm([m.tensor([1, 2])]),
])
def test_foreach_errors_match_torch(call):
    e, t = _raises(lambda: call(ember, _lists(ember)), lambda: call(torch, _lists(torch)))
    assert e == t


@pytest.mark.parametrize("call", [
    lambda m, a: m._foreach_mul(a, "x"),
    lambda m, a: m._foreach_add(a, 1.0, alpha=2),
    lambda m, a: m._foreach_lerp(a, a),
    lambda m, a: m._foreach_add(m.ones(2), 1),
])
def test_foreach_bad_arguments_are_type_errors(call):
    e, t = _raises(lambda: call(ember, _lists(ember)), lambda: call(torch, _lists(torch)))
    assert e.split(" - got")[0] == t.split(" - got")[0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("expr", [
    lambda m, b, f: f - True, lambda m, b, f: b - 1, lambda m, b, f: 1 - b,
    lambda m, b, f: 1.5 - b, lambda m, b, f: f - b, lambda m, b, f: b - f,
    lambda m, b, f: m.sub(f, b, alpha=2), lambda m, b, f: m.rsub(b, 1),
    lambda m, b, f: f.clone().sub_(b), lambda m, b, f: b - b, lambda m, b, f: b - True,
])
def test_subtraction_with_a_bool_tensor_raises(device, expr):
    e, t = _raises(lambda: expr(ember, ember.tensor([True, False], device=device),
                                ember.ones(2, device=device)),
                   lambda: expr(torch, torch.tensor([True, False]), torch.ones(2)))
    assert e == t


def test_bool_add_and_float_sub_still_work():
    assert (ember.tensor([True, False]) + 1).tolist() == [2, 1]
    assert (ember.ones(2) - 1).tolist() == [0.0, 0.0]


def test_autograd_grad_input_errors():
    for kw in ({}, ):
        xe = ember.tensor([1.0, 2.0], requires_grad=True)
        xt = torch.tensor([1.0, 2.0], requires_grad=True)
        e, t = _raises(lambda: ember.autograd.grad((xe * 2).sum(), [], **kw),
                       lambda: torch.autograd.grad((xt * 2).sum(), [], **kw))
        assert e == t
        e, t = _raises(
            lambda: ember.autograd.grad((xe * 2).sum(), [xe, ember.ones(1, requires_grad=True)]),
            lambda: torch.autograd.grad((xt * 2).sum(), [xt, torch.ones(1, requires_grad=True)]))
        assert e == t


def test_jacobian_strategy_strict_and_constant_outputs():
    x = [1.0, 2.0, 0.5]
    for kw in (dict(strategy="forward-mode"), dict(strategy="bogus"),
               dict(strict=True, vectorize=True)):
        e, t = _raises(lambda: ejacobian(lambda z: z ** 2, ember.tensor(x), **kw),
                       lambda: tjacobian(lambda z: z ** 2, torch.tensor(x), **kw))
        assert e == t
    e, t = _raises(lambda: ejacobian(lambda z: ember.ones(2), ember.tensor(x), strict=True),
                   lambda: tjacobian(lambda z: torch.ones(2), torch.tensor(x), strict=True))
    assert e == t
    je = ejacobian(lambda z: (ember.ones(2), z * 3), ember.tensor(x))
    jt = tjacobian(lambda z: (torch.ones(2), z * 3), torch.tensor(x))
    for a, b in zip(je, jt):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(_np(a), b.numpy())


@pytest.mark.parametrize("fn, kw", [("smooth_l1_loss", dict(beta=-1.0)),
                                    ("huber_loss", dict(delta=0.0)),
                                    ("huber_loss", dict(delta=-2.0))])
def test_smooth_l1_and_huber_reject_bad_parameters(fn, kw):
    e, t = _raises(lambda: getattr(EF, fn)(ember.zeros(2), ember.ones(2), **kw),
                   lambda: getattr(TF, fn)(torch.zeros(2), torch.ones(2), **kw))
    assert e == t
    np.testing.assert_allclose(_np(EF.smooth_l1_loss(ember.zeros(2), ember.ones(2), beta=0.0)),
                               TF.smooth_l1_loss(torch.zeros(2), torch.ones(2), beta=0.0))
