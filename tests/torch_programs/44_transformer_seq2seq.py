"""A full encoder-decoder Transformer as people write it for sequence-to-sequence tasks:
nn.Transformer with custom sizes, TransformerDecoderLayer/TransformerDecoder on their own,
generate_square_subsequent_mask (float -inf mask) and boolean masks, src/tgt/memory key padding
masks, batch_first=True and False giving the same numbers after a transpose, norm_first, gelu
activation given as a string and as a callable, F.scaled_dot_product_attention with is_causal,
boolean and float attn_mask and dropout_p=0, nn.MultiheadAttention with need_weights and
average_attn_weights=False, a token-reversal task trained with Adam and label smoothing, and a
greedy decoding loop that grows the target one token at a time."""
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
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("weight") and p.dim() == 1:      # LayerNorm gains stay near 1
                p.copy_(torch.from_numpy(
                    (1.0 + 0.1 * rng.standard_normal(tuple(p.shape))).astype("float32")))
            else:
                p.copy_(torch.from_numpy(
                    (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


# ---------------------------------------------------------------------------------------------
# (a) scaled_dot_product_attention against a hand-written attention

q, k, v = data(1, (2, 2, 4, 8)), data(2, (2, 2, 5, 8)), data(3, (2, 2, 5, 8))
scores = q @ k.transpose(-2, -1) / math.sqrt(8)
manual = scores.softmax(-1) @ v
print("sdpa_plain:", torch.allclose(F.scaled_dot_product_attention(q, k, v), manual, atol=1e-5))
bool_mask = torch.ones(4, 5, dtype=torch.bool).tril(diagonal=1)
out_bool = F.scaled_dot_product_attention(q, k, v, attn_mask=bool_mask, dropout_p=0.0)
manual_bool = scores.masked_fill(~bool_mask, float("-inf")).softmax(-1) @ v
print("sdpa_bool_mask:", torch.allclose(out_bool, manual_bool, atol=1e-5))
float_mask = torch.linspace(-1.0, 1.0, 20).reshape(4, 5)
out_float = F.scaled_dot_product_attention(q, k, v, attn_mask=float_mask)
print("sdpa_float_mask:", torch.allclose(out_float, (scores + float_mask).softmax(-1) @ v,
                                          atol=1e-5))
qs = data(4, (1, 3, 4, 8))
causal_out = F.scaled_dot_product_attention(qs, qs, qs, is_causal=True)
print("sdpa_causal_row0_is_v0:", torch.allclose(causal_out[:, :, 0], qs[:, :, 0], atol=1e-6))
print("sdpa_causal:", r(causal_out[0, 1, 2, :4]))
print("sdpa_scale:", r(F.scaled_dot_product_attention(q, k, v, scale=0.5)[1, 0, 3, :3]))
qg = q.clone().requires_grad_()
F.scaled_dot_product_attention(qg, k, v, attn_mask=bool_mask).pow(2).sum().backward()
print("sdpa_grad:", r(qg.grad[0, 1, 2, :4]))

# ---------------------------------------------------------------------------------------------
# (b) masks

m = nn.Transformer.generate_square_subsequent_mask(4)
print("causal_mask_dtype:", m.dtype, tuple(m.shape))
print("causal_mask_row1:", m[1].tolist())
print("causal_mask_isinf:", torch.isinf(m).sum().item())

# ---------------------------------------------------------------------------------------------
# (c) MultiheadAttention: weights per head and averaged, key padding masks

mha = fill(nn.MultiheadAttention(8, 2, batch_first=True), 10)
x = data(11, (2, 5, 8))
pad = torch.tensor([[False, False, False, True, True], [False, False, False, False, False]])
out, w_avg = mha(x, x, x, key_padding_mask=pad)
_, w_heads = mha(x, x, x, key_padding_mask=pad, average_attn_weights=False)
print("mha_out:", r(out[0, 1, :4]))
print("mha_w_shape:", tuple(w_avg.shape), tuple(w_heads.shape))
print("mha_w_padded:", w_avg[0, :, 3:].abs().max().item())
print("mha_w_avg_matches:", torch.allclose(w_heads.mean(1), w_avg, atol=1e-6))
out_nw, w_none = mha(x, x, x, need_weights=False)
print("mha_need_weights_false:", w_none is None, r(out_nw[1, 0, :3]))
float_pad = torch.zeros(2, 5).masked_fill(pad, float("-inf"))
out_fp, _ = mha(x, x, x, key_padding_mask=float_pad)
print("mha_float_pad_matches:", torch.allclose(out_fp, out, atol=1e-5))

# ---------------------------------------------------------------------------------------------
# (d) decoder layers on their own; batch_first both ways; norm_first; activation callable

for norm_first in (False, True):
    dec_bf = fill(nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                             batch_first=True, norm_first=norm_first), 20)
    dec_sf = fill(nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                             batch_first=False, norm_first=norm_first), 20)
    tgt, mem = data(21, (2, 4, 8)), data(22, (2, 5, 8))
    tmask = nn.Transformer.generate_square_subsequent_mask(4)
    mpad = torch.tensor([[False] * 5, [False, False, False, False, True]])
    a = dec_bf(tgt, mem, tgt_mask=tmask, memory_key_padding_mask=mpad)
    b = dec_sf(tgt.transpose(0, 1), mem.transpose(0, 1), tgt_mask=tmask,
               memory_key_padding_mask=mpad).transpose(0, 1)
    print(f"dec_norm_first_{norm_first}:", r(a[1, 2, :4]))
    print(f"dec_batch_first_same_{norm_first}:", torch.allclose(a, b, atol=1e-5))

dec_gelu = fill(nn.TransformerDecoderLayer(8, 2, 16, 0.0, activation="gelu", batch_first=True), 23)
dec_call = fill(nn.TransformerDecoderLayer(8, 2, 16, 0.0, activation=F.gelu, batch_first=True), 23)
tgt, mem = data(24, (1, 3, 8)), data(25, (1, 4, 8))
print("dec_gelu_string_vs_callable:", torch.allclose(dec_gelu(tgt, mem), dec_call(tgt, mem),
                                                     atol=1e-6))
stack = nn.TransformerDecoder(fill(nn.TransformerDecoderLayer(8, 2, 16, 0.0, batch_first=True),
                                   26), num_layers=2, norm=nn.LayerNorm(8))
print("decoder_stack_layers:", len(stack.layers),
      stack.layers[0].linear1.weight.data_ptr() != stack.layers[1].linear1.weight.data_ptr())
print("decoder_stack:", r(stack(tgt, mem, tgt_is_causal=False)[0, 2, :4]))
print("decoder_stack_params:", sum(p.numel() for p in stack.parameters()))

# ---------------------------------------------------------------------------------------------
# (e) nn.Transformer seq2seq on a token reversal task, then greedy decoding

PAD, BOS, EOS, VOCAB, D = 0, 1, 2, 9, 16


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D, padding_idx=PAD)
        self.pos = nn.Parameter(torch.zeros(8, D))
        self.core = nn.Transformer(d_model=D, nhead=4, num_encoder_layers=2,
                                   num_decoder_layers=2, dim_feedforward=32, dropout=0.0,
                                   batch_first=True, norm_first=True)
        self.out = nn.Linear(D, VOCAB)

    def emb(self, tokens):
        return self.embed(tokens) * math.sqrt(D) + self.pos[: tokens.shape[1]]

    def forward(self, src, tgt_in):
        tmask = self.core.generate_square_subsequent_mask(tgt_in.shape[1])
        h = self.core(self.emb(src), self.emb(tgt_in), tgt_mask=tmask,
                      src_key_padding_mask=src == PAD, tgt_key_padding_mask=tgt_in == PAD,
                      memory_key_padding_mask=src == PAD)
        return self.out(h)


def make_batch(offset):
    srcs, tgts = [], []
    for i in range(6):
        n = 3 + (i + offset) % 3
        seq = [3 + (i * 5 + j * 3 + offset) % 6 for j in range(n)]
        srcs.append(seq + [PAD] * (5 - n))
        tgts.append([BOS] + seq[::-1] + [EOS] + [PAD] * (5 - n))
    return torch.tensor(srcs), torch.tensor(tgts)


model = fill(Seq2Seq(), 30, scale=0.2)
with torch.no_grad():
    model.embed.weight[PAD].zero_()
print("model_params:", sum(p.numel() for p in model.parameters()))
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
crit = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=0.05)
losses = []
for step in range(12):
    src, tgt = make_batch(step % 3)
    logits = model(src, tgt[:, :-1])
    loss = crit(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    losses.append(loss.item())
print("train_losses:", r(losses[:3]), r(losses[-3:]))
print("embed_pad_grad_zero:", model.embed.weight.grad[PAD].abs().sum().item())

model.eval()
src, _ = make_batch(1)
with torch.no_grad():
    memory = model.core.encoder(model.emb(src), src_key_padding_mask=src == PAD)
    ys = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
    for _ in range(4):
        tmask = nn.Transformer.generate_square_subsequent_mask(ys.shape[1])
        h = model.core.decoder(model.emb(ys), memory, tgt_mask=tmask,
                               memory_key_padding_mask=src == PAD)
        next_logits = model.out(h[:, -1])
        ys = torch.cat([ys, next_logits.argmax(-1, keepdim=True)], dim=1)
    full = model(src, ys[:, :-1])
print("memory:", r(memory[0, 0, :4]))
print("greedy_tokens:", ys.tolist())
print("greedy_last_logits:", r(next_logits[0]))
print("greedy_matches_full:", torch.allclose(full[:, -1], next_logits, atol=1e-4))

# ---------------------------------------------------------------------------------------------
# (f) less common MultiheadAttention options, 3-D masks, beam search with log_softmax/topk

mha_kv = fill(nn.MultiheadAttention(8, 2, kdim=6, vdim=5, bias=False, add_bias_kv=True,
                                    add_zero_attn=True), 40)
print("mha_kv_params:", sorted(n for n, _ in mha_kv.named_parameters()))
qq, kk, vv = data(41, (3, 2, 8)), data(42, (4, 2, 6)), data(43, (4, 2, 5))
o_kv, w_kv = mha_kv(qq, kk, vv)
print("mha_kv_out:", tuple(o_kv.shape), r(o_kv[2, 1, :4]))
print("mha_kv_w:", tuple(w_kv.shape), r(w_kv[1, 0]))
mha3 = fill(nn.MultiheadAttention(8, 2, batch_first=True), 44)
mask3 = torch.zeros(2 * 2, 3, 3)
mask3[1, 0, 2] = float("-inf")
mask3[2] = nn.Transformer.generate_square_subsequent_mask(3)
x3 = data(45, (2, 3, 8))
o3, w3 = mha3(x3, x3, x3, attn_mask=mask3, average_attn_weights=False)
print("mha_3d_mask:", r(w3[0, 1, 0]), r(w3[1, 0, 1]))
enc_layer = fill(nn.TransformerEncoderLayer(8, 2, 16, 0.0, batch_first=True), 46)
cm = nn.Transformer.generate_square_subsequent_mask(3)
print("enc_is_causal_same:", torch.allclose(enc_layer(x3, src_mask=cm, is_causal=True),
                                            enc_layer(x3, src_mask=cm), atol=1e-6))

with torch.no_grad():
    src = torch.tensor([[4, 6, 8, 0, 0]])
    memory = model.core.encoder(model.emb(src), src_key_padding_mask=src == PAD)
    beams = [([BOS], 0.0)]
    for _ in range(3):
        cand = []
        for toks, score in beams:
            ys = torch.tensor([toks])
            tmask = nn.Transformer.generate_square_subsequent_mask(len(toks))
            h = model.core.decoder(model.emb(ys), memory, tgt_mask=tmask,
                                   memory_key_padding_mask=src == PAD)
            logp = F.log_softmax(model.out(h[0, -1]), dim=-1)
            top = logp.topk(2)
            for lp, ix in zip(top.values.tolist(), top.indices.tolist()):
                cand.append((toks + [ix], score + lp))
        beams = sorted(cand, key=lambda c: -c[1])[:2]
print("beam_tokens:", [b[0] for b in beams])
print("beam_scores:", r([b[1] for b in beams]))
