"""sort along an axis: a bitonic sorting network over (key, index) pairs.

Each row is copied into a power-of-two padded buffer; pads carry indices >= K and sort last. The
comparison is a total order (key, then original index), so the result is stable in both
directions and identical on every device. NaN is the largest key, as in NumPy and PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from . import elementwise as ew
from .array import CLArray, c_strides, empty, permute, with_layout
from .runtime import CTYPE, ELEMENTWISE_WG, kind

_CMP = {
    "f": "const int an = isnan(a) ? 1 : 0, bn = isnan(b) ? 1 : 0;\n"
         "    if (an || bn) return an - bn;\n    return (a > b) - (a < b);",
    "other": "return (a > b) - (a < b);",
}

_SOURCE = r"""
inline int ember_cmp(const T a, const T b) {{
    {cmp}
}}
// true when (va, ia) must come after (vb, ib); pads (index >= K) come last
inline bool ember_after(const T va, const long ia, const T vb, const long ib, const long K,
                        const int desc) {{
    if (ia >= K || ib >= K) return ia > ib;
    int c = ember_cmp(va, vb);
    if (desc) c = -c;
    return c > 0 || (c == 0 && ia > ib);
}}
kernel void ember_sort_init(long n, long K, long P, int ndo, global const long* mo, long xs,
                            global const T* x, global T* keys, global long* idx) {{
    const long g = get_global_id(0);
    if (g >= n) return;
    const long m = g / P, k = g - m * P;
    keys[g] = k < K ? x[ember_offset(m, ndo, mo, 0) + k * xs] : (T)0;
    idx[g] = k;
}}
kernel void ember_sort_step(long n, long P, long j, long size, long K, int desc,
                            global T* keys, global long* idx) {{
    const long g = get_global_id(0);
    if (g >= n) return;
    const long i = g % P, l = i ^ j;
    if (l <= i) return;
    const long p = g - i + l;
    const T va = keys[g], vb = keys[p];
    const long ia = idx[g], ib = idx[p];
    const bool swap = (i & size) == 0 ? ember_after(va, ia, vb, ib, K, desc)
                                      : ember_after(vb, ib, va, ia, K, desc);
    if (swap) {{ keys[g] = vb; keys[p] = va; idx[g] = ib; idx[p] = ia; }}
}}
"""


def sort_source(dtype: np.dtype) -> str:
    cmp = _CMP["f"] if kind(dtype) == "f" else _CMP["other"]
    return f"typedef {CTYPE[dtype.name]} T;\n" + _SOURCE.format(cmp=cmp)


def sort(x: CLArray, axis: int = -1, descending: bool = False, stable: bool = True):
    dev = x.device
    if x.ndim == 0:
        return ew.contiguous(x), ew.full((), 0, np.int64, dev)
    axis %= x.ndim
    K = x.shape[axis]
    values, indices = empty(x.shape, x.dtype, dev), empty(x.shape, np.int64, dev)
    if x.size == 0:
        return values, indices
    order = [d for d in range(x.ndim) if d != axis] + [axis]
    outer_shape = [x.shape[d] for d in order[:-1]]
    M = math.prod(outer_shape)
    P = 1 << max(0, (K - 1).bit_length())
    keys, idx = empty((M, P), x.dtype, dev), empty((M, P), np.int64, dev)
    prog = ("sort", x.dtype.name)
    src = lambda: sort_source(x.dtype)  # noqa: E731
    n = M * P
    gsize = (ew.roundup(n, ELEMENTWISE_WG),)
    shape, (st,) = ew.collapse(outer_shape, [[x.strides[d] for d in order[:-1]]])
    dev.launch(dev.kernel(prog, "ember_sort_init", src), gsize, (ELEMENTWISE_WG,), np.int64(n),
               np.int64(K), np.int64(P), np.int32(len(shape)),
               dev.const(list(shape) + [x.offset] + list(st)), np.int64(x.strides[axis]),
               x.buffer, keys.buffer, idx.buffer)
    step = dev.kernel(prog, "ember_sort_step", src)
    size = 2
    while size <= P:
        j = size // 2
        while j >= 1:
            dev.launch(step, gsize, (ELEMENTWISE_WG,), np.int64(n), np.int64(P), np.int64(j),
                       np.int64(size), np.int64(K), np.int32(bool(descending)), keys.buffer,
                       idx.buffer)
            j //= 2
        size *= 2
    # rows of the padded buffers -> the outputs, seen with the sorted axis last
    rows_st = [s * P for s in c_strides(tuple(outer_shape))] + [1]
    for src_arr, out in ((keys, values), (idx, indices)):
        ew.copy_into(permute(out, order),
                     with_layout(src_arr, outer_shape + [K], rows_st, 0))
    return values, indices
