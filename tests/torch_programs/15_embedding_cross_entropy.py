"""Embedding (padding_idx, from_pretrained) and cross_entropy with ignore_index, label_smoothing,
class weights, probability targets; a tiny bag-of-embeddings language model."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


rng = np.random.default_rng(16)
emb = nn.Embedding(10, 4, padding_idx=0)
with torch.no_grad():
    emb.weight.copy_(torch.from_numpy(rng.standard_normal((10, 4)).astype("float32")))
    emb.weight[0].zero_()
tokens = torch.tensor([[1, 2, 0, 0], [3, 3, 9, 0]])
vecs = emb(tokens)
print("embedding_shape:", tuple(vecs.shape))
print("embedding_row:", r(vecs[1, 2]))
print("padding_row_zero:", r(vecs[0, 3]))
vecs.sum().backward()
print("embedding_grad_counts:", r(emb.weight.grad[:, 0]))
print("functional_embedding:", r(F.embedding(torch.tensor([4, 5]), emb.weight.detach())))
pre = nn.Embedding.from_pretrained(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
print("from_pretrained:", pre(torch.tensor([2, 0])).tolist(), pre.weight.requires_grad)

logits = torch.tensor(rng.standard_normal((6, 5)).astype("float32"), requires_grad=True)
target = torch.tensor([0, 4, -100, 2, 1, -100])
print("ce_ignore_index:", r(F.cross_entropy(logits, target)))
print("ce_ignore_custom:", r(F.cross_entropy(logits, target.clamp(min=0), ignore_index=0)))
print("ce_label_smoothing:", r(F.cross_entropy(logits, target, label_smoothing=0.1)))
w = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
print("ce_weight:", r(F.cross_entropy(logits, target, weight=w)))
print("ce_weight_smoothing:", r(F.cross_entropy(logits, target, weight=w, label_smoothing=0.2)))
print("ce_none:", r(F.cross_entropy(logits, target, reduction="none")))
print("ce_sum:", r(F.cross_entropy(logits, target, reduction="sum")))
probs = torch.softmax(torch.tensor(rng.standard_normal((6, 5)).astype("float32")), dim=1)
print("ce_prob_targets:", r(F.cross_entropy(logits, probs)))
print("ce_module:", r(nn.CrossEntropyLoss(ignore_index=-100, label_smoothing=0.05)(logits, target)))
loss = F.cross_entropy(logits, target, label_smoothing=0.1)
loss.backward()
print("ce_grad:", r(logits.grad))
seq_logits = torch.tensor(rng.standard_normal((2, 5, 3)).astype("float32"))
seq_target = torch.tensor([[0, 1, 4], [2, -100, 3]])
print("ce_nd_input:", r(F.cross_entropy(seq_logits, seq_target)))
print("one_hot:", F.one_hot(torch.tensor([0, 2, 1]), num_classes=4).tolist())
print("one_hot_dtype:", str(F.one_hot(torch.tensor([0, 2])).dtype))


# a bag-of-embeddings next-token model on a fixed token stream, padded batches, ignore_index=0
class BagLM(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.proj = nn.Linear(dim, vocab)

    def forward(self, ctx):
        e = self.embed(ctx)                       # (B, T, D)
        n = (ctx != 0).sum(dim=1, keepdim=True).clamp(min=1)
        return self.proj(e.sum(dim=1) / n)


model = BagLM(12, 6)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * 0.3))
    model.embed.weight[0].zero_()
stream = rng.integers(1, 12, size=40)
ctx = torch.tensor(np.stack([np.concatenate([np.zeros(max(0, 3 - i), dtype=np.int64), stream[max(0, i - 3):i]])
                             for i in range(1, 40)]))
nxt = torch.tensor(stream[1:40].copy())
nxt[::7] = 0  # some targets are padding and must be ignored
print("ctx_head:", ctx[:4].tolist())
opt = torch.optim.Adam(model.parameters(), lr=0.05)
for step in range(25):
    loss = F.cross_entropy(model(ctx), nxt, ignore_index=0, label_smoothing=0.05)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 8 == 0:
        print(f"baglm_loss_{step}:", r(loss.item()))
print("baglm_padding_row_still_zero:", r(model.embed.weight[0]))
print("baglm_pred:", model(ctx[:8]).argmax(dim=1).tolist())
