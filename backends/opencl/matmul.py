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
import pyopencl as cl

from . import elementwise as ew
from .array import CLArray, empty
from .runtime import CTYPE, kind

#: Tile configurations, tunable (tune.py measures them). TSM/TSN: C tile per work-group; TSK:
#: depth staged in local memory; WPTM: rows per work-item; VW: vector width = columns per
#: work-item. The work-group is (TSN / VW) x (TSM / WPTM) work-items.
CONFIGS = {
    "cpu64x64x256_8x32": dict(kind="cpu", TSM=64, TSN=64, TSK=256, RM=8, NV=2, VW=16),
    "cpu64x64x256_6x32": dict(kind="cpu", TSM=60, TSN=64, TSK=256, RM=6, NV=2, VW=16),
    "cpu64x64x256_4x32": dict(kind="cpu", TSM=64, TSN=64, TSK=256, RM=4, NV=4, VW=8),
    "cpu64x64x256_8x16": dict(kind="cpu", TSM=64, TSN=64, TSK=256, RM=8, NV=2, VW=8),
    "cpu128x64x128_8x32": dict(kind="cpu", TSM=128, TSN=64, TSK=128, RM=8, NV=2, VW=16),
    "cpu128x128x128_8x32": dict(kind="cpu", TSM=128, TSN=128, TSK=128, RM=8, NV=2, VW=16),
    "cpu128x64x64_8x32": dict(kind="cpu", TSM=128, TSN=64, TSK=64, RM=8, NV=2, VW=16),
    "cpu256x64x128_8x32": dict(kind="cpu", TSM=256, TSN=64, TSK=128, RM=8, NV=2, VW=16),
    "cpu120x64x128_6x32": dict(kind="cpu", TSM=120, TSN=64, TSK=128, RM=6, NV=2, VW=16),
    "cpu128x96x128_8x48": dict(kind="cpu", TSM=128, TSN=96, TSK=128, RM=8, NV=3, VW=16),
    "64x64x32_8x8": dict(TSM=64, TSN=64, TSK=32, WPTM=8, VW=8),
    "64x64x16_8x8": dict(TSM=64, TSN=64, TSK=16, WPTM=8, VW=8),
    "32x64x32_4x8": dict(TSM=32, TSN=64, TSK=32, WPTM=4, VW=8),
    "64x128x32_8x16": dict(TSM=64, TSN=128, TSK=32, WPTM=8, VW=16),
    "32x32x32_4x4": dict(TSM=32, TSN=32, TSK=32, WPTM=4, VW=4),
}
#: Preferred configurations per device type, best first: CPUs (PoCL) want one work-item per
#: group and big packed panels; GPUs want many work-items sharing local tiles. The first whose
#: tiles fit the device's local memory is used.
PREFERRED = {"cpu": ["cpu128x128x128_8x32", "64x64x32_8x8", "32x32x32_4x4"],
             "other": ["64x64x32_8x8", "32x32x32_4x4"]}


def _local_bytes(cfg: dict, itemsize: int) -> int:
    return (cfg["TSM"] * cfg["TSK"] + cfg["TSK"] * cfg["TSN"]) * itemsize


def default_config(dev, dtype: np.dtype) -> str:
    names = PREFERRED["cpu" if dev.cl_device.type & cl.device_type.CPU else "other"]
    for name in names:
        if _local_bytes(CONFIGS[name], dtype.itemsize) <= dev.cl_device.local_mem_size:
            return name
    return names[-1]


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
                  long sak, global const T* B, long ldb, long sbn, global T* C) {
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
            As[kk][mm] = (gm < M && gk < K) ? A[gm * lda + gk * sak] : (T)0;
        }
        for (int l = tid; l < TSK * TSN; l += NT) {
            const int kk = l / TSN, nn = l % TSN, gk = t + kk, gn = n0 + nn;
            Bs[kk][nn] = (gk < K && gn < N) ? B[gk * ldb + gn * sbn] : (T)0;
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

# The CPU variant: one work-item per work-group, which packs A and B panels into local memory
# (contiguous, so the 4 KiB row strides of big matrices do not thrash the cache: BLAS's packing)
# and runs an RM x (NV * VW) register-blocked micro-kernel over the tile. With several
# work-items, PoCL would keep every accumulator live across the barriers in memory.
_CPU_SOURCE = r"""
#define RN (NV * VW)
#define VLOAD(i, p) CAT(vload, VW)(i, p)
#define VSTORE(v, i, p) CAT(vstore, VW)(v, i, p)
#define CAT(a, b) CAT2(a, b)
#define CAT2(a, b) a##b

kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void ember_matmul(int M, int N, int K, global const long* boffs, global const T* A, long lda,
                  long sak, global const T* B, long ldb, long sbn, global T* C) {
    const int n0 = get_group_id(0) * TSN, m0 = get_group_id(1) * TSM;
    const long bi = get_global_id(2);
    A += boffs[2 * bi];
    B += boffs[2 * bi + 1];
    C += bi * (long)M * N;
    local T As[TSM][TSK];
    local T Bs[TSK][TSN];
    for (int t = 0; t < K; t += TSK) {
        const int kt = min(TSK, K - t);
        for (int mm = 0; mm < TSM; ++mm) {
            const int gm = m0 + mm;
            for (int kk = 0; kk < TSK; ++kk)
                As[mm][kk] = (gm < M && kk < kt) ? A[gm * lda + (t + kk) * sak] : (T)0;
        }
        for (int kk = 0; kk < TSK; ++kk) {
            global const T* row = B + (long)(t + kk) * ldb + n0 * sbn;
            if (kk < kt && n0 + TSN <= N && sbn == 1) {
                for (int nn = 0; nn < TSN; nn += VW) VSTORE(VLOAD(0, row + nn), 0, &Bs[kk][nn]);
            } else {
                for (int nn = 0; nn < TSN; ++nn)
                    Bs[kk][nn] = (kk < kt && n0 + nn < N) ? row[nn * sbn] : (T)0;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int mi = 0; mi < TSM && m0 + mi < M; mi += RM) {
            for (int nj = 0; nj < TSN && n0 + nj < N; nj += RN) {
                VT acc[RM][NV];
                #pragma unroll
                for (int r = 0; r < RM; ++r)
                    #pragma unroll
                    for (int v = 0; v < NV; ++v) acc[r][v] = (VT)(0);
                for (int kk = 0; kk < kt; ++kk) {
                    VT b[NV];
                    #pragma unroll
                    for (int v = 0; v < NV; ++v) b[v] = VLOAD(0, &Bs[kk][nj + v * VW]);
                    #pragma unroll
                    for (int r = 0; r < RM; ++r) {
                        const T a = As[mi + r][kk];
                        #pragma unroll
                        for (int v = 0; v < NV; ++v) acc[r][v] = MAC(acc[r][v], a, b[v]);
                    }
                }
                for (int r = 0; r < RM; ++r) {
                    const int gm = m0 + mi + r;
                    if (gm >= M) break;
                    for (int v = 0; v < NV; ++v) {
                        const int gn = n0 + nj + v * VW;
                        global T* c = C + (long)gm * N + gn;
                        if (gn + VW <= N) {
                            VSTORE(t ? ADD(VLOAD(0, c), acc[r][v]) : acc[r][v], 0, c);
                        } else if (gn < N) {
                            T tmp[VW];
                            VSTORE(acc[r][v], 0, tmp);
                            for (int j = 0; j < N - gn; ++j) c[j] = t ? ADD(c[j], tmp[j]) : tmp[j];
                        }
                    }
                }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}
"""

_MAC = {"f": "((acc) + (VT)(a) * (b))", "i": "((acc) + (VT)(a) * (b))",
        "u": "((acc) + (VT)(a) * (b))", "b": "((acc) | ((VT)(a) & (b)))"}


def matmul_source(dtype: np.dtype, cfg: dict) -> str:
    t = CTYPE[dtype.name]
    defs = "".join(f"#define {k} {v}\n" for k, v in cfg.items() if k != "kind")
    add = "((x) | (y))" if dtype == np.bool_ else "((x) + (y))"
    return (f"typedef {t} T;\ntypedef {t}{cfg['VW']} VT;\n{defs}"
            f"#define MAC(acc, a, b) {_MAC[kind(dtype)]}\n#define ADD(x, y) {add}\n"
            + (_CPU_SOURCE if cfg.get("kind") == "cpu" else _SOURCE))


def _batch_offsets(shape, strides, offset) -> np.ndarray:
    offs = np.array([offset], dtype=np.int64)
    for s, st in zip(shape, strides):
        offs = (offs[:, None] + np.arange(s, dtype=np.int64) * st).reshape(-1)
    return offs


def matmul(a: CLArray, b: CLArray, config: str | None = None) -> CLArray:
    dev = a.device
    name = config or default_config(dev, a.dtype)
    cfg = CONFIGS[name]
    if b.dtype != a.dtype:
        b = ew.cast(b, a.dtype)
    # NOTE: any strides: a transposed operand (x @ w.t(), h.t() @ d) is read in place by the
    # tile loads instead of being copied first
    M, K = a.shape[-2:]
    N = b.shape[-1]
    batch = tuple(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    out = empty(batch + (M, N), a.dtype, dev)
    nb = math.prod(batch)
    if out.size == 0:
        return out
    if K == 0:
        return ew.fill(out, 0)
    if not batch:
        table = dev.const((a.offset, b.offset))
    else:
        offs = np.stack([_batch_offsets(batch, _bstrides(x, batch), x.offset) for x in (a, b)],
                        1)
        table = dev.const(offs) if offs.size <= 512 else dev.upload(offs)
    k = dev.kernel(("matmul", a.dtype.name, name), "ember_matmul",
                   lambda: matmul_source(a.dtype, cfg))
    if cfg.get("kind") == "cpu":
        rtsm = rtsn = 1
    else:
        rtsm, rtsn = cfg["TSM"] // cfg["WPTM"], cfg["TSN"] // cfg["VW"]
    gsize = (-(-N // cfg["TSN"]) * rtsn, -(-M // cfg["TSM"]) * rtsm, nb)
    dev.launch(k, gsize, (rtsn, rtsm, 1), np.int32(M), np.int32(N), np.int32(K), table,
               a.buffer, np.int64(a.strides[-2]), np.int64(a.strides[-1]), b.buffer,
               np.int64(b.strides[-2]), np.int64(b.strides[-1]), out.buffer)
    return out


def _bstrides(x: CLArray, batch) -> list:
    """x's batch strides broadcast to ``batch`` (0 where x has size 1 or no dim)."""
    lead = len(batch) - (x.ndim - 2)
    shape = (1,) * lead + x.shape[:-2]
    st = (0,) * lead + x.strides[:-2]
    return [0 if s == 1 else t for s, t in zip(shape, st)]
