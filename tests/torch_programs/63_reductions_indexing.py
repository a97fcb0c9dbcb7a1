"""Numerics of reductions and indexing beyond program 47, with gradients where torch defines
them: cumprod (through zeros), cummax/cummin and logcumsumexp (with -inf), stable sort/argsort
with ties along a dim, unique over dim=1 and unique_consecutive over a dim, searchsorted with
sorter and side on 2-D inputs, out_int32, histc with out-of-range values, bincount with integer
weights and minlength, kthvalue/median/nanmedian/mode along dims (ties, all-NaN rows, keepdim),
quantile/nanquantile with every interpolation along dims, nansum/nanmean, masked_fill /
masked_select / masked_scatter, take/take_along_dim/gather, index_put_ with accumulate and
repeated indices, index_add (alpha) / index_copy / index_fill / index_reduce, and scatter_reduce
with every reduction and include_self both ways."""
import numpy as np
import torch

DEVICE = torch.get_default_device()
nan, inf = float("nan"), float("inf")


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def leaf(a, dtype="float32"):
    return torch.tensor(np.asarray(a, dtype=dtype), requires_grad=True)


def grad_of(fn, *inputs, weight_seed=0):
    """The gradient of sum(w * fn(*inputs)) for a fixed weight w, for each input."""
    for t in inputs:
        t.grad = None
    out = fn(*inputs)
    w = torch.tensor(np.random.default_rng(weight_seed).uniform(0.5, 1.5, tuple(out.shape))
                     .astype("float32"))
    (out * w).sum().backward()
    return [r(t.grad) for t in inputs]


rng = np.random.default_rng(63)
M = rng.standard_normal((3, 5)).astype("float32")

# ---------------------------------------------------------------------------------------------
# (a) cumulative ops and their gradients

x = leaf([[2.0, 0.0, 3.0, -1.0, 0.5], [1.5, -2.0, 0.0, 0.0, 4.0], [0.5, 1.0, 2.0, -0.5, 3.0]])
print("cumprod:", r(x.cumprod(1)))
print("cumprod_grad:", *grad_of(lambda t: t.cumprod(1), x))
print("cumprod_dim0_grad:", *grad_of(lambda t: t.cumprod(0), x, weight_seed=1))
ties = leaf([[1.0, 3.0, 3.0, 2.0, 5.0], [4.0, 4.0, 1.0, 4.0, 0.0], M[2]])
cmax = ties.cummax(1)
print("cummax:", r(cmax.values), cmax.indices.tolist())
print("cummax_grad:", *grad_of(lambda t: t.cummax(1).values, ties))
cmin = ties.cummin(0)
print("cummin_dim0:", r(cmin.values), cmin.indices.tolist())
print("cummin_grad:", *grad_of(lambda t: t.cummin(0).values, ties, weight_seed=2))
lx = leaf([[-inf, 0.0, 1.0, -inf, 2.0], M[0], M[1] * 30])
print("logcumsumexp:", r(torch.logcumsumexp(lx, 1)))
# (the gradient at a leading -inf is left out: torch's formula gives exp(-inf - -inf) = nan)
lg = leaf([[-30.0, 0.0, 1.0, -40.0, 2.0], M[0], M[1] * 30])
print("logcumsumexp_grad:", *grad_of(lambda t: torch.logcumsumexp(t, 1), lg))
print("cumsum_grad:", *grad_of(lambda t: torch.cumsum(t, 0), leaf(M)))
print("cumsum_int_dtype:", torch.tensor([[True, False, True]]).cumsum(1).tolist(),
      torch.tensor([[True, False, True]]).cumsum(1).dtype)

# ---------------------------------------------------------------------------------------------
# (b) sorting, unique, searching

tied = torch.tensor([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.0, 0.0, -1.0, 0.0, nan, -1.0]])
for desc in (False, True):
    s = torch.sort(tied, dim=1, descending=desc, stable=True)
    print(f"sort_stable_desc{desc}:", r(s.values), s.indices.tolist())
    print(f"argsort_stable_desc{desc}:", torch.argsort(tied, dim=1, descending=desc,
                                                       stable=True).tolist())
s0 = torch.sort(torch.tensor([[2, 1], [1, 1], [2, 0], [1, 1]]), dim=0, stable=True)
print("sort_int_dim0:", s0.values.tolist(), s0.indices.tolist())
sx = leaf(M)
print("sort_grad:", *grad_of(lambda t: torch.sort(t, dim=1, descending=True).values, sx))
cols = torch.tensor([[1, 2, 1, 3, 2], [5, 6, 5, 0, 6]])
u, inv, cnt = torch.unique(cols, dim=1, return_inverse=True, return_counts=True)
print("unique_dim1:", u.tolist(), inv.tolist(), cnt.tolist())
uf, finv = torch.unique(torch.tensor([2.5, -0.0, 0.0, nan, 2.5, -1.0]), return_inverse=True)
print("unique_float:", r(uf[:3]), finv[:3].tolist())
uc, ucinv, uccnt = torch.unique_consecutive(torch.tensor([[1, 1], [1, 1], [2, 0], [1, 1]]),
                                            dim=0, return_inverse=True, return_counts=True)
print("unique_consecutive_dim0:", uc.tolist(), ucinv.tolist(), uccnt.tolist())
print("unique_consecutive_plain:",
      torch.unique_consecutive(torch.tensor([5, 5, 2, 2, 5])).tolist())
seqs = torch.tensor([[5.0, 1.0, 3.0, 3.0], [2.0, 8.0, 4.0, 6.0]])
order = torch.argsort(seqs, dim=1, stable=True)
vals = torch.tensor([[3.0, 0.0, 6.0], [4.0, 9.0, 2.0]])
print("searchsorted_sorter_left:", torch.searchsorted(seqs, vals, sorter=order).tolist())
print("searchsorted_sorter_right:", torch.searchsorted(seqs, vals, sorter=order,
                                                       side="right").tolist())
print("searchsorted_scalar:", torch.searchsorted(torch.tensor([1, 3, 5, 7]), 5).item(),
      torch.searchsorted(torch.tensor([1, 3, 5, 7]), 5, right=True).item())
ss32 = torch.searchsorted(torch.tensor([0.0, 1.0]), torch.tensor([0.5]), out_int32=True)
print("searchsorted_int32:", ss32.dtype, ss32.tolist())
bnd = torch.tensor([-1.0, 0.0, 0.0, 2.0])
bq = torch.tensor([[-2.0, -1.0, 0.0], [0.5, 2.0, 3.0]])
print("bucketize_2d:", torch.bucketize(bq, bnd).tolist(), torch.bucketize(bq, bnd, right=True)
      .tolist())

# ---------------------------------------------------------------------------------------------
# (c) histc and bincount

hv = torch.tensor([-3.0, 0.0, 0.5, 0.99, 1.0, 2.5, 3.0, 4.0, 4.0, 7.0])
print("histc_range:", torch.histc(hv, bins=4, min=0.0, max=4.0).tolist())
print("histc_flat:", torch.histc(torch.tensor([2.0, 2.0, 2.0]), bins=3).tolist())
ib = torch.tensor([0, 3, 3, 1, 3, 0])
print("bincount:", torch.bincount(ib).tolist(), torch.bincount(ib, minlength=6).tolist(),
      torch.bincount(ib, minlength=2).tolist())
print("bincount_weights:", r(torch.bincount(ib, weights=torch.tensor([0.5, 1, 2, 3, 4, 5.5]))),
      torch.bincount(ib, weights=torch.tensor([0.5, 1, 2, 3, 4, 5.5])).dtype,
      torch.bincount(ib, weights=torch.tensor([1, 2, 3, 4, 5, 6])).dtype,
      torch.bincount(torch.tensor([], dtype=torch.long), minlength=3).tolist())

# ---------------------------------------------------------------------------------------------
# (d) order statistics

od = torch.tensor([[3.0, 1.0, 4.0, 1.0, 5.0, 9.0], [2.0, 6.0, 5.0, 3.0, 5.0, 8.0],
                   [9.0, 7.0, 8.0, 3.0, 2.0, 4.0]])
# NOTE: which index kthvalue/median/nanmedian return among equal values is unspecified
# (torch's docs: "not necessarily the first occurrence"), so the rows whose indices are
# printed have no tie at the selected rank
kv = torch.kthvalue(od, 2, dim=1)
print("kthvalue_dim1:", kv.values.tolist(), kv.indices.tolist())
kv0 = torch.kthvalue(od, 3, dim=0, keepdim=True)
print("kthvalue_dim0_keep:", kv0.values.tolist(), kv0.indices.tolist())
md = torch.median(od, dim=1)
print("median_dim1:", md.values.tolist(), md.indices.tolist(), torch.median(od).item())
mo = torch.mode(od, dim=1)
print("mode_dim1:", mo.values.tolist(), mo.indices.tolist())
mo0 = torch.mode(torch.tensor([[1, 2, 2], [1, 2, 3], [3, 3, 3]]), dim=0, keepdim=True)
print("mode_dim0:", mo0.values.tolist(), mo0.indices.tolist())
withnan = torch.tensor([[1.0, nan, 3.0, 2.0], [nan, nan, nan, nan], [4.0, 2.0, nan, 8.0]])
nm = torch.nanmedian(withnan, dim=1)
print("nanmedian_dim1:", r(nm.values), nm.indices[[0, 2]].tolist())
print("median_with_nan:", r(torch.median(withnan, dim=1).values),
      torch.median(withnan, dim=1).indices.tolist())
print("nanmedian_all:", torch.nanmedian(withnan).item())
gx = leaf(od.tolist())
print("median_grad:", *grad_of(lambda t: torch.median(t, dim=1).values, gx))
print("kthvalue_grad:", *grad_of(lambda t: torch.kthvalue(t, 2, dim=0).values, gx))
print("median_all_grad:", *grad_of(lambda t: torch.median(t), gx))

qs = torch.tensor([0.0, 0.2, 0.5, 0.75, 1.0])
qd = torch.tensor(rng.standard_normal((2, 7)).astype("float32"))
for interp in ("linear", "lower", "higher", "nearest", "midpoint"):
    print(f"quantile_{interp}:", r(torch.quantile(qd, qs, dim=1, interpolation=interp)))
    print(f"quantile_{interp}_keep:", r(torch.quantile(qd, 0.4, dim=0, keepdim=True,
                                                       interpolation=interp)))
    print(f"nanquantile_{interp}:", r(torch.nanquantile(withnan, qs, dim=1,
                                                        interpolation=interp)))
print("quantile_flat:", r(torch.quantile(qd, 0.35)), r(torch.quantile(withnan, 0.5)))
print("quantile_nearest_ties:", r(torch.quantile(torch.tensor([0.0, 1.0, 2.0, 3.0]),
                                                 torch.tensor([0.5, 1 / 6, 5 / 6]),
                                                 interpolation="nearest")))
qx = leaf(qd.tolist())
print("quantile_grad:", *grad_of(lambda t: torch.quantile(t, torch.tensor([0.3, 0.9]), dim=1),
                                 qx))
nx = leaf(withnan.tolist())
print("nanquantile_grad:", *grad_of(lambda t: torch.nanquantile(t, 0.5, dim=1), nx))

# ---------------------------------------------------------------------------------------------
# (e) nan-aware reductions

print("nansum:", r(torch.nansum(withnan)), r(torch.nansum(withnan, dim=1)),
      r(torch.nansum(withnan, dim=0, keepdim=True)))
print("nanmean:", r(torch.nanmean(withnan)), r(torch.nanmean(withnan, dim=1)),
      r(torch.nanmean(withnan, dim=(0, 1))))
print("nansum_int:", torch.nansum(torch.tensor([1, 2, 3])).item(),
      torch.nansum(torch.tensor([1, 2, 3])).dtype)
print("nansum_grad:", *grad_of(lambda t: torch.nansum(t, dim=1), nx))
print("nanmean_grad:", *grad_of(lambda t: torch.nanmean(t, dim=0), nx))

# ---------------------------------------------------------------------------------------------
# (f) masks, take, gather

base = leaf(M)
mask = torch.tensor([[True, False, True, False, False], [False, False, False, False, False],
                     [True, True, True, True, True]])
print("masked_fill_grad:", *grad_of(lambda t: t.masked_fill(mask, -2.0), base))
print("masked_select:", r(base.masked_select(mask)))
print("masked_select_grad:", *grad_of(lambda t: t.masked_select(mask), base))
print("masked_select_bcast:", r(base.masked_select(torch.tensor([True, False, False, False,
                                                                 True]))))
src = leaf(np.arange(1, 16).reshape(3, 5) / 4)
print("masked_scatter:", r(base.masked_scatter(mask, src)))
print("masked_scatter_grad:", *grad_of(lambda t, s: t.masked_scatter(mask, s), base, src))
tk = torch.tensor([[0, 14, -1], [7, 7, 2]])
print("take:", r(torch.take(base, tk)))
print("take_grad:", *grad_of(lambda t: torch.take(t, tk), base))
tad = torch.tensor([[4, 0], [1, 1], [3, 2]])
print("take_along_dim:", r(torch.take_along_dim(base, tad, dim=1)),
      r(torch.take_along_dim(base, torch.tensor([14, 0, 3]))))
print("take_along_dim_grad:", *grad_of(lambda t: torch.take_along_dim(t, tad, dim=1), base))
am = torch.argmax(base, dim=1, keepdim=True)
print("take_along_argmax:", r(torch.take_along_dim(base, am, dim=1)))
gi = torch.tensor([[0, 0, 2], [1, 4, 1], [3, 3, 3]])
print("gather:", r(torch.gather(base, 1, gi)))
print("gather_grad:", *grad_of(lambda t: torch.gather(t, 1, gi), base))
print("gather_dim0_grad:", *grad_of(lambda t: torch.gather(t, 0, torch.tensor([[2, 0, 0, 1, 2]])),
                                    base))

# ---------------------------------------------------------------------------------------------
# (g) index_put_ / index_add / index_copy / index_fill / index_reduce

acc = torch.zeros(4, 3)
rows, cols_ = torch.tensor([0, 2, 0, 0, 3]), torch.tensor([1, 2, 1, 1, 0])
acc.index_put_((rows, cols_), torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), accumulate=True)
print("index_put_accumulate_repeat:", acc.tolist())
acc.index_put_((torch.tensor([1, 1]),), torch.tensor([[7.0, 8.0, 9.0]]), accumulate=True)
print("index_put_accumulate_rows:", acc.tolist())
ival = leaf([1.0, 2.0, 3.0, 4.0, 5.0])
print("index_put_grad:", *grad_of(lambda t, v: t.index_put((rows, cols_), v, accumulate=True),
                                  leaf(np.zeros((4, 3))), ival))
print("index_put_overwrite_grad:", *grad_of(
    lambda t, v: t.index_put((torch.tensor([0, 3]), torch.tensor([1, 0])), v[:2]),
    leaf(np.ones((4, 3))), ival))
idx = torch.tensor([2, 0, 2])
t0 = leaf(np.arange(12).reshape(4, 3))
sv = leaf(rng.standard_normal((3, 3)))
print("index_add_alpha:", r(torch.index_add(t0, 0, idx, sv, alpha=-2.0)))
print("index_add_grad:", *grad_of(lambda a, b: a.index_add(0, idx, b, alpha=0.5), t0, sv))
cidx = torch.tensor([3, 0, 1])
print("index_copy:", r(t0.index_copy(0, cidx, sv)))
print("index_copy_grad:", *grad_of(lambda a, b: a.index_copy(0, cidx, b), t0, sv))
print("index_fill:", r(t0.index_fill(1, torch.tensor([0, 2]), -1.5)))
print("index_fill_grad:", *grad_of(lambda a: a.index_fill(1, torch.tensor([2, 2]), 0.0), t0))
print("index_fill_tensor_value:", r(t0.index_fill(0, torch.tensor([1]), torch.tensor(9.0))))
red_src = leaf([[2.0, -1.0, 3.0], [4.0, 5.0, -6.0], [0.5, 2.0, 3.0]])
for red in ("prod", "mean", "amax", "amin"):
    for inc in (True, False):
        out = t0.index_reduce(0, idx, red_src, red, include_self=inc)
        print(f"index_reduce_{red}_{inc}:", r(out))
        print(f"index_reduce_{red}_{inc}_grad:", *grad_of(
            lambda a, b: a.index_reduce(0, idx, b, red, include_self=inc), t0, red_src))

# ---------------------------------------------------------------------------------------------
# (h) scatter_reduce with gradients, ties included

dst = leaf([[1.0, 2.0, 3.0, 4.0], [0.0, 5.0, -1.0, 2.0]])
sidx = torch.tensor([[0, 1, 0, 3, 0], [2, 2, 1, 1, 3]])
ssrc = leaf([[3.0, 2.0, 3.0, -1.0, 0.5], [-1.0, 4.0, 5.0, 5.0, 2.0]])
for red in ("sum", "prod", "mean", "amax", "amin"):
    for inc in (True, False):
        out = dst.scatter_reduce(1, sidx, ssrc, red, include_self=inc)
        print(f"scatter_reduce_{red}_{inc}:", r(out))
        print(f"scatter_reduce_{red}_{inc}_grad:", *grad_of(
            lambda a, b: a.scatter_reduce(1, sidx, b, red, include_self=inc), dst, ssrc))
zsrc = leaf([[0.0, 2.0, 3.0, 1.0, 4.0], [1.0, 0.0, 0.0, 2.0, 1.0]])
print("scatter_reduce_prod_zeros_grad:", *grad_of(
    lambda a, b: a.scatter_reduce(1, sidx, b, "prod"), dst, zsrc))
print("scatter_add_grad:", *grad_of(lambda a, b: a.scatter_add(1, sidx, b), dst, ssrc))
print("scatter_grad:", *grad_of(lambda a, b: a.scatter(1, torch.tensor([[3, 1], [0, 2]]),
                                                       b[:, :2]), dst, ssrc))
print("device_ok:", base.device == torch.empty(1, device=DEVICE).device)
