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


# ---- torch.backends.cuda's switches, which training scripts set (ember.backends.cuda) ----

class _Matmul:
    """``ember.backends.cuda.matmul``: ``allow_tf32`` is another spelling of
    ``set_float32_matmul_precision`` ("high" when True), as torch's."""

    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self):
        from ember.core import amp
        return amp.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, value):
        from ember.core import amp
        amp.set_float32_matmul_precision("high" if value else "highest")


matmul = _Matmul()
_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def is_built() -> bool:
    """Whether this backend can run at all here: CuPy is installed."""
    import importlib.util
    return importlib.util.find_spec("cupy") is not None


def preferred_linalg_library(backend=None):
    return "default"


def preferred_blas_library(backend=None):
    return "cublas"


def _sdp_switch(kind):
    """``<kind>_sdp_enabled()`` and ``enable_<kind>_sdp(enabled)``, as torch.backends.cuda's."""
    def enabled() -> bool:
        return _sdp[kind]

    def enable(enabled: bool) -> None:
        _sdp[kind] = bool(enabled)
    return enabled, enable


flash_sdp_enabled, enable_flash_sdp = _sdp_switch("flash")
mem_efficient_sdp_enabled, enable_mem_efficient_sdp = _sdp_switch("mem_efficient")
math_sdp_enabled, enable_math_sdp = _sdp_switch("math")
cudnn_sdp_enabled, enable_cudnn_sdp = _sdp_switch("cudnn")


class sdp_kernel:
    """Context manager (deprecated in torch): which attention kernels may run. Ember's
    scaled_dot_product_attention has one implementation; the switches are kept and restored."""

    def __init__(self, enable_flash=True, enable_math=True, enable_mem_efficient=True,
                 enable_cudnn=True):
        self._want = {"flash": enable_flash, "math": enable_math,
                      "mem_efficient": enable_mem_efficient, "cudnn": enable_cudnn}

    def __enter__(self):
        self._saved = dict(_sdp)
        _sdp.update({k: bool(v) for k, v in self._want.items()})
        return self

    def __exit__(self, *exc):
        _sdp.update(self._saved)
        return False
