"""Custom autograd.Function (the LegendrePolynomial3 tutorial example and friends)."""
import math

import numpy as np
import torch


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


class LegendrePolynomial3(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input ** 3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input ** 2 - 1)


class ScaledExp(torch.autograd.Function):
    """Two inputs, one a Python float; saves the output; returns None for the float."""

    @staticmethod
    def forward(ctx, x, scale):
        out = torch.exp(x) * scale
        ctx.save_for_backward(out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out, None


class MulAdd(torch.autograd.Function):
    """Two tensor inputs and two outputs; uses needs_input_grad."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b, a + b

    @staticmethod
    def backward(ctx, g_prod, g_sum):
        a, b = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g_prod * b + g_sum
        if ctx.needs_input_grad[1]:
            gb = g_prod * a + g_sum
        return ga, gb


# fit y = sin(x) with a + b * P3(c + d * x), as in "Learning PyTorch with Examples"
dtype = torch.float32
x = torch.linspace(-math.pi, math.pi, 2000, dtype=dtype)
y = torch.sin(x)
a = torch.full((), 0.0, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, dtype=dtype, requires_grad=True)
learning_rate = 5e-6
P3 = LegendrePolynomial3.apply
for t in range(300):
    y_pred = a + b * P3(c + d * x)
    loss = (y_pred - y).pow(2).sum()
    if t % 50 == 49:
        print(f"legendre_loss_{t}:", round(loss.item(), 4))
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None
print("legendre_result:", r([a.item(), b.item(), c.item(), d.item()]))

rng = np.random.default_rng(5)
u = torch.tensor(rng.standard_normal(5).astype("float32"), requires_grad=True)
out = ScaledExp.apply(u, 0.5)
print("scaled_exp:", r(out))
out.sum().backward()
print("scaled_exp_grad:", r(u.grad))

p = torch.tensor(rng.standard_normal(3).astype("float32"), requires_grad=True)
q = torch.tensor(rng.standard_normal(3).astype("float32"))
prod, total = MulAdd.apply(p, q)
(prod.sum() * 2 + (total ** 2).sum()).backward()
print("muladd_forward:", r(prod), r(total))
print("muladd_grad:", r(p.grad))
print("muladd_grad_other_none:", q.grad is None)

# mixing custom and built-in ops, then gradcheck in float64
v = torch.tensor(rng.standard_normal(4), dtype=torch.float64, requires_grad=True)
print("gradcheck_legendre:", torch.autograd.gradcheck(LegendrePolynomial3.apply, (v,), eps=1e-6, atol=1e-4))
w = torch.tensor(rng.standard_normal(4).astype("float32"), requires_grad=True)
z = (P3(w.tanh()) * w).sum()
z.backward()
print("mixed_grad:", r(w.grad))
