"""Shared helpers: run the same module/function in torch and ember and compare outputs and
gradients (inputs and parameters)."""
from __future__ import annotations

import numpy as np
import pytest

import ember

RTOL, ATOL = 1e-4, 1e-5
NO_OPENCL = pytest.mark.skipif(
    "opencl" not in ember.backends.available(),
    reason="the opencl backend is not available here (needs pyopencl and an OpenCL device)")
DEVICES = ["cpu", pytest.param("opencl", marks=NO_OPENCL)]


def rng(seed=0):
    return np.random.default_rng(seed)


def randn(*shape, seed=0, scale=1.0):
    return (rng(seed).standard_normal(shape) * scale).astype(np.float32)


def to_numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "cpu") else x.detach().numpy()


def copy_state(torch_module, ember_module, strict=True):
    """Copy torch's parameters and buffers into the ember module (through NumPy)."""
    sd = {k: ember.tensor(v.detach().cpu().numpy()) for k, v in torch_module.state_dict().items()}
    return ember_module.load_state_dict(sd, strict=strict)


def _flatten(out):
    if out is None:
        return []
    if isinstance(out, (tuple, list)):
        res = []
        for o in out:
            res += _flatten(o)
        return res
    return [out]


def _make_inputs(torch, arrays, requires_grad):
    t_in, e_in = [], []
    for a, rg in zip(arrays, requires_grad):
        if isinstance(a, np.ndarray):
            t_in.append(torch.tensor(a, requires_grad=rg))
            e_in.append(ember.tensor(a, requires_grad=rg))
        else:
            t_in.append(a)
            e_in.append(a)
    return t_in, e_in


def assert_close(actual, expected, rtol=RTOL, atol=ATOL, what=""):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def check_same(torch, t_fn, e_fn, arrays, requires_grad=None, t_params=(), e_params=(),
               rtol=RTOL, atol=ATOL, grad_seed=123):
    """Call t_fn(*torch_inputs) and e_fn(*ember_inputs); compare every float output, then
    backpropagate the same random cotangents and compare input and parameter gradients."""
    if requires_grad is None:
        requires_grad = [isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays]
    t_in, e_in = _make_inputs(torch, arrays, requires_grad)
    t_out = _flatten(t_fn(*t_in))
    e_out = _flatten(e_fn(*e_in))
    assert len(t_out) == len(e_out)
    t_loss, e_loss = None, None
    for i, (t, e) in enumerate(zip(t_out, e_out)):
        assert tuple(e.shape) == tuple(t.shape), f"output {i}: {tuple(e.shape)} != {tuple(t.shape)}"
        assert_close(to_numpy(e), to_numpy(t), rtol, atol, f"output {i}")
        if t.requires_grad and t.dtype.is_floating_point:
            g = randn(*t.shape, seed=grad_seed + i)
            tl = (t * torch.tensor(g)).sum()
            el = (e * ember.tensor(g)).sum()
            t_loss = tl if t_loss is None else t_loss + tl
            e_loss = el if e_loss is None else e_loss + el
    if t_loss is None:
        return t_out, e_out
    t_loss.backward()
    e_loss.backward()
    for i, (t, e, rg) in enumerate(zip(t_in, e_in, requires_grad)):
        if rg:
            assert (e.grad is None) == (t.grad is None), f"input {i} grad presence"
            if t.grad is not None:
                assert_close(to_numpy(e.grad), to_numpy(t.grad), rtol, atol, f"grad of input {i}")
    t_named = dict(t_params)
    for name, ep in dict(e_params).items():
        tp = t_named[name]
        if tp.grad is None:
            assert ep.grad is None or np.all(to_numpy(ep.grad) == 0), f"grad of {name}"
            continue
        assert ep.grad is not None, f"grad of {name} is missing"
        assert_close(to_numpy(ep.grad), to_numpy(tp.grad), rtol, atol, f"grad of {name}")
    return t_out, e_out


def check_module(torch, t_mod, e_mod, arrays, requires_grad=None, rtol=RTOL, atol=ATOL,
                 call=None):
    """Copy t_mod's state into e_mod and compare outputs and all gradients."""
    copy_state(t_mod, e_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    call = call or (lambda m, *xs: m(*xs))
    return check_same(torch, lambda *xs: call(t_mod, *xs), lambda *xs: call(e_mod, *xs), arrays,
                      requires_grad, list(t_mod.named_parameters()),
                      list(e_mod.named_parameters()), rtol, atol)


def ember_repr(torch_repr: str) -> str:
    return torch_repr.replace("torch.", "ember.")


def compare(device, t_fn, e_fn, arrays, grad_of=None, rtol=1e-4, atol=1e-5):
    """Run t_fn on torch tensors and e_fn on ember tensors on ``device``; compare the outputs
    (shape, dtype, values) and the gradients of the float inputs listed in ``grad_of`` (all
    float inputs by default)."""
    import torch
    if grad_of is None:
        grad_of = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    t_in = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    e_in = [ember.tensor(a, device=device, requires_grad=i in grad_of)
            for i, a in enumerate(arrays)]
    t_out, e_out = t_fn(*t_in), e_fn(*e_in)
    assert e_out.device.type == device
    assert tuple(e_out.shape) == tuple(t_out.shape)
    assert e_out.dtype == getattr(ember, str(t_out.dtype).split(".")[1])
    assert_close(to_numpy(e_out), to_numpy(t_out), rtol, atol, "forward")
    if grad_of and t_out.requires_grad:
        g = randn(*t_out.shape, seed=11).astype(to_numpy(t_out).dtype)
        (t_out * torch.tensor(g)).sum().backward()
        (e_out * ember.tensor(g, device=device)).sum().backward()
        for i in grad_of:
            assert_close(to_numpy(e_in[i].grad), to_numpy(t_in[i].grad), rtol, atol,
                         f"grad {i}")
    return t_out, e_out


def gradcheck(fn, *arrays):
    inputs = [ember.tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
    assert ember.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-6)


def same_error(t_call, e_call, match=None):
    """Both raise the same exception class (and ember's message matches ``match``)."""
    with pytest.raises(Exception) as t_err:
        t_call()
    with pytest.raises(type(t_err.value), match=match):
        e_call()
