"""A small VAE (reparameterisation, BCE-with-logits + KL through torch.distributions), and the
tensor idioms everyday code leans on: one_hot, pad, interpolate, scatter/index_add, boolean and
advanced assignment, pad_sequence + packed LSTM, einsum, cdist, bucketize, save/load to a buffer,
model.apply with nn.init, and finfo/iinfo limits."""
import io

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


class VAE(nn.Module):
    def __init__(self, d_in=12, d_hidden=16, d_latent=3):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d_in, d_hidden), nn.ReLU())
        self.mu = nn.Linear(d_hidden, d_latent)
        self.logvar = nn.Linear(d_hidden, d_latent)
        self.dec = nn.Sequential(nn.Linear(d_latent, d_hidden), nn.Tanh(),
                                 nn.Linear(d_hidden, d_in))

    def forward(self, x, eps):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        std = torch.exp(0.5 * logvar)
        z = mu + eps * std
        return self.dec(z), mu, std


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("relu"))
        nn.init.zeros_(m.bias)


torch.manual_seed(24)
vae = VAE()
vae.apply(init_weights)
bound = nn.init.calculate_gain("relu") * (6 / (16 + 3)) ** 0.5
print("init_within_bound:", bool(vae.mu.weight.abs().max() <= bound), r(vae.enc[0].bias.sum()))
rng = np.random.default_rng(24)
with torch.no_grad():  # (the device generators differ: fixed weights for the numbers below)
    for p in vae.parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3))
x = torch.tensor((rng.random((32, 12)) > 0.5).astype("float32"))
eps = torch.tensor(rng.standard_normal((32, 3)).astype("float32"))
opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
prior = Normal(torch.zeros(3), torch.ones(3))
history = []
for step in range(8):
    logits, mu, std = vae(x, eps)
    rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.size(0)
    kl = kl_divergence(Normal(mu, std), prior).sum(-1).mean()
    loss = rec + kl
    opt.zero_grad()
    loss.backward()
    opt.step()
    history.append((loss.item(), kl.item()))
print("vae_loss_kl:", r(history))
with torch.no_grad():
    q = Normal(mu, std)
    print("log_prob_entropy:", r(q.log_prob(mu).sum()), r(q.entropy().mean()))

buf = io.BytesIO()
torch.save(vae.state_dict(), buf)
buf.seek(0)
clone = VAE()
missing = clone.load_state_dict(torch.load(buf, weights_only=True))
print("load_result:", list(missing.missing_keys), list(missing.unexpected_keys))
print("clone_matches:", torch.equal(clone.mu.weight, vae.mu.weight))

# idioms
labels = torch.tensor([2, 0, 1, 2])
print("one_hot:", r(F.one_hot(labels, num_classes=4)))
img = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
print("pad_reflect:", r(F.pad(img, (1, 1, 0, 2), mode="reflect")[0, 0, :, 0]))
print("pad_const:", tuple(F.pad(img, (2, 0, 1, 1), value=-1.0).shape))
print("interp_bilinear:", r(F.interpolate(img, scale_factor=1.5, mode="bilinear",
                                          align_corners=False)[0, 0, 1]))
print("interp_nearest:", r(F.interpolate(img, size=(2, 3), mode="nearest")[0, 0]))
t = torch.zeros(3, 5)
# (indices unique per row: with duplicates, which write wins is undefined on CUDA)
t.scatter_(1, torch.tensor([[0, 4], [1, 3], [3, 2]]), torch.tensor([[1., 2.], [3., 4.], [5., 6.]]))
print("scatter_:", r(t))
acc = torch.zeros(4).index_add_(0, torch.tensor([0, 2, 2, 3]), torch.tensor([1., 2., 3., 4.]))
print("index_add_:", r(acc))
m = torch.arange(12.).view(3, 4)
m[m > 6] = 0.0
m[[0, 2], [1, 3]] = torch.tensor([-1.0, -2.0])
m[:, 0] += 10
print("assignments:", r(m))
print("where_nonzero:", r(torch.where(m < 0)), r(torch.nonzero(m == 0).T))
seqs = [torch.tensor([1., 2., 3.]), torch.tensor([4.]), torch.tensor([5., 6.])]
padded = pad_sequence(seqs, batch_first=True, padding_value=0.0)
print("pad_sequence:", r(padded))
lstm = nn.LSTM(1, 2, batch_first=True)
with torch.no_grad():
    for p in lstm.parameters():
        p.copy_(torch.linspace(-0.5, 0.5, p.numel()).view_as(p))
lengths = torch.tensor([3, 1, 2])
packed = pack_padded_sequence(padded.unsqueeze(-1), lengths, batch_first=True,
                              enforce_sorted=False)
out, (h, c) = lstm(packed)
unpacked, out_lengths = pad_packed_sequence(out, batch_first=True)
print("packed_lstm:", r(unpacked[:, :, 0]), r(out_lengths), r(h[0, :, 1]))
a = torch.arange(6.).view(2, 3)
b = torch.arange(12.).view(3, 4)
print("einsum:", r(torch.einsum("ij,jk->ik", a, b)), r(torch.einsum("ij->j", a)))
print("cdist:", r(torch.cdist(a, a + 1)))
print("bucketize:", r(torch.bucketize(torch.tensor([0.1, 2.5, 9.0]), torch.tensor([1., 2., 3.]))))
print("repeat_interleave:", r(torch.repeat_interleave(torch.tensor([1, 2]), torch.tensor([2, 3]))))
print("limits:", torch.finfo(torch.float16).max, torch.iinfo(torch.int16).min,
      r(torch.finfo(torch.float32).eps))
print("clamp_logits:", r(torch.tensor([1e30, -1e30]).clamp(min=torch.finfo(torch.float16).min,
                                                           max=torch.finfo(torch.float16).max)))
