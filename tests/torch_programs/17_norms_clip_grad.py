"""LayerNorm, GroupNorm, BatchNorm1d, InstanceNorm, F.normalize; clip_grad_norm_ / clip_grad_value_."""
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


def init_params(model, seed, scale=0.3, offset=0.0):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * scale + offset))


rng = np.random.default_rng(18)
x = torch.tensor((rng.standard_normal((3, 4, 6)) * 2 + 1).astype("float32"), requires_grad=True)

ln = nn.LayerNorm(6)
print("layernorm_default_params:", ln.weight.tolist(), ln.bias.tolist(), ln.eps)
init_params(ln, 180, 0.2, 1.0)
y = ln(x)
print("layernorm_out:", r(y[0, :2]))
print("layernorm_row_mean:", r(F.layer_norm(x, (6,)).mean(dim=-1)[0]))
print("layernorm_2d_shape:", r(nn.LayerNorm([4, 6], elementwise_affine=False)(x)[1, 0]))
y.pow(2).sum().backward()
print("layernorm_input_grad:", r(x.grad[0, 0]))
print("layernorm_weight_grad:", r(ln.weight.grad))
x.grad = None

gn = nn.GroupNorm(num_groups=2, num_channels=4)
init_params(gn, 181, 0.2, 1.0)
img = x.view(3, 4, 2, 3)
out = gn(img)
print("groupnorm_out:", r(out[0, 1]))
print("groupnorm_functional_noaffine:", r(F.group_norm(img, 2)[2, 3]))
(out * torch.arange(6.0).view(1, 1, 2, 3)).sum().backward()
print("groupnorm_input_grad:", r(x.grad[0, 0]))
print("groupnorm_bias_grad:", r(gn.bias.grad))
x.grad = None

inorm = nn.InstanceNorm1d(4)
print("instancenorm1d:", r(inorm(x.detach())[0, 0]))

bn = nn.BatchNorm1d(4, momentum=0.2)
init_params(bn, 182, 0.2, 1.0)
feats = x.detach()[:, :, 0]
for _ in range(3):
    bn(feats)
print("batchnorm1d_train_out:", r(bn(feats)))
print("batchnorm1d_running_mean:", r(bn.running_mean))
print("batchnorm1d_running_var:", r(bn.running_var))
bn.eval()
print("batchnorm1d_eval_out:", r(bn(feats)))
print("batchnorm1d_3d_input:", r(nn.BatchNorm1d(4, affine=False)(x.detach())[0, 0]))
bn_nostats = nn.BatchNorm1d(4, track_running_stats=False).eval()
print("batchnorm1d_no_running_stats:", r(bn_nostats(feats)[0]), bn_nostats.running_mean is None)

print("normalize:", r(F.normalize(x.detach()[0], dim=1)[0]))
print("normalize_p1:", r(F.normalize(x.detach()[0, 0], p=1, dim=0)))
print("rms_manual:", r(x.detach()[0, 0] * torch.rsqrt(x.detach()[0, 0].pow(2).mean() + 1e-6)))

# gradient clipping
model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))
init_params(model, 183, 1.0)
inp = x.detach()[0]
loss = model(inp).pow(2).sum() * 10
loss.backward()
grads_before = [p.grad.clone() for p in model.parameters()]
total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
print("clip_total_norm_before:", r(total.item()))
print("clip_norm_after:", r(torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters())).item()))
print("clip_scaled_grad:", r(model[2].weight.grad))
for p, g in zip(model.parameters(), grads_before):
    p.grad.copy_(g)
total_inf = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=5.0, norm_type=float("inf"))
print("clip_inf_norm:", r(total_inf.item()))
print("clip_inf_max_after:", r(max(p.grad.abs().max().item() for p in model.parameters())))
for p, g in zip(model.parameters(), grads_before):
    p.grad.copy_(g)
big = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e6)
print("clip_no_change:", all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads_before)), r(big.item()))
torch.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
print("clip_value:", r(model[0].weight.grad[0]))
print("params_to_vector:", tuple(nn.utils.parameters_to_vector(model.parameters()).shape))
