"""Tensor basics: creation, dtypes, indexing (incl. boolean masks and assignment), views, in-place."""
import numpy as np
import torch


def r(v):
    """Tensor or nested list -> nested list rounded to 6 decimals (ints and bools untouched)."""
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


rng = np.random.default_rng(0)

# creation
a = torch.tensor([[1, 2, 3], [4, 5, 6]])
print("tensor_int:", a.tolist())
print("tensor_int_dtype:", str(a.dtype))
print("tensor_int_shape:", tuple(a.shape))
f = torch.tensor([[1.5, -2.0], [0.25, 3.0]])
print("tensor_float_dtype:", str(f.dtype))
print("tensor_bool_dtype:", str(torch.tensor([True, False]).dtype))
print("zeros:", torch.zeros(2, 3).tolist())
print("ones_int:", torch.ones(2, 2, dtype=torch.int32).tolist())
print("ones_int_dtype:", str(torch.ones(1, dtype=torch.int32).dtype))
print("arange:", torch.arange(5).tolist())
print("arange_dtype:", str(torch.arange(5).dtype))
print("arange_step:", r(torch.arange(0.0, 1.0, 0.25)))
print("linspace:", r(torch.linspace(-1, 1, 5)))
print("full:", torch.full((2, 2), 7.0).tolist())
print("eye:", torch.eye(3).tolist())
print("zeros_like:", torch.zeros_like(f).tolist())
print("zeros_like_int_dtype:", str(torch.zeros_like(a).dtype))
print("ones_like:", torch.ones_like(a).tolist())
print("full_like:", torch.full_like(f, 2.5).tolist())
print("empty_shape:", tuple(torch.empty(3, 4).shape))
print("numel_dim:", (a.numel(), a.dim(), a.ndim, a.size(1), tuple(a.size())))
print("float64:", str(torch.tensor([1.0], dtype=torch.float64).dtype))
print("item_int:", a[1, 2].item())
print("item_float:", f[0, 0].item())

# numpy round trip
n = rng.standard_normal((3, 4)).astype("float32")
t = torch.from_numpy(n)
print("from_numpy:", r(t))
print("from_numpy_dtype:", str(t.dtype))
print("numpy_back:", r(t.numpy().sum().item()))
print("tensor_from_numpy_f64:", str(torch.tensor(rng.standard_normal(2)).dtype))

# indexing and slicing
x = torch.tensor(rng.standard_normal((4, 5)).astype("float32"))
print("x:", r(x))
print("row:", r(x[1]))
print("col:", r(x[:, 2]))
print("slice:", r(x[1:3, ::2]))
print("neg_index:", r(x[-1, -2]))
print("ellipsis:", r(x[..., 0]))
print("none_index_shape:", tuple(x[None, :, 1].shape))
print("fancy:", r(x[[0, 2, 3], [1, 1, 4]]))
print("index_tensor:", r(x[torch.tensor([3, 0])]))

# boolean masks
mask = x > 0
print("mask:", mask.tolist())
print("mask_dtype:", str(mask.dtype))
print("masked_select:", r(x[mask]))
print("mask_count:", mask.sum().item())
y = x.clone()
y[y < 0] = 0.0
print("mask_assign:", r(y))
y[:, 0] = torch.tensor([10.0, 20.0, 30.0, 40.0])
print("col_assign:", r(y))
y[1:3, 1:3] = -1.0
print("block_assign:", r(y))
y[[0, 3]] += 100.0
print("fancy_iadd:", r(y))
rowmask = torch.tensor([True, False, True, False])
z = x.clone()
z[rowmask] = 5.0
print("rowmask_assign:", r(z))
print("where:", r(torch.where(x > 0, x, torch.zeros_like(x))))
print("nonzero:", (x > 0.5).nonzero().tolist())

# views and in-place
b = torch.arange(12.0)
v = b.view(3, 4)
v[0, 0] = 100.0
print("view_shares_memory:", b[0].item())
tt = v.t()
print("t_contiguous:", [v.is_contiguous(), tt.is_contiguous(), tt.contiguous().is_contiguous()])
print("transpose:", tt.tolist())
print("reshape:", b.reshape(2, -1).tolist())
print("permute_shape:", tuple(torch.zeros(2, 3, 4).permute(2, 0, 1).shape))
print("unsqueeze_squeeze:", [tuple(b.unsqueeze(0).shape), tuple(b.unsqueeze(0).squeeze().shape)])
print("flatten:", tuple(torch.zeros(2, 3, 4).flatten(1).shape))
print("expand:", torch.tensor([[1.0], [2.0]]).expand(2, 3).tolist())
print("narrow:", v.narrow(1, 1, 2).tolist())
w = torch.ones(3)
w.add_(2).mul_(3)
print("inplace_chain:", w.tolist())
w.sub_(torch.tensor([1.0, 2.0, 3.0])).div_(2)
print("inplace_sub_div:", w.tolist())
w.clamp_(min=3.5)
print("clamp_:", w.tolist())
w.zero_()
print("zero_:", w.tolist())
w.fill_(1.25)
print("fill_:", w.tolist())
c = torch.zeros(2, 3)
c[0].copy_(torch.tensor([1.0, 2.0, 3.0]))
print("copy_into_view:", c.tolist())
c.t()[1] += 1
print("iadd_through_transpose:", c.tolist())
print("clone_independent:", (lambda s: (s.add_(1), c[0, 0].item())[1])(c.clone()))
print("detach_shares:", (lambda d: (d.mul_(2), c[0, 0].item())[1])(c.detach()))
