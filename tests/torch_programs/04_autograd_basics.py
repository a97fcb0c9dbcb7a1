"""Autograd basics: backward, accumulation, no_grad, detach, retain_grad, hooks, higher-order grads."""
import numpy as np
import torch


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


rng = np.random.default_rng(3)
x = torch.tensor(rng.standard_normal(4).astype("float32"), requires_grad=True)
w = torch.tensor((rng.standard_normal((3, 4)) * 0.3).astype("float32"), requires_grad=True)
print("leaf:", x.is_leaf, x.requires_grad, x.grad is None, x.grad_fn is None)

y = (w @ x).tanh()
loss = (y ** 2).sum()
print("y_requires_grad:", y.requires_grad, y.is_leaf, y.grad_fn is not None)
loss.backward()
print("loss:", r(loss.item()))
print("x_grad:", r(x.grad))
print("w_grad:", r(w.grad))

# gradients accumulate until zeroed
loss2 = (x * 3).sum()
loss2.backward()
print("x_grad_accumulated:", r(x.grad))
x.grad.zero_()
print("x_grad_zeroed:", r(x.grad))
x.grad = None

# non-scalar backward with an explicit gradient
out = x * torch.tensor([1.0, 2.0, 3.0, 4.0])
out.backward(torch.tensor([1.0, 0.5, 0.0, -1.0]))
print("vector_backward:", r(x.grad))
x.grad = None

# no_grad / detach / enable_grad / set_grad_enabled
with torch.no_grad():
    z = x * 2
    print("no_grad_requires_grad:", z.requires_grad, torch.is_grad_enabled())
    with torch.enable_grad():
        print("enable_grad_inside:", (x * 2).requires_grad)
print("grad_enabled_after:", torch.is_grad_enabled())
with torch.set_grad_enabled(False):
    print("set_grad_enabled_false:", (x + 1).requires_grad)
d = x.detach()
print("detach:", d.requires_grad, d.is_leaf)


@torch.no_grad()
def update(p):
    p -= 0.1 * p
    return p.requires_grad


print("no_grad_decorator:", update(torch.tensor([1.0], requires_grad=True)))

# retain_grad on a non-leaf
a = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
h = a * a
h.retain_grad()
s = (h * torch.tensor([1.0, 2.0, 3.0])).sum()
s.backward()
print("retain_grad_nonleaf:", r(h.grad))
print("leaf_grad:", r(a.grad))

# tensor hooks: observe and modify a gradient
seen = []
b = torch.tensor([0.5, 1.5], requires_grad=True)
m = b * 4
m.register_hook(lambda g: seen.append(g.tolist()))
handle = b.register_hook(lambda g: g * 10)
(m ** 2).sum().backward()
print("hook_seen:", r(seen))
print("hook_modified_grad:", r(b.grad))
handle.remove()
b.grad = None
(b * 1.0).sum().backward()
print("hook_removed_grad:", r(b.grad))

# autograd.grad with create_graph for a second derivative
t = torch.tensor([0.3, -1.2, 2.0], requires_grad=True)
f = (t ** 3 + torch.sin(t)).sum()
(g,) = torch.autograd.grad(f, t, create_graph=True)
print("first_derivative:", r(g))
print("first_derivative_requires_grad:", g.requires_grad)
(g2,) = torch.autograd.grad(g.sum(), t)
print("second_derivative:", r(g2))
f3 = (t.exp() * t).sum()
g = torch.autograd.grad(f3, t, create_graph=True)[0]
g.sum().backward()
print("second_derivative_via_backward:", r(t.grad))

# autograd.grad w.r.t. several inputs; allow_unused; retain_graph
p = torch.tensor(2.0, requires_grad=True)
q = torch.tensor(-3.0, requires_grad=True)
u = torch.tensor(1.0, requires_grad=True)
e = p * q + q ** 2
gp, gq, gu = torch.autograd.grad(e, [p, q, u], retain_graph=True, allow_unused=True)
print("multi_input_grad:", r(gp), r(gq), gu is None)
e.backward(retain_graph=True)
e.backward()
print("retain_graph_twice:", r(p.grad), r(q.grad))

# gradients through common ops
k = torch.tensor(rng.standard_normal((2, 3)).astype("float32"), requires_grad=True)
terms = [
    k.relu().sum(), k.sigmoid().mean(), k.exp().sum(), (k.abs() + 1).log().sum(),
    k.max(), k.softmax(dim=1)[:, 0].sum(), k.norm(), (k[:, 1:] * k[:, :-1]).sum(),
    k.clamp(-0.3, 0.3).sum(), k.view(3, 2).t().matmul(torch.ones(3, 1)).sum(),
    torch.where(k > 0, k * 2, k * -3).sum(), k.mean(dim=0).pow(2).sum(), k.std(),
]
for i, term in enumerate(terms):
    (gk,) = torch.autograd.grad(term, k)
    print(f"op_grad_{i}:", r(gk))

# requires_grad_ and in-place on a leaf copy
c = torch.ones(2).requires_grad_()
cc = c.clone()
cc.mul_(3)
cc.sum().backward()
print("grad_through_inplace_on_clone:", r(c.grad))
