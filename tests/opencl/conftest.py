"""Fixtures of the OpenCL kernel tests: the backend, loaded once per session."""
import importlib.util
import os
import sys
import tempfile

import pytest

if importlib.util.find_spec("ember") is None:
    # NOTE: before `pip install -e .` the repository is not importable as `ember` (the root is
    # the package); make it so through a symlink outside the checkout.
    _root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    _tmp = tempfile.mkdtemp(prefix="ember-path-")
    os.symlink(_root, os.path.join(_tmp, "ember"))
    sys.path.insert(0, _tmp)

pytest.importorskip("pyopencl", reason="pyopencl is not installed")


@pytest.fixture(scope="session")
def backend():
    from ember.backends.opencl.backend import OpenCLBackend
    from ember.backends.opencl.runtime import devices
    if not devices():
        pytest.skip("no OpenCL device (pip install pocl-binary-distribution for a CPU one)")
    return OpenCLBackend()


def pytest_terminal_summary(terminalreporter):
    """Report how many OpenCL programs the run compiled, and how long that took: PoCL compiles
    slowly, so this is the suite's startup cost on a fresh machine."""
    import sys
    runtime = sys.modules.get("ember.backends.opencl.runtime")
    if runtime is not None and runtime.STATS["builds"]:
        terminalreporter.write_line(
            f"opencl: {runtime.STATS['builds']} programs built in "
            f"{runtime.STATS['build_seconds']:.1f} s")
