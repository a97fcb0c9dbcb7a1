"""Module hooks against torch: full backward hooks on modules with several positional
arguments, and the private state-dict hooks checkpoint code registers."""
from collections import OrderedDict

import numpy as np
import torch

import ember


def _gate(m):
    class Gate(m.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = m.nn.Linear(3, 2)
            with m.no_grad():
                self.fc.weight.copy_(m.tensor([[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]]))
                self.fc.bias.fill_(0.1)

        def forward(self, a, mask, scale):
            return self.fc(a) * mask * scale
    return Gate()


def _as_list(g):
    return None if g is None else g.detach().to("cpu").tolist()


def test_full_backward_hook_grad_input_per_positional_argument():
    # torch: one grad_input entry per positional argument (None for a non-tensor, zeros for a
    # tensor that does not require grad); a hook's replacement is mapped back the same way
    out = []
    for m in (ember, torch):
        gate = _gate(m)
        seen = []

        def hook(mod, gi, go):
            seen.append([_as_list(g) for g in gi] + [len(go)])
            return (gi[0] * 2, None, None)
        gate.register_full_backward_hook(hook)
        a = m.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], requires_grad=True)
        gate(a, m.tensor([[1.0, 0.0], [1.0, 1.0]]), 2.0).sum().backward()
        out.append((seen, a.grad.tolist()))
    assert out[0] == out[1]
    assert out[1][0][0][1] == [[0.0, 0.0], [0.0, 0.0]] and out[1][0][0][2] is None


def test_private_state_dict_hooks():
    def rename(state_dict, prefix, *rest):
        for k in [k for k in state_dict if k.startswith(prefix + "old.")]:
            state_dict[k.replace(prefix + "old.", prefix + "fc.")] = state_dict.pop(k)

    def keep_weights(module, state_dict, prefix, local_metadata):
        return OrderedDict((k, v) for k, v in state_dict.items() if k.endswith("weight"))

    results = []
    for m in (ember, torch):
        gate = _gate(m)
        gate._register_load_state_dict_pre_hook(rename)
        seen = []
        gate._register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, *rest: seen.append(type(mod).__name__), with_module=True)
        ckpt = {"old.weight": m.ones(2, 3), "old.bias": m.zeros(2)}
        res = gate.load_state_dict(ckpt)
        gate._register_state_dict_hook(keep_weights)
        results.append((list(res.missing_keys), seen, gate.fc.weight.tolist(),
                        list(gate.state_dict())))
    assert results[0] == results[1]
    assert results[1][3] == ["fc.weight"]
    np.testing.assert_array_equal(results[0][2], np.ones((2, 3)))


def test_backward_hook_grad_output_is_none_for_an_output_without_gradient():
    seen = {}
    for m in (torch, ember):
        class Two(m.nn.Module):
            def forward(self, x):
                return x * 2, x * 3

        def hook(mm, gi, go, name=m.__name__):
            seen[name] = [g is None for g in go]

        mod = Two()
        mod.register_full_backward_hook(hook)
        x = m.ones(2, requires_grad=True)
        a, _ = mod(x)
        a.sum().backward()
        assert x.grad.tolist() == [2.0, 2.0]
    assert seen["ember"] == seen["torch"] == [False, True]
