"""Tensor semantics people trip over: integer division and rounding modes, promotion with
Python scalars, reductions with dtype, namedtuple results, stable sort and unique, clamp with
tensor bounds, views written in place, indexing with None/Ellipsis/negative indices, and the
errors torch raises for a negative slice step, a bad view and mismatched shapes."""
import torch


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


a = torch.tensor([-7, -3, 3, 7])
print("floor_div:", r(a // 2), r(torch.div(a, 2, rounding_mode="trunc")),
      r(torch.div(a, 2, rounding_mode="floor")), r(a / 2), r(a % 3), r(torch.fmod(a, 3)))
print("promotion:", (a + 1.5).dtype, (a * True).dtype, (a.float() + 1).dtype,
      (torch.tensor([1], dtype=torch.int8) + 300).dtype, (torch.tensor(2) ** -1.0).dtype,
      torch.tensor([1, 2]).float().mean().dtype, (torch.tensor([True]) + torch.tensor([True])).dtype)
i = torch.arange(1, 7, dtype=torch.int32)
print("int_reductions:", i.sum().dtype, r(i.prod()), i.cumsum(0).dtype, r(i.float().mean()),
      i.sum(dtype=torch.float64).dtype, r(torch.tensor([True, True, False]).sum()))
m = torch.tensor([[3.0, 1.0, 2.0], [1.0, 3.0, 3.0]])
mx = m.max(dim=1)
print("namedtuple:", type(mx).__name__, r(mx.values), r(mx.indices), r(m.argmax()),
      r(torch.max(m)), r(m.min(dim=0, keepdim=True).indices))
s = torch.tensor([2, 1, 2, 1, 3, 1])
print("stable_sort:", r(torch.sort(s, stable=True).indices),
      r(torch.sort(s, descending=True, stable=True).indices))
u, inv, cnt = torch.unique(s, return_inverse=True, return_counts=True)
print("unique:", r(u), r(inv), r(cnt), r(torch.unique_consecutive(s)))
print("topk_kth:", r(torch.topk(m.flatten(), 2, largest=False)), r(torch.kthvalue(m.flatten(), 3)))
lo, hi = torch.tensor([0.0, 1.5, 2.5]), torch.tensor([1.0, 2.0, 2.75])
print("clamp_tensor:", r(m.clamp(min=lo, max=hi)), r(torch.clamp(m, max=2.5)))
print("round:", r(torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, 1.2345]), decimals=0)),
      r(torch.round(torch.tensor([1.2345, 2.5678]), decimals=2)))
print("nan_to_num:", r(torch.nan_to_num(torch.tensor([float("nan"), float("inf"), -float("inf")]),
                                        nan=0.0, posinf=9.0)))
base = torch.zeros(3, 4)
view = base[:, 1:3]
view += 1
base[0].mul_(5)
base.t()[3, :] = 7
print("views_in_place:", r(base), view.is_contiguous(), base.t().is_contiguous())
e = torch.arange(3.0).expand(2, 3)
print("expand:", e.stride(), r(e.contiguous().stride()), r(torch.arange(3).repeat(2, 2)))
x = torch.arange(24).reshape(2, 3, 4)
print("indexing:", tuple(x[None, ..., 1].shape), r(x[-1, -1]), r(x[..., ::2][0]),
      r(x[:, [0, 2]][1, :, 0]), r(x[x > 20]), tuple(x[:, None, :, None].shape))
print("einsum_ellipsis:", r(torch.einsum("...ij,...jk->...ik", torch.ones(2, 2, 3),
                                         torch.ones(2, 3, 1)).flatten()),
      r(torch.tensordot(torch.ones(2, 3), torch.ones(3, 4), dims=1).sum()))
print("chunks:", [t.shape[0] for t in torch.arange(10).chunk(3)],
      [t.shape[0] for t in torch.arange(10).split([2, 3, 5])], r(torch.roll(torch.arange(5), 2)),
      r(torch.flip(torch.arange(4).reshape(2, 2), [0, 1])))
print("close:", torch.allclose(torch.tensor([1.0]), torch.tensor([1.0 + 1e-9])),
      r(torch.isclose(torch.tensor([1.0, float("nan")]), torch.tensor([1.1, float("nan")]),
                      equal_nan=True)), r(torch.count_nonzero(m - 3)))
for label, fn in [("negative_step", lambda: torch.arange(5)[::-1]),
                  ("bad_view", lambda: torch.arange(6).reshape(2, 3).t().view(6)),
                  ("shape_mismatch", lambda: torch.ones(2, 3) + torch.ones(3, 2)),
                  ("cat_dims", lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)])),
                  ("bad_index", lambda: torch.arange(3)[5])]:
    try:
        fn()
        print(label + ":", "no error")
    except (RuntimeError, ValueError, IndexError) as err:
        print(label + ":", type(err).__name__)
