"""RNN, LSTM, GRU, MultiheadAttention and TransformerEncoder against torch (weights copied)."""
import numpy as np
import pytest

import ember
from nn_helpers import randn, check_module, copy_state, to_numpy, assert_close, ember_repr

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
tnn = torch.nn
enn = ember.nn


RNNS = [
    ("RNN", (4, 5), {}),
    ("RNN", (4, 5, 2), {"nonlinearity": "relu", "bidirectional": True}),
    ("LSTM", (4, 5), {}),
    ("LSTM", (4, 5, 2), {"batch_first": True, "bidirectional": True}),
    ("LSTM", (4, 3), {"bias": False}),
    ("GRU", (4, 5), {}),
    ("GRU", (4, 5, 3), {"batch_first": True, "bidirectional": True}),
]


@pytest.mark.parametrize("name,args,kwargs", RNNS, ids=[f"{r[0]}-{i}" for i, r in enumerate(RNNS)])
@pytest.mark.parametrize("with_h0", [False, True])
def test_rnn_matches_torch(name, args, kwargs, with_h0):
    t_mod, e_mod = getattr(tnn, name)(*args, **kwargs), getattr(enn, name)(*args, **kwargs)
    assert repr(e_mod) == repr(t_mod)
    batch_first = kwargs.get("batch_first", False)
    shape = (3, 6, args[0]) if batch_first else (6, 3, args[0])
    x = randn(*shape)
    layers = args[2] if len(args) > 2 else 1
    hshape = (layers * (2 if kwargs.get("bidirectional") else 1), 3, args[1])
    if not with_h0:
        check_module(torch, t_mod, e_mod, [x], atol=1e-5)
    elif name == "LSTM":
        check_module(torch, t_mod, e_mod, [x, randn(*hshape, seed=1), randn(*hshape, seed=2)],
                     call=lambda m, a, h, c: m(a, (h, c)))
    else:
        check_module(torch, t_mod, e_mod, [x, randn(*hshape, seed=1)])


def test_rnn_unbatched_and_dropout_between_layers():
    t_mod, e_mod = tnn.GRU(3, 4, 2), enn.GRU(3, 4, 2)
    check_module(torch, t_mod, e_mod, [randn(5, 3)])
    t_mod, e_mod = tnn.LSTM(3, 4), enn.LSTM(3, 4)
    check_module(torch, t_mod, e_mod, [randn(5, 3), randn(1, 4), randn(1, 4)],
                 call=lambda m, a, h, c: m(a, (h, c)))
    e = enn.LSTM(3, 4, 2, dropout=0.5)
    assert repr(e) == repr(tnn.LSTM(3, 4, 2, dropout=0.5))
    e.eval()
    t = tnn.LSTM(3, 4, 2, dropout=0.5).eval()
    check_module(torch, t, e, [randn(5, 2, 3)])
    e.train()
    out, _ = e(ember.tensor(randn(5, 2, 3)))
    assert tuple(out.shape) == (5, 2, 4)


def test_rnn_parameter_names_match_torch():
    for name in ("RNN", "LSTM", "GRU"):
        t = getattr(tnn, name)(3, 4, 2, bidirectional=True)
        e = getattr(enn, name)(3, 4, 2, bidirectional=True)
        assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
        assert [tuple(p.shape) for p in e.parameters()] == [tuple(p.shape) for p in t.parameters()]


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells(name):
    t_mod, e_mod = getattr(tnn, name)(4, 3), getattr(enn, name)(4, 3)
    assert repr(e_mod) == repr(t_mod)
    if name == "LSTMCell":
        check_module(torch, t_mod, e_mod, [randn(2, 4), randn(2, 3), randn(2, 3)],
                     call=lambda m, a, h, c: m(a, (h, c)))
    else:
        check_module(torch, t_mod, e_mod, [randn(2, 4), randn(2, 3)])
        check_module(torch, t_mod, e_mod, [randn(2, 4)])


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention(batch_first, average):
    t_mod = tnn.MultiheadAttention(8, 2, batch_first=batch_first)
    e_mod = enn.MultiheadAttention(8, 2, batch_first=batch_first)
    assert repr(e_mod) == repr(t_mod)
    with torch.no_grad():
        t_mod.in_proj_bias.normal_()
        t_mod.out_proj.bias.normal_()
    shape_q = (2, 5, 8) if batch_first else (5, 2, 8)
    shape_k = (2, 7, 8) if batch_first else (7, 2, 8)
    q, k, v = randn(*shape_q), randn(*shape_k, seed=1), randn(*shape_k, seed=2)
    check_module(torch, t_mod, e_mod, [q, k, v],
                 call=lambda m, a, b, c: m(a, b, c, average_attn_weights=average))
    kpm = np.zeros((2, 7), bool)
    kpm[0, 5:] = True
    mask = np.random.default_rng(3).random((5, 7)) > 0.7
    mask[:, 0] = False
    check_module(torch, t_mod, e_mod, [q, k, v, kpm, mask],
                 requires_grad=[True, True, True, False, False],
                 call=lambda m, a, b, c, kp, am: m(a, b, c, key_padding_mask=kp, attn_mask=am))
    fmask = randn(5, 7, seed=4)
    check_module(torch, t_mod, e_mod, [q, k, v, fmask],
                 requires_grad=[True, True, True, False],
                 call=lambda m, a, b, c, am: m(a, b, c, attn_mask=am, need_weights=False))


def test_multihead_attention_kdim_vdim_and_bias_kv():
    t_mod = tnn.MultiheadAttention(6, 3, kdim=4, vdim=5, add_bias_kv=True, add_zero_attn=True)
    e_mod = enn.MultiheadAttention(6, 3, kdim=4, vdim=5, add_bias_kv=True, add_zero_attn=True)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    check_module(torch, t_mod, e_mod, [randn(3, 2, 6), randn(4, 2, 4, seed=1),
                                       randn(4, 2, 5, seed=2)])


def test_multihead_attention_unbatched_self_attention():
    t_mod, e_mod = tnn.MultiheadAttention(8, 4), enn.MultiheadAttention(8, 4)
    x = randn(5, 8)
    check_module(torch, t_mod, e_mod, [x, x, x])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_layer(norm_first, activation, batch_first):
    kwargs = dict(dim_feedforward=16, dropout=0.0, activation=activation,
                  batch_first=batch_first, norm_first=norm_first)
    t_mod = tnn.TransformerEncoderLayer(8, 2, **kwargs)
    e_mod = enn.TransformerEncoderLayer(8, 2, **kwargs)
    assert repr(e_mod) == repr(t_mod)
    x = randn(3, 5, 8)
    kpm = np.zeros((3, 5) if batch_first else (5, 3), bool)
    check_module(torch, t_mod, e_mod, [x], atol=1e-4)
    if batch_first:
        kpm = np.zeros((3, 5), bool)
        kpm[1, 3:] = True
        check_module(torch, t_mod, e_mod, [x, kpm], requires_grad=[True, False], atol=1e-4,
                     call=lambda m, a, p: m(a, src_key_padding_mask=p))


def test_transformer_encoder_stack_and_causal_mask():
    layer_t = tnn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    layer_e = enn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    t_mod = tnn.TransformerEncoder(layer_t, 2, norm=tnn.LayerNorm(8), enable_nested_tensor=False)
    e_mod = enn.TransformerEncoder(layer_e, 2, norm=enn.LayerNorm(8), enable_nested_tensor=False)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    assert e_mod.layers[0].linear1.weight is not e_mod.layers[1].linear1.weight
    causal = np.triu(np.full((5, 5), -np.inf, np.float32), 1)
    check_module(torch, t_mod, e_mod, [randn(2, 5, 8), causal], requires_grad=[True, False],
                 atol=1e-4, call=lambda m, a, msk: m(a, mask=msk))


def test_transformer_encoder_layer_with_dropout_trains():
    e = enn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    out = e(ember.tensor(randn(4, 2, 8)))
    out.sum().backward()
    assert all(p.grad is not None for p in e.parameters())


def test_pack_pad_roundtrip_matches_torch():
    x = randn(3, 5, 2)
    lengths = [2, 5, 3]
    ep = ember.nn.utils.rnn.pack_padded_sequence(ember.tensor(x), lengths, batch_first=True,
                                                 enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, batch_first=True,
                                                 enforce_sorted=False)
    assert_close(to_numpy(ep.data), to_numpy(tp.data))
    assert ep.batch_sizes.tolist() == tp.batch_sizes.tolist()
    assert ep.sorted_indices.tolist() == tp.sorted_indices.tolist()
    ed, el = ember.nn.utils.rnn.pad_packed_sequence(ep, batch_first=True, total_length=6)
    td, tl = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first=True, total_length=6)
    assert_close(to_numpy(ed), to_numpy(td))
    assert el.tolist() == tl.tolist()
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        ember.nn.utils.rnn.pack_padded_sequence(ember.tensor(x), lengths, batch_first=True)
    seqs = [randn(4, 2), randn(2, 2, seed=1)]
    ep = ember.nn.utils.rnn.pack_sequence([ember.tensor(s) for s in seqs])
    tp = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs])
    assert_close(to_numpy(ep.data), to_numpy(tp.data))


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_on_packed_sequences(name, bidirectional):
    t_mod = getattr(tnn, name)(3, 4, 2, bidirectional=bidirectional, batch_first=True)
    e_mod = getattr(enn, name)(3, 4, 2, bidirectional=bidirectional, batch_first=True)
    copy_state(t_mod, e_mod)
    x = randn(3, 5, 3)
    lengths = [2, 5, 3]
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, requires_grad=True)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=True,
                                                 enforce_sorted=False)
    ep = ember.nn.utils.rnn.pack_padded_sequence(ex, lengths, batch_first=True,
                                                 enforce_sorted=False)
    t_out, t_h = t_mod(tp)
    e_out, e_h = e_mod(ep)
    assert_close(to_numpy(e_out.data), to_numpy(t_out.data))
    assert e_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    t_h = t_h if name != "LSTM" else t_h[0] + 2 * t_h[1]
    e_h = e_h if name != "LSTM" else e_h[0] + 2 * e_h[1]
    assert_close(to_numpy(e_h), to_numpy(t_h))
    t_pad, _ = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True)
    e_pad, _ = ember.nn.utils.rnn.pad_packed_sequence(e_out, batch_first=True)
    g = randn(*t_pad.shape, seed=9)
    ((t_pad * torch.tensor(g)).sum() + t_h.sum()).backward()
    ((e_pad * ember.tensor(g)).sum() + e_h.sum()).backward()
    assert_close(to_numpy(ex.grad), to_numpy(tx.grad))
    tp_ = dict(t_mod.named_parameters())
    for n, p in e_mod.named_parameters():
        assert_close(to_numpy(p.grad), to_numpy(tp_[n].grad), atol=1e-5, what=n)
