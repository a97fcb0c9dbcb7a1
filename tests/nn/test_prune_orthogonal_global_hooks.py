"""nn.utils.prune, nn.utils.parametrizations.orthogonal and the global module hooks
(nn.modules.module.register_module_*), against torch: values, state_dict layout, gradients,
errors."""
import math

import numpy as np
import pytest

import ember
from ember.nn.utils import prune as eprune
from ember.nn.utils.parametrizations import orthogonal as e_orthogonal
from ember.nn.modules import module as emodule
from nn_helpers import DEVICES, assert_close, randn, to_numpy

torch = pytest.importorskip("torch", reason="these tests compare against PyTorch")
tprune = pytest.importorskip("torch.nn.utils.prune")
t_orthogonal = torch.nn.utils.parametrizations.orthogonal
tmodule = torch.nn.modules.module


def _linear_pair(weight, device="cpu", bias=True):
    out_f, in_f = weight.shape
    t = torch.nn.Linear(in_f, out_f, bias=bias)
    e = ember.nn.Linear(in_f, out_f, bias=bias)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(weight))
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    return t, e.to(device)


def _same_state(t, e, exact=True):
    ts, es = t.state_dict(), e.state_dict()
    assert list(es) == list(ts)
    for k in ts:
        if exact:
            np.testing.assert_array_equal(to_numpy(es[k]), ts[k].numpy(), err_msg=k)
        else:
            assert_close(to_numpy(es[k]), ts[k].numpy(), what=k)


def _same_error(t_fn, e_fn, exc):
    with pytest.raises(exc) as t_info:
        t_fn()
    with pytest.raises(exc) as e_info:
        e_fn()
    assert str(e_info.value) == str(t_info.value)


# ---------------------------------------------------------------------------------- pruning
@pytest.mark.parametrize("device", DEVICES)
def test_iterative_pruning_masks_grads_and_remove_match_torch(device):
    t, e = _linear_pair(randn(6, 8, seed=1), device)
    steps = [
        lambda p, m: p.l1_unstructured(m, "weight", amount=0.3),
        lambda p, m: p.ln_structured(m, "weight", amount=2, n=2, dim=0),
        lambda p, m: p.l1_unstructured(m, "weight", amount=5),
        lambda p, m: p.ln_structured(m, "weight", amount=0.25, n=1, dim=-1),
        lambda p, m: p.l1_unstructured(m, "bias", amount=2),
    ]
    for step in steps:
        assert step(tprune, t) is t and step(eprune, e) is e
        _same_state(t, e)
        np.testing.assert_array_equal(to_numpy(e.weight), t.weight.detach().numpy())
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    hook = [h for h in e._forward_pre_hooks.values() if h._tensor_name == "weight"][0]
    assert isinstance(hook, eprune.PruningContainer) and len(hook) == 4
    assert [type(m).__name__ for m in hook] == ["L1Unstructured", "LnStructured",
                                               "L1Unstructured", "LnStructured"]
    x = randn(3, 8, seed=2)
    g = randn(3, 6, seed=3)
    t_out = t(torch.from_numpy(x))
    e_out = e(ember.tensor(x, device=device))
    assert_close(to_numpy(e_out), t_out.detach().numpy())
    t_out.backward(torch.from_numpy(g))
    e_out.backward(ember.tensor(g, device=device))
    for name in ("weight_orig", "bias_orig"):
        assert_close(to_numpy(getattr(e, name).grad), getattr(t, name).grad.numpy(), what=name)
    # the gradient of the pruned entries is exactly zero
    assert (to_numpy(e.weight_orig.grad)[to_numpy(e.weight_mask) == 0] == 0).all()
    assert eprune.is_pruned(e) and eprune.is_pruned(ember.nn.Sequential(e))
    for name in ("weight", "bias"):
        tprune.remove(t, name)
        eprune.remove(e, name)
    _same_state(t, e)
    assert not eprune.is_pruned(e) and not e._forward_pre_hooks
    assert isinstance(e.weight, ember.nn.Parameter)


def test_pruned_tensor_follows_updates_of_orig():
    e = eprune.l1_unstructured(ember.nn.Linear(4, 3), "weight", amount=6)
    with ember.no_grad():
        e.weight_orig.fill_(2.0)
    e(ember.ones(1, 4))
    assert_close(to_numpy(e.weight), 2.0 * to_numpy(e.weight_mask))
    assert int((to_numpy(e.weight) == 0).sum()) == 6


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,levels,amounts", [
    ((4, 6), 2, [1, 3, 0.5, 9]),           # nth_element path in torch.topk
    ((64, 70), 3, [2, 30, 0.001]),          # partial_sort path (64 * k <= n)
    ((64, 70), 5, [1000, 0.9]),
    ((1, 9), 1, [4]),                       # every value equal
])
def test_l1_unstructured_ties_pick_torchs_entries(device, shape, levels, amounts):
    w = np.random.default_rng(7).integers(-levels, levels + 1, shape).astype(np.float32)
    t, e = _linear_pair(w, device, bias=False)
    for amount in amounts:
        tprune.l1_unstructured(t, "weight", amount=amount)
        eprune.l1_unstructured(e, "weight", amount=amount)
        _same_state(t, e)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n", [1, 2, 3, math.inf, -math.inf])
@pytest.mark.parametrize("dim", [0, 1, -1, 3])
def test_ln_structured_conv_weight_matches_torch(device, n, dim):
    w = randn(6, 4, 3, 3, seed=4)
    w[1] = w[4]  # two equal output channels: a tie torch breaks its own way
    w[:, 2] = w[:, 0]
    t = torch.nn.Conv2d(4, 6, 3)
    e = ember.nn.Conv2d(4, 6, 3)
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
    e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()})
    e = e.to(device)
    for amount in (1, 0.34):
        tprune.ln_structured(t, "weight", amount=amount, n=n, dim=dim)
        eprune.ln_structured(e, "weight", amount=amount, n=n, dim=dim)
        _same_state(t, e)


@pytest.mark.parametrize("n", [2, "fro", 0.5])
def test_importance_scores_and_ties_in_ln_structured(n):
    w = randn(5, 4, seed=5)
    scores = np.array([[1, 1, 0, 0]] * 5, dtype=np.float32)
    scores[[0, 3]] = 2
    t, e = _linear_pair(w)
    tprune.ln_structured(t, "weight", 2, n, 0, importance_scores=torch.from_numpy(scores))
    eprune.ln_structured(e, "weight", 2, n, 0, importance_scores=ember.tensor(scores))
    tprune.l1_unstructured(t, "weight", 3, importance_scores=torch.from_numpy(scores))
    eprune.l1_unstructured(e, "weight", 3, importance_scores=ember.tensor(scores))
    _same_state(t, e)


@pytest.mark.parametrize("device", DEVICES)
def test_global_unstructured_and_custom_from_mask_match_torch(device):
    t1, e1 = _linear_pair(randn(4, 5, seed=6), device)
    t2, e2 = _linear_pair(randn(3, 4, seed=7), device)
    mask = (np.arange(12).reshape(3, 4) % 3 != 0).astype(np.float32)
    tprune.custom_from_mask(t2, "weight", torch.from_numpy(mask))
    eprune.custom_from_mask(e2, "weight", ember.tensor(mask, device=device))
    scores = randn(4, 5, seed=8)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight"), (t1, "bias")],
                               tprune.L1Unstructured, amount=0.4,
                               importance_scores={(t1, "weight"): torch.from_numpy(scores)})
    eprune.global_unstructured([(e1, "weight"), (e2, "weight"), (e1, "bias")],
                               eprune.L1Unstructured, amount=0.4,
                               importance_scores={(e1, "weight"): ember.tensor(scores,
                                                                               device=device)})
    _same_state(t1, e1)
    _same_state(t2, e2)
    hook = [h for h in e2._forward_pre_hooks.values()][0]
    assert [type(m).__name__ for m in hook] == ["CustomFromMask", "CustomFromMask"]


def test_random_unstructured_counts_compose():
    e = ember.nn.Linear(10, 10)
    ember.manual_seed(0)
    eprune.random_unstructured(e, "weight", amount=0.3)
    mask = to_numpy(e.weight_mask)
    assert int((mask == 0).sum()) == 30
    eprune.random_unstructured(e, "weight", amount=0.5)   # half of the 70 left
    new = to_numpy(e.weight_mask)
    assert int((new == 0).sum()) == 65 and (new[mask == 0] == 0).all()
    eprune.random_unstructured(e, "weight", amount=35)
    assert (to_numpy(e.weight_mask) == 0).all()
    assert (to_numpy(e.weight) == 0).all()


@pytest.mark.parametrize("device", DEVICES)
def test_random_structured_prunes_whole_channels(device):
    e = ember.nn.Conv2d(3, 8, 2).to(device)
    eprune.random_structured(e, "weight", amount=3, dim=0)
    per_channel = to_numpy(e.weight_mask).reshape(8, -1)
    assert sorted(per_channel.min(1) == per_channel.max(1)) == [True] * 8
    assert int((per_channel.max(1) == 0).sum()) == 3
    eprune.random_structured(e, "weight", amount=0.5, dim=0)  # 3 of the 5 channels left
    per_channel = to_numpy(e.weight_mask).reshape(8, -1)
    assert int((per_channel.max(1) == 0).sum()) == 5
    eprune.random_structured(e, "weight", amount=1, dim=1)
    by_in = to_numpy(e.weight_mask).transpose(1, 0, 2, 3).reshape(3, -1)
    assert int((by_in.max(1) == 0).sum()) == 1


def test_identity_prune_method_and_pruning_container():
    t, e = _linear_pair(randn(3, 2, seed=9))
    tprune.identity(t, "weight")
    eprune.identity(e, "weight")
    _same_state(t, e)
    method = eprune.L1Unstructured(amount=2)
    x = randn(3, 4, seed=10)
    dm = (np.arange(12).reshape(3, 4) % 5 != 0).astype(np.float32)
    t_res = tprune.L1Unstructured(amount=2).prune(torch.from_numpy(x), torch.from_numpy(dm))
    e_res = method.prune(ember.tensor(x), ember.tensor(dm))
    np.testing.assert_array_equal(to_numpy(e_res), t_res.numpy())
    # as torch, a method not yet bound to a tensor has no name to give the container
    _same_error(lambda: tprune.PruningContainer(tprune.Identity()),
                lambda: eprune.PruningContainer(eprune.Identity()), AttributeError)


def test_prune_errors_match_torch():
    for amount, exc in ((-1, ValueError), (1.5, ValueError), ("a", TypeError),
                        (None, TypeError)):
        _same_error(lambda: tprune.L1Unstructured(amount), lambda: eprune.L1Unstructured(amount),
                    exc)
    t, e = _linear_pair(randn(3, 4, seed=11))
    _same_error(lambda: tprune.l1_unstructured(t, "weight", amount=13),
                lambda: eprune.l1_unstructured(e, "weight", amount=13), ValueError)
    # a failed first pruning leaves the parameter unpruned (re-registered last, as torch)
    assert list(e.state_dict()) == list(t.state_dict()) and not eprune.is_pruned(e)
    _same_error(lambda: tprune.remove(t, "weight"), lambda: eprune.remove(e, "weight"),
                ValueError)
    with pytest.raises(ValueError, match="Structured pruning can only be applied to "
                                         "multidimensional tensors. Found tensor of shape"):
        eprune.ln_structured(e, "bias", amount=1, n=2, dim=0)
    with pytest.raises(IndexError, match="Invalid index 2 for tensor of size"):
        eprune.ln_structured(e, "weight", amount=1, n=2, dim=2)
    with pytest.raises(AssertionError, match="importance_scores should have the same shape"):
        eprune.l1_unstructured(e, "weight", 1, importance_scores=ember.ones(2, 2))
    _same_error(lambda: tprune.global_unstructured(3, tprune.L1Unstructured, amount=1),
                lambda: eprune.global_unstructured(3, eprune.L1Unstructured, amount=1),
                TypeError)
    _same_error(lambda: tprune.global_unstructured([(t, "bias")], tprune.L1Unstructured,
                                                   importance_scores=[1], amount=1),
                lambda: eprune.global_unstructured([(e, "bias")], eprune.L1Unstructured,
                                                   importance_scores=[1], amount=1),
                TypeError)
    with pytest.raises(TypeError, match='Only "unstructured" PRUNING_TYPE supported'):
        eprune.global_unstructured([(e, "weight")], eprune.LnStructured, amount=1, n=2)
    method = eprune.L1Unstructured(1)
    method._tensor_name = "bias"
    container = eprune.PruningContainer(method)
    with pytest.raises(TypeError, match="is not a BasePruningMethod subclass"):
        container.add_pruning_method(3)
    other = eprune.L1Unstructured(1)
    other._tensor_name = "weight"
    with pytest.raises(ValueError, match="Can only add pruning methods acting on the parameter "
                                         "named 'bias' to PruningContainer"):
        container.add_pruning_method(other)
    with pytest.raises(AssertionError, match="default_mask shape"):
        eprune.CustomFromMask(ember.ones(3)).compute_mask(ember.ones(2), ember.ones(2))
    with pytest.raises(TypeError):
        eprune.BasePruningMethod()


def test_amount_rounding_matches_torch():
    # Python's round: 0.5 * 5 = 2.5 -> 2, 0.5 * 7 = 3.5 -> 4
    for n_out in (5, 7):
        t, e = _linear_pair(randn(n_out, 1, seed=n_out), bias=False)
        tprune.l1_unstructured(t, "weight", amount=0.5)
        eprune.l1_unstructured(e, "weight", amount=0.5)
        _same_state(t, e)


# ---------------------------------------------------------------------------------- orthogonal
ORTH_CASES = [((5, 5), None), ((6, 3), None), ((3, 6), None), ((5, 5), "cayley"),
              ((6, 3), "matrix_exp"), ((3, 6), "cayley"), ((5, 5), "householder"),
              ((4, 7), "householder")]


def _orth_pair(shape, seed=12):
    w = randn(*shape, seed=seed)
    t = torch.nn.Linear(shape[1], shape[0])
    e = ember.nn.Linear(shape[1], shape[0])
    with torch.no_grad():
        t.weight.copy_(torch.from_numpy(w))
    with ember.no_grad():
        e.weight.copy_(ember.tensor(w))
    return t, e


@pytest.mark.parametrize("use_trivialization", [True, False])
@pytest.mark.parametrize("shape,omap", ORTH_CASES)
def test_orthogonal_matches_torch(shape, omap, use_trivialization):
    t, e = _orth_pair(shape)
    assert t_orthogonal(t, orthogonal_map=omap, use_trivialization=use_trivialization) is t
    assert e_orthogonal(e, orthogonal_map=omap, use_trivialization=use_trivialization) is e
    assert type(e).__name__ == "ParametrizedLinear"
    assert list(e.state_dict()) == list(t.state_dict())
    assert e.parametrizations.weight[0].orthogonal_map.name \
        == t.parametrizations.weight[0].orthogonal_map.name
    assert hasattr(e.parametrizations.weight[0], "base") == use_trivialization
    # the weight right after registration is torch's (the QR orthogonalisation of the old one)
    assert_close(to_numpy(e.weight), t.weight.detach().numpy(), atol=2e-5)
    Q = to_numpy(e.weight)
    small = min(shape)
    gram = Q.T @ Q if shape[0] >= shape[1] else Q @ Q.T
    assert_close(gram, np.eye(small), atol=2e-5)
    # same originals (and base, which for non-square matrices has a random completion): same
    # weight and gradients
    sd = {k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()}
    e.load_state_dict(sd)
    with torch.no_grad():
        t.parametrizations.weight.original.add_(torch.from_numpy(randn(*shape, seed=13) * 0.1))
    with ember.no_grad():
        e.parametrizations.weight.original.add_(ember.tensor(randn(*shape, seed=13) * 0.1))
    x = randn(2, shape[1], seed=14)
    g = randn(2, shape[0], seed=15)
    t_out = t(torch.from_numpy(x))
    e_out = e(ember.tensor(x))
    assert_close(to_numpy(e_out), t_out.detach().numpy(), atol=2e-5)
    t_out.backward(torch.from_numpy(g))
    e_out.backward(ember.tensor(g))
    assert_close(to_numpy(e.parametrizations.weight.original.grad),
                 t.parametrizations.weight.original.grad.numpy(), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,omap,triv", [((4, 4), None, True), ((5, 3), None, True),
                                             ((3, 5), "householder", False)])
def test_orthogonal_on_device(device, shape, omap, triv):
    t, e = _orth_pair(shape, seed=21)
    t_orthogonal(t, orthogonal_map=omap, use_trivialization=triv)
    e_orthogonal(e.to(device), orthogonal_map=omap, use_trivialization=triv)
    assert e.weight.device.type == device
    assert_close(to_numpy(e.weight), t.weight.detach().numpy(), atol=2e-5)
    e.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()})
    t.weight.sum().backward()
    e.weight.sum().backward()
    assert_close(to_numpy(e.parametrizations.weight.original.grad),
                 t.parametrizations.weight.original.grad.numpy(), rtol=1e-3, atol=1e-4)


def test_orthogonal_keeps_an_orthogonal_weight_and_assignment():
    q = np.linalg.qr(np.random.default_rng(3).standard_normal((6, 4)))[0].astype(np.float32)
    for omap in ("matrix_exp", "cayley", "householder"):
        e = ember.nn.Linear(4, 6)
        with ember.no_grad():
            e.weight.copy_(ember.tensor(q))
        e_orthogonal(e, orthogonal_map=omap)
        assert_close(to_numpy(e.weight), q, atol=2e-5)
        # assigning goes through right_inverse
        q2 = np.linalg.qr(np.random.default_rng(4).standard_normal((6, 4)))[0]
        e.weight = ember.tensor(q2.astype(np.float32))
        assert_close(to_numpy(e.weight), q2, atol=2e-5)
        t = torch.nn.Linear(4, 6)
        t_orthogonal(t, orthogonal_map=omap)
        t.weight = torch.from_numpy(q2.astype(np.float32))
        assert_close(to_numpy(e.parametrizations.weight.original),
                     t.parametrizations.weight.original.detach().numpy())


def test_orthogonal_batched_buffer_and_double():
    class M(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("w", ember.tensor(randn(2, 4, 4, seed=16)).double())

    class TM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("w", torch.from_numpy(randn(2, 4, 4, seed=16)).double())

    e, t = e_orthogonal(M(), "w"), t_orthogonal(TM(), "w")
    assert e.w.dtype == ember.float64
    assert list(e.state_dict()) == list(t.state_dict())
    assert_close(to_numpy(e.w), t.w.numpy(), atol=1e-10)
    e2, t2 = e_orthogonal(M(), "w", "householder", use_trivialization=False), \
        t_orthogonal(TM(), "w", "householder", use_trivialization=False)
    assert_close(to_numpy(e2.parametrizations.w.original),
                 t2.parametrizations.w.original.numpy(), atol=1e-10)
    assert_close(to_numpy(e2.w), t2.w.numpy(), atol=1e-10)


def test_orthogonal_errors_match_torch():
    _same_error(lambda: t_orthogonal(torch.nn.Linear(3, 3), orthogonal_map="qr"),
                lambda: e_orthogonal(ember.nn.Linear(3, 3), orthogonal_map="qr"), ValueError)
    _same_error(lambda: t_orthogonal(torch.nn.Linear(3, 3), "bias"),
                lambda: e_orthogonal(ember.nn.Linear(3, 3), "bias"), ValueError)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        e_orthogonal(ember.nn.Linear(3, 3), "nope")
    e = e_orthogonal(ember.nn.Linear(3, 3), orthogonal_map="cayley", use_trivialization=False)
    t = t_orthogonal(torch.nn.Linear(3, 3), orthogonal_map="cayley", use_trivialization=False)
    _same_error(lambda: setattr(t, "weight", torch.eye(3)),
                lambda: setattr(e, "weight", ember.eye(3)), NotImplementedError)
    e = e_orthogonal(ember.nn.Linear(3, 3))
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices of shape"):
        e.weight = ember.eye(2)


# ---------------------------------------------------------------------------------- global hooks
def _tiny(nn):
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _log_hooks(module_lib, nn, net, log):
    handles = [
        module_lib.register_module_forward_pre_hook(
            lambda m, a: log.append(("gpre", type(m).__name__))),
        module_lib.register_module_forward_hook(
            lambda m, a, o: log.append(("gfwd", type(m).__name__))),
        module_lib.register_module_full_backward_pre_hook(
            lambda m, go: log.append(("gbpre", type(m).__name__))),
        module_lib.register_module_full_backward_hook(
            lambda m, gi, go: log.append(("gbwd", type(m).__name__))),
    ]
    lin = net[2]
    handles += [lin.register_forward_pre_hook(lambda m, a: log.append(("pre", "own"))),
                lin.register_forward_hook(lambda m, a, o: log.append(("fwd", "own"))),
                lin.register_full_backward_pre_hook(lambda m, go: log.append(("bpre", "own"))),
                lin.register_full_backward_hook(lambda m, gi, go: log.append(("bwd", "own")))]
    return handles


def test_global_call_hooks_order_and_removal_match_torch():
    logs = {}
    for lib, nn, module_lib in ((torch, torch.nn, tmodule), (ember, ember.nn, emodule)):
        log = logs[lib.__name__] = []
        net = _tiny(nn)
        handles = _log_hooks(module_lib, nn, net, log)
        try:
            x = lib.ones(2, 3, requires_grad=True)
            net(x).sum().backward()
        finally:
            for h in handles:
                h.remove()
        log.append("removed")
        net(lib.ones(2, 3, requires_grad=True)).sum().backward()
    assert logs["ember"] == logs["torch"]
    assert not emodule._global_call_hooks and not emodule._global_forward_hooks


def test_global_hooks_change_inputs_outputs_and_gradients_like_torch():
    x = randn(2, 3, seed=17)
    results = {}
    for lib, nn, module_lib in ((torch, torch.nn, tmodule), (ember, ember.nn, emodule)):
        net = _tiny(nn)
        if lib is ember:
            net.load_state_dict({k: lib.tensor(v) for k, v in results["sd"].items()})
        else:
            results["sd"] = {k: v.detach().numpy() for k, v in net.state_dict().items()}
        hooks = [
            module_lib.register_module_forward_pre_hook(
                lambda m, a: (a[0] * 2,) if isinstance(m, nn.Tanh) else None),
            module_lib.register_module_forward_hook(
                lambda m, a, kw, o: o + 1 if isinstance(m, nn.Linear) else None,
                with_kwargs=True),
            module_lib.register_module_full_backward_hook(
                lambda m, gi, go: (gi[0] * 0.5,) if isinstance(m, nn.Tanh) else None),
            module_lib.register_module_full_backward_pre_hook(
                lambda m, go: (go[0] * 3,) if isinstance(m, nn.Sequential) else None),
        ]
        try:
            xi = lib.tensor(x, requires_grad=True)
            out = net(xi)
            out.sum().backward()
        finally:
            for h in hooks:
                h.remove()
        results[lib.__name__] = (to_numpy(out), to_numpy(xi.grad),
                                 to_numpy(net[0].weight.grad))
    for a, b in zip(results["ember"], results["torch"]):
        assert_close(a, b)


def test_global_always_call_forward_hook_runs_when_forward_raises():
    class Boom(ember.nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    seen = []
    with emodule.register_module_forward_hook(lambda m, a, o: seen.append((type(m).__name__, o)),
                                              always_call=True):
        with pytest.raises(RuntimeError, match="boom"):
            Boom()(ember.ones(1))
        ember.nn.Identity()(ember.ones(1))
    assert seen[0] == ("Boom", None) and seen[1][0] == "Identity" and len(seen) == 2
    assert not emodule._global_forward_hooks_always_called and not emodule._global_call_hooks


def _registration_log(lib, nn, module_lib):
    log = []
    hooks = [
        module_lib.register_module_parameter_registration_hook(
            lambda m, n, p: log.append(("param", type(m).__name__, n, tuple(p.shape)))),
        module_lib.register_module_buffer_registration_hook(
            lambda m, n, b: log.append(("buffer", type(m).__name__, n))),
        module_lib.register_module_module_registration_hook(
            lambda m, n, s: log.append(("module", type(m).__name__, n,
                                        type(s).__name__ if s is not None else None))),
    ]
    try:
        net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        net.extra = nn.ReLU()
        net.extra = None
        net.add_module("head", nn.Linear(3, 1, bias=False))
        net[1].running_mean = lib.zeros(3)
        net[0].bias = nn.Parameter(lib.ones(3))
        net.register_buffer("flag", lib.ones(1), persistent=False)
    finally:
        for h in hooks:
            h.remove()
    nn.Linear(1, 1)
    return log


def test_global_registration_hooks_match_torch():
    assert _registration_log(ember, ember.nn, emodule) \
        == _registration_log(torch, torch.nn, tmodule)


def test_global_registration_hooks_can_replace_values():
    replacement = ember.nn.Parameter(ember.zeros(3, 2))
    with emodule.register_module_parameter_registration_hook(
            lambda m, n, p: replacement if n == "weight" else None), \
            emodule.register_module_buffer_registration_hook(lambda m, n, b: b + 5), \
            emodule.register_module_module_registration_hook(
                lambda m, n, s: ember.nn.Identity() if isinstance(s, ember.nn.ReLU) else None):
        lin = ember.nn.Linear(2, 3)
        bn = ember.nn.Module()
        bn.register_buffer("running_mean", ember.zeros(2))
        seq = ember.nn.Sequential(ember.nn.ReLU())
    assert lin.weight is replacement
    assert_close(to_numpy(bn.running_mean), np.full(2, 5.0))
    assert isinstance(seq[0], ember.nn.Identity)
    assert not emodule._global_parameter_registration_hooks


def test_global_hooks_are_exported_like_torch():
    names = [n for n in dir(tmodule) if n.startswith("register_module_")
             and n != "register_module_backward_hook"]
    assert names and all(callable(getattr(emodule, n)) for n in names)
