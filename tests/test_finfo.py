"""ember.finfo / ember.iinfo against torch's, for every dtype, and their errors."""
import pytest
import torch

import ember

FLOATS = ("float16", "bfloat16", "float32", "float64")
INTS = ("uint8", "int8", "int16", "int32", "int64")


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name):
    e, t = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(e, attr) == getattr(t, attr), attr
        assert type(getattr(e, attr)) is type(getattr(t, attr)), attr
    assert repr(e) == repr(t)


def test_finfo_default_dtype():
    assert ember.finfo().dtype == "float32"
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.finfo().eps == torch.finfo(torch.float64).eps
    finally:
        ember.set_default_dtype(ember.float32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    e, t = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
    for attr in ("bits", "max", "min", "dtype"):
        assert getattr(e, attr) == getattr(t, attr), attr
        assert type(getattr(e, attr)) is type(getattr(t, attr)), attr
    assert repr(e) == repr(t)


def test_errors_as_torch():
    with pytest.raises(TypeError, match="requires a floating point input type"):
        ember.finfo(ember.int32)
    with pytest.raises(TypeError, match="requires an integer input type"):
        ember.iinfo(ember.float32)
    with pytest.raises(TypeError, match="bool is not supported"):
        ember.iinfo(ember.bool)
    with pytest.raises(TypeError, match="must be ember.dtype, not str"):
        ember.finfo("float32")


def test_clamp_to_dtype_range():
    # the common use: masks filled with the dtype's most negative value
    x = ember.zeros(3, dtype=ember.float16)
    filled = x.masked_fill(ember.tensor([True, False, True]), ember.finfo(x.dtype).min)
    assert filled.tolist() == [-65504.0, 0.0, -65504.0]
