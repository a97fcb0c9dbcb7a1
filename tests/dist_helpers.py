"""Shared by the distribution tests (test_distributions.py, test_distributions_more.py,
test_distributions_extra.py)."""
import warnings

import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def quiet_fallback():
    """Imported by a test module, for every test in it: linalg decompositions run on cpu for
    backends without them, and that warning is expected."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*has no .* kernel; running it on cpu")
        yield


def dtype_or_skip(device, dtype):
    if dtype not in ember.backends.capabilities(device)["dtypes"]:
        pytest.skip(f"{device} has no {dtype}")
    return dtype


class Maker:
    """Builds the same tensors for ember and torch (``lib``); float parameters become grad
    leaves, remembered so that gradients can be compared pairwise."""

    def __init__(self, lib, dtype, device=None, grad=False):
        self.lib, self.grad, self.leaves = lib, grad, []
        self.opts = dict(dtype=getattr(lib, dtype))
        if device is not None:
            self.opts["device"] = device

    def __call__(self, data):
        """A parameter (a leaf when gradients are wanted)."""
        x = self.lib.tensor(np.asarray(data, dtype=np.float64), **self.opts)
        if self.grad:
            x.requires_grad_()
            self.leaves.append(x)
        return x

    def value(self, data):
        """A point to evaluate at (no gradient)."""
        return self.lib.tensor(np.asarray(data, dtype=np.float64), **self.opts)

    def long(self, data):
        opts = {k: v for k, v in self.opts.items() if k != "dtype"}
        return self.lib.tensor(np.asarray(data, dtype=np.int64), dtype=self.lib.int64, **opts)
