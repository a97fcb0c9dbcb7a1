"""Graphs, bags of embeddings and metric learning written by hand: a GCN with message passing over
an edge_index (index_select, index_add_, scatter_add, bincount degrees, pow(-0.5) with the
infinities masked), trained for a few steps, with global mean/max pooling per graph through
scatter_reduce; nn.EmbeddingBag (sum/mean/max, offsets, per_sample_weights, padding_idx) and
nn.Embedding(max_norm, padding_idx) in a bag-of-words classifier; a Siamese network with a
contrastive loss, F.pairwise_distance, cosine_embedding_loss, triplet_margin_with_distance_loss
with a custom distance, torch.cdist and F.normalize."""
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


def fill(module, seed, scale=0.4):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(
                (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


rng = np.random.default_rng(38)

# ---------------------------------------------------------------------------------------------
# a random batch of 3 graphs (nodes 0-4, 5-10, 11-13; node 13 is isolated)

num_nodes = 14
batch = torch.tensor([0] * 5 + [1] * 6 + [2] * 3)
edges = []
for lo, hi, m in [(0, 5, 6), (5, 11, 8), (11, 13, 1)]:
    for _ in range(m):
        a, b = rng.choice(np.arange(lo, hi), size=2, replace=False)
        edges.append((a, b))
edges = sorted(set(edges) | {(b, a) for a, b in edges})
edge_index = torch.tensor(np.array(edges).T, dtype=torch.long)
print("edge_index_shape:", list(edge_index.shape), edge_index.dtype)
x = torch.tensor(rng.standard_normal((num_nodes, 5)).astype("float32"))
labels = torch.tensor(rng.integers(0, 3, size=num_nodes))


def gcn_norm(edge_index, num_nodes, add_self_loops=True):
    row, col = edge_index
    if add_self_loops:
        loop = torch.arange(num_nodes)
        row = torch.cat([row, loop])
        col = torch.cat([col, loop])
    deg = torch.bincount(col, minlength=num_nodes).to(torch.float32)
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt = deg_inv_sqrt.masked_fill(deg_inv_sqrt == float("inf"), 0.0)
    norm = deg_inv_sqrt[row] * deg_inv_sqrt[col]
    return row, col, norm, deg


row, col, norm, deg = gcn_norm(edge_index, num_nodes, add_self_loops=False)
print("degrees:", r(deg))
print("deg_inv_sqrt_isolated:", r(deg.pow(-0.5)[-1]), r(norm[:5]))
row, col, norm, deg = gcn_norm(edge_index, num_nodes)
print("degrees_self_loops:", r(deg), r(norm.sum()))


class GCNConv(nn.Module):
    def __init__(self, cin, cout, use_scatter=False):
        super().__init__()
        self.lin = nn.Linear(cin, cout, bias=False)
        self.bias = nn.Parameter(torch.zeros(cout))
        self.use_scatter = use_scatter

    def forward(self, x, edge_index):
        row, col, norm, _ = gcn_norm(edge_index, x.size(0))
        h = self.lin(x)
        msg = h.index_select(0, row) * norm.view(-1, 1)
        if self.use_scatter:
            idx = col.view(-1, 1).expand(-1, h.size(1))
            out = torch.zeros_like(h).scatter_add(0, idx, msg)
        else:
            out = torch.zeros_like(h)
            out.index_add_(0, col, msg)
        return out + self.bias


class GCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = GCNConv(5, 8)
        self.conv2 = GCNConv(8, 3, use_scatter=True)

    def forward(self, x, edge_index):
        h = F.relu(self.conv1(x, edge_index))
        return self.conv2(h, edge_index)


model = fill(GCN(), 1)
with torch.no_grad():
    a = model.conv1(x, edge_index)
    model.conv1.use_scatter = True
    b = model.conv1(x, edge_index)
    model.conv1.use_scatter = False
print("index_add_vs_scatter_add:", torch.allclose(a, b, atol=1e-6))
opt = torch.optim.Adam(model.parameters(), lr=0.02)
losses = []
for step in range(8):
    out = model(x, edge_index)
    loss = F.cross_entropy(out, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print("gcn_losses:", r(losses))
print("gcn_bias:", r(model.conv2.bias))
print("gcn_accuracy:", (model(x, edge_index).argmax(1) == labels).float().mean().item())

# global pooling per graph: scatter_reduce over the batch vector
h = model(x, edge_index).detach().requires_grad_(True)
idx = batch.view(-1, 1).expand(-1, h.size(1))
counts = torch.bincount(batch).clamp(min=1).view(-1, 1)
sum_pool = torch.zeros(3, 3).scatter_add(0, idx, h)
mean_pool = torch.zeros(3, 3).scatter_reduce(0, idx, h, reduce="mean", include_self=False)
max_pool = torch.full((3, 3), float("-inf")).scatter_reduce(0, idx, h, reduce="amax")
print("sum_pool:", r(sum_pool))
print("mean_pool_matches:", torch.allclose(mean_pool, sum_pool / counts, atol=1e-6))
print("mean_pool:", r(mean_pool))
print("max_pool:", r(max_pool))
(mean_pool.sum() + max_pool.pow(2).sum()).backward()
print("pool_grad:", r(h.grad[:6]))
graph_logits = nn.Linear(6, 2)
fill(graph_logits, 2)
readout = torch.cat([mean_pool, max_pool], dim=1)
print("readout:", r(graph_logits(readout)))

# a dense adjacency built with index_put_ matches the sparse message passing
adj = torch.zeros(num_nodes, num_nodes)
adj.index_put_((edge_index[1], edge_index[0]), torch.ones(edge_index.size(1)), accumulate=True)
adj = adj + torch.eye(num_nodes)
d = adj.sum(1).pow(-0.5)
dense = d.view(-1, 1) * adj * d.view(1, -1)
with torch.no_grad():
    lin_out = model.conv1.lin(x)
    print("dense_matches:", torch.allclose(dense @ lin_out + model.conv1.bias,
                                           model.conv1(x, edge_index), atol=1e-5))
print("adj_stats:", r(adj.sum()), r(torch.trace(dense)))

# ---------------------------------------------------------------------------------------------
# EmbeddingBag and Embedding(max_norm, padding_idx)

weights = rng.standard_normal((10, 4)).astype("float32")
flat = torch.tensor([1, 2, 4, 5, 4, 3, 2, 9, 0, 6])
offsets = torch.tensor([0, 3, 3, 7])  # the third bag is empty
for mode in ["sum", "mean", "max"]:
    bag = nn.EmbeddingBag(10, 4, mode=mode)
    with torch.no_grad():
        bag.weight.copy_(torch.tensor(weights))
    out = bag(flat, offsets)
    print(f"bag_{mode}:", r(out))
    out.sum().backward()
    print(f"bag_{mode}_grad:", r(bag.weight.grad[[0, 2, 4, 9]]))
bag = nn.EmbeddingBag(10, 4, mode="sum")
with torch.no_grad():
    bag.weight.copy_(torch.tensor(weights))
psw = torch.tensor(rng.uniform(0.1, 1.0, size=10).astype("float32"), requires_grad=True)
out = bag(flat, offsets, per_sample_weights=psw)
out.sum().backward()
print("bag_psw:", r(out))
print("bag_psw_grads:", r(psw.grad), r(bag.weight.grad[4]))
bag2d = nn.EmbeddingBag.from_pretrained(torch.tensor(weights), mode="mean")
print("bag_2d:", r(bag2d(torch.tensor([[1, 2], [3, 3], [9, 0]]))))
print("bag_frozen:", bag2d.weight.requires_grad)
bag_pad = nn.EmbeddingBag(10, 4, mode="mean", padding_idx=0)
with torch.no_grad():
    bag_pad.weight.copy_(torch.tensor(weights))
print("bag_pad_weight0:", r(bag_pad.weight[0]))
out = bag_pad(torch.tensor([[0, 1, 2], [0, 0, 5], [0, 0, 0]]))
print("bag_padding_idx:", r(out))
out.sum().backward()
print("bag_pad_grad:", r(bag_pad.weight.grad[[0, 1, 5]]))
print("F_embedding_bag:", r(F.embedding_bag(flat, torch.tensor(weights), offsets, mode="max")))
print("F_embedding_bag_last:", r(F.embedding_bag(flat, torch.tensor(weights),
                                                 torch.tensor([0, 4, 8]), mode="sum",
                                                 include_last_offset=True)))

emb = nn.Embedding(10, 4, max_norm=1.0, padding_idx=2)
with torch.no_grad():
    emb.weight.copy_(torch.tensor(weights * 2))
print("emb_norms_before:", r(emb.weight.norm(dim=1)))
out = emb(torch.tensor([[1, 2, 3], [3, 7, 2]]))
print("emb_out_norms:", r(out.norm(dim=-1)))
print("emb_norms_after:", r(emb.weight.norm(dim=1)))
out.sum().backward()
print("emb_grad:", r(emb.weight.grad[[1, 2, 3, 7]]))
emb2 = nn.Embedding(10, 4, max_norm=0.5, norm_type=1.0)
with torch.no_grad():
    emb2.weight.copy_(torch.tensor(weights))
print("emb_norm1:", r(emb2(torch.tensor([0, 5, 5])).abs().sum(1)),
      r(emb2.weight.abs().sum(1)[[0, 4, 5]]))


class BagOfWords(nn.Module):
    def __init__(self, vocab=20, dim=6, classes=3):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab, dim, mode="mean", padding_idx=0)
        self.fc = nn.Linear(dim, classes)

    def forward(self, text, offsets):
        return self.fc(self.embedding(text, offsets))


docs = [rng.integers(1, 20, size=int(n)) for n in rng.integers(2, 7, size=12)]
doc_labels = torch.tensor([int(d.sum()) % 3 for d in docs])
text = torch.tensor(np.concatenate(docs))
doc_offsets = torch.tensor(np.cumsum([0] + [len(d) for d in docs[:-1]]))
clf = fill(BagOfWords(), 3, scale=0.5)
with torch.no_grad():
    clf.embedding.weight[0].zero_()
opt = torch.optim.SGD(clf.parameters(), lr=0.5, momentum=0.9)
losses = []
for epoch in range(10):
    logits = clf(text, doc_offsets)
    loss = F.cross_entropy(logits, doc_labels)
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
    opt.step()
    losses.append(loss.item())
print("bow_losses:", r(losses))
print("bow_pad_row:", r(clf.embedding.weight[0]))
print("bow_pred:", clf(text, doc_offsets).argmax(1).tolist())

# ---------------------------------------------------------------------------------------------
# Siamese network with contrastive loss, and triplet / cosine embedding losses


class Siamese(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 10), nn.ReLU(), nn.Linear(10, 4))

    def forward_once(self, x):
        return self.net(x)

    def forward(self, a, b):
        return self.forward_once(a), self.forward_once(b)


def contrastive_loss(o1, o2, same, margin=2.0):
    dist = F.pairwise_distance(o1, o2)
    return torch.mean(same * dist.pow(2) + (1 - same) * torch.clamp(margin - dist, min=0.0).pow(2))


A = torch.tensor(rng.standard_normal((16, 6)).astype("float32"))
B = torch.tensor(rng.standard_normal((16, 6)).astype("float32"))
same = torch.tensor(rng.integers(0, 2, size=16).astype("float32"))
B = torch.where(same.view(-1, 1) > 0, A + 0.1 * B, B)
net = fill(Siamese(), 4)
opt = torch.optim.Adam(net.parameters(), lr=0.01)
losses = []
for step in range(8):
    o1, o2 = net(A, B)
    loss = contrastive_loss(o1, o2, same)
    opt.zero_grad()
    loss.backward()
    opt.step()
    losses.append(loss.item())
print("siamese_losses:", r(losses))
with torch.no_grad():
    o1, o2 = net(A, B)
    dist = F.pairwise_distance(o1, o2)
print("siamese_dist:", r(dist[:6]))
print("siamese_sep:", r(dist[same > 0].mean()), r(dist[same == 0].mean()))
print("pairwise_variants:", r(F.pairwise_distance(o1[:3], o2[:3], p=1.0)),
      r(F.pairwise_distance(o1[:3], o2[:3], p=3.0, keepdim=True)),
      r(F.pairwise_distance(o1[0], o2[0])), r(nn.PairwiseDistance(p=float("inf"))(o1[:2], o2[:2])))

target = same * 2 - 1
for red in ["mean", "sum", "none"]:
    print(f"cosine_emb_{red}:", r(F.cosine_embedding_loss(o1, o2, target, margin=0.2,
                                                             reduction=red)))
print("cosine_emb_module:", r(nn.CosineEmbeddingLoss()(o1[:4], o2[:4], target[:4])))

anchor = torch.tensor(rng.standard_normal((8, 4)).astype("float32"), requires_grad=True)
positive = torch.tensor(rng.standard_normal((8, 4)).astype("float32"))
negative = torch.tensor(rng.standard_normal((8, 4)).astype("float32"))


def cosine_distance(a, b):
    return 1.0 - F.cosine_similarity(a, b)


def l_inf(a, b):
    return (a - b).abs().amax(dim=-1)


for name, kw in [("default", {}),
                 ("cosine", dict(distance_function=cosine_distance, margin=0.5)),
                 ("linf_swap", dict(distance_function=l_inf, swap=True, margin=1.5)),
                 ("pdist_sum", dict(distance_function=nn.PairwiseDistance(p=1.0),
                                    reduction="sum"))]:
    anchor.grad = None
    loss = F.triplet_margin_with_distance_loss(anchor, positive, negative, **kw)
    loss.backward()
    print(f"triplet_{name}:", r(loss), r(anchor.grad[1]))
crit = nn.TripletMarginWithDistanceLoss(distance_function=cosine_distance, reduction="none")
print("triplet_module_none:", r(crit(anchor, positive, negative)))
print("triplet_margin_loss:", r(F.triplet_margin_loss(anchor, positive, negative, p=1.5,
                                                      swap=True)))

# cdist, normalize and a retrieval step
emb_q = F.normalize(torch.tensor(rng.standard_normal((5, 4)).astype("float32")), dim=1)
emb_db = F.normalize(torch.tensor(rng.standard_normal((7, 4)).astype("float32")), p=2, dim=-1)
print("normalize_norms:", r(emb_q.norm(dim=1)))
print("normalize_p1:", r(F.normalize(torch.tensor([[3.0, -4.0], [0.0, 0.0]]), p=1.0, dim=1)))
D = torch.cdist(emb_q, emb_db)
print("cdist:", r(D))
print("cdist_cos_identity:", torch.allclose(D.pow(2), 2 - 2 * emb_q @ emb_db.t(), atol=1e-5))
print("cdist_p1:", r(torch.cdist(emb_q, emb_db, p=1.0)[0]))
print("cdist_pinf:", r(torch.cdist(emb_q, emb_db, p=float("inf"))[1]))
print("cdist_batched:", r(torch.cdist(emb_q.view(1, 5, 4), emb_db.view(1, 7, 4)).shape))
print("retrieval:", D.argmin(dim=1).tolist(), r(D.min(dim=1).values))
q = torch.tensor(rng.standard_normal((3, 4)).astype("float32"), requires_grad=True)
torch.cdist(q, emb_db).sum().backward()
print("cdist_grad:", r(q.grad))
q.grad = None
F.normalize(q, dim=1).pow(3).sum().backward()
print("normalize_grad:", r(q.grad))

# ---------------------------------------------------------------------------------------------
# batching graph data as PyG does: ptr from counts, relabelling, coalescing, dense batches

counts = torch.bincount(batch)
ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
print("ptr:", ptr.tolist(), torch.repeat_interleave(torch.arange(3), counts).tolist())
local = torch.arange(num_nodes) - ptr[batch]
dense_x = torch.zeros(3, int(counts.max()), 5)
dense_x[batch, local] = x
mask = torch.zeros(3, int(counts.max()), dtype=torch.bool)
mask[batch, local] = True
print("dense_batch:", list(dense_x.shape), mask.sum(1).tolist(), r(dense_x[2, :, 0]))
dup = torch.cat([edge_index, edge_index[:, :4]], dim=1)
uniq, inv, cnt = torch.unique(dup, dim=1, return_inverse=True, return_counts=True)
print("coalesce:", list(uniq.shape), torch.equal(uniq, edge_index), inv[-4:].tolist(),
      cnt.max().item())
perm = torch.argsort(edge_index[1] * num_nodes + edge_index[0], stable=True)
print("sorted_by_target:", edge_index[:, perm][:, :6].tolist())
keep = torch.tensor([1, 3, 5, 6, 7, 12])
node_mask = torch.zeros(num_nodes, dtype=torch.bool)
node_mask[keep] = True
relabel = torch.full((num_nodes,), -1, dtype=torch.long)
relabel[keep] = torch.arange(keep.numel())
emask = node_mask[edge_index[0]] & node_mask[edge_index[1]]
print("subgraph:", relabel[edge_index[:, emask]].tolist())
seg = torch.zeros(3).index_reduce(0, batch, x[:, 1], "amax", include_self=False)
print("index_reduce:", r(seg), r(torch.ones(3).index_reduce_(0, batch, x[:, 2], "prod")),
      r(torch.zeros(3).index_reduce(0, batch, x[:, 3], "mean")))
print("index_add_alpha:", r(torch.zeros(3, 5).index_add(0, batch, x, alpha=0.5)[:, 0]))
agg_min = torch.zeros(num_nodes, 5).scatter_reduce(
    0, edge_index[1].view(-1, 1).expand(-1, 5), x[edge_index[0]], "amin", include_self=False)
print("neighbour_min:", r(agg_min[[0, 5, 13]]))

# ---------------------------------------------------------------------------------------------
# SimCLR's NT-Xent loss with broadcast cosine_similarity, and other ranking losses

z1 = torch.tensor(rng.standard_normal((4, 5)).astype("float32"), requires_grad=True)
z2 = torch.tensor(rng.standard_normal((4, 5)).astype("float32"))
z = torch.cat([z1, z2])
sim = F.cosine_similarity(z.unsqueeze(1), z.unsqueeze(0), dim=-1) / 0.5
sim = sim.masked_fill(torch.eye(8, dtype=torch.bool), float("-inf"))
pos = torch.cat([torch.arange(4, 8), torch.arange(0, 4)])
nt_xent = F.cross_entropy(sim, pos)
nt_xent.backward()
print("nt_xent:", r(nt_xent), r(torch.logsumexp(sim, dim=1)[:3]))
print("nt_xent_grad:", r(z1.grad[0]))
s1 = torch.tensor(rng.standard_normal(6).astype("float32"))
s2 = torch.tensor(rng.standard_normal(6).astype("float32"))
y = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])
print("margin_ranking:", r(F.margin_ranking_loss(s1, s2, y, margin=0.3)),
      r(nn.MarginRankingLoss(reduction="none")(s1, s2, y)))
print("hinge_embedding:", r(F.hinge_embedding_loss(s1.abs(), y, margin=1.2)),
      r(F.hinge_embedding_loss(s1.abs(), y, reduction="sum")))
print("pairwise_broadcast:", r(F.pairwise_distance(o1[:3], o2[0])),
      r(F.pairwise_distance(o1[:2], o1[:2])))
pts = torch.tensor(rng.standard_normal((4, 3)).astype("float32"), requires_grad=True)
torch.cdist(pts, pts).sum().backward()
print("cdist_self_grad:", r(pts.grad))
zero = torch.zeros(2, 3, requires_grad=True)
F.normalize(zero, dim=1).sum().backward()
print("normalize_zero:", r(F.normalize(zero, dim=1)), r(zero.grad))
zero.grad = None
F.normalize(zero, p=3.0, dim=1).sum().backward()
print("normalize_zero_p3:", r(zero.grad[0]))
zero.grad = None
F.cosine_similarity(zero, torch.ones(2, 3)).sum().backward()
print("cosine_zero_grad:", r(zero.grad[0]))
v = torch.tensor([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]], requires_grad=True)
for p in [0.5, 3.0, float("inf")]:
    v.grad = None
    torch.linalg.vector_norm(v, ord=p, dim=1).sum().backward()
    print(f"vector_norm_grad_p{p}:", r(v.grad))

# ---------------------------------------------------------------------------------------------
# the errors these APIs raise

wt = torch.tensor(weights)
for label, fn in [
        ("bag_psw_mean", lambda: F.embedding_bag(flat, wt, offsets, mode="mean",
                                                 per_sample_weights=torch.ones(10))),
        ("bag_2d_offsets", lambda: F.embedding_bag(torch.tensor([[1, 2]]), wt, offsets)),
        ("bag_1d_no_offsets", lambda: F.embedding_bag(flat, wt)),
        ("bag_bad_mode", lambda: nn.EmbeddingBag(10, 4, mode="median")),
        ("bag_psw_shape", lambda: F.embedding_bag(flat, wt, offsets,
                                                  per_sample_weights=torch.ones(9))),
        ("index_add_dtype", lambda: torch.zeros(3, 2).index_add_(
            0, torch.tensor([0]), torch.ones(1, 2, dtype=torch.float64))),
        ("index_add_oob", lambda: torch.zeros(3).index_add_(0, torch.tensor([3]),
                                                            torch.ones(1))),
        ("index_select_float", lambda: x.index_select(0, torch.tensor([0.0]))),
        ("bincount_2d", lambda: torch.bincount(edge_index)),
        ("cdist_feature", lambda: torch.cdist(torch.ones(2, 3), torch.ones(2, 4))),
        ("cdist_1d", lambda: torch.cdist(torch.ones(3), torch.ones(3))),
        ("cdist_negative_p", lambda: torch.cdist(torch.ones(2, 3), torch.ones(2, 3), p=-1.0)),
        ("pairwise_shape", lambda: F.pairwise_distance(torch.ones(2, 3), torch.ones(3, 3))),
        ("cosine_emb_target", lambda: F.cosine_embedding_loss(torch.ones(2, 3),
                                                             torch.ones(2, 3),
                                                             torch.ones(2, 1))),
        ("triplet_dims", lambda: F.triplet_margin_with_distance_loss(
            torch.ones(2, 3), torch.ones(2, 3), torch.ones(3))),
        ("emb_index_oob", lambda: F.embedding(torch.tensor([10]), wt)),
        ("emb_float_index", lambda: F.embedding(torch.tensor([1.0]), wt)),
        ("normalize_int", lambda: F.normalize(torch.tensor([[3, 4]]), dim=1))]:
    try:
        fn()
        print(label + ":", "no error")
    except (RuntimeError, ValueError, IndexError, NotImplementedError, TypeError) as err:
        print(label + ":", type(err).__name__, repr(str(err).splitlines()[0][:200]))
