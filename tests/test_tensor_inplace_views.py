"""The in-place view methods (squeeze_, unsqueeze_, t_, transpose_, swapaxes_, swapdims_,
as_strided_) and resize_/resize_as_, against torch on every backend."""
import re

import numpy as np
import pytest
import torch

import ember

DEVICES = ember.backends.available()

CASES = [
    ("unsqueeze_", (2, 3), (0,)), ("unsqueeze_", (2, 3), (-1,)), ("squeeze_", (1, 3, 1), ()),
    ("squeeze_", (1, 3, 1), (2,)), ("squeeze_", (1, 3, 1), ((0, 2),)), ("t_", (2, 3), ()),
    ("t_", (3,), ()), ("transpose_", (2, 3, 4), (0, 2)), ("swapaxes_", (2, 3, 4), (1, -1)),
    ("swapdims_", (2, 3, 4), (0, 1)), ("as_strided_", (6,), ((2, 2), (1, 2), 1)),
    ("as_strided_", (2, 3), ((3, 2), (2, 1))),
]


def _pair(shape, device, requires_grad=False):
    a = np.random.default_rng(0).standard_normal(shape)
    return (ember.tensor(a, device=device, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape, args", CASES)
def test_metadata_values_and_version(device, name, shape, args):
    x, tx = _pair(shape, device)
    version = x._version
    out = getattr(x, name)(*args)
    getattr(tx, name)(*args)
    assert out is x
    assert tuple(x.shape) == tuple(tx.shape) and x.stride() == tx.stride()
    assert x._version == version + 1
    np.testing.assert_array_equal(x.cpu().numpy(), tx.numpy())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name, shape, args", CASES)
def test_gradients_on_a_non_leaf(device, name, shape, args):
    x, tx = _pair(shape, device, requires_grad=True)
    y, ty = x * 2, tx * 2
    getattr(y, name)(*args)
    getattr(ty, name)(*args)
    assert y.grad_fn is not None and not y.is_leaf
    weights = np.arange(ty.numel(), dtype=np.float64).reshape(tuple(ty.shape))
    (y * ember.tensor(weights, device=device)).sum().backward()
    (ty * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_chained_inplace_views_and_inplace_math(device):
    x, tx = _pair((2, 3), device, requires_grad=True)
    for lib, t in ((ember, x), (torch, tx)):
        y = t.sin()  # sin saves its input, which the in-place ops below leave alone
        y.unsqueeze_(0).transpose_(0, 2).mul_(3)
        y.squeeze_()
        (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("device", DEVICES)
def test_view_of_a_tensor_changes_in_place(device):
    base, tbase = _pair((2, 3), device)
    row, trow = base[0], tbase[0]
    row.unsqueeze_(0)
    trow.unsqueeze_(0)
    assert tuple(row.shape) == (1, 3) and row._base is base
    row.mul_(0)
    trow.mul_(0)
    np.testing.assert_array_equal(base.cpu().numpy(), tbase.numpy())


@pytest.mark.parametrize("name, args", [("unsqueeze_", (0,)), ("t_", ()),
                                        ("transpose_", (0, 1)), ("squeeze_", ())])
def test_leaf_requiring_grad_errors(name, args):
    x, tx = _pair((2, 3), "cpu", requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        getattr(tx, name)(*args)
    with pytest.raises(RuntimeError) as ours:
        getattr(x, name)(*args)
    assert str(ours.value) == str(theirs.value)
    with ember.no_grad():
        x.unsqueeze_(0)
    assert tuple(x.shape) == (1, 2, 3) and x.is_leaf and x.requires_grad


@pytest.mark.parametrize("name, shape, args, exc", [
    ("t_", (2, 3, 4), (), RuntimeError), ("squeeze_", (2, 3), (5,), IndexError),
    ("unsqueeze_", (2, 3), (3,), IndexError), ("transpose_", (2, 3), (0, 2), IndexError),
])
def test_errors_match_torch(name, shape, args, exc):
    x, tx = _pair(shape, "cpu")
    with pytest.raises(exc) as theirs:
        getattr(tx, name)(*args)
    with pytest.raises(exc):
        getattr(x, name)(*args)
    if name == "t_":
        with pytest.raises(exc, match=re.escape(str(theirs.value))):
            getattr(x, name)(*args)
    assert tuple(x.shape) == shape


@pytest.mark.parametrize("device", DEVICES)
def test_resize(device):
    x, tx = ember.arange(6.0, device=device), torch.arange(6.0)
    for t in (x, tx):
        t.resize_(2, 2)
    assert tuple(x.shape) == (2, 2) and x._version == tx._version
    np.testing.assert_array_equal(x.cpu().numpy(), tx.clone().numpy())
    x.resize_(3, 3)
    tx.resize_(3, 3)  # NOTE: torch cannot resize a storage that numpy() has exported
    assert x._version == tx._version == 2
    np.testing.assert_array_equal(x.flatten()[:4].cpu().numpy(), tx.flatten()[:4].numpy())
    x.resize_as_(ember.zeros(1, 5))
    assert tuple(x.shape) == (1, 5)
    y, ty = _pair((2,), device, requires_grad=True)
    for t in (y * 2, ty * 2, y, ty):
        with pytest.raises(RuntimeError, match="cannot resize variables that require grad"):
            t.resize_(3)


def test_new_empty_strided():
    x = ember.ones(2, dtype=ember.float64)
    t = x.new_empty_strided((2, 3), (1, 2))
    r = torch.ones(2, dtype=torch.float64).new_empty_strided((2, 3), (1, 2))
    assert t.stride() == r.stride() and t.dtype is ember.float64 and tuple(t.shape) == (2, 3)
    assert t._base is None and not t.requires_grad
    t = x.new_empty_strided((3,), (2,), dtype=ember.int32, requires_grad=False)
    assert t.dtype is ember.int32 and t.stride() == (2,)


@pytest.mark.parametrize("device", DEVICES)
def test_views_of_leaves_and_non_leaves(device):
    x, tx = _pair((2, 3), device, requires_grad=True)
    with pytest.raises(RuntimeError) as theirs:
        tx[0].unsqueeze_(0)
    with pytest.raises(RuntimeError, match=re.escape(str(theirs.value))):
        x[0].unsqueeze_(0)
    w, tw = (x * 1)[1], (tx * 1)[1]
    w.unsqueeze_(0)
    tw.unsqueeze_(0)
    (w * ember.tensor([[1.0, 2.0, 3.0]], dtype=ember.float64, device=device)).sum().backward()
    (tw * torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.cpu().numpy(), tx.grad.numpy())
