"""``DistributedDataParallel`` for cpu modules, over ember.distributed.

At construction rank 0's parameters and buffers are broadcast to every rank. Each forward
records which parameters its output depends on; when backward has accumulated a gradient into
the last of them (a post-accumulate-grad hook), the gradients of all parameters are averaged
across the group with one ``all_reduce`` per dtype, written back into ``.grad`` in place. Inside
``no_sync()`` gradients only accumulate locally; the next synchronised backward averages the
sum.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ... import distributed as dist
from ..modules.module import Module

__all__ = ["DistributedDataParallel"]


def _tensors_in(obj, out):
    from ...tensor import Tensor
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _leaves_reached(outputs) -> set[int]:
    """ids of the leaf tensors whose gradient the outputs' graph accumulates into."""
    seen, found = set(), set()
    stack = []
    for t in outputs:
        if t.requires_grad:
            if t.grad_fn is None:
                found.add(id(t))
            else:
                stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        variable = getattr(node, "variable", None) if not node.next_functions else None
        if variable is not None:
            found.add(id(variable))
        for edge in node.next_functions:
            if edge is not None and edge[0] is not None:
                stack.append(edge[0])
    return found


class DistributedDataParallel(Module):
    """Data-parallel training: each process runs ``module`` on its own share of the batch and
    gradients are averaged across the process group during backward, so every rank takes the
    same optimizer step (cpu modules; ``device_ids`` must be None).

    Example (in each process, after ``ember.distributed.init_process_group``)::

        >>> model = DistributedDataParallel(ember.nn.Linear(4, 1))  # doctest: +SKIP
        >>> loss = model(x).pow(2).mean(); loss.backward()  # grads averaged  # doctest: +SKIP
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None,
                 mixed_precision=None, device_mesh=None, init_sync: bool = True):
        super().__init__()
        pg = process_group if process_group is not None else dist.group.WORLD
        if pg is None:
            raise ValueError(dist.c10d._NOT_INITIALIZED)
        params = []
        for p in module.parameters():
            if p.requires_grad and all(p is not q for q in params):
                params.append(p)
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        devices = {p.device.type for p in module.parameters()}
        if devices != {"cpu"} or device_ids:
            raise ValueError("Ember's DistributedDataParallel supports cpu modules only, with "
                             f"device_ids=None (got device_ids={device_ids}, module parameters "
                             f"on {sorted(devices)})")
        self.module = module
        self.process_group = pg
        self.dim = dim
        self.device_ids = None
        self.output_device = None
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        self._params = params
        self._expected: set[int] = set()
        self._ready: set[int] = set()
        self._hooks = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]
        if init_sync:
            self._sync_module_states()

    # ---- state broadcast -------------------------------------------------------------------
    def _src(self) -> int:
        return dist.get_global_rank(self.process_group, 0)

    def _sync_module_states(self):
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            dist.broadcast(t, src=self._src(), group=self.process_group)

    def _sync_buffers(self):
        for b in self.module.buffers():
            dist.broadcast(b, src=self._src(), group=self.process_group)

    # ---- forward / backward ----------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        from ...autograd import is_grad_enabled
        if self.broadcast_buffers and self.require_forward_param_sync:
            self._sync_buffers()
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            reached = _leaves_reached(_tensors_in(out, []))
            self._expected |= {id(p) for p in self._params if id(p) in reached}
        return out

    def _on_grad(self, param):
        if not self._expected or id(param) not in self._expected:
            return
        self._ready.add(id(param))
        if self._ready >= self._expected:
            self._expected, self._ready = set(), set()
            self._reduce_gradients()

    def _reduce_gradients(self):
        """Average every parameter's gradient across the group (zeros stand in for a parameter
        this rank did not use; one that no rank used keeps ``grad`` None)."""
        from ...ops.creation import from_numpy, zeros
        from ...autograd import no_grad
        by_dtype: dict = {}
        for p in self._params:
            by_dtype.setdefault(p.dtype, []).append(p)
        n = dist.get_world_size(self.process_group)
        for dtype, params in by_dtype.items():
            parts = [np.ascontiguousarray(p.grad.detach().numpy()).reshape(-1)
                     if p.grad is not None else np.zeros(p.numel(), dtype.np) for p in params]
            used = np.array([p.grad is not None for p in params], dtype=dtype.np)
            flat = from_numpy(np.concatenate(parts + [used]))
            dist.all_reduce(flat, group=self.process_group)
            values = flat.numpy()
            offset = 0
            with no_grad():
                for i, p in enumerate(params):
                    k = p.numel()
                    if values[-len(params) + i] > 0:
                        avg = from_numpy(values[offset:offset + k] / n).reshape(p.shape)
                        avg = avg.to(dtype)
                        if p.grad is None:
                            p.grad = zeros(p.shape, dtype=dtype)
                        p.grad.copy_(avg)
                    offset += k

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, backward accumulates gradients locally without averaging them; the first
        synchronised backward after it averages the accumulated sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old
