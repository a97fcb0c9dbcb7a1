"""Scientific-computing idioms: least squares and linear solves through torch.linalg (with
gradients), eigen/SVD reconstructions, matrix_exp, special functions, per-sample gradients
with torch.func, a traced module replayed and reloaded with torch.jit, and a 3-d convolution."""
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


rng = np.random.default_rng(28)
A = torch.tensor(rng.standard_normal((6, 3)), dtype=torch.float64)
b = torch.tensor(rng.standard_normal(6), dtype=torch.float64)
sol = torch.linalg.lstsq(A, b.unsqueeze(-1)).solution.squeeze(-1)
normal = torch.linalg.solve(A.T @ A, A.T @ b)
print("lstsq:", r(sol), torch.allclose(sol, normal))

S = torch.tensor(rng.standard_normal((4, 4)), dtype=torch.float64)
S = S @ S.T + 4 * torch.eye(4, dtype=torch.float64)
S.requires_grad_(True)
L = torch.linalg.cholesky(S)
w, V = torch.linalg.eigh(S)
logdet = 2 * torch.log(torch.diagonal(L)).sum()
print("cholesky_logdet:", r(logdet), r(torch.linalg.slogdet(S).logabsdet))
print("eigh_values:", r(w), r((V @ torch.diag(w) @ V.T - S).abs().max() < 1e-10))
(logdet + w.sum()).backward()
print("grad_logdet_plus_trace:", r(S.grad))

M = torch.tensor(rng.standard_normal((3, 5)), dtype=torch.float64)
U, sv, Vh = torch.linalg.svd(M, full_matrices=False)
print("svd:", r(sv), r((U @ torch.diag(sv) @ Vh - M).abs().max() < 1e-12))
print("norms:", r(torch.linalg.norm(M)), r(torch.linalg.matrix_norm(M, ord=2)),
      r(torch.linalg.vector_norm(M, ord=1, dim=1)))
G = torch.tensor([[0.0, -0.5], [0.5, 0.0]], dtype=torch.float64)
print("matrix_exp_rotation:", r(torch.linalg.matrix_exp(G)))

x = torch.linspace(-3, 3, 7, dtype=torch.float64)
p = torch.linspace(0.05, 0.95, 5, dtype=torch.float64)
print("special:", r(torch.special.erf(x)), r(torch.special.ndtr(x)), r(torch.special.logit(p)),
      r(torch.special.gammaln(torch.tensor([0.5, 3.0, 10.0], dtype=torch.float64))),
      r(torch.special.xlogy(torch.tensor([0.0, 2.0]), torch.tensor([0.0, 3.0]))),
      r(torch.special.i0(torch.tensor([0.0, 1.0, 2.5]))))

model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
with torch.no_grad():
    for q in model.parameters():
        q.copy_(torch.tensor(rng.standard_normal(tuple(q.shape)).astype("float32")))
params = {k: v.detach() for k, v in model.named_parameters()}
xs = torch.tensor(rng.standard_normal((5, 3)).astype("float32"))
ys = torch.tensor(rng.standard_normal((5, 1)).astype("float32"))


def loss_fn(prm, x, y):
    return F.mse_loss(functional_call(model, prm, (x.unsqueeze(0),)), y.unsqueeze(0))


per_sample = vmap(grad(loss_fn), in_dims=(None, 0, 0))(params, xs, ys)
print("per_sample_grads:", {k: tuple(v.shape) for k, v in per_sample.items()},
      r(per_sample["0.weight"][2, 1]), r(per_sample["2.bias"].flatten()))

traced = torch.jit.trace(model, xs)
print("traced_matches:", torch.allclose(traced(xs * 2), model(xs * 2)))
buf = io.BytesIO()
torch.jit.save(traced, buf)
buf.seek(0)
loaded = torch.jit.load(buf)
print("loaded_matches:", torch.allclose(loaded(xs), model(xs)), r(loaded(xs[:2]).flatten()))

conv = nn.Conv3d(2, 3, kernel_size=(2, 3, 3), padding=(0, 1, 1), stride=(1, 2, 1))
with torch.no_grad():
    for q in conv.parameters():
        q.copy_(torch.tensor(rng.standard_normal(tuple(q.shape)).astype("float32") * 0.3))
vol = torch.tensor(rng.standard_normal((1, 2, 4, 6, 5)).astype("float32"), requires_grad=True)
out = F.max_pool3d(F.relu(conv(vol)), kernel_size=(1, 2, 2))
out.sum().backward()
print("conv3d:", tuple(out.shape), r(out.sum()), r(vol.grad.abs().sum()))
print("limits:", torch.finfo(torch.float64).eps, torch.iinfo(torch.int32).max)
