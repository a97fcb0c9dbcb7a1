"""The "Training a Classifier" (CIFAR-10) tutorial network, on deterministic random 32x32 images."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class RandomImages(Dataset):
    """A map-style Dataset: images normalised like transforms.Normalize((0.5,)*3, (0.5,)*3)."""

    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.images = rng.random((n, 3, 32, 32)).astype("float32")
        self.labels = rng.integers(0, 10, size=n)
        # make the label learnable: brighten one 4x4 patch per class
        for i, lab in enumerate(self.labels):
            self.images[i, :, (lab // 5) * 16:(lab // 5) * 16 + 4, (lab % 5) * 6:(lab % 5) * 6 + 4] += 2.0

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = torch.tensor(self.images[i])
        return (img - 0.5) / 0.5, int(self.labels[i])


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


trainset = RandomImages(64, 21)
testset = RandomImages(20, 22)
trainloader = DataLoader(trainset, batch_size=8, shuffle=False)
testloader = DataLoader(testset, batch_size=10, shuffle=False)
images, labels = next(iter(trainloader))
print("batch_shapes:", tuple(images.shape), tuple(labels.shape))
print("batch_dtypes:", str(images.dtype), str(labels.dtype))
print("first_labels:", " ".join(f"{classes[labels[j]]:5s}" for j in range(4)))
print("first_pixel_values:", r(images[0, 0, 0, :4]))

net = Net()
rng = np.random.default_rng(23)
with torch.no_grad():
    for p in net.parameters():
        fan_in = p[0].numel() if p.dim() > 1 else p.numel()
        p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") / np.sqrt(fan_in)))

criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
for epoch in range(2):
    running_loss = 0.0
    for i, data in enumerate(trainloader, 0):
        inputs, labels = data
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        if i % 4 == 3:
            print(f"loss_epoch{epoch + 1}_batch{i + 1}:", round(running_loss / 4, 6))
            running_loss = 0.0

correct = 0
total = 0
correct_pred = {classname: 0 for classname in classes}
with torch.no_grad():
    for images, labels in testloader:
        outputs = net(images)
        _, predicted = torch.max(outputs.data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
        for label, prediction in zip(labels, predicted):
            if label == prediction:
                correct_pred[classes[label]] += 1
    print("test_logits_first:", r(net(next(iter(testloader))[0])[0]))
print("test_correct_total:", correct, total)
print("test_correct_by_class:", [correct_pred[c] for c in classes])
print("conv1_weight_sample:", r(net.conv1.weight[0, 0, 0]))
