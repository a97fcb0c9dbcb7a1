"""Reductions (sum, prod, amax, amin, argmax, argmin), scans (cumsum, cumprod) and nonzero.

A reduction over any set of axes is seen through a permuted view as (M outputs) x (K reduced):
no copy, the kernel reads the strided input. Each work-group reduces one output (or one chunk of
it) as a tree in local memory. When there are few outputs and many elements, a first pass splits
K into chunks so that every compute unit works, and a second pass reduces the partials.
"""
from __future__ import annotations

import math

import numpy as np
import pyopencl as cl

from . import elementwise as ew
from .array import CLArray, empty, with_layout
from .runtime import CTYPE, UTYPE, Device, kind

#: Work-group size of the reductions and scans (a power of two). Tunable; PoCL compiles one
#: work-group function per size, so only this and 1 (for tiny rows) are used.
REDUCE_WG = 128
#: Below this many elements per output, one work-item per output is cheaper than a tree.
SMALL_K = 16


def _int_limit(dtype: np.dtype, which: str) -> str:
    v = getattr(np.iinfo(dtype), which)
    if v == -2 ** 63:
        return "(-9223372036854775807L - 1)"
    return f"{v}L" if dtype.itemsize == 8 else str(v)


def _ops(dtype: np.dtype) -> dict[str, tuple[str, str]]:
    """op -> (identity, combine(a, b)) for the accumulator type ACC."""
    k = kind(dtype)
    if k == "b":
        return {"sum": ("0", "a | b"), "prod": ("1", "a & b"),
                "amax": ("0", "a | b"), "amin": ("1", "a & b")}
    if k == "f":
        return {"sum": ("(ACC)0", "a + b"), "prod": ("(ACC)1", "a * b"),
                "amax": ("-INFINITY", "(isnan(a) || a > b) ? a : b"),
                "amin": ("INFINITY", "(isnan(a) || a < b) ? a : b")}
    wrap = "(ACC)((UT)a {} (UT)b)"
    return {"sum": ("0", wrap.format("+")), "prod": ("1", wrap.format("*")),
            "amax": (_int_limit(dtype, "min"), "a > b ? a : b"),
            "amin": (_int_limit(dtype, "max"), "a < b ? a : b")}


def _better(dtype: np.dtype, cmp: str) -> str:
    """(vb, ib) beats (va, ia) for arg reductions: NaN beats everything, first index wins."""
    if kind(dtype) == "f":
        return (f"(isnan(vb) ? (!isnan(va) || ib < ia) : "
                f"(!isnan(va) && (vb {cmp} va || (vb == va && ib < ia))))")
    return f"(vb {cmp} va || (vb == va && ib < ia))"


_REDUCE = r"""
kernel void ember_{op}(long K, long chunk, long G, int ndo, global const long* mo, int ndi,
                       global const long* mi, global T* out, global const T* x,
                       local ACC* scratch) {{
    const long g = get_group_id(0), m = g / G, c = g % G;
    const int lid = get_local_id(0), wg = get_local_size(0);
    const long base = ember_offset(m, ndo, mo, 0);
    const long k1 = min(K, (c + 1) * chunk);
    ACC acc = {ident};
    for (long k = c * chunk + lid; k < k1; k += wg) {{
        const ACC a = acc, b = (ACC)x[base + ember_offset(k, ndi, mi, 0)];
        acc = {combine};
    }}
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = wg / 2; s > 0; s >>= 1) {{
        if (lid < s) {{
            const ACC a = scratch[lid], b = scratch[lid + s];
            scratch[lid] = {combine};
        }}
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
    if (lid == 0) out[g] = (T)scratch[0];
}}
"""

_ARG = r"""
kernel void ember_{op}(long K, int ndo, global const long* mo, int ndi, global const long* mi,
                       global long* out, global const T* x, local T* sv, local long* si) {{
    const long m = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    const long base = ember_offset(m, ndo, mo, 0);
    T va = {ident};
    long ia = LONG_MAX;
    for (long k = lid; k < K; k += wg) {{
        const T vb = x[base + ember_offset(k, ndi, mi, 0)];
        const long ib = k;
        if ({better}) {{ va = vb; ia = ib; }}
    }}
    sv[lid] = va; si[lid] = ia;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = wg / 2; s > 0; s >>= 1) {{
        if (lid < s) {{
            const T vb = sv[lid + s]; const long ib = si[lid + s];
            va = sv[lid]; ia = si[lid];
            if ({better}) {{ sv[lid] = vb; si[lid] = ib; }}
        }}
        barrier(CLK_LOCAL_MEM_FENCE);
    }}
    if (lid == 0) out[m] = si[0];
}}
"""

# One work-group per row: each work-item scans a contiguous chunk, the chunk totals are scanned
# in local memory, then each work-item rescans its chunk from its offset.
_SCAN = r"""
kernel void ember_{op}(long K, int ndo, global const long* mo, long xs, long os,
                       global T* out, global const T* x, local ACC* scratch) {{
    const long m = get_group_id(0);
    const int lid = get_local_id(0), wg = get_local_size(0);
    const long xb = ember_offset(m, ndo, mo, 0), ob = ember_offset(m, ndo, mo, 1);
    const long chunk = (K + wg - 1) / wg, k0 = lid * chunk, k1 = min(K, k0 + chunk);
    ACC acc = {ident};
    for (long k = k0; k < k1; ++k) {{
        const ACC a = acc, b = (ACC)x[xb + k * xs];
        acc = {combine};
    }}
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {{
        ACC run = {ident};
        for (int j = 0; j < wg; ++j) {{
            const ACC a = run, b = scratch[j];
            scratch[j] = run;
            run = {combine};
        }}
    }}
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = scratch[lid];
    for (long k = k0; k < k1; ++k) {{
        const ACC a = acc, b = (ACC)x[xb + k * xs];
        acc = {combine};
        out[ob + k * os] = (T)acc;
    }}
}}
"""


def reduce_source(dtype: np.dtype) -> str:
    acc = "float" if dtype == np.float16 else CTYPE[dtype.name]
    parts = [f"typedef {CTYPE[dtype.name]} T;\ntypedef {acc} ACC;\n"
             f"typedef {UTYPE[dtype.itemsize]} UT;\n"]
    ops = _ops(dtype)
    for op, (ident, combine) in ops.items():
        parts.append(_REDUCE.format(op=op, ident=ident, combine=combine))
    for op, red, cmp in (("argmax", "amax", ">"), ("argmin", "amin", "<")):
        parts.append(_ARG.format(op=op, ident=ops[red][0], better=_better(dtype, cmp)))
    for op, red in (("cumsum", "sum"), ("cumprod", "prod")):
        parts.append(_SCAN.format(op=op, ident=ops[red][0], combine=ops[red][1]))
    return "".join(parts)


def _kernel(dev: Device, dtype: np.dtype, op: str):
    return dev.kernel(("reduce", dtype.name), f"ember_{op}", lambda: reduce_source(dtype))


def _split(x: CLArray, axes):
    """(outer view shape/strides, inner shape/strides) with the reduced axes last."""
    keep = [d for d in range(x.ndim) if d not in axes]
    outer = [(x.shape[d], x.strides[d]) for d in keep]
    inner = [(x.shape[d], x.strides[d]) for d in axes]
    return outer, inner


def _geom(dev: Device, dims, offset):
    """(nd, meta buffer) for one operand over ``dims`` [(size, stride)]."""
    shape, (st,) = ew.collapse([s for s, _ in dims], [[t for _, t in dims]])
    return np.int32(len(shape)), dev.const(list(shape) + [offset] + list(st))


def _wg(k: int) -> int:
    return REDUCE_WG if k > SMALL_K else 1


def _acc_size(dtype: np.dtype) -> int:
    return 4 if dtype == np.float16 else dtype.itemsize


def _reduce_pass(x: CLArray, op: str, outer, inner, out: CLArray | None = None) -> CLArray:
    dev = x.device
    M = math.prod(s for s, _ in outer)
    K = math.prod(s for s, _ in inner)
    wg = _wg(K)
    # NOTE: split K only when the outputs alone cannot keep the compute units busy
    groups_wanted = 4 * dev.cl_device.max_compute_units
    G = 1
    if M < groups_wanted and K >= 8 * wg:
        G = min(-(-groups_wanted // max(M, 1)), K // (4 * wg))
    chunk = -(-K // G) if K else 1
    G = -(-K // chunk) if K else 1
    partial = empty((M, G), x.dtype, dev) if G > 1 or out is None else out
    if M:
        ndo, mo = _geom(dev, outer, x.offset)
        ndi, mi = _geom(dev, inner, 0)
        dev.launch(_kernel(dev, x.dtype, op), (M * G * wg,), (wg,), np.int64(K),
                   np.int64(chunk), np.int64(G), ndo, mo, ndi, mi, partial.buffer, x.buffer,
                   cl.LocalMemory(wg * _acc_size(x.dtype)))
    if G == 1:
        return partial
    return _reduce_pass(partial, op, [(M, G)], [(G, 1)], out)


def _out_shape(shape, axes, keepdim):
    if keepdim:
        return tuple(1 if d in axes else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in axes)


def reduction(op: str):
    def run(x: CLArray, axes=None, keepdim=False) -> CLArray:
        axes = tuple(range(x.ndim)) if axes is None else tuple(sorted(axes))
        outer, inner = _split(x, axes)
        out = empty(_out_shape(x.shape, axes, keepdim), x.dtype, x.device)
        res = _reduce_pass(x, op, outer, inner, with_layout(out, (out.size,), (1,), 0))
        return with_layout(res, out.shape, out.strides, 0)
    run.__name__ = f"ember_{op}"
    return run


def arg_reduction(op: str):
    def run(x: CLArray, axis=None, keepdim=False) -> CLArray:
        dev = x.device
        if axis is None:
            flat = ew.ensure_contiguous(x)
            x = with_layout(flat, (x.size,), (1,), flat.offset)
            shape = (1,) * x.ndim if keepdim else ()
            axes = (0,)
        else:
            axes = (axis,)
            shape = _out_shape(x.shape, axes, keepdim)
        outer, inner = _split(x, axes)
        out = empty(shape, np.int64, dev)
        M, K = out.size, x.shape[axes[0]]
        if M and K:
            wg = _wg(K)
            ndo, mo = _geom(dev, outer, x.offset)
            ndi, mi = _geom(dev, inner, 0)
            dev.launch(_kernel(dev, x.dtype, op), (M * wg,), (wg,), np.int64(K), ndo, mo, ndi,
                       mi, out.buffer, x.buffer, cl.LocalMemory(wg * x.itemsize),
                       cl.LocalMemory(wg * 8))
        return out
    run.__name__ = f"ember_{op}"
    return run


def scan(op: str):
    def run(x: CLArray, axis: int) -> CLArray:
        dev = x.device
        out = empty(x.shape, x.dtype, dev)
        if x.ndim == 0:
            return ew.copy_into(out, x)
        K = x.shape[axis]
        M = x.size // K if K else 0
        if M == 0:
            return out
        keep = [d for d in range(x.ndim) if d != axis]
        shape, (xst, ost) = ew.collapse([x.shape[d] for d in keep],
                                        [[x.strides[d] for d in keep],
                                         [out.strides[d] for d in keep]])
        mo = dev.const(list(shape) + [x.offset, *xst] + [0, *ost])
        wg = _wg(K)
        dev.launch(_kernel(dev, x.dtype, op), (M * wg,), (wg,), np.int64(K),
                   np.int32(len(shape)), mo, np.int64(x.strides[axis]),
                   np.int64(out.strides[axis]), out.buffer, x.buffer,
                   cl.LocalMemory(wg * _acc_size(x.dtype)))
        return out
    run.__name__ = f"ember_{op}"
    return run


cumsum = scan("cumsum")

MISC_SOURCE = r"""
kernel void ember_nonzero(long n, int nd, global const long* shape, global const uchar* flag,
                          global const long* pos, global long* out) {
    const long i = get_global_id(0);
    if (i >= n || !flag[i]) return;
    const long p = pos[i] - 1;
    long r = i;
    for (int d = nd - 1; d >= 0; --d) { out[p * nd + d] = r % shape[d]; r /= shape[d]; }
}
kernel void ember_adv_offsets(long n, int nd, global const long* meta, global long* acc,
                              global const long* idx, long stride, long size) {
    const long i = get_global_id(0);
    if (i >= n) return;
    long v = idx[ember_offset(i, nd, meta, 1)];
    if (v < 0) v += size;
    acc[ember_offset(i, nd, meta, 0)] += v * stride;
}
"""


def misc_kernel(dev: Device, name: str):
    return dev.kernel(("misc",), name, lambda: MISC_SOURCE)


def read_scalar(x: CLArray):
    host = np.empty(1, x.dtype)
    cl.enqueue_copy(x.device.queue, host, x.buffer, src_offset=x.offset * x.itemsize)
    return host[0]


def nonzero(x: CLArray) -> CLArray:
    dev = x.device
    n = x.size
    if n == 0:
        return empty((0, x.ndim), np.int64, dev)
    flag = ew.cast(x, np.bool_) if x.dtype != np.bool_ else ew.contiguous(x)
    counts = ew.cast(flag, np.int64)
    pos = cumsum(with_layout(counts, (n,), (1,), 0), 0)
    count = int(read_scalar(with_layout(pos, (), (), n - 1)))  # the result's shape needs it
    out = empty((count, x.ndim), np.int64, dev)
    if count and x.ndim:
        wg = ew.ELEMENTWISE_WG
        dev.launch(misc_kernel(dev, "ember_nonzero"), (ew.roundup(n, wg),), (wg,), np.int64(n),
                   np.int32(x.ndim), dev.const(list(x.shape)), flag.buffer, pos.buffer,
                   out.buffer)
    return out


def minmax_host(x: CLArray):
    """(min, max) of an integer array, read back together: the index range check."""
    amin = reduction("amin")(x)
    amax = reduction("amax")(x)
    return int(read_scalar(amin)), int(read_scalar(amax))
