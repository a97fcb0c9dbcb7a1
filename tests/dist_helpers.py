"""Shared by the distribution tests (test_distributions.py, test_distributions_more.py)."""
import warnings

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
