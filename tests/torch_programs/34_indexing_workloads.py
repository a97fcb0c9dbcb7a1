"""Indexing-heavy code as models and data pipelines write it: index_put_ with accumulate,
scatter_reduce (sum/mean/amax/amin/prod, with and without include_self) for graph pooling,
gather and take_along_dim for beam search, index_add_/index_copy_/index_fill_, masked_scatter
and masked_select, nonzero/argwhere, unique (sorted, inverse, counts, dim) and
unique_consecutive, stable sort, topk, kthvalue, bucketize/searchsorted, bincount and histc,
advanced indexing mixing slices, tensors, None, Ellipsis and bool masks, in-place writes through
views, and the gradients of all of it."""
import numpy as np
import torch
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 4) if isinstance(v, float) else v


rng = np.random.default_rng(34)


def t(a):
    return torch.tensor(np.asarray(a, dtype="float32"))


# index_put_ with accumulate (duplicates add up), and without (distinct indices)
grid = torch.zeros(3, 4)
rows = torch.tensor([0, 2, 0, 1, 2])
cols = torch.tensor([1, 3, 1, 0, 3])
grid.index_put_((rows, cols), t([1.0, 2.0, 3.0, 4.0, 5.0]), accumulate=True)
print("index_put_acc:", r(grid))
grid.index_put_((torch.tensor([1, 2]),), t([9.0, 8.0, 7.0, 6.0]))
grid.index_put_((torch.tensor([0]), torch.tensor([0])), torch.tensor(-1.0))
print("index_put:", r(grid), r(torch.zeros(5).index_put((torch.tensor([4, 0, 4]),),
                                                        t([1.0, 2.0, 3.0]), accumulate=True)))
mask2d = grid > 5
grid[mask2d] = 0.5
grid[torch.tensor([True, False, True]), 1:3] += 10
print("bool_assign:", r(grid))

# scatter_reduce: pooling node features into graphs (sum/mean/amax/amin/prod)
feat = t(rng.standard_normal((7, 3)))
graph = torch.tensor([0, 0, 1, 2, 2, 2, 0])
idx = graph.unsqueeze(1).expand(-1, 3)
for how in ["sum", "mean", "amax", "amin", "prod"]:
    out_self = torch.ones(4, 3).scatter_reduce(0, idx, feat, reduce=how)
    out_only = torch.ones(4, 3).scatter_reduce(0, idx, feat, reduce=how, include_self=False)
    print(f"scatter_{how}:", r(out_self), r(out_only))
# (torch also takes "max" and "min" for amax and amin)
print("scatter_max_min:", r(torch.ones(4, 3).scatter_reduce(0, idx, feat, "max")),
      r(torch.ones(4, 3).scatter_reduce(0, idx, feat, "min", include_self=False)))
ints = torch.tensor([5, 1, 7, 2, 2, 9])
print("scatter_int:", r(torch.zeros(3, dtype=torch.long).scatter_reduce(
    0, torch.tensor([0, 1, 0, 2, 1, 2]), ints, "mean", include_self=False)),
      r(torch.full((3,), 4).scatter_reduce(0, torch.tensor([0, 1, 0, 2, 1, 2]), ints, "mean")),
      r(torch.zeros(3, dtype=torch.long).scatter_reduce(
          0, torch.tensor([0, 1, 0, 2, 1, 2]), ints, "amax")))
print("scatter_add:", r(torch.zeros(2, 5).scatter_add(1, torch.tensor([[0, 1, 0], [4, 4, 2]]),
                                                       t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))),
      r(torch.zeros(3, 3).scatter(1, torch.tensor([[2], [0], [1]]), 7.0)),
      r(torch.zeros(2, 4).scatter_(1, torch.tensor([[1, 3], [0, 2]]), t([[1, 2], [3, 4]]),
                                   reduce="add")))

# gather / take_along_dim: pick per-row entries, beam search bookkeeping
scores = t(rng.standard_normal((4, 6)))
pick = torch.tensor([[0, 5], [3, 3], [1, 0], [2, 4]])
print("gather:", r(scores.gather(1, pick)), r(torch.gather(scores, 0, torch.tensor([[3, 2, 1, 0,
                                                                                   0, 1]]))))
order = scores.argsort(dim=1, descending=True)
print("take_along_dim:", r(torch.take_along_dim(scores, order[:, :2], dim=1)),
      r(torch.take_along_dim(scores, torch.tensor([7, 0, 23]))),
      r(torch.take_along_dim(scores, scores.argmax(1, keepdim=True), 1).squeeze(1)))
beam, vocab = 3, 5
logp = F.log_softmax(t(rng.standard_normal((beam, vocab))), -1)
cum = t([-0.5, -1.0, -1.5]).unsqueeze(1) + logp
best, flat = cum.flatten().topk(beam)
src_beam = torch.div(flat, vocab, rounding_mode="floor")
tokens = flat % vocab
history = torch.tensor([[1, 2], [3, 4], [0, 1]])
history = torch.cat([history.index_select(0, src_beam), tokens.unsqueeze(1)], 1)
print("beam_search:", r(best), r(src_beam), r(tokens), r(history))

# index_add_ (message passing), index_copy_, index_fill_
edges = torch.tensor([[0, 1], [1, 2], [2, 0], [3, 1], [1, 0]])
msg = t(rng.standard_normal((5, 2)))
agg = torch.zeros(4, 2).index_add_(0, edges[:, 1], msg)
deg = torch.zeros(4).index_add_(0, edges[:, 1], torch.ones(5))
print("index_add:", r(agg), r(deg), r(torch.ones(2, 3).index_add(1, torch.tensor([2, 0, 2]),
                                                                 torch.ones(2, 3), alpha=-2)))
print("index_copy:", r(torch.zeros(4, 2).index_copy(0, torch.tensor([3, 0]), t([[1, 2], [3, 4]]))),
      r(torch.arange(6.0).reshape(2, 3).index_fill(1, torch.tensor([0, 2]), -1.0)),
      r(torch.arange(6).reshape(2, 3).index_fill_(0, torch.tensor([1]), 9)))

# masked_scatter / masked_select / masked_fill
m = torch.tensor([[True, False, True], [False, True, True]])
src = torch.arange(10.0, 16.0).reshape(2, 3)
print("masked_scatter:", r(torch.zeros(2, 3).masked_scatter(m, src)),
      r(torch.zeros(2, 3).masked_scatter(torch.tensor([True, False, True]), src)))
print("masked_select:", r(src.masked_select(m)),
      r(torch.masked_select(src, torch.tensor([False, True, True]))),
      r(src.masked_fill(~m, float("-inf")).softmax(-1)))

# nonzero / argwhere / where
z = torch.tensor([[0, 3, 0], [2, 0, 5], [0, 0, 0]])
print("nonzero:", r(z.nonzero()), r(torch.argwhere(z)), [r(a) for a in z.nonzero(as_tuple=True)],
      tuple(torch.zeros(2, 0).nonzero().shape), r(torch.where(z > 0)[1]))

# unique / unique_consecutive
s = torch.tensor([3, 1, 2, 3, 3, 1, 7, 2])
u, inv, cnt = torch.unique(s, sorted=True, return_inverse=True, return_counts=True)
print("unique:", r(u), r(inv), r(cnt), r(u[inv]))
rowsu = torch.tensor([[1, 2], [0, 5], [1, 2], [0, 5], [0, 1]])
ud, invd, cntd = torch.unique(rowsu, dim=0, return_inverse=True, return_counts=True)
print("unique_dim:", r(ud), r(invd), r(cntd), r(torch.unique(rowsu.t(), dim=1)))
uc, invc, cntc = torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 2, 1, 3, 3]),
                                          return_inverse=True, return_counts=True)
print("unique_consecutive:", r(uc), r(invc), r(cntc),
      r(torch.unique_consecutive(torch.tensor([[1, 1], [1, 1], [2, 0], [1, 1]]), dim=0)))
print("unique_float:", r(torch.unique(t([0.5, -1.0, 0.5, 2.0]))),
      r(torch.unique(torch.tensor([True, False, True]))))

# sort (stable), topk, kthvalue, argsort, msort
keys = torch.tensor([3, 1, 2, 1, 3, 2, 1])
print("stable_sort:", r(keys.sort(stable=True)),
      r(keys.sort(descending=True, stable=True).indices),
      r(torch.argsort(keys, stable=True)))
mat = t(rng.permutation(24).reshape(4, 6))
print("sort_dim0:", r(mat.sort(0).values[0]), r(mat.sort(0).indices[:, 1]),
      r(torch.msort(mat)[-1]))
print("topk:", r(mat.topk(2, dim=1)), r(mat.topk(3, dim=0, largest=False).indices),
      r(mat.topk(2, sorted=True).values))
kv = mat.kthvalue(3, dim=1)
print("kthvalue:", r(kv.values), r(kv.indices), r(mat.kthvalue(2, 0, keepdim=True).values))

# bucketize / searchsorted / bincount / histc
bounds = t([0.0, 1.0, 2.5, 4.0])
vals = t([-1.0, 0.0, 0.5, 1.0, 2.5, 3.9, 4.0, 10.0])
print("bucketize:", r(torch.bucketize(vals, bounds)), r(torch.bucketize(vals, bounds, right=True)),
      torch.bucketize(vals, bounds, out_int32=True).dtype)
sorted_rows = t([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 5.0]])
print("searchsorted:", r(torch.searchsorted(sorted_rows, t([[1.0, 2.5], [1.0, 6.0]]))),
      r(torch.searchsorted(sorted_rows, t([[1.0, 2.5], [1.0, 6.0]]), side="right")),
      r(torch.searchsorted(t([5.0, 1.0, 3.0]), t([2.0, 5.0]), sorter=torch.tensor([1, 2, 0]))))
labels = torch.tensor([0, 2, 1, 2, 2, 0])
preds = torch.tensor([0, 1, 1, 2, 0, 0])
conf = torch.bincount(labels * 3 + preds, minlength=9).reshape(3, 3)
wsum = torch.bincount(labels, weights=t([0.5, 1, 1, 2, 0.25, 1]))
print("bincount:", r(conf), r(wsum), wsum.dtype,
      r(torch.bincount(torch.tensor([], dtype=torch.long), minlength=2)))
h = t(rng.standard_normal(200))
print("histc:", r(torch.histc(h, bins=6, min=-3, max=3)), r(torch.histc(t([1.0, 2.0, 1.0]), 4)),
      r(torch.histc(h, bins=5).sum()))

# advanced indexing: mixed slices, index tensors, None, Ellipsis, bool masks
x = torch.arange(120).reshape(2, 3, 4, 5)
i0, i1 = torch.tensor([1, 0]), torch.tensor([[2, 0], [1, 1]])
print("adv_shapes:", tuple(x[:, i0].shape), tuple(x[:, i1, :, i0].shape),
      tuple(x[i0, :, i0].shape), tuple(x[..., i0, :].shape), tuple(x[None, i0, ..., None].shape),
      tuple(x[:, [True, False, True]].shape), tuple(x[1, :, [0, 3]][:, None].shape))
print("adv_values:", r(x[1, i0, 2, i0]), r(x[0, 1:, [[0], [3]], [1, 4]]),
      r(x[:, torch.tensor([True, False, True]), -1, ::2][1]), r(x[..., -1][i0, i0]),
      r(x[x[:, :, :, 0] > 100][:, 1]))
y = torch.zeros(3, 4)
y[[0, 2], 1:] = t([1.0, 2.0, 3.0])
y[:, torch.tensor([True, False, False, True])] = t([[7.0, 8.0]])
y[1, ...] = -1
y[None, 2, ::2] *= 3
print("adv_assign:", r(y))

# in-place writes through views
base = torch.arange(12.0).reshape(3, 4)
row = base[1]
row.mul_(-1)
base[:, 2].add_(100)
base.diagonal().fill_(0)
base.t()[3].clamp_(max=5)
base.narrow(1, 0, 2)[0].copy_(t([50, 60]))
flat = base.view(-1)
flat[::5] = -7
base[base < 0] = base[base < 0] * 2
print("views:", r(base), r(row), base.is_contiguous())

# gradients through scatter/gather/index_put/advanced indexing
w = t(rng.standard_normal((4, 3))).requires_grad_()
loss = (w.gather(1, torch.tensor([[0, 0], [2, 1], [1, 1], [0, 2]])) ** 2).sum()
loss = loss + w[torch.tensor([0, 0, 3]), torch.tensor([1, 1, 2])].sum() * 2
loss = loss + w[w.detach() > 0.5].sum() + w[1:, None, [0, 2]].mean()
loss.backward()
print("grad_gather_index:", r(w.grad))
src_g = t(rng.standard_normal((7, 3))).requires_grad_()
base_g = t(rng.uniform(0.5, 1.5, (4, 3))).requires_grad_()
tot = 0
for how, wt in [("sum", 1.0), ("mean", 2.0), ("amax", 3.0), ("amin", -1.0), ("prod", 0.5)]:
    out = base_g.scatter_reduce(0, idx, src_g, reduce=how)
    tot = tot + wt * (out * torch.arange(1.0, 13.0).reshape(4, 3)).sum()
tot.backward()
print("grad_scatter_reduce:", r(src_g.grad), r(base_g.grad))
src_g.grad = None
out = torch.zeros(4, 3).scatter_reduce(0, idx, src_g, reduce="mean", include_self=False)
(out ** 2).sum().backward()
print("grad_scatter_mean_noself:", r(src_g.grad))
v = t(rng.standard_normal(5)).requires_grad_()
tgt = torch.zeros(3, 4, requires_grad=True)
put = tgt.index_put((rows, cols), v, accumulate=True)
sc = torch.zeros(2, 5).scatter(1, torch.tensor([[0, 2, 4], [1, 3, 0]]), v[:3].expand(2, 3))
(put.pow(2).sum() + (put * torch.arange(12.0).reshape(3, 4)).sum() + sc.sum() * 3).backward()
print("grad_index_put:", r(v.grad), r(tgt.grad))
a = t(rng.standard_normal((5, 2))).requires_grad_()
b = t(rng.standard_normal((3, 2))).requires_grad_()
out = a.index_add(0, torch.tensor([4, 0, 4]), b, alpha=2.0).index_copy(
    0, torch.tensor([1]), b[:1] * 3).index_fill(1, torch.tensor([0]), 0.5)
ms = out.masked_select(out > 0) * 2
(out.sum() + ms.sum() + out.take_along_dim(torch.tensor([[1], [0], [1], [1], [0]]), 1).sum()
 ).backward()
print("grad_index_ops:", r(a.grad), r(b.grad))
q = t(rng.standard_normal(8)).requires_grad_()
vals_s, _ = q.sort(descending=True)
top = q.topk(3).values
kth = q.kthvalue(2).values
(vals_s * torch.arange(8.0)).sum().add(top.sum() * 10).add(kth * 100).backward()
print("grad_sort_topk:", r(q.grad))
g = t(rng.standard_normal((2, 3, 4))).requires_grad_()
view = g[:, 1:, None, ::2]
(view.sum() + g[..., [1, 1]].sum() + g[torch.tensor([[True, False, True], [False, True,
                                                                        False]])].pow(2).sum()
 ).backward()
print("grad_adv_views:", r(g.grad.sum(0)))
h2 = t(rng.standard_normal((3, 4))).requires_grad_()
c = h2.clone()
c[:, 1] = 0.0
c[c > 0.3] *= 2
c.masked_scatter_(torch.tensor([[False, False, True, False]]).expand(3, 4), h2[0] * 5)
(c * c).sum().backward()
print("grad_inplace_writes:", r(c), r(h2.grad))

# errors torch raises for bad indices
for label, fn in [("gather_oob", lambda: torch.zeros(2, 3).gather(1, torch.tensor([[3], [0]]))),
                  ("index_oob", lambda: torch.zeros(3)[torch.tensor([3])]),
                  ("mask_shape", lambda: torch.zeros(3, 2)[torch.tensor([True, False])]),
                  ("float_index", lambda: torch.zeros(3)[t([1.0])]),
                  ("scatter_bad_reduce", lambda: torch.zeros(3).scatter_reduce(
                      0, torch.tensor([0]), t([1.0]), "median")),
                  ("bincount_negative", lambda: torch.bincount(torch.tensor([1, -1])))]:
    try:
        fn()
        print(label + ":", "no error")
    except (RuntimeError, IndexError, ValueError) as err:
        print(label + ":", type(err).__name__)
