"""ember.profiler / ember.autograd.profiler: events and counts for a small model (forward and
backward), nesting and self-time invariants, record_function ranges, schedule and step
semantics against torch.profiler's, Chrome trace files, tables, and that nothing stays wrapped
once profiling ends (the op hot path is untouched when no profiler runs)."""
import json
import os
import re
import types
import warnings

import pytest

import ember
import ember.nn as nn
from ember.core.profiler import _recorder
from ember.profiler import (ProfilerAction, ProfilerActivity, profile, record_function,
                            schedule, tensorboard_trace_handler)

DEVICES = ember.backends.available()
# (torch warns the same way about schedules without acc_events)
pytestmark = pytest.mark.filterwarnings("ignore:Profiler clears events:UserWarning",
                                        "ignore:Profiler won't be using warmup:UserWarning")


def _model(device="cpu"):
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(device)


def _train_step(model, device="cpu"):
    x = ember.randn(5, 3, device=device)
    loss = model(x).sum()
    loss.backward()
    return loss


def _counts(prof):
    return {e.key: e.count for e in prof.key_averages()}


def _wrappable_snapshot():
    """The callables a recording replaces, as they are now (owner, name) -> object."""
    from ember.core.autograd.graph import AccumulateGrad
    snap = {(ember, "add"): ember.add, (ember, "matmul"): ember.matmul,
            (nn.functional, "linear"): nn.functional.linear,
            (AccumulateGrad, "accumulate"): AccumulateGrad.__dict__["accumulate"],
            (nn.Module, "__call__"): nn.Module.__dict__["__call__"]}
    for name in ("__add__", "__mul__", "__matmul__", "sum", "relu", "__getitem__"):
        snap[(ember.Tensor, name)] = ember.Tensor.__dict__[name]
    from ember.core.ops import elementwise
    snap[(elementwise, "mul")] = elementwise.mul
    for owner, attr, original, _ in _recorder._plan(True):
        snap[(owner, attr)] = (owner.__dict__[attr] if isinstance(owner, type)
                               else getattr(owner, attr))
    return snap


# ---- what is recorded ------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_forward_backward_counts(device):
    model = _model(device)
    with profile(activities=[ProfilerActivity.CPU], with_modules=True) as prof:
        for _ in range(2):
            _train_step(model, device)
    counts = _counts(prof)
    assert counts["aten::linear"] == 4
    assert counts["aten::relu"] == 2
    # (backward rules may call sum too: the loss's sums are the top-level ones)
    assert sum(e.name == "aten::sum" and e.cpu_parent is None for e in prof.events()) == 2
    assert counts["aten::randn"] == 2
    assert counts["nn.Module: Linear"] == 4
    assert counts["nn.Module: ReLU"] == 2
    assert counts["nn.Module: Sequential"] == 2
    # backward: one evaluate_function per node the engine runs, around the node's own event
    prefix = "autograd::engine::evaluate_function: "
    nodes = [k[len(prefix):] for k in counts if k.startswith(prefix)]
    assert len(nodes) >= 4
    for node in nodes:
        assert counts[prefix + node] == counts[node]
    assert counts[prefix + "AddmmBackward0"] == 4
    assert counts[prefix + "SumBackward0"] == 2
    # relu is one node where the backend has a relu kernel, le + where where it has not
    assert counts.get(prefix + "ReluBackward0", 0) + counts.get(prefix + "WhereBackward0",
                                                                0) == 2
    # two weights and two biases, twice
    assert counts["torch::autograd::AccumulateGrad"] == 8
    # the ops a backward rule calls are nested under its node, under evaluate_function
    for e in prof.events():
        if e.name in nodes:
            assert e.cpu_parent.name == prefix + e.name
            for c in e.cpu_children:
                assert c.name.startswith("aten::")
    if device == "cpu":
        ev = [e for e in prof.events() if e.name == "aten::threshold_backward"]
        assert ev and all(e.cpu_parent.name == "ReluBackward0" for e in ev)


def test_tensor_methods_operators_and_nested_ops():
    a, b = ember.ones(4, 4), ember.ones(4, 4)
    with profile() as prof:
        a + b
        a.add(b)
        ember.add(a, b)
        a @ b
        a.sum()
        a[0]
        ember.nn.functional.softmax(a, dim=1)
    counts = _counts(prof)
    # a method or operator that calls the function of the same name is one event
    assert counts["aten::add"] == 3
    assert counts["aten::matmul"] == 1
    assert counts["aten::index"] == 1
    assert counts["aten::softmax"] == 1
    # the ops an op calls internally are nested under it
    tops = [e for e in prof.events() if e.cpu_parent is None]
    assert [e.name for e in tops] == ["aten::add"] * 3 + ["aten::matmul", "aten::sum",
                                                          "aten::index", "aten::softmax"]


def test_optimizer_and_custom_function_events():
    class Twice(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    model = _model()
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    with profile() as prof:
        opt.zero_grad()
        Twice.apply(model(ember.randn(2, 3))).sum().backward()
        opt.step()
    counts = _counts(prof)
    assert counts["Optimizer.step#SGD.step"] == 1
    assert counts["Optimizer.zero_grad#SGD.zero_grad"] == 1
    assert counts["Twice"] == 1
    assert any(k.startswith("autograd::engine::evaluate_function: Twice") for k in counts)


# ---- nesting and self time ---------------------------------------------------------------------
def _check_invariants(events):
    eps = 1e-6
    for e in events:
        assert e.self_cpu_time_total >= -eps
        assert e.self_cpu_time_total <= e.cpu_time_total + eps
        child_sum = sum(c.cpu_time_total for c in e.cpu_children)
        assert abs(e.cpu_time_total - child_sum - e.self_cpu_time_total) < 1e-3
        for c in e.cpu_children:
            assert c.cpu_parent is e
            assert c.time_range.start >= e.time_range.start - eps
            assert c.time_range.end <= e.time_range.end + eps
    tops = [e for e in events if e.cpu_parent is None]
    total_self = sum(e.self_cpu_time_total for e in events)
    assert abs(total_self - sum(e.cpu_time_total for e in tops)) < 1e-3 * max(1, len(events))
    assert abs(events.self_cpu_time_total - total_self) < 1e-6


def test_self_time_invariants():
    model = _model()
    with profile(record_shapes=True, with_modules=True) as prof:
        with record_function("train"):
            for _ in range(3):
                _train_step(model)
    events = prof.events()
    _check_invariants(events)
    avgs = prof.key_averages()
    for a in avgs:
        assert a.self_cpu_time_total <= a.cpu_time_total + 1e-6
        assert abs(a.cpu_time - a.cpu_time_total / a.count) < 1e-9
    assert abs(sum(a.self_cpu_time_total for a in avgs) - events.self_cpu_time_total) < 1e-3
    assert sum(a.count for a in avgs) == len(events)
    # a parent's total covers its children: the range holds everything
    train = next(e for e in events if e.name == "train")
    assert abs(train.cpu_time_total - sum(e.cpu_time_total for e in events
                                          if e.cpu_parent is train)
               - train.self_cpu_time_total) < 1e-3


def test_record_function_ranges_and_decorator():
    @record_function("decorated")
    def work(x):
        return (x * 2).sum()

    x = ember.ones(3)
    with profile() as prof:
        with record_function("outer"):
            work(x)
            with record_function("inner"):
                x + 1
        work(x)
    events = prof.events()
    by_name = {}
    for e in events:
        by_name.setdefault(e.name, []).append(e)
    assert len(by_name["decorated"]) == 2
    outer = by_name["outer"][0]
    assert outer.is_user_annotation
    assert by_name["decorated"][0].cpu_parent is outer
    assert by_name["decorated"][1].cpu_parent is None
    assert by_name["inner"][0].cpu_parent is outer
    add = next(e for e in events if e.name == "aten::add")
    assert add.cpu_parent is by_name["inner"][0]
    assert {e.cpu_parent.name for e in by_name["aten::mul"]} == {"decorated"}
    _check_invariants(events)
    # outside a profile, a record_function is a no-op (and the decorated function still works)
    with record_function("nothing"):
        assert work(x).item() == 6.0


def test_exceptions_inside_ops_and_profile():
    a = ember.ones(2, 3)
    with pytest.raises(RuntimeError):
        with profile() as prof:
            with pytest.raises(RuntimeError):
                a @ a  # shapes do not match
            raise RuntimeError("user error")
    assert not _recorder.installed()
    assert ember.matmul.__name__ == "matmul" and not hasattr(ember.matmul, "_ember_profiled")
    _check_invariants(prof.events())
    assert _counts(prof)["aten::matmul"] == 1


def test_profilers_do_not_nest():
    with profile():
        with pytest.raises(RuntimeError, match="already"):
            with ember.autograd.profiler.profile():
                pass
    assert not _recorder.installed()


# ---- zero cost when off ------------------------------------------------------------------------
def test_nothing_wrapped_outside_profiling():
    before = _wrappable_snapshot()
    assert all(not hasattr(v, "_ember_profiled") for v in before.values()
               if isinstance(v, types.FunctionType))
    with profile(with_modules=True):
        during = _wrappable_snapshot()
        assert ember.add is not before[(ember, "add")]
        assert ember.add._ember_profiled is before[(ember, "add")]
        assert ember.Tensor.__dict__["__add__"] is not before[(ember.Tensor, "__add__")]
        from ember.core.ops import elementwise
        assert elementwise.mul is not before[(elementwise, "mul")]
    after = _wrappable_snapshot()
    assert set(after) == set(before)
    changed = [k for k in before if after[k] is not before[k]]
    assert not changed, changed
    assert sum(during[k] is not before[k] for k in before) > 500
    assert not _recorder.installed() and _recorder.active() is None


def test_jit_trace_after_and_inside_profile():
    model = _model()
    x = ember.randn(2, 3)
    with profile():
        traced_inside = ember.jit.trace(model, x)
    traced_after = ember.jit.trace(model, x)
    for traced in (traced_inside, traced_after):
        assert ember.allclose(traced(x), model(x))
    assert not hasattr(ember.Tensor.__dict__["__add__"], "_ember_profiled")


# ---- schedule and steps, against torch ----------------------------------------------------------
SCHEDULES = [dict(wait=1, warmup=1, active=2), dict(wait=1, warmup=1, active=2, repeat=2),
             dict(wait=0, warmup=2, active=1, repeat=3, skip_first=2),
             dict(wait=2, warmup=1, active=3, repeat=1, skip_first=1, skip_first_wait=1),
             dict(wait=3, warmup=0, active=1, repeat=0, skip_first=0, skip_first_wait=1),
             dict(wait=0, warmup=0, active=1)]


@pytest.mark.parametrize("params", SCHEDULES)
def test_schedule_matches_torch(params):
    torch = pytest.importorskip("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = schedule(**params)
        theirs = torch.profiler.schedule(**params)
    assert [ours(i).name for i in range(40)] == [theirs(i).name for i in range(40)]


def test_schedule_rejects_bad_arguments():
    with pytest.raises(AssertionError):
        schedule(wait=0, warmup=0, active=0)
    with pytest.raises(ValueError):
        schedule(wait=-1, warmup=1, active=1)


def _run_steps(mod, params, n_steps, x, acc_events=False):
    """Which step labels each on_trace_ready saw, and the step number it was called at."""
    seen = []

    def ready(prof):
        names = sorted({e.key for e in prof.key_averages() if re.fullmatch(r"s\d+", e.key)},
                       key=lambda s: int(s[1:]))
        steps = {e.key for e in prof.key_averages() if e.key.startswith("ProfilerStep")}
        seen.append((prof.step_num, names, sorted(steps)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = mod.profiler.schedule(**params) if params is not None else None
        with mod.profiler.profile(schedule=sched, on_trace_ready=ready,
                                  acc_events=acc_events) as p:
            for i in range(n_steps):
                with mod.profiler.record_function(f"s{i}"):
                    x + 1
                p.step()
    return seen


@pytest.mark.parametrize("params", SCHEDULES[:5] + [None])
@pytest.mark.parametrize("n_steps", [3, 7, 12])
def test_step_semantics_match_torch(params, n_steps):
    torch = pytest.importorskip("torch")
    ours = _run_steps(ember, params, n_steps, ember.ones(2))
    theirs = _run_steps(torch, params, n_steps, torch.ones(2))
    assert ours == theirs


def test_acc_events_keeps_cycles():
    torch = pytest.importorskip("torch")
    params = dict(wait=1, warmup=1, active=1, repeat=3)
    assert (_run_steps(ember, params, 10, ember.ones(2), acc_events=True)
            == _run_steps(torch, params, 10, torch.ones(2), acc_events=True))


def test_profile_without_schedule_calls_on_trace_ready_once_at_exit():
    calls = []
    with profile(on_trace_ready=calls.append) as prof:
        ember.ones(2) * 3
        prof.step()
        ember.ones(2) * 3
        assert calls == []
    assert calls == [prof]
    assert _counts(prof)["aten::mul"] == 2
    # no ProfilerStep ranges without a schedule (as torch)
    assert not any(e.name.startswith("ProfilerStep") for e in prof.events())


# ---- output: tables and traces ------------------------------------------------------------------
def test_table_columns_and_rows():
    model = _model()
    with profile(record_shapes=True) as prof:
        _train_step(model)
    text = prof.key_averages().table(sort_by="cpu_time_total", row_limit=-1)
    lines = text.splitlines()
    for col in ("Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg",
                "# of Calls"):
        assert col in lines[1]
    assert "Input Shapes" not in lines[1]
    for row in ("aten::linear", "aten::relu", "aten::sum",
                "autograd::engine::evaluate_function: AddmmBackward0"):
        assert any(line.strip().startswith(row) for line in lines), row
    assert lines[-1].startswith("Self CPU time total: ")
    # rows are sorted by the key, descending
    avgs = sorted(prof.key_averages(), key=lambda e: e.cpu_time_total, reverse=True)
    assert lines[3].split()[0] == avgs[0].key.split()[0]
    limited = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=2)
    assert len(limited.splitlines()) == 3 + 2 + 2
    shaped = prof.key_averages(group_by_input_shape=True).table(row_limit=-1)
    assert "Input Shapes" in shaped.splitlines()[1]
    assert "[[5, 3], [4, 3], [4]]" in shaped
    assert "[[5, 4], [2, 4], [2]]" in shaped
    by_shape = [e for e in prof.key_averages(group_by_input_shape=True)
                if e.key == "aten::linear"]
    assert sorted(map(str, (e.input_shapes for e in by_shape))) == [
        "[[5, 3], [4, 3], [4]]", "[[5, 4], [2, 4], [2]]"]


def test_memory_and_flops_columns():
    a, b = ember.ones(8, 16), ember.ones(16, 4)
    with profile(profile_memory=True, with_flops=True, record_shapes=True) as prof:
        a @ b
        ember.mm(a, b)
    mm = {e.key: e for e in prof.key_averages()}
    assert mm["aten::mm"].flops == 2 * 8 * 16 * 4
    assert mm["aten::matmul"].flops == mm["aten::matmul"].count * 2 * 8 * 16 * 4
    assert mm["aten::mm"].cpu_memory_usage == 8 * 4 * 4
    text = prof.key_averages().table()
    assert "CPU Mem" in text and "Self CPU Mem" in text and "FLOPs" in text


def test_chrome_trace_is_valid(tmp_path):
    model = _model()
    with profile(record_shapes=True) as prof:
        with record_function("step"):
            _train_step(model)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    events = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(events) == len(prof.events())
    for e in events:
        assert isinstance(e["name"], str) and e["name"]
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float))
        assert e["dur"] >= 0
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert e["cat"] in ("cpu_op", "user_annotation", "python_function")
    step = next(e for e in events if e["name"] == "step")
    assert all(step["ts"] <= e["ts"] and e["ts"] + e["dur"] <= step["ts"] + step["dur"] + 1e-3
               for e in events if e["name"].startswith("aten::"))
    linear = next(e for e in events if e["name"] == "aten::linear")
    assert linear["args"]["Input Dims"] == [[5, 3], [4, 3], [4]]
    # gzip, as torch
    gz = tmp_path / "trace.json.gz"
    prof.export_chrome_trace(str(gz))
    import gzip
    assert json.loads(gzip.open(gz, "rt").read())["traceEvents"]


def test_tensorboard_trace_handler(tmp_path):
    out = tmp_path / "tb"
    with profile(schedule=schedule(wait=0, warmup=1, active=1, repeat=2),
                 on_trace_ready=tensorboard_trace_handler(str(out), worker_name="w0")) as p:
        for _ in range(5):
            ember.ones(3) + 1
            p.step()
    files = sorted(os.listdir(out))
    assert len(files) == 2
    assert all(re.fullmatch(r"w0\.\d+\.pt\.trace\.json", f) for f in files)
    for f in files:
        trace = json.loads((out / f).read_text())
        names = {e["name"] for e in trace["traceEvents"] if e["ph"] == "X"}
        assert "aten::add" in names and any(n.startswith("ProfilerStep#") for n in names)


# ---- the autograd.profiler API ------------------------------------------------------------------
def test_autograd_profiler_api():
    from ember.autograd import profiler as aprof
    x = ember.ones(3, 3, requires_grad=True)
    with aprof.profile(record_shapes=True) as prof:
        with aprof.record_function("block"):
            (x * x).sum().backward()
    assert isinstance(prof.function_events, aprof.EventList)
    counts = _counts(prof)
    assert counts["block"] == 1 and counts["aten::mul"] >= 1
    assert counts["autograd::engine::evaluate_function: MulBackward0"] == 1
    assert prof.self_cpu_time_total > 0
    assert "aten::mul" in prof.table()
    assert prof.total_average().count == len(prof.function_events)
    with aprof.profile(enabled=False) as off:
        x + 1
    with pytest.raises(RuntimeError):
        off.key_averages()
    assert aprof.profile is not ember.profiler.profile


def test_emit_nvtx_follows_torch():
    with ember.autograd.profiler.emit_nvtx(enabled=False):
        ember.ones(2) + 1
    if not ember.cuda.is_available():
        # torch without CUDA: AssertionError("Torch not compiled with CUDA enabled")
        with pytest.raises(AssertionError):
            with ember.autograd.profiler.emit_nvtx():
                pass
    assert not _recorder.installed()


# ---- devices ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_devices(device):
    model = _model(device)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.OPENCL] if device == "opencl" else
                                     [ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=acts, record_shapes=True) as prof:
        _train_step(model, device)
    _check_invariants(prof.events())
    counts = _counts(prof)
    assert counts["aten::linear"] == 2
    text = prof.key_averages().table(sort_by="self_cpu_time_total")
    if device == "cpu":
        assert "Self CUDA" not in text and _recorder.SYNC_NAME not in counts
        return
    dev = device.upper()
    assert f"Self {dev}" in text and f"{dev} total" in text
    ops = [e for e in prof.events() if e.device_time_total > 0]
    assert ops and counts[_recorder.SYNC_NAME] >= 1
    # an op's device time spans its host time and the synchronize after it
    for e in ops:
        if e.cpu_parent is None or e.cpu_parent.name.startswith("nn.Module"):
            assert e.self_device_time_total >= e.cpu_time_total - 1e-6
    # only outermost ops are synchronized
    assert all(e.self_device_time_total == 0 for e in prof.events()
               if e.cpu_parent is not None and e.cpu_parent.name.startswith("aten::"))
