"""torch.func idioms as people write them: functional_call with a module's parameters and
buffers (a dict, a tuple of dicts, tied weights, strict mode), per-sample gradients with
vmap(grad(loss), in_dims=(None, None, 0, 0)) checked against a loop, an ensemble through
stack_module_state, jacrev/jacfwd/hessian of small functions (argnums, has_aux), vjp and jvp
(with has_aux), linearize, forward-mode AD with torch.autograd.forward_ad (dual_level,
make_dual, unpack_dual) for a Jacobian-vector product of a network, and
torch.autograd.functional hvp/vhp/vjp/jvp."""
import numpy as np
import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
import torch.nn.functional as F
from torch.func import (functional_call, grad, grad_and_value, hessian, jacfwd, jacrev, jvp,
                        linearize, stack_module_state, vjp, vmap)


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


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, x):
        return self.fc2(torch.tanh(self.bn(self.fc1(x)))) * self.scale


# ---------------------------------------------------------------------------------------------
# (a) functional_call

net = fill(Net(), 1)
net.eval()
x = data(2, (5, 4))
params = {k: v.detach() for k, v in net.named_parameters()}
buffers = {k: v.detach() for k, v in net.named_buffers()}
print("param_names:", list(params))
print("buffer_names:", list(buffers))
out_module = net(x)
out_func = functional_call(net, (params, buffers), (x,))
print("functional_call_same:", torch.allclose(out_module, out_func), r(out_func[0]))
doubled = {k: v * 2 for k, v in params.items()}
out_doubled = functional_call(net, {**doubled, **buffers}, x)
print("functional_call_doubled:", r(out_doubled[:2]))
print("module_unchanged:", torch.allclose(net(x), out_module), r(net.fc1.weight[0]))
out_scale = functional_call(net, {"scale": torch.tensor(0.5)}, args=(x,))
print("functional_call_buffer_only:", r(out_scale[1]))
out_kw = functional_call(nn.Linear(4, 2), {"weight": torch.ones(2, 4), "bias": torch.zeros(2)},
                         args=(), kwargs={"input": x[:2]})
print("functional_call_kwargs:", r(out_kw))
try:
    functional_call(net, {"fc1.weight": params["fc1.weight"]}, (x,), strict=True)
    print("strict_error: no error")
except RuntimeError as e:
    print("strict_error:", type(e).__name__, "Missing key" in str(e))

# gradients w.r.t. the dict of parameters (a pure function of params)
y = torch.tensor([0, 2, 1, 1, 0])


def loss_fn(p, b, xb, yb):
    return F.cross_entropy(functional_call(net, (p, b), (xb,)), yb)


g = grad(loss_fn)(params, buffers, x, y)
print("grad_dict_keys:", list(g))
print("grad_dict:", r(g["fc2.bias"]), r(g["fc1.weight"].sum()))
net.zero_grad()
loss_fn(dict(net.named_parameters()), buffers, x, y).backward()
print("grad_matches_backward:", all(torch.allclose(g[k], p.grad, atol=1e-6)
                                    for k, p in net.named_parameters()))
gv, val = grad_and_value(loss_fn)(params, buffers, x, y)
print("grad_and_value:", r(val), r(gv["bn.weight"]))

# ---------------------------------------------------------------------------------------------
# (b) per-sample gradients: vmap(grad(...)) with in_dims


def sample_loss(p, b, xi, yi):
    out = functional_call(net, (p, b), (xi.unsqueeze(0),))
    return F.cross_entropy(out, yi.unsqueeze(0))


per_sample = vmap(grad(sample_loss), in_dims=(None, None, 0, 0))(params, buffers, x, y)
print("per_sample_shapes:", {k: list(v.shape) for k, v in per_sample.items()})
print("per_sample_fc2_bias:", r(per_sample["fc2.bias"]))
loop = []
for i in range(5):
    net.zero_grad()
    sample_loss(dict(net.named_parameters()), buffers, x[i], y[i]).backward()
    loop.append(net.fc1.weight.grad.clone())
print("per_sample_matches_loop:", torch.allclose(torch.stack(loop), per_sample["fc1.weight"],
                                                 atol=1e-6))
print("per_sample_mean_is_batch_grad:",
      torch.allclose(per_sample["fc2.weight"].mean(0), g["fc2.weight"], atol=1e-6))
norms = torch.stack([v.flatten(1).norm(dim=1) for v in per_sample.values()]).norm(dim=0)
print("per_sample_norms:", r(norms))

# clipped per-sample gradients (DP-SGD style): clip, average, step
clip = (1.0 / (norms + 1e-6)).clamp(max=1.0)
dp_grads = {k: (v * clip.view(-1, *([1] * (v.dim() - 1)))).mean(0)
            for k, v in per_sample.items()}
with torch.no_grad():
    new_params = {k: params[k] - 0.1 * dp_grads[k] for k in params}
print("dp_step:", r(loss_fn(new_params, buffers, x, y)), r(dp_grads["fc2.bias"]))

# an ensemble of 3 small models, vmapped over the stacked state
models = [fill(nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 2)), 10 + i)
          for i in range(3)]
ens_params, ens_buffers = stack_module_state(models)
print("ensemble_shapes:", [list(v.shape) for v in ens_params.values()],
      all(v.requires_grad for v in ens_params.values()))
base = models[0]


def ens_forward(p, b, xb):
    return functional_call(base, (p, b), (xb,))


ens_out = vmap(ens_forward, in_dims=(0, 0, None))(ens_params, ens_buffers, x)
print("ensemble_out:", list(ens_out.shape), r(ens_out[:, 0]))
print("ensemble_matches:", all(torch.allclose(ens_out[i], models[i](x), atol=1e-6)
                               for i in range(3)))
ens_out.pow(2).mean().backward()
print("ensemble_grad:", r(ens_params["0.bias"].grad))

# ---------------------------------------------------------------------------------------------
# (c) jacrev / jacfwd / hessian


def f(a, b):
    return torch.stack([a[0] * b[1], torch.sin(a[1]) + b[0] ** 2, (a * b).sum()])


a = torch.tensor([0.3, -1.2])
b = torch.tensor([2.0, 0.5])
print("jacrev_a:", r(jacrev(f)(a, b)))
print("jacfwd_b:", r(jacfwd(f, argnums=1)(a, b)))
ja, jb = jacrev(f, argnums=(0, 1))(a, b)
print("jacrev_both:", r(ja), r(jb))
print("jacfwd_eq_jacrev:", torch.allclose(jacfwd(f, argnums=(0, 1))(a, b)[1], jb))


def energy(z):
    return (z ** 3).sum() + z[0] * z[1] * z[2] + torch.exp(z).sum()


z = torch.tensor([0.5, -0.4, 1.1])
H = hessian(energy)(z)
print("hessian:", r(H))
print("hessian_fwdrev:", torch.allclose(jacfwd(jacrev(energy))(z), H, atol=1e-5),
      torch.allclose(jacrev(jacrev(energy))(z), H, atol=1e-5))

# the Hessian in an argument the function is linear in: zero, not an error
quad = lambda a, b: (a ** 2 * b).sum() + (a * b).sum()  # noqa: E731
print("hessian_argnums:", r(hessian(quad, argnums=1)(a, b)), r(hessian(quad)(a, b)))
h_ab = jacfwd(jacrev(quad, argnums=0), argnums=1)(a, b)
print("mixed_second_derivative:", r(h_ab))


def with_aux(z):
    y = torch.tanh(z) * 2
    return y, {"norm": y.norm()}


j_aux, aux = jacrev(with_aux, has_aux=True)(z)
print("jacrev_aux:", r(torch.diagonal(j_aux)), r(aux["norm"]))
lin = fill(nn.Linear(3, 2), 5)
jw = jacrev(lambda w: functional_call(lin, {"weight": w, "bias": lin.bias}, (z,)))(
    lin.weight.detach())
print("jac_wrt_weight:", list(jw.shape), r(jw[1, 1]))
batched_jac = vmap(jacrev(torch.sin))(torch.tensor([[0.1, 0.2], [0.3, 0.4]]))
print("vmap_jacrev:", r(batched_jac))

# an input-gradient penalty with torch.func.grad: the function closes over the module's
# parameters, so the gradient stays differentiable with respect to them
critic = fill(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), 6)
pts = data(7, (4, 3))
in_grads = vmap(grad(lambda p: critic(p).squeeze()))(pts)
penalty = ((in_grads.norm(dim=1) - 1) ** 2).mean()
penalty.backward()
print("func_grad_penalty:", in_grads.requires_grad, r(penalty), r(critic[0].bias.grad))

# ---------------------------------------------------------------------------------------------
# (d) vjp / jvp / linearize


def g2(u, v):
    return u * v.exp(), (u ** 2).sum(0)


u = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
v = torch.tensor([[0.1, 0.0], [-0.2, 0.3]])
outs, vjp_fn = vjp(g2, u, v)
cu, cv = vjp_fn((torch.ones(2, 2), torch.tensor([1.0, -1.0])))
print("vjp_outs:", r(outs[0]), r(outs[1]))
print("vjp:", r(cu), r(cv))
out1, tan = jvp(lambda q: torch.tanh(q).sum(0), (u,), (torch.ones_like(u),))
print("jvp:", r(out1), r(tan))
outa, tana, auxa = jvp(lambda q: (q.sin(), q.cos()), (u,), (v,), has_aux=True)
print("jvp_aux:", r(tana), r(auxa[0]))
y0, jvp_lin = linearize(lambda q: q.pow(3).sum(), u)
print("linearize:", r(y0), r(jvp_lin(torch.ones_like(u))), r(jvp_lin(v)))
vjp_out, vjp_fn1, vjp_aux = vjp(lambda q: (q.exp().sum(), q.mean()), u, has_aux=True)
print("vjp_aux:", r(vjp_out), r(vjp_fn1(torch.tensor(2.0))[0]), r(vjp_aux))

# ---------------------------------------------------------------------------------------------
# (e) forward-mode AD: dual numbers

mlp = fill(nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)), 7)
xp = data(8, (4, 3))
tangent = data(9, (4, 3))
with fwAD.dual_level():
    dual = fwAD.make_dual(xp, tangent)
    out = mlp(dual)
    primal_out, jvp_out = fwAD.unpack_dual(out)
    print("fwd_primal:", r(primal_out[0]), torch.allclose(primal_out, mlp(xp)))
    print("fwd_tangent:", r(jvp_out))
    print("fwd_tangent_of_dual:", fwAD.unpack_dual(dual).tangent is tangent)
    print("fwd_no_tangent:", fwAD.unpack_dual(torch.ones(2)).tangent is None)
    s = fwAD.make_dual(torch.tensor(0.7), torch.tensor(1.0))
    e = torch.exp(s) * torch.sin(s)
    print("fwd_scalar:", r(fwAD.unpack_dual(e).primal), r(fwAD.unpack_dual(e).tangent))
_, ref_tan = jvp(mlp, (xp,), (tangent,))
print("fwd_matches_func_jvp:", torch.allclose(jvp_out, ref_tan, atol=1e-6))
# the full Jacobian column by column with forward mode
cols = []
x1 = xp[0]
for k in range(3):
    with fwAD.dual_level():
        d = fwAD.make_dual(x1, torch.eye(3)[k])
        cols.append(fwAD.unpack_dual(mlp(d)).tangent)
J_fwd = torch.stack(cols, dim=1)
print("fwd_jacobian:", r(J_fwd), torch.allclose(J_fwd, jacrev(mlp)(x1), atol=1e-6))

# ---------------------------------------------------------------------------------------------
# (f) torch.autograd.functional


def rosen(p):
    return (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2 + (p[2] - p[1]) ** 2


p0 = torch.tensor([0.5, 1.5, -0.5])
vec = torch.tensor([1.0, -2.0, 0.5])
val_h, hv = torch.autograd.functional.hvp(rosen, p0, vec)
val_v, vh = torch.autograd.functional.vhp(rosen, p0, vec)
Hr = torch.autograd.functional.hessian(rosen, p0)
print("hvp:", r(val_h), r(hv))
print("vhp:", r(val_v), r(vh))
print("hvp_matches_hessian:", torch.allclose(hv, Hr @ vec, atol=1e-4),
      torch.allclose(vh, vec @ Hr, atol=1e-4))


def two_in(a, b):
    return (a * b.sin()).sum() + (a ** 2).sum() * b[0]


ta, tb = torch.tensor([1.0, 2.0]), torch.tensor([0.5, -0.3])
_, (hva, hvb) = torch.autograd.functional.hvp(two_in, (ta, tb),
                                              (torch.ones(2), torch.tensor([1.0, 0.0])))
print("hvp_tuple:", r(hva), r(hvb))
_, vj = torch.autograd.functional.vjp(lambda q: q.exp() * 2, u, torch.ones(2, 2))
_, jv = torch.autograd.functional.jvp(lambda q: q.exp() * 2, u, v)
print("functional_vjp_jvp:", r(vj), r(jv))
pg = p0.clone().requires_grad_()
_, hvg = torch.autograd.functional.hvp(rosen, pg, vec, create_graph=True)
print("hvp_create_graph:", hvg.requires_grad, r(torch.autograd.grad(hvg.sum(), pg)[0]))
