"""ember.cuda: torch.cuda's module-level functions, answered by the cuda backend plugin."""
from __future__ import annotations


def _backend():
    from ..plugins import registry
    return registry.backend("cuda")


def is_available() -> bool:
    """True when the cuda plugin loads (cupy imports and a GPU is visible)."""
    from ..plugins import registry
    return "cuda" in registry.available()


def device_count() -> int:
    return _backend().device_count() if is_available() else 0


def current_device() -> int:
    return int(getattr(_backend(), "default_index", 0))


def set_device(index) -> None:
    b = _backend()
    b.default_index = int(getattr(index, "index", index) or 0)


def get_device_name(index=None) -> str:
    """The GPU's name, as torch prints it (without the ``cuda:N`` prefix)."""
    name = _backend().device_names()[getattr(index, "index", index) or 0]
    prefix, _, rest = name.partition(" ")
    return rest if prefix.startswith("cuda:") and rest else name


def synchronize(device=None) -> None:
    if is_available():
        _backend().synchronize(getattr(device, "index", device))


def manual_seed(seed) -> None:
    manual_seed_all(seed)


def manual_seed_all(seed) -> None:
    """Seed the default generator of every cuda device (as ember.manual_seed does for all)."""
    if not is_available():
        return
    from ..core.ops.creation import default_generator
    from ..core.device import device
    for i in range(device_count()):
        default_generator(device("cuda", i)).manual_seed(seed)


def memory_allocated(device=None) -> int:
    return _backend().memory_allocated(getattr(device, "index", device)) if is_available() else 0


def max_memory_allocated(device=None) -> int:
    return _backend().max_memory_allocated(getattr(device, "index", device)) \
        if is_available() else 0


def reset_peak_memory_stats(device=None) -> None:
    if is_available():
        _backend().reset_peak_memory_stats(getattr(device, "index", device))


def empty_cache() -> None:
    if is_available():
        _backend().empty_cache()


def is_bf16_supported() -> bool:
    return is_available()
