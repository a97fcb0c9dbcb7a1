"""matmul: a tiled kernel with local-memory tiles, register blocking and vector types.

A work-group computes a TSM x TSN tile of C; each work-item a WPTM x VW block of it, held in
WPTM vector registers of width VW. A and B tiles of depth TSK are staged in local memory (A
transposed, so the inner loop reads one A scalar per row and one B vector per k). Edges are
zero-padded while loading, so any size works. Batch dims broadcast: each batch gets the element
offsets of its A and B from a small table, so expanded (0-stride) batch dims are never copied.
"""
from __future__ import annotations

import math

import numpy as np

from . import elementwise as ew
from .array import CLArray, empty
from .runtime import CTYPE, kind

#: Tile configurations, tunable (tune.py measures them). TSM/TSN: C tile per work-group; TSK:
#: depth staged in local memory; WPTM: rows per work-item; VW: vector width = columns per
#: work-item. The work-group is (TSN / VW) x (TSM / WPTM) work-items.
CONFIGS = {
    "64x64x32_8x8": dict(TSM=64, TSN=64, TSK=32, WPTM=8, VW=8),
    "64x64x16_8x8": dict(TSM=64, TSN=64, TSK=16, WPTM=8, VW=8),
    "32x64x32_4x8": dict(TSM=32, TSN=64, TSK=32, WPTM=4, VW=8),
    "64x128x32_8x16": dict(TSM=64, TSN=128, TSK=32, WPTM=8, VW=16),
    "32x32x32_4x4": dict(TSM=32, TSN=32, TSK=32, WPTM=4, VW=4),
}
DEFAULT_CONFIG = "64x64x32_8x8"

_SOURCE = r"""
#define RTSM (TSM / WPTM)
#define RTSN (TSN / VW)
#define NT (RTSM * RTSN)
#define VLOAD(i, p) CAT(vload, VW)(i, p)
#define VSTORE(v, i, p) CAT(vstore, VW)(v, i, p)
#define CAT(a, b) CAT2(a, b)
#define CAT2(a, b) a##b

kernel __attribute__((reqd_work_group_size(RTSN, RTSM, 1)))
void ember_matmul(int M, int N, int K, global const long* boffs, global const T* A, long lda,
                  global const T* B, long ldb, global T* C) {
    const int tn = get_local_id(0), tm = get_local_id(1);
    const int tid = tm * RTSN + tn;
    const int n0 = get_group_id(0) * TSN, m0 = get_group_id(1) * TSM;
    const long bi = get_global_id(2);
    A += boffs[2 * bi];
    B += boffs[2 * bi + 1];
    C += bi * (long)M * N;
    local T As[TSK][TSM];
    local T Bs[TSK][TSN];
    VT acc[WPTM];
    for (int w = 0; w < WPTM; ++w) acc[w] = (VT)(0);
    for (int t = 0; t < K; t += TSK) {
        for (int l = tid; l < TSM * TSK; l += NT) {
            const int mm = l / TSK, kk = l % TSK, gm = m0 + mm, gk = t + kk;
            As[kk][mm] = (gm < M && gk < K) ? A[gm * lda + gk] : (T)0;
        }
        for (int l = tid; l < TSK * TSN; l += NT) {
            const int kk = l / TSN, nn = l % TSN, gk = t + kk, gn = n0 + nn;
            Bs[kk][nn] = (gk < K && gn < N) ? B[gk * ldb + gn] : (T)0;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TSK; ++kk) {
            const VT b = VLOAD(tn, &Bs[kk][0]);
            #pragma unroll
            for (int w = 0; w < WPTM; ++w) acc[w] = MAC(acc[w], As[kk][tm * WPTM + w], b);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const int gn = n0 + tn * VW;
    for (int w = 0; w < WPTM; ++w) {
        const int gm = m0 + tm * WPTM + w;
        if (gm >= M || gn >= N) continue;
        global T* c = C + (long)gm * N + gn;
        if (gn + VW <= N) {
            VSTORE(acc[w], 0, c);
        } else {
            T tmp[VW];
            VSTORE(acc[w], 0, tmp);
            for (int v = 0; v < N - gn; ++v) c[v] = tmp[v];
        }
    }
}
"""

_MAC = {"f": "((acc) + (VT)(a) * (b))", "i": "((acc) + (VT)(a) * (b))",
        "u": "((acc) + (VT)(a) * (b))", "b": "((acc) | ((VT)(a) & (b)))"}


def matmul_source(dtype: np.dtype, cfg: dict) -> str:
    t = CTYPE[dtype.name]
    defs = "".join(f"#define {k} {v}\n" for k, v in cfg.items())
    return (f"typedef {t} T;\ntypedef {t}{cfg['VW']} VT;\n{defs}"
            f"#define MAC(acc, a, b) {_MAC[kind(dtype)]}\n" + _SOURCE)


def _batch_offsets(shape, strides, offset) -> np.ndarray:
    offs = np.array([offset], dtype=np.int64)
    for s, st in zip(shape, strides):
        offs = (offs[:, None] + np.arange(s, dtype=np.int64) * st).reshape(-1)
    return offs


def _rows_ok(x: CLArray) -> bool:
    """The kernel needs unit stride along the last dim (any row stride, any batch strides)."""
    return x.strides[-1] == 1 or x.shape[-1] == 1


def matmul(a: CLArray, b: CLArray, config: str | None = None) -> CLArray:
    dev = a.device
    cfg = CONFIGS[config or DEFAULT_CONFIG]
    a = a if _rows_ok(a) else ew.contiguous(a)
    b = b if _rows_ok(b) else ew.contiguous(b)
    M, K = a.shape[-2:]
    N = b.shape[-1]
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    out = empty(batch + (M, N), a.dtype, dev)
    nb = math.prod(batch)
    if out.size == 0:
        return out
    if K == 0:
        return ew.fill(out, 0)
    offs = np.stack([_batch_offsets(batch, _bstrides(x, batch), x.offset) for x in (a, b)], 1)
    table = dev.const(offs) if offs.size <= 512 else dev.upload(offs)
    name = config or DEFAULT_CONFIG
    k = dev.kernel(("matmul", a.dtype.name, name), "ember_matmul",
                   lambda: matmul_source(a.dtype, cfg))
    rtsm, rtsn = cfg["TSM"] // cfg["WPTM"], cfg["TSN"] // cfg["VW"]
    gsize = (-(-N // cfg["TSN"]) * rtsn, -(-M // cfg["TSM"]) * rtsm, nb)
    dev.launch(k, gsize, (rtsn, rtsm, 1), np.int32(M), np.int32(N), np.int32(K), table,
               a.buffer, np.int64(a.strides[-2]), b.buffer, np.int64(b.strides[-2]), out.buffer)
    return out


def _bstrides(x: CLArray, batch) -> list:
    """x's batch strides broadcast to ``batch`` (0 where x has size 1 or no dim)."""
    lead = len(batch) - (x.ndim - 2)
    shape = (1,) * lead + x.shape[:-2]
    st = (0,) * lead + x.strides[:-2]
    return [0 if s == 1 else t for s, t in zip(shape, st)]
