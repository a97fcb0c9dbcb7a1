"""In-place and view semantics that real training code relies on: in-place ops through views
(x[:, 1] += ..., diagonal().add_(), t_(), narrow/select/unsqueeze views, view of a view) and
their effect on the base, gradients through in-place ops on views of non-leaf tensors,
masked_fill_ and index_add_ under autograd, leaf in-place errors, torch.no_grad parameter
updates, weight tying between an embedding and the output layer, detach vs clone (shared
storage, data_ptr, _version), retain_graph=True for two backward passes, tensor and module
hooks that modify gradients, higher-order gradients (grad of grad, a WGAN-GP-style gradient
penalty with create_graph inside a training loop, Hessian-vector products), and the errors
real code meets (version-counter mismatch, backward twice, in-place on a leaf that requires
grad, grad of a non-scalar), printed as the exception class and the first words."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * scale)
                                     .astype("float32")))
    return module


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


def err(fn):
    try:
        fn()
    except Exception as e:                     # noqa: BLE001 - the class is what we print
        return type(e).__name__ + " " + " ".join(str(e).split()[:4])
    return "no error"


# ---------------------------------------------------------------------------------------------
# (a) in-place through views, no autograd

x = torch.arange(12.0).reshape(3, 4)
x[:, 1] += 100
x.diagonal().add_(0.5)
x[1:, 2:].mul_(-1)
x.select(0, 2).narrow(0, 0, 2).sub_(1000)
print("views_base:", x.tolist())
y = torch.arange(6.0).reshape(2, 3)
y.t_()
y.add_(torch.tensor([1.0, 2.0]))
print("t_inplace:", tuple(y.shape), y.tolist(), y.is_contiguous())
z = torch.zeros(2, 3)
v = z.view(3, 2)
v[1].fill_(7)
u = v.unsqueeze(0)
u[0, 2, 1] = -1
print("view_of_view:", z.tolist(), v._base is z, u._base is z)
w = torch.arange(6.0)
w[::2] *= 10
print("strided_slice_inplace:", w.tolist())
idx = torch.tensor([0, 2, 0])
acc = torch.zeros(4)
acc[idx] += 1.0                               # advanced indexing += does NOT accumulate
print("index_plus_equal:", acc.tolist())
acc2 = torch.zeros(4).index_put_((idx,), torch.ones(3), accumulate=True)
print("index_put_accumulate:", acc2.tolist())
e = torch.ones(3, 3)
e.fill_diagonal_(5.0)
e.triu_(diagonal=0)
print("fill_diagonal_triu:", e.tolist())
c = torch.arange(4.0)
c.clamp_(1, 2).pow_(2)
print("chained_inplace:", c.tolist())
ci = torch.tensor([5, -3, 7])
ci //= 2
print("int_floordiv_inplace:", ci.tolist(), ci.dtype)
print("inplace_promote_err:", err(lambda: torch.tensor([1, 2]).add_(0.5)))
print("inplace_broadcast_err:", err(lambda: torch.zeros(3).add_(torch.ones(2, 3))))

# ---------------------------------------------------------------------------------------------
# (b) autograd through in-place ops on views of non-leaf tensors

a = torch.tensor([[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]], requires_grad=True)
b = a * 2
b[:, 0] += b[:, 1] * 3
b.diagonal().mul_(torch.tensor([2.0, -1.0]))
row = b[1]
row.exp_()
b.sum().backward()
print("inplace_view_grad:", r(a.grad))
print("grad_fn_names:", type(b.grad_fn).__name__ != "", b.requires_grad, row._base is b)

p = torch.tensor([0.5, -1.0, 2.0, 3.0], requires_grad=True)
q = p.pow(2)
q.masked_fill_(p < 0, 0.0)
q = q.index_add(0, torch.tensor([0, 0]), torch.tensor([1.0, 2.0]) * p[1])
q.sum().backward()
print("masked_fill_grad:", r(p.grad))

s = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
t = s.sigmoid()
t2 = t * 1.0
t2.mul_(2)                                    # fine: mul's backward needs t, not t2
t2.sum().backward()
print("safe_inplace_grad:", r(s.grad))


def version_error():
    s2 = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    t3 = s2.sigmoid()
    t3.mul_(2)                                # sigmoid's backward needs its output
    t3.sum().backward()


def exp_version_error():
    s3 = torch.tensor([1.0, 2.0], requires_grad=True)
    h = s3 * 1.0
    o = h.exp()
    h.add_(1)                                 # exp saved its input? no: it saved o
    o.add_(1)                                 # ...and o is modified
    o.sum().backward()


print("version_error:", err(version_error))
print("exp_version_error:", err(exp_version_error))
vt = torch.zeros(3)
v0 = vt._version
vt.add_(1)
vt[0] = 5
vt.view(3).mul_(2)
print("version_counter:", vt._version - v0)
leaf = torch.ones(2, requires_grad=True)
print("leaf_inplace_err:", err(lambda: leaf.add_(1)))
print("leaf_view_inplace_err:", err(lambda: leaf[0].mul_(2)))
with torch.no_grad():
    leaf.add_(1)
print("leaf_no_grad_update:", leaf.tolist(), leaf.requires_grad, leaf.is_leaf)


def backward_twice():
    g = torch.tensor([1.0, 2.0], requires_grad=True)
    o = (g.exp() * g).sum()
    o.backward()
    o.backward()


print("backward_twice_err:", err(backward_twice))
mo = torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True) * 1
print("split_inplace_err:", err(lambda: mo.split(2)[1].mul_(2)))
print("split_sizes_inplace_err:", err(lambda: mo.split([1, 3])[0].add_(1)))
print("chunk_view_inplace_err:", err(lambda: mo.chunk(2)[0][1:].zero_()))
print("unbind_inplace_err:", err(lambda: mo.unbind()[3].neg_()))
print("unbind_leaf_err:", err(lambda: torch.ones(2, requires_grad=True).unbind()[0].mul_(2)))
print("tensor_split_inplace_ok:", err(lambda: mo.tensor_split(2)[0].mul_(2)))
with torch.no_grad():
    mo.split(2)[0].mul_(10)
print("split_no_grad_ok:", mo.tolist())
plain = torch.arange(4.0)
for part in plain.split(2):
    part.add_(1)
print("split_plain_inplace:", plain.tolist())
print("nonscalar_err:", err(lambda: (torch.ones(2, requires_grad=True) * 2).backward()))
print("no_grad_fn_err:", err(lambda: torch.ones(2).sum().backward()))

# ---------------------------------------------------------------------------------------------
# (c) detach vs clone, retain_graph

base = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
d = base.detach()
cl = base.clone()
print("detach_shares:", d.data_ptr() == base.data_ptr(), cl.data_ptr() == base.data_ptr())
print("detach_flags:", d.requires_grad, cl.requires_grad, cl.grad_fn is not None, d.is_leaf)
d[0] = 10.0
print("detach_write_visible:", base.tolist()[0])
cl.sum().backward()
print("clone_grad:", base.grad.tolist())
m = base * base
l1 = m.sum()
l1.backward(retain_graph=True)
l1.backward(retain_graph=True)
print("retain_graph_twice:", base.grad.tolist())
base.grad = None
(m * 2).sum().backward(retain_graph=True)
(m.sqrt()).sum().backward()
print("shared_subgraph_grads:", r(base.grad))
dd = base.detach().requires_grad_()
(dd * 3).sum().backward()
print("detached_leaf_grad:", dd.grad.tolist(), base.grad is not dd.grad)
print("data_vs_detach:", base.data.requires_grad, base.data.data_ptr() == base.data_ptr())

# ---------------------------------------------------------------------------------------------
# (d) hooks that change gradients

hx = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
handle = hx.register_hook(lambda g: g * 10)
(hx ** 2).sum().backward()
print("tensor_hook_scaled:", hx.grad.tolist())
handle.remove()
hx.grad = None
(hx ** 2).sum().backward()
print("tensor_hook_removed:", hx.grad.tolist())
mid_seen = []
hy = torch.tensor([1.0, 2.0], requires_grad=True)
mid = hy * 3
mid.register_hook(lambda g: mid_seen.append(g.tolist()))
mid.register_hook(lambda g: g.clamp(max=1.0))
(mid ** 2).sum().backward()
print("intermediate_hooks:", mid_seen, hy.grad.tolist())
rg = hy * 2
rg.retain_grad()
(rg * rg).sum().backward()
print("retain_grad:", rg.grad.tolist(), rg.is_leaf)

net = fill(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), 1)
seen_out = []
bh = net[0].register_full_backward_hook(
    lambda mod, gin, gout: seen_out.append(tuple(gout[0].shape)) or (gin[0] * 0.5,))
xin = data(2, (5, 3)).requires_grad_()
net(xin).sum().backward()
print("module_backward_hook:", seen_out, r(xin.grad[0]))
bh.remove()
for prm in net.parameters():
    prm.register_hook(lambda g: g.clamp(-0.1, 0.1))
net.zero_grad()
net(xin.detach()).pow(2).sum().backward()
print("param_hook_clamped:", r(net[0].weight.grad.abs().max().item()), r(net[2].bias.grad))

# ---------------------------------------------------------------------------------------------
# (e) weight tying and no_grad updates


class TiedLM(nn.Module):
    def __init__(self, vocab=7, d=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.mix = nn.Linear(d, d)
        self.out = nn.Linear(d, vocab, bias=True)
        self.out.weight = self.emb.weight

    def forward(self, tok):
        return self.out(torch.tanh(self.mix(self.emb(tok))))


lm = fill(TiedLM(), 3)
print("tied_same:", lm.out.weight is lm.emb.weight,
      len(list(lm.parameters())), len(lm.state_dict()))
print("tied_named:", [n for n, _ in lm.named_parameters()])
tok = torch.tensor([0, 3, 5, 6, 1, 2])
nxt = torch.tensor([3, 5, 6, 1, 2, 0])
lr = 0.5
for step in range(4):
    lm.zero_grad()
    loss = F.cross_entropy(lm(tok), nxt)
    loss.backward()
    with torch.no_grad():
        for prm in lm.parameters():
            prm -= lr * prm.grad
    print(f"tied_step{step}:", r(loss.item()))
print("tied_still_same:", lm.out.weight.data_ptr() == lm.emb.weight.data_ptr(),
      r(lm.emb.weight[2]))
with torch.no_grad():
    lm.mix.weight.mul_(0.0).add_(torch.eye(4))
    lm.mix.bias.zero_()
print("no_grad_set:", lm.mix.weight.requires_grad, lm.mix.weight.grad_fn is None,
      r(lm(tok[:1])[0, :3]))

# ---------------------------------------------------------------------------------------------
# (f) higher-order gradients

xg = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
f = (xg ** 3).sum() + (xg[0] * xg[1] * xg[2])
(g1,) = torch.autograd.grad(f, xg, create_graph=True)
(g2,) = torch.autograd.grad(g1.sum(), xg, create_graph=True, retain_graph=True)
(g3,) = torch.autograd.grad(g2.sum(), xg, retain_graph=True)
print("grad_orders:", r(g1), r(g2), r(g3))
vvec = torch.tensor([1.0, 0.0, -1.0])
(hv,) = torch.autograd.grad(g1, xg, grad_outputs=vvec, retain_graph=True)
print("hvp:", r(hv))
hess = torch.stack([torch.autograd.grad(g1[i], xg, retain_graph=True)[0] for i in range(3)])
print("hessian_rows:", r(hess))
print("hessian_fn:", torch.allclose(torch.autograd.functional.hessian(
    lambda t: (t ** 3).sum() + t[0] * t[1] * t[2], xg.detach()), hess))
ga, gb = torch.autograd.grad((xg.sin() * 2).sum(), [xg, vvec.requires_grad_()],
                             allow_unused=True)
print("allow_unused:", r(ga), gb)
print("unused_err:", err(lambda: torch.autograd.grad((xg * 2).sum(), [xg, torch.ones(1,
                         requires_grad=True)])))

critic = fill(nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)), 4)
gen = fill(nn.Linear(2, 2), 5)
real = torch.tensor([[1.0, 1.0], [0.8, 1.2], [1.1, 0.9], [1.3, 1.0]])
noise = torch.tensor([[0.1, -0.2], [0.0, 0.3], [-0.4, 0.1], [0.2, 0.2]])
alpha = torch.tensor([[0.1], [0.4], [0.7], [0.95]])
c_opt = torch.optim.Adam(critic.parameters(), lr=0.01, betas=(0.5, 0.9))
g_opt = torch.optim.Adam(gen.parameters(), lr=0.01, betas=(0.5, 0.9))
for step in range(4):
    fake = gen(noise)
    interp = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    (gi,) = torch.autograd.grad(critic(interp).sum(), interp, create_graph=True)
    gp = ((gi.norm(2, dim=1) - 1) ** 2).mean()
    c_loss = critic(fake.detach()).mean() - critic(real).mean() + 10 * gp
    c_opt.zero_grad()
    c_loss.backward()
    c_opt.step()
    g_loss = -critic(gen(noise)).mean()
    g_opt.zero_grad()
    g_loss.backward()
    g_opt.step()
    print(f"wgan_gp_step{step}:", r(c_loss.item()), r(gp.item()), r(g_loss.item()))
print("critic_w0:", r(critic[0].weight[0]))

# double backward through common layers
lin = fill(nn.Linear(3, 3), 6)
xi = data(7, (2, 3)).requires_grad_()
out = F.softplus(lin(xi)).mul(F.gelu(xi)).logsumexp(1).sum()
(gx,) = torch.autograd.grad(out, xi, create_graph=True)
gx.pow(2).sum().backward()
print("double_backward_x:", r(xi.grad[0]))
print("double_backward_w:", r(lin.weight.grad[1]))
xn = data(8, (4, 3)).requires_grad_()
ln = fill(nn.LayerNorm(3), 9)
(gln,) = torch.autograd.grad(ln(xn).pow(3).sum(), xn, create_graph=True)
gln.abs().sum().backward()
print("layernorm_double:", r(xn.grad[1]), r(ln.weight.grad))
