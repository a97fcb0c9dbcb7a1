"""nn.LSTM(proj_size=...) against torch's LSTM with projections: parameters and state_dict,
outputs, states and every gradient (weights copied through NumPy), on every available device;
packed sequences; gradcheck in float64; torch's errors."""
import numpy as np
import pytest

import ember
from nn_helpers import DEVICES, NO_OPENCL, assert_close, randn, to_numpy

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
tnn = torch.nn
enn = ember.nn
# torch's cpu LSTMP falls back from oneDNN and says so on every call
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")



def pair(*args, **kwargs):
    """A torch LSTM and an ember LSTM holding the torch one's weights."""
    t = tnn.LSTM(*args, **kwargs)
    e = enn.LSTM(*args, **kwargs)
    sd = {k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()}
    e.load_state_dict(sd)
    return t, e


def run_both(t, e, device, x, h0=None, c0=None):
    """Forward both with the same inputs, backpropagate the same cotangents through output, h_n
    and c_n, and compare values and the gradients of inputs, states and parameters."""
    e = e.to(device)
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, device=device, requires_grad=True)
    t_state = e_state = None
    if h0 is not None:
        t_state = [torch.tensor(a, requires_grad=True) for a in (h0, c0)]
        e_state = [ember.tensor(a, device=device, requires_grad=True) for a in (h0, c0)]
    t_out, (t_h, t_c) = t(tx, None if t_state is None else tuple(t_state))
    e_out, (e_h, e_c) = e(ex, None if e_state is None else tuple(e_state))
    loss_t, loss_e = 0, 0
    for i, (a, b) in enumerate([(e_out, t_out), (e_h, t_h), (e_c, t_c)]):
        assert b.device.type == "cpu" and a.device.type == device
        assert tuple(a.shape) == tuple(b.shape), f"output {i}: {tuple(a.shape)}"
        assert_close(to_numpy(a), to_numpy(b), what=f"output {i}")
        g = randn(*b.shape, seed=20 + i)
        loss_t = loss_t + (b * torch.tensor(g)).sum()
        loss_e = loss_e + (a * ember.tensor(g, device=device)).sum()
    loss_t.backward()
    loss_e.backward()
    assert_close(to_numpy(ex.grad), to_numpy(tx.grad), what="grad of input")
    if t_state is not None:
        for name, a, b in zip(("h0", "c0"), e_state, t_state):
            assert_close(to_numpy(a.grad), to_numpy(b.grad), what=f"grad of {name}")
    t_params = dict(t.named_parameters())
    for name, p in e.named_parameters():
        assert_close(to_numpy(p.grad), to_numpy(t_params[name].grad), what=f"grad of {name}")
    return e_out, e_h, e_c


CONFIGS = [
    # input_size, hidden_size, num_layers, proj_size, extra kwargs
    (4, 6, 1, 3, {}),
    (4, 6, 2, 2, {"bidirectional": True}),
    (3, 5, 3, 4, {"bidirectional": True, "batch_first": True, "bias": False}),
    (4, 7, 2, 1, {"batch_first": True}),
    (5, 8, 1, 6, {"bidirectional": True}),
    (2, 9, 2, 5, {"bias": False}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(i) for i in range(len(CONFIGS))])
def test_lstm_proj_matches_torch(device, with_state, cfg):
    inp, hidden, layers, proj, kwargs = cfg
    t, e = pair(inp, hidden, layers, proj_size=proj, **kwargs)
    steps, batch = 5, 3
    x = randn(*((batch, steps, inp) if kwargs.get("batch_first") else (steps, batch, inp)))
    dirs = 2 if kwargs.get("bidirectional") else 1
    states = {}
    if with_state:
        states = {"h0": randn(layers * dirs, batch, proj, seed=1),
                  "c0": randn(layers * dirs, batch, hidden, seed=2)}
    out, h, c = run_both(t, e, device, x, **states)
    t_len = (1 if kwargs.get("batch_first") else 0)
    assert out.shape[t_len] == steps and out.shape[-1] == dirs * proj
    assert tuple(h.shape) == (layers * dirs, batch, proj)
    assert tuple(c.shape) == (layers * dirs, batch, hidden)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_proj_unbatched(device, with_state):
    t, e = pair(4, 6, 2, proj_size=3, bidirectional=True)
    states = {"h0": randn(4, 3, seed=1), "c0": randn(4, 6, seed=2)} if with_state else {}
    out, h, c = run_both(t, e, device, randn(5, 4), **states)
    assert tuple(out.shape) == (5, 6) and tuple(h.shape) == (4, 3) and tuple(c.shape) == (4, 6)


@pytest.mark.parametrize("kwargs", [{}, {"bidirectional": True, "num_layers": 2},
                                    {"bias": False, "num_layers": 3}])
def test_parameters_state_dict_and_repr_match_torch(kwargs):
    t = tnn.LSTM(5, 7, proj_size=3, **kwargs)
    e = enn.LSTM(5, 7, proj_size=3, **kwargs)
    assert repr(e) == repr(t)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [tuple(p.shape) for p in e.parameters()] == [tuple(p.shape) for p in t.parameters()]
    assert list(e.state_dict()) == list(t.state_dict())
    assert [[tuple(p.shape) for p in ws] for ws in e.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in t.all_weights]
    # a torch LSTMP's state_dict loads strictly, and a mismatched proj_size does not
    sd = {k: ember.tensor(v.detach().numpy()) for k, v in t.state_dict().items()}
    e.load_state_dict(sd, strict=True)
    for name, p in e.state_dict().items():
        np.testing.assert_array_equal(p.numpy(), t.state_dict()[name].numpy())
    with pytest.raises(Exception):
        enn.LSTM(5, 7, proj_size=2, **kwargs).load_state_dict(sd, strict=True)
    with pytest.raises(Exception):
        enn.LSTM(5, 7, **kwargs).load_state_dict(sd, strict=True)


def test_init_range_matches_torch():
    """reset_parameters draws every weight, W_hr included, from U(-1/sqrt(hidden), ...)."""
    e = enn.LSTM(4, 16, proj_size=3)
    bound = 1.0 / 16 ** 0.5
    for name, p in e.named_parameters():
        v = p.detach().numpy()
        assert v.min() >= -bound and v.max() <= bound and v.std() > 0, name


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_proj_on_packed_sequences(device, bidirectional):
    t, e = pair(3, 6, 2, proj_size=2, bidirectional=bidirectional, batch_first=True)
    e = e.to(device)
    x = randn(3, 5, 3)
    lengths = [2, 5, 3]
    dirs = 2 if bidirectional else 1
    h0, c0 = randn(2 * dirs, 3, 2, seed=4), randn(2 * dirs, 3, 6, seed=5)
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, device=device, requires_grad=True)
    tp = tnn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=True, enforce_sorted=False)
    ep = enn.utils.rnn.pack_padded_sequence(ex, lengths, batch_first=True, enforce_sorted=False)
    t_out, (t_h, t_c) = t(tp, (torch.tensor(h0), torch.tensor(c0)))
    e_out, (e_h, e_c) = e(ep, (ember.tensor(h0, device=device), ember.tensor(c0, device=device)))
    assert_close(to_numpy(e_out.data), to_numpy(t_out.data), what="packed output")
    assert e_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    assert_close(to_numpy(e_h), to_numpy(t_h), what="h_n")
    assert_close(to_numpy(e_c), to_numpy(t_c), what="c_n")
    t_pad, _ = tnn.utils.rnn.pad_packed_sequence(t_out, batch_first=True)
    e_pad, _ = enn.utils.rnn.pad_packed_sequence(e_out, batch_first=True)
    g = randn(*t_pad.shape, seed=9)
    ((t_pad * torch.tensor(g)).sum() + t_h.sum() + 2 * t_c.sum()).backward()
    ((e_pad * ember.tensor(g, device=device)).sum() + e_h.sum() + 2 * e_c.sum()).backward()
    assert_close(to_numpy(ex.grad), to_numpy(tx.grad), what="grad of input")
    t_params = dict(t.named_parameters())
    for name, p in e.named_parameters():
        assert_close(to_numpy(p.grad), to_numpy(t_params[name].grad), what=f"grad of {name}")


def test_dropout_between_layers_in_eval_matches_torch():
    t, e = pair(3, 6, 3, proj_size=2, dropout=0.5)
    t.eval()
    e.eval()
    run_both(t, e, "cpu", randn(4, 2, 3))
    e.train()
    out, (h, c) = e(ember.tensor(randn(4, 2, 3)))
    assert tuple(out.shape) == (4, 2, 2) and tuple(c.shape) == (3, 2, 6)


# NOTE: the bidirectional two-layer case runs on cpu only: on PoCL its hundreds of small float64
# launches take ~15 s, and the one-layer case already checks the device's kernels
@pytest.mark.parametrize("device,kwargs", [
    ("cpu", {}), ("cpu", {"bidirectional": True, "num_layers": 2}),
    pytest.param("opencl", {}, marks=NO_OPENCL)])
def test_gradcheck_float64(device, kwargs):
    e = enn.LSTM(2, 3, proj_size=2, dtype=ember.float64, **kwargs).to(device)
    dirs = 2 if kwargs.get("bidirectional") else 1
    layers = kwargs.get("num_layers", 1)

    def mk(*shape, seed):
        return ember.tensor(randn(*shape, seed=seed).astype(np.float64), device=device,
                            requires_grad=True)
    states = layers * dirs
    x, h0, c0 = mk(3, 2, 2, seed=0), mk(states, 2, 2, seed=1), mk(states, 2, 3, seed=2)

    def f(x, h0, c0):
        out, (h, c) = e(x, (h0, c0))
        return out, h, c
    assert ember.autograd.gradcheck(f, (x, h0, c0))
    # the weights too (gradcheck perturbs them in place): the projection W_hr, the recurrent
    # weight of the last layer and its input weight, which reads the projected h of the layer
    # below when there is one
    params = [getattr(e, n) for n in ("weight_hr_l0", f"weight_hh_l{layers - 1}",
                                      f"weight_ih_l{layers - 1}")]
    assert ember.autograd.gradcheck(lambda *ws: f(x, h0, c0), tuple(params))


CTOR_ERRORS = [
    ("LSTM", (4, 6), {"proj_size": 6}), ("LSTM", (4, 6), {"proj_size": 9}),
    ("LSTM", (4, 6), {"proj_size": -1}), ("RNN", (4, 6), {"proj_size": 2}),
    ("GRU", (4, 6), {"proj_size": 2}), ("RNN", (4, 6), {"proj_size": 0}),
]


@pytest.mark.parametrize("name,args,kwargs", CTOR_ERRORS,
                         ids=[str(i) for i in range(len(CTOR_ERRORS))])
def test_constructor_errors_match_torch(name, args, kwargs):
    with pytest.raises(ValueError) as t_err:
        getattr(tnn, name)(*args, **kwargs)
    with pytest.raises(ValueError) as e_err:
        getattr(enn, name)(*args, **kwargs)
    assert str(e_err.value) == str(t_err.value)


STATE_ERRORS = [
    # input shape, h0 shape, c0 shape
    ((5, 3, 4), (2, 3, 6), (2, 3, 6)),   # h0 sized hidden_size instead of proj_size
    ((5, 3, 4), (2, 3, 2), (2, 3, 2)),   # c0 sized proj_size instead of hidden_size
    ((5, 3, 4), (2, 2, 2), (2, 3, 6)),   # wrong batch
    ((5, 3, 4), (1, 3, 2), (2, 3, 6)),   # wrong layers
    ((5, 3, 4), (3, 2), (2, 3, 6)),      # 2-d state for batched input
    ((5, 4), (2, 2), (2, 6, 1)),         # 3-d state for unbatched input
    ((5, 4), (2, 6), (2, 6)),            # unbatched, h0 sized hidden_size
    ((5, 3, 5), (2, 3, 2), (2, 3, 6)),   # wrong input_size
]


@pytest.mark.parametrize("x_shape,h_shape,c_shape", STATE_ERRORS,
                         ids=[str(i) for i in range(len(STATE_ERRORS))])
def test_state_shape_errors_match_torch(x_shape, h_shape, c_shape):
    t, e = pair(4, 6, 2, proj_size=2)
    x, h0, c0 = randn(*x_shape), randn(*h_shape, seed=1), randn(*c_shape, seed=2)
    with pytest.raises(RuntimeError) as t_err:
        t(torch.tensor(x), (torch.tensor(h0), torch.tensor(c0)))
    with pytest.raises(RuntimeError) as e_err:
        e(ember.tensor(x), (ember.tensor(h0), ember.tensor(c0)))
    assert str(e_err.value) == str(t_err.value)
