"""Training tricks in ordinary scripts: gradient accumulation, swa_utils (AveragedModel with EMA
and custom averaging, SWALR, update_bn), label smoothing, LR schedulers (OneCycleLR,
CosineAnnealingWarmRestarts, ReduceLROnPlateau, LambdaLR, SequentialLR, ChainedScheduler),
activation checkpointing, zero_grad(set_to_none=...), optimizer state_dict round trip,
clip_grad_norm_(error_if_nonfinite=True), early stopping and weight-decay exclusions."""
import copy

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import lr_scheduler as sched
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_multi_avg_fn, update_bn
from torch.utils.checkpoint import checkpoint


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


def fill(module, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(
                (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


def mlp(seed, bn=False):
    # no bias before a BatchNorm: its gradient is pure rounding noise, which Adam would amplify
    layers = [nn.Linear(4, 8, bias=not bn)] + ([nn.BatchNorm1d(8)] if bn else []) + [
        nn.ReLU(), nn.Linear(8, 3)]
    return fill(nn.Sequential(*layers), seed)


rng = np.random.default_rng(36)
X = torch.tensor(rng.standard_normal((24, 4)).astype("float32"))
Y = torch.tensor(rng.integers(0, 3, size=24))
Xv = torch.tensor(rng.standard_normal((12, 4)).astype("float32"))
Yv = torch.tensor(rng.integers(0, 3, size=12))

# ---------------------------------------------------------------------------------------------
# gradient accumulation: four micro-batches of 6 give the full-batch gradient

full = mlp(1)
F.cross_entropy(full(X), Y).backward()
acc = mlp(1)
for xb, yb in zip(X.split(6), Y.split(6)):
    (F.cross_entropy(acc(xb), yb) / 4).backward()
print("accum_matches_full:", all(torch.allclose(a.grad, b.grad, atol=1e-6)
                                 for a, b in zip(acc.parameters(), full.parameters())))
print("accum_grad_bias:", r(acc[2].bias.grad))

model = mlp(2)
opt = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
accum_steps, updates, losses = 3, 0, []
opt.zero_grad()
for i, (xb, yb) in enumerate(zip(X.split(4), Y.split(4))):
    loss = F.cross_entropy(model(xb), yb) / accum_steps
    loss.backward()
    losses.append(loss.item())
    if (i + 1) % accum_steps == 0:
        opt.step()
        opt.zero_grad()
        updates += 1
print("accum_updates:", updates)
print("accum_losses:", r(losses))
print("accum_weight:", r(model[2].bias))

# ---------------------------------------------------------------------------------------------
# label smoothing in CrossEntropyLoss, with class weights and ignore_index

logits = torch.tensor(rng.standard_normal((6, 4)).astype("float32"), requires_grad=True)
target = torch.tensor([0, 3, 1, -100, 2, 3])
wts = torch.tensor([1.0, 2.0, 0.5, 1.5])
for name, crit in [("ls", nn.CrossEntropyLoss(label_smoothing=0.1, ignore_index=-100)),
                   ("ls_weight", nn.CrossEntropyLoss(weight=wts, label_smoothing=0.2)),
                   ("ls_sum", nn.CrossEntropyLoss(label_smoothing=0.3, reduction="sum")),
                   ("ls_none", nn.CrossEntropyLoss(weight=wts, label_smoothing=0.15,
                                                   reduction="none"))]:
    loss = crit(logits, target)
    print(f"{name}_loss:", r(loss))
    logits.grad = None
    loss.sum().backward()
    print(f"{name}_grad_row0:", r(logits.grad[0]))
probs = torch.softmax(torch.tensor(rng.standard_normal((3, 4)).astype("float32")), dim=1)
print("ls_soft_targets:", r(F.cross_entropy(logits[:3], probs, label_smoothing=0.1)))

# ---------------------------------------------------------------------------------------------
# schedulers: stepping and get_last_lr


def lr_trace(make, steps, base_lr=0.1, opt_cls=torch.optim.SGD, metric=None, **opt_kw):
    p = nn.Parameter(torch.zeros(2))
    opt = opt_cls([p], lr=base_lr, **opt_kw)
    s = make(opt)
    lrs = []
    for i in range(steps):
        opt.step()
        if metric is None:
            s.step()
        else:
            s.step(metric[i])
        lrs.append(s.get_last_lr()[0] if hasattr(s, "get_last_lr") else
                   opt.param_groups[0]["lr"])
    return opt, s, lrs


opt, s, lrs = lr_trace(lambda o: sched.OneCycleLR(o, max_lr=0.5, total_steps=10,
                                                  div_factor=10.0, final_div_factor=100.0),
                       10, opt_cls=torch.optim.Adam, betas=(0.9, 0.99))
print("onecycle_lrs:", r(lrs[:9]))
print("onecycle_betas:", r(list(opt.param_groups[0]["betas"])))
print("onecycle_group_keys:", sorted(k for k in opt.param_groups[0] if "lr" in k))

_, s, lrs = lr_trace(lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                 eta_min=0.01), 12)
print("warm_restarts_lrs:", r(lrs))
print("warm_restarts_state:", s.T_i, s.T_cur)
p = nn.Parameter(torch.zeros(2))
opt = torch.optim.SGD([p], lr=0.1)
s = sched.CosineAnnealingWarmRestarts(opt, T_0=4)
frac = []
for epoch in range(2):
    for it in range(4):
        s.step(epoch + it / 4)
        frac.append(opt.param_groups[0]["lr"])
print("warm_restarts_fractional:", r(frac))

vals = [1.0, 0.9, 0.95, 0.97, 0.96, 0.85, 0.9, 0.91, 0.92, 0.93, 0.94, 0.95]
_, s, lrs = lr_trace(lambda o: sched.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=1,
                                                       cooldown=1, min_lr=0.02), 12,
                     metric=vals)
print("plateau_lrs:", r(lrs))
print("plateau_state:", s.num_bad_epochs, s.cooldown_counter, r(s.best))
_, s, lrs = lr_trace(lambda o: sched.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=0,
                                                       threshold=0.05, threshold_mode="abs"),
                     8, metric=[0.5, 0.6, 0.62, 0.7, 0.71, 0.72, 0.9, 0.91])
print("plateau_max_abs_lrs:", r(lrs))

_, s, lrs = lr_trace(lambda o: sched.LambdaLR(o, lambda e: 0.95 ** e if e > 2 else (e + 1) / 3),
                     7)
print("lambda_lrs:", r(lrs))

_, s, lrs = lr_trace(lambda o: sched.SequentialLR(
    o, [sched.LinearLR(o, start_factor=0.25, total_iters=3),
        sched.CosineAnnealingLR(o, T_max=5, eta_min=0.001)], milestones=[3]), 9)
print("sequential_lrs:", r(lrs))
print("sequential_last_epoch:", s.last_epoch)

p = nn.Parameter(torch.zeros(2))
opt = torch.optim.SGD([p], lr=1.0)
s = sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.5, total_iters=2),
                            sched.ExponentialLR(opt, gamma=0.9)])
print("chained_initial:", r(s.get_last_lr()))
chained = []
for _ in range(5):
    opt.step()
    s.step()
    chained.append(s.get_last_lr()[0])
print("chained_lrs:", r(chained))
print("chained_state_keys:", sorted(s.state_dict().keys()))

# ---------------------------------------------------------------------------------------------
# stochastic weight averaging and EMA


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.bn = nn.BatchNorm1d(6)
        self.fc2 = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x))))


base = fill(Tiny(), 3)
ema = AveragedModel(base, multi_avg_fn=get_ema_multi_avg_fn(0.8), use_buffers=True)
swa = AveragedModel(base)
custom = AveragedModel(base, avg_fn=lambda avg, cur, n: 0.5 * avg + 0.5 * cur)
opt = torch.optim.SGD(base.parameters(), lr=0.5, momentum=0.9)
swa_sched = SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy="cos")
swa_lrs = []
for epoch in range(6):
    for xb, yb in zip(X.split(8), Y.split(8)):
        opt.zero_grad()
        F.cross_entropy(base(xb), yb).backward()
        opt.step()
    ema.update_parameters(base)
    custom.update_parameters(base)
    if epoch >= 2:
        swa.update_parameters(base)
        swa_sched.step()
    swa_lrs.append(opt.param_groups[0]["lr"])
print("swalr_lrs:", r(swa_lrs))
print("swa_n_averaged:", int(swa.n_averaged), int(ema.n_averaged))
print("ema_fc2_bias:", r(ema.module.fc2.bias))
print("ema_running_mean:", r(ema.module.bn.running_mean[:3]))
print("swa_fc2_bias:", r(swa.module.fc2.bias))
print("custom_fc2_bias:", r(custom.module.fc2.bias))
print("swa_keys:", list(swa.state_dict().keys())[:3])
loader = [(xb, yb) for xb, yb in zip(X.split(8), Y.split(8))]
update_bn(loader, swa)
print("update_bn_running_mean:", r(swa.module.bn.running_mean[:3]))
print("update_bn_running_var:", r(swa.module.bn.running_var[:3]))
print("update_bn_momentum_restored:", swa.module.bn.momentum,
      int(swa.module.bn.num_batches_tracked))
swa.eval()
with torch.no_grad():
    print("swa_val_loss:", r(F.cross_entropy(swa(Xv), Yv).item()))

# ---------------------------------------------------------------------------------------------
# activation checkpointing gives the same gradients


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.norm = nn.LayerNorm(8)

    def forward(self, x, scale=1.0):
        return x + scale * torch.tanh(self.fc(self.norm(x)))


class Deep(nn.Module):
    def __init__(self, use_ckpt):
        super().__init__()
        self.use_ckpt = use_ckpt
        self.inp = nn.Linear(4, 8)
        self.blocks = nn.ModuleList([Block() for _ in range(3)])
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = self.inp(x)
        for blk in self.blocks:
            if self.use_ckpt:
                h = checkpoint(blk, h, use_reentrant=False, scale=0.5)
            else:
                h = blk(h, scale=0.5)
        return self.out(h)


plain, ck = fill(Deep(False), 4), fill(Deep(True), 4)
lp = F.cross_entropy(plain(X), Y)
lc = F.cross_entropy(ck(X), Y)
lp.backward()
lc.backward()
print("ckpt_loss_equal:", r(lp.item()), r(lc.item()))
print("ckpt_grads_close:", all(torch.allclose(a.grad, b.grad, atol=1e-6)
                               for a, b in zip(plain.parameters(), ck.parameters())))
print("ckpt_grad_fc:", r(ck.blocks[1].fc.bias.grad))
xin = X[:3].clone().requires_grad_(True)
out = checkpoint(lambda t: (t.sin() * t).sum(dim=1), xin, use_reentrant=False)
out.sum().backward()
print("ckpt_input_grad:", r(xin.grad[0]))

# ---------------------------------------------------------------------------------------------
# zero_grad(set_to_none=...)

m = mlp(5)
opt = torch.optim.SGD(m.parameters(), lr=0.1)
F.cross_entropy(m(X), Y).backward()
opt.zero_grad(set_to_none=False)
print("zero_grad_false:", [p.grad is None for p in m.parameters()],
      r(sum(p.grad.abs().sum().item() for p in m.parameters())))
opt.zero_grad()
print("zero_grad_default:", [p.grad is None for p in m.parameters()])
F.cross_entropy(m(X), Y).backward()
m.zero_grad(set_to_none=True)
print("module_zero_grad:", all(p.grad is None for p in m.parameters()))

# ---------------------------------------------------------------------------------------------
# optimizer state_dict round trip mid-training: resuming continues exactly


def adam_run(model, opt, steps):
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), Y)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


a = mlp(6)
opt_a = torch.optim.AdamW(a.parameters(), lr=0.02, weight_decay=0.05, amsgrad=True)
sch_a = sched.StepLR(opt_a, step_size=2, gamma=0.5)
for _ in range(3):
    adam_run(a, opt_a, 1)
    sch_a.step()
ckpt = {"model": copy.deepcopy(a.state_dict()), "opt": copy.deepcopy(opt_a.state_dict()),
        "sched": sch_a.state_dict()}
print("opt_state_step:", float(ckpt["opt"]["state"][0]["step"]))
print("opt_state_keys:", sorted(ckpt["opt"]["state"][0].keys()))
print("sched_state:", ckpt["sched"]["last_epoch"], r(ckpt["sched"]["_last_lr"]))
cont = adam_run(a, opt_a, 3)
b = mlp(7)
b.load_state_dict(ckpt["model"])
opt_b = torch.optim.AdamW(b.parameters(), lr=0.5, weight_decay=0.05, amsgrad=True)
opt_b.load_state_dict(ckpt["opt"])
sch_b = sched.StepLR(opt_b, step_size=2, gamma=0.5)
sch_b.load_state_dict(ckpt["sched"])
print("resumed_lr:", r(opt_b.param_groups[0]["lr"]), r(sch_b.get_last_lr()))
resumed = adam_run(b, opt_b, 3)
print("resume_losses:", r(cont), r(resumed))
print("resume_weights_equal:", all(torch.allclose(p, q, atol=1e-6)
                                   for p, q in zip(a.parameters(), b.parameters())))

# ---------------------------------------------------------------------------------------------
# clip_grad_norm_ with error_if_nonfinite

m = mlp(8)
F.cross_entropy(m(X) * 5, Y).backward()
total = nn.utils.clip_grad_norm_(m.parameters(), max_norm=0.5)
print("clip_total_norm:", r(total.item()))
print("clip_new_norm:", r(torch.norm(torch.stack([p.grad.norm() for p in m.parameters()])).item()))
total_inf = nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0, norm_type="inf")
print("clip_inf_norm:", r(total_inf.item()))
with torch.no_grad():
    m[0].weight.grad[0, 0] = float("inf")
try:
    nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0, error_if_nonfinite=True)
except RuntimeError as e:
    print("clip_nonfinite_error:", repr(str(e)))
with torch.no_grad():
    m[0].weight.grad[0, 0] = float("nan")
norm_nan = nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0)
print("clip_nan_norm:", norm_nan.item() != norm_nan.item())

# ---------------------------------------------------------------------------------------------
# early stopping on the validation loss, with weight decay excluded from biases and norms

model = mlp(9, bn=True)
decay, no_decay = [], []
for name, p in model.named_parameters():
    (no_decay if name.endswith("bias") or p.dim() == 1 else decay).append(p)
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                         {"params": no_decay, "weight_decay": 0.0}], lr=0.005)
print("wd_groups:", [len(g["params"]) for g in opt.param_groups],
      [g["weight_decay"] for g in opt.param_groups])
plateau = sched.ReduceLROnPlateau(opt, factor=0.5, patience=1)
best, best_state, bad, patience, history = float("inf"), None, 0, 3, []
for epoch in range(40):
    model.train()
    for xb, yb in zip(X.split(8), Y.split(8)):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        val = F.cross_entropy(model(Xv), Yv).item()
    history.append(val)
    plateau.step(val)
    if val < best - 1e-4:
        best, bad = val, 0
        best_state = copy.deepcopy(model.state_dict())
    else:
        bad += 1
        if bad >= patience:
            break
print("early_stop_epoch:", epoch)
print("early_stop_history:", r(history))
print("early_stop_best:", r(best))
print("early_stop_lrs:", r([g["lr"] for g in opt.param_groups]))
model.load_state_dict(best_state)
with torch.no_grad():
    print("restored_best_val:", r(F.cross_entropy(model(Xv), Yv).item()))
print("no_decay_bn_weight:", r(model[1].weight[:4]))
