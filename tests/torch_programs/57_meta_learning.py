"""Meta-learning as people write it: MAML on tiny sine-wave regression tasks with a functional
MLP (a list of parameter tensors), inner-loop SGD steps from torch.autograd.grad with
create_graph=True, the meta-loss backpropagated through the inner steps into an outer Adam
step; the same with torch.func.functional_call on an nn.Module, first-order MAML (inner
gradients detached), a learned per-parameter inner learning rate (Meta-SGD), adaptation at
meta-test time, and Reptile, whose outer update is torch.no_grad() parameter arithmetic on a
deep-copied model."""
import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.5):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(
                (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


class SineTasks:
    """y = A sin(x + phase), A in [0.5, 2], phase in [0, pi]; support and query sets."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def sample(self, n_tasks, k_support=5, k_query=8):
        tasks = []
        for _ in range(n_tasks):
            amp = self.rng.uniform(0.5, 2.0)
            phase = self.rng.uniform(0, math.pi)
            xs = self.rng.uniform(-3, 3, (k_support + k_query, 1)).astype("float32")
            ys = (amp * np.sin(xs + phase)).astype("float32")
            x, y = torch.tensor(xs), torch.tensor(ys)
            tasks.append((x[:k_support], y[:k_support], x[k_support:], y[k_support:]))
        return tasks


def init_params(seed, sizes=(1, 16, 16, 1)):
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((n_out, n_in)) * math.sqrt(2.0 / n_in) * 0.7
        params.append(torch.tensor(w.astype("float32"), requires_grad=True))
        params.append(torch.zeros(n_out, requires_grad=True))
    return params


def forward(params, x):
    h = x
    n = len(params) // 2
    for i in range(n):
        h = F.linear(h, params[2 * i], params[2 * i + 1])
        if i < n - 1:
            h = torch.relu(h)
    return h


def adapt(params, x, y, inner_lr, steps, first_order=False, lrs=None):
    fast = list(params)
    for _ in range(steps):
        loss = F.mse_loss(forward(fast, x), y)
        grads = torch.autograd.grad(loss, fast, create_graph=not first_order)
        if first_order:
            grads = [g.detach() for g in grads]
        if lrs is None:
            fast = [p - inner_lr * g for p, g in zip(fast, grads)]
        else:
            fast = [p - lr * g for p, lr, g in zip(fast, lrs, grads)]
    return fast


tasks = SineTasks(57)
eval_tasks = tasks.sample(3)
print("task_shapes:", [list(t.shape) for t in eval_tasks[0]])

# ---------------------------------------------------------------------------------------------
# (a) second-order MAML with a functional MLP

params = init_params(1)
meta_opt = torch.optim.Adam(params, lr=0.01)
x_s, y_s, x_q, y_q = eval_tasks[0]
fast = adapt(params, x_s, y_s, inner_lr=0.05, steps=2)
print("fast_requires_grad:", [p.requires_grad for p in fast][:2], fast[0].grad_fn is not None)
q_loss = F.mse_loss(forward(fast, x_q), y_q)
q_loss.backward()
print("maml_first_meta_grad:", r(q_loss), r(params[1].grad[:4]), r(params[-1].grad))
# the same meta-gradient by autograd.grad straight to the initial parameters
meta_grads = torch.autograd.grad(
    F.mse_loss(forward(adapt(params, x_s, y_s, 0.05, 2), x_q), y_q), params)
print("maml_grad_matches:", all(torch.allclose(g, p.grad, atol=1e-6)
                                for g, p in zip(meta_grads, params)))
meta_opt.zero_grad()

maml_hist = []
for it in range(6):
    batch = tasks.sample(4)
    meta_opt.zero_grad()
    meta_loss = 0.0
    for x_s, y_s, x_q, y_q in batch:
        fast = adapt(params, x_s, y_s, inner_lr=0.05, steps=2)
        meta_loss = meta_loss + F.mse_loss(forward(fast, x_q), y_q)
    meta_loss = meta_loss / len(batch)
    meta_loss.backward()
    meta_opt.step()
    maml_hist.append(meta_loss.item())
print("maml_meta_loss:", r(maml_hist))
print("maml_params:", r(params[0][:4, 0]), r(params[-1]))


def evaluate(params, tasks, steps, inner_lr=0.05, lrs=None):
    before, after = [], []
    for x_s, y_s, x_q, y_q in tasks:
        before.append(F.mse_loss(forward(params, x_q), y_q).item())
        fast = adapt(params, x_s, y_s, inner_lr, steps, lrs=lrs)
        after.append(F.mse_loss(forward(fast, x_q), y_q).item())
    return before, after


before, after = evaluate(params, eval_tasks, steps=3)
print("maml_eval_before:", r(before))
print("maml_eval_after:", r(after))

# ---------------------------------------------------------------------------------------------
# (b) first-order MAML: the inner gradients are constants, the meta-gradient skips the Hessian

fo_params = init_params(1)
fo_opt = torch.optim.Adam(fo_params, lr=0.01)
x_s, y_s, x_q, y_q = eval_tasks[0]
fast_fo = adapt(fo_params, x_s, y_s, 0.05, 2, first_order=True)
fo_loss = F.mse_loss(forward(fast_fo, x_q), y_q)
fo_loss.backward()
print("fomaml_first_grad:", r(fo_loss), r(fo_params[-1].grad))
# first-order: the meta-gradient is the query gradient at the adapted weights
at_fast = [p.detach().requires_grad_() for p in fast_fo]
fast_grads = torch.autograd.grad(F.mse_loss(forward(at_fast, x_q), y_q), at_fast)
print("fomaml_is_query_grad:", all(torch.allclose(g, p.grad, atol=1e-6)
                                   for g, p in zip(fast_grads, fo_params)))
print("fomaml_vs_maml_differ:", not torch.allclose(fo_params[1].grad, meta_grads[1]))
fo_hist = []
for it in range(6):
    fo_opt.zero_grad()
    total = 0.0
    for x_s, y_s, x_q, y_q in tasks.sample(4):
        fast = adapt(fo_params, x_s, y_s, 0.05, 2, first_order=True)
        loss = F.mse_loss(forward(fast, x_q), y_q) / 4
        loss.backward()
        total += loss.item()
    fo_opt.step()
    fo_hist.append(total)
print("fomaml_meta_loss:", r(fo_hist))

# ---------------------------------------------------------------------------------------------
# (c) MAML on an nn.Module through functional_call, with a learned inner learning rate


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(1, 12), nn.Tanh(), nn.Linear(12, 12), nn.Tanh())
        self.head = nn.Linear(12, 1)

    def forward(self, x):
        return self.head(self.body(x))


model = fill(Regressor(), 3, scale=0.6)
names = [n for n, _ in model.named_parameters()]
log_lrs = nn.ParameterList([nn.Parameter(torch.full_like(p, math.log(0.05)))
                            for p in model.parameters()])
outer = torch.optim.Adam([{"params": model.parameters()},
                          {"params": log_lrs.parameters(), "lr": 0.003}], lr=0.01)
print("meta_sgd_groups:", [len(g["params"]) for g in outer.param_groups], names[:3])

meta_sgd_hist = []
for it in range(5):
    outer.zero_grad()
    meta_loss = 0.0
    for x_s, y_s, x_q, y_q in tasks.sample(3):
        weights = dict(model.named_parameters())
        for _ in range(2):
            loss = F.mse_loss(functional_call(model, weights, (x_s,)), y_s)
            grads = torch.autograd.grad(loss, list(weights.values()), create_graph=True)
            weights = {n: w - lr.exp() * g
                       for (n, w), lr, g in zip(weights.items(), log_lrs, grads)}
        meta_loss = meta_loss + F.mse_loss(functional_call(model, weights, (x_q,)), y_q)
    (meta_loss / 3).backward()
    outer.step()
    meta_sgd_hist.append(meta_loss.item() / 3)
print("meta_sgd_loss:", r(meta_sgd_hist))
print("meta_sgd_lrs:", r([lr.exp().mean().item() for lr in log_lrs]))
print("meta_sgd_head:", r(model.head.weight[0, :4]), r(model.head.bias))
print("module_params_are_leaves:", all(p.is_leaf for p in model.parameters()),
      model.head.weight.grad is not None)

# ---------------------------------------------------------------------------------------------
# (d) Reptile: adapt a copy with an ordinary optimiser, then move the initialisation towards it

reptile = fill(Regressor(), 4, scale=0.6)
reptile_hist = []
eps = 0.5
for it in range(4):
    x_s, y_s, x_q, y_q = tasks.sample(1, k_support=10, k_query=5)[0]
    learner = copy.deepcopy(reptile)
    inner = torch.optim.SGD(learner.parameters(), lr=0.02)
    for _ in range(5):
        inner.zero_grad()
        F.mse_loss(learner(x_s), y_s).backward()
        inner.step()
    with torch.no_grad():
        for p, q in zip(reptile.parameters(), learner.parameters()):
            p.add_(q - p, alpha=eps)
        reptile_hist.append(F.mse_loss(reptile(x_q), y_q).item())
print("reptile_query_loss:", r(reptile_hist))
print("reptile_params:", r(reptile.head.weight[0, :4]), r(reptile.body[0].bias[:3]))
print("reptile_no_grads:", all(p.grad is None for p in reptile.parameters()))

# batched Reptile: average the task deltas with torch.no_grad() and a parameter vector
vec0 = torch.nn.utils.parameters_to_vector(reptile.parameters())
deltas = []
for x_s, y_s, _, _ in tasks.sample(3, k_support=8, k_query=2):
    learner = copy.deepcopy(reptile)
    inner = torch.optim.SGD(learner.parameters(), lr=0.02, momentum=0.5)
    for _ in range(3):
        inner.zero_grad()
        F.mse_loss(learner(x_s), y_s).backward()
        inner.step()
    deltas.append(torch.nn.utils.parameters_to_vector(learner.parameters()).detach() - vec0)
with torch.no_grad():
    new_vec = vec0 + 0.5 * torch.stack(deltas).mean(0)
    torch.nn.utils.vector_to_parameters(new_vec, reptile.parameters())
print("reptile_batched:", list(vec0.shape), r(torch.stack(deltas).norm(dim=1)),
      r(reptile.head.bias))
x_s, y_s, x_q, y_q = eval_tasks[1]
print("reptile_eval:", r(F.mse_loss(reptile(x_q), y_q)))
