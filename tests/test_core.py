"""Core semantics on the cpu backend: dtypes and promotion, views and in-place ops, indexing,
errors, and the plugin registry. Parity with torch where it is installed."""
import itertools
import pickle

import numpy as np
import pytest

import ember

try:
    import torch
except ImportError:  # parity checks below skip with this reason
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed (parity check)")

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64"]


def E(name):
    return getattr(ember, name if name != "bool" else "bool")


@needs_torch
@pytest.mark.parametrize("a,b", list(itertools.product(DTYPES, DTYPES)))
def test_promote_types_matches_torch(a, b):
    assert ember.promote_types(E(a), E(b)).name == str(
        torch.promote_types(getattr(torch, a), getattr(torch, b))).split(".")[1]


@needs_torch
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("other", [True, 2, 2.5, "0d_float64", "0d_int32", "1d_float16"])
def test_result_type_with_scalars_and_0d_matches_torch(dt, other):
    def make(m):
        x = m.ones(3, dtype=getattr(m, dt))
        if other == "0d_float64":
            o = m.tensor(1.0, dtype=m.float64)
        elif other == "0d_int32":
            o = m.tensor(1, dtype=m.int32)
        elif other == "1d_float16":
            o = m.ones(3, dtype=m.float16)
        else:
            o = other
        return x, o
    ex, eo = make(ember)
    tx, to = make(torch)
    assert ember.result_type(ex, eo).name == str(torch.result_type(tx, to)).split(".")[1]
    if dt != "bool" or other not in (2.5,):
        er, tr = ex * eo, tx * to
        assert er.dtype.name == str(tr.dtype).split(".")[1]


def test_default_dtype():
    assert ember.tensor([1.0]).dtype is ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1.0]).dtype is ember.float64
        assert (ember.tensor([1, 2]) / 2).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int32)


def test_views_share_storage_and_version():
    x = ember.arange(12.0).reshape(3, 4).clone()
    v = x[1]
    assert v._base is x and x[1][2]._base is x  # the base is the root, as torch
    v.mul_(10)
    assert x[1].tolist() == [40.0, 50.0, 60.0, 70.0]
    x[0, 0] = -1
    t = x.t()
    assert t[0, 0].item() == -1 and not t.is_contiguous() and x.is_contiguous()
    assert x._vc is v._vc and x._version == 2 and v._version == 2
    c = t.contiguous()
    assert c.is_contiguous() and c._base is None
    x.zero_()
    assert t.sum().item() == 0 and v.sum().item() == 0


def test_inplace_ops_through_views_and_masks():
    x = ember.arange(12.0).reshape(3, 4)
    x[:, 1:3] += 1
    x[x > 8] = 0
    ref = np.arange(12.0).reshape(3, 4)
    ref[:, 1:3] += 1
    ref[ref > 8] = 0
    assert np.array_equal(x.numpy(), ref)
    y = x.view(-1)
    y[::2].fill_(7)
    ref.reshape(-1)[::2] = 7
    assert np.array_equal(x.numpy(), ref)
    x.clamp_(0, 5)
    assert x.max().item() == 5


def test_view_errors():
    x = ember.arange(12.0).reshape(3, 4).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(12)
    assert x.reshape(12).shape == (12,)
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        ember.zeros(5).view(2, 3)


def test_errors_have_torch_classes_and_name_the_problem():
    a, b = ember.ones(3), ember.ones(4)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match.*\(4\)"):
        a + b
    with pytest.raises(IndexError, match="out of bounds"):
        a[5]
    with pytest.raises(IndexError):
        ember.ones(2, 2)[0, 0, 0]
    with pytest.raises(TypeError):
        a + "x"
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        ember.ones(2, 3) @ ember.ones(2, 3)
    with pytest.raises(IndexError, match="Dimension out of range"):
        a.sum(3)
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        ember.ones(2, dtype=ember.int64).requires_grad_()
    with pytest.raises(IndexError, match="out of bounds"):
        ember.ones(3)[ember.tensor([0, 7])]


def test_unknown_device_lists_available():
    with pytest.raises(RuntimeError, match="available"):
        ember.zeros(2, device="nosuchdevice")


def test_repr_like_torch():
    assert repr(ember.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"
    assert repr(ember.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(ember.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(ember.tensor([1, 2], dtype=ember.int32)) == "tensor([1, 2], dtype=ember.int32)"
    assert "requires_grad=True" in repr(ember.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(ember.ones(1, requires_grad=True) * 2)


@needs_torch
@pytest.mark.parametrize("data", [[[1.0, -2.25], [3e-5, 4.0]], [1, 2, 3], [True, False],
                                  [[1.5, 2.0, 1e6]], 3.0])
def test_repr_matches_torch_text(data):
    assert repr(ember.tensor(data)) == repr(torch.tensor(data))


def test_conversion_and_scalars():
    x = ember.tensor([[1, 2], [3, 4]])
    assert x.tolist() == [[1, 2], [3, 4]]
    assert x[1, 1].item() == 4 and int(x[0, 1]) == 2
    assert float(ember.tensor(2.5)) == 2.5
    assert [1, 2, 3][ember.tensor(1)] == 2
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    assert len(x) == 2 and [r.tolist() for r in x] == [[1, 2], [3, 4]]
    arr = np.asarray(x)
    assert arr.shape == (2, 2)
    y = pickle.loads(pickle.dumps(x.float().requires_grad_()))
    assert y.requires_grad and y.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    n = np.arange(3.0)
    t = ember.from_numpy(n)
    n[0] = 9
    assert t[0].item() == 9 and t.dtype is ember.float64


def test_type_casts():
    x = ember.tensor([1.7, -1.7])
    assert x.long().tolist() == [1, -1]
    assert x.bool().tolist() == [True, True]
    assert x.half().dtype is ember.float16 and x.double().dtype is ember.float64
    assert x.to(ember.bfloat16).dtype is ember.bfloat16
    assert x.to(x) is x


def test_out_argument():
    out = ember.empty(3)
    r = ember.add(ember.ones(3), 1, out=out)
    assert r is out and out.tolist() == [2.0, 2.0, 2.0]


def test_named_tuples():
    x = ember.tensor([[1.0, 5.0, 2.0]])
    r = x.max(dim=1)
    assert r.values.tolist() == [5.0] and r.indices.tolist() == [1]
    v, i = x.sort(descending=True)
    assert v.tolist() == [[5.0, 2.0, 1.0]] and i.tolist() == [[1, 2, 0]]


def test_manual_seed_reproducible():
    ember.manual_seed(3)
    a = ember.rand(5)
    ember.manual_seed(3)
    b = ember.rand(5)
    assert a.tolist() == b.tolist()
    g = ember.Generator().manual_seed(1)
    s = g.get_state()
    c = ember.randn(4, generator=g)
    g.set_state(s)
    assert ember.randn(4, generator=g).tolist() == c.tolist()


def test_registry_reports_backends():
    assert "cpu" in ember.backends.available()
    caps = ember.backends.capabilities("cpu")
    assert "float32" in caps["dtypes"] and "add" in caps["ops"] and not caps["missing"]


def test_legacy_names():
    assert isinstance(ember.ones(2), ember.Tensor)
    assert isinstance(ember.ones(2), ember.FloatTensor)
    assert not isinstance(ember.ones(2), ember.LongTensor)
    assert ember.LongTensor([1, 2]).dtype is ember.int64
    assert ember.float is ember.float32 and ember.long is ember.int64
    assert ember.backends.mps.is_available() is False
    assert ember.is_tensor(ember.ones(1)) and ember.numel(ember.ones(2, 3)) == 6
    assert isinstance(ember.ones(2, 3).shape, ember.Size)
    assert ember.ones(2).device.type == "cpu"


@needs_torch
def test_api_coverage_document_is_current():
    import pathlib
    import subprocess
    import sys
    root = pathlib.Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, str(root / "docs" / "gen_api_coverage.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
