"""A GRU encoder and an LSTMCell decoder with additive attention, trained with teacher forcing
(padding_idx embeddings, masked attention, ignore_index loss, clip_grad_value_), then greedy and
beam decoding with topk/gather/index_select."""
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


PAD, BOS, EOS, V, H = 0, 1, 2, 9, 8


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_emb = nn.Embedding(V, H, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(V, H, padding_idx=PAD)
        self.encoder = nn.GRU(H, H, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * H, H)
        self.cell = nn.LSTMCell(2 * H, H)
        self.att_w = nn.Linear(2 * H, H, bias=False)
        self.att_u = nn.Linear(H, H)
        self.att_v = nn.Linear(H, 1, bias=False)
        self.out = nn.Linear(3 * H, V)

    def encode(self, src):
        mask = src != PAD
        enc, h = self.encoder(self.src_emb(src))
        h0 = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=-1)))
        return enc, mask, (h0, torch.zeros_like(h0))

    def step(self, token, state, enc, mask):
        h, c = state
        scores = self.att_v(torch.tanh(self.att_w(enc) + self.att_u(h).unsqueeze(1))).squeeze(-1)
        scores = scores.masked_fill(~mask, float("-inf"))
        alpha = F.softmax(scores, dim=-1)
        context = torch.bmm(alpha.unsqueeze(1), enc).squeeze(1)
        h, c = self.cell(torch.cat([self.tgt_emb(token), context[:, :H]], dim=-1), (h, c))
        return self.out(torch.cat([h, context], dim=-1)), (h, c), alpha

    def forward(self, src, tgt_in):
        enc, mask, state = self.encode(src)
        logits = []
        for t in range(tgt_in.size(1)):
            step_logits, state, _ = self.step(tgt_in[:, t], state, enc, mask)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)


rng = np.random.default_rng(29)
model = Seq2Seq()
with torch.no_grad():
    for name, p in model.named_parameters():
        p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3))
    model.src_emb.weight[PAD].zero_()
    model.tgt_emb.weight[PAD].zero_()

src = torch.tensor([[3, 4, 5, 6], [7, 3, 8, PAD], [4, 4, PAD, PAD]])
tgt = torch.tensor([[6, 5, 4, 3, EOS], [8, 3, 7, EOS, PAD], [4, 4, EOS, PAD, PAD]])
tgt_in = torch.cat([torch.full((3, 1), BOS), tgt[:, :-1]], dim=1)
opt = torch.optim.Adam(model.parameters(), lr=0.02)
losses = []
for step in range(8):
    logits = model(src, tgt_in)
    loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=PAD,
                           label_smoothing=0.05)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_value_(model.parameters(), 0.5)
    opt.step()
    losses.append(loss.item())
print("losses:", r(losses))
print("pad_rows_stay_zero_grad:", model.src_emb.weight.grad[PAD].abs().sum().item() == 0.0)

model.eval()
with torch.no_grad():
    enc, mask, state = model.encode(src)
    token = torch.full((3,), BOS)
    greedy, alphas = [], []
    for _ in range(5):
        logits, state, alpha = model.step(token, state, enc, mask)
        token = logits.argmax(-1)
        greedy.append(token)
        alphas.append(alpha)
    print("greedy:", r(torch.stack(greedy, 1)))
    print("attention_masked:", r(alphas[0][2, 2:]), r(alphas[0].sum(-1)))

    # beam search (beam 2) for the first sentence
    k = 2
    enc1, mask1, (h, c) = model.encode(src[:1])
    enc1, mask1 = enc1.expand(k, -1, -1), mask1.expand(k, -1)
    state = (h.expand(k, -1).contiguous(), c.expand(k, -1).contiguous())
    beams = torch.full((k, 1), BOS)
    scores = torch.tensor([0.0, float("-inf")])
    for _ in range(4):
        logits, state, _ = model.step(beams[:, -1], state, enc1, mask1)
        logp = F.log_softmax(logits, dim=-1) + scores.unsqueeze(1)
        top, idx = logp.flatten().topk(k)
        origin, tok = idx // V, idx % V
        beams = torch.cat([beams.index_select(0, origin), tok.unsqueeze(1)], dim=1)
        state = tuple(s.index_select(0, origin) for s in state)
        scores = top
    print("beam:", r(beams), r(scores))
    best = beams.gather(0, scores.argmax().view(1, 1).expand(1, beams.size(1)))
    print("best_beam:", r(best))
