"""Sequence models beyond a single LSTM tagger: pad_sequence, a bidirectional two-layer LSTM
over pack_padded_sequence (enforce_sorted=False) and pad_packed_sequence with total_length,
matching the unpacked per-sequence runs, pack_sequence, PackedSequence fields (batch_sizes,
sorted/unsorted indices), a GRU with h0 and batch_first, an RNNCell/LSTMCell/GRUCell loop
matching the full layers, CTC loss on a tiny problem (mean/sum/none, zero_infinity, gradients)
with greedy CTC decoding, a causal dilated Conv1d temporal CNN (left padding with F.pad) and a
check that the output does not depend on the future, attention pooling with a length mask,
clip_grad_value_ and clip_grad_norm_ (with the returned total norm) in a short training loop."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import (pack_padded_sequence, pack_sequence, pad_packed_sequence,
                                pad_sequence)


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * scale)
                                     .astype("float32")))
    return module


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


# ---------------------------------------------------------------------------------------------
# (a) padding and packing

lengths = [3, 5, 2, 4]
seqs = [data(10 + i, (n, 3)) for i, n in enumerate(lengths)]
padded = pad_sequence(seqs, batch_first=True)
print("padded_shape:", tuple(padded.shape), r(padded[2, :, 0]))
print("pad_seq_time_major:", tuple(pad_sequence(seqs).shape))
print("pad_value:", pad_sequence([torch.tensor([1, 2]), torch.tensor([3])],
                                 padding_value=-1).tolist())
packed = pack_padded_sequence(padded, torch.tensor(lengths), batch_first=True,
                              enforce_sorted=False)
print("batch_sizes:", packed.batch_sizes.tolist())
print("sorted_indices:", packed.sorted_indices.tolist(), packed.unsorted_indices.tolist())
print("packed_data:", tuple(packed.data.shape), r(packed.data[:4, 0]))
unpacked, out_lens = pad_packed_sequence(packed, batch_first=True, total_length=6)
print("unpacked:", tuple(unpacked.shape), out_lens.tolist(),
      torch.equal(unpacked[:, :5], padded))
ps = pack_sequence([s[:, :2] for s in seqs], enforce_sorted=False)
print("pack_sequence:", ps.batch_sizes.tolist(), tuple(ps.data.shape))

# ---------------------------------------------------------------------------------------------
# (b) bidirectional two-layer LSTM over a packed batch

lstm = fill(nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True), 1)
out_p, (h_n, c_n) = lstm(packed)
out, out_lens = pad_packed_sequence(out_p, batch_first=True)
print("lstm_out:", tuple(out.shape), tuple(h_n.shape), tuple(c_n.shape))
print("lstm_pad_zero:", out[2, 2:].abs().sum().item())
print("lstm_out_b1_last:", r(out[1, 4]))
print("lstm_h_n:", r(h_n[:, 0, 0]))
print("lstm_c_n:", r(c_n[3, :, 1]))
same = True
for i, s in enumerate(seqs):
    o_i, (h_i, _) = lstm(s.unsqueeze(0))
    same &= torch.allclose(o_i[0], out[i, :lengths[i]], atol=1e-5)
    same &= torch.allclose(h_i[:, 0], h_n[:, i], atol=1e-5)
print("packed_equals_individual:", bool(same))
fwd_last = out[torch.arange(4), torch.tensor(lengths) - 1, :4]
print("fwd_last_is_h_n:", torch.allclose(fwd_last, h_n[2], atol=1e-6))
print("bwd_first_is_h_n:", torch.allclose(out[:, 0, 4:], h_n[3], atol=1e-6))
loss = out.pow(2).sum() + h_n.sum()
loss.backward()
print("lstm_grad_ih_l1_rev:", r(lstm.weight_ih_l1_reverse.grad[0, :4]))
print("lstm_grad_hh_l0:", r(lstm.weight_hh_l0.grad.norm().item()))
proj = fill(nn.LSTM(3, 5, proj_size=2, batch_first=True), 2)
po, (ph, pc) = proj(padded)
print("lstm_proj:", tuple(po.shape), tuple(ph.shape), tuple(pc.shape), r(po[0, -1]))

# ---------------------------------------------------------------------------------------------
# (c) GRU with h0, cells in a loop

gru = fill(nn.GRU(3, 4, num_layers=2, batch_first=True, dropout=0.0), 3)
h0 = data(4, (2, 4, 4), 0.5)
g_out, g_h = gru(padded, h0)
print("gru:", r(g_out[1, -1]), r(g_h[0, 3]))
g_packed, g_hp = gru(packed, h0)
print("gru_packed_h:", r(g_hp[1, 2]))
print("gru_packed_h_is_last:", torch.allclose(
    pad_packed_sequence(g_packed, batch_first=True)[0][2, 1], g_hp[1, 2], atol=1e-6))

rnn = fill(nn.RNN(3, 4, nonlinearity="relu"), 5)
cell = nn.RNNCell(3, 4, nonlinearity="relu")
lcell, gcell = nn.LSTMCell(3, 4), nn.GRUCell(3, 4)
lfull, gfull = fill(nn.LSTM(3, 4), 6), fill(nn.GRU(3, 4), 7)
with torch.no_grad():
    for c, full in ((cell, rnn), (lcell, lfull), (gcell, gfull)):
        c.weight_ih.copy_(full.weight_ih_l0)
        c.weight_hh.copy_(full.weight_hh_l0)
        c.bias_ih.copy_(full.bias_ih_l0)
        c.bias_hh.copy_(full.bias_hh_l0)
x_t = seqs[1]                               # (5, 3), unbatched time-major
h = torch.zeros(4)
hl, cl, hg = torch.zeros(1, 4), torch.zeros(1, 4), torch.zeros(1, 4)
for t in range(x_t.shape[0]):
    h = cell(x_t[t], h)
    hl, cl = lcell(x_t[t:t + 1], (hl, cl))
    hg = gcell(x_t[t:t + 1], hg)
print("rnn_cell_loop:", r(h), torch.allclose(h, rnn(x_t)[1][0], atol=1e-6))
print("lstm_cell_loop:", torch.allclose(hl, lfull(x_t.unsqueeze(1))[1][0][0], atol=1e-6))
print("gru_cell_loop:", torch.allclose(hg, gfull(x_t.unsqueeze(1))[1][0], atol=1e-6), r(hg[0]))

# ---------------------------------------------------------------------------------------------
# (d) CTC

T, C, B = 8, 4, 3                               # blank = 0
logits = data(20, (T, B, C)).requires_grad_()
log_probs = logits.log_softmax(2)
targets = torch.tensor([1, 2, 2, 3, 1, 3, 2, 1])  # concatenated: lengths 3, 2, 3
in_lens = torch.tensor([8, 6, 7])
tgt_lens = torch.tensor([3, 2, 3])
for red in ("mean", "sum"):
    print(f"ctc_{red}:", r(F.ctc_loss(log_probs, targets, in_lens, tgt_lens,
                                       reduction=red).item()))
print("ctc_none:", r(F.ctc_loss(log_probs, targets, in_lens, tgt_lens, reduction="none")))
padded_t = torch.tensor([[1, 2, 2], [3, 1, 0], [3, 2, 1]])
print("ctc_padded_targets:", r(nn.CTCLoss()(log_probs, padded_t, in_lens, tgt_lens).item()))
impossible = torch.tensor([1, 1, 1, 1])        # needs 7 frames but gets 3
lp_short = log_probs[:3, :1]
print("ctc_inf:", F.ctc_loss(lp_short, impossible.unsqueeze(0), torch.tensor([3]),
                             torch.tensor([4]), reduction="sum").item())
print("ctc_zero_inf:", F.ctc_loss(lp_short, impossible.unsqueeze(0), torch.tensor([3]),
                                  torch.tensor([4]), reduction="sum", zero_infinity=True).item())


def ctc_err(tgt, il, tl):
    try:
        F.ctc_loss(log_probs, tgt, torch.tensor(il), torch.tensor(tl))
    except RuntimeError as exc:
        return " ".join(str(exc).split()[:9])
    return "no error"


print("ctc_err_concat:", ctc_err(targets[:7], [8, 6, 7], [3, 2, 3]))
print("ctc_err_padded:", ctc_err(padded_t[:, :2], [8, 6, 7], [3, 2, 3]))
print("ctc_err_input_len:", ctc_err(targets, [9, 6, 7], [3, 2, 3]))
F.ctc_loss(log_probs, targets, in_lens, tgt_lens).backward()
print("ctc_grad:", r(logits.grad[0, 0]), r(logits.grad[7, 1]))
print("ctc_grad_beyond_len_zero:", logits.grad[6:, 1].abs().sum().item())

ctc_model = fill(nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, C)), 21)
xs = data(22, (T, B, 3))
opt = torch.optim.Adam(ctc_model.parameters(), lr=0.05)
for step in range(5):
    opt.zero_grad()
    loss = F.ctc_loss(ctc_model(xs).log_softmax(2), targets, in_lens, tgt_lens)
    loss.backward()
    opt.step()
    print(f"ctc_train{step}:", r(loss.item()))
best = ctc_model(xs).argmax(2).t()                  # (B, T)
decoded = []
for b in range(B):
    seq = torch.unique_consecutive(best[b, :in_lens[b]])
    decoded.append(seq[seq != 0].tolist())
print("ctc_greedy:", decoded)

# ---------------------------------------------------------------------------------------------
# (e) causal dilated temporal CNN and attention pooling


class CausalConv(nn.Module):
    def __init__(self, c_in, c_out, k, dilation):
        super().__init__()
        self.pad = (k - 1) * dilation
        self.conv = nn.Conv1d(c_in, c_out, k, dilation=dilation)

    def forward(self, x):
        return self.conv(F.pad(x, (self.pad, 0)))


class TCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleList([CausalConv(3, 6, 3, 1), CausalConv(6, 6, 3, 2),
                                     CausalConv(6, 6, 3, 4)])
        self.res = nn.Conv1d(3, 6, 1)
        self.score = nn.Linear(6, 1)
        self.out = nn.Linear(6, 2)

    def features(self, x):                           # x: (B, 3, T)
        h = x
        for blk in self.blocks:
            h = F.relu(blk(h))
        return h + self.res(x)

    def forward(self, x, lengths):
        h = self.features(x).transpose(1, 2)         # (B, T, 6)
        mask = torch.arange(h.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
        att = self.score(torch.tanh(h)).squeeze(-1).masked_fill(~mask, float("-inf"))
        w = att.softmax(dim=1)
        return self.out((w.unsqueeze(-1) * h).sum(1)), w


tcn = fill(TCN(), 30)
xc = padded.transpose(1, 2)                         # (4, 3, 5)
feat = tcn.features(xc)
x_future = xc.clone()
x_future[:, :, 3:] += 10.0
print("tcn_causal:", torch.allclose(tcn.features(x_future)[:, :, :3], feat[:, :, :3]),
      not torch.allclose(tcn.features(x_future)[:, :, 3:], feat[:, :, 3:]))
print("receptive_field:", 1 + sum(b.pad for b in tcn.blocks))
lens = torch.tensor(lengths)
logits2, weights = tcn(xc, lens)
print("att_weights:", r(weights[2]), r(weights.sum(1)))
print("tcn_logits:", r(logits2))
labels = torch.tensor([0, 1, 1, 0])
opt = torch.optim.SGD(tcn.parameters(), lr=0.2, momentum=0.9)
for step in range(5):
    opt.zero_grad()
    loss = F.cross_entropy(tcn(xc, lens)[0], labels)
    loss.backward()
    before = tcn.out.weight.grad.abs().max().item()
    torch.nn.utils.clip_grad_value_(tcn.parameters(), 0.05)
    after = tcn.out.weight.grad.abs().max().item()
    total = torch.nn.utils.clip_grad_norm_(tcn.parameters(), max_norm=0.2)
    opt.step()
    print(f"tcn_step{step}:", r(loss.item()), r(min(before, 0.05)), r(after), r(total.item()))
print("tcn_grad_norm_after:", r(torch.cat([p.grad.flatten() for p in tcn.parameters()])
                                .norm().item()))
