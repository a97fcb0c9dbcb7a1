"""The data pipeline as programs write it: a map-style Dataset returning dicts, a transform,
random_split with a seeded generator, ConcatDataset/Subset, DataLoader with shuffle under a
generator, drop_last, a custom collate_fn that pads, a BatchSampler, an IterableDataset, and a
training loop over it all."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, IterableDataset,
                              SequentialSampler, Subset, TensorDataset, random_split)


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


class Points(Dataset):
    def __init__(self, n, seed, transform=None):
        rng = np.random.default_rng(seed)
        self.x = rng.standard_normal((n, 2)).astype("float32")
        self.y = (self.x[:, 0] * self.x[:, 1] > 0).astype("int64")
        self.transform = transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        sample = {"features": torch.tensor(self.x[i]), "label": int(self.y[i]), "index": i}
        return self.transform(sample) if self.transform else sample


def scale(sample):
    sample["features"] = sample["features"] * 2.0
    return sample


data = Points(40, seed=27, transform=scale)
print("len:", len(data), "item:", sorted(data[3].keys()), r(data[3]["features"]))
# (generators on cpu, as torch's default: the same shuffles whatever the default device is)
train, val = random_split(data, [30, 10],
                          generator=torch.Generator(device="cpu").manual_seed(42))
print("split_indices:", train.indices[:8], val.indices[:4])
loader = DataLoader(train, batch_size=8, shuffle=True, drop_last=True,
                    generator=torch.Generator(device="cpu").manual_seed(7))
first = next(iter(loader))
print("batch_keys:", sorted(first.keys()), tuple(first["features"].shape), first["label"].dtype,
      r(first["index"]))
print("num_batches:", len(loader))

model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
rng = np.random.default_rng(270)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.5))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
epoch_losses = []
for epoch in range(3):
    total = 0.0
    for batch in loader:
        loss = F.cross_entropy(model(batch["features"]), batch["label"])
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += loss.item()
    epoch_losses.append(total / len(loader))
print("epoch_losses:", r(epoch_losses))
with torch.no_grad():
    val_batch = next(iter(DataLoader(val, batch_size=len(val))))
    acc = (model(val_batch["features"]).argmax(1) == val_batch["label"]).float().mean()
print("val_acc:", r(acc))

# variable-length sequences with a padding collate_fn
seqs = [torch.arange(n, dtype=torch.float32) for n in (3, 1, 4, 2)]


def pad_collate(batch):
    lengths = torch.tensor([len(s) for s in batch])
    out = torch.zeros(len(batch), int(lengths.max()))
    for i, s in enumerate(batch):
        out[i, :len(s)] = s
    return out, lengths


padded, lengths = next(iter(DataLoader(seqs, batch_size=4, collate_fn=pad_collate)))
print("padded:", r(padded), r(lengths))

# samplers and composition
tds = TensorDataset(torch.arange(10.0), torch.arange(10) % 3)
both = ConcatDataset([tds, Subset(tds, [9, 8, 7])])
print("concat:", len(both), r(both[11]))
bs = list(BatchSampler(SequentialSampler(both), batch_size=4, drop_last=False))
print("batch_sampler:", bs)
xs, ys = next(iter(DataLoader(both, batch_sampler=bs[2:])))
print("batch_sampler_loader:", r(xs), r(ys))


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield torch.tensor([i, i * i], dtype=torch.float32)


print("iterable:", [r(b) for b in DataLoader(Stream(5), batch_size=2)])
tuples = DataLoader([(1, 2.5, "a"), (3, 4.5, "b")], batch_size=2)
print("default_collate:", [r(x) if isinstance(x, torch.Tensor) else x for x in next(iter(tuples))])
