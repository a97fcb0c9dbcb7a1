"""Polynomial fitting with nn.Linear: the "PyTorch: nn" and "PyTorch: optim" tutorial variants."""
import math

import numpy as np
import torch


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
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.1))


x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
print("xx_shape:", tuple(xx.shape))

# PyTorch: nn -- manual parameter update
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
init_params(model, 6)
loss_fn = torch.nn.MSELoss(reduction="sum")
learning_rate = 1e-6
for t in range(200):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 40 == 39:
        print(f"nn_loss_{t}:", round(loss.item(), 4))
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
linear_layer = model[0]
print("nn_weight:", r(linear_layer.weight))
print("nn_bias:", r(linear_layer.bias))

# PyTorch: optim -- SGD, then SGD with momentum, on a mean loss
for name, kwargs in [("sgd", dict(lr=1e-3)), ("sgd_momentum", dict(lr=1e-3, momentum=0.9)),
                     ("sgd_nesterov_wd", dict(lr=1e-3, momentum=0.9, nesterov=True, weight_decay=1e-2))]:
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    init_params(model, 7)
    optimizer = torch.optim.SGD(model.parameters(), **kwargs)
    loss_fn = torch.nn.MSELoss()
    for t in range(100):
        loss = loss_fn(model(xx), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(f"{name}_final_loss:", r(loss.item()))
    print(f"{name}_weight:", r(model[0].weight))
    print(f"{name}_bias:", r(model[0].bias))
