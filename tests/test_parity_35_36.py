"""Regressions found by torch programs 35/36: full backward pre-hooks, optimizers over named
parameters, functional_call's key handling and messages, Module.set_submodule, and the
parametrization shape check message; each checked against torch."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from ember.func import functional_call as e_fcall  # noqa: E402
from ember.nn.utils import parametrize as e_P  # noqa: E402

RNG = np.random.default_rng(3536)


def _linear_pair(lib, n_in=3, n_out=3, bias=True):
    m = lib.nn.Linear(n_in, n_out, bias=bias)
    rng = np.random.default_rng(0)
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype("float32")))
    return m


def _msg(fn, exc):
    with pytest.raises(exc) as info:
        fn()
    return str(info.value).replace("ember.", "torch.")


def test_full_backward_pre_hook_rescales_grad_output():
    x = RNG.standard_normal((2, 3)).astype("float32")
    results = []
    for lib in (torch, ember):
        m = _linear_pair(lib)
        log = []

        def pre(mod, grad_output, log=log):
            log.append(tuple(grad_output[0].shape))
            return (grad_output[0] * 0.5,)

        def full(mod, grad_input, grad_output, log=log):
            log.append(round(float(grad_output[0].sum()), 5))

        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(full)
        xt = lib.tensor(x, requires_grad=True)
        m(xt).pow(2).sum().backward()
        results.append((log, xt.grad.tolist(), m.weight.grad.tolist()))
    (tlog, tgx, tgw), (elog, egx, egw) = results
    assert tlog == elog
    np.testing.assert_allclose(egx, tgx, rtol=1e-5)
    np.testing.assert_allclose(egw, tgw, rtol=1e-5)


def test_full_backward_pre_hook_alone_and_removed():
    x = RNG.standard_normal((2, 3)).astype("float32")
    grads = []
    for lib in (torch, ember):
        m = _linear_pair(lib)
        h = m.register_full_backward_pre_hook(lambda mod, go: (go[0].clamp(min=0.0),))
        xt = lib.tensor(x, requires_grad=True)
        m(xt).sum().backward()
        first = xt.grad.tolist()
        h.remove()
        xt.grad = None
        m(xt).sum().backward()
        grads.append((first, xt.grad.tolist()))
    np.testing.assert_allclose(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[1][1], grads[0][1], rtol=1e-5)


def test_optimizer_over_named_parameters():
    states = []
    for lib in (torch, ember):
        m = _linear_pair(lib, 3, 2)
        opt = lib.optim.Adam(m.named_parameters(), lr=0.01)
        m(lib.ones(1, 3)).sum().backward()
        opt.step()
        sd = opt.state_dict()
        group = sd["param_groups"][0]
        states.append((opt.param_groups[0]["param_names"], group["param_names"], group["params"],
                       m.weight.tolist()))
        mixed = _msg(lambda: opt.add_param_group({"params": [lib.nn.Parameter(lib.zeros(1))]}),
                     ValueError)
        partial = _msg(lambda: lib.optim.SGD([("w", m.weight), m.bias], lr=0.1), ValueError)
        plain = lib.optim.Adam(m.parameters(), lr=0.01)
        plain.load_state_dict(sd)
        states.append((mixed, partial, plain.param_groups[0].get("param_names")))
        other = lib.optim.Adam([lib.nn.Parameter(lib.zeros(1))], lr=0.01)
        states.append(_msg(lambda: other.load_state_dict(sd), ValueError))
    t, e = states[:3], states[3:]
    assert e[0][:3] == t[0][:3]
    np.testing.assert_allclose(e[0][3], t[0][3], rtol=1e-5)
    assert e[1] == t[1]
    # (Ember's message is torch's, followed by which group differs and how)
    assert e[2].startswith(t[2]) and "group 0: 2 saved parameters, 1 in the optimizer" in e[2]


def test_functional_call_keys_and_messages():
    x = RNG.standard_normal((2, 3)).astype("float32")
    outs = []
    for lib, fcall in ((torch, torch.func.functional_call), (ember, e_fcall)):
        m = _linear_pair(lib)
        xt = lib.tensor(x)
        # an unknown name becomes a plain attribute for the call, then goes away
        extra = fcall(m, {"foo": lib.ones(1)}, (xt,)).tolist()
        gone = hasattr(m, "foo")
        strict = _msg(lambda: fcall(m, {"weight": lib.zeros(3, 3), "bad": lib.zeros(1)}, xt,
                                    strict=True), RuntimeError)
        rep = _msg(lambda: fcall(m, ({"bias": lib.zeros(3)}, {"bias": lib.ones(3)}), xt),
                   ValueError)
        outs.append((extra, gone, strict, rep))
    assert outs[1][1:] == outs[0][1:]
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-5)


def test_functional_call_strict_counts_tied_names():
    class Tied(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = ember.nn.Linear(2, 2, bias=False)
            self.b = ember.nn.Linear(2, 2, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x))

    out = e_fcall(Tied(), {"a.weight": ember.eye(2) * 2}, ember.ones(1, 2), strict=True)
    assert out.tolist() == [[4.0, 4.0]]


def test_set_submodule():
    got = []
    for lib in (torch, ember):
        seq = lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.ReLU())
        seq.set_submodule("1", lib.nn.Tanh())
        seq.set_submodule("extra", lib.nn.Identity())
        strict = _msg(lambda: seq.set_submodule("9", lib.nn.Tanh(), strict=True),
                      AttributeError)
        empty = _msg(lambda: seq.set_submodule("", lib.nn.Tanh()), ValueError)
        not_mod = _msg(lambda: seq.set_submodule("0.weight", lib.nn.Tanh()), AttributeError)
        got.append(([type(c).__name__ for c in seq.children()], strict, empty, not_mod))
    assert got[1] == got[0]


def test_parametrization_shape_change_message():
    class Rows(torch.nn.Module):
        def forward(self, X):
            return X[:2]

    class ERows(ember.nn.Module):
        def forward(self, X):
            return X[:2]

    t = _msg(lambda: torch.nn.utils.parametrize.register_parametrization(
        _linear_pair(torch), "weight", Rows()), ValueError)
    e = _msg(lambda: e_P.register_parametrization(_linear_pair(ember), "weight", ERows()),
             ValueError)
    assert e == t
