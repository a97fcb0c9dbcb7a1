"""CudaBackend: CuPy arrays are the buffers; the kernel table is the cpu one built on cupy.

``make_kernels(cupy)`` gives most of the table, since CuPy follows NumPy; what follows overrides
only where CuPy differs (no ``reshape(copy=False)``, no ``add.at``, indices that wrap around
instead of raising, writable broadcast views) and adds fused kernels compiled by NVRTC, named
``ember_<op>`` so a profiler trace reads well. CuPy caches compiled kernels per device and dtype.

Kernels are asynchronous, as torch's: they queue work on the current stream and return. Only
values that reach the host (``to_numpy``, an index check, ``nonzero``'s count) synchronise;
cross-entropy checks its targets on the device and reports a bad one at the next host read, as
torch's device-side asserts do (``fused.DeviceErrors``).
"""
from __future__ import annotations

import numpy as np
import cupy

from ember.plugins.api import PRIMITIVES, Backend

from ..cpu.kernels import linalg_kernels, make_kernels
from .fused import ERRORS, PREAMBLE, fused_kernels
from .fusion import fused_elementwise

_ndarray = cupy.ndarray
_runtime = cupy.cuda.runtime
_Device = cupy.cuda.Device

_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
           "float64", "complex64", "complex128")

# NOTE: cupyx.scatter_add is an atomicAdd, which CUDA (and CuPy's atomics.cuh) has only for
# these; the rest accumulate in a wider dtype.
_ATOMIC_ADD = frozenset(np.dtype(n) for n in ("int32", "int64", "float16", "float32", "float64"))


_OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a "
            "single memory location. Please clone() the tensor before performing the operation.")


def _fused():
    """The fused elementwise kernels (compiled on first call per dtype and device)."""
    ek = cupy.ElementwiseKernel
    real_sigmoid = ek("T x", "T y",
                      "typedef typename ember_wide<T>::type W;"
                      "y = (T)(W(1) / (W(1) + exp(-(W)x)))",
                      "ember_sigmoid", preamble=PREAMBLE)
    # NOTE: torch's relu propagates NaN (x != x), unlike where(x > 0, x, 0)
    real_relu = ek("T x", "T y", "y = (x > (T)0 || x != x) ? x : (T)0", "ember_relu")

    def sigmoid(x):
        if x.dtype.kind == "c":  # (ember_wide has no complex type: CuPy's complex ufuncs)
            return 1 / (1 + cupy.exp(-x))
        return real_sigmoid(x)

    def relu(x):
        if x.dtype.kind == "c":
            raise NotImplementedError("clamp is not supported for complex types")
        return real_relu(x)

    return {
        "sigmoid": sigmoid,
        "erf": ek("T x", "T y",
                  "typedef typename ember_wide<T>::type W; y = (T)erf((W)x)",
                  "ember_erf", preamble=PREAMBLE),
        "relu": relu,
    }


# NOTE: CUDA has no atomic multiply, and its atomicMax/atomicMin neither propagate NaN nor exist
# for 1- and 2-byte types. So scatter_reduce combines in a 64-bit accumulator (double for
# floats, long long for integers and bool) with a compare-and-swap loop, then casts back: exact
# for amax/amin and for integer products (which wrap around as in the narrow type); a product
# of float32 or narrower rounds to its dtype once at the end instead of at each step.
_SCATTER_PREAMBLE = r"""
__device__ inline double ember_from_word(unsigned long long w, double) {
    return __longlong_as_double((long long)w);
}
__device__ inline long long ember_from_word(unsigned long long w, long long) {
    return (long long)w;
}
__device__ inline unsigned long long ember_to_word(double v) {
    return (unsigned long long)__double_as_longlong(v);
}
__device__ inline unsigned long long ember_to_word(long long v) {
    return (unsigned long long)v;
}
__device__ inline double ember_mul(double a, double b) { return a * b; }
__device__ inline long long ember_mul(long long a, long long b) {
    // signed overflow is undefined in C++; unsigned products wrap, as torch's do
    return (long long)((unsigned long long)a * (unsigned long long)b);
}
"""

# combine(a: the accumulator, v: the incoming value); a NaN on either side wins, as in amax
_SCATTER_COMBINE = {"prod": "ember_mul(a, v)",
                    "amax": "(a != a || a > v) ? a : v",
                    "amin": "(a != a || a < v) ? a : v"}

_SCATTER_LOOP = r"""
unsigned long long* w = (unsigned long long*)&acc[p];
unsigned long long old = *w, seen;
do {
    seen = old;
    const W a = ember_from_word(seen, v);
    const W r = COMBINE;
    old = atomicCAS(w, seen, ember_to_word(r));
} while (old != seen);
"""


def _scatter_reduce_kernel():
    """The scatter_reduce primitive (prod, amax, amin), one ElementwiseKernel per reduce."""
    kernels = {op: cupy.ElementwiseKernel("int64 p, W v", "raw W acc",
                                          _SCATTER_LOOP.replace("COMBINE", combine),
                                          f"ember_scatter_{op}", preamble=_SCATTER_PREAMBLE)
               for op, combine in _SCATTER_COMBINE.items()}

    def scatter_reduce(x, axis, index, src, reduce):
        wide = np.dtype(np.int64) if x.dtype.kind in "biu" else np.dtype(np.float64)
        acc = x.astype(wide, order="C")
        if index.size:
            # each src element's flat position in acc: index along axis, its own coordinate
            # along the other dims
            st = [1] * x.ndim
            for d in range(x.ndim - 2, -1, -1):
                st[d] = st[d + 1] * x.shape[d + 1]
            pos = index * st[axis]
            for d, n in enumerate(index.shape):
                if d != axis and n > 1:
                    step = cupy.arange(n, dtype=np.int64) * st[d]
                    pos = pos + step.reshape((n,) + (1,) * (index.ndim - d - 1))
            kernels[reduce](pos, src.astype(wide), acc.reshape(-1))
        return acc.astype(x.dtype)
    return scatter_reduce


def _overlapping(x) -> bool:
    """True when two elements of x share memory (a 0-stride dim of size > 1, from expand)."""
    for n, s in zip(x.shape, x.strides):
        if s == 0 and n > 1:
            return True
    return False


def _check_indices(x, index, op):
    """Raise IndexError for out-of-range index entries: CuPy wraps them around silently. The
    arrays are checked together, with one synchronisation."""
    arrays = []
    d = 0
    for e in index:
        if e is None:
            continue
        if type(e) is _ndarray:
            arrays.append((e, x.shape[d], d))
        elif isinstance(e, (int, np.integer)) and not -x.shape[d] <= e < x.shape[d]:
            raise IndexError(f"{op}index {int(e)} is out of bounds for dimension {d} with "
                             f"size {x.shape[d]}")
        d += 1
    if not arrays:
        return
    flags = [((a < -n) | (a >= n)).any() for a, n, _ in arrays]
    bad = flags[0] if len(flags) == 1 else cupy.stack(flags).any()
    if bool(bad):
        for a, n, d in arrays:
            h = cupy.asnumpy(a)
            wrong = h[(h < -n) | (h >= n)]
            if wrong.size:
                raise IndexError(f"{op}index {int(wrong.flat[0])} is out of bounds for "
                                 f"dimension {d} with size {n}")


def _scatter_add(x, index, values):
    """x[index] += values in place, accumulating repeated indices."""
    import cupyx
    if x.dtype in _ATOMIC_ADD:
        cupyx.scatter_add(x, index, values)
        return
    wide = np.dtype(np.int64) if x.dtype.kind in "biu" else np.dtype(np.float32)
    acc = cupy.zeros(x.shape, wide)
    cupyx.scatter_add(acc, index, values.astype(wide) if type(values) is _ndarray else values)
    # NOTE: bool accumulates as logical or, as NumPy's add.at; ints wrap around, as NumPy's
    x[...] = (x.astype(wide) + acc).astype(x.dtype)


def _overrides(bf16) -> dict:
    k = {}

    def view(x, shape):
        if x.flags.c_contiguous:
            return x.reshape(shape)
        # NOTE: cupy.reshape copies when it must and has no copy=False; ask NumPy, on a
        # stand-in with x's shape and strides (never read), whether the strides allow a view.
        probe = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=f"V{x.itemsize}"), x.shape,
                                                x.strides)
        try:
            strides = np.reshape(probe, shape, copy=False).strides
        except ValueError:
            return None
        return cupy.lib.stride_tricks.as_strided(x, shape, strides)

    k["view"] = view

    def getitem_advanced(x, index):
        _check_indices(x, index, "")
        return x[index]

    def setitem(x, index, value):
        if _overlapping(x):
            raise RuntimeError(_OVERLAP)
        if index == ():
            x[...] = value
            return
        _check_indices(x, index, "")
        x[index] = value

    def index_add(x, index, values):
        if _overlapping(x):
            raise RuntimeError(_OVERLAP)
        _check_indices(x, index, "index_add(): ")
        _scatter_add(x, index, values)

    k["getitem_advanced"], k["setitem"], k["index_add"] = getitem_advanced, setitem, index_add
    k["scatter_reduce"] = _scatter_reduce_kernel()

    def matmul(a, b):
        if b.dtype != a.dtype:
            b = b.astype(a.dtype)
        if a.dtype == bf16 or a.dtype == np.bool_:
            # NOTE: bf16 through float32 (torch accumulates in float32 too); bool as "any"
            wide = np.float32 if a.dtype == bf16 else np.int32
            r = cupy.matmul(a.astype(wide), b.astype(wide))
            return r.astype(a.dtype) if a.dtype == bf16 else r != 0
        # float16 goes straight to cuBLAS, which accumulates in float32
        return cupy.matmul(a, b)

    k["matmul"] = matmul
    return k


class CudaGenerator:
    """A counter-based stream: state is (seed, draws), so get/set_state are exact and cheap.

    Each draw reseeds one cuRAND Philox generator with a hash of (seed, draw number); Philox
    seeding is a host-side key change, with no state kernel to run.
    """

    def __init__(self, index: int, seed: int):
        self.index = index
        self.seed = int(seed) % 2**64
        self.draws = 0
        # NOTE: imported here, so a machine without libcurand loses RNG only, with this error
        from cupy_backends.cuda.libs import curand
        with _Device(index):
            self._rs = cupy.random.RandomState(0, method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)

    def next(self):
        z = (self.seed + 0x9E3779B97F4A7C15 * (self.draws + 1)) % 2**64  # splitmix64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
        self.draws += 1
        self._rs.seed(z ^ (z >> 31))
        return self._rs

    def get_state(self):
        return (self.seed, self.draws)

    def set_state(self, state):
        self.seed, self.draws = int(state[0]), int(state[1])


def _rng_kernels() -> dict:
    import ml_dtypes
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    below_one = {np.dtype(d): np.array(1 - ml_dtypes.finfo(d).epsneg, d)[()]
                 for d in (np.float16, ml_dtypes.bfloat16)}

    def floats(method):
        def draw(gen, shape, dtype):
            want = np.dtype(dtype.np)
            wide = want if want in (f32, f64) else f32
            r = getattr(gen.next(), method)(shape, dtype=wide)
            if wide == want:
                return r
            r = r.astype(want)
            if method == "random_sample":
                # NOTE: float32 values just below 1 round up to 1 in half precision; [0, 1)
                # must hold in the result's dtype
                r = cupy.minimum(r, below_one[want], out=r)
            return r
        return _on_generator_device(draw)

    def rand_int(gen, low, high, shape, dtype):
        r = cupy.asarray(gen.next().randint(low, high, size=shape, dtype=np.int64))
        return r if r.dtype == dtype.np else r.astype(dtype.np)

    return {"rand_uniform": floats("random_sample"), "rand_normal": floats("standard_normal"),
            "rand_int": _on_generator_device(rand_int)}


def _on_generator_device(kernel):
    def run(gen, *args):
        if gen.index == _runtime.getDevice():
            return kernel(gen, *args)
        with _Device(gen.index):
            return kernel(gen, *args)
    return run


def _bf16_probe():
    """(bfloat16 numpy dtype or None, why not). CuPy >= 14 has bfloat16 ufunc loops through
    ml_dtypes; older CuPy cannot hold it."""
    try:
        import ml_dtypes
        bf16 = np.dtype(ml_dtypes.bfloat16)
        a = cupy.asarray(np.ones(2, bf16))
        if not bool(((a + a).astype(np.float32) == 2).all()):
            return None, "bfloat16 arithmetic gave wrong values"
        return bf16, ""
    except Exception as e:
        return None, f"cupy {cupy.__version__} cannot compute in bfloat16 ({type(e).__name__}: " \
                     f"{e}); CuPy >= 14 with ml_dtypes can"


def _on_input_device(kernel):
    """Run ``kernel`` on the device of its first array argument (multi-GPU machines only)."""
    def run(*args, **kwargs):
        dev = None
        for a in args:
            if type(a) is _ndarray:
                dev = a.data.device_id
                break
            if type(a) in (list, tuple) and a and type(a[0]) is _ndarray:
                dev = a[0].data.device_id
                break
        if dev is None or dev == _runtime.getDevice():
            return kernel(*args, **kwargs)
        with _Device(dev):
            return kernel(*args, **kwargs)
    return run


def _on_index(kernel):
    """Run a creation kernel (its last argument is the device index) on that device."""
    def run(*args):
        index = args[-1] or 0
        if index == _runtime.getDevice():
            return kernel(*args)
        with _Device(index):
            return kernel(*args)
    return run


class CudaBackend(Backend):
    """Every GPU cupy sees, as ``cuda:0`` .. ``cuda:N-1``."""

    default_index = 0
    # NOTE: CuPy compiles every kernel with -ftz=true: float32 (and bfloat16, computed in
    # float32) subnormal results become 0 (seen on an H100: erfc(9.5), nextafter(0, 1)); the
    # NumPy stand-in (fakecupy) keeps them
    flushes_subnormals = not cupy.__version__.endswith("fakecupy")

    def __init__(self, count: int):
        self._count = count
        bf16, self.bfloat16_note = _bf16_probe()
        # gather/scatter come from the shared table; their index checks read back min/max
        kernels = make_kernels(cupy, ndarray=_ndarray, add_at=_scatter_add)
        kernels.update(_overrides(bf16))
        kernels.update(_fused())
        kernels.update(fused_kernels(kernels))
        kernels.update(linalg_kernels(cupy))
        kernels.update(_rng_kernels())
        kernels["fused_elementwise"] = fused_elementwise
        missing = set(PRIMITIVES) - set(kernels)
        assert not missing, f"cuda backend lacks kernels for {sorted(missing)}"
        if count > 1:
            # NOTE: one GPU (the common case) pays no device switch on the hot path
            for name, kern in kernels.items():
                if name in ("empty", "full", "arange"):
                    kernels[name] = _on_index(kern)
                elif not name.startswith("rand_"):   # generators carry their own device
                    kernels[name] = _on_input_device(kern)
        dtypes = [d for d in _DTYPES if d != "bfloat16" or bf16 is not None]
        super().__init__("cuda", kernels, dtypes,
                         version=f"cupy {cupy.__version__}, CUDA runtime "
                                 f"{_runtime.runtimeGetVersion()}")
        self._pool = cupy.get_default_memory_pool()
        self._peak = [0] * count
        self._install_peak_tracking()

    # ------------------------------------------------------------------------ devices
    def device_count(self) -> int:
        return self._count

    def device_names(self) -> list[str]:
        names = []
        for i in range(self._count):
            name = _runtime.getDeviceProperties(i)["name"]
            names.append(f"cuda:{i} {name.decode() if isinstance(name, bytes) else name}")
        return names

    def index_of(self, x) -> int:
        return x.data.device_id

    def from_numpy(self, array, index: int):
        array = np.asarray(array)
        if array.dtype.name not in self.dtypes:
            why = f"; {self.bfloat16_note}" if array.dtype.name == "bfloat16" else ""
            raise TypeError(f"cuda: dtype {array.dtype} is not supported (supported: "
                            f"{sorted(self.dtypes)}){why}")
        index = index or 0
        if self._count == 1 or index == _runtime.getDevice():
            return cupy.asarray(array)
        with _Device(index):
            return cupy.asarray(array)

    def to_numpy(self, x) -> np.ndarray:
        if ERRORS.armed:
            ERRORS.check()
        return cupy.asnumpy(x)

    def generator(self, index: int, seed: int) -> CudaGenerator:
        return CudaGenerator(index or 0, seed)

    def synchronize(self, index: int | None = None) -> None:
        for i in range(self._count) if index is None else [index]:
            with _Device(i):
                _runtime.deviceSynchronize()
        if ERRORS.armed:
            ERRORS.check()

    # ------------------------------------------------------------------------ memory
    def _install_peak_tracking(self):
        # NOTE: CuPy's pool counts bytes in use but keeps no peak; wrap its malloc so
        # max_memory_allocated sees transient peaks, as torch's caching allocator does.
        malloc, used, peak = self._pool.malloc, self._pool.used_bytes, self._peak

        def tracked_malloc(size):
            mem = malloc(size)
            u = used()
            d = mem.device_id
            if u > peak[d]:
                peak[d] = u
            return mem

        cupy.cuda.set_allocator(tracked_malloc)

    def _index(self, index):
        return self.default_index if index is None else int(index)

    # ------------------------------------------- device queries, events, streams (ember.cuda)
    def device_properties(self, index: int | None = None) -> dict:
        p = _runtime.getDeviceProperties(self._index(index))
        name = p["name"]
        return {"name": name.decode() if isinstance(name, bytes) else str(name),
                "major": int(p.get("major", 0)), "minor": int(p.get("minor", 0)),
                "total_memory": int(p.get("totalGlobalMem", 0)),
                "multi_processor_count": int(p.get("multiProcessorCount", 0))}

    def mem_get_info(self, index: int | None = None) -> tuple[int, int]:
        with _Device(self._index(index)):
            free, total = _runtime.memGetInfo()
        return int(free), int(total)

    def new_event(self, enable_timing: bool, blocking: bool, interprocess: bool):
        return cupy.cuda.Event(block=blocking, disable_timing=not enable_timing,
                               interprocess=interprocess)

    @staticmethod
    def elapsed_ms(start, end) -> float:
        return float(cupy.cuda.get_elapsed_time(start, end))

    def new_stream(self, index: int | None = None, priority: int = 0):
        with _Device(self._index(index)):
            return cupy.cuda.Stream(non_blocking=False, priority=priority)

    def current_stream(self, index: int | None = None):
        with _Device(self._index(index)):
            return cupy.cuda.get_current_stream()

    def default_stream(self, index: int | None = None):
        return cupy.cuda.Stream.null

    def memory_allocated(self, index: int | None = None) -> int:
        with _Device(self._index(index)):
            return int(self._pool.used_bytes())

    def max_memory_allocated(self, index: int | None = None) -> int:
        i = self._index(index)
        return max(self._peak[i], self.memory_allocated(i))

    def reset_peak_memory_stats(self, index: int | None = None) -> None:
        i = self._index(index)
        self._peak[i] = self.memory_allocated(i)

    def empty_cache(self) -> None:
        self._pool.free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()
