"""The torch-namespace spellings of nn functions (``ember.conv2d``, ``ember.layer_norm``,
``ember.batch_norm`` ...) and ``Tensor.prelu``/``Tensor.hardshrink``: torch's positional call
forms give torch's values and gradients on every available device, the tuple-returning
``native_*`` functions give torch's tuples, and the random ones torch's draws on cpu."""
import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="the aliases are checked against PyTorch")

NO_OPENCL = pytest.mark.skipif(
    "opencl" not in ember.backends.available(),
    reason="the opencl backend is not available here (needs pyopencl and an OpenCL device)")
DEVICES = ["cpu", pytest.param("opencl", marks=NO_OPENCL)]


def _randn(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().to(
        "cpu").numpy()


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


class Const:
    """An array argument that must not require grad (running statistics, ``pos_weight``)."""

    def __init__(self, array):
        self.array = array


def _convert(value, lib, device):
    """numpy arrays become ``lib`` tensors (float ones require grad), ``Const`` ones don't."""
    if isinstance(value, Const):
        if lib is torch:
            return torch.tensor(value.array)
        return ember.tensor(value.array, device=device)
    if isinstance(value, np.ndarray):
        grad = value.dtype.kind == "f"
        if lib is torch:
            return torch.tensor(value, requires_grad=grad)
        return ember.tensor(value, device=device, requires_grad=grad)
    return value


def check(device, name, *args, grads=True, rtol=1e-4, atol=1e-5, **kwargs):
    """``torch.<name>(*args)`` vs ``ember.<name>(*args)``: every output, then the gradients of
    the float array arguments under the same random cotangent of the first output."""
    t_args = [_convert(a, torch, device) for a in args]
    e_args = [_convert(a, ember, device) for a in args]
    t_out = _flat(getattr(torch, name)(*t_args, **kwargs))
    e_out = _flat(getattr(ember, name)(*e_args, **kwargs))
    assert len(e_out) == len(t_out), name
    for i, (t, e) in enumerate(zip(t_out, e_out)):
        assert e.device.type == device
        assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1], f"{name} output {i}"
        assert tuple(e.shape) == tuple(t.shape), f"{name} output {i}"
        np.testing.assert_allclose(_np(e), _np(t), rtol=rtol, atol=atol,
                                   err_msg=f"{name} output {i}")
    if grads and t_out[0].requires_grad:
        g = _randn(*t_out[0].shape, seed=5)
        (t_out[0] * torch.tensor(g)).sum().backward()
        (e_out[0] * ember.tensor(g, device=device)).sum().backward()
        for i, (t, e) in enumerate(zip(t_args, e_args)):
            if isinstance(t, torch.Tensor) and t.requires_grad and t.grad is not None:
                # NOTE: where torch materialises a zero gradient (grid_sample's nearest mode
                # for the grid), ember may leave None; both mean zero
                e_grad = np.zeros(t.shape, np.float32) if e.grad is None else _np(e.grad)
                np.testing.assert_allclose(e_grad, _np(t.grad), rtol=rtol, atol=atol,
                                           err_msg=f"{name} grad of argument {i}")
    return t_out, e_out


X4 = _randn(2, 4, 5, 5)
X3 = _randn(2, 4, 6, seed=1)
W2 = _randn(6, 2, 3, 3, seed=2)   # conv2d, groups=2
W1 = _randn(3, 4, 3, seed=3)      # conv1d
WT2 = _randn(4, 3, 2, 2, seed=4)  # conv_transpose2d
WT1 = _randn(4, 2, 3, seed=5)     # conv_transpose1d
B3, B6 = _randn(3, seed=6), _randn(6, seed=7)
C4 = _randn(4, seed=8)
POS4 = np.abs(_randn(4, seed=9)) + 0.5

# (name, positional args, kwargs); each is called exactly as torch's signature allows
CASES = [
    ("conv1d", (X3, W1, B3, 2, 1), {}),
    ("conv2d", (X4, W2, B6, 1, 1, 1, 2), {}),
    ("conv_transpose1d", (X3, WT1, None, 2, 1, 1), {}),
    ("conv_transpose2d", (X4, WT2, B3, 2, 0, 1, 1, 1), {}),
    ("convolution", (X4, W2, B6, [2, 1], [1, 0], [1, 1], False, [0, 0], 2), {}),
    ("convolution", (X3, W1, None, [1], [2], [2], False, [0], 1), {}),
    ("convolution", (X4, WT2, B3, [2, 2], [1, 1], [1, 1], True, [1, 1], 1), {}),
    ("layer_norm", (X4, [5, 5], _randn(5, 5, seed=10), _randn(5, 5, seed=11), 1e-3, True), {}),
    ("layer_norm", (X3, (6,)), {}),
    ("group_norm", (X4, 2, C4, _randn(4, seed=12), 1e-4, False), {}),
    ("group_norm", (X3, 4), {}),
    ("batch_norm", (X4, C4, _randn(4, seed=13), Const(_randn(4, seed=14)), Const(POS4), False,
                    0.1, 1e-5, True), {}),
    ("instance_norm", (X3, C4, None, None, None, True, 0.1, 1e-5, False), {}),
    ("rms_norm", (X3, [6], _randn(6, seed=15), 1e-5), {}),
    ("rms_norm", (X3, (4, 6)), {}),
    ("embedding", (_randn(7, 3, seed=16), np.array([[0, 2], [6, 2]])), {}),
    ("embedding", (_randn(7, 3, seed=16), np.array([0, 2, 2, 5]), 2), {}),
    ("max_pool1d", (X3, 2), {}),
    ("max_pool1d", (X3, [3], [2], [1], [1], True), {}),
    ("max_pool2d", (X4, (2, 2), (), 0, 1, False), {}),
    ("max_pool2d", (X4, 3, 2, 1, 1, True), {}),
    ("avg_pool1d", (X3, 3, 2, 1, False, False), {}),
    ("avg_pool1d", (X3, [2]), {}),
    ("adaptive_avg_pool1d", (X3, 4), {}),
    ("adaptive_max_pool1d", (X3, [4]), {}),
    ("cosine_similarity", (X3, _randn(2, 4, 6, seed=17), 2, 1e-6), {}),
    ("pairwise_distance", (X3[0], _randn(4, 6, seed=18), 1.5, 1e-6, True), {}),
    ("pdist", (X3[0], 3.0), {}),
    ("pixel_shuffle", (_randn(1, 8, 2, 3), 2), {}),
    ("pixel_unshuffle", (X4[:, :, :4, :4], 2), {}),
    ("prelu", (X3, np.array([0.25], dtype=np.float32)), {}),
    ("prelu", (X4, _randn(4, seed=19)), {}),
    ("selu", (X3,), {}),
    ("celu", (X3, 0.5), {}),
    ("rrelu", (X3, 0.1, 0.3, False), {}),
    ("threshold", (X3, 0.1, -2.0), {}),
    ("hardshrink", (X3, 0.7), {}),
    ("hardshrink", (X3,), {}),
    ("bilinear", (_randn(3, 4), _randn(3, 5, seed=20), _randn(2, 4, 5, seed=21),
                  _randn(2, seed=22)), {}),
    ("constant_pad_nd", (X3, [1, 2, 0, 1], 0.5), {}),
    ("constant_pad_nd", (X3, (2, -1)), {}),
    ("channel_shuffle", (X3, 2), {}),
    ("grid_sampler", (X4, np.tanh(_randn(2, 3, 4, 2, seed=23)), 0, 0, False), {}),
    ("grid_sampler", (X4, np.tanh(_randn(2, 3, 4, 2, seed=23)) * 1.2, 1, 1, True), {}),
    ("grid_sampler", (X4, np.tanh(_randn(2, 3, 4, 2, seed=23)) * 1.2, 2, 2, False), {}),
    ("affine_grid_generator", (_randn(2, 2, 3, seed=24), [2, 1, 3, 4], False), {}),
    ("affine_grid_generator", (_randn(2, 2, 3, seed=24), [2, 1, 3, 4], True), {}),
]

_TARGET = np.sign(_randn(2, 6, seed=25)).astype(np.float32)
_PROB = 1 / (1 + np.exp(-_randn(2, 4, 6, seed=26)))
LOSS_CASES = [
    ("kl_div", (np.log(_PROB), _PROB[::-1].copy()), {}),
    ("kl_div", (np.log(_PROB), np.log(_PROB[::-1].copy()), 2), dict(log_target=True)),
    ("kl_div", (np.log(_PROB), _PROB[::-1].copy(), 0), {}),
    ("binary_cross_entropy_with_logits", (X3, _PROB, None, Const(np.full(6, 2.0, np.float32)),
                                          2),
     {}),
    ("binary_cross_entropy_with_logits", (X3, _PROB), {}),
    ("cosine_embedding_loss", (X3[0], X3[1], np.array([1, -1, 1, -1], np.float32), 0.2, 0),
     {}),
    ("hinge_embedding_loss", (X3[0], np.sign(X3[1]), 0.5, 2), {}),
    ("margin_ranking_loss", (X3[0, 0], X3[1, 0], _TARGET[0], 0.1, 1), {}),
    ("triplet_margin_loss", (X3[0], X3[1], _randn(4, 6, seed=27), 0.5, 1.5, 1e-6, True, 0),
     {}),
    ("triplet_margin_loss", (X3[0], X3[1], _randn(4, 6, seed=27)), {}),
    ("poisson_nll_loss", (X3, np.abs(X3[::-1].copy()), True, True, 1e-8, 1), {}),
    ("poisson_nll_loss", (np.abs(X3) + 0.1, np.abs(X3[::-1].copy()), False, False, 1e-6, 2),
     {}),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,args,kwargs", CASES + LOSS_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES + LOSS_CASES)])
def test_alias_matches_torch(device, name, args, kwargs):
    check(device, name, *args, **kwargs)


@pytest.mark.parametrize("device", DEVICES)
def test_ctc_loss_int_reductions(device):
    log_probs = torch.randn(6, 2, 4).log_softmax(2).detach().numpy()
    targets = np.array([[1, 2, 2], [3, 1, 0]], dtype=np.int64)
    for reduction in (0, 1, 2):
        check(device, "ctc_loss", log_probs, targets, [6, 5], [3, 2], 0, reduction, False)


@pytest.mark.parametrize("device", DEVICES)
def test_embedding_bag_tuple(device):
    weight = _randn(10, 3, seed=28)
    indices, offsets = np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2])
    for mode in (0, 1, 2):
        check(device, "embedding_bag", weight, indices, offsets, False, mode)
    check(device, "embedding_bag", weight, indices, np.array([0, 2, 6]), False, 1, False,
          None, True)


@pytest.mark.parametrize("device", DEVICES)
def test_native_norms_return_torchs_tuples(device):
    check(device, "native_layer_norm", X4, [5, 5], _randn(5, 5, seed=29), None, 1e-5)
    check(device, "native_group_norm", X4, C4, None, 2, 4, 25, 2, 1e-5)
    check(device, "native_batch_norm", X4, C4, None, None, None, True, 0.1, 1e-5)
    # eval: the statistics outputs are empty, as torch's cpu kernel
    check(device, "native_batch_norm", X4, C4, None, Const(_randn(4, seed=30)), Const(POS4),
          False, 0.1, 1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_batch_and_instance_norm_update_running_stats(device):
    for name, args in [("batch_norm", (None, None)), ("instance_norm", (None, None))]:
        t_rm, t_rv = torch.zeros(4), torch.ones(4)
        e_rm, e_rv = ember.zeros(4, device=device), ember.ones(4, device=device)
        training = True
        getattr(torch, name)(torch.tensor(X4), *args, t_rm, t_rv, training, 0.3, 1e-5, True)
        getattr(ember, name)(ember.tensor(X4, device=device), *args, e_rm, e_rv, training, 0.3,
                             1e-5, True)
        np.testing.assert_allclose(_np(e_rm), _np(t_rm), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(_np(e_rv), _np(t_rv), rtol=1e-5, atol=1e-6)


def test_random_aliases_draw_torchs_numbers_on_cpu():
    x = _randn(6, 5, 4)
    cases = [("dropout", (0.3, True)), ("feature_dropout", (0.4, True)),
             ("alpha_dropout", (0.3, True)), ("feature_alpha_dropout", (0.5, True)),
             ("native_dropout", (0.3, True)), ("native_dropout", (0.3, None)),
             ("rrelu", (0.1, 0.3, True))]
    for name, args in cases:
        torch.manual_seed(3)
        ember.manual_seed(3)
        check("cpu", name, x, *args)
    for name, args in [("dropout", (0.3, False)), ("alpha_dropout", (0.3, False)),
                       ("native_dropout", (0.3, False))]:
        check("cpu", name, x, *args)


@pytest.mark.parametrize("device", DEVICES)
def test_in_place_aliases(device):
    x = _randn(3, 4, 5)
    cases = [("selu_", ()), ("celu_", (0.5,)), ("threshold_", (0.2, 9.0)),
             ("rrelu_", (0.1, 0.3, False)), ("dropout_", (0.3, False)),
             ("alpha_dropout_", (0.3, False)), ("feature_dropout_", (0.5, False)),
             ("feature_alpha_dropout_", (0.5, False))]
    if device == "cpu":
        cases += [("dropout_", (0.3, True)), ("feature_dropout_", (0.5, True)),
                  ("alpha_dropout_", (0.3, True)), ("feature_alpha_dropout_", (0.5, True))]
    for name, args in cases:
        t, e = torch.tensor(x), ember.tensor(x, device=device)
        torch.manual_seed(4)
        ember.manual_seed(4)
        assert getattr(ember, name)(e, *args) is e
        getattr(torch, name)(t, *args)
        np.testing.assert_allclose(_np(e), _np(t), rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_statistics(device):
    x = ember.ones(200, 300, device=device)
    out = ember.dropout(x, 0.25, True)
    kept = (out != 0).to(ember.float32).mean().item()
    assert abs(kept - 0.75) < 0.01 and abs(out.max().item() - 1 / 0.75) < 1e-5
    out, mask = ember.native_dropout(x, 0.25, True)
    assert mask.dtype == ember.bool and bool((out == mask.to(ember.float32) / 0.75).all())
    out = ember.feature_dropout(x.reshape(200, 300, 1), 0.5, True)
    assert 0.4 < (out != 0).to(ember.float32).mean().item() < 0.6


@pytest.mark.parametrize("device", DEVICES)
def test_tensor_prelu_and_hardshrink_methods(device):
    x = _randn(2, 3, 4)
    for t_call, e_call in [(lambda t: t.prelu(torch.tensor([0.1, 0.2, 0.3])),
                            lambda e: e.prelu(ember.tensor([0.1, 0.2, 0.3], device=device))),
                           (lambda t: t.hardshrink(), lambda e: e.hardshrink()),
                           (lambda t: t.hardshrink(0.9), lambda e: e.hardshrink(lambd=0.9))]:
        t = torch.tensor(x, requires_grad=True)
        e = ember.tensor(x, device=device, requires_grad=True)
        t_out, e_out = t_call(t), e_call(e)
        np.testing.assert_allclose(_np(e_out), _np(t_out), rtol=1e-6)
        t_out.sum().backward()
        e_out.sum().backward()
        np.testing.assert_allclose(_np(e.grad), _np(t.grad), rtol=1e-6)


def test_gradcheck_through_aliases():
    def inputs(*arrays):
        return [ember.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    assert ember.autograd.gradcheck(
        lambda x, w, b: ember.layer_norm(x, [6], w, b, 1e-5, True),
        inputs(X3[:1], _randn(6, seed=31), _randn(6, seed=32)))
    assert ember.autograd.gradcheck(
        lambda x, w: ember.convolution(x, w, None, [1], [1], [1], False, [0], 1),
        inputs(X3[:1], W1))
    assert ember.autograd.gradcheck(
        lambda x: ember.native_group_norm(x, None, None, 1, 4, 6, 2, 1e-5)[0], inputs(X3[:1]))


def test_alias_errors():
    with pytest.raises(ValueError, match="reduction"):
        ember.kl_div(ember.zeros(2), ember.zeros(2), 3)
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="2 dimensions"):
            lib.feature_dropout(lib.zeros(3), 0.5, True)
        with pytest.raises(RuntimeError, match="normalized_shape"):
            lib.layer_norm(lib.zeros(2, 3), [4])
        with pytest.raises(RuntimeError, match="divisible"):
            lib.channel_shuffle(lib.zeros(2, 3, 4), 2)


def test_every_alias_exists_in_torch():
    from ember.core import torch_nn_aliases
    missing = [name for name in torch_nn_aliases.__all__ if not hasattr(torch, name)]
    assert not missing
    assert all(getattr(ember, name) is getattr(torch_nn_aliases, name)
               for name in torch_nn_aliases.__all__)
