"""Regression tests for the differences from torch that programs 48-51 found (contrastive
learning, recommenders, sequence models, in-place/view autograd semantics)."""
from __future__ import annotations

import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


def _devices():
    return [d if isinstance(d, str) else d.name for d in ember.backends.available()
            if (d if isinstance(d, str) else d.name) in ("cpu", "opencl")]


def _error(fn) -> str:
    with pytest.raises(RuntimeError) as info:
        fn()
    return str(info.value)


# ---- diagonal is a view ----------------------------------------------------------------------

@pytest.mark.parametrize("device", _devices())
def test_diagonal_inplace_writes_into_base(device):
    x = ember.arange(12.0, device=device).reshape(3, 4)
    x.diagonal().add_(0.5)
    x.diagonal(-1).mul_(-1)
    assert x.tolist() == [[0.5, 1.0, 2.0, 3.0], [-4.0, 5.5, 6.0, 7.0],
                          [8.0, -9.0, 10.5, 11.0]]
    y = ember.zeros(2, 3, 3, device=device)
    ember.diagonal(y, 1, -1, -2).fill_(7.0)       # dim1 > dim2 reads the transposed diagonal
    assert y[1].tolist() == [[0.0, 0.0, 0.0], [7.0, 0.0, 0.0], [0.0, 7.0, 0.0]]
    assert x.t().diagonal(1).tolist() == [-4.0, -9.0]
    assert tuple(x.diagonal(7).shape) == (0,)


def test_diagonal_inplace_under_autograd_matches_torch():
    a = ember.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], requires_grad=True)
    b = a * 2
    b.diagonal().mul_(ember.tensor([2.0, -1.0]))
    b.sum().backward()
    # torch: d(sum)/da = 2 off the diagonal, 2*2 and 2*-1 on it
    assert a.grad.tolist() == [[4.0, 2.0, 2.0], [2.0, -2.0, 2.0]]
    c = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (c.diagonal() ** 2).sum().backward()
    assert c.grad.tolist() == [[2.0, 0.0], [0.0, 8.0]]


def test_diagonal_double_backward():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (g,) = ember.autograd.grad((x.diagonal() ** 3).sum(), x, create_graph=True)
    g.sum().backward()
    assert x.grad.tolist() == [[6.0, 0.0], [0.0, 24.0]]


# ---- in-place results may not grow self -------------------------------------------------------

def test_inplace_broadcast_shape_error():
    msg = _error(lambda: ember.zeros(3).add_(ember.ones(2, 3)))
    assert msg == "output with shape [3] doesn't match the broadcast shape [2, 3]"
    assert "broadcast shape [1, 3]" in _error(lambda: ember.zeros(3).mul_(ember.ones(1, 3)))
    assert ember.zeros(2, 3).add_(ember.ones(3)).tolist() == [[1.0] * 3] * 2


# ---- outputs of split/unbind may not be modified in place under autograd ----------------------

def test_multi_output_views_refuse_inplace():
    x = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True) * 1
    assert _error(lambda: x.split(2)[1].mul_(2)).startswith(
        "Output 1 of Split is a view and is being modified inplace.")
    assert _error(lambda: x.split([1, 3])[0].add_(1)).startswith("Output 0 of SplitWithSizes")
    assert _error(lambda: x.chunk(2)[0][1:].zero_()).startswith("Output 0 of Slice")
    assert _error(lambda: x.unbind()[3].neg_()).startswith("Output 3 of Unbind")
    leaf = ember.ones(2, requires_grad=True)
    assert _error(lambda: leaf.unbind()[0].mul_(2)).startswith("Output 0 of Unbind")
    x.tensor_split(2)[0].mul_(2)                  # slices, not a multi-output op: allowed
    x.unsafe_split(2)[1].add_(1)                  # the point of unsafe_split
    with ember.no_grad():
        x.split(2)[0].mul_(10)
    assert x.tolist() == [20.0, 40.0, 4.0, 5.0]
    plain = ember.arange(4.0)
    for part in plain.split(2):
        part.add_(1)
    assert plain.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_split_outputs_still_differentiable():
    c = ember.ones(4, requires_grad=True)
    p = (c * 2).split(2)
    (p[0] * p[1]).sum().backward()
    assert c.grad.tolist() == [4.0, 4.0, 4.0, 4.0]


# ---- messages ----------------------------------------------------------------------------------

def test_assigning_plain_tensor_to_parameter_names_its_type():
    lin = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"cannot assign 'ember.FloatTensor' as parameter "
                                        r"'weight' \(ember.nn.Parameter or None expected\)"):
        lin.weight = ember.ones(2, 2)
    assert ember.typename(3) == "int"
    assert ember.typename(lin).endswith(".Linear")
    assert ember.typename(ember.ones(1, dtype=ember.int64)) == "ember.LongTensor"


def test_ctc_loss_checks_targets_and_lengths():
    lp = ember.zeros(4, 2, 5).log_softmax(2)
    msg = _error(lambda: F.ctc_loss(lp, ember.tensor([1, 2, 2]), ember.tensor([4, 4]),
                                    ember.tensor([2, 2])))
    assert msg.startswith("Expected tensor to have size 4 at dimension 0, but got size 3 for "
                          "argument #2 'targets'")
    msg = _error(lambda: F.ctc_loss(lp, ember.tensor([[0, 1], [2, 2]]), ember.tensor([4, 4]),
                                    ember.tensor([3, 2])))
    assert msg.startswith("Expected tensor to have size at least 3 at dimension 1, but got "
                          "size 2")
    msg = _error(lambda: F.ctc_loss(lp, ember.tensor([[1, 2], [2, 2]]), ember.tensor([5, 4]),
                                    ember.tensor([2, 2])))
    assert msg.startswith("Expected input_lengths to have value at most 4, but got value 5")


# ---- state-dict hooks ------------------------------------------------------------------------

def test_state_dict_hooks():
    m = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    log = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep: log.append(("pre", prefix, keep)))

    def post(mod, sd, prefix, meta):
        sd[prefix + "extra"] = ember.tensor(1.0)

    handle = m[2].register_state_dict_post_hook(post)
    assert list(m.state_dict())[-1] == "2.extra"
    assert log == [("pre", "", False)]
    handle.remove()
    assert "2.extra" not in m.state_dict()
    m[0].register_state_dict_post_hook(lambda *a: 1)
    with pytest.raises(RuntimeError):
        m.state_dict()


def test_load_state_dict_hooks_migrate_and_forgive():
    src = nn.Linear(2, 2)
    old = {"old_" + k: v for k, v in src.state_dict().items()}
    old["junk"] = ember.ones(1)
    dst = nn.Linear(2, 2)

    def rename(mod, sd, prefix, meta, strict, missing, unexpected, errors):
        for k in list(sd):
            if k.startswith("old_"):
                sd[k[4:]] = sd.pop(k)

    def forgive(mod, incompatible):
        incompatible.unexpected_keys.remove("junk")

    dst.register_load_state_dict_pre_hook(rename)
    dst.register_load_state_dict_post_hook(forgive)
    result = dst.load_state_dict(old)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert ember.equal(dst.weight, src.weight)
