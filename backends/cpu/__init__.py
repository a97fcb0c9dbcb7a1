"""The cpu backend: NumPy arrays are the buffers; kernels are NumPy callables."""
from ...plugins.api import Backend, BackendSpec
from ...plugins.hookspecs import hookimpl


class CpuBackend(Backend):
    def __init__(self):
        import numpy as np
        from .conv import conv_kernels
        from .kernels import make_kernels, rng_kernels, linalg_kernels, CpuGenerator
        kernels = make_kernels(np)
        kernels.update(rng_kernels())
        kernels.update(linalg_kernels(np))
        kernels.update(conv_kernels())
        super().__init__("cpu", kernels,
                         ["bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                          "bfloat16", "float32", "float64", "complex64", "complex128"],
                         version=f"numpy {np.__version__}")
        self._np = np
        self._generator = CpuGenerator

    def device_names(self):
        return ["cpu"]

    def from_numpy(self, array, index=None):
        return self._np.ascontiguousarray(array) if array.ndim else self._np.array(array)

    def to_numpy(self, x):
        return x

    def generator(self, index, seed):
        return self._generator(seed)


def _pin_malloc_thresholds():
    """Fix glibc malloc's mmap and trim thresholds at the values its own dynamic rule reaches
    after one large free (32 MB and 64 MB)."""
    # NOTE: NumPy's buffers come from malloc, which maps blocks above a threshold freshly and
    # returns its heap top to the OS above twice that; the threshold starts at 128 KB and moves
    # with the allocation history (importing pyopencl moves it). A training step then pays a page
    # fault per 4 KB of many of its activations, every step: 1326 faults, and 9.0 ms instead of
    # 5.2 ms, per LeNet benchmark step. Elsewhere (macOS, Windows, musl) there is no mallopt,
    # or it does nothing.
    import ctypes
    import os
    import sys
    if not sys.platform.startswith("linux") or os.environ.get("EMBER_MALLOC_TUNING") == "0":
        return
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        m_trim_threshold, m_mmap_threshold = -1, -3
        mallopt(m_mmap_threshold, 32 << 20)
        mallopt(m_trim_threshold, 64 << 20)


def _load():
    import numpy as np
    # NOTE: torch computes IEEE results (inf, nan) silently; so do we, instead of NumPy's
    # floating-point warnings on every overflow or 0/0.
    np.seterr(all="ignore")
    _pin_malloc_thresholds()
    return CpuBackend()


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="cpu", load=_load, description="NumPy on the host")]
