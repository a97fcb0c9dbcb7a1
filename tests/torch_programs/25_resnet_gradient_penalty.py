"""A small ResNet (residual blocks, depthwise conv, BatchNorm, adaptive pooling) trained with
label smoothing, SGD nesterov and OneCycleLR; forward hooks that capture features; a frozen
backbone; input saliency through autograd.grad; and a WGAN-style gradient penalty (double
backward through conv, batch norm and pooling)."""
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


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.dw = nn.Conv2d(c_out, c_out, 3, padding=1, groups=c_out, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.dw(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, classes=5):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                                  nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(4, 4, 1)
        self.layer2 = BasicBlock(4, 8, 2)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.drop = nn.Dropout(0.0)
        self.fc = nn.Linear(8, classes)

    def forward(self, x):
        x = self.layer2(self.layer1(self.stem(x)))
        return self.fc(self.drop(torch.flatten(self.pool(x), 1)))


rng = np.random.default_rng(25)
model = ResNet()
with torch.no_grad():
    for name, p in model.named_parameters():
        scale = 0.3 if p.dim() > 1 else 0.1
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * scale))
        if name.endswith("bn1.weight") or name.endswith("bn2.weight"):
            p.add_(1.0)
print("modules:", [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)])
print("buffers:", len(list(model.buffers())), r(model.layer2.bn1.running_var[:3]))

features = {}
handle = model.layer2.register_forward_hook(lambda m, i, o: features.__setitem__("l2", o.detach()))
x = torch.tensor(rng.standard_normal((6, 3, 8, 8)).astype("float32"))
y = torch.tensor([0, 1, 2, 3, 4, 0])
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=6)
losses, lrs = [], []
for step in range(6):
    out = model(x)
    loss = F.cross_entropy(out, y, label_smoothing=0.1)
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    losses.append(loss.item())
    lrs.append(sched.get_last_lr()[0])
print("losses:", r(losses))
print("lrs:", r(lrs))
print("hook_feature:", tuple(features["l2"].shape), r(features["l2"].mean()))
print("running_stats:", r(model.layer1.bn1.running_mean[:3]), r(model.layer1.bn1.num_batches_tracked))
handle.remove()

model.eval()
with torch.no_grad():
    logits = model(x)
print("eval_pred:", r(logits.argmax(1)), r(logits[0]))

# saliency: the gradient of the top score with respect to the input
xi = x[:2].clone().requires_grad_(True)
score = model(xi).max(dim=1).values.sum()
(saliency,) = torch.autograd.grad(score, xi)
print("saliency:", tuple(saliency.shape), r(saliency.abs().sum()), r(saliency[0, 0, 0, :3]))

# frozen backbone: only the head trains
for p in model.parameters():
    p.requires_grad_(False)
model.fc.requires_grad_(True)
trainable = [n for n, p in model.named_parameters() if p.requires_grad]
print("trainable:", trainable)
head_opt = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-2)
out = model(x)
F.cross_entropy(out, y).backward()
head_opt.step()
print("frozen_grad_none:", model.stem[0].weight.grad is None, r(model.fc.weight.grad.norm()))

# gradient penalty (double backward) in train mode
model.train()
for p in model.parameters():
    p.requires_grad_(True)
model.zero_grad()
alpha = torch.tensor(rng.random((6, 1, 1, 1)).astype("float32"))
x_fake = torch.tensor(rng.standard_normal((6, 3, 8, 8)).astype("float32"))
x_hat = (alpha * x + (1 - alpha) * x_fake).requires_grad_(True)
critic = model(x_hat)[:, 0].sum()
(g,) = torch.autograd.grad(critic, x_hat, create_graph=True)
penalty = ((g.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
penalty.backward()
print("penalty:", r(penalty))
print("penalty_grads:", r(model.fc.weight.grad.norm()), r(model.stem[0].weight.grad.norm()),
      r(model.layer2.dw.weight.grad.abs().sum()))
