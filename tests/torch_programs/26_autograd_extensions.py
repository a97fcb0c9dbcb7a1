"""Autograd extension points real code uses: a custom Function with save_for_backward,
mark_dirty and once_differentiable; tensor hooks and retain_grad; module full backward hooks;
activation checkpointing; manual SGD through .data and no_grad; version-counter errors."""
import numpy as np
import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


class ClampedExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, limit):
        y = x.exp().clamp(max=limit)
        ctx.save_for_backward(y)
        ctx.limit = limit
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad * y * (y < ctx.limit), None


class ScaleInPlace(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.mark_dirty(x)
        return x.mul_(3)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        return grad * 3


rng = np.random.default_rng(26)
x = torch.tensor(rng.standard_normal(5).astype("float32"), requires_grad=True)
y = ClampedExp.apply(x, 2.0)
y.sum().backward()
print("custom_fn:", r(y), r(x.grad))
print("grad_fn_name:", type(y.grad_fn).__name__.endswith("Backward"))

a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
b = a * 2
out = ScaleInPlace.apply(b)
print("mark_dirty_same_tensor:", out is b)
(out * out).sum().backward()
print("mark_dirty_grad:", r(a.grad))

# tensor hooks and retain_grad
seen = []
w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
h = w * w
h.retain_grad()
h.register_hook(lambda g: seen.append(r(g)) or g * 10)
(h.sum() * 2).backward()
print("hooks:", seen, r(h.grad), r(w.grad))

# module hooks
net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
with torch.no_grad():
    for p in net.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32")))
records = []
net[2].register_full_backward_hook(lambda m, gin, gout: records.append(
    (r(gin[0].sum()), r(gout[0].sum()))))
net[0].register_forward_pre_hook(lambda m, args: (args[0] * 2,))
inp = torch.tensor(rng.standard_normal((2, 3)).astype("float32"), requires_grad=True)
net(inp).pow(2).sum().backward()
print("module_hooks:", records, r(inp.grad))

# checkpointing recomputes the segment in backward and gives the same gradients
seg = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
with torch.no_grad():
    for p in seg.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.5))
z = torch.tensor(rng.standard_normal((3, 4)).astype("float32"), requires_grad=True)
checkpoint(seg, z, use_reentrant=False).sum().backward()
g_ckpt = [p.grad.clone() for p in seg.parameters()] + [z.grad.clone()]
seg.zero_grad()
z.grad = None
seg(z).sum().backward()
g_plain = [p.grad for p in seg.parameters()] + [z.grad]
print("checkpoint_same:", all(torch.allclose(a, b) for a, b in zip(g_ckpt, g_plain)),
      r(g_ckpt[0].sum()))

# the classic hand-written SGD loop
W = torch.tensor(rng.standard_normal((3, 1)).astype("float32"), requires_grad=True)
X = torch.tensor(rng.standard_normal((8, 3)).astype("float32"))
Y = X @ torch.tensor([[1.0], [-2.0], [0.5]])
for _ in range(5):
    loss = ((X @ W - Y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        W -= 0.1 * W.grad
    W.grad.zero_()
print("manual_sgd:", r(loss.item()), r(W.flatten()))
W.data.mul_(0.0)
print("data_edit:", r(W.flatten()), W.requires_grad, W.is_leaf)

# version counter: a saved tensor modified in place
p = torch.tensor([1.0, 2.0], requires_grad=True)
q = p.exp()
q2 = q * 1.0
s = (q * q).sum()
q.add_(1)
try:
    s.backward()
    print("inplace_error: none")
except RuntimeError as e:
    print("inplace_error:", "modified by an inplace operation" in str(e))
try:
    leaf = torch.ones(2, requires_grad=True)
    leaf.add_(1)
except RuntimeError as e:
    print("leaf_inplace_error:", "leaf Variable that requires grad" in str(e))
try:
    t = (p * 2).sum()
    t.backward()
    t.backward()
except RuntimeError as e:
    print("second_backward_error:", "second time" in str(e))
