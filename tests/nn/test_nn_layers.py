"""Each layer against torch.nn: same weights (copied by state_dict), same outputs, same input
and parameter gradients, same repr and state_dict keys."""
import numpy as np
import pytest

import ember
from nn_helpers import randn, check_module, copy_state, to_numpy, assert_close, ember_repr

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
tnn = torch.nn
enn = ember.nn


def _pair(name, *args, **kwargs):
    return getattr(tnn, name)(*args, **kwargs), getattr(enn, name)(*args, **kwargs)


LAYERS = [
    # (layer name, args, kwargs, input shapes)
    ("Identity", (), {}, [(3, 4)]),
    ("Linear", (5, 3), {}, [(4, 5)]),
    ("Linear", (5, 3), {"bias": False}, [(2, 4, 5)]),
    ("Bilinear", (4, 5, 3), {}, [(6, 4), (6, 5)]),
    ("Conv1d", (3, 4, 3), {}, [(2, 3, 10)]),
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, [(2, 4, 11)]),
    ("Conv1d", (3, 4, 4), {"padding": "same"}, [(2, 3, 9)]),
    ("Conv2d", (3, 5, 3), {}, [(2, 3, 8, 7)]),
    ("Conv2d", (3, 5, 3), {"padding": 1, "stride": 2}, [(2, 3, 9, 8)]),
    ("Conv2d", (4, 6, (3, 2)), {"padding": (2, 1), "stride": (1, 2), "dilation": (2, 1),
                                "groups": 2}, [(2, 4, 9, 8)]),
    ("Conv2d", (3, 4, 4), {"padding": "same", "dilation": 2}, [(1, 3, 9, 10)]),
    ("Conv2d", (3, 4, 3), {"padding": "valid", "bias": False}, [(2, 3, 6, 6)]),
    ("Conv2d", (3, 4, 3), {"padding": 2, "padding_mode": "reflect"}, [(2, 3, 6, 7)]),
    ("Conv2d", (3, 4, 3), {"padding": 1, "padding_mode": "replicate"}, [(2, 3, 6, 7)]),
    ("Conv2d", (3, 4, 3), {"padding": 1, "padding_mode": "circular"}, [(2, 3, 6, 7)]),
    ("Conv2d", (4, 4, 3), {"groups": 4, "padding": 1}, [(2, 4, 5, 5)]),
    ("Conv2d", (3, 5, 3), {}, [(3, 8, 7)]),  # unbatched
    ("ConvTranspose2d", (3, 4, 3), {}, [(2, 3, 5, 6)]),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "output_padding": 1,
                                    "groups": 2}, [(2, 4, 5, 4)]),
    ("ConvTranspose2d", (3, 2, (2, 3)), {"stride": (2, 1), "dilation": 2, "padding": (0, 3),
                                         "bias": False}, [(1, 3, 4, 5)]),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1}, [(2, 3, 11)]),
    ("MaxPool2d", (2,), {}, [(2, 3, 8, 8)]),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "dilation": 1}, [(2, 3, 9, 8)]),
    ("MaxPool2d", ((3, 2),), {"stride": (2, 1), "dilation": (1, 2), "ceil_mode": True},
     [(2, 2, 8, 9)]),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True}, [(1, 2, 8, 8)]),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1}, [(2, 3, 10)]),
    ("AvgPool2d", (2,), {}, [(2, 3, 8, 8)]),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1}, [(2, 3, 9, 8)]),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, [(2, 3, 9, 8)]),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, [(2, 3, 8, 8)]),
    ("AvgPool2d", (3,), {"stride": 2, "ceil_mode": True, "count_include_pad": False},
     [(2, 3, 8, 8)]),
    ("AvgPool2d", (2,), {"divisor_override": 3}, [(1, 2, 6, 6)]),
    ("AdaptiveAvgPool2d", ((1, 1),), {}, [(2, 3, 7, 6)]),
    ("AdaptiveAvgPool2d", ((3, 4),), {}, [(2, 3, 7, 10)]),
    ("AdaptiveAvgPool2d", (2,), {}, [(2, 3, 6, 6)]),
    ("AdaptiveAvgPool1d", (4,), {}, [(2, 3, 10)]),
    ("BatchNorm1d", (4,), {}, [(8, 4)]),
    ("BatchNorm1d", (4,), {"affine": False}, [(5, 4, 6)]),
    ("BatchNorm2d", (3,), {}, [(4, 3, 5, 5)]),
    ("BatchNorm2d", (3,), {"momentum": None}, [(4, 3, 5, 5)]),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, [(4, 3, 5, 5)]),
    ("LayerNorm", (6,), {}, [(3, 4, 6)]),
    ("LayerNorm", ((4, 6),), {"eps": 1e-3, "bias": False}, [(3, 4, 6)]),
    ("LayerNorm", (6,), {"elementwise_affine": False}, [(3, 6)]),
    ("GroupNorm", (2, 6), {}, [(3, 6, 4, 5)]),
    ("GroupNorm", (3, 6), {"affine": False}, [(3, 6, 7)]),
    ("Flatten", (), {}, [(2, 3, 4, 5)]),
    ("Flatten", (0, 2), {}, [(2, 3, 4, 5)]),
    ("Unflatten", (1, (2, 3)), {}, [(4, 6, 5)]),
    ("Dropout", (0.3,), {}, [(4, 5)]),  # compared in eval mode below
    ("PReLU", (), {}, [(4, 5)]),
    ("PReLU", (3,), {"init": 0.1}, [(2, 3, 4)]),
    ("ConvTranspose1d", (3, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1},
     [(2, 3, 7)]),
    ("AdaptiveMaxPool2d", ((3, 4),), {}, [(2, 3, 7, 10)]),
    ("AdaptiveMaxPool2d", (2,), {}, [(2, 3, 6, 6)]),
    ("AdaptiveMaxPool1d", (3,), {}, [(2, 3, 8)]),
    ("ZeroPad2d", ((1, 2, 0, 1),), {}, [(2, 3, 4, 4)]),
    ("ConstantPad1d", (2, 3.5), {}, [(2, 3, 4)]),
    ("ReflectionPad2d", (1,), {}, [(2, 3, 4, 4)]),
    ("ReplicationPad1d", ((2, 1),), {}, [(2, 3, 4)]),
    ("CircularPad2d", (1,), {}, [(2, 3, 4, 4)]),
    ("CosineSimilarity", (), {}, [(3, 5), (3, 5)]),
    ("PairwiseDistance", (), {"p": 1.0}, [(3, 5), (3, 5)]),
    ("Unfold", ((2, 3),), {"padding": 1, "stride": 2}, [(2, 3, 5, 6)]),
    ("Softshrink", (0.3,), {}, [(4, 5)]),
    ("Hardshrink", (), {}, [(4, 5)]),
]


def _randomise(t_mod):
    # non-trivial affine/stat values so that copying them is actually tested
    with torch.no_grad():
        for name, b in t_mod.named_buffers():
            if b.is_floating_point():
                b.copy_(torch.rand(b.shape) + 0.5)
        for p in t_mod.parameters():
            p.add_(torch.randn(p.shape) * 0.1)


@pytest.mark.parametrize("name,args,kwargs,shapes", LAYERS,
                         ids=[f"{l[0]}-{i}" for i, l in enumerate(LAYERS)])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_layer_matches_torch(name, args, kwargs, shapes, mode):
    t_mod, e_mod = _pair(name, *args, **kwargs)
    assert repr(e_mod) == ember_repr(repr(t_mod))
    _randomise(t_mod)
    if mode == "eval" or name == "Dropout":
        t_mod.eval()
        e_mod.eval()
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check_module(torch, t_mod, e_mod, arrays, atol=1e-4)
    # running statistics (and their count) are updated exactly as torch's
    for (tn, tb), (en, eb) in zip(t_mod.named_buffers(), e_mod.named_buffers()):
        assert tn == en
        assert_close(to_numpy(eb), to_numpy(tb), atol=1e-5, what=tn)


def test_maxpool_return_indices():
    for kwargs, shape in [({"kernel_size": 3, "stride": 2, "padding": 1}, (2, 3, 9, 8)),
                          ({"kernel_size": (2, 3), "dilation": (2, 1), "ceil_mode": True},
                           (1, 2, 7, 8))]:
        t_mod = tnn.MaxPool2d(return_indices=True, **kwargs)
        e_mod = enn.MaxPool2d(return_indices=True, **kwargs)
        x = randn(*shape)
        t_out, t_idx = t_mod(torch.tensor(x))
        e_out, e_idx = e_mod(ember.tensor(x))
        assert_close(to_numpy(e_out), to_numpy(t_out))
        assert e_idx.dtype == ember.int64
        np.testing.assert_array_equal(to_numpy(e_idx), to_numpy(t_idx))
    t_out, t_idx = tnn.MaxPool1d(3, 2, 1, return_indices=True)(torch.tensor(randn(2, 3, 10)))
    e_out, e_idx = enn.MaxPool1d(3, 2, 1, return_indices=True)(ember.tensor(randn(2, 3, 10)))
    np.testing.assert_array_equal(to_numpy(e_idx), to_numpy(t_idx))


def test_maxpool_gradient_goes_to_first_max_on_ties():
    # after a ReLU many windows are all zeros: torch gives the whole gradient to one element
    x = np.zeros((1, 1, 4, 4), np.float32)
    x[0, 0, 0, 0] = 1.0
    tx = torch.tensor(x, requires_grad=True)
    ex = ember.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(tx, 2).sum().backward()
    ember.nn.functional.max_pool2d(ex, 2).sum().backward()
    np.testing.assert_array_equal(to_numpy(ex.grad), to_numpy(tx.grad))


def test_batchnorm_running_stats_over_steps():
    t_bn, e_bn = tnn.BatchNorm2d(3, momentum=0.3), enn.BatchNorm2d(3, momentum=0.3)
    for step in range(3):
        x = randn(4, 3, 5, 5, seed=step, scale=2.0) + step
        t_bn(torch.tensor(x))
        e_bn(ember.tensor(x))
    for (tn, tb), (en, eb) in zip(t_bn.state_dict().items(), e_bn.state_dict().items()):
        assert tn == en
        assert_close(to_numpy(eb), to_numpy(tb), what=tn)
    assert int(e_bn.num_batches_tracked.item()) == 3
    e_bn.eval()
    t_bn.eval()
    x = randn(2, 3, 5, 5, seed=9)
    assert_close(to_numpy(e_bn(ember.tensor(x))), to_numpy(t_bn(torch.tensor(x))))


def test_batchnorm_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        enn.BatchNorm1d(3)(ember.tensor(randn(1, 3)))


def test_embedding_matches_torch_and_padding_idx_gets_no_grad():
    t_mod, e_mod = _pair("Embedding", 10, 4, padding_idx=2)
    assert repr(e_mod) == repr(t_mod)
    assert to_numpy(e_mod.weight)[2].tolist() == [0.0] * 4
    idx = np.array([[1, 2, 3], [2, 9, 1]], dtype=np.int64)
    check_module(torch, t_mod, e_mod, [idx], requires_grad=[False])
    assert to_numpy(e_mod.weight.grad)[2].tolist() == [0.0] * 4


def test_embedding_from_pretrained_and_max_norm():
    w = randn(5, 3, scale=3.0)
    e = enn.Embedding.from_pretrained(ember.tensor(w))
    t = tnn.Embedding.from_pretrained(torch.tensor(w))
    assert not e.weight.requires_grad
    idx = np.array([0, 4, 4], np.int64)
    assert_close(to_numpy(e(ember.tensor(idx))), to_numpy(t(torch.tensor(idx))))
    t_mod, e_mod = _pair("Embedding", 6, 3, max_norm=1.0)
    copy_state(t_mod, e_mod)
    idx = np.array([1, 3, 3], np.int64)
    assert_close(to_numpy(e_mod(ember.tensor(idx))), to_numpy(t_mod(torch.tensor(idx))))
    assert_close(to_numpy(e_mod.weight), to_numpy(t_mod.weight.detach()))


def test_dropout_train_mode():
    x = ember.ones(200, 100)
    d = enn.Dropout(0.25)
    y = to_numpy(d(x))
    kept = y != 0
    assert 0.7 < kept.mean() < 0.8
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert to_numpy(d(x)).min() == 1.0
    x = ember.ones(10, 10, requires_grad=True)
    y = enn.functional.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(y.detach()))
    assert to_numpy(enn.functional.dropout(x, 1.0)).max() == 0.0
    with pytest.raises(ValueError):
        enn.Dropout(1.5)


def test_dropout2d_zeroes_whole_channels():
    y = to_numpy(enn.Dropout2d(0.5)(ember.ones(8, 16, 3, 3)))
    per_channel = y.reshape(8, 16, 9)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))


ACTIVATIONS = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}), ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}), ("SiLU", (), {}), ("Mish", (), {}), ("Tanh", (), {}),
    ("Sigmoid", (), {}), ("Softmax", (1,), {}), ("LogSoftmax", (-1,), {}), ("Softmin", (0,), {}),
    ("ELU", (), {}), ("ELU", (0.5,), {}), ("SELU", (), {}), ("CELU", (1.5,), {}),
    ("Softplus", (), {}), ("Softplus", (2.0, 3.0), {}), ("Softsign", (), {}),
    ("Hardtanh", (), {}), ("Hardtanh", (-2.0, 0.5), {}), ("Hardsigmoid", (), {}),
    ("Hardswish", (), {}), ("Tanhshrink", (), {}), ("Threshold", (0.1, 20.0), {}),
    ("LogSigmoid", (), {}), ("GLU", (), {}), ("ReLU", (), {"inplace": True}),
]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS,
                         ids=[f"{a[0]}-{i}" for i, a in enumerate(ACTIVATIONS)])
def test_activation_matches_torch(name, args, kwargs):
    t_mod, e_mod = _pair(name, *args, **kwargs)
    assert repr(e_mod) == repr(t_mod)
    x = randn(4, 6, scale=3.0)
    # include the kinks and large values where branches switch
    x[0, :6] = [0.0, -3.0, 3.0, 6.0, 25.0, -30.0]
    if name == "Threshold":
        x[1, 0] = 0.1
    if kwargs.get("inplace"):
        check_module(torch, t_mod, e_mod, [x], requires_grad=[False])
    else:
        check_module(torch, t_mod, e_mod, [x])


def test_softmax_implicit_dim_warns_like_torch():
    x = randn(2, 3, 4)
    with pytest.warns(UserWarning):
        e = enn.functional.softmax(ember.tensor(x))
    with pytest.warns(UserWarning):
        t = torch.nn.functional.softmax(torch.tensor(x))
    assert_close(to_numpy(e), to_numpy(t))


def test_conv_errors():
    with pytest.raises(ValueError, match="strided"):
        enn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError):
        enn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(RuntimeError, match="channels"):
        enn.Conv2d(3, 4, 3)(ember.tensor(randn(1, 2, 5, 5)))


def test_conv_transpose_output_size():
    t_mod, e_mod = _pair("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    copy_state(t_mod, e_mod)
    x = randn(1, 2, 4, 4)
    t = t_mod(torch.tensor(x), output_size=[8, 8])
    e = e_mod(ember.tensor(x), output_size=[8, 8])
    assert tuple(e.shape) == (1, 3, 8, 8)
    assert_close(to_numpy(e), to_numpy(t.detach()))


def test_conv2d_is_a_single_matmul_fast_enough():
    # a regression guard for Python-level loops over pixels: a 64x64 conv with 16 channels must
    # finish well under a second on cpu
    import time
    conv = enn.Conv2d(16, 16, 3, padding=1)
    x = ember.tensor(randn(8, 16, 64, 64), requires_grad=True)
    start = time.perf_counter()
    conv(x).sum().backward()
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.1,)),
                                       ("ELU", ()), ("SiLU", ()), ("Hardtanh", (-1.0, 1.0)),
                                       ("Hardswish", ()), ("Threshold", (0.1, 2.0))])
def test_inplace_activations_write_into_their_input(name, args):
    """ReLU(inplace=True) etc. overwrite the input, and gradients flow as torch's."""
    x = randn(3, 4, scale=3.0)
    ta = torch.tensor(x, requires_grad=True)
    ea = ember.tensor(x, requires_grad=True)
    tx, ex = ta * 1.5, ea * 1.5
    t_out = getattr(tnn, name)(*args, inplace=True)(tx)
    e_out = getattr(enn, name)(*args, inplace=True)(ex)
    assert e_out is ex
    assert_close(to_numpy(ex), to_numpy(tx))
    g = randn(3, 4, seed=7)
    (t_out * torch.tensor(g)).sum().backward()
    (e_out * ember.tensor(g)).sum().backward()
    assert_close(to_numpy(ea.grad), to_numpy(ta.grad))


def test_adaptive_max_pool_return_indices():
    x = randn(2, 3, 7, 10)
    t_out, t_idx = tnn.AdaptiveMaxPool2d((3, 4), return_indices=True)(torch.tensor(x))
    e_out, e_idx = enn.AdaptiveMaxPool2d((3, 4), return_indices=True)(ember.tensor(x))
    assert_close(to_numpy(e_out), to_numpy(t_out))
    np.testing.assert_array_equal(to_numpy(e_idx), to_numpy(t_idx))


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_decoder_and_full_transformer(norm_first):
    kwargs = dict(dim_feedforward=16, dropout=0.0, batch_first=True, norm_first=norm_first)
    t_layer = tnn.TransformerDecoderLayer(8, 2, **kwargs)
    e_layer = enn.TransformerDecoderLayer(8, 2, **kwargs)
    assert repr(e_layer) == repr(t_layer)
    tgt, mem = randn(2, 4, 8), randn(2, 6, 8, seed=1)
    mask = to_numpy(enn.Transformer.generate_square_subsequent_mask(4))
    np.testing.assert_array_equal(mask, tnn.Transformer.generate_square_subsequent_mask(4).numpy())
    check_module(torch, t_layer, e_layer, [tgt, mem, mask], requires_grad=[True, True, False],
                 atol=1e-4, call=lambda m, a, b, msk: m(a, b, tgt_mask=msk))
    t_mod = tnn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
    e_mod = enn.Transformer(8, 2, 2, 1, 16, dropout=0.0, batch_first=True, norm_first=norm_first)
    assert repr(e_mod) == repr(t_mod)
    check_module(torch, t_mod, e_mod, [mem, tgt, mask], requires_grad=[True, True, False],
                 atol=1e-4, call=lambda m, a, b, msk: m(a, b, tgt_mask=msk))
