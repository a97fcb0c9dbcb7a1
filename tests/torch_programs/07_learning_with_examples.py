"""The remaining "Learning PyTorch with Examples" variants: tensors with manual backprop, autograd,
a custom nn.Module, control flow + weight sharing (with a fixed, not random, schedule)."""
import math

import numpy as np
import torch


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


x = torch.linspace(-math.pi, math.pi, 2000, dtype=torch.float32)
y = torch.sin(x)
rng = np.random.default_rng(7)
init = rng.standard_normal(4).astype("float32") * 0.5

# PyTorch: Tensors -- manual gradients
a, b, c, d = (torch.tensor(float(v)) for v in init)
learning_rate = 1e-6
for t in range(200):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum().item()
    if t % 50 == 49:
        print(f"tensors_loss_{t}:", round(loss, 3))
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x ** 2).sum()
    grad_d = (grad_y_pred * x ** 3).sum()
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d
manual = [a.item(), b.item(), c.item(), d.item()]
print("tensors_result:", r(manual))

# PyTorch: Tensors and autograd -- same start, same numbers
a, b, c, d = (torch.tensor(float(v), requires_grad=True) for v in init)
for t in range(200):
    y_pred = a + b * x + c * x ** 2 + d * x ** 3
    loss = (y_pred - y).pow(2).sum()
    if t % 50 == 49:
        print(f"autograd_loss_{t}:", round(loss.item(), 3))
    loss.backward()
    with torch.no_grad():
        for p in (a, b, c, d):
            p -= learning_rate * p.grad
            p.grad = None
print("autograd_result:", r([a.item(), b.item(), c.item(), d.item()]))


# PyTorch: Custom nn Modules
class Polynomial3(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(init[0])))
        self.b = torch.nn.Parameter(torch.tensor(float(init[1])))
        self.c = torch.nn.Parameter(torch.tensor(float(init[2])))
        self.d = torch.nn.Parameter(torch.tensor(float(init[3])))

    def forward(self, x):
        return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    def string(self):
        return f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"


model = Polynomial3()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
for t in range(200):
    loss = criterion(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("module_params:", r([p.item() for p in model.parameters()]))
print("module_param_names:", [n for n, _ in model.named_parameters()])


# PyTorch: Control Flow + Weight Sharing -- the tutorial draws the number of extra terms at random;
# here a fixed schedule keeps it deterministic.
class DynamicNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(init[0])))
        self.b = torch.nn.Parameter(torch.tensor(float(init[1])))
        self.c = torch.nn.Parameter(torch.tensor(float(init[2])))
        self.d = torch.nn.Parameter(torch.tensor(float(init[3])))
        self.e = torch.nn.Parameter(torch.tensor(0.0))

    def forward(self, x, n_extra):
        y = self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3
        for exp in range(4, 4 + n_extra):
            y = y + self.e * x ** exp
        return y


model = DynamicNet()
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
schedule = [0, 1, 2, 1, 0, 2]
for t in range(120):
    loss = criterion(model(x, schedule[t % len(schedule)]), y)
    if t % 30 == 29:
        print(f"dynamic_loss_{t}:", round(loss.item(), 3))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("dynamic_params:", r([p.item() for p in model.parameters()]))
