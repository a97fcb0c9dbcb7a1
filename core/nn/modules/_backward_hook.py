"""Support for ``Module.register_full_backward_hook``: identity autograd Functions around a
module's tensor inputs and outputs that see the gradients flowing through them."""
from __future__ import annotations

import ember


def _tensors(xs):
    return [i for i, x in enumerate(xs) if isinstance(x, ember.Tensor)]


class BackwardHook:
    """As torch's: ``grad_input`` has one entry per positional argument of the module (None
    for a non-tensor, zeros for a tensor that does not require grad), ``grad_output`` one per
    tensor output (None for an output that got no gradient)."""

    def __init__(self, module, hooks, pre_hooks=()):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = list(pre_hooks)
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_index = None
        outer = self

        class _Inputs(ember.autograd.Function):
            @staticmethod
            def forward(ctx, *xs):
                outs = tuple(x.view_as(x) for x in xs)
                # NOTE: as torch, an input that does not require grad gets a zero grad_input
                ctx.mark_non_differentiable(*[o for x, o in zip(xs, outs)
                                              if not x.requires_grad])
                return outs if len(outs) > 1 else outs[0]

            @staticmethod
            def backward(ctx, *grads):
                return outer._run_hooks(grads)

        class _Outputs(ember.autograd.Function):
            @staticmethod
            def forward(ctx, *xs):
                # NOTE: torch's pre hooks see None for an output that got no gradient
                ctx.set_materialize_grads(False)
                return tuple(x.view_as(x) for x in xs) if len(xs) > 1 else xs[0].view_as(xs[0])

            @staticmethod
            def backward(ctx, *grads):
                outer.grad_outputs = grads = outer._run_pre_hooks(grads)
                if outer.input_index is None and outer.hooks:
                    outer._call_hooks((None,) * outer.n_inputs)
                return grads if len(grads) > 1 else grads[0]

        self._inputs_fn, self._outputs_fn = _Inputs, _Outputs

    def _run_pre_hooks(self, grad_outputs):
        return _chain(self.pre_hooks, lambda hook, g: hook(self.module, g), tuple(grad_outputs),
                      "Backward pre hook", "grad_output")

    def _call_hooks(self, grad_inputs):
        return _chain(self.hooks, lambda hook, g: hook(self.module, g, self.grad_outputs),
                      grad_inputs, "Backward hook", "grad_input")

    def _run_hooks(self, grads):
        packed = [None] * self.n_inputs
        for i, g in zip(self.input_index, grads):
            packed[i] = g
        packed = self._call_hooks(tuple(packed))
        grads = tuple(packed[i] for i in self.input_index)
        return grads if len(grads) > 1 else grads[0]

    def _wrap(self, fn, xs):
        idx = _tensors(xs)
        if not idx or not ember.is_grad_enabled() or not any(xs[i].requires_grad
                                                             for i in idx):
            return xs, None
        out = fn.apply(*[xs[i] for i in idx])
        out = out if isinstance(out, tuple) else (out,)
        xs = list(xs)
        for i, o in zip(idx, out):
            xs[i] = o
        return tuple(xs), idx

    def setup_input_hook(self, args):
        args = tuple(args)
        self.n_inputs = len(args)
        args, self.input_index = self._wrap(self._inputs_fn, args)
        return args

    def setup_output_hook(self, result):
        if isinstance(result, ember.Tensor):
            out, _ = self._wrap(self._outputs_fn, (result,))
            return out[0]
        if isinstance(result, tuple):
            out, _ = self._wrap(self._outputs_fn, result)
            return out
        return result


def _chain(hooks, call, grads, who, what):
    """``call(hook, grads)`` for each hook in turn; a result that is not None replaces the
    gradients (torch's error when its length differs)."""
    for hook in hooks:
        res = call(hook, grads)
        if res is None:
            continue
        res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
        if len(res) != len(grads):
            raise RuntimeError(f"{who} returned an invalid number of {what}, got {len(res)}, "
                               f"but expected {len(grads)}")
        grads = res
    return grads
