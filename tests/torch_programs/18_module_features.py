"""nn.Module features: state_dict keys, named_parameters/modules/children/buffers, apply, hooks,
repr, containers (Sequential, ModuleList, ModuleDict, ParameterList), train/eval, freezing."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.act = nn.GELU()
        self.register_buffer("scale", torch.tensor(0.5))
        self.register_buffer("scratch", torch.zeros(2), persistent=False)

    def forward(self, x):
        return x + self.scale * self.act(self.fc(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(4, 6), nn.ReLU())
        self.blocks = nn.ModuleList([Block(6) for _ in range(2)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(6, 3), "reg": nn.Linear(6, 1, bias=False)})
        self.gain = nn.Parameter(torch.ones(1))
        self.extra = nn.ParameterList([nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(1))])

    def forward(self, x):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.heads["cls"](h) * self.gain, self.heads["reg"](h)


net = Net()
print("state_dict_keys:", list(net.state_dict().keys()))
print("named_parameters:", [(n, tuple(p.shape)) for n, p in net.named_parameters()])
print("num_params:", sum(p.numel() for p in net.parameters()))
print("named_buffers:", [n for n, _ in net.named_buffers()])
print("named_modules:", [n for n, _ in net.named_modules()])
print("module_types:", [type(m).__name__ for m in net.modules()])
print("children:", [type(m).__name__ for m in net.children()])
print("named_children:", [n for n, _ in net.named_children()])
print("sequential_index:", type(net.stem[0]).__name__, len(net.stem), len(net.blocks), list(net.heads.keys()))
print("get_submodule:", type(net.get_submodule("blocks.1.fc")).__name__)
print("repr:", repr(repr(net)))
print("repr_linear:", repr(nn.Linear(3, 2)), repr(nn.Linear(3, 2, bias=False)))
print("repr_conv:", repr(nn.Conv2d(3, 8, 3, stride=2, padding=1)))
print("repr_misc:", repr(nn.Dropout(0.25)), repr(nn.ReLU()), repr(nn.LayerNorm(5)))
print("repr_bn_emb:", repr(nn.BatchNorm2d(4)), repr(nn.Embedding(10, 3)))


def init_weights(m):
    if isinstance(m, nn.Linear):
        rng = np.random.default_rng(m.in_features * 10 + m.out_features)
        with torch.no_grad():
            m.weight.copy_(torch.from_numpy(rng.standard_normal(tuple(m.weight.shape)).astype("float32") * 0.4))
            if m.bias is not None:
                m.bias.fill_(0.01)


seen = []
returned = net.apply(lambda m: seen.append(type(m).__name__))
print("apply_order:", seen)
print("apply_returns_self:", returned is net)
net.apply(init_weights)
print("after_apply_bias:", r(net.stem[0].bias))
with torch.no_grad():
    nn.init.constant_(net.extra[0], 0.25)
    nn.init.zeros_(net.extra[1])
    nn.init.ones_(net.gain)
print("nn_init_constant:", net.extra[0].tolist())

x = torch.tensor(np.random.default_rng(19).standard_normal((3, 4)).astype("float32"))

# forward hooks, forward pre-hooks, full backward hooks
log = []
h1 = net.blocks[0].register_forward_hook(lambda m, inp, out: log.append(("fwd", r(out.sum().item()))))
h2 = net.blocks[1].register_forward_pre_hook(lambda m, inp: log.append(("pre", tuple(inp[0].shape))))
h3 = net.heads["cls"].register_forward_hook(lambda m, inp, out: out * 2)  # replaces the output
h4 = net.stem[0].register_full_backward_hook(lambda m, gin, gout: log.append(("bwd", r(gout[0].sum().item()))))
cls_out, reg_out = net(x)
print("hooked_cls_out:", r(cls_out))
(cls_out.sum() + reg_out.sum()).backward()
print("hook_log:", log)
for h in (h1, h2, h3, h4):
    h.remove()
log.clear()
cls_out2, _ = net(x)
print("hooks_removed:", log == [], r(cls_out2[0]))
print("param_grad:", r(net.blocks[1].fc.bias.grad))

# zero_grad sets grads to None by default
net.zero_grad()
print("zero_grad_none:", all(p.grad is None for p in net.parameters()))

# train/eval propagate; freezing a submodule
net.eval()
print("eval_flags:", [m.training for m in net.modules()][:4])
net.train()
print("train_flags:", all(m.training for m in net.modules()))
net.stem.requires_grad_(False)
print("trainable_names:", [n for n, p in net.named_parameters() if p.requires_grad])
opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
before = net.stem[0].weight.clone()
loss = net(x)[0].pow(2).mean()
loss.backward()
opt.step()
print("frozen_unchanged:", torch.equal(before, net.stem[0].weight), net.stem[0].weight.grad is None)
print("trained_changed:", r(net.heads["cls"].bias))

# state_dict round trip into a fresh instance; buffers included, non-persistent excluded
fresh = Net()
fresh.load_state_dict(net.state_dict())
with torch.no_grad():
    print("roundtrip_equal:", torch.equal(fresh(x)[0], net(x)[0]))
print("buffer_in_state_dict:", "blocks.0.scale" in net.state_dict(), "blocks.0.scratch" in net.state_dict())

# functional API on module parameters, F.linear
print("f_linear:", r(F.linear(x, net.stem[0].weight, net.stem[0].bias)[0]))
print("parameter_is_tensor:", isinstance(net.gain, torch.Tensor), isinstance(net.gain, nn.Parameter))
print("parameter_repr_dtype:", str(net.gain.dtype), net.gain.requires_grad)
seq = nn.Sequential()
seq.add_module("first", nn.Linear(2, 2))
seq.append(nn.Tanh())
print("sequential_built:", [n for n, _ in seq.named_children()])
print("identity:", r(nn.Identity()(x[0])))
print("flatten_unflatten:", tuple(nn.Unflatten(1, (2, 2))(x).shape), tuple(nn.Flatten()(torch.zeros(2, 3, 4)).shape))
