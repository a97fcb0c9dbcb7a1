"""The tracer backend: the cpu kernel table, each kernel counting its calls."""
from __future__ import annotations

import numpy as np

from ember.plugins import Backend

from . import __version__


class CountingKernels(dict):
    """Kernel table whose every entry (also ones added later by plugins) counts its calls."""

    def __init__(self, kernels, counts):
        super().__init__()
        self._counts = counts
        for op, kernel in kernels.items():
            self[op] = kernel

    def __setitem__(self, op, kernel):
        counts = self._counts

        def counted(*args, **kwargs):
            counts[op] += 1
            return kernel(*args, **kwargs)

        counted.__name__ = f"ember_tracer_{op}"
        counted.__wrapped__ = kernel
        super().__setitem__(op, counted)


class TracerBackend(Backend):
    def __init__(self, counts):
        from ember.backends.cpu.kernels import CpuGenerator, make_kernels, rng_kernels
        np.seterr(all="ignore")
        kernels = make_kernels(np)
        kernels.update(rng_kernels())
        super().__init__("tracer", {}, ["bool", "uint8", "int8", "int16", "int32", "int64",
                                        "float16", "bfloat16", "float32", "float64"],
                         version=f"ember-tracer {__version__} (numpy {np.__version__})")
        self.kernels = CountingKernels(kernels, counts)
        self._generator = CpuGenerator

    def from_numpy(self, array, index=0):
        return np.array(array, order="C", copy=True)

    def to_numpy(self, x):
        return np.array(x, copy=True)

    def generator(self, index, seed):
        return self._generator(seed)
