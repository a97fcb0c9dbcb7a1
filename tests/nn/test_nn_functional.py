"""ember.nn.functional against torch.nn.functional: values and gradients."""
import numpy as np
import pytest

import ember
from nn_helpers import randn, check_same, to_numpy, assert_close

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
TF = torch.nn.functional
EF = ember.nn.functional


def same(fn_name, arrays, *args, requires_grad=None, rtol=1e-4, atol=1e-5, **kwargs):
    return check_same(torch, lambda *xs: getattr(TF, fn_name)(*xs, *args, **kwargs),
                      lambda *xs: getattr(EF, fn_name)(*xs, *args, **kwargs), arrays,
                      requires_grad, rtol=rtol, atol=atol)


def labels(*shape, classes, seed=0):
    return np.random.default_rng(seed).integers(0, classes, size=shape).astype(np.int64)


@pytest.mark.parametrize("pad,mode,value", [
    ((1, 2), "constant", None), ((1, 0, 2, 3), "constant", 1.5), ((-1, 2, 0, -2), "constant", 0.0),
    ((2, 1), "reflect", None), ((2, 1, 1, 2), "reflect", None),
    ((2, 3), "replicate", None), ((1, 2, 3, 0), "replicate", None),
    ((2, 1), "circular", None), ((1, 2, 2, 1), "circular", None),
])
def test_pad(pad, mode, value):
    kwargs = {"mode": mode} if value is None else {"mode": mode, "value": value}
    # torch's non-constant modes pad a 3-d input by 2 values, a 4-d input by 4
    shape = (2, 3, 5, 6) if len(pad) == 4 or mode == "constant" else (3, 5, 6)
    same("pad", [randn(*shape)], pad, **kwargs)


def test_one_hot():
    idx = np.array([[0, 3], [2, 1]], np.int64)
    e = EF.one_hot(ember.tensor(idx), 5)
    t = TF.one_hot(torch.tensor(idx), 5)
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(to_numpy(e), to_numpy(t))
    np.testing.assert_array_equal(to_numpy(EF.one_hot(ember.tensor(idx))),
                                  to_numpy(TF.one_hot(torch.tensor(idx))))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family(dim):
    x = randn(3, 4, 5, scale=4.0)
    same("softmax", [x], dim)
    same("log_softmax", [x], dim)
    same("softmin", [x], dim)


def test_softmax_dtype_argument():
    x = randn(3, 4)
    e = EF.softmax(ember.tensor(x), 1, dtype=ember.float64)
    assert e.dtype == ember.float64
    assert_close(to_numpy(e), to_numpy(TF.softmax(torch.tensor(x), 1, dtype=torch.float64)))
    e = EF.log_softmax(ember.tensor(x), -1, dtype=ember.float64)
    assert e.dtype == ember.float64


def test_softmax_large_values_are_stable():
    x = np.array([[1000.0, 0.0, -1000.0]], np.float32)
    same("softmax", [x], 1)
    same("log_softmax", [x], 1)


@pytest.mark.parametrize("fn,args", [
    ("relu", ()), ("relu6", ()), ("leaky_relu", (0.1,)), ("gelu", ()), ("silu", ()), ("mish", ()),
    ("elu", (0.7,)), ("selu", ()), ("celu", (0.8,)), ("softplus", (1.5, 5.0)), ("softsign", ()),
    ("hardtanh", (-0.5, 0.7)), ("hardsigmoid", ()), ("hardswish", ()), ("tanhshrink", ()),
    ("threshold", (0.3, -1.0)), ("logsigmoid", ()), ("sigmoid", ()), ("tanh", ()),
])
def test_activations(fn, args):
    x = randn(5, 7, scale=4.0)
    x[0, :5] = [0.0, 3.0, -3.0, 50.0, -50.0]
    same(fn, [x], *args)


def test_prelu_and_glu():
    same("prelu", [randn(2, 3, 4), randn(3)])
    same("prelu", [randn(2, 3, 4), randn(1)])
    same("glu", [randn(2, 6)], -1)
    same("glu", [randn(4, 3)], 0)


def test_linear_bilinear():
    same("linear", [randn(2, 3, 5), randn(4, 5), randn(4)])
    same("linear", [randn(6, 5), randn(4, 5)])
    same("bilinear", [randn(2, 3, 4), randn(2, 3, 5), randn(6, 4, 5), randn(6)])


@pytest.mark.parametrize("kwargs", [
    {}, {"stride": 2}, {"padding": 1}, {"padding": (1, 2), "stride": (2, 1), "dilation": (1, 2)},
    {"padding": "same"}, {"padding": "valid"},
])
def test_conv2d(kwargs):
    same("conv2d", [randn(2, 4, 7, 8), randn(6, 4, 3, 3), randn(6)], **kwargs, atol=1e-4)
    same("conv2d", [randn(2, 4, 7, 8), randn(6, 2, 3, 2)], groups=2, **kwargs, atol=1e-4)


@pytest.mark.parametrize("kwargs", [
    {}, {"stride": 2, "padding": 1}, {"padding": (0, 2), "stride": (1, 2), "dilation": (2, 1)},
])
def test_conv2d_gradcheck(kwargs):
    """conv2d's gradients (a backend's fused kernels) and second derivatives (through the
    decompositions) against finite differences, in float64."""
    def t(a):
        return ember.tensor(a.astype(np.float64), requires_grad=True)
    x, w, b = t(randn(2, 3, 6, 7)), t(randn(4, 3, 3, 2, seed=1)), t(randn(4, seed=2))
    f = lambda x, w, b: EF.conv2d(x, w, b, **kwargs)  # noqa: E731
    assert ember.autograd.gradcheck(f, (x, w, b))
    assert ember.autograd.gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_is_one_node_with_exact_gradients(x_shape, with_bias):
    """linear records one node (torch's AddmmBackward0 / MmBackward0) whose first and second
    derivatives match finite differences, for 1-d, 2-d and batched inputs."""
    def t(a):
        return ember.tensor(a.astype(np.float64), requires_grad=True)
    x, w, b = t(randn(*x_shape)), t(randn(4, 3, seed=1)), t(randn(4, seed=2))
    args = (x, w, b) if with_bias else (x, w)
    out = EF.linear(*args)
    assert out.grad_fn.name() == ("AddmmBackward0" if with_bias else "MmBackward0")
    assert ember.autograd.gradcheck(EF.linear, args)
    assert ember.autograd.gradgradcheck(EF.linear, args)


def test_conv2d_double_backward_matches_torch():
    """With create_graph the gradients come from the decompositions (what backends without
    fused conv kernels run), and are differentiable again: both as torch's."""
    x, w, b = randn(2, 3, 6, 7), randn(4, 3, 3, 2, seed=1), randn(4, seed=2)

    def run(lib, F):
        xt, wt, bt = (lib.tensor(a, requires_grad=True) for a in (x, w, b))
        out = F.conv2d(xt, wt, bt, stride=(1, 2), padding=1)
        gx, gw, gb = lib.autograd.grad((out * out).sum(), (xt, wt, bt), create_graph=True)
        ((gx * gx).sum() + (gw * gw).sum() + gb.sum()).backward()
        return [gx, gw, gb, xt.grad, wt.grad, bt.grad]
    for e, t in zip(run(ember, EF), run(torch, TF)):
        assert_close(to_numpy(e), to_numpy(t), rtol=1e-4, atol=1e-4)


def test_conv1d_and_conv_transpose2d():
    same("conv1d", [randn(2, 4, 9), randn(6, 4, 3), randn(6)], stride=2, padding=1)
    same("conv_transpose2d", [randn(2, 4, 5, 5), randn(4, 3, 3, 3), randn(3)], stride=2,
         padding=1, output_padding=1, atol=1e-4)
    same("conv_transpose2d", [randn(1, 4, 4, 3), randn(4, 1, 2, 2)], stride=(1, 2), groups=2,
         dilation=2, atol=1e-4)


def test_unfold():
    same("unfold", [randn(2, 3, 6, 7)], (2, 3), dilation=(1, 2), padding=1, stride=(2, 1))
    same("unfold", [randn(2, 3, 5, 5)], 3)


@pytest.mark.parametrize("fn,args,kwargs", [
    ("max_pool2d", (3,), {"stride": 2, "padding": 1}),
    ("max_pool2d", (2,), {"ceil_mode": True}),
    ("max_pool1d", (3,), {"stride": 1, "dilation": 2}),
    ("avg_pool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}),
    ("avg_pool2d", (2,), {"ceil_mode": True}),
    ("avg_pool1d", (4,), {"stride": 3, "padding": 2}),
    ("adaptive_avg_pool2d", ((3, 5),), {}),
    ("adaptive_avg_pool2d", ((None, 2),), {}),
    ("adaptive_avg_pool1d", (3,), {}),
])
def test_pooling(fn, args, kwargs):
    shape = (2, 3, 9) if fn.endswith("1d") else (2, 3, 9, 7)
    same(fn, [randn(*shape)], *args, **kwargs)


def test_normalization_functionals():
    x = randn(4, 3, 5, 2)
    rm, rv = randn(3), np.abs(randn(3, seed=1)) + 0.5
    same("batch_norm", [x, rm, rv, randn(3), randn(3)], requires_grad=[True, False, False,
                                                                        True, True])
    same("batch_norm", [x, rm, rv, randn(3), randn(3)], training=True, momentum=0.2,
         requires_grad=[True, False, False, True, True])
    check_same(torch, lambda a, w, b: TF.layer_norm(a, (5, 2), w, b),
               lambda a, w, b: EF.layer_norm(a, (5, 2), w, b), [x, randn(5, 2), randn(5, 2)])
    check_same(torch, lambda a, w, b: TF.group_norm(a, 3, w, b),
               lambda a, w, b: EF.group_norm(a, 3, w, b), [randn(4, 6, 5), randn(6), randn(6)])
    same("normalize", [x], dim=1)
    same("normalize", [x], p=1.0, dim=-1)
    same("cosine_similarity", [randn(4, 5), randn(4, 5, seed=1)])
    same("cosine_similarity", [randn(4, 5), randn(1, 5, seed=1)], dim=-1)


def test_batch_norm_updates_running_stats_in_place():
    x = randn(6, 3, 4)
    trm, trv = torch.zeros(3), torch.ones(3)
    erm, erv = ember.zeros(3), ember.ones(3)
    TF.batch_norm(torch.tensor(x), trm, trv, training=True, momentum=0.3)
    EF.batch_norm(ember.tensor(x), erm, erv, training=True, momentum=0.3)
    assert_close(to_numpy(erm), trm.numpy())
    assert_close(to_numpy(erv), trv.numpy())


def test_embedding_functional():
    idx = labels(3, 4, classes=7)
    same("embedding", [idx, randn(7, 5)], requires_grad=[False, True])
    same("embedding", [idx, randn(7, 5)], padding_idx=1, requires_grad=[False, True])


@pytest.mark.parametrize("causal", [False, True])
def test_scaled_dot_product_attention(causal):
    q, k, v = randn(2, 3, 4, 8), randn(2, 3, 6, 8, seed=1), randn(2, 3, 6, 5, seed=2)
    if causal:
        k, v = k[:, :, :4], v[:, :, :4]
    same("scaled_dot_product_attention", [q, k, v], is_causal=causal)
    mask = np.random.default_rng(0).random((4, k.shape[2])) > 0.3
    mask[:, 0] = True
    same("scaled_dot_product_attention", [q, k, v, mask], requires_grad=[True, True, True, False])
    same("scaled_dot_product_attention", [q, k, v, randn(4, k.shape[2])], scale=0.3)


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_regression_losses(reduction):
    x, y = randn(4, 5, scale=2.0), randn(4, 5, seed=1, scale=2.0)
    same("mse_loss", [x, y], reduction=reduction)
    same("l1_loss", [x, y], reduction=reduction)
    same("smooth_l1_loss", [x, y], reduction=reduction)
    same("smooth_l1_loss", [x, y], reduction=reduction, beta=0.5)
    same("smooth_l1_loss", [x, y], reduction=reduction, beta=0.0)
    same("huber_loss", [x, y], reduction=reduction)
    same("huber_loss", [x, y], reduction=reduction, delta=2.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_class_indices(reduction, smoothing, weighted):
    x = randn(6, 5, scale=3.0)
    y = labels(6, classes=5)
    y[1] = -100
    y[4] = 3
    arrays = [x, y] + ([np.abs(randn(5, seed=3)) + 0.1] if weighted else [])
    rg = [True, False, False][:len(arrays)]
    check_same(torch,
               lambda *a: TF.cross_entropy(*a[:2], weight=a[2] if weighted else None,
                                           reduction=reduction, label_smoothing=smoothing),
               lambda *a: EF.cross_entropy(*a[:2], weight=a[2] if weighted else None,
                                           reduction=reduction, label_smoothing=smoothing),
               arrays, rg)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_k_dim_ignore_index_and_probabilities(smoothing):
    x = randn(2, 4, 3, 5, scale=2.0)
    y = labels(2, 3, 5, classes=4)
    y[0, 1, 2] = 2
    w = np.abs(randn(4, seed=5)) + 0.2
    same("cross_entropy", [x, y, w], ignore_index=2, label_smoothing=smoothing,
         requires_grad=[True, False, False])
    p = np.random.default_rng(1).random((2, 4, 3, 5)).astype(np.float32)
    p /= p.sum(1, keepdims=True)
    for red in ("mean", "sum", "none"):
        same("cross_entropy", [x, p], label_smoothing=smoothing, reduction=red,
             requires_grad=[True, False])
        same("cross_entropy", [x, p, w], label_smoothing=smoothing, reduction=red,
             requires_grad=[True, False, False])
    same("cross_entropy", [randn(5), np.array(3, np.int64)],
         requires_grad=[True, False])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss(reduction):
    x = randn(5, 4)
    y = labels(5, classes=4)
    y[0] = 1
    w = np.abs(randn(4, seed=2)) + 0.1
    same("nll_loss", [x, y], reduction=reduction, requires_grad=[True, False])
    same("nll_loss", [x, y, w], reduction=reduction, ignore_index=1,
         requires_grad=[True, False, False])
    same("nll_loss", [randn(2, 4, 3), labels(2, 3, classes=4)], reduction=reduction,
         requires_grad=[True, False])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_losses(reduction):
    rg = np.random.default_rng(0)
    p = rg.uniform(0.02, 0.98, (4, 3)).astype(np.float32)
    t = rg.uniform(0, 1, (4, 3)).astype(np.float32)
    w = rg.uniform(0.5, 2, (4, 3)).astype(np.float32)
    same("binary_cross_entropy", [p, t], reduction=reduction, requires_grad=[True, False])
    same("binary_cross_entropy", [p, t, w], reduction=reduction,
         requires_grad=[True, False, False])
    logits = randn(4, 3, scale=3.0)
    logits[0, 0] = 0.0
    logits[0, 1] = 40.0
    logits[0, 2] = -40.0
    same("binary_cross_entropy_with_logits", [logits, t], reduction=reduction,
         requires_grad=[True, True])
    pw = rg.uniform(0.5, 3, (3,)).astype(np.float32)
    check_same(torch,
               lambda x, y, w_, pw_: TF.binary_cross_entropy_with_logits(
                   x, y, w_, pos_weight=pw_, reduction=reduction),
               lambda x, y, w_, pw_: EF.binary_cross_entropy_with_logits(
                   x, y, w_, pos_weight=pw_, reduction=reduction),
               [logits, t, w, pw], [True, False, False, False])


def test_binary_cross_entropy_clamps_log_at_minus_100():
    p = np.array([0.0, 1.0, 0.5], np.float32)
    t = np.array([1.0, 0.0, 1.0], np.float32)
    same("binary_cross_entropy", [p, t], reduction="none", requires_grad=[False, False])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
def test_kl_div(reduction):
    import warnings
    x = TF.log_softmax(torch.tensor(randn(4, 5)), 1).numpy()
    t = TF.softmax(torch.tensor(randn(4, 5, seed=1)), 1).numpy()
    t[0, 0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same("kl_div", [x, t], reduction=reduction, requires_grad=[True, False])
        same("kl_div", [x, np.log(t + 1e-3)], reduction=reduction, log_target=True,
             requires_grad=[True, True])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ranking_losses(reduction):
    y = np.array([1, -1, 1, -1], np.float32)
    same("cosine_embedding_loss", [randn(4, 6), randn(4, 6, seed=1), y], margin=0.2,
         reduction=reduction, requires_grad=[True, True, False])
    same("cosine_embedding_loss", [randn(6), randn(6, seed=1), np.array(-1.0, np.float32)],
         reduction=reduction, requires_grad=[True, True, False])
    same("margin_ranking_loss", [randn(4), randn(4, seed=1), y], margin=0.5,
         reduction=reduction, requires_grad=[True, True, False])


LOSS_MODULES = [
    ("MSELoss", {}), ("L1Loss", {"reduction": "sum"}), ("SmoothL1Loss", {"beta": 0.5}),
    ("HuberLoss", {"delta": 0.7}), ("KLDivLoss", {"reduction": "batchmean"}),
    ("BCEWithLogitsLoss", {}), ("BCELoss", {}),
]


@pytest.mark.parametrize("name,kwargs", LOSS_MODULES)
def test_loss_modules(name, kwargs):
    t_mod, e_mod = getattr(torch.nn, name)(**kwargs), getattr(ember.nn, name)(**kwargs)
    assert repr(e_mod) == repr(t_mod)
    x = np.random.default_rng(0).uniform(0.05, 0.95, (3, 4)).astype(np.float32)
    y = np.random.default_rng(1).uniform(0.05, 0.95, (3, 4)).astype(np.float32)
    check_same(torch, t_mod, e_mod, [x, y], [True, False])


def test_class_loss_modules_with_weight_buffers():
    w = np.abs(randn(4)) + 0.1
    t_mod = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), ignore_index=0, label_smoothing=0.1)
    e_mod = ember.nn.CrossEntropyLoss(weight=ember.tensor(w), ignore_index=0, label_smoothing=0.1)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict()) == ["weight"]
    x, y = randn(6, 4), labels(6, classes=4)
    check_same(torch, t_mod, e_mod, [x, y], [True, False])
    t_mod = torch.nn.NLLLoss(weight=torch.tensor(w))
    e_mod = ember.nn.NLLLoss(weight=ember.tensor(w))
    check_same(torch, t_mod, e_mod, [x, y], [True, False])
    y2 = np.array([1, -1, 1], np.float32)
    check_same(torch, torch.nn.CosineEmbeddingLoss(0.1), ember.nn.CosineEmbeddingLoss(0.1),
               [randn(3, 4), randn(3, 4, seed=1), y2], [True, True, False])
    check_same(torch, torch.nn.MarginRankingLoss(0.1), ember.nn.MarginRankingLoss(0.1),
               [randn(3), randn(3, seed=1), y2], [True, True, False])


def test_invalid_reduction():
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        EF.mse_loss(ember.zeros(2), ember.zeros(2), reduction="avg")


@pytest.mark.parametrize("kwargs", [
    {"scale_factor": 2, "mode": "nearest"}, {"size": (5, 7), "mode": "nearest"},
    {"scale_factor": 1.5, "mode": "nearest"},
    {"size": (5, 7), "mode": "bilinear", "align_corners": False},
    {"size": (2, 3), "mode": "bilinear", "align_corners": False},
    {"size": (5, 5), "mode": "bilinear", "align_corners": True},
    {"scale_factor": 2, "mode": "bilinear", "align_corners": False},
    {"scale_factor": 0.5, "mode": "bilinear"},
])
def test_interpolate_2d(kwargs):
    same("interpolate", [randn(2, 3, 4, 6)], **kwargs)


def test_interpolate_1d_and_upsample_module():
    same("interpolate", [randn(2, 3, 5)], size=8, mode="linear", align_corners=False)
    same("interpolate", [randn(2, 3, 5)], scale_factor=3, mode="nearest")
    for kwargs in ({"scale_factor": 2}, {"size": (3, 4), "mode": "bilinear",
                                         "align_corners": True}):
        t, e = torch.nn.Upsample(**kwargs), ember.nn.Upsample(**kwargs)
        assert repr(e) == repr(t)
        check_same(torch, t, e, [randn(1, 2, 4, 5)])


def test_pixel_shuffle():
    same("pixel_shuffle", [randn(2, 8, 3, 4)], 2)
    same("pixel_unshuffle", [randn(2, 2, 6, 4)], 2)
    for name, arg in (("PixelShuffle", 2), ("PixelUnshuffle", 2)):
        assert repr(getattr(ember.nn, name)(arg)) == repr(getattr(torch.nn, name)(arg))


def test_instance_norm():
    for name, shape in (("InstanceNorm1d", (3, 4, 7)), ("InstanceNorm2d", (2, 4, 5, 3)),
                        ("InstanceNorm1d", (4, 7))):
        for kwargs in ({}, {"affine": True}, {"track_running_stats": True}):
            t, e = getattr(torch.nn, name)(4, **kwargs), getattr(ember.nn, name)(4, **kwargs)
            assert repr(e) == repr(t)
            from nn_helpers import check_module
            check_module(torch, t, e, [randn(*shape)])
            for (tn, tb), (en, eb) in zip(t.named_buffers(), e.named_buffers()):
                assert_close(to_numpy(eb), to_numpy(tb), what=tn)
            t.eval()
            e.eval()
            check_module(torch, t, e, [randn(*shape, seed=3)])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_more_losses(reduction):
    x, y = randn(4, 3), randn(4, 3, seed=1)
    sign = np.sign(randn(4, 3, seed=2)).astype(np.float32)
    same("soft_margin_loss", [x, sign], reduction=reduction, requires_grad=[True, False])
    same("hinge_embedding_loss", [x, sign], margin=0.5, reduction=reduction,
         requires_grad=[True, False])
    var = np.abs(randn(4, 3, seed=3)) + 0.1
    var[0, 0] = 0.0
    same("gaussian_nll_loss", [x, y, var], reduction=reduction)
    same("gaussian_nll_loss", [x, y, var[:, 0]], full=True, reduction=reduction)
    same("poisson_nll_loss", [x, np.abs(y) * 3], reduction=reduction,
         requires_grad=[True, False])
    same("poisson_nll_loss", [np.abs(x) + 0.1, np.abs(y) * 3], log_input=False, full=True,
         reduction=reduction, requires_grad=[True, False])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_triplet_and_multilabel_losses(reduction):
    a, p_, n = randn(4, 5), randn(4, 5, seed=1), randn(4, 5, seed=2)
    same("triplet_margin_loss", [a, p_, n], margin=0.5, reduction=reduction)
    same("triplet_margin_loss", [a, p_, n], swap=True, p=1, reduction=reduction)
    t = (randn(4, 5, seed=3) > 0).astype(np.float32)
    same("multilabel_soft_margin_loss", [a, t], reduction=reduction, requires_grad=[True, False])
    same("multilabel_soft_margin_loss", [a, t, np.abs(randn(5, seed=4))], reduction=reduction,
         requires_grad=[True, False, False])


def test_underscore_inplace_functionals():
    x = randn(3, 4, scale=2.0)
    for name, args in (("relu_", ()), ("elu_", (0.5,)), ("leaky_relu_", (0.2,)),
                       ("hardtanh_", (-0.5, 0.5)), ("threshold_", (0.1, -2.0))):
        e, t = ember.tensor(x), torch.tensor(x)
        assert getattr(EF, name)(e, *args) is e
        getattr(TF, name)(t, *args)
        assert_close(to_numpy(e), t.numpy(), what=name)
