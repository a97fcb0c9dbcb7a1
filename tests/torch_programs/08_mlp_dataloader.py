"""An MLP classifier on random data with TensorDataset + DataLoader (shuffle=False)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


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
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3))


class MLP(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.fc2 = nn.Linear(n_hidden, n_hidden)
        self.fc3 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


rng = np.random.default_rng(8)
X = rng.standard_normal((100, 8)).astype("float32")
true_w = rng.standard_normal((8, 3))
labels = (X @ true_w).argmax(axis=1)
dataset = TensorDataset(torch.tensor(X), torch.tensor(labels))
print("dataset_len:", len(dataset))
xi, yi = dataset[3]
print("dataset_item:", r(xi), yi.item())
print("dataset_item_dtypes:", str(xi.dtype), str(yi.dtype))

loader = DataLoader(dataset, batch_size=16, shuffle=False)
print("loader_len:", len(loader))
first_x, first_y = next(iter(loader))
print("first_batch_shapes:", tuple(first_x.shape), tuple(first_y.shape))
print("first_batch_labels:", first_y.tolist())
print("batch_sizes:", [xb.shape[0] for xb, _ in loader])
print("drop_last_len:", len(DataLoader(dataset, batch_size=16, drop_last=True)))

model = MLP(8, 16, 3)
init_params(model, 80)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)

for epoch in range(5):
    model.train()
    running_loss = 0.0
    correct = 0
    for inputs, targets in loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * inputs.size(0)
        correct += (outputs.argmax(dim=1) == targets).sum().item()
    print(f"epoch_{epoch}_loss:", round(running_loss / len(dataset), 6))
    print(f"epoch_{epoch}_train_correct:", correct)

model.eval()
with torch.no_grad():
    logits = model(torch.tensor(X))
    probs = F.softmax(logits, dim=1)
    _, predicted = torch.max(logits, 1)
print("eval_accuracy:", (predicted == torch.tensor(labels)).float().mean().item())
print("eval_probs_head:", r(probs[:4]))
print("eval_probs_rowsum:", r(probs.sum(dim=1)[:4]))
print("fc1_weight_head:", r(model.fc1.weight[0]))
print("fc3_bias:", r(model.fc3.bias))
