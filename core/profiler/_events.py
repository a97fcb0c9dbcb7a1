"""What a recording produced: events, their averages per name, the table and the Chrome trace.

Times are in microseconds, as torch's ``FunctionEvent`` gives them.
"""
from __future__ import annotations

import gzip
import json
import os
from collections import namedtuple

from . import _recorder

Interval = namedtuple("Interval", "start end")
Interval.elapsed_us = lambda self: self.end - self.start


class _TimeStrings:
    """The formatted times (torch's ``*_str`` attributes) of an event or an average."""

    cpu_time_str = property(lambda self: format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: format_time(self.self_cpu_time_total))
    device_time_str = property(lambda self: format_time(self.device_time))
    device_time_total_str = property(lambda self: format_time(self.device_time_total))
    self_device_time_total_str = property(
        lambda self: format_time(self.self_device_time_total))


class FunctionEvent(_TimeStrings):
    """One recorded call: an op, a backward rule, a ``record_function`` range, a module."""

    def __init__(self, id, name, thread, start_us, end_us, *, kind=_recorder.OP,
                 self_cpu_time_total=None, input_shapes=None, stack=None, flops=0,
                 device=None, device_time_total=0.0, self_device_time_total=0.0,
                 cpu_memory_usage=0, self_cpu_memory_usage=0, device_memory_usage=0,
                 self_device_memory_usage=0):
        self.id = id
        self.name = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us)
        self.kind = kind
        self.cpu_children: list[FunctionEvent] = []
        self.cpu_parent: FunctionEvent | None = None
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.stack = stack or []
        self.flops = flops
        self.count = 1
        self.node_id = -1
        self.is_async = False
        self.is_legacy = False
        self.is_remote = False
        self.device_type = "CPU"
        self.device_index = 0
        self.device = device  # the accelerator an op ran on when its device time was taken
        self.is_user_annotation = kind == _recorder.ANNOTATION
        self._self_cpu = self_cpu_time_total
        self.device_time_total = device_time_total
        self.self_device_time_total = self_device_time_total
        self.cpu_memory_usage = cpu_memory_usage
        self.self_cpu_memory_usage = self_cpu_memory_usage
        self.device_memory_usage = device_memory_usage
        self.self_device_memory_usage = self_device_memory_usage

    @property
    def key(self) -> str:
        return self.name

    @property
    def cpu_time_total(self) -> float:
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self) -> float:
        if self._self_cpu is not None:
            return self._self_cpu
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count

    @property
    def device_time(self) -> float:
        return self.device_time_total / self.count

    # torch's older names for the device times
    cuda_time = device_time
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)
    cuda_memory_usage = property(lambda self: self.device_memory_usage)
    self_cuda_memory_usage = property(lambda self: self.self_device_memory_usage)


    def append_cpu_child(self, child: "FunctionEvent") -> None:
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent: "FunctionEvent") -> None:
        self.cpu_parent = parent

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time={format_time(self.cpu_time_total)} "
                f"self_cpu_time={format_time(self.self_cpu_time_total)} "
                f"input_shapes={self.input_shapes}>")


class FunctionEventAvg(_TimeStrings):
    """The events of one key (name, and input shapes or stack when grouped by them) summed."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.node_id = 0
        self.is_async = False
        self.is_remote = False
        self.is_legacy = False
        self.use_device = None
        self.device_type = "CPU"
        self.is_user_annotation = False
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.device_time_total = 0.0
        self.self_device_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.device_memory_usage = 0
        self.self_device_memory_usage = 0
        self.input_shapes = None
        self.stack = None
        self.flops = 0
        self.cpu_parent = None
        self.cpu_children = None

    def add(self, other):
        if self.key is None:
            self.key = other.key
            self.input_shapes = other.input_shapes
            self.stack = other.stack
            self.is_user_annotation = other.is_user_annotation
        elif other.key != self.key:
            raise ValueError(f"cannot average events of different keys: {self.key!r} and "
                             f"{other.key!r}")
        self.count += other.count
        for attr in ("cpu_time_total", "self_cpu_time_total", "device_time_total",
                     "self_device_time_total", "cpu_memory_usage", "self_cpu_memory_usage",
                     "device_memory_usage", "self_device_memory_usage", "flops"):
            setattr(self, attr, getattr(self, attr) + getattr(other, attr))
        return self

    __iadd__ = add

    @property
    def cpu_time(self) -> float:
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def device_time(self) -> float:
        return self.device_time_total / self.count if self.count else 0.0

    cuda_time = device_time
    cuda_time_total = property(lambda self: self.device_time_total)
    self_cuda_time_total = property(lambda self: self.self_device_time_total)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time="
                f"{format_time(self.self_cpu_time_total)} cpu_time="
                f"{format_time(self.cpu_time_total)} count={self.count} "
                f"input_shapes={self.input_shapes}>")


class EventList(list):
    """A list of events (or of averages) with torch's summaries: ``table``,
    ``key_averages``, ``total_average``, ``export_chrome_trace``."""

    def __init__(self, *args, use_device=None, profile_memory=False, with_flops=False,
                 metadata=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._use_device = use_device
        self._profile_memory = profile_memory
        self._with_flops = with_flops
        self._metadata = metadata if metadata is not None else {}

    def _like(self, items):
        return EventList(items, use_device=self._use_device,
                         profile_memory=self._profile_memory, with_flops=self._with_flops,
                         metadata=self._metadata)

    @property
    def self_cpu_time_total(self) -> float:
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One FunctionEventAvg per event name (and input shapes / first ``group_by_stack_n``
        stack frames when asked), in the order the names first occur."""
        groups: dict = {}
        for e in self:
            name = e.key
            if name.startswith("ProfilerStep#"):
                name = "ProfilerStep*"  # (torch's key for all steps)
            key = (name, str(e.input_shapes) if group_by_input_shapes else None,
                   tuple(e.stack[:group_by_stack_n]) if group_by_stack_n > 0 else None)
            avg = groups.get(key)
            if avg is None:
                avg = groups[key] = FunctionEventAvg()
                avg.key = name
                avg.input_shapes = e.input_shapes
                avg.stack = e.stack
                avg.is_user_annotation = e.is_user_annotation
                avg.use_device = self._use_device
            avg.add(_Renamed(e, name))
        res = self._like(groups.values())
        res._grouped_by_shapes = group_by_input_shapes
        res._grouped_by_stack = group_by_stack_n
        return res

    def total_average(self):
        total = FunctionEventAvg()
        total.key = "Total"
        for e in self:
            total.add(_Renamed(e, "Total"))
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """The events as torch's profiler table (a string)."""
        return _table(self, sort_by=sort_by, row_limit=row_limit,
                      max_src_column_width=max_src_column_width,
                      max_name_column_width=max_name_column_width,
                      max_shapes_column_width=max_shapes_column_width, header=header,
                      top_level_events_only=top_level_events_only, time_unit=time_unit)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path: str) -> None:
        """Write the events as a Chrome trace (``chrome://tracing``, Perfetto): complete events
        (``"ph": "X"``) with ``ts``/``dur`` in microseconds; ``.gz`` paths are gzipped."""
        trace = chrome_trace(self, self._metadata)
        data = json.dumps(trace)
        if str(path).endswith(".gz"):
            with gzip.open(path, "wt", encoding="utf-8") as f:
                f.write(data)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(data)

    def supported_export_stacks_metrics(self):
        return ["self_cpu_time_total", "self_cuda_time_total", "self_device_time_total"]

    def export_stacks(self, path: str, metric: str = "self_cpu_time_total") -> None:
        """Folded stacks (``file(line): fn;...;op value`` lines, as flamegraph.pl reads) of the
        events recorded with ``with_stack=True``."""
        if metric not in self.supported_export_stacks_metrics():
            raise ValueError(f"metric should be one of {self.supported_export_stacks_metrics()}")
        metric = metric.replace("cuda", "device")
        with open(path, "w", encoding="utf-8") as f:
            for e in self:
                if e.stack:
                    value = int(getattr(e, metric))
                    if value > 0:
                        frames = ";".join(reversed(e.stack))
                        f.write(f"{frames};{e.name} {value}\n")


class _Renamed:
    """An event seen under another key (for averaging)."""

    def __init__(self, e, key):
        self._e, self.key = e, key

    def __getattr__(self, name):
        return getattr(self._e, name)


# ---- formatting ------------------------------------------------------------------------------
def format_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def format_memory(nbytes: float) -> str:
    for unit, scale in (("Gb", 1024 ** 3), ("Mb", 1024 ** 2), ("Kb", 1024)):
        if abs(nbytes) >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{int(nbytes)} b"


def _percent(part, whole):
    return f"{100.0 * part / whole:.2f}%" if whole else "0.00%"


def _clip(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


_SORT_ALIASES = {"cpu_time_total": "cpu_time_total", "cuda_time_total": "device_time_total",
                 "cuda_time": "device_time", "self_cuda_time_total": "self_device_time_total",
                 "cuda_memory_usage": "device_memory_usage",
                 "self_cuda_memory_usage": "self_device_memory_usage"}


def _table(events, *, sort_by, row_limit, max_src_column_width, max_name_column_width,
           max_shapes_column_width, header, top_level_events_only, time_unit):
    rows = list(events)
    if top_level_events_only:
        rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
    if sort_by is not None:
        attr = _SORT_ALIASES.get(sort_by, sort_by)
        rows.sort(key=lambda e: getattr(e, attr), reverse=True)
    if row_limit is not None and row_limit >= 0:
        rows = rows[:row_limit]
    fmt_time = format_time if time_unit is None else (
        lambda us: f"{us / {'s': 1e6, 'ms': 1e3, 'us': 1.0}[time_unit]:.3f}{time_unit}")
    self_cpu_total = sum(e.self_cpu_time_total for e in events)
    self_dev_total = sum(e.self_device_time_total for e in events)
    dev = events._use_device
    has_device = any(e.device_time_total for e in events)
    dev_name = (dev or "cuda").upper() if has_device else None
    with_shapes = getattr(events, "_grouped_by_shapes", False) or (
        not hasattr(events, "_grouped_by_shapes") and any(e.input_shapes for e in rows))
    with_stack = getattr(events, "_grouped_by_stack", 0) > 0
    with_flops = events._with_flops and any(e.flops for e in events)

    # (header, width, value of a row)
    name_w = min(max([len(e.key) for e in rows] + [4]) + 2, max_name_column_width)
    cols = [("Name", name_w, lambda e: _clip(e.key, name_w)),
            ("Self CPU %", 12, lambda e: _percent(e.self_cpu_time_total, self_cpu_total)),
            ("Self CPU", 12, lambda e: fmt_time(e.self_cpu_time_total)),
            ("CPU total %", 12, lambda e: _percent(e.cpu_time_total, self_cpu_total)),
            ("CPU total", 12, lambda e: fmt_time(e.cpu_time_total)),
            ("CPU time avg", 12, lambda e: fmt_time(e.cpu_time))]
    if has_device:
        cols += [(f"Self {dev_name}", 12, lambda e: fmt_time(e.self_device_time_total)),
                 (f"Self {dev_name} %", 12,
                  lambda e: _percent(e.self_device_time_total, self_dev_total)),
                 (f"{dev_name} total", 12, lambda e: fmt_time(e.device_time_total)),
                 (f"{dev_name} time avg", 12, lambda e: fmt_time(e.device_time))]
    if events._profile_memory:
        cols += [("CPU Mem", 12, lambda e: format_memory(e.cpu_memory_usage)),
                 ("Self CPU Mem", 12, lambda e: format_memory(e.self_cpu_memory_usage))]
        if has_device:
            cols += [(f"{dev_name} Mem", 12, lambda e: format_memory(e.device_memory_usage)),
                     (f"Self {dev_name} Mem", 12,
                      lambda e: format_memory(e.self_device_memory_usage))]
    cols.append(("# of Calls", 12, lambda e: str(e.count)))
    if with_shapes:
        shape_w = min(max([len(str(e.input_shapes)) for e in rows] + [12]) + 2,
                      max_shapes_column_width)
        cols.append(("Input Shapes", shape_w, lambda e: _clip(str(e.input_shapes), shape_w)))
    if with_stack:
        src_w = max_src_column_width
        cols.append(("Source Location", src_w,
                     lambda e: _clip(e.stack[0] if e.stack else "", src_w)))
    if with_flops:
        peak = max(e.flops for e in events)
        unit, scale = "", 1
        for u, s in (("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15)):
            if peak >= s * 10:
                unit, scale = u, s
        cols.append((f"Total {unit}FLOPs", 14,
                     lambda e: f"{e.flops / scale:.3f}" if e.flops else "--"))

    def line(values):
        return "  ".join(v.rjust(w) for v, (_, w, _) in zip(values, cols)) + "  "
    rule = "  ".join("-" * w for _, w, _ in cols) + "  "
    out = []
    if header:
        out.append(header)
    out += [rule, line([h for h, _, _ in cols]), rule]
    out += [line([f(e) for _, _, f in cols]) for e in rows]
    out.append(rule)
    out.append(f"Self CPU time total: {fmt_time(self_cpu_total)}")
    if has_device:
        out.append(f"Self {dev_name} time total: {fmt_time(self_dev_total)}")
    return "\n".join(out) + "\n"


# ---- Chrome trace ---------------------------------------------------------------------------
def chrome_trace(events, metadata=None) -> dict:
    """The Chrome trace-event JSON of ``events`` (FunctionEvents)."""
    pid = os.getpid()
    base = getattr(events, "_wall_start_us", 0.0)
    trace = []
    threads, devices = set(), {}
    for e in sorted(events, key=lambda e: e.time_range.start):
        threads.add(e.thread)
        args = {"External id": e.id}
        if e.input_shapes:
            args["Input Dims"] = e.input_shapes
        if e.stack:
            args["Call stack"] = ";".join(e.stack)
        if e.flops:
            args["flops"] = e.flops
        if e.device:
            args["device"] = e.device
        trace.append({"ph": "X", "cat": e.kind, "name": e.name, "pid": pid, "tid": e.thread,
                      "ts": base + e.time_range.start, "dur": e.cpu_time_total,
                      "args": args})
        if e.device and e.self_device_time_total and e.kind != _recorder.SYNC:
            tid = devices.setdefault(e.device, 1_000_000 + len(devices))
            trace.append({"ph": "X", "cat": "device_time_host_measured", "name": e.name,
                          "pid": pid, "tid": tid, "ts": base + e.time_range.start,
                          "dur": e.self_device_time_total,
                          "args": {"External id": e.id, "device": e.device}})
    meta = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
             "args": {"name": f"ember (pid {pid})"}}]
    for t in sorted(threads):
        meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": t,
                     "args": {"name": f"thread {t}"}})
    for dev, tid in devices.items():
        meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                     "args": {"name": f"{dev} (device time measured on the host)"}})
    res = {"schemaVersion": 1, "traceName": "ember.profiler", "displayTimeUnit": "ms",
           "traceEvents": meta + trace}
    res.update(metadata or {})
    return res


def build_events(session, use_device=None, profile_memory=False, with_flops=False):
    """The EventList of a finished recording."""
    start = session.start_ns
    tids: dict[int, int] = {}
    by_id: dict[int, FunctionEvent] = {}
    recs = sorted(session.records, key=lambda r: (r.start, -r.end))
    for r in recs:
        thread = tids.setdefault(r.tid, len(tids) + 1)
        mem = r.mem or (0, 0)
        cmem = r.child_mem or (0, 0)
        e = FunctionEvent(
            r.id, r.name, thread, (r.start - start) / 1e3, (r.end - start) / 1e3, kind=r.kind,
            self_cpu_time_total=r.self_ns / 1e3, input_shapes=r.shapes, stack=r.stack,
            flops=r.flops, device=r.device,
            device_time_total=(r.device_ns + r.child_device_ns) / 1e3 if r.kind != "sync"
            else 0.0, self_device_time_total=r.device_ns / 1e3 if r.kind != "sync" else 0.0,
            cpu_memory_usage=mem[0] + cmem[0], self_cpu_memory_usage=mem[0],
            device_memory_usage=mem[1] + cmem[1], self_device_memory_usage=mem[1])
        by_id[r.id] = e
    for r in recs:
        if r.parent is not None and r.parent.id in by_id:
            parent, child = by_id[r.parent.id], by_id[r.id]
            child.set_cpu_parent(parent)
            parent.append_cpu_child(child)
    res = EventList([by_id[r.id] for r in recs], use_device=use_device,
                    profile_memory=profile_memory, with_flops=with_flops)
    res._wall_start_us = session.wall_start_us
    return res
