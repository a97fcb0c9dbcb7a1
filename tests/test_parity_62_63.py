"""Regression tests for the differences from torch that programs 62-63 found (training
utilities; reductions and indexing)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

DEVICES = [d for d in ember.backends.available() if d in ("cpu", "opencl")]


def _devices():
    return [d if isinstance(d, str) else d.name for d in ember.backends.available()
            if (d if isinstance(d, str) else d.name) in ("cpu", "opencl")]


@pytest.mark.parametrize("device", _devices())
def test_take_out_of_range_names_the_index_as_torch(device):
    x = ember.ones(2, 2, device=device)
    for bad in (4, -5):
        with pytest.raises(IndexError) as info:
            ember.take(x, ember.tensor([0, bad], device=device))
        assert str(info.value) == (f"out of range: tried to access index {bad} on a tensor "
                                   f"of 4 elements.")
    # the ends themselves are fine, negatives counting from the end
    got = ember.take(ember.arange(4.0, device=device).reshape(2, 2),
                     ember.tensor([[3, -4], [-1, 0]], device=device))
    assert got.tolist() == [[3.0, 0.0], [3.0, 0.0]]
    assert ember.take(x, ember.tensor([], dtype=ember.int64, device=device)).shape == (0,)


@pytest.mark.parametrize("dtype,name", [(ember.int64, "long int"), (ember.int32, "int"),
                                        (ember.uint8, "unsigned char"), (ember.float32, "float")])
def test_masked_fill_non_bool_mask_message_names_the_cpp_type(dtype, name):
    with pytest.raises(RuntimeError) as info:
        ember.zeros(2).masked_fill(ember.zeros(2, dtype=dtype), 1.0)
    assert str(info.value) == ("masked_fill_ only supports boolean masks, but got mask with "
                               f"dtype {name}")


# ---- reductions the programs found differing (core/ops/reduction.py) -------------------------

def _same_error(fn):
    errs = []
    for m in (torch, ember):
        with pytest.raises(Exception) as info:
            fn(m)
        errs.append(info.value)
    assert type(errs[0]) is type(errs[1]), errs
    return errs


def test_searchsorted_is_torchs_binary_search():
    """NaN in the sequence or among the values, unsorted sequences, sorter, batches: the
    answers of torch's binary search, not of counting."""
    rng = np.random.default_rng(5)
    cases = [([1.0, 2.0, np.nan], [np.nan, 3.0, 1.5, -1.0]),
             ([3.0, 1.0, 2.0, 0.5], [2.5, 0.0, 9.0]),
             ([[0.0, 1.0, 1.0, 4.0], [np.nan, np.nan, 1.0, 2.0]], [[1.0, 5.0], [np.nan, 1.5]])]
    cases += [(np.sort(np.round(rng.normal(size=(2, 7)), 1)),
               np.round(rng.normal(size=(2, 4)), 1))]
    for dev in DEVICES:
        for seq, vals in cases:
            for kw in ({}, {"right": True}, {"side": "right"}, {"out_int32": True}):
                t = torch.searchsorted(torch.tensor(seq), torch.tensor(vals), **kw)
                e = ember.searchsorted(ember.tensor(seq, dtype=ember.float64, device=dev),
                                       ember.tensor(vals, dtype=ember.float64, device=dev), **kw)
                np.testing.assert_array_equal(e.cpu().numpy(), t.numpy())
                assert e.dtype.name == str(t.dtype).removeprefix("torch.")
        seq = np.array([5.0, 1.0, 3.0])
        srt = np.argsort(seq)
        t = torch.searchsorted(torch.tensor(seq), torch.tensor([2.0, 4.0]),
                               sorter=torch.tensor(srt))
        e = ember.searchsorted(ember.tensor(seq, device=dev), ember.tensor([2.0, 4.0], device=dev),
                               sorter=ember.tensor(srt, device=dev))
        np.testing.assert_array_equal(e.cpu().numpy(), t.numpy())
    assert int(ember.searchsorted(ember.tensor([1.0, 2.0]), 1.5)) == 1
    for kw in ({"right": True, "side": "left"}, {"side": "middle"}):
        a, b = _same_error(lambda m: m.searchsorted(m.tensor([1.0]), m.tensor([1.0]), **kw))
        assert str(a) == str(b)


def test_reduction_errors_and_nan_mode_match_torch():
    checks = [lambda m: m.kthvalue(m.tensor([1.0, 2.0]), 3),
              lambda m: m.kthvalue(m.tensor([1.0, 2.0]), 0),
              lambda m: m.median(m.ones(0, 3), 0),
              lambda m: m.nanmean(m.tensor([1, 2])),
              lambda m: m.histc(m.tensor([1, 2]))]
    for fn in checks:
        a, b = _same_error(fn)
        assert str(a) == str(b)
    a, b = _same_error(lambda m: m.histc(m.tensor([float("nan"), 1.0])))
    assert "is not finite" in str(a) and "is not finite" in str(b)
    for m in (torch, ember):
        v, _ = m.mode(m.tensor([float("nan"), float("nan"), 1.0]))
        assert v.isnan()
        v, i = m.mode(m.tensor([[float("nan"), 2.0, 2.0], [1.0, 1.0, float("nan")]]), 1)
        assert v.tolist() == [2.0, 1.0] and i.tolist() == [2, 1]
