"""A small CNN (Conv2d, BatchNorm2d, MaxPool2d, Dropout in eval) trained on random images."""
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


def init_params(model, seed):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.2))


class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.dropout = nn.Dropout(0.5)
        self.fc = nn.Linear(8 * 2 * 2, 4)

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = F.relu(self.bn2(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.dropout(x)
        return self.fc(x)


rng = np.random.default_rng(9)
images = torch.tensor(rng.standard_normal((12, 3, 8, 8)).astype("float32"))
targets = torch.tensor(rng.integers(0, 4, size=12))

# stand-alone layers
conv = nn.Conv2d(3, 2, kernel_size=(3, 2), stride=(1, 2), padding=(1, 0), dilation=1)
init_params(conv, 90)
out = conv(images[:2])
print("conv_shape:", tuple(out.shape))
print("conv_values:", r(out[0, 1, :2]))
print("conv_weight_shape:", tuple(conv.weight.shape))
print("conv_grouped_shape:", tuple(nn.Conv2d(4, 6, 3, groups=2).weight.shape))
print("maxpool:", r(F.max_pool2d(images[0, :1], 2)[0, :2]))
print("maxpool_stride1_pad:", tuple(nn.MaxPool2d(3, stride=1, padding=1)(images).shape))
print("avgpool:", r(F.avg_pool2d(images[0, :1], 2)[0, :2]))
print("adaptive_avgpool:", r(nn.AdaptiveAvgPool2d((1, 1))(images[:2]).flatten(1)))
print("functional_conv2d:", r(F.conv2d(images[:1], conv.weight, conv.bias, stride=(1, 2), padding=(1, 0))[0, 0, 0]))
c1 = nn.Conv1d(3, 2, 3, padding=1)
init_params(c1, 91)
print("conv1d:", r(c1(images[:1, :, 0, :])))

model = ConvNet()
init_params(model, 92)
with torch.no_grad():
    model.bn1.weight.add_(1.0)
    model.bn2.weight.add_(1.0)
print("bn_initial_running:", r(model.bn1.running_mean), r(model.bn1.running_var))
print("bn_num_batches_tracked:", model.bn1.num_batches_tracked.item())

optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
criterion = nn.CrossEntropyLoss()
model.train()
for step in range(6):
    batch = slice((step % 3) * 4, (step % 3) * 4 + 4)
    # NOTE: Dropout is kept in eval mode during these training steps so the numbers do not depend
    # on the RNG; BatchNorm still uses batch statistics because the model is in train mode.
    model.dropout.eval()
    logits = model(images[batch])
    loss = criterion(logits, targets[batch])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(f"train_loss_{step}:", r(loss.item()))

print("bn1_running_mean:", r(model.bn1.running_mean))
print("bn1_running_var:", r(model.bn1.running_var))
print("bn2_num_batches_tracked:", model.bn2.num_batches_tracked.item())
print("conv1_weight_grad_norm:", r(model.conv1.weight.grad.norm().item()))
print("bn1_weight:", r(model.bn1.weight))

model.eval()
print("training_flags:", model.training, model.bn1.training, model.dropout.training)
with torch.no_grad():
    logits = model(images)
print("eval_logits_head:", r(logits[:3]))
print("eval_pred:", logits.argmax(1).tolist())
print("eval_deterministic:", torch.equal(logits, model(images).detach()))
