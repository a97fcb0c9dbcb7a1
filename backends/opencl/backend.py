"""OpenCLBackend: the kernel table of the OpenCL backend, and its devices.

The table below is the whole backend as data: primitive name -> function on CLArrays. The
functions live with their kernels' sources (elementwise, reduce, sort, indexing, matmul, random).
"""
from __future__ import annotations

import numpy as np
import pyopencl as cl

from ember.plugins.api import (BINARY_ARITH, BINARY_BITWISE, BINARY_COMPARE, BINARY_LOGICAL,
                               PRIMITIVES, UNARY_BITWISE, UNARY_FLOAT, UNARY_PREDICATE,
                               UNARY_SAME, Backend)

from . import array as ar
from . import elementwise as ew
from . import fusion, indexing, matmul, random, reduce, sort
from .array import CLArray
from .runtime import OpenCLError, device, devices


def _empty(shape, dtype, index) -> CLArray:
    return ar.empty(shape, ew.np_dtype(dtype), index)


KERNELS = {
    **{n: ew.unary_kernel(n) for n in UNARY_FLOAT + UNARY_SAME + UNARY_PREDICATE + UNARY_BITWISE},
    **{n: ew.binary_kernel(n)
       for n in BINARY_ARITH + BINARY_COMPARE + BINARY_LOGICAL + BINARY_BITWISE},
    "where": ew.where,
    "cast": ew.cast,
    "contiguous": ew.contiguous,
    "sum": reduce.reduction("sum"),
    "prod": reduce.reduction("prod"),
    "amax": reduce.reduction("amax"),
    "amin": reduce.reduction("amin"),
    "argmax": reduce.arg_reduction("argmax"),
    "argmin": reduce.arg_reduction("argmin"),
    "cumsum": reduce.scan("cumsum"),
    "cumprod": reduce.scan("cumprod"),
    "sort": sort.sort,
    "matmul": matmul.matmul,
    "view": ar.view,
    "permute": ar.permute,
    "expand": ar.expand,
    "getitem_basic": ar.getitem_basic,
    "as_strided": ar.as_strided,
    "strides": ar.strides,
    "is_contiguous": ar.CLArray.is_contiguous,
    "byte_address": lambda x: x.offset * x.itemsize,
    "getitem_advanced": indexing.getitem_advanced,
    "setitem": indexing.setitem,
    "index_add": indexing.index_add,
    "gather": indexing.gather,
    "scatter": indexing.scatter,
    "scatter_add": indexing.scatter_add,
    "scatter_reduce": indexing.scatter_reduce,
    "nonzero": reduce.nonzero,
    "cat": indexing.cat,
    "flip": indexing.flip,
    "empty": _empty,
    "full": ew.full,
    "arange": ew.arange,
    "rand_uniform": random.rand_uniform,
    "rand_normal": random.rand_normal,
    "rand_int": random.rand_int,
    "fused_elementwise": fusion.fused_elementwise,
}
_missing = set(PRIMITIVES) - set(KERNELS)
assert not _missing, f"opencl backend lacks kernels for {sorted(_missing)}"


class OpenCLBackend(Backend):
    """Every OpenCL device of every platform, as ``opencl:0`` .. ``opencl:N-1``."""

    def __init__(self):
        devs = devices()
        if not devs:
            raise OpenCLError("ember: no OpenCL device found (pyopencl sees no platform with "
                              "devices; for a CPU device: pip install pocl-binary-distribution)")
        # NOTE: one dtype set for the backend: what every device supports
        names = set(ew.claimed_dtypes(devs[0]))
        for d in devs[1:]:
            names &= set(ew.claimed_dtypes(d))
        super().__init__("opencl", KERNELS, names, version=f"pyopencl {cl.VERSION_TEXT}")

    def device_count(self) -> int:
        return len(devices())

    def device_names(self) -> list[str]:
        return [f"opencl:{d.index} {d.name}" for d in devices()]

    def from_numpy(self, array, index: int) -> CLArray:
        array = np.asarray(array)
        if array.dtype.name not in self.dtypes:
            raise TypeError(f"opencl: dtype {array.dtype} is not supported on "
                            f"{device(index)} (supported: {sorted(self.dtypes)})")
        return ew.from_host(array, device(index))

    def to_numpy(self, x: CLArray) -> np.ndarray:
        return ew.to_host(x)

    def generator(self, index: int, seed: int) -> random.Generator:
        device(index)  # NOTE: a bad index fails here, not at the first draw
        return random.Generator(index, seed)

    def synchronize(self, index: int | None = None) -> None:
        for d in devices() if index is None else [device(index)]:
            d.queue.finish()
