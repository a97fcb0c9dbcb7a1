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


def _idx(device):
    if isinstance(device, str):
        from ..core.device import device as _device
        device = _device(device)
    return getattr(device, "index", device)


class _CudaDeviceProperties:
    """What get_device_properties returns (torch's _CudaDeviceProperties fields Ember knows)."""

    __slots__ = ("name", "major", "minor", "total_memory", "multi_processor_count")

    def __init__(self, name, major, minor, total_memory, multi_processor_count):
        self.name, self.major, self.minor = name, major, minor
        self.total_memory, self.multi_processor_count = total_memory, multi_processor_count

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, "
                f"minor={self.minor}, total_memory={self.total_memory // 2 ** 20}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None) -> _CudaDeviceProperties:
    return _CudaDeviceProperties(**_backend().device_properties(_idx(device)))


def get_device_capability(device=None) -> tuple[int, int]:
    p = get_device_properties(device)
    return p.major, p.minor


def mem_get_info(device=None) -> tuple[int, int]:
    """(free, total) bytes of the GPU's memory."""
    return _backend().mem_get_info(_idx(device))


class Event:
    """A CUDA event: ``record()`` it on a stream, then ``synchronize()``, ``query()``, or
    ``elapsed_time(end)`` in milliseconds (with ``enable_timing=True``), as torch.cuda.Event.

    >>> start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    >>> start.record(); y = x @ x; end.record(); end.synchronize()   # doctest: +SKIP
    >>> start.elapsed_time(end)                                      # doctest: +SKIP
    """

    def __init__(self, enable_timing=False, blocking=False, interprocess=False):
        self._native = _backend().new_event(enable_timing, blocking, interprocess)
        self._timing = enable_timing

    def record(self, stream=None):
        self._native.record(stream._native if stream is not None else None)

    def wait(self, stream=None):
        (stream or current_stream()).wait_event(self)

    def query(self) -> bool:
        return bool(self._native.done)

    def synchronize(self) -> None:
        self._native.synchronize()

    def elapsed_time(self, end_event) -> float:
        if not (self._timing and end_event._timing):
            raise RuntimeError("Both events must be created with argument 'enable_timing=True'.")
        return _backend().elapsed_ms(self._native, end_event._native)


class Stream:
    """A CUDA stream: the queue kernels launch on. Inside ``with ember.cuda.stream(s):`` Ember's
    cuda ops queue on ``s``."""

    def __init__(self, device=None, priority=0, *, _native=None):
        self._native = (_native if _native is not None else
                        _backend().new_stream(_idx(device), priority))

    def synchronize(self) -> None:
        self._native.synchronize()

    def query(self) -> bool:
        return bool(self._native.done)

    def wait_event(self, event) -> None:
        self._native.wait_event(event._native)

    def wait_stream(self, stream) -> None:
        self.wait_event(stream.record_event())

    def record_event(self, event=None):
        event = event or Event()
        event.record(self)
        return event

    def __eq__(self, other):
        return isinstance(other, Stream) and self._native.ptr == other._native.ptr

    def __hash__(self):
        return hash(self._native.ptr)

    def __enter__(self):
        self._native.__enter__()
        return self

    def __exit__(self, *exc):
        return self._native.__exit__(*exc)


def current_stream(device=None) -> Stream:
    return Stream(_native=_backend().current_stream(_idx(device)))


def default_stream(device=None) -> Stream:
    return Stream(_native=_backend().default_stream(_idx(device)))


class stream:
    """Context manager: Ember's cuda ops inside it queue on ``stream`` (None: no change)."""

    def __init__(self, stream):
        self.stream = stream

    def __enter__(self):
        if self.stream is not None:
            self.stream.__enter__()
        return self.stream

    def __exit__(self, *exc):
        if self.stream is not None:
            self.stream.__exit__(*exc)
        return False


StreamContext = stream
