"""A DCGAN-style step (ConvTranspose2d generator with BatchNorm and Tanh, a LeakyReLU critic with
spectral_norm, BCEWithLogits, detach, two Adam optimizers, requires_grad_ toggling) and a small
nn.Transformer with a causal mask from generate_square_subsequent_mask and padding masks."""
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


def fill(module, rng, scale):
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * scale))
            if name.endswith("weight") and p.dim() == 1:
                p.add_(1.0)


rng = np.random.default_rng(32)
# (no bias before BatchNorm, as DCGAN: its gradient is 0 up to rounding noise, which Adam
# would turn into steps of lr in either direction)
G = nn.Sequential(nn.ConvTranspose2d(4, 8, 3, stride=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                  nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Tanh())
D = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                  nn.Flatten(), nn.Linear(4 * 5 * 5, 1))
fill(G, rng, 0.3)
fill(D, rng, 0.3)
D[0] = nn.utils.spectral_norm(D[0], n_power_iterations=3)
with torch.no_grad():  # (its power-iteration vectors start from torch's RNG: fixed here)
    D[0].weight_u.copy_(F.normalize(torch.tensor(rng.standard_normal(4).astype("float32")), dim=0))
    D[0].weight_v.copy_(F.normalize(torch.tensor(rng.standard_normal(9).astype("float32")), dim=0))
opt_g = torch.optim.Adam(G.parameters(), lr=2e-3, betas=(0.5, 0.999))
opt_d = torch.optim.Adam(D.parameters(), lr=2e-3, betas=(0.5, 0.999))
real = torch.tensor(np.tanh(rng.standard_normal((6, 1, 10, 10))).astype("float32"))
history = []
for step in range(3):
    z = torch.tensor(rng.standard_normal((6, 4, 3, 3)).astype("float32"))
    fake = G(z)
    for p in D.parameters():
        p.requires_grad_(True)
    d_real, d_fake = D(real), D(fake.detach())
    loss_d = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
              + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    for p in D.parameters():
        p.requires_grad_(False)
    loss_g = F.binary_cross_entropy_with_logits(D(fake), torch.ones_like(d_fake))
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    history.append((loss_d.item(), loss_g.item()))
print("fake_shape:", tuple(fake.shape), r(fake.abs().max() <= 1))
print("gan_losses:", r(history))
print("d_grads_none_after_g_step:", all(p.grad is None or p.grad.abs().sum() >= 0
                                        for p in D.parameters()))
print("spectral_sigma:", r(torch.linalg.matrix_norm(D[0].weight.flatten(1), ord=2)))
print("bn_running:", r(G[1].running_mean[:3]), r(G[1].num_batches_tracked))

T = nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                   dim_feedforward=16, dropout=0.0, batch_first=True)
fill(T, rng, 0.2)
src = torch.tensor(rng.standard_normal((2, 5, 8)).astype("float32"))
tgt = torch.tensor(rng.standard_normal((2, 4, 8)).astype("float32"))
causal = nn.Transformer.generate_square_subsequent_mask(4)
print("causal_mask:", r(causal[1]), causal.dtype)
pad = torch.tensor([[False, False, False, True, True], [False] * 5])
out = T(src, tgt, tgt_mask=causal, src_key_padding_mask=pad, memory_key_padding_mask=pad)
print("transformer:", tuple(out.shape), r(out[0, 0, :4]), r(out[1, -1, :4]))
out.pow(2).mean().backward()
print("transformer_grad:", r(T.encoder.layers[0].self_attn.in_proj_weight.grad.abs().sum()),
      r(T.decoder.layers[0].multihead_attn.out_proj.weight.grad.abs().sum()))
