"""The cpu backend's random numbers: torch's CPU stream, so ``manual_seed`` gives torch's values.

torch's CPU generator is a 32-bit Mersenne Twister (mt19937) seeded with the low 32 bits of the
seed; NumPy's ``MT19937`` runs the same recurrence, so only the seeding and the transformations
from raw draws to values live here. Each transformation follows what torch 2.13 computes, checked
bitwise against it by tests/test_rng_parity.py:

- a 64-bit draw is two 32-bit draws, the first one the high half;
- a float in [0, 1) keeps the low ``digits`` bits of a draw (64-bit for float64, 32-bit for the
  others) times 2**-digits; ``uniform_(a, b)`` is then ``x * (b - a) + a`` rounded once;
- integers in [low, high) are ``draw % (high - low) + low``, 64-bit draws from a range of 2**28;
- normals: blocks of 16 uniforms through Box-Muller for 16 or more elements (the last partial
  block recomputed from 16 fresh uniforms), otherwise a float64 Box-Muller whose second sample
  is kept for the next call;
- randperm: swaps ``i <-> i + draw % (n - i)`` for i = 0 .. n-2.

Not reproduced: float16/bfloat16 uniforms and normals (same draws, other values), and float32
normals of 16 or more elements agree with torch's only to a few ulps (see ``_normal``).
"""
from __future__ import annotations

import math

import ml_dtypes
import numpy as np

_U32 = np.uint64(32)
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
# bits of a uniform float: torch keeps as many low bits of a draw as the significand holds
# NOTE: for float16/bfloat16 torch draws a float32 and rounds it, which can give 1.0; we keep
# the contract's [0, 1) with the dtype's own grid, one 32-bit draw each as torch, so the stream
# stays in step even where these values differ from torch's.
_DIGITS = {np.dtype(np.float64): 53, np.dtype(np.float32): 24, _HALF[0]: 11, _HALF[1]: 8}
# NOTE: torch switches randint/random_(from, to) to 64-bit draws from this range on (measured;
# not at 2**32 as one might guess).
_WIDE_RANGE = 1 << 28


def _mt_key(seed: int) -> np.ndarray:
    # the standard mt19937 initialisation (init_genrand) from a 32-bit seed
    s = seed & 0xFFFFFFFF
    key = [s]
    for j in range(1, 624):
        s = (1812433253 * (s ^ (s >> 30)) + j) & 0xFFFFFFFF
        key.append(s)
    return np.array(key, dtype=np.uint32)


class CpuGenerator:
    """torch's CPU generator: mt19937 plus the cached second sample of the scalar normal path."""

    __slots__ = ("bits", "normal_cache")

    def __init__(self, seed):
        self.bits = np.random.MT19937(0)
        self.bits.state = {"bit_generator": "MT19937",
                           "state": {"key": _mt_key(int(seed)), "pos": 624}}
        self.normal_cache = None

    def get_state(self):
        return {"mt19937": self.bits.state, "normal_cache": self.normal_cache}

    def set_state(self, state):
        self.bits.state = state["mt19937"]
        self.normal_cache = state["normal_cache"]

    def random32(self, n: int) -> np.ndarray:
        """n raw 32-bit draws, as uint64."""
        return self.bits.random_raw(n)

    def random64(self, n: int) -> np.ndarray:
        """n 64-bit draws (uint64), each from two 32-bit draws, the first the high half."""
        r = self.bits.random_raw(2 * n)
        return (r[0::2] << _U32) | r[1::2]


def _unit(gen: CpuGenerator, n: int, dt: np.dtype) -> np.ndarray:
    """n floats in [0, 1) on dt's grid, exactly, as float64."""
    digits = _DIGITS[dt]
    raw = gen.random64(n) if digits == 53 else gen.random32(n)
    mask = np.uint64((1 << digits) - 1)
    return (raw & mask).astype(np.float64) * (1.0 / (1 << digits))


def _two_prod(a, b):
    # Dekker's product: p + e == a * b exactly (Veltkamp splits at 2**27 + 1)
    p = a * b
    ah = a * 134217729.0
    ah = ah - (ah - a)
    al = a - ah
    bh = b * 134217729.0
    bh = bh - (bh - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def fma(a, b, c) -> np.ndarray:
    """a * b + c rounded once, in float64 (NumPy has no fused multiply-add)."""
    # NOTE: torch's float64 uniform_ and normal_ compile to FMAs; an unfused a * b + c differs in
    # the last bit for about half the values. Boldo and Melquiond's emulation: the exact product,
    # an exact sum with c, and the low parts added with rounding to odd before the final rounding.
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    ph, pl = _two_prod(a, b)
    th, tl = _two_sum(c, ph)
    v, err = _two_sum(tl, pl)
    bits = v.view(np.int64)
    inexact_even = (err != 0) & ((bits & 1) == 0)
    step = np.where((err > 0) == (v > 0), 1, -1)
    return th + np.where(inexact_even, bits + step, bits).view(np.float64)


def _scaled(z, std, mean):
    """z * std + mean rounded once (z itself for the standard normal: the emulated FMA costs
    ~0.1 us per element)."""
    if std == 1 and mean == 0:
        return z
    return fma(z, float(std), float(mean))


def _uniform_range(gen, low, high, shape, dtype):
    dt = dtype.np
    n = math.prod(shape)
    x = _unit(gen, n, dt)
    if dt == np.float64:
        out = fma(x, float(high) - float(low), float(low))
    else:
        # NOTE: torch casts the bounds to the dtype and subtracts them there, then computes in
        # float: the product is exact (few bits each), so one rounding to float32 remains.
        lo, hi = np.array([low, high], dtype=dt)
        out = (x * float(hi - lo) + float(lo)).astype(np.float32)
    return out.astype(dt, copy=False).reshape(shape)


def _libm(f):
    vec = np.frompyfunc(f, 1, 1)
    return lambda x: np.asarray(vec(x), dtype=np.float64)


# NOTE: torch's float64 normals call the C library's log/cos/sin (Python's math module calls the
# same ones); NumPy's SIMD versions differ from them in the last bit for a few values in 100.
_LOG, _LOG1P, _COS, _SIN = (_libm(f) for f in (math.log, math.log1p, math.cos, math.sin))
_FAST = (np.log, np.cos, np.sin)
_EXACT_LIBM_MAX = 1 << 14


def _box_muller16(u: np.ndarray, exact: bool) -> np.ndarray:
    """torch's normal_fill_16 on rows of 16 uniforms: u1 = 1 - u[j], u2 = u[j + 8]."""
    log, cos, sin = (_LOG, _COS, _SIN) if exact else _FAST
    radius = np.sqrt(-2.0 * log(1.0 - u[:, :8]))
    theta = (2.0 * math.pi) * u[:, 8:]
    return np.concatenate([radius * cos(theta), radius * sin(theta)], axis=1)


def _normal(gen, mean, std, shape, dtype):
    dt = dtype.np
    n = math.prod(shape)
    if n >= 16:
        u = _unit(gen, n, dt)
        z = np.empty(n)
        full = n // 16 * 16
        # (the C library's functions cost ~0.4 us per element from Python: large tensors take
        # NumPy's, a last-bit difference for a few values in 100)
        exact = dt == np.float64 and n <= _EXACT_LIBM_MAX
        z[:full] = _box_muller16(u[:full].reshape(-1, 16), exact).ravel()
        if full != n:
            z[n - 16:] = _box_muller16(_unit(gen, 16, dt).reshape(1, 16), exact).ravel()
        if dt == np.float64:
            out = _scaled(z, std, mean)
        else:
            # NOTE: torch computes these in float with vectorised log/cos/sin; ours in float64,
            # rounded once, may differ from torch's by a few float32 ulps.
            m, s = np.array([mean, std], dtype=dt).astype(np.float64)
            out = (z * s + m).astype(np.float32)
        return out.astype(dt, copy=False).reshape(shape)
    # fewer than 16: float64 Box-Muller per pair, cos first, sin kept for the next call
    first = []
    if n and gen.normal_cache is not None:
        first, gen.normal_cache = [gen.normal_cache], None
    m = n - len(first)
    pairs = (m + 1) // 2
    u = _unit(gen, 2 * pairs, np.dtype(np.float64)).reshape(pairs, 2)
    radius = np.sqrt(-2.0 * _LOG1P(-u[:, 1]))
    theta = (2.0 * math.pi) * u[:, 0]
    z = np.stack([radius * _COS(theta), radius * _SIN(theta)], axis=1).ravel()
    if m % 2:
        gen.normal_cache, z = float(z[-1]), z[:-1]
    z = np.concatenate([np.array(first, dtype=np.float64), z])
    return _scaled(z, std, mean).astype(dt).reshape(shape)


def _integers(gen, low, high, shape, dtype):
    span = high - low
    n = math.prod(shape)
    raw = gen.random64(n) if span >= _WIDE_RANGE else gen.random32(n)
    # uint64 arithmetic wraps as torch's does; viewing as int64 gives low + offset
    v = (raw % np.uint64(span) + np.uint64(low % (1 << 64))).view(np.int64)
    return v.astype(dtype.np, copy=False).reshape(shape)


def _bits(gen, shape, dtype):
    dt = dtype.np
    n = math.prod(shape)
    if dt in _DIGITS:
        # NOTE: torch's random_() on floats is inclusive of 2**digits
        top = (1 << _DIGITS[dt]) + 1
    elif dt == np.bool_:
        top = 2
    else:
        top = int(np.iinfo(dt).max) + 1
    wide = dt in (np.dtype(np.float64), np.dtype(np.int64))
    raw = gen.random64(n) if wide else gen.random32(n)
    return (raw % np.uint64(top)).astype(dt).reshape(shape)


def _perm(gen, n, dtype):
    perm = list(range(n))
    if n > 1:
        # NOTE: each swap depends on the ones before it, so only the draws are vectorised
        offsets = (gen.random32(n - 1) % np.arange(n, 1, -1, dtype=np.uint64)).tolist()
        for i, z in enumerate(offsets):
            j = i + z
            perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm, dtype=dtype.np)


def _bernoulli(gen, p, shape, dtype):
    """1 with probability p, else 0: a 53-bit uniform per element below p, as torch's cpu
    bernoulli_(float) (and so its dropout) draws."""
    u = _unit(gen, math.prod(shape), np.dtype(np.float64))
    return (u < p).astype(dtype.np).reshape(shape)


def rng_kernels():
    """The random-number kernels: primitives and the optional ones that keep torch's stream."""
    return {"rand_uniform": lambda gen, shape, dtype: _uniform_range(gen, 0.0, 1.0, shape, dtype),
            "rand_normal": lambda gen, shape, dtype: _normal(gen, 0.0, 1.0, shape, dtype),
            "rand_int": _integers,
            "rand_uniform_range": _uniform_range, "rand_normal_scaled": _normal,
            "rand_bits": _bits, "rand_perm": _perm,
            "rand_bernoulli": _bernoulli}
