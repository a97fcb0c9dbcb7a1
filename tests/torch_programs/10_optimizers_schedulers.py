"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and LR schedulers (StepLR, CosineAnnealingLR,
OneCycleLR, ExponentialLR, MultiStepLR, LambdaLR, ReduceLROnPlateau)."""
import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, LambdaLR, MultiStepLR,
                                      OneCycleLR, ReduceLROnPlateau, StepLR)


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


def make_model(seed=10):
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.4))
    return model


rng = np.random.default_rng(11)
X = torch.tensor(rng.standard_normal((32, 4)).astype("float32"))
Y = torch.tensor((rng.standard_normal((32, 1)) * 0.5).astype("float32")) + X[:, :1] * 2


def train(name, make_opt, make_sched=None, steps=12, plateau=False):
    model = make_model()
    opt = make_opt(model.parameters())
    sched = make_sched(opt) if make_sched else None
    lrs, losses = [], []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(X), Y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
        losses.append(loss.item())
        if sched is not None:
            sched.step(loss.item()) if plateau else sched.step()
    print(f"{name}_losses:", r(losses))
    print(f"{name}_lrs:", r(lrs))
    print(f"{name}_last_weight:", r(model[2].weight))
    if sched is not None and not plateau:
        print(f"{name}_get_last_lr:", r(sched.get_last_lr()))
    return opt


train("sgd", lambda p: torch.optim.SGD(p, lr=0.05))
opt = train("adam", lambda p: torch.optim.Adam(p, lr=0.01))
state = opt.state_dict()
print("adam_state_keys:", sorted(state.keys()))
print("adam_state_entry_keys:", sorted(state["state"][0].keys()))
print("adam_state_step:", float(state["state"][0]["step"]))
print("adam_param_group_keys_subset:", [k in state["param_groups"][0] for k in ("lr", "betas", "eps", "weight_decay", "params")])
print("adam_param_group_params:", state["param_groups"][0]["params"])
train("adam_amsgrad_wd", lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), weight_decay=0.01, amsgrad=True))
train("adamw", lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1))
train("rmsprop", lambda p: torch.optim.RMSprop(p, lr=0.005))
train("rmsprop_momentum_centered", lambda p: torch.optim.RMSprop(p, lr=0.005, alpha=0.9, momentum=0.5, centered=True))
train("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.1))
train("adagrad_decay", lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01))

train("steplr", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), lambda o: StepLR(o, step_size=4, gamma=0.5))
train("cosine", lambda p: torch.optim.Adam(p, lr=0.02), lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.001))
train("onecycle", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
      lambda o: OneCycleLR(o, max_lr=0.2, total_steps=13))
train("onecycle_adamw_linear", lambda p: torch.optim.AdamW(p, lr=0.01),
      lambda o: OneCycleLR(o, max_lr=0.05, total_steps=13, pct_start=0.25, anneal_strategy="linear"))
train("exponential", lambda p: torch.optim.RMSprop(p, lr=0.01), lambda o: ExponentialLR(o, gamma=0.9))
train("multistep", lambda p: torch.optim.Adagrad(p, lr=0.2), lambda o: MultiStepLR(o, milestones=[3, 7], gamma=0.1))
train("lambdalr", lambda p: torch.optim.SGD(p, lr=0.1), lambda o: LambdaLR(o, lambda epoch: 1.0 / (1 + epoch)))
train("plateau", lambda p: torch.optim.SGD(p, lr=0.2, momentum=0.9), lambda o: ReduceLROnPlateau(o, factor=0.5, patience=1),
      steps=12, plateau=True)

# per-parameter-group options
model = make_model()
opt = torch.optim.SGD([
    {"params": model[0].parameters()},
    {"params": model[2].parameters(), "lr": 0.01},
], lr=0.1, momentum=0.9)
for _ in range(3):
    loss = nn.functional.mse_loss(model(X), Y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("param_groups_lrs:", [g["lr"] for g in opt.param_groups])
print("param_groups_weights:", r(model[0].bias), r(model[2].bias))
