"""The OpenCL backend plugin: registers ``opencl`` without importing pyopencl (loaded lazily)."""
from ember.plugins.api import BackendSpec
from ember.plugins.hookspecs import hookimpl


@hookimpl
def ember_register_backends():
    return [BackendSpec(name="opencl", load=_load,
                        description="OpenCL (PyOpenCL), any OpenCL 1.2 device")]


def _load():
    from .backend import OpenCLBackend
    return OpenCLBackend()
