"""Gathers and scatters: advanced indexing, setitem, index_add, gather/scatter(_add/_reduce), cat,
flip.

Advanced indexing is planned on the host and run as one strided kernel: the int64 index arrays
are first folded on the device into one array of element offsets (shaped like their broadcast),
then ember_take reads ``x[view_offset(coords) + offs[adv_coords]]``. setitem and index_add are
the same plan run backwards (ember_put, ember_put_add). Accumulating writes use a
compare-and-swap loop on the element's bits (OpenCL 1.2 has no float atomics), on the enclosing
32-bit word for 1- and 2-byte types; scatter_reduce runs the same loop with a product, maximum or
minimum in place of the sum.
"""
from __future__ import annotations

import math

import numpy as np
import pyopencl as cl

from . import elementwise as ew
from .array import CLArray, c_strides, empty, flipped, getitem_basic, slice_len, with_layout
from .reduce import _ops as reduce_ops, misc_kernel, minmax_host
from .runtime import CTYPE, ELEMENTWISE_WG, UTYPE, Device, kind

_COMBINE = {"f": "a + b", "i": "(T)((UT)a + (UT)b)", "u": "(T)(a + b)", "b": "(T)(a | b)"}

_ATOMIC_WORD = r"""
inline void ember_atomic_{op}(global T* p, const T b) {{
    volatile global {W}* w = (volatile global {W}*)p;
    {W} old = *w, assumed;
    do {{
        assumed = old;
        const T a = as_{T}(assumed);
        const T r = {combine};
        old = {cmpxchg}(w, assumed, as_{W}(r));
    }} while (old != assumed);
}}
"""

# NOTE: 1- and 2-byte elements: CAS the aligned 32-bit word around them. Buffers are allocated in
# multiples of 8 bytes (runtime.alloc), so that word is always inside the buffer.
_ATOMIC_SUBWORD = r"""
inline void ember_atomic_{op}(global T* p, const T b) {{
    const size_t addr = (size_t)p;
    volatile global uint* w = (volatile global uint*)(addr & ~(size_t)3);
    const uint shift = {shift};
    const uint mask = (uint)((1u << (8 * sizeof(T))) - 1u) << shift;
    uint old = *w, assumed;
    do {{
        assumed = old;
        const T a = {from_bits};
        const T r = {combine};
        const uint nw = (assumed & ~mask) | (((uint){to_bits}) << shift);
        old = atomic_cmpxchg(w, assumed, nw);
    }} while (old != assumed);
}}
"""

_KERNELS = r"""
kernel void ember_take(long n, int nd, global const long* meta, global T* out,
                       global const T* x, global const long* idx, long scale, long size) {
    const long i = get_global_id(0);
    if (i >= n) return;
    long j = idx[ember_offset(i, nd, meta, 2)];
    if (j < 0) j += size;
    out[ember_offset(i, nd, meta, 0)] = x[ember_offset(i, nd, meta, 1) + j * scale];
}
kernel void ember_put(long n, int nd, global const long* meta, global T* x,
                      global const long* idx, global const T* v, long scale, long size) {
    const long i = get_global_id(0);
    if (i >= n) return;
    long j = idx[ember_offset(i, nd, meta, 1)];
    if (j < 0) j += size;
    x[ember_offset(i, nd, meta, 0) + j * scale] = v[ember_offset(i, nd, meta, 2)];
}
"""
_PUT_ADD = r"""
kernel void ember_put_add(long n, int nd, global const long* meta, global T* x,
                          global const long* idx, global const T* v, long scale, long size) {
    const long i = get_global_id(0);
    if (i >= n) return;
    long j = idx[ember_offset(i, nd, meta, 1)];
    if (j < 0) j += size;
    ember_atomic_add(x + ember_offset(i, nd, meta, 0) + j * scale, v[ember_offset(i, nd, meta, 2)]);
}
"""


def _atomic_source(dev: Device, dtype: np.dtype, op: str = "add", combine: str = "") -> str:
    """ember_atomic_<op>(p, b): *p = combine(a = *p, b), atomically (default: the sum)."""
    k, size, t = kind(dtype), dtype.itemsize, CTYPE[dtype.name]
    combine = combine or _COMBINE[k]
    if size == 4:
        return _ATOMIC_WORD.format(W="uint", T=t, combine=combine, cmpxchg="atomic_cmpxchg",
                                   op=op)
    if size == 8:
        return _ATOMIC_WORD.format(W="ulong", T=t, combine=combine, cmpxchg="atom_cmpxchg",
                                   op=op)
    if dev.little_endian:
        shift = "(uint)(addr & 3) * 8u"
    else:
        shift = f"(uint)(4 - {size} - (addr & 3)) * 8u"
    ut = UTYPE[size]
    if dtype == np.float16:
        from_bits, to_bits = f"as_half(({ut})((assumed & mask) >> shift))", "as_ushort(r)"
    else:
        from_bits, to_bits = f"(T)({ut})((assumed & mask) >> shift)", f"({ut})r"
    return _ATOMIC_SUBWORD.format(shift=shift, from_bits=from_bits, to_bits=to_bits,
                                  combine=combine, op=op)


def _has_atomics(dev: Device, dtype: np.dtype) -> bool:
    return dtype.itemsize != 8 or dev.int64_atomics


def index_source(dev: Device, dtype: np.dtype) -> str:
    src = (f"typedef {CTYPE[dtype.name]} T;\ntypedef {UTYPE[dtype.itemsize]} UT;\n" + _KERNELS)
    if _has_atomics(dev, dtype):
        src += _atomic_source(dev, dtype) + _PUT_ADD
    return src


def _run(name: str, dtype: np.dtype, shape, arrays, *extra) -> None:
    """Launch ember_<name> of the index program of ``dtype`` over ``shape``; ``arrays`` are
    already laid out over ``shape``."""
    n = math.prod(shape)
    if n == 0:
        return
    dev = arrays[0].device
    nd, m, _ = ew.meta(dev, shape, arrays)
    k = dev.kernel(("index", dtype.name), f"ember_{name}", lambda: index_source(dev, dtype))
    dev.launch(k, (ew.roundup(n, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(n), nd, m,
               *[a.buffer for a in arrays], *[np.int64(e) for e in extra])


def _check_range(idx: CLArray, size: int, dim: int, allow_negative: bool) -> None:
    if idx.size == 0:
        return
    lo, hi = minmax_host(idx)
    low = -size if allow_negative else 0
    for v in (lo, hi):
        if not low <= v < size:
            raise IndexError(f"index {v} is out of bounds for dimension {dim} with size {size}")


# -- advanced indexing ---------------------------------------------------------------------

class _Plan:
    """Where each output dim of x[index] comes from: a strided dim of the basic view, or a dim
    of the broadcast advanced indices (whose element offsets are in ``offs``)."""

    def __init__(self, x: CLArray, index):
        items = []  # ("dim", size, stride) or ("adv",), in index order
        arrays, adv_pos = [], []
        off, d = x.offset, 0
        for pos, e in enumerate(index):
            if e is None:
                items.append(("dim", 1, 0))
                continue
            size, stride = x.shape[d], x.strides[d]
            if isinstance(e, slice):
                start, stop, step = e.indices(size)
                items.append(("dim", slice_len(start, stop, step), stride * step))
                off += start * stride
            elif isinstance(e, CLArray):
                _check_range(e, size, d, allow_negative=True)
                arrays.append((e, stride, size))
                items.append(("adv",))
                adv_pos.append(pos)
            else:  # an int among arrays is an advanced index too (NumPy's rule)
                i = int(e)
                if not -size <= i < size:
                    raise IndexError(f"index {i} is out of bounds for dimension {d} with size "
                                     f"{size}")
                off += (i % size) * stride
                items.append(("adv",))
                adv_pos.append(pos)
            d += 1
        items.extend(("dim", s, st) for s, st in zip(x.shape[d:], x.strides[d:]))
        self.bshape = tuple(np.broadcast_shapes(*[a.shape for a, _, _ in arrays]))
        dims = [it for it in items if it[0] == "dim"]
        bdims = [("B", j) for j in range(len(self.bshape))]
        if adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1)):
            first = items.index(("adv",))
            before = [it for it in items[:first] if it[0] == "dim"]
            self.dims = before + bdims + dims[len(before):]
        else:  # separated advanced indices: their dims go first
            self.dims = bdims + dims
        self.shape = tuple(it[1] if it[0] == "dim" else self.bshape[it[1]] for it in self.dims)
        self.x_view = with_layout(x, self.shape,
                                  [it[2] if it[0] == "dim" else 0 for it in self.dims], off)
        self.offs = self._offsets(x.device, arrays)

    def _offsets(self, dev: Device, arrays) -> CLArray:
        offs = ew.full(self.bshape, 0, np.int64, dev)
        n = offs.size
        if n:
            k = misc_kernel(dev, "ember_adv_offsets")
            for a, stride, size in arrays:
                a = ew.broadcast_to(a, self.bshape)
                nd, m, _ = ew.meta(dev, self.bshape, [offs, a])
                dev.launch(k, (ew.roundup(n, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(n),
                           nd, m, offs.buffer, a.buffer, np.int64(stride), np.int64(size))
        bst = c_strides(self.bshape)
        return with_layout(offs, self.shape,
                           [0 if it[0] == "dim" else bst[it[1]] for it in self.dims], 0)


def _has_array(index) -> bool:
    return any(isinstance(e, CLArray) for e in index)


def getitem_advanced(x: CLArray, index) -> CLArray:
    index = tuple(index)
    if not _has_array(index):
        return ew.contiguous(getitem_basic(x, index))
    plan = _Plan(x, index)
    out = empty(plan.shape, x.dtype, x.device)
    _run("take", x.dtype, plan.shape, [out, plan.x_view, plan.offs], 1, 0)
    return out


def _value(x: CLArray, value, shape, upload: bool = True):
    """value broadcast to ``shape``; a scalar stays a scalar (for the elementwise kernels) unless
    ``upload``."""
    if not isinstance(value, CLArray):
        if not upload:
            return value
        # a 0-d buffer seen with 0-strides, so the kernel indexes it like the target
        return ew.broadcast_to(ew.scalar(x.device, value, x.dtype), shape)
    if value.buffer is x.buffer:
        value = ew.contiguous(value)  # NOTE: source and destination may overlap (x[1:] = x[:-1])
    while value.ndim > len(shape) and value.shape[0] == 1:  # NumPy drops leading 1s
        value = with_layout(value, value.shape[1:], value.strides[1:], value.offset)
    return ew.broadcast_to(value, shape)


def setitem(x: CLArray, index, value) -> None:
    index = tuple(index)
    if not _has_array(index):
        target = getitem_basic(x, index) if index else x
        ew.copy_into(target, _value(x, value, target.shape, upload=False))
        return
    plan = _Plan(x, index)
    _run("put", x.dtype, plan.shape, [plan.x_view, plan.offs, _value(x, value, plan.shape)], 1, 0)


def index_add(x: CLArray, index, values) -> None:
    index = tuple(index)
    if not _has_array(index):
        target = getitem_basic(x, index) if index else x
        v = _value(x, values, target.shape, upload=False)
        dt = x.dtype
        ew.launch(("binary", dt), "add", lambda flat: ew.binary_source(dt, flat), target,
                  [target, v], dt)
        return
    plan = _Plan(x, index)
    _put_add(plan.shape, plan.x_view, plan.offs, _value(x, values, plan.shape), 1, 0)


def _put_add(shape, target: CLArray, idx: CLArray, v: CLArray, scale: int, size: int) -> None:
    if _has_atomics(target.device, target.dtype):
        _run("put_add", target.dtype, shape, [target, idx, v], scale, size)
    else:  # NOTE: no 64-bit atomics on this device: accumulate on the host (correct, slow)
        _host_put_add(shape, target, idx, v, scale, size)


def _host_put_add(shape, target: CLArray, idx: CLArray, v: CLArray, scale: int, size: int,
                  ufunc=np.add):
    dev = target.device
    whole = np.empty(target.buffer.size // target.itemsize, target.dtype)
    cl.enqueue_copy(dev.queue, whole, target.buffer)
    pos = np.full(shape, target.offset, np.int64)
    for d, (s, st) in enumerate(zip(shape, target.strides)):
        pos += (np.arange(s) * st).reshape((-1,) + (1,) * (len(shape) - d - 1))
    j = ew.to_host(ew.broadcast_to(idx, shape)).astype(np.int64)
    pos += np.where(j < 0, j + size, j) * scale
    ufunc.at(whole, pos, ew.to_host(ew.broadcast_to(v, shape)))
    cl.enqueue_copy(dev.queue, target.buffer, whole)


# -- gather / scatter along an axis -------------------------------------------------------------

def _along(x: CLArray, axis: int, shape) -> CLArray:
    """x seen over the index's shape, with the indexed axis' stride zeroed."""
    st = list(x.strides)
    st[axis] = 0
    return with_layout(x, shape, st, x.offset)


def gather(x: CLArray, axis: int, index: CLArray) -> CLArray:
    _check_range(index, x.shape[axis], axis, allow_negative=True)
    out = empty(index.shape, x.dtype, x.device)
    _run("take", x.dtype, index.shape, [out, _along(x, axis, index.shape), index],
         x.strides[axis], x.shape[axis])
    return out


def _scatter_src(src, x: CLArray, shape) -> CLArray:
    if not isinstance(src, CLArray):
        return ew.scalar(x.device, src, x.dtype)
    return with_layout(src, shape, src.strides, src.offset)


def scatter(x: CLArray, axis: int, index: CLArray, src) -> CLArray:
    _check_range(index, x.shape[axis], axis, allow_negative=True)
    out = ew.contiguous(x)
    _run("put", x.dtype, index.shape, [_along(out, axis, index.shape), index,
                              _scatter_src(src, x, index.shape)], out.strides[axis], x.shape[axis])
    return out


def scatter_add(x: CLArray, axis: int, index: CLArray, src) -> CLArray:
    _check_range(index, x.shape[axis], axis, allow_negative=True)
    out = ew.contiguous(x)
    _put_add(index.shape, _along(out, axis, index.shape), index,
             _scatter_src(src, x, index.shape), out.strides[axis], x.shape[axis])
    return out


# -- scatter_reduce: prod, amax, amin ----------------------------------------------------------

_SCATTER_REDUCE = r"""
kernel void ember_scatter_{op}(long n, int nd, global const long* meta, global T* x,
                               global const long* idx, global const T* v, long scale) {{
    const long i = get_global_id(0);
    if (i >= n) return;
    const long j = idx[ember_offset(i, nd, meta, 1)];
    const T b = v[ember_offset(i, nd, meta, 2)];
    ember_atomic_{op}(x + ember_offset(i, nd, meta, 0) + j * scale, b);
}}
"""

_HOST_REDUCE = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}


def scatter_reduce_source(dev: Device, dtype: np.dtype) -> str:
    """One program per dtype with the three kernels; the combine rules are the reductions' own,
    so a NaN propagates here exactly as in amax/amin."""
    # (ACC is the combine rules' accumulator type; here they combine in T)
    src = (f"typedef {CTYPE[dtype.name]} T;\ntypedef {UTYPE[dtype.itemsize]} UT;\n"
           f"typedef T ACC;\n")
    rules = reduce_ops(dtype)
    for op in ("prod", "amax", "amin"):
        src += _atomic_source(dev, dtype, op, rules[op][1]) + _SCATTER_REDUCE.format(op=op)
    return src


def scatter_reduce(x: CLArray, axis: int, index: CLArray, src: CLArray, reduce: str) -> CLArray:
    out = ew.contiguous(x)
    n = index.size
    if n == 0:
        return out
    shape = index.shape
    target, v = _along(out, axis, shape), src
    dev = x.device
    if not _has_atomics(dev, x.dtype):  # NOTE: as _put_add: on the host (correct, slow)
        _host_put_add(shape, target, index, v, out.strides[axis], x.shape[axis],
                      _HOST_REDUCE[reduce])
        return out
    nd, m, _ = ew.meta(dev, shape, [target, index, v])
    k = dev.kernel(("scatter_reduce", x.dtype.name), f"ember_scatter_{reduce}",
                   lambda: scatter_reduce_source(dev, x.dtype))
    dev.launch(k, (ew.roundup(n, ELEMENTWISE_WG),), (ELEMENTWISE_WG,), np.int64(n), nd, m,
               target.buffer, index.buffer, v.buffer, np.int64(out.strides[axis]))
    return out


# -- cat, flip ----------------------------------------------------------------------------------

def cat(arrays, axis: int) -> CLArray:
    first = arrays[0]
    shape = list(first.shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    out = empty(shape, first.dtype, first.device)
    start = 0
    for a in arrays:
        n = a.shape[axis]
        if n:
            target = with_layout(out, a.shape, out.strides,
                                 out.offset + start * out.strides[axis])
            ew.copy_into(target, a)
        start += n
    return out


def flip(x: CLArray, axes) -> CLArray:
    return ew.contiguous(flipped(x, axes))
