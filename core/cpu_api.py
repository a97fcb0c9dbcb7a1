"""``ember.cpu``: torch.cpu's few functions (the host needs no device management) and the
deprecated ``ember.cpu.amp`` spellings."""
from . import amp as _amp

amp = _amp.device_module("cpu")


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """Nothing to wait for: cpu kernels finish before they return."""
