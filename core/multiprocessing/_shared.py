"""Shared-memory storage for cpu tensors: what ``Tensor.share_memory_`` moves a tensor into.

A shared storage is a memory file (``memfd_create``, or a file under ``/dev/shm`` for the
``file_system`` strategy) mapped with ``mmap``. The tensor's NumPy array views that mapping, so a
process that maps the same file sees (and makes) the same writes. The mapping lives as long as
some array views it; then the file descriptor is closed (and a named file unlinked by the
process that created it).
"""
from __future__ import annotations

import itertools
import mmap
import multiprocessing.util as _mp_util
import os
import secrets
import weakref

import numpy as np
from numpy.lib.array_utils import byte_bounds

__all__ = ["SharedStorage", "storage_of", "share_array", "open_storage"]

_SHM_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None
_counter = itertools.count()
# id(root array) -> SharedStorage; an entry leaves when its root array is collected
_registry: dict[int, "SharedStorage"] = {}
# (st_dev, st_ino) of a mapped file -> weak reference to its root array
_by_inode: dict[tuple[int, int], weakref.ref] = {}


class SharedStorage:
    """One mapping of a shared memory file: ``fd`` keeps it shareable, ``name`` (a path, for the
    ``file_system`` strategy) lets another process open it, ``root()`` is the uint8 array over
    the whole mapping, which every tensor in the storage views."""

    __slots__ = ("fd", "name", "size", "root", "__weakref__")

    def __init__(self, fd: int, size: int, name: str | None, root: np.ndarray):
        self.fd, self.size, self.name = fd, size, name
        self.root = weakref.ref(root)

    def __repr__(self):
        return f"SharedStorage(fd={self.fd}, size={self.size}, name={self.name!r})"


def _release(key, fd, name, inode, pid):
    _registry.pop(key, None)
    ref = _by_inode.get(inode)
    if ref is not None and ref() is None:
        del _by_inode[inode]
    try:
        os.close(fd)
    except OSError:
        pass
    if name is not None and os.getpid() == pid:
        try:
            os.unlink(name)
        except OSError:
            pass


def _map(fd: int, size: int, name: str | None, owner: bool) -> np.ndarray:
    """Map ``fd`` and register the storage; returns its root array (the caller keeps it).

    A file this process has mapped already (a tensor sent back to the process that shared it,
    or two tensors of one storage) is mapped once: its tensors keep aliasing, as in torch."""
    st = os.fstat(fd)
    inode = (st.st_dev, st.st_ino)
    ref = _by_inode.get(inode)
    root = ref() if ref is not None else None
    if root is not None:
        os.close(fd)
        return root
    mm = mmap.mmap(fd, max(size, 1))
    root = np.frombuffer(mm, dtype=np.uint8)
    _registry[id(root)] = SharedStorage(fd, size, name, root)
    _by_inode[inode] = weakref.ref(root)
    # NOTE: multiprocessing's Finalize, not weakref.finalize: a child process ends with
    # os._exit, which skips atexit but runs these, so its named files are removed too. (The pid:
    # a forked child that drops an inherited tensor must not unlink the parent's file.)
    _mp_util.Finalize(root, _release, (id(root), fd, name if owner else None, inode,
                                       os.getpid()), exitpriority=0)
    return root


def _create(size: int, strategy: str) -> np.ndarray:
    """A new zero-filled shared storage of ``size`` bytes; returns its root array."""
    tag = f"ember_{os.getpid()}_{next(_counter)}_{secrets.token_hex(4)}"
    if strategy == "file_system":
        if _SHM_DIR is None:
            raise RuntimeError("the file_system sharing strategy needs /dev/shm")
        name = os.path.join(_SHM_DIR, tag)
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.ftruncate(fd, max(size, 1))
        return _map(fd, size, name, owner=True)
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(tag, 0)
    else:  # NOTE: no memfd (not Linux): an anonymous file, unlinked at once, behaves the same
        path = os.path.join(_SHM_DIR or "/tmp", tag)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)
    os.ftruncate(fd, max(size, 1))
    return _map(fd, size, None, owner=False)


def open_storage(fd: int | None, size: int, name: str | None) -> np.ndarray:
    """Map a storage that another process shared (by an fd this process now owns, or by name);
    returns its root array."""
    if fd is None:
        fd = os.open(name, os.O_RDWR)
    return _map(fd, size, name, owner=False)


def root_array(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _ptr(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def storage_of(a) -> tuple[SharedStorage, np.ndarray] | None:
    """(storage, root array) when ``a`` views a shared storage, else None."""
    if not isinstance(a, np.ndarray):
        return None
    root = root_array(a)
    st = _registry.get(id(root))
    if st is None or st.root() is not root:
        return None
    return st, root


def offset_in(a: np.ndarray, root: np.ndarray) -> int:
    return _ptr(a) - _ptr(root)


def view(root: np.ndarray, shape, dtype, strides, offset: int) -> np.ndarray:
    """The array of ``shape``/``dtype``/byte ``strides`` at byte ``offset`` of ``root``."""
    return np.ndarray(tuple(shape), dtype=dtype, buffer=root, offset=offset,
                      strides=tuple(strides))


def share_array(a: np.ndarray, strategy: str, extra=()) -> list[np.ndarray]:
    """Copy the memory that ``a`` lives in (its owning array's whole extent, as torch moves a
    whole storage) into a new shared storage; returns ``a`` and each array of ``extra`` (views
    of the same memory) re-made over the shared copy, with their shapes and strides."""
    owner = root_array(a)
    lo, hi = byte_bounds(owner)
    arrays = (a,) + tuple(extra)
    if any(byte_bounds(x)[0] < lo or byte_bounds(x)[1] > hi for x in arrays):
        owner = a  # (an array that reaches past its owner's extent: share just its own span)
        lo, hi = byte_bounds(a)
        arrays = (a,)
    root = _create(hi - lo, strategy)
    copy = view(root, owner.shape, owner.dtype, owner.strides, _ptr(owner) - lo)
    copy[...] = owner
    out = [view(root, x.shape, x.dtype, x.strides, _ptr(x) - lo) for x in arrays]
    return out + [None] * (1 + len(extra) - len(out))
