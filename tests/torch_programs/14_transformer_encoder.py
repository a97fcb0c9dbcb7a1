"""MultiheadAttention and a small TransformerEncoder (dropout=0) classifier."""
import math

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


def init_params(model, seed, scale=0.2):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            values = rng.standard_normal(tuple(p.shape)).astype("float32") * scale
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                values += 1.0
            p.copy_(torch.from_numpy(values))


rng = np.random.default_rng(15)
E, H = 8, 2

# MultiheadAttention on its own
mha = nn.MultiheadAttention(embed_dim=E, num_heads=H, batch_first=True)
init_params(mha, 150)
print("mha_param_names:", [n for n, _ in mha.named_parameters()])
q = torch.tensor(rng.standard_normal((2, 4, E)).astype("float32"))
kv = torch.tensor(rng.standard_normal((2, 5, E)).astype("float32"))
out, weights = mha(q, kv, kv)
print("mha_shapes:", tuple(out.shape), tuple(weights.shape))
print("mha_out:", r(out[0]))
print("mha_weights_avg:", r(weights[0]))
_, per_head = mha(q, kv, kv, average_attn_weights=False)
print("mha_weights_per_head_shape:", tuple(per_head.shape))
print("mha_weights_per_head:", r(per_head[1, 1]))
pad = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
out_pad, w_pad = mha(q, kv, kv, key_padding_mask=pad)
print("mha_key_padding_out:", r(out_pad[0, 0]))
print("mha_key_padding_weights:", r(w_pad[0]))
causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), diagonal=1)
out_c, w_c = mha(q, q, q, attn_mask=causal)
print("mha_causal_weights:", r(w_c[1]))
out_nw, none_w = mha(q, q, q, need_weights=False)
print("mha_need_weights_false:", none_w is None, r(out_nw[0, 0]))

# scaled dot product attention written out, and the functional one
Q, K, V = (torch.tensor(rng.standard_normal((1, 2, 3, 4)).astype("float32")) for _ in range(3))
scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))
manual = scores.softmax(dim=-1) @ V
print("manual_attention:", r(manual[0, 0]))
print("sdpa_matches_manual:", torch.allclose(F.scaled_dot_product_attention(Q, K, V), manual, atol=1e-6))
print("sdpa_causal:", r(F.scaled_dot_product_attention(Q, K, V, is_causal=True)[0, 1]))


class TinyTransformer(nn.Module):
    def __init__(self, vocab=11, d_model=E, nhead=H, n_layers=2, n_classes=3, max_len=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(1, max_len, d_model))
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=16, dropout=0.0,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, tokens, pad_mask=None):
        x = self.embed(tokens) * math.sqrt(self.embed.embedding_dim) + self.pos[:, : tokens.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad_mask)
        x = self.norm(x)
        if pad_mask is None:
            return self.head(x.mean(dim=1))
        # NOTE: pool over real tokens only: what padded positions hold is not part of the contract
        keep = (~pad_mask).unsqueeze(-1).to(x.dtype)
        return self.head((x * keep).sum(dim=1) / keep.sum(dim=1))


model = TinyTransformer()
init_params(model, 151)
print("encoder_layer_names:", [n for n, _ in model.encoder.layers[0].named_parameters()])
tokens = torch.tensor(rng.integers(1, 11, size=(6, 6)))
labels = torch.tensor(rng.integers(0, 3, size=6))
opt = torch.optim.AdamW(model.parameters(), lr=0.01)
model.train()
for step in range(10):
    logits = model(tokens)
    loss = F.cross_entropy(logits, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 3 == 0:
        print(f"transformer_loss_{step}:", r(loss.item()))
model.eval()
with torch.no_grad():
    logits = model(tokens)
    print("transformer_eval_logits:", r(logits))
    pad_mask = torch.zeros(6, 6, dtype=torch.bool)
    pad_mask[:, 4:] = True
    masked_logits = model(tokens, pad_mask)
    print("transformer_eval_masked_logits:", r(masked_logits[:2]))
