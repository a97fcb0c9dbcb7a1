"""Mixed precision on cpu as training scripts write it: torch.autocast(bfloat16) around the
forward and the loss (the loss comes out in float32), a GradScaler (disabled on cpu), the
autocast state, and whole-model half/bfloat16 conversion."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 4) if isinstance(v, float) else v


rng = np.random.default_rng(31)
model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 3))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.4))
x = torch.tensor(rng.standard_normal((16, 8)).astype("float32"))
y = torch.tensor(rng.integers(0, 3, 16))
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
scaler = torch.amp.GradScaler("cpu", enabled=False)
losses, dtypes = [], []
for step in range(4):
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = model(x)
        loss = F.cross_entropy(out, y)
    dtypes.append((str(out.dtype), str(loss.dtype)))
    opt.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    losses.append(loss.item())
print("dtypes:", dtypes[0], len(set(dtypes)))
print("losses:", r(losses))
print("grad_dtype:", str(model[0].weight.grad.dtype))
with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
    h = model[0](x)
    print("inner:", h.dtype, model[2](model[1](h)).dtype, torch.is_autocast_enabled("cpu"))
print("half_model:", model.half()(x.half()).dtype, next(model.parameters()).dtype)
print("bf16_model:", model.to(torch.bfloat16)(x.bfloat16()).dtype)
print("back:", model.float()(x).dtype)
