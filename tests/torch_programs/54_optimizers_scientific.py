"""Numerical optimisation and scientific computing: every torch.optim optimiser on the
Rosenbrock function with its less common options (SGD nesterov/dampening/maximize, Adam amsgrad,
AdamW, RMSprop centered with momentum, Adagrad lr_decay, Adadelta, Adamax, NAdam momentum_decay
and decoupled weight decay, RAdam decoupled, ASGD with its averaged iterate, Rprop step sizes,
LBFGS with strong Wolfe line search), optimiser state_dict round trips that continue the same
trajectory, add_param_group, ReduceLROnPlateau; torch.linalg on well-conditioned problems
(lstsq, solve_triangular left/right/unitriangular, cholesky/cholesky_solve, lu_factor/lu_solve,
eigh, svd-based PCA with a sign convention, pinv, matrix_exp propagating a linear ODE against
RK4, vector_norm/matrix_norm orders, det/slogdet, qr); torch.func (grad, grad_and_value,
vmap with in_dims, jacrev, jacfwd, hessian, vjp, jvp, functional_call) on small functions."""
import copy
import math

import numpy as np
import torch
import torch.nn as nn


def r(v, nd=5):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x, nd) for x in v]
    return round(v, nd) if isinstance(v, float) else v


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


def rosen(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2


# ---------------------------------------------------------------------------------------------
# (a) every optimiser on Rosenbrock

CONFIGS = [
    ("sgd_nesterov", torch.optim.SGD, dict(lr=5e-4, momentum=0.9, nesterov=True)),
    ("sgd_dampening", torch.optim.SGD, dict(lr=5e-4, momentum=0.8, dampening=0.3,
                                            weight_decay=0.01)),
    ("sgd_maximize", torch.optim.SGD, dict(lr=2e-4, momentum=0.5, maximize=True)),
    ("adam_amsgrad", torch.optim.Adam, dict(lr=0.02, amsgrad=True, weight_decay=0.1)),
    ("adamw", torch.optim.AdamW, dict(lr=0.02, weight_decay=0.5)),
    ("adamw_amsgrad", torch.optim.AdamW, dict(lr=0.02, amsgrad=True, betas=(0.8, 0.9))),
    ("rmsprop_centered", torch.optim.RMSprop, dict(lr=3e-3, centered=True, momentum=0.5)),
    ("rmsprop_wd", torch.optim.RMSprop, dict(lr=3e-3, alpha=0.9, weight_decay=0.1)),
    ("adagrad_lr_decay", torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.01,
                                                   initial_accumulator_value=0.1)),
    ("adadelta", torch.optim.Adadelta, dict(lr=1.0, rho=0.8, weight_decay=0.01)),
    ("adamax", torch.optim.Adamax, dict(lr=0.02, weight_decay=0.01)),
    ("nadam", torch.optim.NAdam, dict(lr=0.02, momentum_decay=0.01)),
    ("nadam_decoupled", torch.optim.NAdam, dict(lr=0.02, weight_decay=0.1,
                                                decoupled_weight_decay=True)),
    ("radam", torch.optim.RAdam, dict(lr=2e-3)),
    ("radam_decoupled", torch.optim.RAdam, dict(lr=2e-3, weight_decay=0.1,
                                                decoupled_weight_decay=True)),
    ("asgd", torch.optim.ASGD, dict(lr=5e-4, t0=5, lambd=1e-3)),
    ("rprop", torch.optim.Rprop, dict(lr=0.01, etas=(0.4, 1.3), step_sizes=(1e-4, 0.5))),
]
for name, cls, kw in CONFIGS:
    p = nn.Parameter(torch.tensor([-1.2, 1.0]))
    opt = cls([p], **kw)
    vals = []
    for it in range(30):
        opt.zero_grad()
        loss = -rosen(p) if kw.get("maximize") else rosen(p)
        loss.backward()
        opt.step()
        if it % 10 == 9:
            vals.append(loss.item())
    print(f"opt_{name}:", r(vals, 4), r(p, 4))
    if name == "asgd":
        print("asgd_ax:", r(opt.state[p]["ax"], 4), r(opt.state[p]["eta"].item(), 6),
              r(opt.state[p]["mu"].item(), 4))
    if name == "rprop":
        print("rprop_step_size:", r(opt.state[p]["step_size"], 4), r(opt.state[p]["prev"], 4))
    if name == "nadam":
        print("nadam_mu_product:", r(math.log(opt.state[p]["mu_product"].item()), 4))

# NOTE: float64, as scientific code runs L-BFGS: in float32 the strong-Wolfe search turns a
# one-ulp difference at evaluation 9 into 2e-4 by the second step (measured against torch;
# in float64 the two agree to 1e-13 at every evaluation)
for ls in (None, "strong_wolfe"):
    p = nn.Parameter(torch.tensor([-1.2, 1.0], dtype=torch.float64))
    opt = torch.optim.LBFGS([p], lr=1 if ls else 0.05, max_iter=20, history_size=5,
                            line_search_fn=ls)
    evals = [0]

    def closure():
        opt.zero_grad()
        loss = rosen(p)
        loss.backward()
        evals[0] += 1
        return loss

    losses = [opt.step(closure).item() for _ in range(3)]
    print(f"lbfgs_{ls}:", r(losses, 4), r(p, 3), evals[0] if ls is None else evals[0] > 3,
          opt.state[opt._params[0]]["n_iter"])

# state_dict round trip continues the same trajectory
p1 = nn.Parameter(torch.tensor([0.5, -0.5]))
o1 = torch.optim.Adam([p1], lr=0.05, amsgrad=True)
for _ in range(3):
    o1.zero_grad()
    rosen(p1).backward()
    o1.step()
p2 = nn.Parameter(p1.detach().clone())
o2 = torch.optim.Adam([p2], lr=0.123)
o2.load_state_dict(o1.state_dict())
for p, o in ((p1, o1), (p2, o2)):
    for _ in range(3):
        o.zero_grad()
        rosen(p).backward()
        o.step()
# load_state_dict keeps the very tensors of o1's state (same dtype and device: no copy), so
# o1's three further steps move o2's moments too and the two trajectories part
print("state_dict_aliased:", torch.allclose(p1, p2), o2.param_groups[0]["lr"],
      o2.param_groups[0]["amsgrad"], sorted(o2.state_dict()["state"][0]))
p3 = nn.Parameter(torch.tensor([0.5, -0.5]))
o3 = torch.optim.RMSprop([p3], lr=0.01, momentum=0.5, centered=True)
for _ in range(2):
    o3.zero_grad()
    rosen(p3).backward()
    o3.step()
saved = copy.deepcopy(o3.state_dict())
p4 = nn.Parameter(p3.detach().clone())
o4 = torch.optim.RMSprop([p4], lr=0.01)
o4.load_state_dict(saved)
for p, o in ((p3, o3), (p4, o4)):
    for _ in range(3):
        o.zero_grad()
        rosen(p).backward()
        o.step()
print("state_dict_resume:", torch.equal(p3, p4), r(p4), o4.param_groups[0]["centered"],
      sorted(o4.state[p4]))
extra = nn.Parameter(torch.ones(3))
o1.add_param_group({"params": [extra], "lr": 0.5})
print("add_param_group:", len(o1.param_groups), o1.param_groups[1]["betas"],
      o1.param_groups[1]["lr"])
plateau_p = nn.Parameter(torch.zeros(1))
po = torch.optim.SGD([plateau_p], lr=1.0)
pl = torch.optim.lr_scheduler.ReduceLROnPlateau(po, factor=0.5, patience=1, threshold=0.01,
                                                cooldown=1, min_lr=0.1)
lrs = []
for metric in [1.0, 0.9, 0.95, 0.91, 0.9, 0.89, 0.95, 0.97, 0.99, 1.0, 1.1, 1.2]:
    po.step()
    pl.step(metric)
    lrs.append(po.param_groups[0]["lr"])
print("plateau_lrs:", r(lrs))

# ---------------------------------------------------------------------------------------------
# (b) linear algebra

A = data(1, (6, 4))
b = data(2, (6, 2))
sol = torch.linalg.lstsq(A, b).solution
normal = torch.linalg.solve(A.T @ A, A.T @ b)
print("lstsq:", r(sol[:, 0], 4), torch.allclose(sol, normal, atol=1e-4))
print("pinv_eq_lstsq:", torch.allclose(torch.linalg.pinv(A) @ b, sol, atol=1e-4))
M = A.T @ A + torch.eye(4)
L = torch.linalg.cholesky(M)
print("cholesky_diag:", r(L.diagonal(), 4), torch.allclose(L @ L.T, M, atol=1e-4))
rhs = data(3, (4, 3))
x_cs = torch.cholesky_solve(rhs, L)
print("cholesky_solve:", torch.allclose(M @ x_cs, rhs, atol=1e-4), r(x_cs[0], 4))
x_up = torch.cholesky_solve(rhs, L.T, upper=True)
print("cholesky_solve_upper:", torch.allclose(x_up, x_cs, atol=1e-4))
x_tri = torch.linalg.solve_triangular(L, rhs, upper=False)
print("solve_triangular:", torch.allclose(L @ x_tri, rhs, atol=1e-4), r(x_tri[:, 0], 4))
x_right = torch.linalg.solve_triangular(L.T, rhs.T, upper=True, left=False)
print("solve_triangular_right:", torch.allclose(x_right @ L.T, rhs.T, atol=1e-4))
x_unit = torch.linalg.solve_triangular(L, rhs, upper=False, unitriangular=True)
Lu = L.tril(-1) + torch.eye(4)
print("solve_triangular_unit:", torch.allclose(Lu @ x_unit, rhs, atol=1e-4))
LU, piv = torch.linalg.lu_factor(M + 0.5 * A[:4])
print("lu_solve:", torch.allclose(torch.linalg.lu_solve(LU, piv, rhs),
                                  torch.linalg.solve(M + 0.5 * A[:4], rhs), atol=1e-4),
      piv.dtype, piv.tolist())
evals, evecs = torch.linalg.eigh(M)
print("eigh:", r(evals, 4), torch.allclose(evecs @ torch.diag(evals) @ evecs.T, M, atol=1e-4))
print("eigvalsh_upper:", r(torch.linalg.eigvalsh(M.triu(), UPLO="U"), 4))
print("det_slogdet:", r(torch.linalg.det(M).item(), 3), r(list(torch.linalg.slogdet(M)), 4))
Q, R = torch.linalg.qr(A)
print("qr:", tuple(Q.shape), tuple(R.shape), torch.allclose(Q @ R, A, atol=1e-5),
      torch.allclose(Q.T @ Q, torch.eye(4), atol=1e-5))
print("qr_complete:", tuple(torch.linalg.qr(A, mode="complete").Q.shape))
print("norms:", r([torch.linalg.vector_norm(A, ord=o).item() for o in (1, 2, 3, math.inf)], 4),
      r([torch.linalg.matrix_norm(M, ord=o).item() for o in ("fro", "nuc", 1, -1, 2)], 3))
print("cond:", r(torch.linalg.cond(M).item(), 3), torch.linalg.matrix_rank(A).item())

# PCA via SVD with a deterministic sign convention
X = data(4, (20, 5)) @ torch.tensor([[2.0, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0.5, 0, 0],
                                      [0, 0, 0, 0.2, 0], [0, 0, 0, 0, 0.1]])
Xc = X - X.mean(0)
U, S, Vh = torch.linalg.svd(Xc, full_matrices=False)
signs = torch.sign(Vh[torch.arange(5), Vh.abs().argmax(1)])
Vh = Vh * signs[:, None]
scores = Xc @ Vh[:2].T
print("pca_singular:", r(S, 4))
print("pca_explained:", r((S ** 2 / (S ** 2).sum())[:3], 4))
print("pca_components:", r(Vh[0], 4))
print("pca_score_var:", r(scores.var(0), 4))
print("svdvals_eq:", torch.allclose(torch.linalg.svdvals(Xc), S, atol=1e-4))
print("pca_lowrank_recon:", r((Xc - (U[:, :2] * S[:2]) @ (Vh[:2] * signs[:2, None])).norm()
                              .item(), 4))

# linear ODE x' = K x: matrix_exp against RK4
K = torch.tensor([[0.0, 1.0, 0.0], [-2.0, -0.3, 0.5], [0.0, -0.5, -0.1]])
x0 = torch.tensor([1.0, 0.0, -0.5])
dt, n = 0.05, 40
exact = torch.linalg.matrix_exp(K * dt * n) @ x0
step = torch.linalg.matrix_exp(K * dt)
xs = [x0]
for _ in range(n):
    xs.append(step @ xs[-1])
traj = torch.stack(xs)
xr = x0.clone()
for _ in range(n):
    k1 = K @ xr
    k2 = K @ (xr + dt / 2 * k1)
    k3 = K @ (xr + dt / 2 * k2)
    k4 = K @ (xr + dt * k3)
    xr = xr + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
print("ode_matrix_exp:", r(exact, 4), torch.allclose(traj[-1], exact, atol=1e-4),
      torch.allclose(xr, exact, atol=1e-4))
print("ode_energy:", r(traj.pow(2).sum(1)[::10], 4))
print("matrix_power:", torch.allclose(torch.linalg.matrix_power(step, n), torch.linalg
                                      .matrix_exp(K * dt * n), atol=1e-4))

# ---------------------------------------------------------------------------------------------
# (c) torch.func


def f(w, x):
    return torch.tanh(x @ w).pow(2).sum() + 0.5 * (w ** 2).sum()


w = torch.tensor([0.3, -0.2, 0.5])
xb = data(5, (4, 3))
g = torch.func.grad(f)(w, xb)
gv, val = torch.func.grad_and_value(f)(w, xb)
print("func_grad:", r(g), r(val.item()), torch.allclose(gv, g))
print("func_grad_argnums:", r(torch.func.grad(f, argnums=1)(w, xb)[0]))
per_ex = torch.func.vmap(torch.func.grad(f), in_dims=(None, 0))(w, xb)
print("per_example_grads:", tuple(per_ex.shape), r(per_ex[2]))
H = torch.func.hessian(f)(w, xb)
print("hessian:", r(H, 4), torch.allclose(H, H.T, atol=1e-5))
jr = torch.func.jacrev(lambda v: torch.sin(v) * v.sum())(w)
jf = torch.func.jacfwd(lambda v: torch.sin(v) * v.sum())(w)
print("jacrev_eq_jacfwd:", torch.allclose(jr, jf, atol=1e-6), r(jr[1]))
out, vjp_fn = torch.func.vjp(lambda v: v.exp() * 2, w)
print("vjp:", r(vjp_fn(torch.ones(3))[0]))
_, tangent = torch.func.jvp(lambda v: (v ** 3).sum(), (w,), (torch.tensor([1.0, 0.0, 2.0]),))
print("jvp:", r(tangent.item()))
batched = torch.func.vmap(lambda a, b: a @ b, in_dims=(0, None))(data(6, (5, 2, 3)), w)
print("vmap_matmul:", tuple(batched.shape), r(batched[4]))
print("vmap_out_dims:", tuple(torch.func.vmap(lambda a: a * 2, out_dims=1)(xb).shape))

net = nn.Linear(3, 2)
with torch.no_grad():
    net.weight.copy_(torch.tensor([[0.1, 0.2, 0.3], [-0.3, 0.1, 0.0]]))
    net.bias.copy_(torch.tensor([0.05, -0.05]))
params = {k: v.detach() for k, v in net.named_parameters()}


def loss_fn(prm, x, y):
    return ((torch.func.functional_call(net, prm, (x,)) - y) ** 2).mean()


ys = data(7, (4, 2))
pg = torch.func.grad(loss_fn)(params, xb, ys)
print("functional_call_grad:", sorted(pg), r(pg["weight"][0]), r(pg["bias"]))
pe = torch.func.vmap(torch.func.grad(loss_fn), in_dims=(None, 0, 0))(
    params, xb.unsqueeze(1), ys.unsqueeze(1))
print("per_sample_mean_eq:", torch.allclose(pe["weight"].mean(0), pg["weight"], atol=1e-6))
newton = w.clone()
for _ in range(4):
    newton = newton - torch.linalg.solve(torch.func.hessian(f)(newton, xb),
                                         torch.func.grad(f)(newton, xb))
print("newton:", r(newton, 4), r(torch.func.grad(f)(newton, xb).abs().max().item() < 1e-4))

# ---------------------------------------------------------------------------------------------
# (d) model ensembles and auxiliary outputs with torch.func

models = [nn.Linear(3, 2) for _ in range(3)]
with torch.no_grad():
    for i, mdl in enumerate(models):
        mdl.weight.copy_(torch.arange(6.0).reshape(2, 3) / (i + 2) - 0.5)
        mdl.bias.fill_(0.1 * i)
stacked, bufs = torch.func.stack_module_state(models)
print("stack_module_state:", sorted(stacked), tuple(stacked["weight"].shape), bufs)
base_model = copy.deepcopy(models[0])     # (torch's tutorial moves it to "meta")


def run_one(prm, buf, x):
    return torch.func.functional_call(base_model, (prm, buf), (x,))


ens = torch.func.vmap(run_one, in_dims=(0, 0, None))(stacked, bufs, xb)
print("ensemble:", tuple(ens.shape), r(ens[2, 1]), torch.allclose(ens[1], models[1](xb),
                                                                   atol=1e-6))


def with_aux(v):
    y = torch.sin(v) * 2
    return y.sum(), {"y": y.detach()}


ga, aux = torch.func.grad(with_aux, has_aux=True)(w)
print("grad_has_aux:", r(ga), r(aux["y"]))
ja, aux2 = torch.func.jacrev(lambda v: (v.exp(), v.sum()), has_aux=True)(w)
print("jacrev_has_aux:", r(ja.diagonal()), r(aux2.item()))
jac = torch.autograd.functional.jacobian(lambda v: v ** 2 * v.sum(), w, vectorize=True)
hes = torch.autograd.functional.hessian(lambda v: (v ** 3).sum() * v[0], w)
print("autograd_functional:", r(jac[0]), r(hes[0]))
vh = torch.autograd.functional.vhp(lambda v: (v ** 3).sum(), w, torch.ones(3))
print("vhp:", r(vh[1]))
print("vmap_nested:", r(torch.func.vmap(torch.func.vmap(lambda a, b: a * b + 1))(
    xb, xb.flip(0))[1]))
print("vmap_chunk:", torch.equal(torch.func.vmap(torch.sin, chunk_size=2)(xb), torch.sin(xb)))
