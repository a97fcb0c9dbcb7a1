"""The plugin contract: hookspecs, the backend API, discovery, and the conformance suite."""
from .api import PLUGIN_API_VERSION, PRIMITIVES, Backend, BackendSpec, KernelSpec
from .hookspecs import hookimpl, hookspec

__all__ = ["PLUGIN_API_VERSION", "PRIMITIVES", "Backend", "BackendSpec", "KernelSpec",
           "hookimpl", "hookspec"]
