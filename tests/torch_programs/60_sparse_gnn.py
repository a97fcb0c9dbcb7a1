"""A graph neural network the way a PyG-free script writes one: a sparse COO adjacency built
with torch.sparse_coo_tensor (duplicate edges summed by coalesce), its transpose and
symmetrisation, degrees from torch.sparse.sum, the symmetric normalisation D^-1/2 (A+I) D^-1/2
as new values on the same indices, GCN layers with torch.sparse.mm, message passing written with
index_add_ and scatter_add_ (sum and mean aggregation) checked against the sparse product,
node embeddings in nn.Embedding(sparse=True) trained with SparseAdam beside dense Adam for the
rest, the sparse gradient's indices/values, to_dense, and torch.save / torch.load of a sparse
tensor through a BytesIO."""
import io

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


rng = np.random.default_rng(60)
N, FEAT, HID, CLASSES = 8, 5, 6, 3

# ---------------------------------------------------------------------------------------------
# (a) the adjacency: COO with duplicates, coalesce, transpose, symmetrise

edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 0], [1, 3], [2, 5], [5, 6], [6, 7],
                  [7, 5], [3, 1], [0, 1], [6, 7]])          # (0,1) and (6,7) appear twice
src = torch.tensor(edges[:, 0])
dst = torch.tensor(edges[:, 1])
A = torch.sparse_coo_tensor(torch.stack([src, dst]), torch.ones(len(edges)), (N, N))
print("coo_layout:", A.layout, A.is_sparse, A.is_coalesced(), A._nnz(), tuple(A.shape))
print("coo_dims:", A.sparse_dim(), A.dense_dim(), A.dtype)
A = A.coalesce()
print("coalesced:", A.is_coalesced(), A._nnz())
print("coalesced_indices:", A.indices().tolist())
print("coalesced_values:", A.values().tolist())
print("to_dense_row0:", A.to_dense()[0].tolist(), A.to_dense().sum().item())
At = A.t().coalesce()
print("transpose_indices:", At.indices()[:, :5].tolist())
S = (A + At).coalesce()
print("symmetric_nnz:", S._nnz(), torch.equal(S.to_dense(), S.to_dense().t()))
eye_idx = torch.arange(N).repeat(2, 1)
A_loop = (S + torch.sparse_coo_tensor(eye_idx, torch.ones(N), (N, N))).coalesce()
print("self_loops_nnz:", A_loop._nnz(), A_loop.values().max().item())

# degree normalisation on the same indices
deg = torch.sparse.sum(A_loop, dim=1).to_dense()
print("degrees:", deg.tolist())
dinv = deg.pow(-0.5)
row, col = A_loop.indices()
norm_vals = dinv[row] * A_loop.values() * dinv[col]
A_hat = torch.sparse_coo_tensor(A_loop.indices(), norm_vals, (N, N)).coalesce()
print("a_hat_values:", r(A_hat.values()[:6]))
print("a_hat_rowsum:", r(torch.sparse.sum(A_hat, dim=1).to_dense()))
print("sparse_total:", r(torch.sparse.sum(A_hat).item()))

X = torch.tensor(rng.standard_normal((N, FEAT)).astype("float32"))
dense_prod = A_hat.to_dense() @ X
sparse_prod = torch.sparse.mm(A_hat, X)
print("spmm_matches_dense:", torch.allclose(sparse_prod, dense_prod, atol=1e-6),
      r(sparse_prod[2]))
print("spmm_method:", r(A_hat.mm(X)[0]), r((A_hat @ X)[7]))

# ---------------------------------------------------------------------------------------------
# (b) message passing by hand: index_add_ and scatter_add_

msg = X[col] * norm_vals[:, None]
agg = torch.zeros(N, FEAT).index_add_(0, row, msg)
print("index_add_matches_spmm:", torch.allclose(agg, sparse_prod, atol=1e-6))
agg2 = torch.zeros(N, FEAT).scatter_add_(0, row[:, None].expand(-1, FEAT), msg)
print("scatter_add_matches:", torch.allclose(agg2, agg, atol=1e-6))
counts = torch.zeros(N).scatter_add_(0, row, torch.ones(len(row)))
mean_agg = torch.zeros(N, FEAT).index_add_(0, row, X[col]) / counts[:, None]
print("mean_aggregate:", r(mean_agg[3]), counts.tolist())
mx = torch.full((N, FEAT), -1e9).scatter_reduce(0, row[:, None].expand(-1, FEAT), X[col],
                                                 reduce="amax", include_self=False)
print("max_aggregate:", r(mx[5]))

# gradient through the hand-written message passing
Xg = X.clone().requires_grad_(True)
out = torch.zeros(N, FEAT).index_add(0, row, Xg[col] * norm_vals[:, None])
(out ** 2).sum().backward()
print("message_grad:", r(Xg.grad[1]))

# ---------------------------------------------------------------------------------------------
# (c) a GCN with sparse node embeddings: SparseAdam for the Embedding, Adam for the rest


class GCN(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(N, FEAT, sparse=True)
        self.lin1 = nn.Linear(FEAT, HID)
        self.lin2 = nn.Linear(HID, CLASSES)

    def forward(self, adj, nodes):
        h = self.emb(nodes)
        h = F.relu(torch.sparse.mm(adj, self.lin1(h)))
        return torch.sparse.mm(adj, self.lin2(h))


model = GCN()
wrng = np.random.default_rng(601)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(wrng.standard_normal(tuple(p.shape)).astype("float32") * 0.5))
labels = torch.tensor([0, 0, 1, 1, 0, 2, 2, 2])
train_nodes = torch.tensor([0, 2, 5, 6, 7])
nodes = torch.arange(N)
sparse_opt = torch.optim.SparseAdam(list(model.emb.parameters()), lr=0.05)
dense_opt = torch.optim.Adam(list(model.lin1.parameters()) + list(model.lin2.parameters()),
                             lr=0.05)
losses = []
for step in range(8):
    sparse_opt.zero_grad()
    dense_opt.zero_grad()
    logits = model(A_hat, nodes)
    loss = F.cross_entropy(logits[train_nodes], labels[train_nodes])
    loss.backward()
    if step == 0:
        g = model.emb.weight.grad
        print("emb_grad_sparse:", g.is_sparse, g.layout, g._nnz(), tuple(g.shape))
        gc = g.coalesce()
        print("emb_grad_indices:", gc.indices().tolist())
        print("emb_grad_values_row0:", r(gc.values()[0]))
        print("emb_grad_dense_sum:", r(g.to_dense().sum(dim=1)))
    sparse_opt.step()
    dense_opt.step()
    losses.append(loss.item())
print("gcn_losses:", r(losses))
print("sparse_adam_state:", sorted(sparse_opt.state[model.emb.weight].keys()),
      sparse_opt.state[model.emb.weight]["step"])
print("emb_row3:", r(model.emb.weight[3]))
with torch.no_grad():
    pred = model(A_hat, nodes).argmax(1)
print("predictions:", pred.tolist(), (pred == labels).sum().item())

# only the looked-up rows move under SparseAdam
emb2 = nn.Embedding(6, 2, sparse=True)
with torch.no_grad():
    emb2.weight.copy_(torch.arange(12.0).reshape(6, 2) / 10)
opt2 = torch.optim.SparseAdam(emb2.parameters(), lr=0.1)
emb2(torch.tensor([1, 4, 4])).pow(2).sum().backward()
print("lookup_grad:", emb2.weight.grad.coalesce().indices().tolist(),
      r(emb2.weight.grad.coalesce().values()))
opt2.step()
print("sparse_adam_rows:", r(emb2.weight))

# ---------------------------------------------------------------------------------------------
# (d) save / load of a sparse tensor

buf = io.BytesIO()
torch.save({"adj": A_hat, "deg": deg}, buf)
buf.seek(0)
loaded = torch.load(buf)
adj2 = loaded["adj"]
print("loaded_sparse:", adj2.is_sparse, adj2.layout, adj2._nnz(), tuple(adj2.shape),
      adj2.is_coalesced())
print("loaded_equal:", torch.equal(adj2.to_dense(), A_hat.to_dense()),
      torch.equal(adj2.indices(), A_hat.indices()), r(loaded["deg"]))
buf2 = io.BytesIO()
torch.save(A, buf2)                                  # a plain (coalesced) adjacency
buf2.seek(0)
A_back = torch.load(buf2)
print("loaded_plain:", A_back.values().tolist(), A_back.indices()[1].tolist())
