"""The pieces of a modern decoder-only language model: nn.RMSNorm against a hand-written one,
rotary position embeddings (cos/sin tables, rotate_half through chunk/cat, and the complex
form through view_as_complex on cpu), multi-query and grouped-query attention written with
einsum against F.scaled_dot_product_attention(enable_gqa=True, is_causal, attn_mask), causal
masks from torch.triu and masked_fill(-inf), a SwiGLU feed-forward, a top-2 mixture of experts
whose tokens are routed with topk / nonzero / index_select / index_add_ / bincount and whose
load-balancing loss trains with the rest, a KV-cache incremental decoder whose logits equal a
full forward pass, greedy and top-k/top-p filtered decoding with fixed uniforms, and a few
training steps with tied embeddings."""
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


def fill(module, seed, scale=0.2):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * scale)
                                     .astype("float32")))
    return module


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


VOCAB, DIM, NH, NKV, T = 23, 16, 4, 2, 7
HD = DIM // NH

# ---------------------------------------------------------------------------------------------
# (a) RMSNorm and rotary embeddings

x = data(1, (2, T, DIM))
rms = nn.RMSNorm(DIM, eps=1e-6)
with torch.no_grad():
    rms.weight.copy_(torch.linspace(0.5, 1.5, DIM))
manual = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * rms.weight
print("rmsnorm:", torch.allclose(rms(x), manual, atol=1e-6), r(rms(x)[0, 0, :4]))
print("rmsnorm_functional:", r(F.rms_norm(x, (DIM,), eps=None)[1, 2, :3]))
print("rmsnorm_no_affine:", r(nn.RMSNorm([T, DIM], elementwise_affine=False)(x)[0, 1, :3]))


def rope_tables(seq, dim, base=10000.0):
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    freqs = torch.outer(torch.arange(seq, dtype=torch.float32), inv)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin(), freqs


def rotate_half(t):
    a, b = t.chunk(2, dim=-1)
    return torch.cat([-b, a], dim=-1)


def apply_rope(t, cos, sin):
    return t * cos + rotate_half(t) * sin


cos, sin, freqs = rope_tables(T, HD)
q = data(2, (2, NH, T, HD))
qr = apply_rope(q, cos, sin)
print("rope_row:", r(qr[0, 1, 3]))
print("rope_norm_preserved:", torch.allclose(qr.norm(dim=-1), q.norm(dim=-1), atol=1e-5))
k = data(3, (2, NH, T, HD))
kr = apply_rope(k, cos, sin)
# relative: the score between positions i and j depends on i - j only
s1 = (apply_rope(q, cos, sin)[..., 2, :] * kr[..., 0, :]).sum(-1)
shift_cos, shift_sin = cos.roll(1, 0), sin.roll(1, 0)
print("rope_scores:", r(s1[0]))
# the interleaved (complex) form on cpu gives the same rotation up to a permutation
if q.device.type == "cpu":
    qc = torch.view_as_complex(q.reshape(2, NH, T, HD // 2, 2).contiguous())
    rot = torch.polar(torch.ones_like(freqs), freqs)
    qi = torch.view_as_real(qc * rot).flatten(-2)
    perm = torch.cat([torch.arange(0, HD, 2), torch.arange(1, HD, 2)])
    qh = apply_rope(q[..., perm], cos, sin)
    print("rope_complex_eq:", torch.allclose(qi[..., perm], qh, atol=1e-5))
else:
    print("rope_complex_eq:", True)

# ---------------------------------------------------------------------------------------------
# (b) MQA / GQA attention: einsum vs scaled_dot_product_attention

q = data(4, (2, NH, T, HD))
k = data(5, (2, NKV, T, HD))
v = data(6, (2, NKV, T, HD))
causal = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
g = NH // NKV
qg = q.reshape(2, NKV, g, T, HD)
scores = torch.einsum("bkgqd,bksd->bkgqs", qg, k) / math.sqrt(HD)
scores = scores.masked_fill(causal, float("-inf"))
att = torch.einsum("bkgqs,bksd->bkgqd", scores.softmax(-1), v).reshape(2, NH, T, HD)
sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
print("gqa_einsum_eq_sdpa:", torch.allclose(att, sdpa, atol=1e-5), r(sdpa[1, 3, 4, :3]))
rep = F.scaled_dot_product_attention(q, k.repeat_interleave(g, 1), v.repeat_interleave(g, 1),
                                     attn_mask=~causal)
print("gqa_repeat_interleave_eq:", torch.allclose(rep, sdpa, atol=1e-5))
add_mask = torch.zeros(T, T).masked_fill(causal, float("-inf"))
add_mask[:, 0] = -1.0
sd2 = F.scaled_dot_product_attention(q, k, v, attn_mask=add_mask, enable_gqa=True, scale=0.3)
print("sdpa_float_mask_scale:", r(sd2[0, 0, 2, :3]))
mq = F.scaled_dot_product_attention(q, k[:, :1], v[:, :1], enable_gqa=True)
print("mqa:", tuple(mq.shape), r(mq[0, 2, 5, :2]))
print("sdpa_first_row_is_v0:", torch.allclose(sdpa[:, ::g, 0], v[:, :, 0], atol=1e-6))

# ---------------------------------------------------------------------------------------------
# (c) mixture of experts with top-2 routing


class SwiGLU(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, t):
        return self.w2(F.silu(self.w1(t)) * self.w3(t))


class MoE(nn.Module):
    def __init__(self, dim, n_exp=4, top=2):
        super().__init__()
        self.gate = nn.Linear(dim, n_exp, bias=False)
        self.experts = nn.ModuleList([SwiGLU(dim, 2 * dim) for _ in range(n_exp)])
        self.n_exp, self.top = n_exp, top
        self.aux = None
        self.counts = None

    def forward(self, t):
        shape = t.shape
        flat = t.reshape(-1, shape[-1])
        logits = self.gate(flat)
        probs = logits.softmax(-1)
        w, idx = probs.topk(self.top, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(flat)
        self.counts = torch.bincount(idx.flatten(), minlength=self.n_exp)
        for e, expert in enumerate(self.experts):
            tok, slot = (idx == e).nonzero(as_tuple=True)
            if tok.numel() == 0:
                continue
            y = expert(flat.index_select(0, tok)) * w[tok, slot].unsqueeze(-1)
            out = out.index_add(0, tok, y)
        frac = F.one_hot(idx[:, 0], self.n_exp).float().mean(0)
        self.aux = self.n_exp * (frac * probs.mean(0)).sum()
        return out.reshape(shape)


moe = fill(MoE(DIM), 11, 0.3)
h = data(7, (2, T, DIM))
y = moe(h)
print("moe_out:", tuple(y.shape), r(y[0, 0, :4]), r(moe.aux.item()))
print("moe_counts:", moe.counts.tolist(), moe.counts.sum().item())
dense = torch.zeros_like(h.reshape(-1, DIM))
pr = moe.gate(h.reshape(-1, DIM)).softmax(-1)
tw, ti = pr.topk(2, -1)
tw = tw / tw.sum(-1, keepdim=True)
for n in range(2 * T):
    for s in range(2):
        dense[n] += tw[n, s] * moe.experts[int(ti[n, s])](h.reshape(-1, DIM)[n])
print("moe_eq_loop:", torch.allclose(dense.reshape(2, T, DIM), y, atol=1e-5))
(y.pow(2).mean() + 0.01 * moe.aux).backward()
print("moe_gate_grad:", r(moe.gate.weight.grad[0, :4]))
print("moe_expert_grad_norms:", [r(e.w2.weight.grad.norm().item()) if e.w2.weight.grad
                                 is not None else None for e in moe.experts])
hist = torch.histc(pr.argmax(-1).float(), bins=4, min=0, max=3)
print("router_histc:", hist.tolist())
z_loss = torch.logsumexp(moe.gate(h.reshape(-1, DIM)), dim=-1).pow(2).mean()
print("router_z_loss:", r(z_loss.item()))

# ---------------------------------------------------------------------------------------------
# (d) a tiny decoder with a KV cache


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.wq = nn.Linear(DIM, NH * HD, bias=False)
        self.wk = nn.Linear(DIM, NKV * HD, bias=False)
        self.wv = nn.Linear(DIM, NKV * HD, bias=False)
        self.wo = nn.Linear(NH * HD, DIM, bias=False)

    def forward(self, t, cos, sin, cache=None):
        b, n, _ = t.shape
        q = self.wq(t).view(b, n, NH, HD).transpose(1, 2)
        k = self.wk(t).view(b, n, NKV, HD).transpose(1, 2)
        v = self.wv(t).view(b, n, NKV, HD).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        o = F.scaled_dot_product_attention(q, k, v, is_causal=cache is None or n > 1,
                                           enable_gqa=True)
        return self.wo(o.transpose(1, 2).reshape(b, n, NH * HD))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = nn.RMSNorm(DIM), nn.RMSNorm(DIM)
        self.attn = Attn()
        self.ff = MoE(DIM)

    def forward(self, t, cos, sin, cache=None):
        t = t + self.attn(self.n1(t), cos, sin, cache)
        return t + self.ff(self.n2(t))


class LM(nn.Module):
    def __init__(self, layers=2):
        super().__init__()
        self.emb = nn.Embedding(VOCAB, DIM)
        self.layers = nn.ModuleList([Layer() for _ in range(layers)])
        self.norm = nn.RMSNorm(DIM)
        self.out = nn.Linear(DIM, VOCAB, bias=False)
        self.out.weight = self.emb.weight
        c, s, _ = rope_tables(32, HD)
        self.register_buffer("cos", c, persistent=False)
        self.register_buffer("sin", s, persistent=False)

    def forward(self, ids, caches=None, start=0):
        t = self.emb(ids)
        n = ids.shape[1]
        c, s = self.cos[start:start + n], self.sin[start:start + n]
        for i, layer in enumerate(self.layers):
            t = layer(t, c, s, None if caches is None else caches[i])
        return self.out(self.norm(t))

    def aux(self):
        return sum(layer.ff.aux for layer in self.layers)


lm = fill(LM(), 21, 0.25)
print("lm_params:", sum(p.numel() for p in lm.parameters()), len(lm.state_dict()),
      lm.out.weight is lm.emb.weight)
ids = torch.tensor([[1, 5, 9, 2, 7, 3], [4, 4, 8, 15, 16, 22]])
with torch.no_grad():
    full = lm(ids)
    caches = [{} for _ in lm.layers]
    pre = lm(ids[:, :3], caches, 0)
    steps = [pre]
    for t in range(3, ids.shape[1]):
        steps.append(lm(ids[:, t:t + 1], caches, t))
    inc = torch.cat(steps, dim=1)
print("kv_cache_eq_full:", torch.allclose(inc, full, atol=1e-5), tuple(caches[0]["k"].shape))
print("full_logits:", r(full[1, -1, :5]))

u = torch.tensor([[0.13, 0.71, 0.42, 0.95], [0.55, 0.08, 0.66, 0.31]])
with torch.no_grad():
    seq = ids[:, :2]
    caches = [{} for _ in lm.layers]
    logits = lm(seq, caches, 0)[:, -1]
    greedy = seq
    for step in range(4):
        probs = F.softmax(logits / 0.8, dim=-1)
        sp, si = probs.sort(dim=-1, descending=True)
        cum = sp.cumsum(-1)
        sp = sp.masked_fill(cum - sp > 0.9, 0.0)           # top-p
        sp[:, 5:] = 0.0                                    # top-k
        sp = sp / sp.sum(-1, keepdim=True)
        pick = (sp.cumsum(-1) < u[:, step:step + 1]).sum(-1, keepdim=True)
        nxt = si.gather(-1, pick.clamp(max=4))
        greedy = torch.cat([greedy, nxt], dim=1)
        logits = lm(nxt, caches, greedy.shape[1] - 1)[:, -1]
print("sampled:", greedy.tolist())
with torch.no_grad():
    g = ids[:, :2]
    for _ in range(4):
        g = torch.cat([g, lm(g)[:, -1].argmax(-1, keepdim=True)], dim=1)
print("greedy:", g.tolist())

# ---------------------------------------------------------------------------------------------
# (e) training with the auxiliary loss

opt = torch.optim.AdamW(lm.parameters(), lr=5e-3, weight_decay=0.01)
inp, tgt = ids[:, :-1], ids[:, 1:]
for step in range(4):
    opt.zero_grad()
    logits = lm(inp)
    ce = F.cross_entropy(logits.reshape(-1, VOCAB), tgt.reshape(-1), ignore_index=4)
    loss = ce + 0.01 * lm.aux()
    loss.backward()
    gn = nn.utils.clip_grad_norm_(lm.parameters(), 2.0)
    opt.step()
    print(f"lm_step{step}:", r(ce.item()), r(lm.aux().item()), r(gn.item()))
print("tied_after_training:", lm.out.weight is lm.emb.weight, r(lm.emb.weight[3, :3]))
print("perplexity:", r(math.exp(ce.item())))
print("buffers_not_in_state_dict:", "cos" in lm.state_dict(), len(list(lm.buffers())))

# ---------------------------------------------------------------------------------------------
# (f) sampling helpers as generation code writes them

logits = torch.tensor([[2.0, 0.5, 1.5, -1.0, 0.0, 1.0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
kth = logits.topk(3, dim=-1).values[:, -1:]
print("topk_filter:", logits.masked_fill(logits < kth, float("-inf")).tolist())
sorted_logits, order = logits.sort(dim=-1, descending=True)
cum = sorted_logits.softmax(-1).cumsum(-1)
cut = torch.searchsorted(cum, torch.tensor([[0.7], [0.5]]))
print("top_p_cut:", cut.tolist(), r(cum[0]))
remove = cum > 0.7
remove[..., 1:] = remove[..., :-1].clone()
remove[..., 0] = False
filtered = logits.scatter(1, order, sorted_logits.masked_fill(remove, float("-inf")))
print("top_p_scatter:", filtered.tolist())
print("top_p_probs:", r(filtered.softmax(-1)))
rep = torch.repeat_interleave(torch.tensor([1, 2, 3]), torch.tensor([2, 0, 3]))
print("repeat_interleave_tensor:", rep.tolist(),
      torch.repeat_interleave(torch.tensor([[1, 2], [3, 4]]), 2, dim=0).tolist())
pen = logits.clone()
seen = torch.tensor([[0, 2], [5, 5]])
prev = pen.gather(1, seen)
pen.scatter_(1, seen, torch.where(prev > 0, prev / 1.3, prev * 1.3))
print("repetition_penalty:", r(pen))
emb = nn.Embedding(6, 3, padding_idx=0)
with torch.no_grad():
    emb.weight.copy_(torch.arange(18.0).reshape(6, 3) / 10)
out = emb(torch.tensor([[0, 2, 0], [5, 1, 0]]))
out.sum().backward()
print("padding_idx:", r(out[0]), emb.weight.grad[:, 0].tolist())
bmask = torch.ones(2, 1, T, T, dtype=torch.bool).tril()
bmask[1, :, :, :2] = False
bmask[1, :, :2, :2] = True
q = data(8, (2, NH, T, HD))
k = data(9, (2, NH, T, HD))
v = data(10, (2, NH, T, HD))
print("sdpa_bool_broadcast_mask:", r(F.scaled_dot_product_attention(q, k, v,
                                                                      attn_mask=bmask)[1, 2, 3]))
alibi = -torch.arange(T).float().view(1, 1, 1, T).flip(-1) * torch.tensor(
    [0.5, 0.25, 0.125, 0.0625]).view(1, NH, 1, 1)
print("sdpa_alibi_bias:", r(F.scaled_dot_product_attention(q, k, v, attn_mask=alibi,
                                                             is_causal=False)[0, 1, 6]))
