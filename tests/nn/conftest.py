import pytest

torch = pytest.importorskip("torch", reason="ember.nn's tests compare against PyTorch")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
