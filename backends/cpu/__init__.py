"""The cpu backend: NumPy arrays are the buffers; kernels are NumPy callables."""
from ...plugins.api import Backend, BackendSpec
from ...plugins.hookspecs import hookimpl


class CpuBackend(Backend):
    def __init__(self):
        import numpy as np
        from .kernels import make_kernels, rng_kernels, linalg_kernels, CpuGenerator
        kernels = make_kernels(np)
        kernels.update(rng_kernels())
        kernels.update(linalg_kernels(np))
        super().__init__("cpu", kernels,
                         ["bool", "uint8", "int8", "int16", "int32", "int64", "float16",
                          "bfloat16", "float32", "float64"], version=f"numpy {np.__version__}")
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


def _load():
    import numpy as np
    # NOTE: torch computes IEEE results (inf, nan) silently; so do we, instead of NumPy's
    # floating-point warnings on every overflow or 0/0.
    np.seterr(all="ignore")
    return CpuBackend()


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="cpu", load=_load, description="NumPy on the host")]
