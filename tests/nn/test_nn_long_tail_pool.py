"""fold, max_unpool, lp_pool, pdist, multi_margin_loss, gumbel_softmax, rrelu, embedding_bag and
their modules against torch: values and gradients on every available device, gradcheck in
float64, torch's errors, and the random ones by their statistics and (on cpu) torch's draws."""
import math

import numpy as np
import pytest

import ember
from nn_helpers import (DEVICES, assert_close, compare, copy_state, ember_repr,
                        gradcheck, randn, same_error, to_numpy)

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")
TF = torch.nn.functional
EF = ember.nn.functional






# ---------------------------------------------------------------------------------- fold
FOLD = [
    ((2, 12, 12), dict(output_size=(4, 5), kernel_size=2)),
    ((1, 18, 15), dict(output_size=(5, 6), kernel_size=(3, 2), stride=(2, 1), padding=(1, 0),
                      dilation=1)),
    ((2, 8, 4), dict(output_size=(6, 6), kernel_size=2, dilation=2, stride=3, padding=1)),
    ((9, 9), dict(output_size=(5, 5), kernel_size=3)),  # unbatched
    ((1, 4, 16), dict(output_size=3, kernel_size=2, padding=1, stride=1)),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,kw", FOLD, ids=[str(i) for i in range(len(FOLD))])
def test_fold(device, shape, kw):
    compare(device, lambda x: TF.fold(x, **kw), lambda x: EF.fold(x, **kw), [randn(*shape)])


@pytest.mark.parametrize("shape,kw", FOLD[:3], ids=["0", "1", "2"])
def test_fold_inverts_unfold_and_module(shape, kw):
    mod = ember.nn.Fold(**kw)
    assert repr(mod) == ember_repr(repr(torch.nn.Fold(**kw)))
    x = ember.tensor(randn(*shape))
    assert_close(to_numpy(mod(x)), to_numpy(torch.nn.Fold(**kw)(torch.tensor(randn(*shape)))))
    # fold(unfold(ones)) counts how many blocks cover each pixel: torch's documented identity
    n, ckk, _ = shape
    c = ckk // math.prod(EF._ntuple(kw["kernel_size"], 2))
    unfold_kw = {k: v for k, v in kw.items() if k != "output_size"}
    size = EF._ntuple(kw["output_size"], 2)
    ones = ember.ones((n, c) + size)
    e = EF.fold(EF.unfold(ones, **unfold_kw), **kw)
    t = TF.fold(TF.unfold(torch.ones((n, c) + size), **unfold_kw), **kw)
    assert_close(to_numpy(e), to_numpy(t))


def test_fold_gradcheck():
    gradcheck(lambda x: EF.fold(x, (4, 4), 2, stride=1, padding=1, dilation=2),
              randn(1, 8, 16))


def test_fold_errors():
    same_error(lambda: TF.fold(torch.zeros(1, 5, 12), (4, 5), 2),
               lambda: EF.fold(ember.zeros(1, 5, 12), (4, 5), 2))
    same_error(lambda: TF.fold(torch.zeros(1, 4, 7), (4, 5), 2),
               lambda: EF.fold(ember.zeros(1, 4, 7), (4, 5), 2))
    same_error(lambda: TF.fold(torch.zeros(1, 1, 4, 7), (4, 5), 2),
               lambda: EF.fold(ember.zeros(1, 1, 4, 7), (4, 5), 2))
    same_error(lambda: TF.fold(torch.zeros(1, 4, 4), (3, 3), (2, 2, 2)),
               lambda: EF.fold(ember.zeros(1, 4, 4), (3, 3), (2, 2, 2)))


# ---------------------------------------------------------------------------------- unpool
UNPOOL2 = [
    ((2, 3, 6, 6), dict(kernel_size=2), {}),
    ((1, 2, 7, 5), dict(kernel_size=3, stride=2, padding=1), {}),
    ((1, 2, 7, 5), dict(kernel_size=(3, 2), stride=(2, 1)), {}),
    ((2, 5, 5), dict(kernel_size=2), dict(output_size=(5, 5))),
    ((1, 1, 5, 5), dict(kernel_size=2), dict(output_size=(1, 1, 5, 4))),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,kw,extra", UNPOOL2, ids=[str(i) for i in range(len(UNPOOL2))])
def test_max_unpool2d(device, shape, kw, extra):
    x = torch.tensor(randn(*shape))
    pooled, idx = TF.max_pool2d(x, return_indices=True, **kw)
    arrays = [pooled.numpy(), idx.numpy()]
    compare(device, lambda v, i: TF.max_unpool2d(v, i, **kw, **extra),
            lambda v, i: EF.max_unpool2d(v, i, **kw, **extra), arrays, grad_of=[0])


UNPOOL1 = [((2, 3, 8), dict(kernel_size=2), {}),
           ((1, 2, 9), dict(kernel_size=3, stride=2, padding=1), {}),
           ((3, 9), dict(kernel_size=2), dict(output_size=[9]))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape,kw,extra", UNPOOL1, ids=[str(i) for i in range(len(UNPOOL1))])
def test_max_unpool1d(device, shape, kw, extra):
    pooled, idx = TF.max_pool1d(torch.tensor(randn(*shape)), return_indices=True, **kw)
    compare(device, lambda v, i: TF.max_unpool1d(v, i, **kw, **extra),
            lambda v, i: EF.max_unpool1d(v, i, **kw, **extra), [pooled.numpy(), idx.numpy()],
            grad_of=[0])


def test_max_unpool_roundtrip_modules_and_gradcheck():
    x = ember.tensor(np.abs(randn(2, 3, 6, 8)) + 0.1)  # positive, so unpooled zeros lose
    out, idx = ember.nn.MaxPool2d(2, return_indices=True)(x)
    un = ember.nn.MaxUnpool2d(2)
    assert repr(un) == repr(torch.nn.MaxUnpool2d(2))
    assert repr(ember.nn.MaxUnpool1d(3, 2, 1)) == repr(torch.nn.MaxUnpool1d(3, 2, 1))
    back = un(out, idx)
    # each window's maximum is back where it was, everything else zero
    assert_close(to_numpy(ember.nn.MaxPool2d(2)(back)), to_numpy(out))
    assert int((back != 0).sum()) == out.numel()
    gradcheck(lambda v: EF.max_unpool2d(v, idx, 2), to_numpy(out))
    # overlapping windows may pick one position twice: it then holds that value once
    t1, ti1 = TF.max_pool1d(torch.tensor(randn(2, 7)), 3, 2, return_indices=True)
    e1 = ember.nn.MaxUnpool1d(3, 2)(ember.tensor(t1.numpy()), ember.tensor(ti1.numpy()),
                                    output_size=[7])
    assert_close(to_numpy(e1), to_numpy(torch.nn.MaxUnpool1d(3, 2)(t1, ti1, output_size=[7])))


def test_max_unpool_errors():
    v, i = torch.ones(1, 1, 2, 2), torch.tensor([[[[0, 1], [2, 99]]]])
    same_error(lambda: TF.max_unpool2d(v, i, 2),
               lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2), ember.tensor(i.numpy()), 2))
    i = torch.tensor([[[[0, 1], [2, 3]]]])
    same_error(lambda: TF.max_unpool2d(v, i, 2, output_size=(9, 9)),
               lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2), ember.tensor(i.numpy()), 2,
                                       output_size=(9, 9)))
    same_error(lambda: TF.max_unpool2d(v, i.int(), 2),
               lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2),
                                       ember.tensor(i.numpy()).to(ember.int32), 2))
    same_error(lambda: TF.max_unpool2d(v, i[..., :1], 2),
               lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2), ember.tensor(i[..., :1].numpy()),
                                       2))
    same_error(lambda: TF.max_unpool2d(v, i, 2, output_size=(4, 4, 4)),
               lambda: EF.max_unpool2d(ember.ones(1, 1, 2, 2), ember.tensor(i.numpy()), 2,
                                       output_size=(4, 4, 4)))


# ---------------------------------------------------------------------------------- lp_pool
LP2 = [(2, (2, 3, 6, 6), dict(kernel_size=2)),
       (3, (1, 2, 7, 5), dict(kernel_size=3, stride=2)),
       (1.5, (1, 2, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), ceil_mode=True)),
       (1, (3, 6, 6), dict(kernel_size=3)),
       (math.inf, (1, 2, 6, 6), dict(kernel_size=2)),
       (-math.inf, (1, 2, 6, 6), dict(kernel_size=3, stride=1))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p,shape,kw", LP2, ids=[str(i) for i in range(len(LP2))])
def test_lp_pool2d(device, p, shape, kw):
    # positive inputs, as torch's documentation expects for fractional p
    x = np.abs(randn(*shape)) + 0.1
    compare(device, lambda v: TF.lp_pool2d(v, p, **kw), lambda v: EF.lp_pool2d(v, p, **kw),
            [x], rtol=1e-4, atol=1e-5)


LP1 = [(2, (2, 3, 8), dict(kernel_size=2)), (3, (1, 2, 9), dict(kernel_size=3, stride=2)),
       (1.5, (2, 9), dict(kernel_size=4, stride=3, ceil_mode=True)),
       (math.inf, (1, 2, 8), dict(kernel_size=2))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p,shape,kw", LP1, ids=[str(i) for i in range(len(LP1))])
def test_lp_pool1d(device, p, shape, kw):
    x = np.abs(randn(*shape)) + 0.1
    compare(device, lambda v: TF.lp_pool1d(v, p, **kw), lambda v: EF.lp_pool1d(v, p, **kw), [x])


def test_lp_pool_signed_input_and_modules():
    # an even p on signed input: torch's sign/relu makes a zero-mean window give 0
    x = randn(1, 2, 6, 6)
    compare("cpu", lambda v: TF.lp_pool2d(v, 2, 3), lambda v: EF.lp_pool2d(v, 2, 3), [x])
    for t_mod, e_mod in [(torch.nn.LPPool2d(2, 3), ember.nn.LPPool2d(2, 3)),
                         (torch.nn.LPPool1d(1.5, 3, 2, True), ember.nn.LPPool1d(1.5, 3, 2, True))]:
        assert repr(e_mod) == repr(t_mod)
        shape = (1, 2, 6, 6) if isinstance(t_mod, torch.nn.LPPool2d) else (2, 3, 9)
        x = np.abs(randn(*shape)) + 0.1
        assert_close(to_numpy(e_mod(ember.tensor(x))), to_numpy(t_mod(torch.tensor(x))))
    same_error(lambda: TF.lp_pool2d(torch.ones(1, 1, 2, 2), 2, 3),
               lambda: EF.lp_pool2d(ember.ones(1, 1, 2, 2), 2, 3))
    gradcheck(lambda v: EF.lp_pool2d(v, 3, 2, 1), np.abs(randn(1, 1, 4, 4)) + 0.5)
    gradcheck(lambda v: EF.lp_pool1d(v, 1.5, 3, 2), np.abs(randn(2, 7)) + 0.5)


# ---------------------------------------------------------------------------------- pdist
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("p", [0, 0.5, 1, 1.5, 2, 3, math.inf])
@pytest.mark.parametrize("shape", [(5, 3), (2, 7), (1, 4), (6, 1)])
def test_pdist(device, p, shape):
    x = randn(*shape)
    if shape[0] > 3:
        x[3] = x[1]  # a zero distance: torch's gradient there is 0, not nan
        x[2, 0] = x[0, 0]  # a zero coordinate difference
    compare(device, lambda v: TF.pdist(v, p), lambda v: EF.pdist(v, p), [x])


def test_pdist_gradcheck_and_errors():
    for p in (1.5, 2, 3):
        gradcheck(lambda v: EF.pdist(v, p), randn(4, 3))
    same_error(lambda: TF.pdist(torch.zeros(2, 3, 4)), lambda: EF.pdist(ember.zeros(2, 3, 4)))
    same_error(lambda: TF.pdist(torch.zeros(3, 4), -1), lambda: EF.pdist(ember.zeros(3, 4), -1))


# ---------------------------------------------------------------------------------- margin
MARGIN = [dict(), dict(p=2), dict(margin=0.5, reduction="sum"), dict(reduction="none"),
          dict(p=2, margin=2.0, weight=True), dict(weight=True, reduction="none")]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kw", MARGIN, ids=[str(i) for i in range(len(MARGIN))])
@pytest.mark.parametrize("shape", [(4, 5), (6,), (1, 3)])
def test_multi_margin_loss(device, kw, shape):
    kw = dict(kw)
    c = shape[-1]
    x = randn(*shape)
    target = np.random.default_rng(1).integers(0, c, size=shape[:-1] or (1,))
    if len(shape) == 1:
        target = target.reshape(())
    arrays = [x, target.astype(np.int64)]
    if kw.pop("weight", False):
        arrays.append(np.abs(randn(c, seed=4)) + 0.1)

        def t_fn(v, t, w):
            return TF.multi_margin_loss(v, t, weight=w, **kw)

        def e_fn(v, t, w):
            return EF.multi_margin_loss(v, t, weight=w, **kw)
    else:
        def t_fn(v, t):
            return TF.multi_margin_loss(v, t, **kw)

        def e_fn(v, t):
            return EF.multi_margin_loss(v, t, **kw)
    compare(device, t_fn, e_fn, arrays, grad_of=[0])


def test_multi_margin_module_gradcheck_and_errors():
    w = np.abs(randn(4)) + 0.1
    t_mod = torch.nn.MultiMarginLoss(p=2, margin=0.7, weight=torch.tensor(w))
    e_mod = ember.nn.MultiMarginLoss(p=2, margin=0.7, weight=ember.tensor(w))
    assert repr(e_mod) == repr(t_mod) and list(e_mod.state_dict()) == ["weight"]
    x, t = randn(3, 4), np.array([0, 3, 2])
    assert_close(to_numpy(e_mod(ember.tensor(x), ember.tensor(t))),
                 to_numpy(t_mod(torch.tensor(x), torch.tensor(t))))
    ti = ember.tensor(t)
    gradcheck(lambda v: EF.multi_margin_loss(v, ti, p=2, margin=0.3), randn(3, 4))
    same_error(lambda: TF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1]), p=3),
               lambda: EF.multi_margin_loss(ember.zeros(2, 3), ember.tensor([0, 1]), p=3))
    same_error(lambda: torch.nn.MultiMarginLoss(p=3), lambda: ember.nn.MultiMarginLoss(p=3))
    for t, e in [(torch.zeros(2, 3), ember.zeros(2, 3)),
                 (torch.zeros(2, 3, 4), ember.zeros(2, 3, 4))]:
        same_error(lambda: TF.multi_margin_loss(t, torch.tensor([0, 3])),
                   lambda: EF.multi_margin_loss(e, ember.tensor([0, 3])))
    same_error(lambda: TF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1]),
                                            weight=torch.ones(2, 3)),
               lambda: EF.multi_margin_loss(ember.zeros(2, 3), ember.tensor([0, 1]),
                                            weight=ember.ones(2, 3)))
    same_error(lambda: TF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1, 2])),
               lambda: EF.multi_margin_loss(ember.zeros(2, 3), ember.tensor([0, 1, 2])))
    same_error(lambda: TF.multi_margin_loss(torch.zeros(2, 3), torch.tensor([0, 1]),
                                            reduction="bogus"),
               lambda: EF.multi_margin_loss(ember.zeros(2, 3), ember.tensor([0, 1]),
                                            reduction="bogus"))


# ---------------------------------------------------------------------------------- gumbel
@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("tau,dim", [(1.0, -1), (0.5, 0), (2.0, 1)])
def test_gumbel_softmax_matches_torch_draws_on_cpu(hard, tau, dim):
    logits = randn(3, 4, 5)
    torch.manual_seed(7)
    tl = torch.tensor(logits, requires_grad=True)
    t = TF.gumbel_softmax(tl, tau=tau, hard=hard, dim=dim)
    ember.manual_seed(7)
    el = ember.tensor(logits, requires_grad=True)
    e = EF.gumbel_softmax(el, tau=tau, hard=hard, dim=dim)
    assert_close(to_numpy(e), to_numpy(t))
    g = randn(3, 4, 5, seed=3)
    (t * torch.tensor(g)).sum().backward()
    (e * ember.tensor(g)).sum().backward()
    assert_close(to_numpy(el.grad), to_numpy(tl.grad))


def test_gumbel_softmax_errors():
    same_error(lambda: TF.gumbel_softmax(torch.zeros(3), dim=2),
               lambda: EF.gumbel_softmax(ember.zeros(3), dim=2))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_statistics(device, hard):
    ember.manual_seed(0)
    logits = np.log(np.array([0.1, 0.2, 0.3, 0.4], np.float32))
    x = ember.tensor(np.tile(logits, (20000, 1)), device=device)
    y = EF.gumbel_softmax(x, tau=1.0, hard=hard)
    assert y.device.type == device
    ys = to_numpy(y)
    assert_close(ys.sum(-1), np.ones(20000), atol=1e-5)
    assert (ys >= 0).all()
    if hard:
        assert set(np.unique(ys)) <= {0.0, 1.0}
    # argmax of logits + Gumbel noise picks class k with probability softmax(logits)_k
    freq = np.bincount(ys.argmax(-1), minlength=4) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.015)


# ---------------------------------------------------------------------------------- rrelu
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("lower,upper", [(1 / 8, 1 / 3), (0.0, 0.5), (0.2, 0.2)])
def test_rrelu_eval(device, lower, upper):
    compare(device, lambda v: TF.rrelu(v, lower, upper, training=False),
            lambda v: EF.rrelu(v, lower, upper, training=False), [randn(4, 7)])


@pytest.mark.parametrize("shape", [(30,), (4, 5, 6)])
def test_rrelu_training_matches_torch_draws_on_cpu(shape):
    x = randn(*shape)
    torch.manual_seed(3)
    tx = torch.tensor(x, requires_grad=True)
    t = TF.rrelu(tx, 0.1, 0.4, training=True)
    ember.manual_seed(3)
    ex = ember.tensor(x, requires_grad=True)
    e = EF.rrelu(ex, 0.1, 0.4, training=True)
    assert_close(to_numpy(e), to_numpy(t), rtol=1e-6, atol=1e-7)
    g = randn(*shape, seed=5)
    (t * torch.tensor(g)).sum().backward()
    (e * ember.tensor(g)).sum().backward()
    assert_close(to_numpy(ex.grad), to_numpy(tx.grad), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_rrelu_training_statistics(device):
    ember.manual_seed(0)
    x = ember.tensor(np.concatenate([-np.ones(20000), np.ones(100)]).astype(np.float32),
                     device=device, requires_grad=True)
    y = EF.rrelu(x, 0.1, 0.3, training=True)
    slopes = -to_numpy(y)[:20000]
    assert ((slopes >= 0.1) & (slopes <= 0.3)).all()
    assert abs(slopes.mean() - 0.2) < 0.003 and abs(slopes.std() - 0.2 / math.sqrt(12)) < 0.003
    assert (to_numpy(y)[20000:] == 1).all()
    y.sum().backward()
    # the gradient of each negative input is its own slope
    assert_close(to_numpy(x.grad)[:20000], slopes)
    assert (to_numpy(x.grad)[20000:] == 1).all()


def test_rrelu_inplace_module_and_errors():
    x = randn(3, 4)
    e, t = ember.tensor(x), torch.tensor(x)
    assert EF.rrelu(e, inplace=True) is e
    TF.rrelu(t, inplace=True)
    assert_close(to_numpy(e), to_numpy(t))
    e = ember.tensor(x)
    assert EF.rrelu_(e) is e
    for args in [(), (0.1, 0.3, True)]:
        assert repr(ember.nn.RReLU(*args)) == repr(torch.nn.RReLU(*args))
    m = ember.nn.RReLU().eval()
    assert_close(to_numpy(m(ember.tensor(x))), to_numpy(torch.nn.RReLU().eval()(torch.tensor(x))))
    same_error(lambda: TF.rrelu(torch.zeros(3), 0.5, 0.1, training=True),
               lambda: EF.rrelu(ember.zeros(3), 0.5, 0.1, training=True))


# ---------------------------------------------------------------------------------- bag
BAGS = [
    dict(idx=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 4]),
    dict(idx=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 2, 2, 5]),  # an empty bag
    dict(idx=[1, 2, 4, 5, 4, 3, 2, 9], offsets=[0, 3, 8], include_last_offset=True),
    dict(idx=[[1, 2, 0], [4, 0, 0], [3, 3, 7]], offsets=None),
    dict(idx=[1, 0, 4, 0, 4, 3, 2, 0], offsets=[0, 2, 4, 6], padding_idx=0),
    dict(idx=[[0, 0], [2, 0]], offsets=None, padding_idx=0),  # an all-padding bag
]


@pytest.mark.parametrize("device", DEVICES)
# per_sample_weights exist only for mode='sum' (the other modes' refusal is in the error test)
@pytest.mark.parametrize("mode,psw", [("sum", False), ("sum", True), ("mean", False),
                                      ("max", False)])
@pytest.mark.parametrize("case", BAGS, ids=[str(i) for i in range(len(BAGS))])
def test_embedding_bag(device, mode, psw, case):
    case = dict(case)
    idx = np.array(case.pop("idx"), np.int64)
    offsets = case.pop("offsets")
    weight = randn(10, 3)
    arrays = [idx, weight]
    if offsets is not None:
        arrays.append(np.array(offsets, np.int64))
    if psw:
        arrays.append(randn(*idx.shape, seed=9))

    def call(F, i, w, *rest):
        rest = list(rest)
        off = rest.pop(0) if offsets is not None else None
        ps = rest.pop(0) if psw else None
        return F.embedding_bag(i, w, off, mode=mode, per_sample_weights=ps, **case)
    grads = [1] + ([len(arrays) - 1] if psw else [])
    compare(device, lambda *a: call(TF, *a), lambda *a: call(EF, *a), arrays, grad_of=grads)


def test_embedding_bag_max_ties_and_gradcheck():
    # equal rows: torch's max sends each feature's gradient to one of them
    weight = np.ones((4, 2), np.float32)
    compare("cpu", lambda i, w, o: TF.embedding_bag(i, w, o, mode="max"),
            lambda i, w, o: EF.embedding_bag(i, w, o, mode="max"),
            [np.array([0, 1, 2, 3], np.int64), weight, np.array([0, 2], np.int64)], grad_of=[1])
    i, o = ember.tensor([1, 2, 4, 1, 3]), ember.tensor([0, 2, 2])
    ps = randn(5)
    for mode in ("sum", "mean", "max"):
        gradcheck(lambda w: EF.embedding_bag(i, w, o, mode=mode), randn(5, 3))
    gradcheck(lambda w, p: EF.embedding_bag(i, w, o, mode="sum", per_sample_weights=p),
              randn(5, 3), ps)


def test_embedding_bag_module():
    for kw in [dict(), dict(mode="sum", padding_idx=1), dict(mode="max", max_norm=1.0),
               dict(include_last_offset=True, norm_type=3.0)]:
        t_mod = torch.nn.EmbeddingBag(6, 3, **kw)
        e_mod = ember.nn.EmbeddingBag(6, 3, **kw)
        assert repr(e_mod) == repr(t_mod)
        copy_state(t_mod, e_mod)
        idx = torch.tensor([1, 2, 5, 1, 0, 3])
        off = torch.tensor([0, 2, 6]) if kw.get("include_last_offset") else torch.tensor([0, 2])
        t = t_mod(idx, off)
        e = e_mod(ember.tensor(idx.numpy()), ember.tensor(off.numpy()))
        assert_close(to_numpy(e), to_numpy(t))
        # max_norm renormalises the looked-up rows in place, as torch does
        assert_close(to_numpy(e_mod.weight), to_numpy(t_mod.weight))
    pad = ember.nn.EmbeddingBag(5, 2, padding_idx=-1)
    assert pad.padding_idx == 4 and (to_numpy(pad.weight)[4] == 0).all()
    pre = ember.nn.EmbeddingBag.from_pretrained(ember.ones(3, 2), mode="sum")
    assert not pre.weight.requires_grad
    assert to_numpy(pre(ember.tensor([[0, 1]]))).tolist() == [[2.0, 2.0]]


def test_embedding_bag_errors():
    w_t, w_e = torch.zeros(5, 2), ember.zeros(5, 2)
    cases = [
        (lambda F, T, w: F.embedding_bag(T([[1, 2]]), w, T([0]))),
        (lambda F, T, w: F.embedding_bag(T([1, 2]), w)),
        (lambda F, T, w: F.embedding_bag(T([1, 2]), w, T([0]), mode="max",
                                         per_sample_weights=T([1.0, 2.0]))),
        (lambda F, T, w: F.embedding_bag(T([1, 2]), w, T([0]), mode="median")),
        (lambda F, T, w: F.embedding_bag(T([1, 2]), w, T([1]))),
        (lambda F, T, w: F.embedding_bag(T([[[1]]]), w)),
        (lambda F, T, w: F.embedding_bag(T([1, 2]), w, T([0]), mode="max",
                                         scale_grad_by_freq=True)),
        (lambda F, T, w: F.embedding_bag(T([1, 2]), w, T([0, 5]))),
        (lambda F, T, w: F.embedding_bag(T([1.0, 2.0]), w, T([0]))),
    ]
    for case in cases:
        same_error(lambda: case(TF, torch.tensor, w_t), lambda: case(EF, ember.tensor, w_e))
