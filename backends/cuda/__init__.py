"""The CUDA backend plugin: registers ``cuda`` without importing cupy (loaded lazily).

``import ember`` never imports cupy; the first use of a ``cuda`` device does, through ``_load``.
When cupy is missing or no GPU is visible, the registry records why and shows it whenever
``cuda`` is asked for::

    >>> ember.cuda.is_available()        # on a machine without a GPU
    False
"""
from ember.plugins.api import BackendSpec
from ember.plugins.hookspecs import hookimpl


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="cuda", load=_load,
                        description="NVIDIA GPUs through CuPy (cuBLAS, cuRAND, NVRTC kernels)")]


def _load():
    try:
        import cupy
    except ImportError as e:
        raise ImportError(f"cupy is not installed (pip install 'ember[cuda]'): {e}") from e
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, driver too old, no device ...
        raise RuntimeError(f"no CUDA driver/GPU: {type(e).__name__}: {e}") from e
    if n < 1:
        raise RuntimeError("no CUDA driver/GPU: cupy sees 0 devices")
    from .backend import CudaBackend
    return CudaBackend(n)
