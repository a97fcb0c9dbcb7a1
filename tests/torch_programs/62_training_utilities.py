"""A training-loop toolkit beyond program 36: Subset/ConcatDataset (cumulative_sizes, negative
indices, nesting) with a DataLoader that uses a custom padding collate_fn and drop_last, gradient
accumulation over uneven micro-batches, clip_grad_value_ / clip_grad_norm_ (foreach both ways,
p-norms, error_if_nonfinite, a single tensor), get_total_norm / clip_grads_with_norm_, the
schedulers program 10 leaves out (CyclicLR in every mode with momentum cycling, OneCycleLR three
phase with epochs/steps_per_epoch, CosineAnnealingWarmRestarts with T_mult=1, PolynomialLR,
MultiplicativeLR, ConstantLR, LinearLR, SequentialLR over three, ChainedScheduler,
ReduceLROnPlateau with rel threshold, cooldown, eps and per-group min_lr) on multi-group
optimizers with their state_dict round trips, swa_utils (get_swa/ema avg fns, use_buffers both
ways, SWALR linear, update_bn over a DataLoader), and add_param_group mid-training with an
optimizer state_dict save/load that resumes exactly."""
import copy
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import lr_scheduler as sched
from torch.optim.swa_utils import (SWALR, AveragedModel, get_ema_avg_fn, get_swa_avg_fn,
                                   get_swa_multi_avg_fn, update_bn)
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Subset, TensorDataset

DEVICE = torch.get_default_device()


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


def err(fn):
    try:
        fn()
    except Exception as e:                     # noqa: BLE001 - the class is what we print
        return type(e).__name__
    return "no error"


rng = np.random.default_rng(62)
X = torch.tensor(rng.standard_normal((30, 4)).astype("float32"))
Y = torch.tensor(rng.integers(0, 3, size=30))

# ---------------------------------------------------------------------------------------------
# (a) datasets and a DataLoader with a custom collate_fn and drop_last


class Sequences(Dataset):
    """Variable-length integer sequences with a label: the case a padding collate_fn is for."""

    def __init__(self, lengths, offset):
        self.lengths, self.offset = lengths, offset

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        n = self.lengths[i]
        return torch.arange(n) + self.offset + i, (self.offset + i) % 3


def pad_collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    out = torch.full((len(seqs), int(lengths.max())), -1, dtype=torch.long)
    for k, s in enumerate(seqs):
        out[k, :len(s)] = s
    return out, lengths, torch.tensor(labels)


a = Sequences([2, 4, 1, 3], 0)
b = Sequences([3, 1, 2], 10)
both = ConcatDataset([a, b])
print("concat_len:", len(both), both.cumulative_sizes)
print("concat_items:", both[3][0].tolist(), both[4][0].tolist(), both[-1][0].tolist(),
      both[-7][1])
sub = Subset(both, [6, 0, 4, 2, 5])
print("subset_items:", len(sub), [sub[k][1] for k in range(len(sub))], sub.indices)
nested = ConcatDataset([sub, Subset(a, [3])])
print("nested_len:", len(nested), nested[5][0].tolist())
loader = DataLoader(nested, batch_size=2, collate_fn=pad_collate, drop_last=True)
print("loader_len:", len(loader))
for k, (seqs, lengths, labels) in enumerate(loader):
    print(f"loader_batch{k}:", seqs.tolist(), lengths.tolist(), labels.tolist())
keep = DataLoader(nested, batch_size=4, collate_fn=pad_collate, drop_last=False)
print("loader_keep_sizes:", [bt[0].shape[0] for bt in keep], len(keep))
tds = TensorDataset(X[:7], Y[:7])
print("tensor_dataset:", len(tds), r(tds[2][0]), tds[2][1].item(),
      len(DataLoader(tds, batch_size=3, drop_last=True)))
print("tensor_dataset_mismatch:", err(lambda: TensorDataset(X[:3], Y[:4])))
dict_loader = DataLoader(Subset(tds, [0, 2, 4, 6]), batch_size=3,
                         collate_fn=lambda bt: {"x": torch.stack([x for x, _ in bt]),
                                                "y": [int(y) for _, y in bt]})
print("dict_collate:", [(tuple(d["x"].shape), d["y"]) for d in dict_loader])

# ---------------------------------------------------------------------------------------------
# (b) gradient accumulation over uneven micro-batches equals the full batch


def mlp(seed):
    return fill(nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)), seed)


full = mlp(1)
F.cross_entropy(full(X), Y, reduction="sum").backward()
acc = mlp(1)
for xb, yb in DataLoader(TensorDataset(X, Y), batch_size=7):
    F.cross_entropy(acc(xb), yb, reduction="sum").backward()
print("accum_close:", all(torch.allclose(p.grad, q.grad, atol=1e-5)
                          for p, q in zip(acc.parameters(), full.parameters())))
print("accum_bias_grad:", r(acc[2].bias.grad))

model = mlp(2)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5, nesterov=True)
micro = DataLoader(TensorDataset(X, Y), batch_size=4, drop_last=True)
steps, losses = 0, []
for i, (xb, yb) in enumerate(micro):
    loss = F.cross_entropy(model(xb), yb) / 3
    loss.backward()
    losses.append(loss.item())
    if (i + 1) % 3 == 0 or i + 1 == len(micro):
        nn.utils.clip_grad_norm_(model.parameters(), 0.8)
        opt.step()
        opt.zero_grad()
        steps += 1
print("accum_steps:", steps, len(micro))
print("accum_losses:", r(losses))
print("accum_weight:", r(model[2].bias))

# ---------------------------------------------------------------------------------------------
# (c) gradient clipping


def grads(seed):
    m = mlp(seed)
    F.cross_entropy(m(X) * 3, Y).backward()
    return m


for foreach in (None, False, True):
    m = grads(3)
    tot = nn.utils.clip_grad_norm_(m.parameters(), max_norm=0.3, foreach=foreach)
    after = torch.linalg.vector_norm(torch.cat([p.grad.flatten() for p in m.parameters()]))
    print(f"clip_norm_foreach_{foreach}:", r(tot.item()), r(after.item()), r(m[0].bias.grad))
for p_norm in (1.0, 3.0, float("inf"), 0.5):
    m = grads(3)
    tot = nn.utils.clip_grad_norm_(m.parameters(), max_norm=0.2, norm_type=p_norm)
    print(f"clip_norm_p{p_norm}:", r(tot.item()), r(m[2].bias.grad))
m = grads(3)
tot = nn.utils.clip_grad_norm_(m.parameters(), max_norm=100.0)
print("clip_norm_no_change:", r(tot.item()), r(m[2].bias.grad))
m = grads(3)
nn.utils.clip_grad_value_(m.parameters(), clip_value=0.05, foreach=True)
print("clip_value_foreach:", r(m[0].bias.grad), r(m[2].bias.grad))
m = grads(3)
nn.utils.clip_grad_value_(m.parameters(), 0.1, foreach=False)
print("clip_value_loop:", r(m[0].bias.grad))
m = grads(3)
single = nn.utils.clip_grad_norm_(m[2].weight, 0.1)
print("clip_single_tensor:", r(single.item()), r(m[2].weight.grad.norm().item()))
m = grads(3)
m[0].weight.grad = None
print("clip_skips_none:", r(nn.utils.clip_grad_norm_(m.parameters(), 1.0).item()))
m = grads(3)
total = nn.utils.get_total_norm([p.grad for p in m.parameters()], norm_type=2.0)
nn.utils.clip_grads_with_norm_(m.parameters(), max_norm=0.25, total_norm=total)
print("total_norm_then_clip:", r(total.item()), r(m[2].bias.grad))
print("empty_clip:", r(nn.utils.clip_grad_norm_([], 1.0).item()))
m = grads(3)
with torch.no_grad():
    m[2].bias.grad[1] = float("inf")
print("clip_nonfinite_raises:", err(lambda: nn.utils.clip_grad_norm_(
    m.parameters(), 1.0, error_if_nonfinite=True)))
print("clip_nonfinite_foreach_raises:", err(lambda: nn.utils.clip_grad_norm_(
    m.parameters(), 1.0, error_if_nonfinite=True, foreach=True)))
tot = nn.utils.clip_grad_norm_(m.parameters(), 1.0)
print("clip_inf_total:", tot.item(), r(m[0].bias.grad))

# ---------------------------------------------------------------------------------------------
# (d) lr schedulers on a two-group optimizer


def two_groups(opt_cls=torch.optim.SGD, **kw):
    w = nn.Parameter(torch.zeros(3))
    v = nn.Parameter(torch.zeros(2))
    return opt_cls([{"params": [w]}, {"params": [v], "lr": kw.pop("lr2", 0.01)}],
                   lr=kw.pop("lr", 0.1), **kw)


def trace(opt, s, steps, metrics=None, key="lr"):
    out = []
    for i in range(steps):
        opt.step()
        s.step() if metrics is None else s.step(metrics[i])
        out.append([g[key] for g in opt.param_groups])
    return out


def show(name, rows):
    print(f"{name}_g0:", r([row[0] for row in rows]))
    print(f"{name}_g1:", r([row[1] for row in rows]))


opt = two_groups(momentum=0.9)
s = sched.CyclicLR(opt, base_lr=[0.01, 0.001], max_lr=[0.1, 0.02], step_size_up=3,
                   step_size_down=2)
show("cyclic_tri", trace(opt, s, 11))
print("cyclic_momentum:", r([g["momentum"] for g in opt.param_groups]))
opt = two_groups(momentum=0.9)
s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="triangular2",
                   cycle_momentum=False)
show("cyclic_tri2", trace(opt, s, 12))
opt = two_groups(momentum=0.9)
s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2, mode="exp_range",
                   gamma=0.9, base_momentum=0.7, max_momentum=0.95)
show("cyclic_exp_range", trace(opt, s, 9))
print("cyclic_exp_range_momentum:", r([g["momentum"] for g in opt.param_groups]))
opt = two_groups(momentum=0.9)
s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=2,
                   scale_fn=lambda x: 1.0 / (x + 1), scale_mode="iterations")
show("cyclic_custom", trace(opt, s, 8))
state = s.state_dict()
print("cyclic_state_keys:", sorted(k for k in state if not k.startswith("_")))

opt = two_groups(torch.optim.Adam, betas=(0.9, 0.999))
s = sched.OneCycleLR(opt, max_lr=[0.2, 0.05], epochs=3, steps_per_epoch=4, three_phase=True,
                     pct_start=0.25, div_factor=5.0, final_div_factor=50.0)
show("onecycle3", trace(opt, s, 11))
print("onecycle3_betas:", r([list(g["betas"]) for g in opt.param_groups]))
print("onecycle3_initial_lr:", r([g["initial_lr"] for g in opt.param_groups]),
      r([g["max_lr"] for g in opt.param_groups]), r([g["min_lr"] for g in opt.param_groups]))
print("onecycle3_overrun:", err(lambda: (opt.step(), s.step(), s.step())))

opt = two_groups()
s = sched.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=1, eta_min=0.005)
show("warm_restarts_tmult1", trace(opt, s, 10))
print("warm_restarts_state:", s.T_i, s.T_cur, s.last_epoch)

opt = two_groups()
s = sched.PolynomialLR(opt, total_iters=5, power=2.0)
show("polynomial", trace(opt, s, 7))
opt = two_groups()
s = sched.MultiplicativeLR(opt, lr_lambda=[lambda e: 0.9, lambda e: 0.5 if e % 2 else 1.0])
show("multiplicative", trace(opt, s, 6))
opt = two_groups()
s = sched.ConstantLR(opt, factor=0.25, total_iters=3)
show("constant", trace(opt, s, 5))
opt = two_groups()
s = sched.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=4)
show("linear_decay", trace(opt, s, 6))

opt = two_groups()
s = sched.SequentialLR(opt, [sched.ConstantLR(opt, factor=0.1, total_iters=2),
                             sched.ExponentialLR(opt, gamma=0.8),
                             sched.StepLR(opt, step_size=2, gamma=0.5)], milestones=[2, 5])
show("sequential3", trace(opt, s, 9))
print("sequential3_last_lr:", r(s.get_last_lr()))

opt = two_groups()
s = sched.ChainedScheduler([sched.LinearLR(opt, start_factor=0.5, total_iters=3),
                            sched.MultiStepLR(opt, milestones=[2, 4], gamma=0.3),
                            sched.PolynomialLR(opt, total_iters=6, power=1.0)], optimizer=opt)
show("chained3", trace(opt, s, 7))

plateau_metrics = [1.0, 0.95, 0.949, 0.948, 0.9, 0.899, 0.898, 0.897, 0.5, 0.51, 0.52, 0.53,
                   0.54, 0.55]
opt = two_groups()
s = sched.ReduceLROnPlateau(opt, mode="min", factor=0.2, patience=1, threshold=0.01,
                            threshold_mode="rel", cooldown=2, min_lr=[0.001, 0.0015], eps=1e-4)
show("plateau_rel", trace(opt, s, 14, plateau_metrics))
print("plateau_rel_state:", s.num_bad_epochs, s.cooldown_counter, r(s.best), s.last_epoch,
      r(s.get_last_lr()))
print("plateau_in_cooldown:", s.in_cooldown)
opt = two_groups()
s = sched.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2, threshold=0.0,
                            threshold_mode="abs")
show("plateau_max", trace(opt, s, 10, [0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3]))
sd = s.state_dict()
print("plateau_state_keys:", sorted(k for k in sd if not k.startswith("_")))
opt2 = two_groups()
s2 = sched.ReduceLROnPlateau(opt2, mode="max")
s2.load_state_dict(sd)
print("plateau_loaded:", s2.patience, s2.factor, s2.num_bad_epochs, r(s2.best))

# scheduler state_dict round trip resumes the same lr sequence
opt = two_groups(momentum=0.9)
s = sched.CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
trace(opt, s, 5)
saved_s, saved_o = s.state_dict(), copy.deepcopy(opt.state_dict())
rest = trace(opt, s, 5)
opt_r = two_groups(momentum=0.9)
s_r = sched.CyclicLR(opt_r, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2")
opt_r.load_state_dict(saved_o)
s_r.load_state_dict(saved_s)
print("sched_resume_equal:", r(trace(opt_r, s_r, 5)) == r(rest), r([row[0] for row in rest]))

# ---------------------------------------------------------------------------------------------
# (e) swa_utils


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 5)
        self.bn = nn.BatchNorm1d(5)
        self.fc2 = nn.Linear(5, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn(self.fc1(x))))


base = fill(Net(), 4)
swa = AveragedModel(base, avg_fn=get_swa_avg_fn())
swa_multi = AveragedModel(base, multi_avg_fn=get_swa_multi_avg_fn())
ema = AveragedModel(base, avg_fn=get_ema_avg_fn(0.7), use_buffers=True)
opt = torch.optim.SGD(base.parameters(), lr=0.3)
swalr = SWALR(opt, swa_lr=0.02, anneal_epochs=4, anneal_strategy="linear")
lrs = []
for epoch in range(5):
    for xb, yb in DataLoader(TensorDataset(X, Y), batch_size=10):
        opt.zero_grad()
        F.cross_entropy(base(xb), yb).backward()
        opt.step()
    swa.update_parameters(base)
    swa_multi.update_parameters(base)
    ema.update_parameters(base)
    swalr.step()
    lrs.append(opt.param_groups[0]["lr"])
print("swalr_linear:", r(lrs))
print("swa_n:", swa.n_averaged.item(), swa_multi.n_averaged.item(), ema.n_averaged.item())
print("swa_fc2:", r(swa.module.fc2.bias))
print("swa_multi_same:", all(torch.allclose(p, q, atol=1e-6) for p, q in
                             zip(swa.parameters(), swa_multi.parameters())))
print("ema_fc2:", r(ema.module.fc2.bias))
print("ema_running_var:", r(ema.module.bn.running_var))
print("swa_running_mean_untouched:", r(swa.module.bn.running_mean))
update_bn(DataLoader(TensorDataset(X, Y), batch_size=10), swa)
print("update_bn_mean:", r(swa.module.bn.running_mean))
print("update_bn_var:", r(swa.module.bn.running_var))
print("update_bn_batches:", swa.module.bn.num_batches_tracked.item(), swa.module.bn.momentum)
update_bn([X[:15], X[15:]], base)
print("update_bn_plain_list:", r(base.bn.running_mean))
with torch.no_grad():
    swa.eval()
    print("swa_eval_out:", r(swa(X[:2])))
buf = io.BytesIO()
torch.save(swa.state_dict(), buf)
buf.seek(0)
swa2 = AveragedModel(fill(Net(), 9))
swa2.load_state_dict(torch.load(buf))
print("swa_reload:", swa2.n_averaged.item(), r(swa2.module.fc2.bias))

# ---------------------------------------------------------------------------------------------
# (f) add_param_group mid-training and an optimizer state_dict round trip


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(4, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(torch.tanh(self.body(x)))


def run(model, opt, n):
    out = []
    for k in range(n):
        xb, yb = X[k * 6 % 30:k * 6 % 30 + 6], Y[k * 6 % 30:k * 6 % 30 + 6]
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return out


net = fill(Two(), 5)
for p in net.body.parameters():
    p.requires_grad_(False)
opt = torch.optim.Adam(net.head.parameters(), lr=0.05, betas=(0.8, 0.95))
first = run(net, opt, 3)
for p in net.body.parameters():
    p.requires_grad_(True)
opt.add_param_group({"params": net.body.parameters(), "lr": 0.01, "weight_decay": 0.1})
print("added_groups:", len(opt.param_groups), [g["lr"] for g in opt.param_groups],
      [g["weight_decay"] for g in opt.param_groups], opt.param_groups[1]["betas"])
print("add_duplicate:", err(lambda: opt.add_param_group({"params": [net.head.bias]})))
second = run(net, opt, 2)
sd = opt.state_dict()
print("opt_sd_params:", [g["params"] for g in sd["param_groups"]])
print("opt_sd_steps:", [float(sd["state"][k]["step"]) for k in sorted(sd["state"])])
buf = io.BytesIO()
torch.save({"model": net.state_dict(), "opt": sd}, buf)
cont = run(net, opt, 3)
buf.seek(0)
ck = torch.load(buf)
net2 = fill(Two(), 6)
net2.load_state_dict(ck["model"])
opt2 = torch.optim.Adam(net2.head.parameters(), lr=0.5)
opt2.add_param_group({"params": net2.body.parameters()})
opt2.load_state_dict(ck["opt"])
print("loaded_group_opts:", [g["lr"] for g in opt2.param_groups],
      [g["betas"] for g in opt2.param_groups], [g["weight_decay"] for g in opt2.param_groups])
resumed = run(net2, opt2, 3)
print("losses:", r(first), r(second))
print("resume:", r(cont), r(resumed))
print("resume_equal:", all(torch.equal(p, q) for p, q in zip(net.parameters(),
                                                             net2.parameters())))
print("mismatch_load:", err(lambda: torch.optim.Adam(net2.head.parameters())
                            .load_state_dict(ck["opt"])))
print("device_ok:", net2.head.weight.device == torch.empty(1, device=DEVICE).device)
