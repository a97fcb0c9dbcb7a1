"""``ember.save`` / ``ember.load``: checkpoints in Ember's own format, never pickle.

Loading never executes code from the file: the file holds only data (a JSON description of the
structure and raw tensor bytes), and only these types are written or read back: tensors
(and ``nn.Parameter``; sparse COO and CSR tensors as their index and value tensors),
``dict``/``OrderedDict`` (any of the types below as keys), ``list``,
``tuple``, ``int``, ``float``, ``bool``, ``str``, ``bytes``, ``None``, ``ember.dtype`` and
``ember.device``.

File layout (all integers little-endian)::

    magic        8 bytes   b"\\x89EMBER\\r\\n"  (the \\r\\n catches text-mode mangling, as PNG's)
    version      u32       1, or 2 when the file holds views of a shared storage
    header_len   u64
    header_crc   u32       CRC-32 of the header bytes
    header       JSON, UTF-8: {"root": <node>, "data_len": int, "tensors": int}
    padding      to a 64-byte boundary
    data         raw host bytes of every tensor, C-contiguous, each at a 64-byte-aligned offset
    data_crc     u32       CRC-32 of data
    end magic    8 bytes   b"EMBEREND"

A tensor node records dtype, shape, device, byte offset and length. As in torch, a view of
a tensor is stored as its whole storage (the bytes of the tensor it views, written once) plus
``root_shape``, ``stride`` and ``storage_offset``, so that views of one tensor load sharing
memory again; a view Ember cannot describe that way (another dtype than its base, a base that
is not contiguous) is stored as a copy of its own. The very same tensor object saved twice is
stored once and loads as one object.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from collections import OrderedDict
from typing import Any, BinaryIO, Callable, Union

import ml_dtypes
import numpy as np

import ember

__all__ = ["save", "load"]

MAGIC = b"\x89EMBER\r\n"
END_MAGIC = b"EMBEREND"
#: Version 2 adds view entries (root_shape, stride, storage_offset); a file without views is
#: still written as version 1, which every Ember reads.
VERSION = 2
_ALIGN = 64
_PREFIX = struct.Struct("<8sIQI")  # magic, version, header_len, header_crc
_SUFFIX = struct.Struct("<I8s")    # data_crc, end magic

FileLike = Union[str, os.PathLike, BinaryIO]
MapLocation = Union[None, str, "ember.device", dict, Callable]


#: The element types a checkpoint may hold: file name -> little-endian NumPy dtype. The names are
#: part of the file format (they match ember's dtype names).
_NP_DTYPES = {
    "bool": np.dtype(np.bool_), "uint8": np.dtype("u1"), "int8": np.dtype("i1"),
    "int16": np.dtype("<i2"), "int32": np.dtype("<i4"), "int64": np.dtype("<i8"),
    "float16": np.dtype("<f2"), "bfloat16": np.dtype(ml_dtypes.bfloat16),
    "float32": np.dtype("<f4"), "float64": np.dtype("<f8"),
    "complex64": np.dtype("<c8"), "complex128": np.dtype("<c16"),
}


def _pad(n: int) -> int:
    return (-n) % _ALIGN


# -- save ----------------------------------------------------------------------------------

class _Writer:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.seen: dict[int, int] = {}  # id(tensor) -> tensor number, for objects saved twice
        self.count = 0
        self.keep: list[Any] = []      # keep tensors alive so ids stay unique while saving
        self.storages: dict[int, tuple[int, int]] = {}  # id(root tensor) -> (offset, nbytes)
        self.views = False             # whether a view entry was written (format version 2)

    def tensor(self, t: Any) -> dict:
        if id(t) in self.seen:
            return {"t": "ref", "id": self.seen[id(t)]}
        self.keep.append(t)
        name = _dtype_name(t.dtype)
        if name not in _NP_DTYPES:
            raise TypeError(f"ember.save cannot store a tensor of dtype {t.dtype}")
        node = {"t": "tensor", "id": self.count, "dtype": name,
                "shape": list(t.shape), "device": str(t.device),
                "requires_grad": bool(t.requires_grad), "parameter": _is_parameter(t)}
        root = t._base
        if root is not None and _shares_storage(t, root):
            # NOTE: as torch, a view is saved as its whole storage plus its layout, so that
            # views of one tensor (and the tensor itself) load sharing memory again
            node["offset"], node["nbytes"] = self.storage(root, name)
            node.update(root_shape=list(root.shape), stride=list(t.stride()),
                        storage_offset=t.storage_offset())
            self.views = True
        elif root is None and t.is_contiguous():
            node["offset"], node["nbytes"] = self.storage(t, name)
        else:
            node["offset"], node["nbytes"] = self.write(t, name)
        self.seen[id(t)] = self.count
        self.count += 1
        return node

    def storage(self, root: Any, name: str) -> tuple[int, int]:
        """(offset, nbytes) of the contiguous tensor ``root``'s bytes, written once."""
        if id(root) not in self.storages:
            self.keep.append(root)
            self.storages[id(root)] = self.write(root, name)
        return self.storages[id(root)]

    def write(self, t: Any, name: str) -> tuple[int, int]:
        arr = np.ascontiguousarray(t.detach().cpu().numpy())
        raw = arr.astype(_NP_DTYPES[name], copy=False).tobytes()
        offset = self.size
        self.chunks.append(raw)
        self.chunks.append(b"\0" * _pad(len(raw)))
        self.size += len(raw) + _pad(len(raw))
        return offset, len(raw)

    def sparse(self, t: Any) -> dict:
        """A sparse tensor's node: its layout, size and the dense tensors that make it up (as
        torch pickles ``_indices()`` / ``_values()``). Only sparse COO and CSR exist in Ember."""
        if id(t) in self.seen:
            return {"t": "ref", "id": self.seen[id(t)]}
        from .sparse import SparseTensor
        self.keep.append(t)
        node = {"t": "sparse_coo" if isinstance(t, SparseTensor) else "sparse_csr",
                "id": None, "size": list(t.shape), "requires_grad": bool(t.requires_grad)}
        if isinstance(t, SparseTensor):
            node["coalesced"] = bool(t.is_coalesced())
            parts = {"indices": t._indices(), "values": t._values()}
        else:
            parts = {"crow": t.crow_indices(), "col": t.col_indices(), "values": t.values()}
        for key, part in parts.items():
            node[key] = self.tensor(part.detach())
        # numbered after its parts, so a "ref" to it always follows its definition
        node["id"] = self.seen[id(t)] = self.count
        self.count += 1
        return node

    def node(self, obj: Any, path: str) -> dict:
        if isinstance(obj, ember.Tensor):
            if obj.layout is not ember.strided:
                return self.sparse(obj)
            return self.tensor(obj)
        if obj is None:
            return {"t": "none"}
        if isinstance(obj, bool):
            return {"t": "bool", "v": obj}
        if isinstance(obj, int):
            return {"t": "int", "v": str(int(obj))}
        if isinstance(obj, float):
            return {"t": "float", "v": float(obj).hex()}
        if isinstance(obj, str):
            return {"t": "str", "v": obj}
        if isinstance(obj, (bytes, bytearray)):
            return {"t": "bytes", "v": bytes(obj).hex()}
        if isinstance(obj, ember.dtype):
            return {"t": "dtype", "v": _dtype_name(obj)}
        if isinstance(obj, ember.device):
            return {"t": "device", "v": str(obj)}
        if isinstance(obj, dict):
            kind = "odict" if isinstance(obj, OrderedDict) else "dict"
            return {"t": kind, "items": [[self.node(k, f"{path} key {k!r}"),
                                          self.node(v, f"{path}[{k!r}]")]
                                         for k, v in obj.items()]}
        if isinstance(obj, (list, tuple)):
            return {"t": "list" if isinstance(obj, list) else "tuple",
                    "items": [self.node(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, (np.integer, np.floating, np.bool_)):
            return self.node(obj.item(), path)
        raise TypeError(f"ember.save cannot store {type(obj).__module__}.{type(obj).__name__} "
                        f"(at {path}): only tensors, dicts, lists, tuples, numbers, strings, "
                        "bytes, None, dtypes and devices are saved (no pickle)")


def _dtype_name(d: Any) -> str:
    return str(d).rsplit(".", 1)[-1]  # "ember.float32" -> "float32"


def _shares_storage(view: Any, root: Any) -> bool:
    """Whether ``view`` can be saved as a window on its root's bytes: same dtype, a contiguous
    root, no negative strides, and a backend that says where the view starts."""
    return (view.dtype == root.dtype and root.is_contiguous()
            and "byte_address" in view._device._backend.kernels
            and all(st >= 0 for st in view.stride()))


def _is_parameter(t: Any) -> bool:
    nn = getattr(ember, "nn", None)
    param_cls = getattr(nn, "Parameter", None) if nn is not None else None
    return param_cls is not None and isinstance(t, param_cls)


def save(obj: Any, f: FileLike) -> None:
    """Save ``obj`` (tensors, state dicts, nested containers of them) to a path or binary file.

    Tensors on any device are copied to the host; the device is recorded, so ``ember.load``
    puts them back there (or where ``map_location`` says). Views are saved as separate copies.

    Example::

        >>> ember.save({"model": model.state_dict(), "epoch": 3}, "ckpt.ember")
        >>> ckpt = ember.load("ckpt.ember", map_location="cpu")
    """
    w = _Writer()
    root = w.node(obj, "the saved object")
    header = json.dumps({"root": root, "data_len": w.size, "tensors": w.count},
                        separators=(",", ":")).encode("utf-8")
    prefix = _PREFIX.pack(MAGIC, VERSION if w.views else 1, len(header), zlib.crc32(header))
    crc = 0
    for c in w.chunks:
        crc = zlib.crc32(c, crc)

    def write(fh: BinaryIO) -> None:
        fh.write(prefix)
        fh.write(header)
        fh.write(b"\0" * _pad(len(prefix) + len(header)))
        for c in w.chunks:
            fh.write(c)
        fh.write(_SUFFIX.pack(crc, END_MAGIC))

    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            write(fh)
    else:
        write(f)


# -- load ----------------------------------------------------------------------------------

class _Reader:
    def __init__(self, name: str, data: memoryview, map_location: MapLocation) -> None:
        self.name = name
        self.data = data
        self.map_location = map_location
        self.tensors: dict[int, Any] = {}
        # (offset, nbytes, dtype, device) -> the tensor holding those bytes, which views share
        self.storages: dict[tuple, Any] = {}

    def fail(self, what: str) -> RuntimeError:
        return RuntimeError(f"ember.load: {self.name}: {what}")

    def target(self, saved: str) -> Any:
        ml = self.map_location
        if ml is None:
            return saved
        if isinstance(ml, (str, ember.device)):
            return ml
        if isinstance(ml, dict):
            return ml.get(saved, saved)
        raise TypeError(f"map_location should be a str, ember.device, dict or callable, "
                        f"got {type(ml).__name__}")

    def to_device(self, t: Any, saved: str) -> Any:
        if callable(self.map_location) and not isinstance(self.map_location, (dict, str)) \
                and not isinstance(self.map_location, ember.device):
            # NOTE: torch calls map_location(storage, location) with a CPU storage; Ember has
            # no storage objects, so it passes the tensor on cpu. None means "the default".
            out = self.map_location(t, saved)
            if out is not None:
                return out
            dest = saved
        else:
            dest = self.target(saved)
        try:
            dev = ember.device(dest)
            if dev.type == "cpu":
                return t
            return t.to(dev)
        except Exception as e:
            where = f"saved on device '{saved}'" + ("" if str(dest) == saved else
                                                     f" and mapped to '{dest}'")
            raise self.fail(f"a tensor {where} cannot be loaded: that device is not available "
                            f"here ({type(e).__name__}: {e}); pass map_location='cpu' (or "
                            "another available device) to load it elsewhere") from e

    def tensor(self, node: dict) -> Any:
        try:
            np_dt = _NP_DTYPES[node["dtype"]]
            shape = tuple(int(s) for s in node["shape"])
            off, nbytes = int(node["offset"]), int(node["nbytes"])
        except KeyError as e:
            raise self.fail(f"malformed tensor entry in the header (unknown field or dtype "
                            f"{e})") from None
        except (TypeError, ValueError) as e:
            raise self.fail(f"malformed tensor entry in the header ({e!r})") from None
        view = "stride" in node
        try:
            root_shape = tuple(int(s) for s in node["root_shape"]) if view else shape
            stride = tuple(int(s) for s in node["stride"]) if view else ()
            start = int(node["storage_offset"]) if view else 0
        except (KeyError, TypeError, ValueError) as e:
            raise self.fail(f"malformed view entry in the header ({e!r})") from None
        count = int(np.prod(root_shape, dtype=np.int64))
        last = start + sum((n - 1) * st for n, st in zip(shape, stride) if n > 0)
        if (count * np_dt.itemsize != nbytes or off < 0 or off + nbytes > len(self.data)
                or len(stride) != (len(shape) if view else 0) or min(stride, default=0) < 0
                or (view and 0 not in shape and not 0 <= start <= last < count)):
            raise self.fail(f"tensor entry (dtype {node['dtype']}, shape {list(shape)}) does "
                            "not match its bytes in the file; the file is corrupted")
        key = (off, nbytes, node["dtype"], node.get("device", "cpu"))
        root = self.storages.get(key)
        if root is None:
            arr = np.frombuffer(self.data[off:off + nbytes], dtype=np_dt, count=count)
            arr = arr.astype(np_dt.newbyteorder("="), copy=True).reshape(root_shape)
            root = self.to_device(ember.from_numpy(arr), node.get("device", "cpu"))
            self.storages[key] = root
        if view:
            with ember.no_grad():     # a loaded view is a leaf of its own, as in torch
                t = root.as_strided(shape, stride, start)
        else:
            t = root
        if node.get("parameter"):
            t = ember.nn.Parameter(t, requires_grad=bool(node.get("requires_grad")))
        elif node.get("requires_grad"):
            t.requires_grad_(True)
        self.tensors[node["id"]] = t
        return t

    def sparse(self, node: dict) -> Any:
        size = [int(n) for n in node["size"]]
        parts = {k: self.node(node[k]) for k in ("indices", "crow", "col", "values")
                 if k in node}
        if any(not isinstance(p, ember.Tensor) or p.layout is not ember.strided
               for p in parts.values()):
            raise self.fail("malformed sparse tensor entry in the header (its parts must be "
                            "dense tensors)")
        # the constructors check the indices against the size, so a corrupted file fails here
        try:
            with ember.no_grad():
                if node["t"] == "sparse_coo":
                    t = ember.sparse_coo_tensor(parts["indices"], parts["values"], size,
                                                is_coalesced=bool(node.get("coalesced")))
                else:
                    t = ember.sparse_csr_tensor(parts["crow"], parts["col"], parts["values"],
                                                size)
        except (RuntimeError, ValueError, IndexError) as e:
            raise self.fail(f"sparse tensor entry does not match its parts; the file is "
                            f"corrupted ({e})") from None
        if node.get("requires_grad"):
            t.requires_grad_(True)
        self.tensors[node["id"]] = t
        return t

    def node(self, node: Any) -> Any:
        try:
            kind = node["t"]
            if kind == "tensor":
                return self.tensor(node)
            if kind in ("sparse_coo", "sparse_csr"):
                return self.sparse(node)
            if kind == "ref":
                return self.tensors[node["id"]]
            if kind == "none":
                return None
            if kind == "bool":
                return bool(node["v"])
            if kind == "int":
                return int(node["v"])
            if kind == "float":
                return float.fromhex(node["v"])
            if kind == "str":
                return str(node["v"])
            if kind == "bytes":
                return bytes.fromhex(node["v"])
            if kind == "dtype":
                return getattr(ember, node["v"])
            if kind == "device":
                return ember.device(node["v"])
            if kind in ("dict", "odict"):
                d = OrderedDict() if kind == "odict" else {}
                for k, v in node["items"]:
                    d[self.node(k)] = self.node(v)
                return d
            if kind == "list":
                return [self.node(v) for v in node["items"]]
            if kind == "tuple":
                return tuple(self.node(v) for v in node["items"])
        except RuntimeError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise self.fail(f"malformed entry in the header ({type(e).__name__}: {e})") from None
        raise self.fail(f"unknown entry type {kind!r} in the header (written by a newer Ember?)")


def _read_all(f: FileLike) -> tuple[str, bytes]:
    if isinstance(f, (str, os.PathLike)):
        name = os.fspath(f)
        with open(name, "rb") as fh:
            return repr(name), fh.read()
    name = getattr(f, "name", None)
    return (repr(name) if isinstance(name, str) else f"<{type(f).__name__}>"), f.read()


def load(f: FileLike, map_location: MapLocation = None, pickle_module: Any = None, *,
         weights_only: bool = True, mmap: bool | None = None) -> Any:
    """Load an object written by :func:`save`.

    Args:
        f: a path or a binary file.
        map_location: where tensors go: ``None`` (the device each was saved on), a device
            (``"cpu"``, ``ember.device("opencl:0")``), a dict from saved device to device
            (``{"opencl:0": "cpu"}``), or a callable ``fn(tensor_on_cpu, saved_device)`` that
            returns the tensor to use (or ``None`` for the default), as torch's.
        pickle_module: must be ``None``: Ember checkpoints never use pickle.
        weights_only: accepted for torch compatibility. Ember checkpoints hold only data, so
            loading is always as safe as torch's ``weights_only=True``, whichever is passed.
        mmap: accepted for torch compatibility; the file is read into memory.

    Raises RuntimeError naming the file when it is not an Ember checkpoint, is truncated or
    corrupted, or holds a tensor for a device that is not available (unless ``map_location``
    moves it).

    Example::

        >>> state = ember.load("ckpt.ember", map_location="cpu")
    """
    if pickle_module is not None:
        raise TypeError("ember.load does not take a pickle_module: Ember checkpoints never use "
                        "pickle")
    name, blob = _read_all(f)

    def fail(what: str) -> RuntimeError:
        return RuntimeError(f"ember.load: {name}: {what}")

    if len(blob) < len(MAGIC) or blob[:len(MAGIC)] != MAGIC:
        hint = ""
        if blob[:4] == b"PK\x03\x04":
            hint = (" (it looks like a zip file, e.g. from torch.save; Ember reads only its own "
                    "format)")
        elif blob[:2] == b"\x80\x02" or blob[:1] == b"\x80":
            hint = " (it looks like a pickle; Ember never unpickles)"
        raise fail(f"not an Ember checkpoint: bad magic number{hint}")
    if len(blob) < _PREFIX.size:
        raise fail("file is truncated (incomplete header)")
    _, version, header_len, header_crc = _PREFIX.unpack_from(blob, 0)
    if not 1 <= version <= VERSION:
        raise fail(f"unsupported checkpoint version {version} (this Ember reads versions 1 "
                   f"to {VERSION})")
    h0 = _PREFIX.size
    if h0 + header_len > len(blob):
        raise fail(f"file is truncated: the header needs {header_len} bytes, "
                   f"{len(blob) - h0} are present")
    header = blob[h0:h0 + header_len]
    if zlib.crc32(header) != header_crc:
        raise fail("header checksum mismatch: the file is corrupted")
    try:
        meta = json.loads(header.decode("utf-8"))
        data_len = int(meta["data_len"])
        root = meta["root"]
    except (ValueError, KeyError, TypeError) as e:
        raise fail(f"header is not valid ({e})") from None
    d0 = h0 + header_len + _pad(h0 + header_len)
    expected = d0 + data_len + _SUFFIX.size
    if len(blob) < expected:
        raise fail(f"file is truncated: expected {expected} bytes, found {len(blob)}")
    if len(blob) > expected:
        raise fail(f"file has {len(blob) - expected} unexpected trailing bytes")
    data = memoryview(blob)[d0:d0 + data_len]
    data_crc, end = _SUFFIX.unpack_from(blob, d0 + data_len)
    if end != END_MAGIC:
        raise fail("end marker missing: the file is corrupted")
    if zlib.crc32(data) != data_crc:
        raise fail("tensor data checksum mismatch: the file is corrupted")
    return _Reader(name, data, map_location).node(root)
