"""Regression tests for the differences from torch that programs 52-55 found (vision
transformer, language-model pieces, optimisers and scientific computing, utilities and
serialization)."""
from __future__ import annotations

import io

import pytest

import ember
import ember.nn as nn


def _devices():
    return [d if isinstance(d, str) else d.name for d in ember.backends.available()
            if (d if isinstance(d, str) else d.name) in ("cpu", "opencl")]


def _roundtrip(obj, **kw):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return ember.load(buf, **kw)


def _message(fn) -> str:
    with pytest.raises(AssertionError) as info:
        fn()
    return str(info.value)


# ---- views saved together load sharing memory ------------------------------------------------

@pytest.mark.parametrize("device", _devices())
def test_saved_views_stay_shared(device):
    base = ember.arange(12.0, device=device).reshape(3, 4)
    # the views come before their base: the storage is written with the first of them
    back = _roundtrip({"row": base[1], "t": base.t(), "a": base, "col": [base[:, 2]]})
    assert back["a"].is_contiguous() and back["a"].stride() == (4, 1)
    back["a"][1, 2] = -100.0
    assert back["row"].tolist() == [4.0, 5.0, -100.0, 7.0]
    assert back["t"][2].tolist() == [2.0, -100.0, 10.0]
    assert back["col"][0].tolist() == [2.0, -100.0, 10.0]
    assert back["t"].stride() == (1, 4) and back["row"].storage_offset() == 4
    assert base[1, 2].item() == 6.0                     # the original is untouched
    assert str(back["row"].device) == str(base.device)


def test_saved_view_alone_keeps_layout_and_values():
    base = ember.arange(24.0).reshape(2, 3, 4)
    view = base.permute(2, 0, 1)[1:, :, ::2]
    back = _roundtrip(view)
    assert back.tolist() == view.tolist() and back.stride() == view.stride()
    # a view of another dtype than its base is saved as a copy of its own
    real = ember.view_as_real(ember.zeros(3, dtype=ember.complex64) + 1j)
    assert _roundtrip(real).tolist() == real.tolist()


def test_saved_parameter_and_view_share():
    p = nn.Parameter(ember.ones(2, 3))
    back = _roundtrip([p, p[0]])
    assert isinstance(back[0], nn.Parameter) and back[0].requires_grad
    assert back[1].requires_grad and back[1].is_leaf      # as torch: the saved flag, a leaf
    with ember.no_grad():
        back[0][0, 1] = 5.0
    assert back[1].tolist() == [1.0, 5.0, 1.0]


@pytest.mark.parametrize("device", _devices())
def test_storage_offset_and_untyped_storage(device):
    x = ember.arange(12.0, device=device).reshape(3, 4)
    assert x.storage_offset() == 0
    assert x[1, 2:].storage_offset() == 6
    assert x.t()[1].storage_offset() == 1
    assert x[2:].untyped_storage().data_ptr() == x.untyped_storage().data_ptr()
    assert x.untyped_storage().nbytes() == 48
    assert x.clone().untyped_storage().data_ptr() != x.untyped_storage().data_ptr()


# ---- torch.testing.assert_close wording --------------------------------------------------------

def test_assert_close_messages_match_torch():
    a = ember.tensor([1.0, 2.0, 3.0])
    scalar = _message(lambda: ember.testing.assert_close(ember.tensor(1.0),
                                                         ember.tensor(2.0)))
    assert scalar.startswith("Scalars are not close!\n\nExpected 2.0 but got 1.0.")
    ints = _message(lambda: ember.testing.assert_close(ember.tensor([1, 2]),
                                                       ember.tensor([1, 3])))
    assert ints.splitlines()[0] == "Tensor-likes are not equal!"
    assert "Greatest absolute difference: 1 at index (1,)\n" in ints
    assert _message(lambda: ember.testing.assert_close([a, a], [a])) == \
        "The length of the sequences mismatch: 2 != 1"
    nested = _message(lambda: ember.testing.assert_close({"x": [a]}, {"x": [a + 1]}))
    assert nested.startswith("Tensor-likes are not close!\n\nMismatched elements: 3 / 3 "
                             "(100.0%)")
    assert nested.endswith("The failure occurred for item ['x'][0]")
    ember.testing.assert_close({"x": [a, 1.0]}, {"x": [a, 1.0]})
    assert _message(lambda: ember.testing.assert_close(a, a + 1, msg="custom")) == "custom"


# ---- casting to a dtype the backend lacks ------------------------------------------------------

@pytest.mark.skipif("opencl" not in _devices(), reason="needs the opencl backend (PoCL)")
def test_cast_to_unsupported_dtype_is_a_type_error():
    x = ember.zeros(2, device="opencl")
    for fn in (lambda: x.half(), lambda: x.to(ember.bfloat16),
               lambda: nn.Linear(2, 2).to("opencl").half()):
        with pytest.raises(TypeError, match="opencl backend does not support dtype"):
            fn()


def test_checkpoint_version_marks_files_with_views():
    # files without views stay version 1, so an older Ember still reads them; one holding a
    # view is version 2, which an older Ember refuses instead of misreading its bytes
    versions = []
    for obj in (ember.ones(3), {"a": ember.ones(4).reshape(2, 2)}):
        buf = io.BytesIO()
        ember.save(obj, buf)
        versions.append(int.from_bytes(buf.getvalue()[8:12], "little"))
    assert versions == [1, 2]
