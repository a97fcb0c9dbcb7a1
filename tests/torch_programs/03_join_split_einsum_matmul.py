"""cat/stack/split/chunk, gather/scatter, einsum, matmul family."""
import numpy as np
import torch


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


rng = np.random.default_rng(2)


def T(*shape):
    return torch.tensor(rng.standard_normal(shape).astype("float32"))


a, b = T(2, 3), T(2, 3)
print("cat0:", r(torch.cat([a, b])))
print("cat1:", r(torch.cat((a, b), dim=1)))
print("cat_neg:", tuple(torch.cat([a, b, a], dim=-1).shape))
print("stack0:", tuple(torch.stack([a, b]).shape), r(torch.stack([a, b])[1]))
print("stack2:", r(torch.stack([a, b], dim=2)))
print("hstack_vstack:", tuple(torch.hstack([a, b]).shape), tuple(torch.vstack([a, b]).shape))
c = torch.arange(10.0)
print("split_size:", [p.tolist() for p in torch.split(c, 4)])
print("split_sections:", [p.tolist() for p in c.split([2, 3, 5])])
print("chunk:", [p.tolist() for p in c.chunk(3)])
print("unbind:", [r(p) for p in a.unbind(1)])
print("tensor_split_2d:", [tuple(p.shape) for p in torch.split(T(5, 4), 2, dim=0)])
print("flip:", torch.arange(6).view(2, 3).flip(1).tolist(), torch.flip(torch.arange(4), [0]).tolist())
print("roll:", torch.roll(torch.arange(5), 2).tolist())
print("repeat:", torch.tensor([[1, 2]]).repeat(2, 3).tolist())
print("repeat_interleave:", torch.tensor([1, 2, 3]).repeat_interleave(2).tolist())
print("tril_triu:", torch.ones(3, 3).tril().tolist(), torch.ones(3, 3).triu(1).tolist())
print("diag:", r(torch.diag(T(3, 3))), torch.diag(torch.tensor([1.0, 2.0])).tolist())
print("trace:", r(torch.eye(3).mul(2).trace()))

# gather / scatter / index_select / masked_fill
src = T(3, 4)
idx = torch.tensor([[0, 3], [1, 1], [2, 0]])
print("gather:", r(torch.gather(src, 1, idx)))
print("index_select:", r(src.index_select(1, torch.tensor([3, 0]))))
print("masked_fill:", r(src.masked_fill(src < 0, -9.0)))
z = torch.zeros(3, 5)
print("scatter:", r(z.scatter(1, torch.tensor([[0], [4], [2]]), 1.0)))
print("scatter_add:", r(torch.zeros(5).scatter_add(0, torch.tensor([0, 1, 0, 4]), torch.tensor([1.0, 2.0, 3.0, 4.0]))))
print("index_add:", r(torch.zeros(3, 2).index_add(0, torch.tensor([0, 2, 0]), torch.ones(3, 2))))
print("take_along_dim:", r(torch.take_along_dim(src, src.argmax(dim=1, keepdim=True), dim=1)))

# einsum
A, B, v = T(3, 4), T(4, 5), T(4)
print("einsum_mm:", r(torch.einsum("ij,jk->ik", A, B)))
print("einsum_mv:", r(torch.einsum("ij,j->i", A, v)))
print("einsum_trace_transpose:", r(torch.einsum("ii", T(3, 3))), r(torch.einsum("ij->ji", A)))
print("einsum_outer:", r(torch.einsum("i,j->ij", v, v[:2])))
X, Y = T(2, 3, 4), T(2, 4, 2)
print("einsum_bmm:", r(torch.einsum("bij,bjk->bik", X, Y)))
print("einsum_sum_axis:", r(torch.einsum("bij->bj", X)))
print("einsum_dot:", r(torch.einsum("i,i->", v, v)))
print("einsum_attention:", r(torch.einsum("bhqd,bhkd->bhqk", T(1, 2, 3, 4), T(1, 2, 3, 4))))
print("einsum_ellipsis:", r(torch.einsum("...ij,...jk->...ik", X, Y)))

# matmul family
print("matmul_2d:", r(A @ B))
print("mm:", r(torch.mm(A, B)))
print("matmul_mv:", r(torch.matmul(A, v)))
print("matmul_vm:", r(torch.matmul(v, B)))
print("matmul_vv:", r(torch.matmul(v, v)))
print("dot:", r(torch.dot(v, v)))
print("mv:", r(torch.mv(A, v)))
print("bmm:", r(torch.bmm(X, Y)))
print("matmul_broadcast:", r(torch.matmul(X, B[:, :2])))
print("matmul_broadcast_batch:", tuple(torch.matmul(T(2, 1, 3, 4), T(5, 4, 2)).shape))
print("outer:", r(torch.outer(v[:2], v)))
print("addmm:", r(torch.addmm(T(3, 5), A, B)))
print("int_matmul:", (torch.arange(6).view(2, 3) @ torch.arange(3)).tolist())
print("transpose_matmul:", r(A.T @ A))
print("mT:", tuple(X.mT.shape), r(X.transpose(-2, -1)[1]))
