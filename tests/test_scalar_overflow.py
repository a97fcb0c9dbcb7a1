"""Python ints beyond an integer dtype's range, as torch treats them: an operand wraps into the
tensor's dtype (int8 + 300 adds 44), a value stored by fill_/full/masked_fill/tensor() that
overflows is refused with torch's RuntimeError."""
import pytest
import torch

import ember

DEVICES = ember.backends.available()
OPS = {
    "add": lambda a: a + 300, "radd": lambda a: 300 + a, "sub": lambda a: a - 300,
    "mul": lambda a: a * 300, "floordiv": lambda a: a // 300, "lt": lambda a: a < 300,
    "eq": lambda a: a == 556, "add_alpha": lambda a: a.add(300, alpha=2),
    "sub_alpha": lambda a: a.sub(3, alpha=2), "uint8_neg": lambda a: a.to(a.dtype) + (-3),
}


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_out_of_range_operands_wrap_as_torch(dev, dtype, op):
    values = [1, 100, 27]
    want = OPS[op](torch.tensor(values, dtype=getattr(torch, dtype)))
    got = OPS[op](ember.tensor(values, dtype=getattr(ember, dtype), device=dev))
    assert str(got.dtype).split(".")[1] == str(want.dtype).split(".")[1]
    assert got.tolist() == want.tolist()


@pytest.mark.parametrize("dev", DEVICES)
@pytest.mark.parametrize("method", ["add_", "sub_", "mul_"])
def test_in_place_operands_wrap_as_torch(dev, method):
    want = getattr(torch.tensor([1, 100], dtype=torch.int8), method)(300)
    got = getattr(ember.tensor([1, 100], dtype=ember.int8, device=dev), method)(300)
    assert got.tolist() == want.tolist()


def test_stored_values_that_overflow_are_refused():
    cases = [lambda m: m.tensor([1], dtype=m.int8).fill_(300),
             lambda m: m.full((2,), 300, dtype=m.int8),
             lambda m: m.tensor([300], dtype=m.int8),
             lambda m: m.tensor([256], dtype=m.uint8),
             lambda m: m.tensor([1], dtype=m.int8).masked_fill(m.tensor([True]), 300),
             lambda m: m.tensor([1.0]).fill_(1e300),
             lambda m: m.where(m.tensor([True]), m.tensor([1], dtype=m.int8), 300),
             lambda m: m.clamp(m.tensor([1], dtype=m.int8), max=300)]
    for case in cases:
        with pytest.raises(RuntimeError) as want:
            case(torch)
        with pytest.raises(RuntimeError) as got:
            case(ember)
        assert "without overflow" in str(got.value)
        assert str(got.value).split(" type ")[1] == str(want.value).split(" type ")[1]
    # what torch accepts: a negative that fits an unsigned dtype wraps; NumPy arrays cast
    assert ember.tensor([-1], dtype=ember.uint8).tolist() == [255]
    assert ember.tensor([1], dtype=ember.uint8).fill_(-1).tolist() == \
        torch.tensor([1], dtype=torch.uint8).fill_(-1).tolist()
    import numpy as np
    assert ember.tensor(np.array([300]), dtype=ember.int8).tolist() == [44]
