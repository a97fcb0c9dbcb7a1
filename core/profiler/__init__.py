"""``ember.profiler``: where the time goes, per op (torch.profiler's API).

>>> import ember
>>> from ember.profiler import profile, record_function, ProfilerActivity
>>> with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
...     with record_function("model_inference"):
...         y = ember.ones(8, 8).relu().sum()
>>> print(prof.key_averages().table(sort_by="cpu_time_total", row_limit=5))  # doctest: +SKIP

How it records
    While a profiler records, the public callables (ember's functions, ``nn.functional``,
    ``Tensor`` methods and operators, autograd backward rules, optimizer steps, module calls
    with ``with_modules``) are replaced by timing wrappers; at the end the originals are put
    back. When nothing is being profiled nothing is wrapped, so the op dispatch path pays no
    check at all. Ops called inside an op (Ember's decompositions) are nested under it: an
    event's self time excludes the events inside it.

Names
    Events use torch's names (``aten::add``, ``aten::linear``, ``autograd::engine::
    evaluate_function: AddBackward0``, ``Optimizer.step#SGD.step``, ``ProfilerStep#3``), so
    scripts that look for torch's rows find them; what runs under an op is Ember's own
    decomposition (``aten::linear`` -> ``aten::matmul``, ``aten::add`` ...), not ATen's.

Devices
    All times are measured on the host. With a device activity (``ProfilerActivity.CUDA``,
    ``OPENCL`` or ``PrivateUse1``), each outermost op that used an accelerator tensor is
    followed by a synchronize of its device: the op's device time is its start to the end of
    that synchronize (an upper bound of its device work: the queue was empty when it started),
    and the wait is an event of its own (``ember::profiler_synchronize``). This serializes the
    device queue, so the whole run is slower than unprofiled; without a device activity no
    synchronize is added and device work shows up wherever the host waits for it.
"""
from ._events import EventList, FunctionEvent, FunctionEventAvg  # noqa: F401
from .autograd_profiler import record_function  # noqa: F401
from .profiler import (ProfilerAction, ProfilerActivity, kineto_available, profile,  # noqa
                       schedule, supported_activities, tensorboard_trace_handler)

__all__ = ["ProfilerAction", "ProfilerActivity", "profile", "record_function", "schedule",
           "supported_activities", "tensorboard_trace_handler", "kineto_available"]
