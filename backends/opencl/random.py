"""Random numbers from Philox4x32-10, a counter-based generator.

Element i of a call draws the Philox block of counter (generator counter + i) under the key
(seed). The numbers depend only on (seed, counter, i): the same on every device and for any
launch geometry, and get_state/set_state is just the pair (seed, counter).
"""
from __future__ import annotations

import math

import numpy as np

from .array import CLArray, empty
from .runtime import CTYPE, ELEMENTWISE_WG, Device

_SOURCE = r"""
inline uint4 ember_philox(ulong ctr, ulong seed) {
    uint4 c = (uint4)((uint)ctr, (uint)(ctr >> 32), 0u, 0u);
    uint2 k = (uint2)((uint)seed, (uint)(seed >> 32));
    for (int r = 0; r < 10; ++r) {
        const uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        const uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}
// uniform in [0, 1) with the type's mantissa bits, and in (0, 1] for logs
inline float ember_u24(uint w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
#ifdef EMBER_FP64
inline double ember_u53(uint a, uint b) {
    return (double)(((ulong)(a >> 5) << 26) | (b >> 6)) * (1.0 / 9007199254740992.0);
}
#endif
kernel void ember_rand_uniform(long n, ulong ctr, ulong seed, global T* out) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const uint4 r = ember_philox(ctr + i, seed);
#if IS_DOUBLE
    out[i] = ember_u53(r.x, r.y);
#else
    out[i] = (T)ember_u24(r.x);
#endif
}
kernel void ember_rand_normal(long n, ulong ctr, ulong seed, global T* out) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const uint4 r = ember_philox(ctr + i, seed);
#if IS_DOUBLE
    const double u1 = 1.0 - ember_u53(r.x, r.y), u2 = ember_u53(r.z, r.w);
    out[i] = sqrt(-2.0 * log(u1)) * cospi(2.0 * u2);
#else
    const float u1 = 1.0f - ember_u24(r.x), u2 = ember_u24(r.y);
    out[i] = (T)(sqrt(-2.0f * log(u1)) * cospi(2.0f * u2));
#endif
}
kernel void ember_rand_int(long n, ulong ctr, ulong seed, long low, ulong range, global T* out) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const uint4 r = ember_philox(ctr + i, seed);
    const ulong v = (((ulong)r.x << 32) | r.y) % range;
    out[i] = (T)(low + (long)v);
}
"""


def random_source(dev: Device, dtype: np.dtype) -> str:
    head = f"typedef {CTYPE[dtype.name]} T;\n#define IS_DOUBLE {int(dtype == np.float64)}\n"
    if dev.fp64:
        head += "#define EMBER_FP64 1\n"
    return head + _SOURCE


class Generator:
    """State of one stream: the seed and how many Philox blocks were used."""

    def __init__(self, index: int, seed: int):
        self.index = index
        self.seed = int(seed) & 0xFFFFFFFFFFFFFFFF
        self.counter = 0

    def get_state(self):
        return (self.seed, self.counter)

    def set_state(self, state) -> None:
        self.seed, self.counter = (int(v) for v in state)

    def manual_seed(self, seed: int) -> None:
        self.seed, self.counter = int(seed) & 0xFFFFFFFFFFFFFFFF, 0

    def _take(self, n: int) -> int:
        start = self.counter
        self.counter += n
        return start


def _fill(name: str, gen: Generator, shape, dtype, *extra) -> CLArray:
    from .elementwise import np_dtype
    from .runtime import device
    dtype = np_dtype(dtype)
    dev = device(gen.index)
    out = empty(shape, dtype, dev)
    n = math.prod(out.shape)
    start = gen._take(n)
    if n:
        k = dev.kernel(("random", dtype.name), f"ember_{name}", lambda: random_source(dev, dtype))
        dev.launch(k, (-(-n // ELEMENTWISE_WG) * ELEMENTWISE_WG,), (ELEMENTWISE_WG,),
                   np.int64(n), np.uint64(start), np.uint64(gen.seed), *extra, out.buffer)
    return out


def rand_uniform(gen: Generator, shape, dtype) -> CLArray:
    return _fill("rand_uniform", gen, shape, dtype)


def rand_normal(gen: Generator, shape, dtype) -> CLArray:
    return _fill("rand_normal", gen, shape, dtype)


def rand_int(gen: Generator, low: int, high: int, shape, dtype) -> CLArray:
    if high <= low:
        raise ValueError(f"rand_int: empty range [{low}, {high})")
    return _fill("rand_int", gen, shape, dtype, np.int64(low), np.uint64(high - low))
