"""``ember.profiler.profile``, its schedule and trace handlers (torch.profiler's API)."""
from __future__ import annotations

import enum
import os
import socket
import time
import warnings
from typing import Callable, Iterable

from . import autograd_profiler
from .autograd_profiler import record_function  # noqa: F401


class ProfilerActivity(enum.Enum):
    """What a profile records. CPU: the ops, as host time (always recorded). Any device
    activity (CUDA, PrivateUse1/OPENCL for Ember's opencl backend and plugins, the others for
    torch compatibility) adds device times, taken by synchronizing the accelerator after each
    outermost op that used it."""

    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5
    OPENCL = 6


class ProfilerAction(enum.Enum):
    """What the profiler does at a step, as a schedule returns it."""

    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


class _ScheduleError(ValueError, AssertionError):
    """Bad schedule arguments (an AssertionError too, as torch raises)."""


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0) -> Callable[[int], ProfilerAction]:
    """The profiler's action at each step: after ``skip_first`` steps, cycles of ``wait``
    idle steps, ``warmup`` steps, ``active`` recorded steps (the last one RECORD_AND_SAVE, at
    whose end ``on_trace_ready`` is called); ``repeat`` cycles (0: no limit).
    ``skip_first_wait=1`` leaves out the first cycle's wait.

    >>> s = schedule(wait=1, warmup=1, active=2)
    >>> [s(i).name for i in range(5)]
    ['NONE', 'WARMUP', 'RECORD', 'RECORD_AND_SAVE', 'NONE']
    """
    if not (wait >= 0 and warmup >= 0 and active > 0 and repeat >= 0 and skip_first >= 0):
        raise _ScheduleError(f"Invalid profiler schedule arguments: wait={wait}, "
                             f"warmup={warmup}, active={active} (must be > 0), "
                             f"repeat={repeat}, skip_first={skip_first} (the others >= 0)")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results")
    cycle = wait + warmup + active

    def action(step: int) -> ProfilerAction:
        if step < 0:
            raise _ScheduleError(f"profiler step must be >= 0, got {step}")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait  # (the first cycle starts at its warmup)
        if repeat > 0 and step // cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return action


def _always_record(step: int) -> ProfilerAction:
    return ProfilerAction.RECORD


def supported_activities():
    """The activities this installation can record: CPU, and CUDA / OPENCL when those
    backends have a device."""
    acts = {ProfilerActivity.CPU}
    from ... import backends
    available = backends.available()
    if "cuda" in available:
        acts.add(ProfilerActivity.CUDA)
    if "opencl" in available:
        acts.add(ProfilerActivity.OPENCL)
    return acts


def kineto_available() -> bool:
    """False: Ember's profiler records in Python (there is no Kineto library behind it)."""
    return False


def tensorboard_trace_handler(dir_name: str, worker_name: str | None = None,
                              use_gzip: bool = False, use_python_export: bool = False):
    """An ``on_trace_ready`` that writes each trace into ``dir_name`` as
    ``<worker_name>.<ms since epoch>.pt.trace.json`` (``.gz`` with ``use_gzip``), the file
    names TensorBoard's profiler plugin and Perfetto open. ``worker_name`` defaults to
    ``<hostname>_<pid>``."""
    def handler(prof) -> None:
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        file_name = f"{name}.{time.time_ns() // 1_000_000}.pt.trace.json"
        if use_gzip:
            file_name += ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, file_name))
    return handler


_DEVICE_OF = {ProfilerActivity.CUDA: "cuda", ProfilerActivity.OPENCL: "opencl",
              ProfilerActivity.PrivateUse1: "opencl", ProfilerActivity.XPU: "xpu",
              ProfilerActivity.MTIA: "mtia", ProfilerActivity.HPU: "hpu"}


class profile:
    """Profile the code run inside it (torch.profiler.profile).

    Without ``schedule`` everything between enter and exit is recorded and ``on_trace_ready``
    is called once, at exit. With one, ``step()`` advances it: recording starts at the first
    RECORD step, and at the end of each RECORD_AND_SAVE step ``on_trace_ready(prof)`` sees the
    events of that cycle (``prof.key_averages()``, ``prof.events()``,
    ``prof.export_chrome_trace(path)``); each step is a ``ProfilerStep#<n>`` range.

    >>> import ember
    >>> from ember.profiler import profile, ProfilerActivity
    >>> with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
    ...     y = ember.ones(4, 4) @ ember.ones(4, 4)
    >>> prof.key_averages()[-1].key
    'aten::matmul'

    Event names follow torch's (``aten::add``, ``autograd::engine::evaluate_function:
    AddBackward0``, ``Optimizer.step#SGD.step``) over Ember's own op tree; times are host times,
    with device times for accelerator ops when a device activity is asked for (see
    ``ProfilerActivity``). ``profile_memory`` counts the bytes of the tensors each op created
    (allocations only: frees are not subtracted, as torch's allocator statistics would).
    """

    def __init__(self, *, activities: Iterable[ProfilerActivity] | None = None,
                 schedule: Callable[[int], ProfilerAction] | None = None,
                 on_trace_ready: Callable | None = None, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = False,
                 experimental_config=None, execution_trace_observer=None,
                 acc_events: bool = False, use_cuda: bool | None = None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        acts = set(activities) if activities else supported_activities()
        if use_cuda is not None:
            warnings.warn("The use_cuda parameter is deprecated, use activities instead",
                          FutureWarning)
            if use_cuda:
                acts.add(ProfilerActivity.CUDA)
            else:
                acts.discard(ProfilerActivity.CUDA)
        self.activities = acts
        devices = sorted({_DEVICE_OF[a] for a in acts if a in _DEVICE_OF})
        self.use_device = devices[0] if devices else None
        self.schedule = schedule if schedule is not None else _always_record
        self.record_steps = schedule is not None
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = self.schedule(0)
        self.profiler: autograd_profiler.profile | None = None
        self.step_rec_fn: record_function | None = None
        self._metadata: dict = {}
        if schedule is not None and not acc_events:
            warnings.warn("Profiler clears events at the end of each cycle. Only events from "
                          "the current cycle will be reported. To keep events across cycles, "
                          "set acc_events=True.")

    # ---- the state machine -----------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self) -> None:
        self._transit(ProfilerAction.NONE, self.current_action)
        if self.record_steps:
            self._enter_step()

    def stop(self) -> None:
        if self.record_steps and self.step_rec_fn is not None:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        self._transit(self.current_action, None)

    def step(self) -> None:
        """Mark the end of a training step: advance the schedule."""
        if self.record_steps and self.step_rec_fn is not None:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        prev = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit(prev, self.current_action)
        if self.record_steps:
            self._enter_step()

    def _enter_step(self):
        self.step_rec_fn = record_function(f"ProfilerStep#{self.step_num}")
        self.step_rec_fn.__enter__()

    def _transit(self, prev, cur) -> None:
        A = ProfilerAction
        recording = (A.RECORD, A.RECORD_AND_SAVE)
        if prev == A.RECORD_AND_SAVE or (cur is None and prev in recording):
            # the end of an active cycle: hand the trace over, then start the next one
            self.stop_trace()
            self._trace_ready()
            if cur in (A.WARMUP,) + recording:
                self.prepare_trace()
            if cur in recording:
                self.start_trace()
        elif prev == A.NONE:
            if cur in (A.WARMUP,) + recording:
                self.prepare_trace()
            if cur in recording:
                self.start_trace()
        elif prev == A.WARMUP:
            if cur in recording:
                self.start_trace()
            elif cur is None or cur == A.NONE:
                if cur == A.NONE:
                    warnings.warn("Incorrect schedule: WARMUP followed by NONE")
                self.start_trace()
                self.stop_trace()
        elif prev == A.RECORD and cur in (A.NONE, A.WARMUP):
            warnings.warn(f"Incorrect schedule: RECORD followed by {cur.name}")
            self.stop_trace()

    def prepare_trace(self) -> None:
        """A new trace (the events of the last one are dropped unless ``acc_events``)."""
        if self.profiler is None or not self.acc_events:
            self.profiler = autograd_profiler.profile(
                use_device=self.use_device, record_shapes=self.record_shapes,
                with_flops=self.with_flops, profile_memory=self.profile_memory,
                with_stack=self.with_stack, with_modules=self.with_modules,
                acc_events=self.acc_events)

    def start_trace(self) -> None:
        if self.profiler is None:
            self.prepare_trace()
        if self.profiler._session is None:
            self.profiler._start()

    def stop_trace(self) -> None:
        if self.profiler is not None and self.profiler._session is not None:
            self.profiler._stop()

    def _trace_ready(self):
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # ---- results ---------------------------------------------------------------------------
    def _events_or_raise(self):
        if self.profiler is None or self.profiler.function_events is None:
            raise RuntimeError("the profiler has no finished trace yet (results are available "
                               "in on_trace_ready, or after the profile ends)")
        return self.profiler.function_events

    def events(self):
        """The recorded events of the last trace (an EventList of FunctionEvents)."""
        return self._events_or_raise()

    def key_averages(self, group_by_input_shape: bool = False, group_by_stack_n: int = 0,
                     group_by_overload_name: bool = False):
        """Events averaged per name (and input shapes with ``group_by_input_shape``)."""
        return self._events_or_raise().key_averages(group_by_input_shape, group_by_stack_n,
                                                    group_by_overload_name)

    def export_chrome_trace(self, path: str) -> None:
        """Write the last trace as Chrome trace JSON (``.gz``: gzipped)."""
        events = self._events_or_raise()
        events._metadata = dict(self._metadata)
        events.export_chrome_trace(path)

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        if not self.with_stack:
            raise RuntimeError("export_stacks() needs the profiler to run with_stack=True")
        self._events_or_raise().export_stacks(path, metric)

    def add_metadata(self, key: str, value: str) -> None:
        """A string entry added to the top level of exported traces."""
        self._metadata[key] = value

    def add_metadata_json(self, key: str, value: str) -> None:
        import json
        self._metadata[key] = json.loads(value)

    @property
    def self_cpu_time_total(self) -> float:
        return self._events_or_raise().self_cpu_time_total
