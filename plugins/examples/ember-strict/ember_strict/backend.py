"""The strict backend: the cpu backend's NumPy kernels, each call checked against the contract.

Use it to debug a model (``model.to("strict")``: the first kernel that returns a wrong dtype or
shape, a NaN from finite inputs, or an array aliasing its input raises, naming the kernel) or as
the template of a new backend: replace the kernel table and the array conversions, keep the rest.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

from ember.plugins import Backend
from ember.plugins.api import BINARY_ARITH

from . import __version__
from .checks import checked

_BF16 = np.dtype(ml_dtypes.bfloat16)

#: Every dtype the cpu kernels compute in; the contract checks apply to each of them.
DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32",
          "float64")


def repair(kernels: dict) -> dict:
    """Kernels of the cpu table that break the contract, replaced by fixed ones.

    The strict backend found these (each would raise ContractViolation); until the cpu table is
    fixed, this backend carries its own kernels, as any backend may.
    """
    def keep_dtype(f):
        # NOTE: ml_dtypes' bfloat16 does not take part in NumPy's weak-scalar promotion:
        # bfloat16 array + 2.5 is float32 (and where(c, bf16, 0.5) float64). Compute in that
        # wider dtype and round once to the compute dtype, as torch does for a scalar operand.
        def k(*args):
            out = f(*args)
            dt = next(a.dtype for a in args[-2:] if isinstance(a, np.ndarray))
            return out if out.dtype == dt else out.astype(dt)
        return k

    fixed = {op: keep_dtype(kernels[op]) for op in BINARY_ARITH + ("where",)}
    uniform = kernels["rand_uniform"]

    def rand_uniform(gen, shape, dtype):
        # NOTE: a float32 draw rounded to float16/bfloat16 can round up to 1.0, outside [0, 1).
        # Draw on the grid the narrow dtype represents exactly below 1, as torch does:
        # k * 2**-digits with k uniform in [0, 2**digits).
        digits = {np.dtype(np.float16): 11, _BF16: 8}.get(dtype.np)
        if digits is None:
            return uniform(gen, shape, dtype)
        # one 32-bit draw per value, as the cpu generator's own kernels consume its stream
        k = (gen.random32(int(np.prod(shape))) & np.uint64((1 << digits) - 1)).reshape(shape)
        return (k * (1.0 / (1 << digits))).astype(dtype.np)

    fixed["rand_uniform"] = rand_uniform
    return fixed


class CheckedKernels(dict):
    """The kernel table. Every kernel stored in it is wrapped in the contract checks, including
    the ones other plugins add later through ``ember_register_kernels`` (fused ops)."""

    def __init__(self, kernels):
        super().__init__()
        for op, kernel in kernels.items():
            self[op] = kernel

    def __setitem__(self, op, kernel):
        super().__setitem__(op, checked(op, kernel))

    def update(self, *args, **kwargs):
        for op, kernel in dict(*args, **kwargs).items():
            self[op] = kernel


class StrictBackend(Backend):
    """NumPy arrays on the host; one device, ``strict:0``."""

    def __init__(self):
        # The reference kernels; a backend of your own builds its table here instead.
        from ember.backends.cpu.kernels import (CpuGenerator, linalg_kernels, make_kernels,
                                                rng_kernels)
        kernels = make_kernels(np)
        kernels.update(rng_kernels())
        kernels.update(linalg_kernels(np))
        kernels.update(repair(kernels))
        super().__init__("strict", {}, DTYPES,
                         version=f"ember-strict {__version__} (numpy {np.__version__})")
        self.kernels = CheckedKernels(kernels)
        self._generator = CpuGenerator

    def from_numpy(self, array, index: int = 0) -> np.ndarray:
        # NOTE: always copy: a tensor moved to this device must not alias the host array.
        if not isinstance(array, np.ndarray):
            raise TypeError(f"strict.from_numpy expects a numpy.ndarray, got "
                            f"{type(array).__name__}")
        if array.dtype.name not in self.dtypes:
            raise TypeError(f"the strict backend does not claim dtype {array.dtype}")
        return np.array(array, order="C", copy=True)

    def to_numpy(self, x: np.ndarray) -> np.ndarray:
        return np.array(x, copy=True)

    def index_of(self, x) -> int:
        return 0

    def generator(self, index: int, seed: int):
        return self._generator(seed)
