"""The RNG-driven API (manual_seed, rand/randn/randint/randperm, dropout in train mode,
DataLoader(shuffle=True), random_split, nn.init.*_). Ember's RNG stream differs from torch's, so
this program prints only shapes, dtypes and RNG-independent properties, never random values."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
a = torch.rand(3, 4)
print("rand:", tuple(a.shape), str(a.dtype), bool(((a >= 0) & (a < 1)).all()))
n = torch.randn(2, 5, dtype=torch.float64)
print("randn:", tuple(n.shape), str(n.dtype), bool(torch.isfinite(n).all()))
i = torch.randint(0, 10, (6,))
print("randint:", tuple(i.shape), str(i.dtype), bool(((i >= 0) & (i < 10)).all()))
p = torch.randperm(8)
print("randperm:", str(p.dtype), sorted(p.tolist()))
print("rand_like:", tuple(torch.rand_like(n).shape), str(torch.randn_like(a).dtype))
print("normal_uniform_:", tuple(torch.empty(3).normal_().shape), bool((torch.empty(100).uniform_(-2, -1) < -1).all()))
b = torch.bernoulli(torch.full((50,), 0.5))
print("bernoulli:", bool(((b == 0) | (b == 1)).all()))
m = torch.multinomial(torch.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
print("multinomial_degenerate:", m.tolist())

# the same seed gives the same stream
torch.manual_seed(123)
s1 = torch.rand(5)
torch.manual_seed(123)
s2 = torch.rand(5)
print("seed_reproducible:", torch.equal(s1, s2))
g = torch.Generator().manual_seed(7)
print("generator:", tuple(torch.randn(2, 2, generator=g).shape))

# dropout in train mode: each element is 0 or x / (1 - p); eval mode is the identity
x = torch.ones(1000)
d = F.dropout(x, p=0.25, training=True)
print("dropout_values_ok:", bool(((d == 0) | ((d - 1 / 0.75).abs() < 1e-6)).all()))
print("dropout_fraction_plausible:", 0.15 < (d == 0).float().mean().item() < 0.35)
layer = nn.Dropout(0.5)
layer.train()
print("dropout_module_train_changes:", not torch.equal(layer(x), x))
layer.eval()
print("dropout_module_eval_identity:", torch.equal(layer(x), x))
print("dropout_p0_identity:", torch.equal(F.dropout(x, 0.0, training=True), x))

# random parameter init keeps shapes and sane scales
lin = nn.Linear(64, 32)
print("default_init_bound_ok:", bool(lin.weight.abs().max() <= 1 / 64 ** 0.5 + 1e-6))
nn.init.xavier_uniform_(lin.weight)
print("xavier_bound_ok:", bool(lin.weight.abs().max() <= (6 / (64 + 32)) ** 0.5 + 1e-6))
nn.init.kaiming_normal_(lin.weight, nonlinearity="relu")
print("kaiming_shape:", tuple(lin.weight.shape))
nn.init.normal_(lin.bias, mean=0.0, std=0.02)
nn.init.uniform_(lin.bias, -0.1, 0.1)
print("uniform_bound_ok:", bool(lin.bias.abs().max() <= 0.1))
nn.init.trunc_normal_(lin.weight, std=0.02, a=-0.04, b=0.04)
print("trunc_normal_bound_ok:", bool(lin.weight.abs().max() <= 0.04))

# shuffling data loader and random_split: every sample seen exactly once
ds = TensorDataset(torch.arange(20).float(), torch.arange(20))
loader = DataLoader(ds, batch_size=6, shuffle=True)
seen = sorted(int(v) for _, yb in loader for v in yb)
print("shuffle_covers_all:", seen == list(range(20)), len(loader))
train, val = random_split(ds, [15, 5])
print("random_split_sizes:", len(train), len(val))
print("random_split_disjoint:", sorted([int(train[k][1]) for k in range(15)] + [int(val[k][1]) for k in range(5)]) == list(range(20)))
