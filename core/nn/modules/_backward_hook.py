"""Support for ``Module.register_full_backward_hook``: identity autograd Functions around a
module's tensor inputs and outputs that see the gradients flowing through them."""
from __future__ import annotations

import ember


def _tensors(xs):
    return [i for i, x in enumerate(xs) if isinstance(x, ember.Tensor) and x.requires_grad]


class BackwardHook:
    def __init__(self, module, hooks, pre_hooks=()):
        self.module = module
        self.hooks = hooks
        self.pre_hooks = list(pre_hooks)
        self.grad_outputs = None
        self.n_inputs = 0
        outer = self

        class _Inputs(ember.autograd.Function):
            @staticmethod
            def forward(ctx, *xs):
                return tuple(x.view_as(x) for x in xs) if len(xs) > 1 else xs[0].view_as(xs[0])

            @staticmethod
            def backward(ctx, *grads):
                return outer._run_hooks(grads)

        class _Outputs(ember.autograd.Function):
            @staticmethod
            def forward(ctx, *xs):
                return tuple(x.view_as(x) for x in xs) if len(xs) > 1 else xs[0].view_as(xs[0])

            @staticmethod
            def backward(ctx, *grads):
                outer.grad_outputs = grads = outer._run_pre_hooks(grads)
                if outer.n_inputs == 0 and outer.hooks:
                    outer._run_hooks((None,))
                return grads if len(grads) > 1 else grads[0]

        self._inputs_fn, self._outputs_fn = _Inputs, _Outputs

    def _run_pre_hooks(self, grad_outputs):
        grad_outputs = tuple(grad_outputs)
        for hook in self.pre_hooks:
            res = hook(self.module, grad_outputs)
            if res is None:
                continue
            res = tuple(res) if isinstance(res, (tuple, list)) else (res,)
            if len(res) != len(grad_outputs):
                raise RuntimeError(f"Backward pre hook returned an invalid number of grad_output, "
                                   f"got {len(res)}, but expected {len(grad_outputs)}")
            grad_outputs = res
        return grad_outputs

    def _run_hooks(self, grad_inputs):
        grad_inputs = tuple(grad_inputs)
        for hook in self.hooks:
            res = hook(self.module, grad_inputs, self.grad_outputs)
            if res is not None:
                grad_inputs = tuple(res)
        return grad_inputs if len(grad_inputs) > 1 else grad_inputs[0]

    def _wrap(self, fn, xs):
        idx = _tensors(xs)
        if not idx:
            return xs, 0
        out = fn.apply(*[xs[i] for i in idx])
        out = out if isinstance(out, tuple) else (out,)
        xs = list(xs)
        for i, o in zip(idx, out):
            xs[i] = o
        return tuple(xs), len(idx)

    def setup_input_hook(self, args):
        args, self.n_inputs = self._wrap(self._inputs_fn, tuple(args))
        return args

    def setup_output_hook(self, result):
        if isinstance(result, ember.Tensor):
            out, _ = self._wrap(self._outputs_fn, (result,))
            return out[0]
        if isinstance(result, tuple):
            out, _ = self._wrap(self._outputs_fn, result)
            return out
        return result
