"""``ember.autograd.profiler``: torch.autograd.profiler's API (``profile``, ``record_function``,
``emit_nvtx``) over Ember's recorder (see ``_recorder`` for what is recorded and how).

>>> import ember
>>> with ember.autograd.profiler.profile(record_shapes=True) as prof:
...     y = ember.ones(2, 3) + 1
>>> [e.key for e in prof.key_averages()]
['aten::ones', 'aten::add']
"""
from __future__ import annotations

import functools

from . import _events, _recorder
from ._events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401

__all__ = ["profile", "record_function", "emit_nvtx", "EventList", "FunctionEvent",
           "FunctionEventAvg", "kineto_available"]


def kineto_available() -> bool:
    """False: Ember's profiler records in Python (there is no Kineto library behind it)."""
    return False


class profile:
    """Context manager that records the ops run inside it (torch.autograd.profiler.profile).

    ``use_cuda=True`` or ``use_device="opencl"`` adds device times: each outermost op on an
    accelerator is followed by a synchronize of its device (see ``ember.profiler``).
    ``use_kineto``, ``use_cpu``, ``experimental_config`` and the trace-id options are accepted
    for compatibility and change nothing.
    """

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None, post_processing_timeout_s=None,
                 activity_filters=None):
        self.enabled = enabled
        if use_cuda and use_device is None:
            use_device = "cuda"
        self.use_device = use_device
        self.record_shapes = record_shapes
        self.with_flops = with_flops
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.function_events: EventList | None = None
        self._session = None
        self._old_events: list = []
        self.entered = False

    # ---- recording -------------------------------------------------------------------------
    def __enter__(self):
        if self.enabled:
            self._start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self._stop()
        return False

    def _start(self):
        if self.entered:
            raise RuntimeError("profiler context manager is not reentrant")
        session = _recorder.Session(
            record_shapes=self.record_shapes, profile_memory=self.profile_memory,
            with_stack=self.with_stack, with_flops=self.with_flops,
            sync_devices=self.use_device not in (None, "cpu"))
        _recorder.install(session, with_modules=self.with_modules)
        self._session = session
        self.entered = True

    def _stop(self):
        if self._session is None:
            return
        session, self._session = self._session, None
        session.finish()
        _recorder.uninstall()
        self.entered = False
        device = self.use_device if self.use_device not in (None, "cpu") else None
        if device is None and session.devices:
            device = sorted(session.devices)[0]
        events = _events.build_events(session, use_device=device,
                                      profile_memory=self.profile_memory,
                                      with_flops=self.with_flops)
        if self.acc_events and self.function_events is not None:
            merged = EventList(list(self.function_events) + list(events), use_device=device,
                               profile_memory=self.profile_memory,
                               with_flops=self.with_flops)
            merged._wall_start_us = getattr(self.function_events, "_wall_start_us", 0.0)
            events = merged
        self.function_events = events

    # ---- results ---------------------------------------------------------------------------
    def _check_finish(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def events(self) -> EventList:
        self._check_finish()
        return self.function_events

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        self._check_finish()
        return self.function_events.table(
            sort_by=sort_by, row_limit=row_limit, max_src_column_width=max_src_column_width,
            max_name_column_width=max_name_column_width,
            max_shapes_column_width=max_shapes_column_width, header=header,
            top_level_events_only=top_level_events_only, time_unit=time_unit)

    table.__doc__ = EventList.table.__doc__

    def export_chrome_trace(self, path: str) -> None:
        self._check_finish()
        self.function_events.export_chrome_trace(path)

    export_chrome_trace.__doc__ = EventList.export_chrome_trace.__doc__

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        self._check_finish()
        if not self.with_stack:
            raise RuntimeError("export_stacks() needs the profiler to run with_stack=True")
        self.function_events.export_stacks(path, metric)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One entry per op name (and input shapes, with ``group_by_input_shape``)."""
        self._check_finish()
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n,
                                                 group_by_overload_name)

    def total_average(self):
        self._check_finish()
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self) -> float:
        """The sum of every event's self CPU time, in us."""
        self._check_finish()
        return self.function_events.self_cpu_time_total

    def __str__(self):
        return self.table() if self.function_events is not None else "<unfinished profile>"


class record_function:
    """Mark a range of code: it becomes an event of its own, and the ops run inside it are
    nested under it. A context manager and a decorator; free when no profiler records.

    >>> import ember
    >>> with ember.profiler.profile() as prof:
    ...     with ember.profiler.record_function("my_block"):
    ...         y = ember.ones(3) * 2
    >>> [e.name for e in prof.events()]
    ['my_block', 'aten::ones', 'aten::mul']
    """

    def __init__(self, name: str, args: str | None = None):
        self.name = name
        self.args = args
        self._rec = None
        self._session = None

    def __enter__(self):
        s = _recorder._active
        if s is not None:
            self._session = s
            self._rec = s.open(self.name, _recorder.ANNOTATION)
        return self

    def __exit__(self, *exc):
        rec, s = self._rec, self._session
        if rec is not None:
            self._rec = self._session = None
            if not isinstance(rec, _recorder._Rec) or rec.end == 0:  # (not closed at stop)
                s.close(rec)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def recorded(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return recorded


class _NvtxSession(_recorder.Session):
    """A 'recording' that only pushes an NVTX range around each call (for Nsight Systems)."""

    def __init__(self, nvtx, record_shapes):
        super().__init__(record_shapes=record_shapes)
        self._nvtx = nvtx

    def call(self, name, kind, fn, args, kwargs, shape_args=None):
        label = name
        if self.record_shapes:
            label += f", sizes = {_recorder._shapes(args if shape_args is None else shape_args)}"
        self._nvtx.RangePush(label)
        try:
            return fn(*args, **kwargs)
        finally:
            self._nvtx.RangePop()

    def open(self, name, kind, shape_args=None):
        self._nvtx.RangePush(name)
        return name

    def close(self, rec, args=(), out=None, end=None):
        self._nvtx.RangePop()

    def finish(self):
        pass


class emit_nvtx:
    """Push an NVTX range around every op run inside it, for Nsight Systems / nvprof (no
    timing in Ember itself). As torch's, it needs CUDA: entering it (enabled) without the cuda
    backend raises; ``enabled=False`` makes it a no-op."""

    def __init__(self, enabled=True, record_shapes=False):
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.entered = False

    def __enter__(self):
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("NVTX annotation context manager is not reentrant")
        from ...backends import cuda_api
        if not cuda_api.is_available():
            raise AssertionError("emit_nvtx needs CUDA, and the ember cuda backend is not "
                                 "available (ember.cuda.is_available() is False)")
        import cupy
        cuda_api.synchronize()
        _recorder.install(_NvtxSession(cupy.cuda.nvtx, self.record_shapes))
        self.entered = True
        return self

    def __exit__(self, *exc):
        if not self.enabled or not self.entered:
            return False
        from ...backends import cuda_api
        cuda_api.synchronize()
        _recorder.uninstall()
        self.entered = False
        return False
