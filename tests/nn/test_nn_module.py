"""Module machinery: registration, iteration, state_dict, hooks, modes, containers, reprs."""
import copy
from collections import OrderedDict

import numpy as np
import pytest

import ember
from nn_helpers import randn, copy_state, to_numpy, assert_close, ember_repr

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
enn = ember.nn
tnn = torch.nn




def _simple(nn, lib):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.bn = nn.BatchNorm2d(2)
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 5), nn.ReLU())
            self.heads = nn.ModuleList([nn.Linear(5, 2), nn.Linear(5, 2)])
            self.table = nn.ModuleDict({"a": nn.Linear(2, 1)})
            self.scale = nn.Parameter(lib.ones(1))
            self.register_buffer("avg", lib.zeros(3))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            x = self.body(self.bn(self.conv(x)))
            return self.table["a"](self.heads[0](x) + self.heads[1](x)) * self.scale

    return Net()


def test_names_keys_and_repr_match_torch():
    t, e = _simple(tnn, torch), _simple(enn, ember)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict()) == list(t.state_dict())
    assert "scratch" not in e.state_dict()
    assert repr(e) == ember_repr(repr(t))
    assert len(list(e.parameters())) == len(list(t.parameters()))
    assert len(list(e.modules())) == len(list(t.modules()))
    assert len(list(e.children())) == 5
    assert [n for n, _ in e.named_parameters(prefix="net", recurse=False)] == ["net.scale"]


def test_forward_and_grads_match_torch_after_state_dict_copy():
    t, e = _simple(tnn, torch), _simple(enn, ember)
    copy_state(t, e)
    x = randn(3, 1, 6, 6)
    tout, eout = t(torch.tensor(x)), e(ember.tensor(x))
    assert_close(to_numpy(eout), to_numpy(tout))
    tout.sum().backward()
    eout.sum().backward()
    tp = dict(t.named_parameters())
    for name, p in e.named_parameters():
        assert_close(to_numpy(p.grad), to_numpy(tp[name].grad), atol=1e-5, what=name)


def test_load_state_dict_errors_like_torch():
    e = enn.Linear(3, 2)
    sd = {"weight": ember.zeros(2, 3), "extra": ember.zeros(1)}
    with pytest.raises(RuntimeError) as err:
        e.load_state_dict(sd)
    msg = str(err.value)
    assert msg.startswith("Error(s) in loading state_dict for Linear:")
    assert 'Missing key(s) in state_dict: "bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra".' in msg
    result = e.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    assert to_numpy(e.weight).tolist() == [[0.0] * 3] * 2
    assert repr(e.load_state_dict(e.state_dict())) == "<All keys matched successfully>"
    with pytest.raises(RuntimeError, match=r"size mismatch for weight"):
        e.load_state_dict({"weight": ember.zeros(3, 3), "bias": ember.zeros(2)})


def test_nested_unexpected_and_missing_keys():
    e = enn.Sequential(enn.Linear(2, 2), enn.BatchNorm1d(2))
    t = tnn.Sequential(tnn.Linear(2, 2), tnn.BatchNorm1d(2))
    sd = {k: ember.tensor(v.numpy()) for k, v in t.state_dict().items()}
    del sd["1.running_var"]
    sd["0.foo"] = ember.zeros(1)
    res = e.load_state_dict(sd, strict=False)
    tsd = dict(t.state_dict())
    del tsd["1.running_var"]
    tsd["0.foo"] = torch.zeros(1)
    tres = t.load_state_dict(tsd, strict=False)
    assert res.missing_keys == tres.missing_keys
    assert res.unexpected_keys == tres.unexpected_keys


def test_state_dict_is_detached_and_keep_vars():
    e = enn.Linear(2, 2)
    sd = e.state_dict()
    assert not sd["weight"].requires_grad
    assert e.state_dict(keep_vars=True)["weight"] is e.weight
    assert isinstance(sd, OrderedDict)


def test_setattr_registration_rules():
    m = enn.Module()
    m.p = enn.Parameter(ember.zeros(2))
    m.sub = enn.Linear(1, 1)
    m.plain = 3
    assert set(m._parameters) == {"p"} and set(m._modules) == {"sub"}
    with pytest.raises(TypeError):
        m.p = ember.zeros(2)  # a plain tensor cannot replace a parameter
    m.p = None
    assert m.p is None and list(m.parameters()) == list(m.sub.parameters())
    m.register_buffer("b", ember.ones(1))
    m.b = ember.zeros(1)
    assert "b" in m._buffers
    with pytest.raises(TypeError):
        m.b = 3
    with pytest.raises(KeyError):
        m.register_buffer("plain", ember.ones(1))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(enn.Module):
            def __init__(self):
                self.w = enn.Parameter(ember.zeros(1))
        Bad()


def test_shared_parameters_are_listed_once():
    lin = enn.Linear(2, 2)
    seq = enn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_modules())) == 2
    assert len(list(seq.named_modules(remove_duplicate=False))) == 3
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_train_eval_requires_grad_zero_grad_apply():
    net = enn.Sequential(enn.Linear(2, 3), enn.Dropout(), enn.BatchNorm1d(3))
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.requires_grad_()
    net(ember.tensor(randn(4, 2))).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(to_numpy(p.grad).sum()) == 0.0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Dropout", "BatchNorm1d", "Sequential"]


def test_to_dtype_keeps_parameter_objects():
    net = enn.Sequential(enn.Linear(2, 3), enn.BatchNorm1d(3))
    w = net[0].weight
    net.double()
    assert net[0].weight.dtype == ember.float64
    assert net[1].running_mean.dtype == ember.float64
    assert net[1].num_batches_tracked.dtype == ember.int64  # integer buffers keep their dtype
    assert isinstance(net[0].weight, enn.Parameter) and net[0].weight.requires_grad
    net.to(ember.float32)
    assert net[0].weight.dtype == ember.float32
    net.half().float()
    assert net[0].weight.dtype == ember.float32
    net.to("cpu").cpu()
    out = net(ember.tensor(randn(4, 2)))
    assert out.dtype == ember.float32
    assert net[0].weight is w  # converted in place (param.data = ...), as torch does


def test_hooks():
    lin = enn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre") or (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append("post") or out + 1)
    out = lin(ember.tensor(randn(3, 2)))
    assert calls == ["pre", "post"]
    bias = to_numpy(lin.bias)
    assert_close(to_numpy(out), np.broadcast_to(bias + 1, (3, 2)))
    h1.remove()
    h2.remove()
    lin(ember.tensor(randn(3, 2)))
    assert calls == ["pre", "post"]
    kw = []
    lin.register_forward_pre_hook(lambda m, a, k: kw.append(k) or None, with_kwargs=True)
    lin(ember.tensor(randn(1, 2)))
    assert kw == [{}]


def test_full_backward_hook():
    lin = enn.Linear(3, 2)
    got = {}

    def hook(module, grad_input, grad_output):
        got["in"] = grad_input
        got["out"] = grad_output

    lin.register_full_backward_hook(hook)
    x = ember.tensor(randn(4, 3), requires_grad=True)
    lin(x).sum().backward()
    assert tuple(got["out"][0].shape) == (4, 2)
    assert tuple(got["in"][0].shape) == (4, 3)
    assert_close(to_numpy(got["in"][0]), to_numpy(x.grad))


def test_sequential_indexing_slicing_append():
    layers = [enn.Linear(2, 3), enn.ReLU(), enn.Linear(3, 1)]
    seq = enn.Sequential(*layers)
    assert len(seq) == 3 and seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, enn.Sequential) and len(sub) == 2 and sub[0] is layers[1]
    assert list(sub._modules) == ["1", "2"]  # torch keeps the original keys
    seq.append(enn.Sigmoid())
    assert len(seq) == 4 and list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is layers[2]
    with pytest.raises(IndexError):
        seq[5]
    named = enn.Sequential(OrderedDict([("fc", enn.Linear(1, 1)), ("act", enn.Tanh())]))
    assert list(named.state_dict()) == ["fc.weight", "fc.bias"]
    t_named = tnn.Sequential(OrderedDict([("fc", tnn.Linear(1, 1)), ("act", tnn.Tanh())]))
    assert repr(named) == repr(t_named)
    assert [type(m).__name__ for m in seq] == ["Linear", "Linear", "Sigmoid"]


def test_modulelist_repr_compresses_repeats_like_torch():
    e = enn.ModuleList([enn.Linear(2, 2) for _ in range(3)] + [enn.ReLU()] +
                       [enn.Linear(2, 3)])
    t = tnn.ModuleList([tnn.Linear(2, 2) for _ in range(3)] + [tnn.ReLU()] + [tnn.Linear(2, 3)])
    assert repr(e) == repr(t)
    assert repr(enn.ModuleList()) == repr(tnn.ModuleList())
    e.append(enn.Tanh())
    e.extend([enn.Tanh()])
    e.insert(0, enn.Identity())
    assert len(e) == 8 and isinstance(e[0], enn.Identity) and isinstance(e[-1], enn.Tanh)
    assert isinstance(e[1:3], enn.ModuleList)


def test_moduledict():
    d = enn.ModuleDict({"a": enn.Linear(1, 1)})
    d["b"] = enn.ReLU()
    d.update([("c", enn.Tanh())])
    assert list(d.keys()) == ["a", "b", "c"] and "b" in d and len(d) == 3
    assert list(d.state_dict()) == ["a.weight", "a.bias"]
    assert isinstance(d.pop("b"), enn.ReLU) and len(d) == 2


def test_parameterlist_and_dict():
    pl = enn.ParameterList([enn.Parameter(ember.zeros(2, 3)), ember.ones(4)])
    assert len(pl) == 2 and isinstance(pl[1], enn.Parameter)
    assert list(pl.state_dict()) == ["0", "1"]
    tpl = tnn.ParameterList([tnn.Parameter(torch.zeros(2, 3)), torch.ones(4)])
    assert repr(pl) == ember_repr(repr(tpl))
    pl.append(enn.Parameter(ember.zeros(1)))
    assert len(list(pl.parameters())) == 3
    pd = enn.ParameterDict({"w": enn.Parameter(ember.zeros(2)), "b": ember.ones(1)})
    tpd = tnn.ParameterDict({"w": tnn.Parameter(torch.zeros(2)), "b": torch.ones(1)})
    assert list(pd.keys()) == ["b", "w"] and isinstance(pd["b"], enn.Parameter)
    assert list(pd.state_dict()) == list(tpd.state_dict())
    assert repr(pd) == ember_repr(repr(tpd))


def test_parameter_shares_storage_and_reprs():
    t = ember.zeros(3)
    p = enn.Parameter(t)
    assert p.requires_grad and isinstance(p, ember.Tensor) and p.is_leaf
    with ember.no_grad():
        p.add_(1.0)
    assert to_numpy(t).tolist() == [1.0, 1.0, 1.0]
    assert repr(p).startswith("Parameter containing:\n")
    assert not enn.Parameter(ember.zeros(1), requires_grad=False).requires_grad
    q = copy.deepcopy(p)
    assert isinstance(q, enn.Parameter) and q.requires_grad
    with ember.no_grad():
        q.add_(1.0)
    assert to_numpy(p).tolist() == [1.0, 1.0, 1.0]


def test_deepcopy_module():
    net = enn.Sequential(enn.Linear(2, 2), enn.BatchNorm1d(2))
    clone = copy.deepcopy(net)
    assert clone[0].weight is not net[0].weight
    assert_close(to_numpy(clone[0].weight), to_numpy(net[0].weight))
    with ember.no_grad():
        clone[0].weight.add_(1.0)
    assert not np.allclose(to_numpy(clone[0].weight), to_numpy(net[0].weight))


def test_get_submodule_and_dir():
    t, e = _simple(tnn, torch), _simple(enn, ember)
    assert e.get_submodule("body.1") is e.body[1]
    assert e.get_parameter("body.1.weight") is e.body[1].weight
    assert "conv" in dir(e) and "scale" in dir(e)


def test_default_inits_have_torchs_ranges():
    lin = enn.Linear(64, 128)
    bound = 1 / np.sqrt(64)
    w = to_numpy(lin.weight)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(to_numpy(lin.bias)).max() <= bound
    conv = enn.Conv2d(4, 8, 3)
    assert np.abs(to_numpy(conv.weight)).max() <= 1 / np.sqrt(36)
    emb = enn.Embedding(1000, 16)
    assert abs(to_numpy(emb.weight).std() - 1.0) < 0.05
    lstm = enn.LSTM(4, 10)
    assert all(np.abs(to_numpy(p)).max() <= 1 / np.sqrt(10) for p in lstm.parameters())
    bn = enn.BatchNorm2d(3)
    assert to_numpy(bn.weight).tolist() == [1.0] * 3 and to_numpy(bn.bias).tolist() == [0.0] * 3
