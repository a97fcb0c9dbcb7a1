"""Physics-informed networks and higher-order autograd as people write them: a PINN for the 1D
viscous Burgers equation (an MLP u(x, t) with tanh, u_t, u_x and u_xx from torch.autograd.grad
with create_graph=True and grad_outputs=torch.ones_like(u), PDE residual plus initial and
boundary losses, a few Adam steps then LBFGS), a heat-equation residual, the Jacobians and
Hessians of torch.autograd.functional (vectorize=True/False, create_graph), torch.func
jacrev/jacfwd/hessian under vmap, a Laplacian computed two ways, and a small neural ODE step with
a hand-written RK4 integrator that is backpropagated through."""
import math

import numpy as np
import torch
import torch.nn as nn
from torch.autograd.functional import hessian, jacobian
from torch.func import hessian as fhessian
from torch.func import jacfwd, jacrev, vmap


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


class MLP(nn.Module):
    def __init__(self, n_in=2, hidden=16, depth=3, n_out=1):
        super().__init__()
        layers = [nn.Linear(n_in, hidden), nn.Tanh()]
        for _ in range(depth - 1):
            layers += [nn.Linear(hidden, hidden), nn.Tanh()]
        layers.append(nn.Linear(hidden, n_out))
        self.net = nn.Sequential(*layers)

    def forward(self, x, t):
        return self.net(torch.cat([x, t], dim=1))


def d(out, inp):
    return torch.autograd.grad(out, inp, grad_outputs=torch.ones_like(out),
                               create_graph=True, retain_graph=True)[0]


rng = np.random.default_rng(41)
nu = 0.01 / math.pi

# collocation points (interior), initial condition points and boundary points
n_f, n_0, n_b = 64, 16, 16
x_f = torch.tensor(rng.uniform(-1, 1, (n_f, 1)).astype("float32"), requires_grad=True)
t_f = torch.tensor(rng.uniform(0, 1, (n_f, 1)).astype("float32"), requires_grad=True)
x_0 = torch.tensor(np.linspace(-1, 1, n_0, dtype="float32")[:, None])
t_0 = torch.zeros_like(x_0)
u_0 = -torch.sin(math.pi * x_0)
t_b = torch.tensor(rng.uniform(0, 1, (n_b, 1)).astype("float32"))
x_b = torch.cat([-torch.ones(n_b // 2, 1), torch.ones(n_b // 2, 1)])
print("pinn_shapes:", list(x_f.shape), list(x_0.shape), list(x_b.shape), x_f.requires_grad)


def burgers_residual(model, x, t):
    u = model(x, t)
    u_t = d(u, t)
    u_x = d(u, x)
    u_xx = d(u_x, x)
    return u_t + u * u_x - nu * u_xx


def pinn_loss(model):
    f = burgers_residual(model, x_f, t_f)
    loss_f = f.pow(2).mean()
    loss_0 = torch.mean((model(x_0, t_0) - u_0) ** 2)
    loss_b = model(x_b, t_b).square().mean()
    return loss_f + loss_0 + loss_b, (loss_f, loss_0, loss_b)


model = fill(MLP(), 1)
u = model(x_f, t_f)
u_x, u_t = torch.autograd.grad(u, [x_f, t_f], grad_outputs=torch.ones_like(u),
                               create_graph=True)
u_xx = torch.autograd.grad(u_x.sum(), x_f, create_graph=True)[0]
print("u_head:", r(u[:4, 0]))
print("u_x_head:", r(u_x[:4, 0]), r(u_t[:4, 0]))
print("u_xx_head:", r(u_xx[:4, 0]), u_xx.requires_grad, u_xx.grad_fn is not None)
loss, parts = pinn_loss(model)
print("pinn_loss0:", r(loss.item()), r([p.item() for p in parts]))
loss.backward()
print("pinn_grad_norm0:", r(torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters()))))
print("x_f_grad_set:", x_f.grad is not None, r(x_f.grad.abs().sum()))
x_f.grad = None
t_f.grad = None

opt = torch.optim.Adam(model.parameters(), lr=3e-3)
adam_hist = []
for step in range(8):
    opt.zero_grad()
    loss, _ = pinn_loss(model)
    loss.backward()
    opt.step()
    adam_hist.append(loss.item())
print("pinn_adam:", r(adam_hist))

lbfgs = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5, history_size=5,
                          line_search_fn="strong_wolfe")


def closure():
    lbfgs.zero_grad()
    loss, _ = pinn_loss(model)
    loss.backward()
    return loss


lbfgs_hist = [lbfgs.step(closure).item() for _ in range(2)]
print("pinn_lbfgs:", r(lbfgs_hist))
loss, parts = pinn_loss(model)
print("pinn_final:", r(loss.item()), r([p.item() for p in parts]))
with torch.no_grad():
    grid_x = torch.linspace(-1, 1, 5)[:, None]
    print("pinn_pred:", r(model(grid_x, torch.full_like(grid_x, 0.5))[:, 0]))

# heat equation u_t = k u_xx on a 2-output network (u and a flux), with torch.autograd.grad over
# a tuple of outputs and allow_unused
heat = fill(MLP(hidden=8, depth=2, n_out=2), 2)
xh = torch.linspace(0, 1, 7).unsqueeze(1).requires_grad_()
th = torch.full((7, 1), 0.25, requires_grad=True)
out = heat(xh, th)
uh, qh = out[:, :1], out[:, 1:]
uh_t, uh_x = torch.autograd.grad(uh, (th, xh), torch.ones_like(uh), create_graph=True)
uh_xx = torch.autograd.grad(uh_x, xh, torch.ones_like(uh_x), create_graph=True)[0]
res = uh_t - 0.1 * uh_xx
flux = qh + uh_x  # q = -u_x constraint
spare = torch.zeros(3, requires_grad=True)
g_unused = torch.autograd.grad(qh.sum(), [xh, th, spare], allow_unused=True,
                               retain_graph=True)
print("heat_residual:", r(res[:, 0]))
print("heat_flux:", r(flux[:, 0]))
print("heat_unused:", [g is None for g in g_unused], r(g_unused[0][:3, 0]))
heat_loss = res.pow(2).mean() + flux.pow(2).mean()
heat_loss.backward()
print("heat_grads:", r(heat_loss), r(heat.net[0].weight.grad.sum()), r(xh.grad[:3, 0]))

# ---------------------------------------------------------------------------------------------
# torch.autograd.functional.jacobian / hessian


def field(x):  # R^3 -> R^2
    return torch.stack([x[0] * x[1] + torch.sin(x[2]), x[0] ** 2 * torch.exp(-x[1])])


def energy(x):  # R^3 -> R
    return (x[0] ** 2 * x[1] + torch.cos(x[1] * x[2]) + x.pow(3).sum() / 3)


x3 = torch.tensor([0.5, -0.3, 1.2])
J = jacobian(field, x3)
Jv = jacobian(field, x3, vectorize=True)
print("jacobian:", r(J), list(J.shape))
print("jacobian_vectorize_eq:", torch.allclose(J, Jv, atol=1e-6))
print("jacobian_fwd:", r(jacobian(field, x3, vectorize=True, strategy="forward-mode")))
H = hessian(energy, x3)
Hv = hessian(energy, x3, vectorize=True)
print("hessian:", r(H))
print("hessian_sym:", torch.allclose(H, H.T, atol=1e-6), torch.allclose(H, Hv, atol=1e-6))
Jt = jacobian(lambda a, b: (a * b).sum(0) + a[0], (torch.ones(2, 3), torch.arange(6.).view(2, 3)))
print("jacobian_tuple:", [list(j.shape) for j in Jt], r(Jt[0][1]), r(Jt[1][2]))
Ht = hessian(lambda a, b: (a ** 2 * b).sum(),
             (torch.tensor([1.0, 2.0]), torch.tensor([3.0, -1.0])))
print("hessian_tuple:", r(Ht[0][0]), r(Ht[0][1]), r(Ht[1][0]), r(Ht[1][1]))
# create_graph: differentiate the Jacobian again
xg = x3.clone().requires_grad_()
Jg = jacobian(field, xg, create_graph=True)
print("jacobian_create_graph:", Jg.requires_grad, r(torch.autograd.grad(Jg.pow(2).sum(), xg)[0]))
Jn = jacobian(field, xg)
print("jacobian_no_graph:", Jn.requires_grad)
Hg = hessian(energy, xg, create_graph=True)
print("hessian_trace_grad:", r(torch.autograd.grad(torch.trace(Hg), xg)[0]))

# Jacobian of a network's output wrt its input and wrt its flattened first weight
small = fill(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), 3)
print("net_jacobian:", r(jacobian(small, x3)))
print("net_hessian_out0:", r(hessian(lambda z: small(z)[0], x3)))

# ---------------------------------------------------------------------------------------------
# torch.func: jacrev / jacfwd / hessian with vmap over a batch


def scalar_u(params, xt):  # one point (2,) -> scalar
    w1, b1, w2, b2 = params
    h = torch.tanh(xt @ w1.T + b1)
    return (h @ w2.T + b2).squeeze(-1)


prng = np.random.default_rng(7)
params = tuple(torch.tensor(prng.standard_normal(s).astype("float32") * 0.7)
               for s in [(6, 2), (6,), (1, 6), (1,)])
pts = torch.tensor(prng.uniform(-1, 1, (5, 2)).astype("float32"))
grads_rev = vmap(jacrev(scalar_u, argnums=1), in_dims=(None, 0))(params, pts)
grads_fwd = vmap(jacfwd(scalar_u, argnums=1), in_dims=(None, 0))(params, pts)
hess_b = vmap(fhessian(scalar_u, argnums=1), in_dims=(None, 0))(params, pts)
print("func_grad:", r(grads_rev), list(grads_rev.shape))
print("func_rev_fwd_eq:", torch.allclose(grads_rev, grads_fwd, atol=1e-6))
print("func_hessian:", list(hess_b.shape), r(hess_b[0]), r(hess_b[3]))
lap_func = torch.diagonal(hess_b, dim1=-2, dim2=-1).sum(-1)
print("func_jacfwd_jacrev:", torch.allclose(
    vmap(jacfwd(jacrev(scalar_u, argnums=1), argnums=1), in_dims=(None, 0))(params, pts),
    hess_b, atol=1e-5))
pjac = jacrev(scalar_u, argnums=0)(params, pts[0])
print("func_param_jac:", [list(p.shape) for p in pjac], r(pjac[3]), r(pjac[2].sum()))

# the same Laplacian via plain autograd: second derivatives one coordinate at a time
xt = pts.clone().requires_grad_(True)
ub = scalar_u(params, xt)
g1 = torch.autograd.grad(ub.sum(), xt, create_graph=True)[0]
lap_auto = torch.zeros(5)
for i in range(2):
    lap_auto = lap_auto + torch.autograd.grad(g1[:, i].sum(), xt, create_graph=True)[0][:, i]
print("laplacian:", r(lap_func), r(lap_auto))
print("laplacian_match:", torch.allclose(lap_func, lap_auto, atol=1e-5),
      r((lap_func - lap_auto).abs().max() < 1e-5))
# backprop through the autograd Laplacian (third-order)
(lap_auto ** 2).sum().backward()
print("laplacian_third_order:", r(xt.grad))

# Laplacian of a radial function: known closed form in 3D, for 1/|x| shifted: f = |x|^2 * sum x
rad = lambda v: (v * v).sum() * v.sum()  # noqa: E731
v3 = torch.tensor([[1.0, 2.0, -1.0], [0.5, 0.0, 0.25]])
lap_rad = vmap(lambda v: torch.trace(fhessian(rad)(v)))(v3)
print("radial_laplacian:", r(lap_rad), r(10 * v3.sum(1)))

# ---------------------------------------------------------------------------------------------
# neural ODE: dz/dt = f(z, t), a hand-written RK4 integrator, backprop through all steps


class ODEFunc(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 12), nn.Tanh(), nn.Linear(12, 2))

    def forward(self, t, z):
        tt = torch.ones(z.shape[0], 1) * t
        return self.net(torch.cat([z, tt], dim=1))


def rk4(f, z0, t0, t1, steps):
    h = (t1 - t0) / steps
    z, t = z0, t0
    traj = [z0]
    for _ in range(steps):
        k1 = f(t, z)
        k2 = f(t + h / 2, z + h / 2 * k1)
        k3 = f(t + h / 2, z + h / 2 * k2)
        k4 = f(t + h, z + h * k3)
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t = t + h
        traj.append(z)
    return torch.stack(traj)


# RK4 on an ODE with a known solution: dz/dt = -z -> exp(-t)
zt = rk4(lambda t, z: -z, torch.tensor([[1.0, 2.0]]), 0.0, 1.0, 10)
print("rk4_exact:", r(zt[-1, 0]), r([math.exp(-1.0), 2 * math.exp(-1.0)]))

odefunc = fill(ODEFunc(), 4, scale=0.4)
z0 = torch.tensor(rng.standard_normal((4, 2)).astype("float32"), requires_grad=True)
target = torch.tensor(rng.standard_normal((4, 2)).astype("float32"))
traj = rk4(odefunc, z0, 0.0, 1.0, 6)
print("node_traj:", list(traj.shape), r(traj[-1]))
node_loss = nn.functional.mse_loss(traj[-1], target)
node_loss.backward()
print("node_grads:", r(node_loss), r(z0.grad), r(odefunc.net[0].weight.grad.sum()))
node_opt = torch.optim.Adam(odefunc.parameters(), lr=0.02)
node_hist = []
for _ in range(5):
    node_opt.zero_grad()
    l_ = nn.functional.mse_loss(rk4(odefunc, z0.detach(), 0.0, 1.0, 6)[-1], target)
    l_.backward()
    node_opt.step()
    node_hist.append(l_.item())
print("node_train:", r(node_hist))
# sensitivity of the end state wrt the initial state, by jacobian through the integrator
Jz = jacobian(lambda z: rk4(odefunc, z.view(1, 2), 0.0, 1.0, 4)[-1].view(2), z0[0].detach())
print("node_sensitivity:", r(Jz), r(torch.linalg.det(Jz)))
