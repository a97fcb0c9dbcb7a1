"""A small vision transformer trained the way modern recipes do it: patch embedding both as a
strided Conv2d and as F.unfold + Linear (the same numbers), a class token and learned positional
embeddings, pre-norm blocks with nn.MultiheadAttention (batch_first, need_weights averaged and
per head, key_padding_mask), stochastic depth with fixed per-sample masks, mixup and cutmix
with fixed lambdas and permutations, label-smoothed and soft-target cross entropy, AdamW with
no weight decay for norms and biases (param groups), a cosine schedule with linear warmup via
LambdaLR, an EMA of the weights updated under torch.no_grad with lerp_ / mul_ / add_, gradient
clipping, and torch.amp.GradScaler on cpu (disabled path, enabled path with an inf gradient
that skips a step and backs the scale off, and its state_dict round trip)."""
import math

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


def fill(module, seed, scale=0.2):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * scale)
                                     .astype("float32")))
    return module


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


IMG, PATCH, DIM, HEADS, CLASSES = 12, 4, 16, 4, 5
NP = (IMG // PATCH) ** 2


class DropPath(nn.Module):
    """Stochastic depth, with the per-sample keep mask given instead of drawn."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.mask = None

    def forward(self, x):
        if not self.training or self.p == 0.0 or self.mask is None:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * self.mask.to(x.dtype).view(shape) / keep


class Block(nn.Module):
    def __init__(self, dim, heads, drop_path):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x):
        h = self.norm1(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + self.drop_path(a)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    def __init__(self, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(3, DIM, kernel_size=PATCH, stride=PATCH)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, DIM))
        self.pos_embed = nn.Parameter(torch.zeros(1, NP + 1, DIM))
        self.blocks = nn.ModuleList([Block(DIM, HEADS, 0.25 * i) for i in range(depth)])
        self.norm = nn.LayerNorm(DIM)
        self.head = nn.Linear(DIM, CLASSES)

    def embed(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        return torch.cat([cls, x], dim=1) + self.pos_embed

    def forward(self, x):
        x = self.embed(x)
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


images = data(1, (6, 3, IMG, IMG))
labels = torch.tensor([0, 1, 2, 3, 4, 1])
model = fill(ViT(), 7)

# ---------------------------------------------------------------------------------------------
# (a) patch embedding: conv == unfold + linear

conv_tokens = model.patch(images).flatten(2).transpose(1, 2)
cols = F.unfold(images, kernel_size=PATCH, stride=PATCH)              # (B, 3*P*P, NP)
lin = nn.Linear(3 * PATCH * PATCH, DIM)
with torch.no_grad():
    lin.weight.copy_(model.patch.weight.reshape(DIM, -1))
    lin.bias.copy_(model.patch.bias)
unfold_tokens = lin(cols.transpose(1, 2))
print("patch_shapes:", tuple(cols.shape), tuple(conv_tokens.shape))
print("patch_conv_eq_unfold:", torch.allclose(conv_tokens, unfold_tokens, atol=1e-5))
manual = images.unfold(2, PATCH, PATCH).unfold(3, PATCH, PATCH)       # (B, C, 3, 3, P, P)
manual = manual.permute(0, 2, 3, 1, 4, 5).reshape(6, NP, -1)
print("tensor_unfold_eq_F_unfold:", torch.equal(manual, cols.transpose(1, 2)))
print("patch_token_row:", r(conv_tokens[0, 4, :5]))
folded = F.fold(cols, output_size=(IMG, IMG), kernel_size=PATCH, stride=PATCH)
print("fold_roundtrip:", torch.equal(folded, images))

# ---------------------------------------------------------------------------------------------
# (b) multi-head attention details

mha = model.blocks[0].attn
tok = model.embed(images[:2])
out, w_avg = mha(tok, tok, tok)
_, w_heads = mha(tok, tok, tok, average_attn_weights=False)
print("mha_shapes:", tuple(out.shape), tuple(w_avg.shape), tuple(w_heads.shape))
print("mha_avg_is_mean:", torch.allclose(w_heads.mean(1), w_avg, atol=1e-6))
print("mha_rows_sum1:", torch.allclose(w_avg.sum(-1), torch.ones(2, NP + 1), atol=1e-5))
print("mha_out:", r(out[1, 0, :4]))
pad = torch.zeros(2, NP + 1, dtype=torch.bool)
pad[1, -3:] = True
out_p, w_p = mha(tok, tok, tok, key_padding_mask=pad)
print("mha_padded_weight_zero:", w_p[1, :, -3:].abs().max().item(),
      r(w_p[1, 0, :3]))
print("mha_pad_changes_only_b1:", torch.allclose(out_p[0], out[0], atol=1e-6),
      torch.allclose(out_p[1], out[1], atol=1e-6))
q, k, v = F.linear(tok, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
split = lambda t: t.reshape(2, NP + 1, HEADS, DIM // HEADS).transpose(1, 2)  # noqa: E731
sdpa = F.scaled_dot_product_attention(split(q), split(k), split(v))
manual_out = mha.out_proj(sdpa.transpose(1, 2).reshape(2, NP + 1, DIM))
print("mha_eq_sdpa:", torch.allclose(manual_out, out, atol=1e-5))

# ---------------------------------------------------------------------------------------------
# (c) mixup, cutmix, label smoothing

perm = torch.tensor([5, 4, 3, 2, 1, 0])
lam = 0.7
mixed = lam * images + (1 - lam) * images[perm]
onehot = F.one_hot(labels, CLASSES).float()
soft = lam * onehot + (1 - lam) * onehot[perm]
logits = model(mixed)
ce_soft = F.cross_entropy(logits, soft)
ce_mix = lam * F.cross_entropy(logits, labels) + (1 - lam) * F.cross_entropy(logits, labels[perm])
print("mixup_soft_target_ce:", r(ce_soft.item()), torch.allclose(ce_soft, ce_mix, atol=1e-6))
print("label_smoothing:", r(F.cross_entropy(logits, labels, label_smoothing=0.1).item()),
      r(nn.CrossEntropyLoss(label_smoothing=0.2, reduction="sum")(logits, labels).item()))
print("label_smoothing_soft:", r(F.cross_entropy(logits, soft, label_smoothing=0.1).item()))
ls_w = F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 2.0, 1.0, 0.5, 1.0]),
                       label_smoothing=0.1)
print("label_smoothing_weighted:", r(ls_w.item()))
y0, x0, cut = 2, 4, 6
cutmix = images.clone()
cutmix[:, :, y0:y0 + cut, x0:x0 + cut] = images[perm][:, :, y0:y0 + cut, x0:x0 + cut]
lam_c = 1 - cut * cut / (IMG * IMG)
print("cutmix:", r(lam_c), r(cutmix.sum().item()), r(cutmix[0, 0, 3, 3:7]))
box = torch.zeros(IMG, IMG, dtype=torch.bool)
box[y0:y0 + cut, x0:x0 + cut] = True
print("cutmix_where_eq:", torch.equal(torch.where(box, images[perm], images), cutmix))

# ---------------------------------------------------------------------------------------------
# (d) training: AdamW param groups, warmup + cosine LambdaLR, drop path, clipping, EMA

decay, no_decay = [], []
for name, p in model.named_parameters():
    (no_decay if p.ndim <= 1 or name.endswith(".bias") or "token" in name or "pos_embed" in name
     else decay).append(p)
print("param_groups_sizes:", len(decay), len(no_decay),
      sum(p.numel() for p in decay), sum(p.numel() for p in no_decay))
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                         {"params": no_decay, "weight_decay": 0.0}], lr=3e-3, betas=(0.9, 0.98))
WARM, TOTAL = 2, 8


def warmup_cosine(step):
    if step < WARM:
        return (step + 1) / WARM
    t = (step - WARM) / (TOTAL - WARM)
    return 0.5 * (1 + math.cos(math.pi * t))


sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine)
ema = fill(ViT(), 7)
ema.eval()
for p in ema.parameters():
    p.requires_grad_(False)
masks = [torch.tensor([1, 0, 1, 1, 1, 0]), torch.tensor([1, 1, 0, 1, 1, 1])]
model.train()
for blk, m in zip(model.blocks, masks):
    blk.drop_path.mask = m
for step in range(6):
    opt.zero_grad(set_to_none=True)
    lam = 0.6 + 0.05 * step
    x = lam * images + (1 - lam) * images[perm]
    out = model(x)
    loss = lam * F.cross_entropy(out, labels, label_smoothing=0.1) \
        + (1 - lam) * F.cross_entropy(out, labels[perm], label_smoothing=0.1)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()
    sched.step()
    with torch.no_grad():
        d = 0.9
        for pe, pm in zip(ema.parameters(), model.parameters()):
            if step % 2 == 0:
                pe.lerp_(pm, 1 - d)
            else:
                pe.mul_(d).add_(pm, alpha=1 - d)
    print(f"vit_step{step}:", r(loss.item()), r(norm.item()), r(sched.get_last_lr()))
print("cls_token_grad_none:", model.cls_token.grad is None)
model.eval()
with torch.no_grad():
    ev = model(images)
    ev_ema = ema(images)
print("eval_logits:", r(ev[0]))
print("ema_logits:", r(ev_ema[0]))
print("eval_acc:", (ev.argmax(1) == labels).float().mean().item(),
      (ev_ema.argmax(1) == labels).sum().item())
print("ema_param_dist:", r(sum((a - b).pow(2).sum() for a, b in
                              zip(ema.parameters(), model.parameters())).sqrt().item()))
print("adamw_state_keys:", sorted(opt.state_dict()["state"][0].keys()),
      opt.state_dict()["state"][0]["step"].item())
print("sched_state:", sched.state_dict()["last_epoch"], r(sched.state_dict()["base_lrs"]))

# ---------------------------------------------------------------------------------------------
# (e) GradScaler on cpu

small = fill(nn.Linear(4, 2), 3)
xs, ys = data(4, (5, 4)), torch.tensor([0, 1, 1, 0, 1])
off = torch.amp.GradScaler("cpu", enabled=False)
o2 = torch.optim.SGD(small.parameters(), lr=0.1)
loss = F.cross_entropy(small(xs), ys)
print("scaler_disabled:", off.is_enabled(), off.scale(loss) is loss, off.get_scale())
off.scale(loss).backward()
off.step(o2)
off.update()
print("scaler_disabled_state:", off.state_dict())
print("scaler_disabled_weight:", r(small.weight[0]))

sc = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_factor=2.0, backoff_factor=0.25,
                          growth_interval=2)
print("scaler_enabled:", sc.is_enabled(), sc.get_scale(), sc.get_growth_interval())
for step in range(5):
    o2.zero_grad()
    loss = F.cross_entropy(small(xs), ys)
    scaled = sc.scale(loss)
    scaled.backward()
    if step == 2:
        small.weight.grad[0, 0] = float("inf")
    sc.unscale_(o2)
    gn = nn.utils.clip_grad_norm_(small.parameters(), 5.0)
    before = small.weight.detach().clone()
    sc.step(o2)
    sc.update()
    print(f"scaler_step{step}:", r(scaled.item()), r(gn.item()), sc.get_scale(),
          torch.equal(before, small.weight))
sd = sc.state_dict()
print("scaler_state:", sorted(sd.items()))
sc2 = torch.amp.GradScaler("cpu")
sc2.load_state_dict(sd)
print("scaler_loaded:", sc2.get_scale(), sc2.get_backoff_factor(), sc2._get_growth_tracker())
print("final_small:", r(small.weight.flatten()), r(small.bias))

# ---------------------------------------------------------------------------------------------
# (f) resolution change: interpolating the positional embedding; built-in schedule equivalent

grid = model.pos_embed[:, 1:].detach().reshape(1, 3, 3, DIM).permute(0, 3, 1, 2)
for mode, kw in [("bicubic", {"align_corners": False}), ("bilinear", {"align_corners": True}),
                 ("bilinear", {"antialias": True}), ("nearest", {})]:
    big = F.interpolate(grid, size=(5, 5), mode=mode, **kw)
    print(f"pos_resize_{mode}_{'_'.join(kw) or 'plain'}:", tuple(big.shape),
          r(big[0, 0, 1]), r(big.sum().item()))
shrunk = F.interpolate(grid, size=(2, 2), mode="bicubic", antialias=True)
print("pos_shrink_bicubic_aa:", r(shrunk[0, :2].flatten()))
new_pos = torch.cat([model.pos_embed[:, :1],
                     F.interpolate(grid, size=(4, 4), mode="bicubic", align_corners=False)
                     .permute(0, 2, 3, 1).reshape(1, 16, DIM)], dim=1)
print("new_pos_shape:", tuple(new_pos.shape))

p1 = nn.Parameter(torch.ones(2))
o1 = torch.optim.SGD([p1], lr=1.0)
seq = torch.optim.lr_scheduler.SequentialLR(
    o1, [torch.optim.lr_scheduler.LinearLR(o1, start_factor=0.5, total_iters=WARM),
         torch.optim.lr_scheduler.CosineAnnealingLR(o1, T_max=TOTAL - WARM, eta_min=0.01)],
    milestones=[WARM])
lrs = []
for _ in range(TOTAL):
    o1.step()
    lrs.append(o1.param_groups[0]["lr"])
    seq.step()
print("sequential_lr:", r(lrs))
o3 = torch.optim.SGD([nn.Parameter(torch.ones(1))], lr=0.5)
oc = torch.optim.lr_scheduler.OneCycleLR(o3, max_lr=1.0, total_steps=8, pct_start=0.25)
lrs = []
for _ in range(7):
    o3.step()
    oc.step()
    lrs.append(o3.param_groups[0]["lr"])
print("onecycle_lr:", r(lrs), r(o3.param_groups[0]["momentum"]))
