"""ember.func against torch.func: the transforms, their compositions (per-sample gradients,
ensembles, Hessians), their pytrees and their errors, on every available backend."""
import numpy as np
import pytest
import torch
import torch.func as tf

import ember
import ember.func as ef

DEVICES = ember.backends.available()
RNG = np.random.default_rng(2026)


def _pair(shape, dev, scale=1.0):
    a = (RNG.standard_normal(shape) * scale).astype(np.float64)
    return ember.tensor(a, device=dev), torch.tensor(a)


def _close(e, t, tol=1e-10):
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)) and len(e) == len(t)
        for a, b in zip(e, t):
            _close(a, b, tol)
        return
    if isinstance(t, dict):
        assert set(e) == set(t)
        for k in t:
            _close(e[k], t[k], tol)
        return
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().to("cpu").numpy(), t.detach().numpy(), rtol=tol,
                               atol=tol)


def _f(m, x):
    return (m.sin(x) * x ** 2).sum()


@pytest.mark.parametrize("dev", DEVICES)
def test_grad_nested_argnums_and_aux(dev):
    ex, tx = _pair((4,), dev)
    ey, ty = _pair((4,), dev)
    _close(ef.grad(lambda x: _f(ember, x))(ex), tf.grad(lambda x: _f(torch, x))(tx))
    # second and third derivatives by nesting
    _close(ef.grad(ef.grad(lambda x: (x.sin() * x).sum()))(ex[0]),
           tf.grad(tf.grad(lambda x: (x.sin() * x).sum()))(tx[0]))
    _close(ef.grad(ef.grad(ef.grad(lambda x: x ** 4)))(ex[1]),
           tf.grad(tf.grad(tf.grad(lambda x: x ** 4)))(tx[1]))
    _close(ef.grad(lambda x, y: (x * y.exp()).sum(), argnums=(0, 1))(ex, ey),
           tf.grad(lambda x, y: (x * y.exp()).sum(), argnums=(0, 1))(tx, ty))
    g, aux = ef.grad(lambda x: ((x ** 2).sum(), x.mean()), has_aux=True)(ex)
    tg, taux = tf.grad(lambda x: ((x ** 2).sum(), x.mean()), has_aux=True)(tx)
    _close(g, tg)
    _close(aux, taux)
    (g, v) = ef.grad_and_value(lambda x: _f(ember, x))(ex)
    (tg, tv) = tf.grad_and_value(lambda x: _f(torch, x))(tx)
    _close(g, tg)
    _close(v, tv)
    assert not g.requires_grad and not v.requires_grad


@pytest.mark.parametrize("dev", DEVICES)
def test_grad_over_a_dict_of_parameters(dev):
    ew, tw = _pair((3, 2), dev)
    eb, tb = _pair((2,), dev)
    ex, tx = _pair((5, 3), dev)

    def loss(m, params, x):
        return ((x @ params["w"] + params["b"]).tanh() ** 2).mean()
    _close(ef.grad(lambda p, x: loss(ember, p, x))({"w": ew, "b": eb}, ex),
           tf.grad(lambda p, x: loss(torch, p, x))({"w": tw, "b": tb}, tx))


@pytest.mark.parametrize("dev", DEVICES)
def test_per_sample_gradients(dev):
    # the canonical composition: vmap(grad(loss)) over a batch with functional_call
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    tmodel = tmodel.double()
    emodel = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    emodel = emodel.to(dev, ember.float64)
    emodel.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tmodel.state_dict().items()})
    ex, tx = _pair((6, 3), dev)
    labels = RNG.integers(0, 2, 6)
    ey, ty = ember.tensor(labels, device=dev), torch.tensor(labels)

    def make_loss(m, model, F):
        def loss(params, x, y):
            out = m.func.functional_call(model, params, (x.unsqueeze(0),))
            return F.cross_entropy(out, y.unsqueeze(0))
        return loss
    eparams = {k: v.detach() for k, v in emodel.named_parameters()}
    tparams = {k: v.detach() for k, v in tmodel.named_parameters()}
    eg = ef.vmap(ef.grad(make_loss(ember, emodel, ember.nn.functional)),
                 in_dims=(None, 0, 0))(eparams, ex, ey)
    tg = tf.vmap(tf.grad(make_loss(torch, tmodel, torch.nn.functional)),
                 in_dims=(None, 0, 0))(tparams, tx, ty)
    _close(eg, tg)
    # the mean of the per-sample gradients is the batch gradient
    emodel.zero_grad()
    ember.nn.functional.cross_entropy(emodel(ex), ey).backward()
    for k, p in emodel.named_parameters():
        _close(eg[k].mean(0), torch.tensor(p.grad.to("cpu").numpy()))


@pytest.mark.parametrize("dev", DEVICES)
def test_ensemble_with_stack_module_state(dev):
    torch.manual_seed(1)
    tmodels = [torch.nn.Linear(3, 2).double() for _ in range(4)]
    emodels = []
    for tm in tmodels:
        em = ember.nn.Linear(3, 2).to(dev, ember.float64)
        em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
        emodels.append(em)
    eparams, ebuffers = ef.stack_module_state(emodels)
    tparams, tbuffers = tf.stack_module_state(tmodels)
    _close(eparams, tparams)
    assert all(p.requires_grad and p.is_leaf for p in eparams.values())
    ex, tx = _pair((5, 3), dev)
    eout = ef.vmap(lambda p, b, x: ef.functional_call(emodels[0], (p, b), (x,)),
                   in_dims=(0, 0, None))(eparams, ebuffers, ex)
    tout = tf.vmap(lambda p, b, x: tf.functional_call(tmodels[0], (p, b), (x,)),
                   in_dims=(0, 0, None))(tparams, tbuffers, tx)
    _close(eout, tout)
    # the module's own parameters are back in place after each call
    assert emodels[0].weight.shape == (2, 3) and emodels[0].weight.requires_grad


@pytest.mark.parametrize("dev", DEVICES)
def test_vmap_dims_and_pytrees(dev):
    ea, ta = _pair((2, 3, 4), dev)
    eb, tb = _pair((3,), dev)
    _close(ef.vmap(lambda a, b: a.sum(-1) * b, in_dims=(0, None))(ea, eb),
           tf.vmap(lambda a, b: a.sum(-1) * b, in_dims=(0, None))(ta, tb))
    _close(ef.vmap(lambda a: a.T, in_dims=2, out_dims=1)(ea),
           tf.vmap(lambda a: a.T, in_dims=2, out_dims=1)(ta))
    _close(ef.vmap(lambda a: (a.max(), {"s": a.sum(0)}), in_dims=-1)(ea),
           tf.vmap(lambda a: (a.max(), {"s": a.sum(0)}), in_dims=-1)(ta))
    _close(ef.vmap(ef.vmap(ember.dot))(ea, ea), tf.vmap(tf.vmap(torch.dot))(ta, ta))
    _close(ef.vmap(ember.outer, out_dims=1)(ea[:, 0], ea[:, 1]),
           tf.vmap(torch.outer, out_dims=1)(ta[:, 0], ta[:, 1]))


def test_vmap_errors_as_torch():
    x = ember.ones(2, 3)
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        ef.vmap(lambda a, b: a + b)(x, ember.ones(3, 3))
    with pytest.raises(ValueError, match="in_dim=2 for some input"):
        ef.vmap(lambda a: a, in_dims=2)(x)
    with pytest.raises(ValueError, match="cannot vmap over non-Tensor arguments"):
        ef.vmap(lambda a: a)(1.0)
    with pytest.raises(ValueError, match="must only return Tensors"):
        ef.vmap(lambda a: 1.0)(x)
    with pytest.raises(ValueError, match="expected `in_dims` to be int"):
        ef.vmap(lambda a: a, in_dims=None)(x)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        ef.vmap(lambda a: a + ember.rand(3))(x)
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        ef.vmap(lambda a: a, randomness="sometimes")
    with pytest.raises(RuntimeError, match="Expected f\\(\\*args\\) to return a scalar"):
        ef.grad(lambda a: a)(x)


def test_vmap_randomness_same_and_different():
    same = ef.vmap(lambda a: a + ember.rand(2), randomness="same")(ember.zeros(4, 2))
    assert all(ember.equal(same[0], same[i]) for i in range(4))
    diff = ef.vmap(lambda a: a + ember.rand(2), randomness="different")(ember.zeros(4, 2))
    assert not ember.equal(diff[0], diff[1])


@pytest.mark.parametrize("dev", DEVICES)
def test_jacobians_and_hessian(dev):
    ex, tx = _pair((3,), dev)
    ey, ty = _pair((2,), dev)

    def f(m, x, y):
        return m.stack([(x * x.sin()).sum() * y[0], (x.exp() * y[1]).sum(), x[0] * y[1]])
    for efn, tfn in ((ef.jacrev, tf.jacrev), (ef.jacfwd, tf.jacfwd)):
        _close(efn(lambda x, y: f(ember, x, y))(ex, ey), tfn(lambda x, y: f(torch, x, y))(tx, ty))
        _close(efn(lambda x, y: f(ember, x, y), argnums=(0, 1))(ex, ey),
               tfn(lambda x, y: f(torch, x, y), argnums=(0, 1))(tx, ty))
    _close(ef.hessian(lambda x: (x.sin() * x.cos() * x).sum())(ex),
           tf.hessian(lambda x: (x.sin() * x.cos() * x).sum())(tx))


@pytest.mark.parametrize("dev", DEVICES)
def test_vjp_jvp_linearize(dev):
    ex, tx = _pair((3,), dev)
    ev, tv = _pair((3,), dev)
    eo, efn = ef.vjp(lambda x: (x.sin(), x * 2), ex)
    to, tfn = tf.vjp(lambda x: (x.sin(), x * 2), tx)
    _close(eo, to)
    _close(efn((ev, ev)), tfn((tv, tv)))
    _close(ef.jvp(lambda x: x.exp() * x, (ex,), (ev,)),
           tf.jvp(lambda x: x.exp() * x, (tx,), (tv,)))
    out, lin = ef.linearize(lambda x: x.tanh(), ex)
    tout, tlin = tf.linearize(lambda x: x.tanh(), tx)
    _close(out, tout)
    _close(lin(ev), tlin(tv))


def test_functional_call_tied_weights_and_strict():
    lin = ember.nn.Linear(2, 2)
    new = {"weight": ember.eye(2), "bias": ember.zeros(2)}
    x = ember.tensor([[1.0, 2.0]])
    assert ember.equal(ef.functional_call(lin, new, (x,)), x)
    assert not ember.equal(lin(x), x)  # restored
    with pytest.raises(RuntimeError, match="Missing key\\(s\\): 'bias'"):
        ef.functional_call(lin, {"weight": ember.eye(2)}, (x,), strict=True)
    with pytest.raises(ValueError, match="appeared in multiple dictionaries"):
        ef.functional_call(lin, ({"weight": ember.eye(2)}, {"weight": ember.eye(2)}), (x,))
    assert ember.vmap is ef.vmap


def test_jvp_keeps_the_callers_graph():
    # jvp of a function that closes over a tensor on the caller's tape must not free that
    # tape's saved tensors (the double-vjp pass reaches them)
    def run(m, fn):
        w = m.tensor([0.3, -0.7, 1.1], dtype=m.float64, requires_grad=True)
        h = m.sin(w) * w.exp()
        _, jv = fn.jvp(lambda q: (q.sin() * h).sum(), (w.detach(),), (m.ones_like(w),))
        _, jv2 = m.autograd.functional.jvp(lambda q: q.cos() * h, w.detach(), m.ones_like(w))
        h.sum().backward()
        return jv.detach(), jv2, w.grad
    for e, t in zip(run(ember, ef), run(torch, tf)):
        np.testing.assert_allclose(e.to("cpu").numpy(), t.numpy(), rtol=1e-12)


def test_transforms_stay_on_the_graph_of_closed_over_tensors():
    # a function closing over tensors that require grad (a module's parameters): grad, vjp,
    # jacrev and jvp results stay differentiable with respect to them, as torch's; and a
    # mixed second derivative through jacfwd(jacrev(f, 0), 1) is not lost
    def run(m, fn):
        w = m.tensor([1.5, -2.0], dtype=m.float64, requires_grad=True)
        x = m.tensor([0.3, 0.4], dtype=m.float64)
        g = fn.grad(lambda x: (m.sin(x) * w).sum())(x)
        j = fn.jacrev(lambda x: m.sin(x) * w)(x)
        _, t = fn.jvp(lambda x: m.sin(x) * w, (x,), (m.ones_like(x),))
        _, vjp_fn = fn.vjp(lambda x: m.sin(x) * w, x)
        (v,) = vjp_fn(m.ones_like(x))
        flags = [g.requires_grad, j.requires_grad, t.requires_grad, v.requires_grad,
                 fn.grad(lambda x: (x ** 2).sum())(x).requires_grad]
        dw = m.autograd.grad((g ** 2).sum() + j.sum() + t.sum() + v.sum(), w)[0]
        quad = lambda a, b: (a ** 2 * b).sum() + (a * b).sum()  # noqa: E731
        mixed = fn.jacfwd(fn.jacrev(quad, argnums=0), argnums=1)(x, x + 1)
        zero = fn.hessian(quad, argnums=1)(x, x + 1)
        return flags, [dw.detach(), mixed, zero]
    (ef_flags, ef_vals), (tf_flags, tf_vals) = run(ember, ef), run(torch, tf)
    assert ef_flags == tf_flags == [True, True, True, True, False]
    for e, t in zip(ef_vals, tf_vals):
        np.testing.assert_allclose(e.to("cpu").numpy(), t.numpy(), rtol=1e-12)
