"""CLArray, the native array of the OpenCL backend, and the view kernels (no copy, no launch).

A CLArray is a buffer plus a strided window on it: shape, strides and offset in elements (not
bytes, so that views never depend on the item size) and a NumPy dtype. Views share the buffer.
Strides may be 0 (expand) or negative (flip uses a reversed view internally).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .runtime import Device, device


class CLArray:
    """``base`` keeps a pooled buffer out of the pool while any array on it lives."""

    __slots__ = ("buffer", "shape", "strides", "offset", "dtype", "device", "base")

    def __init__(self, buffer, shape, strides, offset, dtype, dev: Device, base=None):
        self.buffer = buffer
        self.shape = tuple(int(s) for s in shape)
        self.strides = tuple(int(s) for s in strides)
        self.offset = int(offset)
        self.dtype = np.dtype(dtype)
        self.device = dev
        self.base = base

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def itemsize(self) -> int:
        return self.dtype.itemsize

    @property
    def index(self) -> int:
        return self.device.index

    def is_contiguous(self) -> bool:
        if self.strides == c_strides(self.shape):
            return True
        # NOTE: strides of size-1 dims never matter, as in NumPy's flags
        return self.size <= 1 or all(
            st == cs for s, st, cs in zip(self.shape, self.strides, c_strides(self.shape))
            if s != 1)

    def __repr__(self):
        return (f"CLArray(shape={self.shape}, dtype={self.dtype}, strides={self.strides}, "
                f"offset={self.offset}, device=opencl:{self.device.index})")


_new = object.__new__


def make(buffer, shape: tuple, strides: tuple, offset: int, dtype: np.dtype, dev: Device,
         base) -> CLArray:
    """A CLArray from already-normalised parts (tuples of ints, a NumPy dtype): the hot path."""
    x = _new(CLArray)
    x.buffer = buffer
    x.shape = shape
    x.strides = strides
    x.offset = offset
    x.dtype = dtype
    x.device = dev
    x.base = base
    return x


@functools.lru_cache(maxsize=4096)
def c_strides(shape) -> tuple:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= max(int(s), 1)
    return tuple(reversed(out))


def empty(shape, dtype, index_or_device) -> CLArray:
    dev = index_or_device if isinstance(index_or_device, Device) else device(index_or_device)
    if type(dtype) is not np.dtype:
        dtype = np.dtype(dtype)
    if type(shape) is not tuple:
        shape = tuple(int(s) for s in shape)
    buf, lease = dev.alloc(math.prod(shape) * dtype.itemsize)
    return make(buf, shape, c_strides(shape), 0, dtype, dev, lease)


def with_layout(x: CLArray, shape, strides, offset) -> CLArray:
    return make(x.buffer, tuple(int(s) for s in shape), tuple(int(s) for s in strides),
                int(offset), x.dtype, x.device, x.base)


# -- view kernels ------------------------------------------------------------------------------

def view(x: CLArray, shape):
    shape = tuple(int(s) for s in shape)
    if x.is_contiguous():
        return with_layout(x, shape, c_strides(shape), x.offset)
    strides = _nocopy_strides(x.shape, x.strides, shape)
    return None if strides is None else with_layout(x, shape, strides, x.offset)


def _nocopy_strides(old, olds, new):
    """Strides that let ``new`` read ``old``'s elements in row-major order without a copy, or
    None. PyTorch's computeStride: dims of the new shape must split or merge runs of old dims
    that are contiguous with each other."""
    if math.prod(old) == 0:
        return c_strides(new)
    newst = [0] * len(new)
    view_d = len(new) - 1
    chunk = olds[-1]
    tensor_numel = view_numel = 1
    for d in range(len(old) - 1, -1, -1):
        tensor_numel *= old[d]
        if d == 0 or (old[d - 1] != 1 and olds[d - 1] != tensor_numel * chunk):
            while view_d >= 0 and (view_numel < tensor_numel or new[view_d] == 1):
                newst[view_d] = view_numel * chunk
                view_numel *= new[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if d > 0:
                chunk = olds[d - 1]
                tensor_numel = view_numel = 1
    return tuple(newst) if view_d == -1 else None


def permute(x: CLArray, axes):
    return with_layout(x, [x.shape[a] for a in axes], [x.strides[a] for a in axes], x.offset)


def expand(x: CLArray, shape):
    shape = tuple(int(s) for s in shape)
    strides = [0 if (s == 1 and n != 1) else st for s, st, n in zip(x.shape, x.strides, shape)]
    return with_layout(x, shape, strides, x.offset)


def broadcast_to(x: CLArray, shape):
    """Right-aligned NumPy broadcast (x may have fewer dims)."""
    lead = len(shape) - x.ndim
    xs = (1,) * lead + x.shape
    xst = (0,) * lead + x.strides
    strides = [0 if (s == 1 and n != 1) else st for s, st, n in zip(xs, xst, shape)]
    return with_layout(x, shape, strides, x.offset)


def slice_len(start, stop, step) -> int:
    return max(0, (stop - start + step - 1) // step)


def getitem_basic(x: CLArray, index):
    shape, strides, off = [], [], x.offset
    d = 0
    for entry in index:
        if entry is None:
            shape.append(1)
            strides.append(0)
        elif isinstance(entry, slice):
            start, stop, step = entry.indices(x.shape[d])
            shape.append(slice_len(start, stop, step))
            strides.append(x.strides[d] * step)
            off += start * x.strides[d]
            d += 1
        else:
            i = int(entry)
            off += (i + x.shape[d] if i < 0 else i) * x.strides[d]
            d += 1
    shape.extend(x.shape[d:])
    strides.extend(x.strides[d:])
    return with_layout(x, shape, strides, off)


def as_strided(x: CLArray, shape, strides):
    return with_layout(x, shape, strides, x.offset)


def strides(x: CLArray):
    return x.strides


def flipped(x: CLArray, axes):
    """A reversed view along ``axes`` (negative strides): flip is a copy of it."""
    strides, off = list(x.strides), x.offset
    for a in axes:
        if x.shape[a] > 0:
            off += (x.shape[a] - 1) * strides[a]
        strides[a] = -strides[a]
    return with_layout(x, x.shape, strides, off)
