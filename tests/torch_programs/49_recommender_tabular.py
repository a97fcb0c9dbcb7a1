"""Recommender and tabular models as people write them: EmbeddingBag with offsets,
per_sample_weights (mode='sum') and padding_idx, nn.Embedding with padding_idx and max_norm,
a factorization machine (the sum-square trick), a wide & deep model with one-hot features built
with scatter_ and categorical embeddings, BCEWithLogitsLoss with pos_weight and per-element
weight, ROC-AUC computed with argsort/cumsum/trapezoid, precision@k with topk and gather,
a custom Dataset with a custom collate_fn that pads variable-length id lists, SequentialSampler,
BatchSampler with drop_last, Subset and ConcatDataset, and training with Adagrad and
SparseAdam-free dense updates plus a ReduceLROnPlateau schedule."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                              SequentialSampler, Subset, TensorDataset)


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


# ---------------------------------------------------------------------------------------------
# (a) EmbeddingBag and Embedding details

bag = fill(nn.EmbeddingBag(10, 3, mode="sum"), 1)
ids = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9])
offsets = torch.tensor([0, 3, 3, 6])          # the third bag is empty
w = torch.tensor([1.0, 0.5, 2.0, 1.0, -1.0, 0.25, 1.0, 3.0])
print("bag_sum:", r(bag(ids, offsets)))
print("bag_weighted:", r(bag(ids, offsets, per_sample_weights=w)))
for mode in ("mean", "max"):
    b = fill(nn.EmbeddingBag(10, 3, mode=mode), 1)
    print(f"bag_{mode}:", r(b(ids, offsets)))
b_last = fill(nn.EmbeddingBag(10, 3, mode="mean", include_last_offset=True), 1)
print("bag_last_offset:", r(b_last(ids, torch.tensor([0, 3, 6, 8]))))
bag_pad = fill(nn.EmbeddingBag(10, 3, mode="mean", padding_idx=0), 1)
ids2d = torch.tensor([[1, 2, 0], [0, 0, 5], [3, 3, 3]])
print("bag_padding_idx:", r(bag_pad(ids2d)))
bag_pad(ids2d).sum().backward()
print("bag_pad_grad_row0:", r(bag_pad.weight.grad[0]), r(bag_pad.weight.grad[3]))
fb = nn.EmbeddingBag.from_pretrained(torch.arange(12.0).reshape(4, 3), mode="sum")
print("bag_from_pretrained:", r(fb(torch.tensor([[0, 3], [1, 1]]))), fb.weight.requires_grad)

emb = fill(nn.Embedding(6, 4, padding_idx=2), 2)
out = emb(torch.tensor([[2, 1], [0, 2]]))
out.pow(2).sum().backward()
print("emb_pad_zero_grad:", r(emb.weight.grad[2]), r(emb.weight.grad[1]))
emb_mn = fill(nn.Embedding(5, 3, max_norm=0.5), 3)
print("emb_max_norm:", r(emb_mn(torch.tensor([1, 3])).norm(dim=1)))
print("emb_max_norm_weight_renormed:", r(emb_mn.weight.norm(dim=1)))

# ---------------------------------------------------------------------------------------------
# (b) synthetic click data (deterministic)

N_USERS, N_ITEMS, N_CATS = 7, 9, 4
rows = []
for i in range(48):
    u, it = (i * 3) % N_USERS, (i * 5 + i // 7) % N_ITEMS
    cat = (it + u) % N_CATS
    price = ((i * 37) % 17) / 17.0
    click = 1.0 if ((u + 2 * it) % 5 < 2) != (price > 0.8) else 0.0
    rows.append((u, it, cat, price, click))
users = torch.tensor([row[0] for row in rows])
items = torch.tensor([row[1] for row in rows])
cats = torch.tensor([row[2] for row in rows])
prices = torch.tensor([row[3] for row in rows])
clicks = torch.tensor([row[4] for row in rows])
print("click_rate:", r(clicks.mean().item()))
one_hot_cat = torch.zeros(48, N_CATS).scatter_(1, cats.unsqueeze(1), 1.0)
print("one_hot_colsum:", one_hot_cat.sum(0).tolist(),
      torch.equal(one_hot_cat, F.one_hot(cats, N_CATS).float()))


class FM(nn.Module):
    """Factorization machine over the concatenated user/item/category fields."""

    def __init__(self, n_features, k):
        super().__init__()
        self.w0 = nn.Parameter(torch.zeros(1))
        self.w = nn.Embedding(n_features, 1)
        self.v = nn.Embedding(n_features, k)

    def forward(self, feats):                 # feats: (B, fields) global feature ids
        linear = self.w(feats).sum(dim=(1, 2))
        v = self.v(feats)                     # (B, F, k)
        inter = 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(1)
        return self.w0 + linear + inter


feats = torch.stack([users, N_USERS + items, N_USERS + N_ITEMS + cats], dim=1)
fm = fill(FM(N_USERS + N_ITEMS + N_CATS, 3), 4, scale=0.1)
v = fm.v(feats[:2])
pairwise = sum((v[:, i] * v[:, j]).sum(-1) for i in range(3) for j in range(i + 1, 3))
sumsq = 0.5 * (v.sum(1).pow(2) - v.pow(2).sum(1)).sum(1)
print("fm_trick_equal:", torch.allclose(pairwise, sumsq, atol=1e-6))
opt = torch.optim.Adagrad(fm.parameters(), lr=0.1, initial_accumulator_value=0.1)
pw = torch.tensor([(clicks == 0).sum().item() / (clicks == 1).sum().item()])
crit = nn.BCEWithLogitsLoss(pos_weight=pw)
for step in range(6):
    opt.zero_grad()
    loss = crit(fm(feats), clicks)
    loss.backward()
    opt.step()
    print(f"fm_step{step}:", r(loss.item()))
print("fm_accum_w0:", r(opt.state[fm.w0]["sum"].item()))


def roc_auc(scores, labels):
    order = torch.argsort(scores, descending=True, stable=True)
    y = labels[order]
    tps = torch.cumsum(y, 0)
    fps = torch.cumsum(1 - y, 0)
    tpr = torch.cat([torch.zeros(1), tps / tps[-1]])
    fpr = torch.cat([torch.zeros(1), fps / fps[-1]])
    return torch.trapezoid(tpr, fpr)


with torch.no_grad():
    fm_scores = torch.sigmoid(fm(feats))
print("fm_auc:", r(roc_auc(fm_scores, clicks).item()))
pos, neg = fm_scores[clicks == 1], fm_scores[clicks == 0]
pairs = (pos.unsqueeze(1) > neg.unsqueeze(0)).float().mean()
print("fm_auc_pairs:", r(pairs.item()))

# ---------------------------------------------------------------------------------------------
# (c) BCEWithLogits variants

logits = torch.linspace(-3, 3, 8).reshape(2, 4)
target = torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.5]])
print("bce_pos_weight_vec:", r(F.binary_cross_entropy_with_logits(
    logits, target, pos_weight=torch.tensor([1.0, 2.0, 0.5, 3.0])).item()))
print("bce_weight_none:", r(F.binary_cross_entropy_with_logits(
    logits, target, weight=torch.tensor([1.0, 0.0, 2.0, 1.0]), reduction="none")))
lg = logits.clone().requires_grad_()
F.binary_cross_entropy_with_logits(lg, target, pos_weight=torch.tensor([3.0]),
                                   reduction="sum").backward()
print("bce_grad:", r(lg.grad))
print("bce_large_logits:", r(F.binary_cross_entropy_with_logits(
    torch.tensor([100.0, -100.0]), torch.tensor([0.0, 1.0]), reduction="none")))

# ---------------------------------------------------------------------------------------------
# (d) Dataset, collate_fn, samplers, wide & deep


class History(Dataset):
    """Each user's variable-length item history, their category and the click label."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        length = 1 + (i * 7) % 4
        hist = torch.tensor([(i + 2 * j) % N_ITEMS + 1 for j in range(length)])  # 0 = pad
        return {"hist": hist, "cat": (i * 3) % N_CATS, "price": float(prices[i]),
                "y": float(clicks[i])}


def collate(batch):
    lengths = torch.tensor([len(b["hist"]) for b in batch])
    hist = nn.utils.rnn.pad_sequence([b["hist"] for b in batch], batch_first=True,
                                     padding_value=0)
    return {"hist": hist, "lengths": lengths,
            "cat": torch.tensor([b["cat"] for b in batch]),
            "price": torch.tensor([[b["price"]] for b in batch]),
            "y": torch.tensor([b["y"] for b in batch])}


ds = History(30)
print("sample:", ds[5]["hist"].tolist(), ds[5]["cat"])
bs = BatchSampler(SequentialSampler(ds), batch_size=8, drop_last=True)
print("batch_sampler:", len(bs), list(bs)[1])
print("batch_sampler_keep:", len(BatchSampler(range(30), 8, drop_last=False)))
loader = DataLoader(ds, batch_sampler=bs, collate_fn=collate)
first = next(iter(loader))
print("collated:", tuple(first["hist"].shape), first["lengths"].tolist(),
      first["hist"][3].tolist())
print("collated_price:", first["price"].dtype, tuple(first["price"].shape))
sub = Subset(ds, [0, 2, 4, 6, 8, 10])
print("subset:", len(sub), sub[2]["hist"].tolist())
cat_ds = ConcatDataset([TensorDataset(torch.arange(3.0)), TensorDataset(torch.arange(10.0, 14.0))])
print("concat:", len(cat_ds), cat_ds[4][0].item(), cat_ds.cumulative_sizes)
dl = DataLoader(sub, batch_size=4, collate_fn=collate, shuffle=False)
print("subset_batches:", [b["lengths"].tolist() for b in dl])
default = DataLoader(TensorDataset(torch.arange(6.0).reshape(3, 2), torch.tensor([1, 0, 1])),
                     batch_size=2)
print("default_collate:", [(x.tolist(), y.tolist()) for x, y in default])


class WideDeep(nn.Module):
    def __init__(self):
        super().__init__()
        self.wide = nn.Linear(N_CATS + 1, 1)
        self.items = nn.EmbeddingBag(N_ITEMS + 1, 4, mode="mean", padding_idx=0)
        self.cat = nn.Embedding(N_CATS, 2)
        self.deep = nn.Sequential(nn.Linear(4 + 2 + 1, 8), nn.ReLU(), nn.Linear(8, 1))

    def forward(self, batch):
        oh = F.one_hot(batch["cat"], N_CATS).float()
        wide = self.wide(torch.cat([oh, batch["price"]], 1))
        deep_in = torch.cat([self.items(batch["hist"]), self.cat(batch["cat"]), batch["price"]], 1)
        return (wide + self.deep(deep_in)).squeeze(1)


wd = fill(WideDeep(), 5, scale=0.4)
opt = torch.optim.Adam(wd.parameters(), lr=0.02)
sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=0)
full = DataLoader(ds, batch_size=10, collate_fn=collate)
for epoch in range(4):
    total = 0.0
    for batch in full:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(wd(batch), batch["y"])
        loss.backward()
        opt.step()
        total += loss.item()
    sched.step(total)
    print(f"wd_epoch{epoch}:", r(total), opt.param_groups[0]["lr"])
with torch.no_grad():
    all_batch = collate([ds[i] for i in range(len(ds))])
    scores = torch.sigmoid(wd(all_batch))
print("wd_auc:", r(roc_auc(scores, all_batch["y"]).item()))

# precision@k per user with topk and gather
score_mat = torch.sin(torch.arange(N_USERS * N_ITEMS, dtype=torch.float32)
                      .reshape(N_USERS, N_ITEMS) * 1.3)
relevant = torch.zeros(N_USERS, N_ITEMS).index_put_((users, items), torch.ones(48))
topv, topi = score_mat.topk(3, dim=1)
hits = relevant.gather(1, topi)
print("precision_at_3:", r(hits.mean(1)))
print("recall_at_3:", r(hits.sum(1) / relevant.sum(1).clamp(min=1)))
print("top_items_user0:", topi[0].tolist(), r(topv[0]))
