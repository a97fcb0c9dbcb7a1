"""Numerically delicate everyday ops: stable softmax/logsumexp with -inf and huge values,
torch.special functions, nan_to_num/clamp/where corner cases, float16/bfloat16 rounding,
integer and float division sign rules, bit shifts, finfo/iinfo, scans (cumsum ... logcumsumexp),
diff/gradient/trapezoid, isclose/allclose, std/var with correction, median/mode, histograms, and
the gradients of those that have them."""
import math

import numpy as np
import torch
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def grad_of(fn, x):
    x = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(x), x)
    return g


rng = np.random.default_rng(40)
inf, nan = math.inf, math.nan

# stable softmax family
z = torch.tensor([[-inf, 0.0, 1.0, 2.0], [1000.0, 1000.0, -1000.0, 999.0],
                  [-inf, -inf, 3.0, -inf]])
print("logsumexp:", r(torch.logsumexp(z, dim=1)), r(torch.logsumexp(z, dim=0)))
print("logsumexp_all_neginf:", r(torch.logsumexp(torch.full((3,), -inf), 0)))
print("softmax:", r(F.softmax(z, dim=1)))
print("log_softmax:", r(F.log_softmax(z, dim=1)))
print("softmax_dim0:", r(torch.softmax(z[:, 1:], dim=0)))
print("log_softmax_f64:", r(F.log_softmax(z.double() * 1e3, dim=1)))
g = grad_of(lambda t: (torch.logsumexp(t, 1) * torch.tensor([1.0, 2.0, 3.0])).sum(), z)
print("logsumexp_grad:", r(g))
w = torch.tensor([[0.5, -1.0, 2.0, 0.25]] * 3)
g = grad_of(lambda t: (F.log_softmax(t, 1) * w).sum(), z)
print("log_softmax_grad:", r(g))
g = grad_of(lambda t: (F.softmax(t, 1) * w).sum(), z)
print("softmax_grad:", r(g))
print("softmax_temperature:", r(F.softmax(torch.tensor([1.0, 2.0, 3.0]) / 0.01, 0)))

# torch.special
p = torch.tensor([0.0, 1e-8, 0.25, 0.5, 0.999, 1.0], dtype=torch.float64)
print("expit:", r(torch.special.expit(torch.tensor([-100.0, -2.0, 0.0, 3.0, 100.0]))))
print("logit:", r(torch.special.logit(p)), r(torch.special.logit(p, eps=1e-6)))
print("logit_f32:", r(torch.logit(p.float(), eps=0.01)))
print("xlog1py:", r(torch.special.xlog1py(torch.tensor([0.0, 2.0, 3.0, 0.0]),
                                          torch.tensor([-1.0, 0.5, -0.5, nan]))))
print("xlogy:", r(torch.special.xlogy(torch.tensor([0.0, 0.0, 2.0]),
                                      torch.tensor([0.0, nan, 4.0]))))
ent = torch.tensor([-1.0, 0.0, 0.5, 1.0, 2.0, inf])
print("entr:", r(torch.special.entr(ent)))
xs = torch.tensor([-3.0, -0.5, 0.0, 0.5, 2.0, 10.0, 30.0], dtype=torch.float64)
print("erfcx:", r(torch.special.erfcx(xs)))
print("erfcx_f32:", r(torch.special.erfcx(xs.float())))
print("log_ndtr:", r(torch.special.log_ndtr(torch.tensor([-40.0, -5.0, 0.0, 3.0, 10.0]))))
print("ndtri:", r(torch.special.ndtri(torch.tensor([0.0, 0.025, 0.5, 0.975, 1.0, 1.5]))))
bes = torch.tensor([-3.0, -0.5, 0.0, 0.5, 2.0, 15.0])
print("i0:", r(torch.special.i0(bes)), r(torch.i0(bes)))
print("i0e:", r(torch.special.i0e(bes)))
print("i1:", r(torch.special.i1(bes)))
print("i1e:", r(torch.special.i1e(bes)))
gm = torch.tensor([0.5, 1.0, 2.5, 10.0, 1e-3, -1.5])
print("gammaln:", r(torch.special.gammaln(gm)), r(torch.lgamma(torch.tensor([0.0, -1.0]))))
print("digamma:", r(torch.special.digamma(gm)), r(torch.digamma(torch.tensor([0.0, -2.0]))))
print("polygamma:", r(torch.special.polygamma(1, gm[:4])), r(torch.polygamma(2, gm[:4])),
      r(torch.special.polygamma(3, torch.tensor([1.5, 4.0]))))
print("multigammaln:", r(torch.special.multigammaln(torch.tensor([2.0, 3.5, 7.25]), 3)),
      r(torch.mvlgamma(torch.tensor([1.5]), 2)))
print("sinc:", r(torch.special.sinc(torch.tensor([0.0, 0.5, 1.0, -2.5, 1e-9]))))
rd = torch.tensor([1.2345, -2.5, 0.5, 1.5, 2.675, -0.125, 1234.5678])
print("round:", r(torch.round(rd)), r(torch.round(rd, decimals=2)),
      r(torch.special.round(rd, decimals=-2)))
print("round_f64:", r(torch.round(rd.double() * 10, decimals=1)))
gx = torch.tensor([0.3, 0.7, 2.0, 5.5], dtype=torch.float64)
print("special_grads:", r(grad_of(lambda t: torch.special.gammaln(t).sum(), gx)),
      r(grad_of(lambda t: torch.special.digamma(t).sum(), gx)),
      r(grad_of(lambda t: torch.special.erfcx(t).sum(), gx)),
      r(grad_of(lambda t: torch.special.log_ndtr(-t * 4).sum(), gx)),
      r(grad_of(lambda t: torch.special.i0(t).sum(), gx)),
      r(grad_of(lambda t: torch.special.i1e(t).sum(), gx)))
print("special_grads2:", r(grad_of(lambda t: torch.special.logit(t / 6, eps=0.1).sum(), gx)),
      r(grad_of(lambda t: torch.special.xlog1py(t, t - 0.5).sum(), gx)),
      r(grad_of(lambda t: torch.special.entr(t / 6).sum(), gx)),
      r(grad_of(lambda t: torch.special.ndtri(t / 6).sum(), gx)),
      r(grad_of(lambda t: torch.special.sinc(t).sum(), gx)),
      r(grad_of(lambda t: torch.special.polygamma(1, t).sum(), gx)),
      r(grad_of(lambda t: torch.special.multigammaln(t + 2, 2).sum(), gx)))

# nan_to_num, clamp, where
bad = torch.tensor([nan, inf, -inf, 1.5, -0.0])
print("nan_to_num:", r(torch.nan_to_num(bad)), r(torch.nan_to_num(bad, nan=0.5, posinf=9.0,
                                                                     neginf=-9.0)))
print("nan_to_num_f64:", r(torch.nan_to_num(bad.double(), posinf=1e300)),
      r(bad.nan_to_num(neginf=-1.0)))
print("nan_to_num_half:", r(torch.nan_to_num(bad.cpu().half()).float()))
lo = torch.tensor([0.0, -1.0, 2.0, nan, 0.0])
hi = torch.tensor([1.0, 0.5, 1.0, 3.0, nan])
cx = torch.tensor([nan, -3.0, 1.5, 2.0, 1.0])
print("clamp_tensor:", r(torch.clamp(cx, lo, hi)), r(cx.clamp(min=lo)), r(cx.clamp(max=hi)))
print("clamp_scalar_nan:", r(torch.clamp(bad, -1.0, 1.0)), r(torch.clamp(bad, min=0.0)))
print("clamp_int:", r(torch.clamp(torch.tensor([-5, 3, 10]), -2, 4)),
      torch.clamp(torch.tensor([-5, 3, 10]), -2, 4).dtype,
      torch.clamp(torch.tensor([-5, 3, 10]), min=0.5).dtype)
g = grad_of(lambda t: torch.clamp(t, lo.nan_to_num(-1.0), hi.nan_to_num(2.0)).sum(),
            torch.tensor([0.0, -3.0, 1.5, 2.0, 2.0]))
print("clamp_grad_boundary:", r(g))
g = grad_of(lambda t: t.clamp(0.0, 1.0).sum(), torch.tensor([0.0, 0.5, 1.0, 1.5, -0.5]))
print("clamp_grad_scalar:", r(g))
cond = torch.tensor([[True, False, True], [False, False, True]])
print("where_scalar:", r(torch.where(cond, 1.5, -2.0)), torch.where(cond, 1, 0).dtype,
      torch.where(cond, 1.0, 0).dtype, torch.where(cond, torch.tensor([1, 2, 3]), 0.5).dtype)
print("where_broadcast:", r(torch.where(cond, torch.tensor([1.0, 2.0, 3.0]),
                                        torch.tensor([[10.0], [20.0]]))))
print("where_nonzero:", r(torch.where(torch.tensor([0.0, 1.0, 0.0, 2.0]))))
g = grad_of(lambda t: torch.where(t > 0, t.sqrt(), torch.zeros(())).sum(),
            torch.tensor([4.0, 0.25, 0.0]))
print("where_grad:", r(g))

# float16 / bfloat16 rounding (computed on the cpu)
h = torch.tensor([1.0, 0.1, 1e-4, 65504.0, 7e-8, 2049.0, 3.14159]).cpu()
print("half_round:", r(h.half().float()), r(h.bfloat16().float()))
print("half_overflow:", r((h.half() * 2).float()), r((h.bfloat16() * 1e38).float()))
print("half_arith:", r((h.half() + h.half()[1]).float()), r((h.bfloat16() / 3).float()))
print("half_sum:", r(torch.full((300,), 0.1).cpu().half().sum().float()),
      r(torch.arange(1000).cpu().bfloat16()[-3:].float()))
print("half_mixed:", (h.half() + 1.0).dtype, (h.half() + h).dtype,
      (h.bfloat16() * h.half()).dtype, (torch.tensor([1, 2]).cpu() * h.half()[:2]).dtype)
print("half_eps:", torch.finfo(torch.float16).eps, torch.finfo(torch.bfloat16).eps,
      torch.finfo(torch.float16).max, torch.finfo(torch.bfloat16).tiny)

# integer division and remainder sign rules
a = torch.tensor([7, -7, 7, -7, 0, 5])
b = torch.tensor([2, 2, -2, -2, 3, -5])
print("floor_divide:", r(torch.floor_divide(a, b)), r(a // b), r(torch.div(a, b, rounding_mode=
                                                                            "floor")))
print("trunc_divide:", r(torch.div(a, b, rounding_mode="trunc")), r(torch.div(a, b)))
print("remainder:", r(torch.remainder(a, b)), r(a % b), r(torch.fmod(a, b)))
print("remainder_scalar:", r(a % 3), r(a % -3), r(torch.fmod(a, -3)), r(-7 % b))
af, bf = a.double() + 0.5, b.double()
print("float_div:", r(af // bf), r(torch.remainder(af, bf)), r(torch.fmod(af, bf)),
      r(torch.div(af, bf, rounding_mode="trunc")))
print("float_special_div:", r(torch.tensor([1.0, -1.0, 0.0]) / 0.0),
      r(torch.remainder(torch.tensor([5.0, -5.0]), torch.tensor([inf, inf]))),
      r(torch.fmod(torch.tensor([5.0, -0.0]), torch.tensor([0.0, 2.0]))))
g = grad_of(lambda t: (torch.remainder(t, 1.5) + torch.fmod(t, 1.5) * 2).sum(),
            torch.tensor([-2.0, 0.7, 3.2]))
print("remainder_grad:", r(g))
print("int_pow_div:", r(torch.tensor([2, -3]) ** 2), r(torch.tensor([7, 8]) / 2),
      (torch.tensor([7, 8]) / 2).dtype, r(torch.true_divide(torch.tensor([1]), 3)))

# bit shifts and bitwise ops
ints = torch.tensor([1, -8, 255, 1024, -1], dtype=torch.int32)
print("shifts:", r(ints << 2), r(ints >> 1), r(torch.bitwise_left_shift(ints, 3)),
      r(torch.bitwise_right_shift(ints, torch.tensor([0, 1, 2, 3, 4], dtype=torch.int32))))
u8 = torch.tensor([1, 128, 255], dtype=torch.uint8)
print("shifts_uint8:", r(u8 << 1), r(u8 >> 3), (u8 << 1).dtype)
print("bitwise:", r(ints & 6), r(ints | 3), r(ints ^ -1), r(~ints),
      r(torch.bitwise_and(torch.tensor([True, False]), torch.tensor([True, True]))))

# finfo / iinfo
for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
    fi = torch.finfo(dt)
    print(f"finfo_{str(dt).split('.')[-1]}:", fi.bits, fi.eps, fi.max, fi.min, fi.tiny,
          fi.resolution, fi.smallest_normal)
for dt in (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64):
    ii = torch.iinfo(dt)
    print(f"iinfo_{str(dt).split('.')[-1]}:", ii.bits, ii.min, ii.max)
print("finfo_default:", torch.finfo().eps, torch.finfo(torch.get_default_dtype()).bits)

# scans
sv = torch.tensor([[1.0, -2.0, 3.0, 0.5, -1.0], [2.0, 0.0, -1.0, 4.0, 1.5]])
print("cumsum:", r(torch.cumsum(sv, 1)), r(sv.cumsum(0)), sv.int().cumsum(1).dtype)
print("cumprod:", r(torch.cumprod(sv, 1)), r(torch.cumprod(sv, 0, dtype=torch.float64)))
cm = torch.cummax(sv, 1)
cn = torch.cummin(torch.tensor([3.0, 1.0, 1.0, 2.0, 0.5, 0.5]), 0)
print("cummax:", r(cm.values), r(cm.indices))
print("cummin:", r(cn.values), r(cn.indices))
print("cummax_nan:", r(torch.cummax(torch.tensor([1.0, nan, 2.0, 3.0]), 0).values),
      r(torch.cummax(torch.tensor([1.0, nan, 2.0]), 0).indices))
print("logcumsumexp:", r(torch.logcumsumexp(torch.tensor([-inf, 0.0, 1000.0, 1.0]), 0)),
      r(torch.logcumsumexp(sv, 1)))
g = grad_of(lambda t: (torch.cumprod(t, 1) * torch.arange(5.0)).sum(), sv)
print("cumprod_grad_zero:", r(g))
g = grad_of(lambda t: (torch.cumsum(t, 1) ** 2).sum(), sv)
print("cumsum_grad:", r(g))
g = grad_of(lambda t: torch.cummax(t, 1).values.sum() + torch.cummin(t, 1).values.sum(), sv)
print("cummax_grad:", r(g))
g = grad_of(lambda t: (torch.logcumsumexp(t, 1) * torch.arange(5.0)).sum(), sv)
print("logcumsumexp_grad:", r(g))

# diff, gradient, trapezoid
dv = torch.tensor([1.0, 4.0, 9.0, 16.0, 25.0, 36.0])
print("diff:", r(torch.diff(dv)), r(torch.diff(dv, n=2)),
      r(torch.diff(dv, prepend=torch.tensor([0.0]), append=torch.tensor([50.0, 70.0]))),
      r(torch.diff(sv, dim=0)), r(torch.diff(torch.tensor([True, False, False, True]))))
print("gradient:", r(torch.gradient(dv)), r(torch.gradient(dv, spacing=0.5, edge_order=2)))
coords = torch.tensor([0.0, 1.0, 1.5, 3.0, 4.0, 6.0])
print("gradient_coords:", r(torch.gradient(dv, spacing=(coords,))),
      r(torch.gradient(sv, dim=1)), r(torch.gradient(sv)))
print("trapezoid:", r(torch.trapezoid(dv)), r(torch.trapezoid(dv, dx=0.5)),
      r(torch.trapezoid(dv, coords)), r(torch.trapz(sv, dim=1)))
print("cumulative_trapezoid:", r(torch.cumulative_trapezoid(dv, coords)),
      r(torch.cumulative_trapezoid(sv, dx=2.0, dim=1)))
g = grad_of(lambda t: torch.trapezoid(t ** 2, coords), dv)
print("trapezoid_grad:", r(g))
g = grad_of(lambda t: (torch.diff(t, n=2) ** 2).sum(), dv)
print("diff_grad:", r(g))

# isclose / allclose
ca = torch.tensor([1.0, 1.0001, nan, inf, -inf, 0.0, 1e-9])
cb = torch.tensor([1.0, 1.0, nan, inf, inf, 1e-9, 0.0])
print("isclose:", r(torch.isclose(ca, cb)), r(torch.isclose(ca, cb, equal_nan=True)),
      r(torch.isclose(ca, cb, rtol=1e-3, atol=0.0)), r(torch.isclose(ca, cb, rtol=0, atol=1e-8)))
print("allclose:", torch.allclose(ca[:2], cb[:2]), torch.allclose(ca[:2], cb[:2], rtol=1e-3),
      torch.allclose(ca[:4], cb[:4], rtol=1e-3, equal_nan=True), torch.allclose(ca, ca))
print("isclose_int:", r(torch.isclose(torch.tensor([1, 2, 3]), torch.tensor([1, 3, 3]))),
      torch.equal(torch.tensor([1.0, nan]), torch.tensor([1.0, nan])))

# std / var with correction, median, mode
sd = torch.tensor(rng.standard_normal((3, 5)).astype("float32"))
print("std_var:", r(torch.std(sd)), r(torch.var(sd, dim=1)), r(torch.std(sd, dim=0, correction=0)),
      r(torch.var(sd, 1, correction=2, keepdim=True)), r(sd.std(unbiased=False)))
print("std_mean:", r(torch.std_mean(sd, dim=1)), r(torch.var_mean(sd, 0, correction=0)))
print("var_single:", r(torch.var(torch.tensor([3.0]))), r(torch.std(torch.tensor([3.0]),
                                                                    correction=0)))
g = grad_of(lambda t: torch.std(t, dim=1, correction=0).sum() + torch.var(t), sd)
print("std_var_grad:", r(g[0]))
# (values and indices are unique at each median: which of tied indices comes back is not
# specified by torch)
md = torch.tensor([[3.0, 1.0, 2.0, 2.5], [nan, 5.0, 1.0, 4.0], [7.0, 6.0, 1.0, 0.5]])
print("median:", r(torch.median(md[0])), r(torch.median(md, 1).values),
      r(torch.median(md, 1).indices), r(torch.median(torch.tensor([4.0, 1.0, 3.0, 2.0]))))
print("nanmedian:", r(torch.nanmedian(md)), r(torch.nanmedian(md, 1).values),
      r(torch.nanmedian(md, 1).indices), r(torch.nanmedian(torch.tensor([nan, nan]))))
mo = torch.mode(torch.tensor([[1, 2, 2, 3, 0], [5, 4, 1, 5, 1], [6, 6, 6, 2, 9]]), 1)
print("mode:", r(mo.values), r(torch.mode(torch.tensor([2.0, 1.0, 1.0, 0.5])).values))
g = grad_of(lambda t: torch.median(t, 1).values.sum(), md[[0, 2]])
# the full reduction spreads the gradient evenly over the elements equal to the median
g2 = grad_of(lambda t: torch.median(t) * 3, torch.tensor([2.0, 1.0, 2.0, 3.0, 2.0]))
print("median_grad:", r(g), r(g2))
g = grad_of(lambda t: torch.nanmedian(t, 1).values.sum(), md)
print("nanmedian_grad:", r(g))

# histograms
hv = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.0, -1.0, 7.5])
print("histc:", r(torch.histc(hv, bins=4)), r(torch.histc(hv, bins=3, min=0, max=3)),
      r(torch.histc(torch.tensor([2.0, 2.0]), bins=2)))
hist = torch.histogram(hv, bins=4)
print("histogram:", r(hist.hist), r(hist.bin_edges))
hist = torch.histogram(hv, bins=torch.tensor([0.0, 1.0, 2.5, 4.0]),
                       weight=torch.linspace(0.1, 1.0, 10))
print("histogram_edges_weight:", r(hist.hist), r(hist.bin_edges))
hist = torch.histogram(hv, bins=5, range=(0.0, 3.0), density=True)
print("histogram_density:", r(hist.hist), r(hist.bin_edges))
print("bincount:", r(torch.bincount(torch.tensor([0, 2, 2, 5]))),
      r(torch.bincount(torch.tensor([1, 1, 3]), weights=torch.tensor([0.5, 1.0, 2.0]),
                       minlength=6)))
print("bucketize:", r(torch.bucketize(hv, torch.tensor([0.0, 1.0, 3.0]))),
      r(torch.bucketize(hv, torch.tensor([0.0, 1.0, 3.0]), right=True)),
      r(torch.searchsorted(torch.tensor([0.0, 1.0, 3.0]), torch.tensor([1.0, 2.0]),
                           side="right")))
