"""Activation checkpointing (torch.utils.checkpoint): run a part of the model without keeping
what its backward needs, and run that part again during backward to get it back. Memory for
compute.

Two ways, as torch's:

- ``use_reentrant=False`` (recommended): the part runs with autograd on, but every tensor its
  ops save goes through ``saved_tensors_hooks`` that keep only a number. The first time backward
  needs one of them, the part runs again (same inputs, same random numbers) and its saved tensors
  are taken from that run, in the same order. The graph is the ordinary one, so parameters used
  inside get gradients even when no input requires grad, and ``autograd.grad`` works.
- ``use_reentrant=True``: the part runs under ``no_grad`` inside a custom Function; its backward
  runs the part again with grad on and calls ``backward`` on that run (a backward inside the
  backward). Only inputs that require grad connect it to the graph.
"""
from __future__ import annotations

import warnings

from ..autograd import grad_mode
from ..autograd.function import Function
from ..autograd.graph import saved_tensors_hooks
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _rng_states():
    """The state of every default generator in use (per device), to replay dropout masks."""
    from ..ops import creation
    return {dev: g.get_state() for dev, g in creation._default_generators.items()}


def _set_rng_states(states):
    from ..ops import creation
    for dev, state in states.items():
        creation.default_generator(dev).set_state(state)


class _ReplayRng:
    """Runs a block with the generators as they were at ``states``, then puts back the
    states they had before the block."""

    def __init__(self, states):
        self.states = states

    def __enter__(self):
        if self.states is not None:
            self.saved = _rng_states()
            _set_rng_states(self.states)

    def __exit__(self, *exc):
        if self.states is not None:
            _set_rng_states(self.saved)
        return False


def _detached_like(args):
    """Leaves with the inputs' values and requires_grad flags (the rerun's own inputs)."""
    out = []
    for a in args:
        if isinstance(a, Tensor):
            d = a.detach()
            d.requires_grad_(a.requires_grad)
            out.append(d)
        else:
            out.append(a)
    return out


class _Rerun:
    """The saved-tensor hooks of one non-reentrant checkpoint: packing keeps the position of
    the tensor among those saved; unpacking reruns the function once and returns the tensor
    saved at that position in the rerun."""

    def __init__(self, function, args, kwargs, rng):
        self.function, self.args, self.kwargs, self.rng = function, args, kwargs, rng
        self.count = 0
        self.recomputed = None

    def pack(self, t):
        i = self.count
        self.count += 1
        return i

    def unpack(self, i):
        if self.recomputed is None:
            self._rerun()
        try:
            return self.recomputed[i]
        except IndexError:
            raise RuntimeError(
                "torch.utils.checkpoint: the recomputed forward saved fewer tensors than the "
                f"original ({len(self.recomputed)} against {self.count}): the checkpointed "
                "function must run the same ops each time it is called") from None

    def _rerun(self):
        saved = []

        def keep(t):
            # (the rerun's graph is not needed: only the values; a leaf, such as a parameter,
            # is the original itself)
            saved.append(t.detach() if t.requires_grad and t.grad_fn is not None else t)
            return len(saved) - 1

        args = _detached_like(self.args)
        with _ReplayRng(self.rng), grad_mode.enable_grad(), \
                saved_tensors_hooks(keep, lambda i: saved[i]):
            self.function(*args, **self.kwargs)
        if len(saved) != self.count:
            raise RuntimeError(
                f"torch.utils.checkpoint: A different number of tensors was saved during the "
                f"original forward and recomputation. Number of tensors saved during forward: "
                f"{self.count}. Number of tensors saved during recomputation: {len(saved)}.")
        self.recomputed = saved


def _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs):
    rng = _rng_states() if preserve_rng_state else None
    rerun = _Rerun(function, args, kwargs, rng)
    with saved_tensors_hooks(rerun.pack, rerun.unpack):
        return function(*args, **kwargs)


class CheckpointFunction(Function):
    """The reentrant checkpoint: the function runs under no_grad; its backward runs it again."""

    @staticmethod
    def forward(ctx, run_function, preserve_rng_state, *args):
        ctx.run_function = run_function
        ctx.rng = _rng_states() if preserve_rng_state else None
        ctx.tensor_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.others = [None if isinstance(a, Tensor) else a for a in args]
        ctx.requires = [isinstance(a, Tensor) and a.requires_grad for a in args]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        with grad_mode.no_grad():
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        from .. import autograd
        args = list(ctx.others)
        for i, t in zip(ctx.tensor_positions, ctx.saved_tensors):
            args[i] = t
        inputs = _detached_like(args)
        for i, flag in enumerate(ctx.requires):
            if isinstance(inputs[i], Tensor):
                inputs[i].requires_grad_(flag)
        with _ReplayRng(ctx.rng), grad_mode.enable_grad():
            outputs = ctx.run_function(*inputs)
        if isinstance(outputs, Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None) + tuple(i.grad if isinstance(i, Tensor) else None for i in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, early_stop=True, **kwargs):
    """``function(*args, **kwargs)``, keeping none of its intermediate results for backward:
    backward runs it again. Random ops replay the same numbers (``preserve_rng_state``)."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. use_reentrant=False is recommended; ember, as torch, uses "
                      "use_reentrant=True when it is not given.", stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if use_reentrant:
        if context_fn is not None:
            raise ValueError("Passing `context_fn` is only supported when use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if grad_mode.is_grad_enabled() and not any(
                isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          stacklevel=2)
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    if context_fn is not None:
        forward_ctx, recompute_ctx = context_fn()
        with forward_ctx:
            return _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs)
    return _checkpoint_without_reentrant(function, preserve_rng_state, args, kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (a Sequential or a list of modules) in ``segments`` parts, each but the
    last checkpointed."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter "
                      "should be passed explicitly. use_reentrant=False is recommended.",
                      stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    functions = list(functions)

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)
