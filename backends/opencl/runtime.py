"""Devices, queues, memory and the program cache of the OpenCL backend.

Everything that talks to the driver goes through here, so that driver errors become Ember errors
that name the kernel and the device, and so that program builds are counted (PoCL compiles
slowly: the number of programs is the test suite's startup cost).
"""
from __future__ import annotations

import os
import struct
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyopencl as cl

#: NumPy dtype name -> OpenCL C storage type. bool is stored as uchar holding 0 or 1.
CTYPE = {
    "bool": "uchar", "uint8": "uchar", "int8": "char", "int16": "short", "int32": "int",
    "int64": "long", "float16": "half", "float32": "float", "float64": "double",
}
#: OpenCL C unsigned type of each storage size: used to move bits and to wrap integer arithmetic.
UTYPE = {1: "uchar", 2: "ushort", 4: "uint", 8: "ulong"}

#: Work-group size of the elementwise kernels. Fixed, because PoCL compiles one work-group
#: function per (kernel, local size): letting the driver pick would recompile for each size.
ELEMENTWISE_WG = 64

#: Elements of a row that one work-item of a strided elementwise kernel handles: the index
#: arithmetic (64-bit divisions, slow on CPUs) is paid once per run, not once per element.
STRIDED_RUN = 32

#: Build statistics, for measuring how many programs a workload compiles.
STATS = {"builds": 0, "build_seconds": 0.0}


class OpenCLError(RuntimeError):
    """A driver error, with the kernel and device it happened on."""


class OutOfMemoryError(OpenCLError):
    """The device could not allocate a buffer."""


def kind(dtype: np.dtype) -> str:
    """'b' bool, 'u' unsigned, 'i' signed, 'f' floating."""
    return "b" if dtype == np.bool_ else dtype.kind


_OOM_CODES = {cl.status_code.MEM_OBJECT_ALLOCATION_FAILURE, cl.status_code.OUT_OF_RESOURCES,
              cl.status_code.OUT_OF_HOST_MEMORY}


@dataclass(eq=False)
class Device:
    """One OpenCL device with its own context and in-order queue."""

    index: int
    cl_device: cl.Device
    context: cl.Context
    queue: cl.CommandQueue
    name: str
    fp64: bool
    fp16: bool
    int64_atomics: bool
    little_endian: bool
    programs: dict = field(default_factory=dict)
    kernels: dict = field(default_factory=dict)
    consts: dict = field(default_factory=dict)
    #: ids of the kernels whose scalar argument types are set (see launch)
    typed: set = field(default_factory=set)
    pool: "BufferPool | None" = None
    max_alloc_bytes: int = 0

    def __repr__(self):
        return f"<opencl:{self.index} {self.name}>"

    # -- programs -------------------------------------------------------------------------
    def kernel(self, family: tuple, name: str, source: Callable[[], str]) -> cl.Kernel:
        """Kernel ``name`` of the program ``family`` (a hashable key such as ("unary",
        "float32")), building the program from ``source()`` on first use."""
        key = (family, name)
        k = self.kernels.get(key)
        if k is None:
            prog = self.programs.get(family)
            if prog is None:
                prog = self._build(family, source(), name)
                self.programs[family] = prog
            k = self.kernels[key] = cl.Kernel(prog, name)
        return k

    def _build(self, family, src: str, name: str) -> cl.Program:
        pre = []
        if self.fp64:
            pre.append("#pragma OPENCL EXTENSION cl_khr_fp64 : enable")
        if self.fp16:
            pre.append("#pragma OPENCL EXTENSION cl_khr_fp16 : enable")
        if self.int64_atomics:
            pre.append("#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable")
        pre.append(f"#define STRIDED_RUN {STRIDED_RUN}")
        full = "\n".join(pre) + "\n" + PRELUDE + src
        t0 = time.perf_counter()
        try:
            prog = cl.Program(self.context, full).build(options=["-cl-mad-enable"])
        except cl.Error as e:
            raise OpenCLError(f"ember: building OpenCL program {family} (for kernel {name}) "
                              f"failed on {self}:\n{e}") from None
        STATS["builds"] += 1
        STATS["build_seconds"] += time.perf_counter() - t0
        return prog

    # -- launches and memory ----------------------------------------------------------------
    def launch(self, kernel: cl.Kernel, gsize, lsize, *args) -> None:
        """Enqueue ``kernel`` (asynchronously); driver errors name the kernel and the device.

        Scalar arguments are NumPy scalars of the kernel's C types at a kernel's first launch
        (later launches may pass Python numbers): that launch fixes the kernel's scalar argument
        types. NOTE: pyopencl's untyped path costs ~14 us per scalar argument (it probes every
        argument kind); typed, the whole launch is under a microsecond."""
        if id(kernel) not in self.typed:
            _set_arg_types(kernel, args)
            self.typed.add(id(kernel))
        try:
            kernel(self.queue, gsize, lsize, *args)
        except cl.Error as e:
            cls = OutOfMemoryError if e.code in _OOM_CODES else OpenCLError
            raise cls(f"ember: OpenCL kernel {kernel.function_name} failed on {self} "
                      f"(global {gsize}, local {lsize}): {e}") from None
        except struct.error as e:
            raise OpenCLError(f"ember: OpenCL kernel {kernel.function_name}: bad scalar "
                              f"argument ({e})") from None

    def alloc(self, nbytes: int):
        """(buffer, lease) of at least ``nbytes``: the buffer goes back to the device's pool
        when the lease (kept by every CLArray on it) is collected."""
        size = self._checked_size(nbytes)
        pool = self.pool
        if pool is None:
            pool = self.pool = BufferPool(self)
        return pool.take(size)

    def raw_alloc(self, size: int) -> cl.Buffer:
        try:
            return cl.Buffer(self.context, cl.mem_flags.READ_WRITE, size)
        except cl.Error as e:
            raise OutOfMemoryError(f"ember: cannot allocate {size} bytes on {self}: {e}"
                                   ) from None

    def empty_cache(self) -> None:
        """Free the pooled buffers (the memory of collected arrays kept for reuse)."""
        if self.pool is not None:
            self.pool.clear()

    def _checked_size(self, nbytes: int) -> int:
        size = max(8, (nbytes + 7) // 8 * 8)
        limit = self.max_alloc
        if size > limit:
            # NOTE: PoCL allocates lazily; without this the error would come at the first launch
            raise OutOfMemoryError(f"ember: cannot allocate {nbytes} bytes on {self}: the "
                                   f"device's largest buffer is {limit} bytes")
        return size

    @property
    def max_alloc(self) -> int:
        if not self.max_alloc_bytes:
            self.max_alloc_bytes = self.cl_device.max_mem_alloc_size
        return self.max_alloc_bytes

    def upload(self, host: np.ndarray) -> cl.Buffer:
        """A new buffer holding a copy of ``host``.

        NOTE: the copy is made when the buffer is created (COPY_HOST_PTR), not enqueued: a
        non-blocking enqueue_copy would have to keep ``host`` alive, and pyopencl waits for it
        (and so for every kernel queued before it) when the temporary is collected."""
        raw = np.asarray(host, order="C").reshape(-1).view(np.uint8)
        size = self._checked_size(raw.nbytes)
        if size != raw.nbytes:
            raw = np.concatenate([raw, np.zeros(size - raw.nbytes, np.uint8)])
        try:
            return cl.Buffer(self.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR,
                             hostbuf=raw)
        except cl.Error as e:
            raise OutOfMemoryError(f"ember: cannot allocate {raw.nbytes} bytes on {self}: {e}"
                                   ) from None

    def const(self, values) -> cl.Buffer:
        """A cached read-only int64 buffer (shapes and strides for kernels): launches with the
        same geometry reuse it instead of uploading again."""
        host = np.asarray(values, dtype=np.int64)
        key = host.tobytes()
        buf = self.consts.get(key)
        if buf is None:
            if len(self.consts) > 4096:
                self.consts.clear()
            buf = self.consts[key] = self.upload(host)
        return buf


def _set_arg_types(kernel: cl.Kernel, args) -> None:
    types = []
    for a in args:
        if isinstance(a, (cl.MemoryObjectHolder, cl.LocalMemory)) or a is None:
            types.append(None)
        elif isinstance(a, np.generic):
            types.append(a.dtype)
        else:
            raise OpenCLError(f"ember: the first launch of OpenCL kernel {kernel.function_name} "
                              f"must pass NumPy scalars, got {type(a).__name__}")
    kernel.set_scalar_arg_dtypes(types)


def size_class(size: int) -> int:
    """The pool's bucket for ``size`` bytes: a power of two up to 64 KiB, then steps of 1/8 of
    the next power of two (at most 12.5% unused)."""
    if size <= 256:
        return 256
    p = 1 << (size - 1).bit_length()
    if p <= 65536:
        return p
    step = p >> 3
    return (size + step - 1) // step * step


class _Lease:
    """Owns one pooled buffer; its collection returns the buffer to the pool. Every CLArray on
    the buffer (views included) holds the lease. Safe with in-order queues: a reused buffer's
    next kernel is enqueued after every kernel that used it before."""

    __slots__ = ("pool", "buffer", "size")

    def __init__(self, pool, buffer, size):
        self.pool, self.buffer, self.size = pool, buffer, size

    def __del__(self):
        try:
            self.pool.give(self.buffer, self.size)
        except Exception:  # NOTE: at interpreter exit the pool may already be gone
            pass


class BufferPool:
    """Freed buffers by size class, per device: PoCL allocates (and page-faults) every new
    buffer at its first use, which costs more than most small kernels."""

    def __init__(self, dev: "Device", limit: int | None = None):
        self.dev = dev
        self.free: dict[int, list] = {}
        self.bytes = 0
        mem = dev.cl_device.global_mem_size
        self.limit = limit if limit is not None else min(mem // 4, 1 << 30)

    def take(self, size: int):
        size = min(size_class(size), max(size, self.dev.max_alloc))
        bucket = self.free.get(size)
        if bucket:
            self.bytes -= size
            buf = bucket.pop()
        else:
            buf = self.dev.raw_alloc(size)
        return buf, _Lease(self, buf, size)

    def give(self, buf, size: int) -> None:
        if self.bytes + size <= self.limit:
            self.free.setdefault(size, []).append(buf)
            self.bytes += size

    def clear(self) -> None:
        self.free.clear()
        self.bytes = 0


#: Helpers every program may use. ember_offset maps a row-major linear index over ``nd`` dims to
#: an element offset: meta holds the shape, then per operand its offset and its strides.
PRELUDE = r"""
inline long ember_offset(long i, int nd, global const long* meta, int op) {
    global const long* st = meta + nd + op * (nd + 1);
    long off = st[0];
    if (nd == 1) return off + i * st[1];
    for (int d = nd - 1; d >= 0; --d) {
        long s = meta[d];
        long q = i / s;
        off += (i - q * s) * st[1 + d];
        i = q;
    }
    return off;
}
// Element offset of (row r, column 0) of operand op: r indexes dims [0, nd - 1) row-major.
inline long ember_row_offset(long r, int nd, global const long* meta, int op) {
    global const long* st = meta + nd + op * (nd + 1);
    long off = st[0];
    for (int d = nd - 2; d >= 0; --d) {
        const long s = meta[d];
        // NOTE: 32-bit division when it fits: several times cheaper than 64-bit on CPUs
        const long q = ((r | s) >> 32) ? r / s : (long)((uint)r / (uint)s);
        off += (r - q * s) * st[1 + d];
        r = q;
    }
    return off;
}
// Stride of operand op along the last dim.
inline long ember_last_stride(int nd, global const long* meta, int op) {
    return meta[nd + op * (nd + 1) + nd];
}
"""

_DEVICES: list[Device] | None = None


def devices() -> list[Device]:
    """All OpenCL devices of all platforms, created on first call. ``EMBER_OPENCL_DEVICE=i``
    moves physical device ``i`` to the front, so that ``opencl:0`` (the default) is that one."""
    global _DEVICES
    if _DEVICES is None:
        found = []
        for platform in cl.get_platforms():
            try:
                found.extend(d for d in platform.get_devices() if _compiles(d))
            except cl.Error:
                continue  # a platform without devices of its own
        choice = os.environ.get("EMBER_OPENCL_DEVICE")
        if choice:
            i = int(choice)
            if not 0 <= i < len(found):
                raise OpenCLError(f"ember: EMBER_OPENCL_DEVICE={choice} but only {len(found)} "
                                  "OpenCL devices exist")
            found.insert(0, found.pop(i))
        _DEVICES = [_make_device(i, d) for i, d in enumerate(found)]
    return _DEVICES


def _compiles(d: cl.Device) -> bool:
    """Whether the device's OpenCL C compiler builds a trivial kernel. A driver can list a
    device it cannot compile for (PoCL built with an LLVM older than the host CPU passes
    ``-target-cpu generic``, which clang refuses): such a device is left out with a warning,
    so that ``opencl:0`` is one that works."""
    try:
        cl.Program(cl.Context([d]), _PROBE_KERNEL).build()
    except cl.Error as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        reason = next((ln for ln in lines if ln.startswith("error:")),
                      lines[0] if lines else type(e).__name__)
        warnings.warn(f"ember: OpenCL device {d.name.strip()!r} ({d.platform.version.strip()}) "
                      f"is left out: it cannot build a trivial kernel ({reason})",
                      RuntimeWarning, stacklevel=2)
        return False
    return True


_PROBE_KERNEL = "__kernel void ember_probe(__global float* a) { a[get_global_id(0)] += 1.0f; }"


def _make_device(index: int, d: cl.Device) -> Device:
    ctx = cl.Context([d])
    ext = d.extensions.split()
    return Device(index=index, cl_device=d, context=ctx, queue=cl.CommandQueue(ctx),
                  name=f"{d.name.strip()} ({d.platform.name.strip()})",
                  fp64="cl_khr_fp64" in ext, fp16="cl_khr_fp16" in ext,
                  int64_atomics="cl_khr_int64_base_atomics" in ext,
                  little_endian=bool(d.endian_little))


def device(index: int) -> Device:
    devs = devices()
    if not 0 <= index < len(devs):
        raise OpenCLError(f"ember: no OpenCL device {index}; {len(devs)} available: "
                          + ", ".join(f"opencl:{x.index} {x.name}" for x in devs))
    return devs[index]
