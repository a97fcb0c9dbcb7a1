"""Module hooks and model surgery as people write them: forward pre-hooks and forward hooks
(returning replacements, with_kwargs=True variants, prepend=True ordering, always_call),
full backward hooks and backward pre-hooks that record or rescale gradients, removing hooks
through their handles, feature extraction with hooks, named_modules / named_children /
modules / apply with an init function, replacing a submodule (setattr, Sequential indexing,
a recursive swap), weight tying, freezing parameters (requires_grad_(False) and an optimiser
over the trainable ones), load_state_dict(strict=False) and its missing/unexpected keys,
state-dict hooks, parameters_to_vector / vector_to_parameters, and a module with a
register_buffer(persistent=False) buffer."""
import collections

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters


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


class Block(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, n)
        self.act = nn.ReLU()
        self.norm = nn.LayerNorm(n)

    def forward(self, x, scale=1.0):
        return self.norm(x + self.act(self.fc(x)) * scale)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Linear(4, 6)
        self.blocks = nn.Sequential(Block(6), Block(6))
        self.head = nn.Linear(6, 3)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))
        self.register_buffer("cache", torch.ones(3), persistent=False)

    def forward(self, x):
        return self.head(self.blocks(torch.tanh(self.stem(x)))) + self.cache


x = data(1, (5, 4))
net = fill(Net(), 2)
base_out = net(x)
print("base_out:", r(base_out[0]))

# ---------------------------------------------------------------------------------------------
# (a) forward pre-hooks and forward hooks

calls = []


def pre_double(module, args):
    calls.append(("pre", type(module).__name__, list(args[0].shape)))
    return (args[0] * 2,)


def post_shift(module, args, output):
    calls.append(("post", type(module).__name__, r(output.sum())))
    return output + 1


h1 = net.stem.register_forward_pre_hook(pre_double)
h2 = net.head.register_forward_hook(post_shift)
out = net(x)
print("hooked_out:", r(out[0]))
print("hook_calls:", calls)
h1.remove()
h2.remove()
h2.remove()                                     # removing twice is fine
print("after_remove:", torch.allclose(net(x), base_out), len(calls))

# with_kwargs: the pre-hook sees and rewrites keyword arguments


def pre_kw(module, args, kwargs):
    kwargs = dict(kwargs)
    kwargs["scale"] = kwargs.get("scale", 1.0) * 0.5
    return args, kwargs


def post_kw(module, args, kwargs, output):
    calls.append(("post_kw", sorted(kwargs), len(args)))
    return output * 10


blk = net.blocks[0]
hk1 = blk.register_forward_pre_hook(pre_kw, with_kwargs=True)
hk2 = blk.register_forward_hook(post_kw, with_kwargs=True)
hb = blk(torch.tanh(net.stem(x)), scale=3.0)
direct = blk.norm(torch.tanh(net.stem(x)) + blk.act(blk.fc(torch.tanh(net.stem(x)))) * 1.5) * 10
print("kwargs_hooks:", torch.allclose(hb, direct, atol=1e-6), calls[-1], r(hb[0, :3]))
hk1.remove()
hk2.remove()

# ordering: prepend=True runs first; a hook returning None leaves the value alone
order = []
lin = fill(nn.Linear(2, 2), 3)
handles = [lin.register_forward_hook(lambda m, a, o: order.append("first")),
           lin.register_forward_hook(lambda m, a, o: order.append("second")),
           lin.register_forward_hook(lambda m, a, o: order.append("prepended"), prepend=True),
           lin.register_forward_pre_hook(lambda m, a: order.append("pre"))]
lin(torch.ones(1, 2))
print("hook_order:", order)
for h in handles:
    h.remove()


# always_call: the forward hook still runs when forward raises
class Boom(nn.Module):
    def forward(self, x):
        raise ValueError("boom")


boom = Boom()
seen = []
boom.register_forward_hook(lambda m, a, o: seen.append("ran"), always_call=True)
try:
    boom(torch.ones(1))
except ValueError as e:
    print("always_call:", seen, str(e))

# feature extraction: store intermediate activations by module name
features = {}
hooks = []
for name, module in net.named_modules():
    if isinstance(module, (nn.Linear, nn.LayerNorm)):
        hooks.append(module.register_forward_hook(
            lambda m, a, o, name=name: features.__setitem__(name, o.detach())))
net(x)
print("features:", list(features))
print("feature_values:", r(features["blocks.1.norm"][0]), r(features["stem"].sum()))
for h in hooks:
    h.remove()

# ---------------------------------------------------------------------------------------------
# (b) backward hooks

grads_seen = []


def bwd_hook(module, grad_input, grad_output):
    grads_seen.append((type(module).__name__, [None if g is None else list(g.shape)
                                               for g in grad_input],
                       r(grad_output[0].abs().sum())))


def bwd_pre_hook(module, grad_output):
    return (grad_output[0] * 0.5,)


net.zero_grad()
hb1 = net.head.register_full_backward_hook(bwd_hook)
hb2 = net.blocks[1].register_full_backward_pre_hook(bwd_pre_hook)
x_req = x.clone().requires_grad_()
net(x_req).pow(2).sum().backward()
print("backward_hook_calls:", grads_seen)
halved = net.stem.weight.grad.clone()
hb1.remove()
hb2.remove()
net.zero_grad()
net(x_req).pow(2).sum().backward()
print("backward_pre_hook_halves:", torch.allclose(halved * 2, net.stem.weight.grad, atol=1e-6),
      torch.allclose(net.head.weight.grad, net.head.weight.grad))


# a backward hook that replaces grad_input (gradient clipping at a module boundary)
def clip_input(module, grad_input, grad_output):
    return tuple(None if g is None else g.clamp(-0.1, 0.1) for g in grad_input)


hc = net.blocks[0].register_full_backward_hook(clip_input)
x_req.grad = None
net.zero_grad()
net(x_req).sum().backward()
print("clipped_input_grad:", r(x_req.grad[0]), r(net.stem.bias.grad))
hc.remove()



# a module with two tensor inputs (one not requiring grad) and a non-tensor one: grad_input has
# one entry per positional argument
class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, a, mask, scale):
        return self.fc(a) * mask * scale


gate = fill(Gate(), 4)
gate_seen = []
gate.register_full_backward_hook(lambda m, gi, go: gate_seen.append(
    [None if g is None else r(g.sum()) for g in gi] + [len(go)]))
a_in = data(5, (2, 3)).requires_grad_()
gate(a_in, torch.tensor([[1.0, 0.0], [1.0, 1.0]]), 2.0).sum().backward()
print("multi_input_grad_input:", gate_seen, r(a_in.grad[0]))

# tensor hooks on parameters (gradient scaling per parameter)
ht = net.head.weight.register_hook(lambda g: g * 0)
net.zero_grad()
net(x).sum().backward()
print("param_tensor_hook:", r(net.head.weight.grad.abs().sum()), r(net.head.bias.grad))
ht.remove()

# ---------------------------------------------------------------------------------------------
# (c) traversal, apply, surgery

print("named_children:", [n for n, _ in net.named_children()])
print("named_modules:", [n for n, _ in net.named_modules()])
print("modules_types:", collections.Counter(type(m).__name__ for m in net.modules()))
print("named_parameters:", [n for n, _ in net.blocks.named_parameters(prefix="blocks")])
print("named_buffers:", [n for n, _ in net.named_buffers()])


def init_weights(m):
    if isinstance(m, nn.Linear):
        with torch.no_grad():
            m.weight.fill_(0.1)
            m.bias.zero_()


net2 = Net()
print("apply_returns_self:", net2.apply(init_weights) is net2)
print("apply_init:", r(net2.stem.weight[0]), r(net2(x)[0]))

# replace submodules: Sequential indexing, setattr, and a recursive activation swap
net2 = fill(Net(), 2)
net2.blocks[1] = nn.Identity()
net2.head = nn.Linear(6, 3)
fill(net2.head, 5)
print("replaced:", [n for n, _ in net2.named_children()], type(net2.blocks[1]).__name__,
      list(net2(x).shape))


def swap(module, old, new):
    for name, child in module.named_children():
        if isinstance(child, old):
            setattr(module, name, new())
        else:
            swap(child, old, new)


swap(net2, nn.ReLU, nn.Tanh)
print("swapped:", [type(m).__name__ for m in net2.blocks[0].children()], r(net2(x)[0]))
print("get_submodule:", type(net2.get_submodule("blocks.0.act")).__name__)
del net2.blocks[1]
print("deleted:", len(net2.blocks), r(net2(x)[1]))

# ---------------------------------------------------------------------------------------------
# (d) weight tying


class TiedLM(nn.Module):
    def __init__(self, vocab=7, dim=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.proj = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, ids):
        return self.out(torch.tanh(self.proj(self.emb(ids))))


lm = fill(TiedLM(), 6)
ids = torch.tensor([[1, 3, 5], [0, 6, 2]])
print("tied_same:", lm.out.weight is lm.emb.weight, len(list(lm.parameters())),
      len(list(lm.named_parameters(remove_duplicate=False))))
print("tied_state_dict:", list(lm.state_dict()))
logits = lm(ids)
loss = F.cross_entropy(logits.reshape(-1, 7), torch.tensor([3, 5, 1, 6, 2, 0]))
loss.backward()
print("tied_grad:", r(loss), r(lm.emb.weight.grad.sum(1)))
opt = torch.optim.SGD(lm.parameters(), lr=0.5)
opt.step()
print("tied_after_step:", torch.equal(lm.out.weight, lm.emb.weight), r(lm.out.weight[1]))

# ---------------------------------------------------------------------------------------------
# (e) freezing

frozen = fill(Net(), 7)
for p in frozen.stem.parameters():
    p.requires_grad_(False)
frozen.blocks[0].requires_grad_(False)
trainable = [n for n, p in frozen.named_parameters() if p.requires_grad]
print("trainable:", trainable)
print("n_trainable:", sum(p.numel() for p in frozen.parameters() if p.requires_grad),
      sum(p.numel() for p in frozen.parameters()))
opt = torch.optim.Adam((p for p in frozen.parameters() if p.requires_grad), lr=0.05)
stem_before = frozen.stem.weight.clone()
hist = []
for _ in range(3):
    opt.zero_grad()
    loss = frozen(x).pow(2).mean()
    loss.backward()
    opt.step()
    hist.append(loss.item())
print("frozen_train:", r(hist), torch.equal(stem_before, frozen.stem.weight),
      frozen.stem.weight.grad is None, frozen.blocks[0].fc.weight.grad is None)

# ---------------------------------------------------------------------------------------------
# (f) state dicts: strict=False, non-persistent buffers, hooks

src = fill(Net(), 8)
src.step += 3
sd = src.state_dict()
print("state_dict_keys:", list(sd))
print("cache_not_saved:", "cache" in sd, [n for n, _ in src.named_buffers()][-1])
dst = Net()
res = dst.load_state_dict(sd)
print("load_all:", res)
partial = {k: v for k, v in sd.items() if not k.startswith("head")}
partial["extra.weight"] = torch.zeros(2)
dst2 = fill(Net(), 9)
res = dst2.load_state_dict(partial, strict=False)
print("missing_keys:", res.missing_keys)
print("unexpected_keys:", res.unexpected_keys)
print("loaded_values:", torch.equal(dst2.stem.weight, src.stem.weight), int(dst2.step),
      r(dst2.head.bias))
try:
    dst2.load_state_dict(partial)
    print("strict_error: no error")
except RuntimeError as e:
    msg = str(e)
    print("strict_error:", "Missing key(s)" in msg, "Unexpected key(s)" in msg,
          msg.splitlines()[0])
bad = dict(sd)
bad["head.weight"] = torch.zeros(4, 6)
try:
    Net().load_state_dict(bad)
except RuntimeError as e:
    print("shape_error:", "size mismatch for head.weight" in str(e))
dst3 = Net()
dst3.cache.fill_(5.0)
dst3.load_state_dict(sd)
print("non_persistent_kept:", r(dst3.cache))
sub = Block(6)
print("load_child:", sub.load_state_dict({k[len("blocks.0."):]: v for k, v in sd.items()
                                          if k.startswith("blocks.0.")}))
print("prefix_state_dict:", list(src.blocks[1].state_dict(prefix="b1."))[:2])


def post_load(module, incompatible_keys):
    incompatible_keys.missing_keys.clear()


dst4 = Net()
dst4.register_load_state_dict_post_hook(post_load)
print("post_hook_clears:", dst4.load_state_dict(partial, strict=False).missing_keys)



# checkpoint migration: a load pre-hook renames old keys; a state-dict hook rewrites the keys
def rename_old_keys(state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
    for old in [k for k in state_dict if k.startswith(prefix + "linear.")]:
        state_dict[old.replace(prefix + "linear.", prefix + "fc.")] = state_dict.pop(old)


blk_new = Block(6)
blk_new._register_load_state_dict_pre_hook(rename_old_keys)
old_ckpt = {k.replace("fc.", "linear."): v for k, v in src.blocks[0].state_dict().items()}
print("migrated_load:", blk_new.load_state_dict(old_ckpt),
      torch.equal(blk_new.fc.weight, src.blocks[0].fc.weight))


def strip_norm(module, state_dict, prefix, local_metadata):
    return collections.OrderedDict((k, v) for k, v in state_dict.items() if "norm" not in k)


blk_new._register_state_dict_hook(strip_norm)
print("state_dict_hook:", list(blk_new.state_dict()))
counts = collections.Counter()
blk_new.register_state_dict_pre_hook(lambda m, prefix, keep_vars: counts.update([prefix]))
src.blocks.register_load_state_dict_post_hook(lambda m, keys: counts.update(["post"]))
src.blocks[0].state_dict(prefix="p.")
blk_new.state_dict(prefix="q.")
src.load_state_dict(src.state_dict())
print("hook_counts:", sorted(counts.items()))

# ---------------------------------------------------------------------------------------------
# (g) parameter vectors

vec = parameters_to_vector(src.parameters())
print("vector:", list(vec.shape), r(vec[:4]), r(vec.sum()))
dst5 = Net()
vector_to_parameters(vec * 2, dst5.parameters())
print("vector_to_params:", torch.allclose(dst5.head.weight, src.head.weight * 2),
      r(dst5.stem.bias))
print("vector_roundtrip:", torch.equal(parameters_to_vector(dst5.parameters()), vec * 2))
print("is_leaf_after:", all(p.is_leaf for p in dst5.parameters()),
      type(dst5.stem.weight).__name__)
