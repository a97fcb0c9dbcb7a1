"""Save a checkpoint (model + optimizer state_dict) with torch.save, load it, continue training."""
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        # NOTE: no bias before BatchNorm (the usual practice): such a bias gets a gradient that
        # is pure rounding noise (~1e-6 in torch, ~1e-10 in ember), which Adam rescales into
        # full-size steps in arbitrary directions, so no two frameworks could agree on it.
        self.body = nn.Sequential(nn.Linear(5, 12), nn.ReLU(), nn.Linear(12, 12, bias=False))
        self.norm = nn.BatchNorm1d(12)
        self.head = nn.Linear(12, 2)

    def forward(self, x):
        return self.head(torch.relu(self.norm(self.body(x))))


def make_net(seed):
    net = Net()
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3))
    return net


rng = np.random.default_rng(12)
X = torch.tensor(rng.standard_normal((40, 5)).astype("float32"))
Y = torch.tensor(rng.integers(0, 2, size=40))


def run_steps(net, opt, steps, start):
    losses = []
    net.train()
    for s in range(start, start + steps):
        xb, yb = X[(s % 4) * 10:(s % 4) * 10 + 10], Y[(s % 4) * 10:(s % 4) * 10 + 10]
        loss = nn.functional.cross_entropy(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


net = make_net(120)
opt = torch.optim.Adam(net.parameters(), lr=0.01)
print("first_losses:", r(run_steps(net, opt, 5, 0)))

sd = net.state_dict()
print("state_dict_keys:", list(sd.keys()))
print("state_dict_shapes:", [tuple(v.shape) for v in sd.values()])
print("state_dict_detached:", all(not v.requires_grad for v in sd.values()))

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "checkpoint.pt")
    torch.save({"epoch": 5, "model_state_dict": net.state_dict(),
                "optimizer_state_dict": opt.state_dict(), "note": "after five steps"}, path)
    print("file_written:", os.path.getsize(path) > 0)
    ckpt = torch.load(path)
    tensor_path = os.path.join(tmp, "tensor.pt")
    torch.save(torch.arange(6).view(2, 3), tensor_path)
    loaded_tensor = torch.load(tensor_path)
    list_path = os.path.join(tmp, "list.pt")
    torch.save([torch.tensor([1.5, 2.5]), {"k": torch.tensor(3)}], list_path)
    loaded_list = torch.load(list_path)
print("loaded_tensor:", loaded_tensor.tolist(), str(loaded_tensor.dtype))
print("loaded_list:", loaded_list[0].tolist(), loaded_list[1]["k"].item())
print("ckpt_epoch_note:", ckpt["epoch"], repr(ckpt["note"]))
print("ckpt_keys_match:", list(ckpt["model_state_dict"].keys()) == list(sd.keys()))
print("ckpt_running_mean:", r(ckpt["model_state_dict"]["norm.running_mean"]))
print("ckpt_num_batches_tracked:", ckpt["model_state_dict"]["norm.num_batches_tracked"].item())
print("ckpt_opt_step:", float(ckpt["optimizer_state_dict"]["state"][0]["step"]))

restored = make_net(999)  # different initial weights, overwritten by the checkpoint
result = restored.load_state_dict(ckpt["model_state_dict"])
print("load_result:", list(result.missing_keys), list(result.unexpected_keys))
restored_opt = torch.optim.Adam(restored.parameters(), lr=0.01)
restored_opt.load_state_dict(ckpt["optimizer_state_dict"])
print("weights_equal_after_load:", all(torch.equal(a, b) for a, b in zip(net.parameters(), restored.parameters())))

# continuing from the checkpoint gives exactly what continuing the original gives
cont_a = run_steps(net, opt, 5, 5)
cont_b = run_steps(restored, restored_opt, 5, 5)
print("continued_losses:", r(cont_a))
print("continued_identical:", cont_a == cont_b)
print("final_head_weight:", r(restored.head.weight))

net.eval()
restored.eval()
with torch.no_grad():
    print("eval_outputs_equal:", torch.equal(net(X), restored(X)))
    print("eval_head:", r(restored(X[:3])))

# strict=False with a partial state dict
partial = {k: v for k, v in sd.items() if k.startswith("head.")}
res = make_net(5).load_state_dict(partial, strict=False)
print("partial_missing:", list(res.missing_keys))
try:
    make_net(5).load_state_dict(partial)
    print("strict_load_raises:", False)
except RuntimeError:
    print("strict_load_raises:", True)
