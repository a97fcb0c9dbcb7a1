"""Tensor API breadth in the style of a data-science script: group-by with torch.unique
(sorted, return_inverse, return_counts, dim=0, unique_consecutive), stable sorts and argsort,
searchsorted/bucketize with right= and side=, histc and histogram, cumulative ops (cumsum with
dtype, cumprod, cummax/cummin, logcumsumexp), masked ops (masked_select, masked_scatter_,
masked_fill with broadcasting), scatter_reduce with every reduction and include_self both ways,
index_put_ with accumulate and index_add_/index_reduce_, torch.where with Python scalars, type
promotion of in-place and out-of-place ops, integer division and remainder semantics
(div rounding modes, floor_divide, fmod, remainder on negatives), dtype conversions (float to
int truncation, bool, uint8 wrap-around), and str(tensor) of many dtypes and shapes, compared
exactly, with torch.set_printoptions (precision, sci_mode, threshold/edgeitems, linewidth)."""
import torch

torch.set_printoptions(profile="default")


def show(name, t):
    """Print str(tensor) one line at a time, so every line is compared exactly (of the tensor
    on the cpu, so that the text does not name the device)."""
    for i, line in enumerate(str(t.cpu()).splitlines()):
        print(f"{name}_{i}: {line!r}")


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


# ---------------------------------------------------------------------------------------------
# (a) group-by with unique

store = torch.tensor([3, 1, 2, 3, 3, 1, 0, 2, 2, 2])
sales = torch.tensor([10.0, 4.0, 7.5, 2.0, 1.0, 6.0, 3.0, 2.5, 1.5, 8.0])
keys, inverse, counts = torch.unique(store, return_inverse=True, return_counts=True)
print("unique:", keys.tolist(), inverse.tolist(), counts.tolist())
totals = torch.zeros(len(keys)).index_add_(0, inverse, sales)
print("group_sum:", r(totals))
print("group_mean:", r(totals / counts))
gmax = torch.full((len(keys),), float("-inf")).scatter_reduce(0, inverse, sales, "amax")
print("group_max:", r(gmax))
print("unique_unsorted_set:", sorted(torch.unique(store, sorted=False).tolist()))
rows = torch.tensor([[1, 2], [0, 5], [1, 2], [0, 5], [2, 2]])
urows, rinv, rcnt = torch.unique(rows, dim=0, return_inverse=True, return_counts=True)
print("unique_dim0:", urows.tolist(), rinv.tolist(), rcnt.tolist())
cons, cinv, ccnt = torch.unique_consecutive(torch.tensor([1, 1, 2, 2, 2, 1, 3, 3]),
                                            return_inverse=True, return_counts=True)
print("unique_consecutive:", cons.tolist(), cinv.tolist(), ccnt.tolist())
print("bincount_weights:", r(torch.bincount(store, weights=sales, minlength=5)))
print("mode:", torch.mode(store).values.item(), torch.mode(store).indices.item())

# ---------------------------------------------------------------------------------------------
# (b) sorting and searching

vals = torch.tensor([2.0, 1.0, 2.0, 0.5, 1.0, 2.0, 0.5])
s = torch.sort(vals, stable=True)
print("sort_stable:", s.values.tolist(), s.indices.tolist())
sd = torch.sort(vals, descending=True, stable=True)
print("sort_desc_stable:", sd.values.tolist(), sd.indices.tolist())
print("argsort_stable:", torch.argsort(vals, stable=True).tolist())
mat = torch.tensor([[3, 1, 2], [1, 1, 0]])
s0 = torch.sort(mat, dim=0)
print("sort_dim0:", s0.values.tolist(), s0.indices.tolist())
print("msort:", torch.msort(mat).tolist())
edges = torch.tensor([0.0, 1.0, 2.0, 5.0])
q = torch.tensor([-1.0, 0.0, 1.0, 1.5, 5.0, 7.0])
print("searchsorted:", torch.searchsorted(edges, q).tolist(),
      torch.searchsorted(edges, q, right=True).tolist(),
      torch.searchsorted(edges, q, side="right").tolist())
print("searchsorted_2d:", torch.searchsorted(torch.tensor([[0, 2, 4], [1, 3, 5]]),
                                             torch.tensor([[3], [3]])).tolist())
print("searchsorted_sorter:", torch.searchsorted(torch.tensor([5.0, 1.0, 3.0]), torch.tensor(
    [2.0, 4.0]), sorter=torch.tensor([1, 2, 0])).tolist())
print("bucketize:", torch.bucketize(q, edges).tolist(), torch.bucketize(q, edges, right=True)
      .tolist(), torch.bucketize(q, edges, out_int32=True).dtype)
print("histc:", torch.histc(sales, bins=4, min=0, max=10).tolist())
print("histc_auto:", torch.histc(sales, bins=3).tolist())
hist, hedges = torch.histogram(sales, bins=3)
print("histogram:", hist.tolist(), r(hedges))
hist2, _ = torch.histogram(sales, bins=torch.tensor([0.0, 2.0, 5.0, 10.0]), density=True)
print("histogram_density:", r(hist2))
print("kthvalue:", torch.kthvalue(vals, 3).values.item(), torch.kthvalue(vals, 3).indices.item())
print("topk_ties:", torch.topk(torch.tensor([1.0, 3.0, 3.0, 2.0]), 2).values.tolist())
print("quantile:", r(torch.quantile(sales, torch.tensor([0.1, 0.5, 0.9]))),
      r(torch.quantile(sales, 0.3, interpolation="nearest")),
      r(torch.quantile(sales, 0.3, interpolation="midpoint")))
print("nanmedian:", torch.nanmedian(torch.tensor([1.0, float("nan"), 3.0, 2.0])).item(),
      torch.median(torch.tensor([4.0, 1.0, 3.0, 2.0])).item())

# ---------------------------------------------------------------------------------------------
# (c) cumulative and masked ops

ints = torch.tensor([[1, 2, 3], [4, 5, 6]], dtype=torch.int32)
print("cumsum_int:", ints.cumsum(1).dtype, ints.cumsum(0).tolist())
print("cumsum_dtype:", ints.cumsum(1, dtype=torch.float64).dtype)
print("cumprod:", ints.cumprod(1).tolist())
seq = torch.tensor([1.0, 3.0, 2.0, 3.0, 0.0, 5.0])
print("cummax:", seq.cummax(0).values.tolist(), seq.cummax(0).indices.tolist())
print("cummin:", seq.cummin(0).values.tolist(), seq.cummin(0).indices.tolist())
print("logcumsumexp:", r(seq.logcumsumexp(0)))
print("diff:", seq.diff().tolist(), seq.diff(n=2).tolist(),
      seq.diff(prepend=torch.tensor([0.0])).tolist())
m = seq > 1.5
print("masked_select:", seq.masked_select(m).tolist())
tgt = torch.zeros(6)
print("masked_scatter:", tgt.masked_scatter_(m, torch.tensor([9.0, 8.0, 7.0, 6.0, 5.0])).tolist())
grid = torch.arange(6.0).reshape(2, 3)
print("masked_fill_bcast:", grid.masked_fill(torch.tensor([True, False, True]), -1).tolist())
print("where_scalars:", torch.where(grid > 2, grid, 0.0).tolist(),
      torch.where(grid > 2, 1, 0).dtype, torch.where(grid > 2, 1.5, 0).dtype)
print("where_int_tensor_scalar:", torch.where(ints > 2, ints, 0.5).dtype)
print("nonzero:", torch.nonzero(grid > 2).tolist(), [t.tolist() for t in torch.nonzero(
    grid > 2, as_tuple=True)])
print("count_nonzero:", torch.count_nonzero(grid, dim=0).tolist())
print("argwhere:", torch.argwhere(grid.fmod(2) == 0).tolist())

# ---------------------------------------------------------------------------------------------
# (d) scatter_reduce / index_put_ / index_reduce_

src = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
idx = torch.tensor([0, 1, 0, 1, 2, 1])
base = torch.tensor([10.0, 20.0, 30.0, 40.0])
for red in ("sum", "prod", "mean", "amax", "amin"):
    a = base.scatter_reduce(0, idx, src, reduce=red)
    b = base.scatter_reduce(0, idx, src, reduce=red, include_self=False)
    print(f"scatter_reduce_{red}:", r(a), r(b))
ib = torch.tensor([7, 8, 9, 10])
print("scatter_reduce_int_mean:", ib.scatter_reduce(0, torch.tensor([0, 0, 1]),
                                                    torch.tensor([1, 2, 4]), "mean").tolist())
print("scatter_add_2d:", torch.zeros(2, 3).scatter_add_(1, torch.tensor([[0, 0, 2], [1, 1, 1]]),
                                                        torch.ones(2, 3)).tolist())
print("scatter_value_reduce:", torch.ones(4).scatter_(0, torch.tensor([1, 1, 3]), 2.0,
                                                      reduce="multiply").tolist())
acc = torch.zeros(3, 3)
acc.index_put_((torch.tensor([0, 0, 2]), torch.tensor([1, 1, 2])), torch.tensor([1.0, 2.0, 5.0]),
               accumulate=True)
print("index_put_accumulate:", acc.tolist())
acc.index_put_((torch.tensor([1]),), torch.tensor(3.0))
print("index_put_row:", acc.tolist())
acc[torch.tensor([True, False, True])] += 1
print("bool_index_iadd:", acc.tolist())
ir = torch.ones(3, 2)
ir.index_reduce_(0, torch.tensor([0, 2, 0]), torch.tensor([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]),
                 "prod")
print("index_reduce_prod:", ir.tolist())
ir2 = torch.full((3,), 5.0).index_reduce_(0, torch.tensor([0, 0, 1]), torch.tensor(
    [1.0, 9.0, 3.0]), "amax", include_self=False)
print("index_reduce_amax:", ir2.tolist())
print("take_along_dim:", torch.take_along_dim(grid, torch.tensor([[2], [0]]), dim=1).tolist())
print("index_select_neg:", grid.index_select(1, torch.tensor([2, 0])).tolist())

# ---------------------------------------------------------------------------------------------
# (e) promotion, integer arithmetic, conversions

i = torch.tensor([7, -7, 5, -5])
j = torch.tensor([2, 2, -3, -3])
print("true_div:", (i / j).dtype, r(i / j))
print("floor_div:", (i // j).tolist(), torch.floor_divide(i, j).tolist())
print("div_modes:", torch.div(i, j, rounding_mode="trunc").tolist(),
      torch.div(i, j, rounding_mode="floor").tolist())
print("remainder:", (i % j).tolist(), torch.fmod(i, j).tolist(), torch.remainder(i, 3).tolist())
print("float_mod:", r(torch.tensor([-3.5, 3.5]) % 2), r(torch.fmod(torch.tensor([-3.5, 3.5]), 2)))
print("int_pow:", (i ** 2).tolist(), (j ** 2).dtype, torch.pow(2, torch.tensor([0, 3])).tolist())
x = torch.tensor([1, 2, 3])
x += 2
x *= 3
print("inplace_int:", x.tolist(), x.dtype)
try:
    x += 0.5
    print("inplace_float_into_int: no error")
except RuntimeError as e:
    print("inplace_float_into_int:", "can't be cast" in str(e))
# float16 tensors live on the cpu: not every accelerator has the dtype
f = torch.tensor([1.5, 2.5], dtype=torch.float16, device="cpu")
f += torch.tensor([1.0, 1.0], dtype=torch.float64, device="cpu")
print("inplace_keeps_dtype:", f.dtype, f.tolist())
i8, u8 = torch.tensor([1], dtype=torch.int8), torch.tensor([1], dtype=torch.uint8)
print("promote:", (i8 + u8).dtype,
      (torch.tensor([1], dtype=torch.int32) + 2.5).dtype,
      (torch.tensor([1.0], dtype=torch.float16, device="cpu")
       + torch.tensor(1.0, dtype=torch.float64, device="cpu")).dtype,
      (torch.tensor([True]) + torch.tensor([True])).dtype,
      (torch.tensor([1]) * True).dtype,
      torch.result_type(torch.tensor([1], dtype=torch.int16), 1.0))
print("promote_types:", torch.promote_types(torch.uint8, torch.int8),
      torch.promote_types(torch.bfloat16, torch.float16),
      torch.can_cast(torch.float32, torch.int32), torch.can_cast(torch.int32, torch.float32))
fl = torch.tensor([-2.7, -0.5, 0.5, 2.7, 300.0])
print("float_to_int:", fl.to(torch.int64).tolist(), fl.long().tolist(), fl.int().dtype)
print("to_bool:", torch.tensor([0.0, -0.0, 0.1, float("nan")]).bool().tolist())
print("to_uint8:", torch.tensor([0, 255, 256, 300]).to(torch.uint8).tolist())
print("uint8_arith:", (torch.tensor([250], dtype=torch.uint8) + 10).tolist())
print("round_half_even:", torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5])).tolist(),
      torch.round(torch.tensor([1.2345, 2.5678]), decimals=2).tolist())
print("type_str:", torch.tensor([1.0]).type(), torch.tensor([1]).type(),
      torch.tensor([1.0]).double().type())
print("item_types:", type(torch.tensor(3).item()).__name__,
      type(torch.tensor(3.0).item()).__name__, type(torch.tensor(True).item()).__name__)
print("is_floating:", torch.tensor([1]).is_floating_point(), torch.is_floating_point(fl),
      torch.tensor([1]).dtype.is_signed, torch.uint8.is_signed, torch.float16.itemsize)
print("iinfo:", torch.iinfo(torch.int16).max, torch.iinfo(torch.uint8).min,
      torch.finfo(torch.float16).eps, torch.finfo(torch.float32).tiny, torch.finfo().bits)

# ---------------------------------------------------------------------------------------------
# (f) printing

show("p_int", torch.tensor([[1, -20, 300], [4, 5, 6]]))
show("p_float", torch.tensor([[1.0, 2.5], [-3.25, 100.0]]))
show("p_whole_floats", torch.tensor([1.0, 2.0, 3.0]))
show("p_small", torch.tensor([1e-5, 2.0, 3.5]))
show("p_large", torch.tensor([1e6, 2.0, 3.5]))
show("p_bool", torch.tensor([[True, False], [False, True]]))
show("p_f64", torch.tensor([1.0, 2.123456789], dtype=torch.float64))
show("p_f16", torch.tensor([1.0, 2.5], dtype=torch.float16, device="cpu"))
show("p_i8", torch.tensor([1, 2], dtype=torch.int8))
show("p_u8", torch.tensor([1, 2], dtype=torch.uint8))
show("p_nan_inf", torch.tensor([float("nan"), float("inf"), -float("inf"), 1.5]))
show("p_scalar", torch.tensor(3.14159))
show("p_scalar_int", torch.tensor(7))
show("p_empty", torch.zeros(0))
show("p_empty_2d", torch.zeros(2, 0))
show("p_3d", torch.arange(12).reshape(2, 2, 3))
show("p_grad", torch.tensor([1.0, 2.0], device="cpu", requires_grad=True))
show("p_grad_fn", torch.tensor([1.0, 2.0], device="cpu", requires_grad=True) * 2)
show("p_long_row", torch.arange(1200))
show("p_long_float", torch.linspace(0, 1, 1001))
show("p_neg_zero", torch.tensor([-0.0, 0.0, 1.0]))
show("p_mixed_mag", torch.tensor([0.001, 1000.0, 12.5]))
print("repr_equals_str:", repr(torch.tensor([1, 2])) == str(torch.tensor([1, 2])))

torch.set_printoptions(precision=2)
show("po_precision", torch.tensor([1.23456, 2.5, -0.001]))
torch.set_printoptions(sci_mode=True)
show("po_sci", torch.tensor([1.5, 250.0]))
torch.set_printoptions(sci_mode=False, precision=4)
show("po_no_sci", torch.tensor([1e-6, 2.0, 1e5]))
torch.set_printoptions(threshold=5, edgeitems=2)
show("po_threshold", torch.arange(10.0))
show("po_threshold_2d", torch.arange(36).reshape(6, 6))
torch.set_printoptions(linewidth=30)
show("po_linewidth", torch.arange(20.0) / 3)
torch.set_printoptions(profile="default")
show("po_reset", torch.tensor([1.23456789, 2.0]))
torch.set_printoptions(profile="short")
show("po_short", torch.tensor([1.23456789, 2.0]))
torch.set_printoptions(profile="default")
print("fstring_item:", f"{torch.tensor(2.5).item():.3f}", f"{torch.tensor(2.5):.2f}")

# ---------------------------------------------------------------------------------------------
# (g) more printing: wide floats, float64 precision, big ints, summarised 3-D, row vectors

show("q_f64_big", torch.tensor([123456789.0, 1.5], dtype=torch.float64))
show("q_int_sci", torch.tensor([1.0, 1e9]))
show("q_ints_neg", torch.tensor([-1000000, 2, 3]))
show("q_col", torch.arange(4.0).reshape(4, 1) / 8)
show("q_3d_summarised", torch.arange(2 * 500 * 3).reshape(2, 500, 3))
show("q_wrap_2d", torch.arange(40.0).reshape(2, 20) * 1.5)
show("q_all_zero", torch.zeros(3))
show("q_only_nan", torch.tensor([float("nan")]))
show("q_bool_scalar", torch.tensor(False))
show("q_half_scalar", torch.tensor(0.1, dtype=torch.float16, device="cpu"))
show("q_neg_scalar", torch.tensor(-2.0))
show("q_tiny", torch.tensor([1e-10, 1e-12]))
show("q_view", torch.arange(12.0).reshape(3, 4)[:, 1::2].t())
print("q_repr_list:", repr([torch.tensor(1).cpu(), torch.tensor([2.5]).cpu()]))
print("q_format_spec:", "{:.3f}".format(torch.tensor(1.23456)), "%.2f" % torch.tensor(2.5))
