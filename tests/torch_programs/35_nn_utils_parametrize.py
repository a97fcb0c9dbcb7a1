"""torch.nn.utils and module machinery as real code uses it: parametrize (a custom
parametrization, weight_norm, spectral_norm), rnn packing with an LSTM (enforce_sorted=False),
parameters_to_vector / vector_to_parameters, clip_grad_value_, torch.func.functional_call,
forward/backward hooks, state_dict / load_state_dict(strict=False), named_modules /
named_buffers / apply, copy.deepcopy, requires_grad_ freezing and param groups."""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.parametrize as P
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector, vector_to_parameters
from torch.nn.utils.parametrizations import spectral_norm, weight_norm
from torch.nn.utils.rnn import (pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                pad_sequence)


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


def arr(rng, *shape, scale=1.0):
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


def fill(module, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(arr(rng, *p.shape, scale=scale))
    return module


rng = np.random.default_rng(35)

# ---------------------------------------------------------------------------------------------
# a custom parametrization: a symmetric weight, trained through its unconstrained original


class Symmetric(nn.Module):
    def forward(self, X):
        return X.triu() + X.triu(1).transpose(0, 1)

    def right_inverse(self, A):
        return A.triu()


class Scale(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.s = s

    def forward(self, X):
        return X * self.s

    def right_inverse(self, X):
        return X / self.s


lin = fill(nn.Linear(4, 4), 1)
P.register_parametrization(lin, "weight", Symmetric())
W = lin.weight
print("sym_is_symmetric:", torch.allclose(W, W.T))
print("sym_weight_row0:", r(W[0]))
print("sym_class:", type(lin).__name__, P.type_before_parametrizations(lin).__name__)
print("sym_is_parametrized:", P.is_parametrized(lin), P.is_parametrized(lin, "weight"),
      P.is_parametrized(lin, "bias"))
print("sym_state_keys:", sorted(lin.state_dict().keys()))
print("sym_param_names:", [n for n, _ in lin.named_parameters()])
print("sym_original_is_param:", isinstance(lin.parametrizations.weight.original, nn.Parameter))

x4 = arr(rng, 3, 4)
opt = torch.optim.SGD(lin.parameters(), lr=0.1)
for _ in range(3):
    loss = (lin(x4) - 1.0).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print("sym_train_loss:", r(loss.item()))
print("sym_after_train_symmetric:", torch.allclose(lin.weight, lin.weight.T, atol=1e-6))
print("sym_original_grad_row0:", r(lin.parametrizations.weight.original.grad[0]))
with P.cached():
    a = lin.weight
    b = lin.weight
print("sym_cached_same_object:", a is b)

# a chain of two parametrizations with right_inverse: assigning goes through the inverse
lin2 = fill(nn.Linear(3, 3, bias=False), 2)
P.register_parametrization(lin2, "weight", Scale(2.0))
P.register_parametrization(lin2, "weight", Symmetric())
print("chain_len:", len(lin2.parametrizations.weight))
with torch.no_grad():
    lin2.weight = torch.eye(3) * 4.0
print("chain_original_diag:", r(torch.diagonal(lin2.parametrizations.weight.original)))
print("chain_weight_diag:", r(torch.diagonal(lin2.weight)))
P.remove_parametrizations(lin2, "weight", leave_parametrized=True)
print("chain_removed:", type(lin2).__name__, P.is_parametrized(lin2),
      sorted(lin2.state_dict().keys()), r(torch.diagonal(lin2.weight)))



class Rows(nn.Module):
    def forward(self, X):
        return X[:2]


try:
    P.register_parametrization(fill(nn.Linear(3, 3), 1), "weight", Rows())
except ValueError as e:
    print("shape_change_error:", repr(str(e)))
lin3 = fill(nn.Linear(3, 3, bias=False), 1)
P.register_parametrization(lin3, "weight", Rows(), unsafe=True)
print("unsafe_shape:", tuple(lin3.weight.shape), tuple(lin3(x4[:, :3]).shape))

# parametrizations.weight_norm: magnitude original0 times direction original1
wn = weight_norm(fill(nn.Linear(5, 3), 3))
print("wn_keys:", sorted(wn.state_dict().keys()))
print("wn_g_shape:", tuple(wn.parametrizations.weight.original0.shape))
print("wn_g:", r(wn.parametrizations.weight.original0.flatten()))
x5 = arr(rng, 2, 5)
out = wn(x5)
out.sum().backward()
print("wn_out:", r(out))
print("wn_g_grad:", r(wn.parametrizations.weight.original0.grad.flatten()))
print("wn_v_grad_row0:", r(wn.parametrizations.weight.original1.grad[0]))
wn_conv = weight_norm(fill(nn.Conv1d(2, 3, 3), 4), dim=None)
print("wn_conv_g_shape:", tuple(wn_conv.parametrizations.weight.original0.shape))
print("wn_conv_weight_sum:", r(wn_conv.weight.sum().item()))

# parametrizations.spectral_norm: the power-iteration vectors are set from numpy (torch starts
# them at random), after which each training forward runs one power iteration
sn = spectral_norm(fill(nn.Linear(4, 6), 5))
sn_mod = sn.parametrizations.weight[0]
print("sn_buffer_names:", sorted(n for n, _ in sn.named_buffers()))
with torch.no_grad():
    u0 = arr(rng, 6)
    v0 = arr(rng, 4)
    sn_mod._u.copy_(u0 / u0.norm())
    sn_mod._v.copy_(v0 / v0.norm())
for _ in range(30):
    y = sn(x4)
sigma = torch.linalg.matrix_norm(sn.weight.detach(), ord=2)
print("sn_sigma_after:", r(sigma.item()))
print("sn_out_row0:", r(y[0]))
sn.eval()
w_eval_a = sn.weight.detach().clone()
w_eval_b = sn.weight.detach().clone()
print("sn_eval_stable:", torch.equal(w_eval_a, w_eval_b))

# ---------------------------------------------------------------------------------------------
# rnn utilities with an LSTM over a batch of unsorted variable-length sequences

lengths = [3, 5, 2, 4]
seqs = [arr(rng, n, 3) for n in lengths]
padded = pad_sequence(seqs, batch_first=True)
print("pad_shape:", tuple(padded.shape))
print("pad_row2:", r(padded[2, :, 0]))
padded_tm = pad_sequence(seqs, padding_value=-1.0)
print("pad_time_major:", tuple(padded_tm.shape), r(padded_tm[:, 0, 1]))

packed = pack_padded_sequence(padded, torch.tensor(lengths), batch_first=True,
                              enforce_sorted=False)
print("packed_batch_sizes:", packed.batch_sizes.tolist())
print("packed_sorted_indices:", packed.sorted_indices.tolist())
print("packed_unsorted_indices:", packed.unsorted_indices.tolist())
print("packed_data_shape:", tuple(packed.data.shape))
print("packed_data_col0:", r(packed.data[:6, 0]))

lstm = fill(nn.LSTM(3, 4, batch_first=True), 6, scale=0.3)
head = fill(nn.Linear(4, 1), 7)
out_packed, (h_n, c_n) = lstm(packed)
out_pad, out_lens = pad_packed_sequence(out_packed, batch_first=True, padding_value=0.0)
print("unpacked_shape:", tuple(out_pad.shape), out_lens.tolist())
print("unpacked_pad_zero:", r(out_pad[2, 2:].abs().sum().item()))
print("h_n:", r(h_n[0]))
print("c_n_row1:", r(c_n[0, 1]))
# the last valid output of each sequence is its final hidden state
last = out_pad[torch.arange(4), torch.tensor(lengths) - 1]
print("last_equals_h_n:", torch.allclose(last, h_n[0], atol=1e-6))
loss = head(h_n[0]).pow(2).sum()
loss.backward()
print("lstm_grad_w_ih_sum:", r(lstm.weight_ih_l0.grad.sum().item()))
print("lstm_grad_b_hh:", r(lstm.bias_hh_l0.grad[:4]))

ps = pack_sequence(seqs, enforce_sorted=False)
print("pack_sequence_same:", torch.equal(ps.data, packed.data),
      ps.batch_sizes.tolist() == packed.batch_sizes.tolist())
total, tl = pad_packed_sequence(ps, total_length=7)
print("pad_total_length:", tuple(total.shape), tl.tolist())
sorted_seqs = sorted(seqs, key=len, reverse=True)
ps_sorted = pack_sequence(sorted_seqs)
print("pack_sorted_indices_none:", ps_sorted.sorted_indices is None)
try:
    pack_sequence(seqs)
except RuntimeError as e:
    print("pack_unsorted_error:", str(e).split(".")[0])

# ---------------------------------------------------------------------------------------------
# parameters_to_vector / vector_to_parameters, clip_grad_value_

mlp = fill(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), 8)
vec = parameters_to_vector(mlp.parameters())
print("p2v_numel:", vec.numel(), r(vec[:5]))
vector_to_parameters(vec * 0.5, mlp.parameters())
print("v2p_bias:", r(mlp[2].bias))
print("v2p_roundtrip:", torch.allclose(parameters_to_vector(mlp.parameters()), vec * 0.5))
xm = arr(rng, 6, 3)
mlp(xm).pow(3).sum().backward()
print("grad_before_clip:", r(mlp[0].bias.grad))
ret = nn.utils.clip_grad_value_(mlp.parameters(), clip_value=0.05)
print("clip_value_returns:", ret)
print("grad_after_clip:", r(mlp[0].bias.grad))
print("clip_value_max:", r(max(p.grad.abs().max().item() for p in mlp.parameters())))

# ---------------------------------------------------------------------------------------------
# torch.func.functional_call: swap parameters and buffers without touching the module

bn_net = fill(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1)), 9)
params = {k: v.detach() * 2 for k, v in bn_net.named_parameters()}
buffers = {k: v.clone() for k, v in bn_net.named_buffers()}
bn_net.eval()
out_fc = functional_call(bn_net, (params, buffers), (xm,))
print("fcall_out:", r(out_fc.flatten()))
print("fcall_module_unchanged:", r(bn_net[0].bias))
half = {"3.bias": torch.tensor([10.0])}
print("fcall_partial:", r(functional_call(bn_net, half, xm).flatten()[:3]))
bn_net.train()
functional_call(bn_net, (params, buffers), (xm,))
print("fcall_buffers_updated:", r(buffers["1.running_mean"]),
      int(buffers["1.num_batches_tracked"]))
print("fcall_module_buffers_same:", r(bn_net[1].running_mean), int(bn_net[1].num_batches_tracked))
wts = {k: v.detach().clone().requires_grad_(True) for k, v in bn_net.named_parameters()}
functional_call(bn_net, wts, (xm,), kwargs=None).sum().backward()
print("fcall_grad:", r(wts["3.weight"].grad), r(wts["1.bias"].grad))
try:
    functional_call(bn_net, {"0.weight": params["0.weight"], "extra": torch.ones(1)}, (xm,),
                    strict=True)
except RuntimeError as e:
    print("fcall_strict_error:", repr(str(e)))
try:
    functional_call(bn_net, ({"0.bias": params["0.bias"]}, {"0.bias": params["0.bias"]}), xm)
except ValueError as e:
    print("fcall_repeated_error:", str(e))


class ScaledHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.temperature = None

    def forward(self, x):
        out = self.fc(x)
        return out if self.temperature is None else out / self.temperature


sh = fill(ScaledHead(), 12)
print("fcall_extra_attr:", r(functional_call(sh, {"temperature": torch.tensor(2.0)}, xm[:1])),
      sh.temperature)


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Linear(3, 3, bias=False)
        self.out = nn.Linear(3, 3, bias=False)
        self.out.weight = self.emb.weight

    def forward(self, x):
        return self.out(torch.tanh(self.emb(x)))


tied = fill(Tied(), 13)
print("tied_names:", [n for n, _ in tied.named_parameters()], list(tied.state_dict()))
new_w = {"emb.weight": torch.eye(3) * 0.5}
print("fcall_tied:", r(functional_call(tied, new_w, xm[:1])))
print("fcall_untied:", r(functional_call(tied, new_w, xm[:1], tie_weights=False)))
print("fcall_tied_strict:", r(functional_call(tied, new_w, xm[:1], strict=True).sum().item()))

# ---------------------------------------------------------------------------------------------
# hooks: forward pre-hook with kwargs, forward hook with kwargs, full backward hooks


class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x, gate=1.0):
        return self.fc(x) * gate


g = fill(Gated(), 10)
log = []


def pre_hook(mod, args, kwargs):
    log.append(("pre", sorted(kwargs)))
    return (args[0] + 1.0,), {"gate": kwargs.get("gate", 1.0) * 2}


def fwd_hook(mod, args, kwargs, output):
    log.append(("fwd", r(kwargs["gate"])))
    return output - 0.5


def bwd_hook(mod, grad_input, grad_output):
    log.append(("bwd", len(grad_input), r(grad_output[0].sum().item())))
    return (grad_input[0] * 3,)


def bwd_pre_hook(mod, grad_output):
    log.append(("bwd_pre", tuple(grad_output[0].shape)))
    return (grad_output[0] * 0.5,)


hs = [g.register_forward_pre_hook(pre_hook, with_kwargs=True),
      g.register_forward_hook(fwd_hook, with_kwargs=True),
      g.register_full_backward_hook(bwd_hook),
      g.register_full_backward_pre_hook(bwd_pre_hook)]
xg = arr(rng, 2, 3).requires_grad_(True)
yg = g(xg, gate=0.5)
print("hook_out:", r(yg))
yg.pow(2).sum().backward()
print("hook_log:", log)
print("hook_input_grad:", r(xg.grad))
for h in hs:
    h.remove()
log.clear()
xg.grad = None
g(xg, gate=0.5).pow(2).sum().backward()
print("hook_removed:", log, r(xg.grad[0]))
calls = []
h = g.fc.register_forward_hook(lambda m, i, o: calls.append(1), always_call=True)
g(xg)
h.remove()
print("always_call_hook:", calls)
h = g.register_full_backward_pre_hook(lambda m, go: (go[0].clamp(min=0.0),))
xg.grad = None
g(xg).sum().backward()
h.remove()
print("bwd_pre_only_grad:", r(xg.grad))

# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict(strict=False), named_modules / named_buffers / apply


class Net(nn.Module):
    def __init__(self, extra=False):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.shared = self.head  # the same module under two names
        self.register_buffer("step", torch.tensor(0))
        self.register_buffer("tmp", torch.zeros(1), persistent=False)
        if extra:
            self.aux = nn.Linear(4, 1)

    def forward(self, x):
        return self.head(self.body(x))


net = fill(Net(), 11)
sd = net.state_dict()
print("sd_keys:", list(sd.keys()))
print("named_modules:", [n for n, _ in net.named_modules()])
print("named_modules_dup:", [n for n, _ in net.named_modules(remove_duplicate=False)])
print("named_buffers:", [n for n, _ in net.named_buffers()])
print("named_parameters_prefix:", [n for n, _ in net.body.named_parameters(prefix="body")])
print("named_children:", [n for n, _ in net.named_children()])

big = Net(extra=True)
res = big.load_state_dict(sd, strict=False)
print("load_missing:", res.missing_keys)
print("load_unexpected:", res.unexpected_keys)
sd2 = dict(sd)
sd2["bogus.weight"] = torch.zeros(1)
del sd2["head.bias"]
res2 = Net().load_state_dict(sd2, strict=False)
print("load_missing2:", res2.missing_keys, "unexpected2:", res2.unexpected_keys)
print("load_result_tuple:", tuple(res2) == (res2.missing_keys, res2.unexpected_keys))
try:
    Net().load_state_dict(sd2)
except RuntimeError as e:
    lines = str(e).splitlines()
    print("load_strict_error:", len(lines), repr(lines[0]))
    print("load_strict_error_detail:", repr(lines[1].strip()))
bad = dict(sd)
bad["head.weight"] = torch.zeros(3, 4)
try:
    Net().load_state_dict(bad)
except RuntimeError as e:
    print("load_shape_error:", repr(str(e).splitlines()[1].strip()))
ok = Net().load_state_dict(sd)
print("load_ok:", repr(ok))

inits = []


def init(m):
    inits.append(type(m).__name__)
    if isinstance(m, nn.Linear):
        with torch.no_grad():
            m.bias.fill_(0.1)


net.apply(init)
print("apply_order:", inits)
swapped = Net()
swapped.set_submodule("body.2", nn.Tanh())
swapped.set_submodule("extra", nn.Identity())
print("set_submodule:", type(swapped.body[2]).__name__, [n for n, _ in swapped.named_children()])
try:
    swapped.set_submodule("body.7", nn.Tanh(), strict=True)
except AttributeError as e:
    print("set_submodule_strict_error:", str(e))
print("apply_bias:", r(net.head.bias))

# ---------------------------------------------------------------------------------------------
# copy.deepcopy, requires_grad_ freezing, param groups

xb = arr(rng, 5, 3)
net.train()
net(xb).sum().backward()
twin = copy.deepcopy(net)
print("deepcopy_shared_kept:", twin.shared is twin.head, twin.head is not net.head)
print("deepcopy_param_grad:", twin.head.bias.grad is None, net.head.bias.grad is not None,
      type(twin.head.bias).__name__, twin.head.bias.requires_grad)
with torch.no_grad():
    twin.head.bias.add_(1.0)
print("deepcopy_independent:", r(net.head.bias), r(twin.head.bias))
print("deepcopy_buffers:", r(twin.body[1].running_mean), torch.equal(
    twin.body[1].running_mean, net.body[1].running_mean))

net.zero_grad()
net.body.requires_grad_(False)
print("frozen_trainable:", [n for n, p in net.named_parameters() if p.requires_grad])
opt = torch.optim.SGD([{"params": [p for p in net.parameters() if p.requires_grad]}],
                      lr=0.1, momentum=0.9)
body_before = net.body[0].weight.clone()
for _ in range(2):
    opt.zero_grad()
    F.mse_loss(net(xb), torch.ones(5, 2)).backward()
    opt.step()
print("frozen_unchanged:", torch.equal(body_before, net.body[0].weight),
      net.body[0].weight.grad is None)
net.body.requires_grad_(True)
opt.add_param_group({"params": net.body.parameters(), "lr": 0.01, "momentum": 0.0})
print("param_groups:", len(opt.param_groups), [g["lr"] for g in opt.param_groups],
      [g["momentum"] for g in opt.param_groups], [len(g["params"]) for g in opt.param_groups])
for _ in range(2):
    opt.zero_grad()
    F.mse_loss(net(xb), torch.ones(5, 2)).backward()
    opt.step()
print("unfrozen_body_bias:", r(net.body[1].bias), r(net.body[0].weight[0]))
print("unfrozen_head_bias:", r(net.head.bias))
print("bn_running_var:", r(net.body[1].running_var), int(net.body[1].num_batches_tracked))
try:
    opt.add_param_group({"params": net.head.parameters()})
except ValueError as e:
    print("duplicate_group_error:", str(e))

# an optimizer over named parameters records the names in its param groups and state_dict
named_opt = torch.optim.Adam(net.head.named_parameters(), lr=0.01)
F.mse_loss(net(xb), torch.ones(5, 2)).backward()
named_opt.step()
nsd = named_opt.state_dict()
print("named_opt_names:", named_opt.param_groups[0]["param_names"])
nsd_group = nsd["param_groups"][0]
print("named_opt_sd_group:", nsd_group["param_names"], nsd_group["params"])
try:
    named_opt.add_param_group({"params": net.body.parameters()})
except ValueError as e:
    print("named_opt_mixed_error:", str(e))
try:
    torch.optim.SGD([("w", net.head.weight), net.head.bias], lr=0.1)
except ValueError as e:
    print("named_opt_missing_error:", str(e))
plain_opt = torch.optim.Adam(net.head.parameters(), lr=0.01)
plain_opt.load_state_dict(nsd)
print("named_opt_loaded:", plain_opt.param_groups[0].get("param_names"),
      sorted(plain_opt.state[net.head.bias].keys()))
try:
    torch.optim.Adam(net.body.parameters(), lr=0.01).load_state_dict(nsd)
except ValueError as e:
    # (the sentence torch's message starts with; Ember adds which group differs and how)
    print("opt_load_mismatch_error:", type(e).__name__, str(e).startswith(
        "loaded state dict contains a parameter group that doesn't match the size"))
