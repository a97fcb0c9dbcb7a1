"""ember.save / ember.load: round trips, map_location, and rejection of bad files."""
import io
import json
import math
import zlib
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember.core import serialization as ser

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
          "float32", "float64"]


def _sample(name, shape=(3, 4)):
    rng = np.random.default_rng(0)
    dt = getattr(ember, name)
    if name == "bool":
        return ember.tensor(rng.random(shape) > 0.5)
    if name in ("uint8",):
        return ember.tensor(rng.integers(0, 255, shape).astype(np.uint8))
    if "int" in name:
        return ember.tensor(rng.integers(-100, 100, shape)).to(dt)
    return ember.tensor(rng.standard_normal(shape).astype(np.float32)).to(dt)


def _same(a, b):
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
    assert str(a.device) == str(b.device)
    np.testing.assert_array_equal(a.detach().cpu().to(ember.float64).numpy()
                                  if a.dtype == ember.bfloat16 else a.detach().cpu().numpy(),
                                  b.detach().cpu().to(ember.float64).numpy()
                                  if b.dtype == ember.bfloat16 else b.detach().cpu().numpy())


def _round_trip(obj, **load_kw):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return ember.load(buf, **load_kw)


@pytest.mark.parametrize("name", DTYPES)
def test_every_dtype_round_trips(name, tmp_path):
    t = _sample(name)
    path = tmp_path / f"{name}.ember"
    ember.save(t, path)
    _same(ember.load(path), t)
    _same(ember.load(str(path)), t)


@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 0, 3), (2, 3, 4, 5)])
def test_shapes_round_trip(shape):
    t = ember.tensor(np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape))
    _same(_round_trip(t), t)


def test_non_contiguous_view_saved_as_its_values():
    base = ember.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    view = base.t()
    out = _round_trip(view)
    np.testing.assert_array_equal(out.numpy(), base.numpy().T)


def test_nested_containers_and_scalars():
    w = ember.tensor(np.ones((2, 2), dtype=np.float32))
    obj = {
        "model": OrderedDict([("fc.weight", w), ("fc.bias", ember.zeros(2))]),
        "opt": {"state": {0: {"step": ember.tensor(3.0), "exp_avg": ember.ones(2)}},
                "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0],
                                  "amsgrad": False, "foreach": None}]},
        "epoch": 7, "big": 2 ** 70, "loss": 0.125, "nan": float("nan"), "inf": -math.inf,
        "name": "rün ✓", "raw": b"\x00\xff", "flags": [True, False, None],
        "dtype": ember.float16, "device": ember.device("cpu"), "empty": {}, "tup": (),
    }
    out = _round_trip(obj)
    assert list(out) == list(obj)
    assert isinstance(out["model"], OrderedDict) and not isinstance(out["opt"], OrderedDict)
    assert list(out["model"]) == ["fc.weight", "fc.bias"]
    _same(out["model"]["fc.weight"], w)
    assert list(out["opt"]["state"]) == [0]  # int keys stay ints
    assert out["opt"]["state"][0]["step"].item() == 3.0
    g = out["opt"]["param_groups"][0]
    assert g == {"lr": 1e-3, "betas": (0.9, 0.999), "params": [0], "amsgrad": False,
                 "foreach": None}
    assert isinstance(g["betas"], tuple)
    assert out["epoch"] == 7 and out["big"] == 2 ** 70 and out["loss"] == 0.125
    assert math.isnan(out["nan"]) and out["inf"] == -math.inf
    assert out["name"] == "rün ✓" and out["raw"] == b"\x00\xff"
    assert out["flags"] == [True, False, None]
    assert out["dtype"] is ember.float16 and out["device"] == ember.device("cpu")
    assert out["empty"] == {} and out["tup"] == ()


def test_same_tensor_twice_loads_as_one_object_and_requires_grad_kept():
    t = ember.ones(3, requires_grad=True)
    out = _round_trip([t, t, {"again": t}])
    assert out[0] is out[1] is out[2]["again"]
    assert out[0].requires_grad


def test_parameters_and_module_state_dict():
    import ember.nn as nn
    lin = nn.Linear(3, 2)
    sd = _round_trip(lin.state_dict())
    lin2 = nn.Linear(3, 2)
    lin2.load_state_dict(sd)
    _same(lin2.weight.detach(), lin.weight.detach())
    p = _round_trip(lin.weight)
    assert isinstance(p, nn.Parameter) and p.requires_grad


def test_unsupported_object_rejected_on_save():
    class Foo:
        pass
    with pytest.raises(TypeError, match="cannot store .*Foo"):
        _round_trip({"x": Foo()})


# -- map_location --------------------------------------------------------------------------

def _with_device(blob: bytes, device: str) -> bytes:
    """Rewrite every tensor's recorded device (as if saved on another device)."""
    _, version, hlen, _ = ser._PREFIX.unpack_from(blob, 0)
    h0 = ser._PREFIX.size
    header = json.loads(blob[h0:h0 + hlen])

    def walk(node):
        if isinstance(node, dict):
            if node.get("t") == "tensor":
                node["device"] = device
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(header)
    new = json.dumps(header, separators=(",", ":")).encode()
    d0 = h0 + hlen + ser._pad(h0 + hlen)
    rest = blob[d0:]
    prefix = ser._PREFIX.pack(ser.MAGIC, version, len(new), zlib.crc32(new))
    return prefix + new + b"\0" * ser._pad(len(prefix) + len(new)) + rest


def _saved_on(device, obj):
    buf = io.BytesIO()
    ember.save(obj, buf)
    return io.BytesIO(_with_device(buf.getvalue(), device))


def test_missing_device_needs_map_location():
    t = ember.tensor(np.arange(6, dtype=np.float32))
    with pytest.raises(RuntimeError, match="nosuchdev:0.*map_location"):
        ember.load(_saved_on("nosuchdev:0", {"w": t}))
    cpu = ember.device("cpu")
    for ml in ["cpu", cpu, {"nosuchdev:0": "cpu"},
               lambda tensor, location: tensor if location == "nosuchdev:0" else None]:
        out = ember.load(_saved_on("nosuchdev:0", {"w": t}), map_location=ml)
        _same(out["w"], t)
    # a dict that does not cover the saved device leaves it where it was: still an error
    with pytest.raises(RuntimeError, match="nosuchdev"):
        ember.load(_saved_on("nosuchdev:0", t), map_location={"opencl:0": "cpu"})


def test_callable_map_location_sees_saved_location():
    seen = []

    def ml(tensor, location):
        seen.append(location)
        return tensor * 2

    out = _round_trip(ember.ones(2), map_location=ml)
    assert seen == ["cpu"] and out.numpy().tolist() == [2.0, 2.0]


def _other_devices():
    return [d for d in ember.backends.available() if d != "cpu"]


@pytest.mark.parametrize("dev", _other_devices() or
                         [pytest.param("opencl", marks=pytest.mark.skip(
                             reason="no accelerator backend available here"))])
def test_real_device_round_trip_and_map_to_cpu(dev):
    t = _sample("float32").to(dev)
    buf = io.BytesIO()
    ember.save({"w": t}, buf)
    buf.seek(0)
    back = ember.load(buf)["w"]
    assert back.device.type == dev
    buf.seek(0)
    on_cpu = ember.load(buf, map_location="cpu")["w"]
    assert on_cpu.device.type == "cpu"
    np.testing.assert_array_equal(on_cpu.numpy(), t.cpu().numpy())


# -- bad files -----------------------------------------------------------------------------

def _blob(obj=None):
    buf = io.BytesIO()
    ember.save(obj if obj is not None else {"w": ember.ones(100), "n": 3}, buf)
    return buf.getvalue()


def test_truncated_files_rejected(tmp_path):
    blob = _blob()
    path = tmp_path / "ckpt.ember"
    for cut in [4, 12, 30, len(blob) // 2, len(blob) - 5, len(blob) - 1]:
        path.write_bytes(blob[:cut])
        with pytest.raises(RuntimeError, match=r"ckpt\.ember.*(truncated|magic)"):
            ember.load(path)


def test_corrupted_files_rejected(tmp_path):
    blob = _blob()
    path = tmp_path / "bad.ember"
    h0 = ser._PREFIX.size
    # a flipped bit in the header, in the tensor data, and in the end marker
    for pos, what in [(h0 + 5, "header checksum"), (len(blob) - 100, "data checksum"),
                      (len(blob) - 2, "end marker")]:
        bad = bytearray(blob)
        bad[pos] ^= 0x10
        path.write_bytes(bytes(bad))
        with pytest.raises(RuntimeError, match=f"bad\\.ember.*{what}"):
            ember.load(path)
    path.write_bytes(blob + b"junk")
    with pytest.raises(RuntimeError, match="trailing bytes"):
        ember.load(path)


def test_not_a_checkpoint_rejected(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a checkpoint")
    with pytest.raises(RuntimeError, match=r"notes\.txt.*not an Ember checkpoint"):
        ember.load(path)
    path.write_bytes(b"")
    with pytest.raises(RuntimeError, match="not an Ember checkpoint"):
        ember.load(path)
    torch = pytest.importorskip("torch", reason="writes a torch checkpoint to reject")
    tpath = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, tpath)
    with pytest.raises(RuntimeError, match="zip file"):
        ember.load(tpath)


def test_loading_never_unpickles(tmp_path):
    import pickle
    path = tmp_path / "evil.pkl"

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(RuntimeError, match="never unpickles"):
        ember.load(path)


def test_unknown_node_type_rejected():
    blob = _blob(7)
    h0 = ser._PREFIX.size
    _, version, hlen, _ = ser._PREFIX.unpack_from(blob, 0)
    header = json.loads(blob[h0:h0 + hlen])
    header["root"] = {"t": "pickle", "v": "x"}
    new = json.dumps(header).encode()
    prefix = ser._PREFIX.pack(ser.MAGIC, version, len(new), zlib.crc32(new))
    d0 = h0 + hlen + ser._pad(h0 + hlen)
    crafted = prefix + new + b"\0" * ser._pad(len(prefix) + len(new)) + blob[d0:]
    with pytest.raises(RuntimeError, match="unknown entry type 'pickle'"):
        ember.load(io.BytesIO(crafted))


# -- sparse tensors ------------------------------------------------------------------------

def _sparse_sample():
    # (0, 1) twice: uncoalesced, with a dense dim of 2
    return ember.sparse_coo_tensor([[0, 2, 0, 1], [1, 0, 1, 3]],
                                   [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0], [7.0, 8.0]], (3, 4, 2))


@pytest.mark.parametrize("coalesce", [False, True])
def test_sparse_coo_round_trips(coalesce):
    s = _sparse_sample()
    if coalesce:
        s = s.coalesce()
    out = _round_trip({"adj": s, "other": ember.ones(2)})
    back = out["adj"]
    assert back.is_sparse and back.layout is ember.sparse_coo
    assert back.is_coalesced() == s.is_coalesced() and back._nnz() == s._nnz()
    assert tuple(back.shape) == (3, 4, 2) and back.dtype == ember.float32
    _same(back._indices(), s._indices())
    _same(back._values(), s._values())
    _same(back.to_dense(), s.to_dense())


def test_sparse_twice_loads_as_one_object_and_keeps_requires_grad():
    s = _sparse_sample().coalesce().requires_grad_(True)
    out = _round_trip([s, s])
    assert out[0] is out[1] and out[0].requires_grad and out[0].is_leaf


def test_sparse_csr_round_trips():
    c = ember.tensor([[0.0, 2.0, 0.0], [3.0, 0.0, 4.0]]).to_sparse_csr()
    back = _round_trip(c)
    assert back.layout is ember.sparse_csr
    _same(back.crow_indices(), c.crow_indices())
    _same(back.to_dense(), c.to_dense())


@pytest.mark.parametrize("dev", _other_devices() or
                         [pytest.param("opencl", marks=pytest.mark.skip(
                             reason="no accelerator backend available here"))])
def test_sparse_on_device_round_trip_and_map_to_cpu(dev):
    s = _sparse_sample().to(dev)
    buf = io.BytesIO()
    ember.save(s, buf)
    buf.seek(0)
    assert ember.load(buf).device.type == dev
    buf.seek(0)
    on_cpu = ember.load(buf, map_location="cpu")
    assert on_cpu.device.type == "cpu" and on_cpu.is_sparse
    np.testing.assert_array_equal(on_cpu.to_dense().numpy(), s.to_dense().cpu().numpy())


def test_sparse_with_indices_out_of_its_size_rejected():
    blob = _blob(_sparse_sample())
    h0 = ser._PREFIX.size
    _, version, hlen, _ = ser._PREFIX.unpack_from(blob, 0)
    header = json.loads(blob[h0:h0 + hlen])
    header["root"]["size"] = [2, 4, 2]          # index 2 in dim 0 no longer fits
    new = json.dumps(header).encode()
    prefix = ser._PREFIX.pack(ser.MAGIC, version, len(new), zlib.crc32(new))
    d0 = h0 + hlen + ser._pad(h0 + hlen)
    crafted = prefix + new + b"\0" * ser._pad(len(prefix) + len(new)) + blob[d0:]
    with pytest.raises(RuntimeError, match="sparse tensor entry does not match"):
        ember.load(io.BytesIO(crafted))
