"""Quantization-aware training written by hand, as people do before reaching for
torch.ao.quantization: fake quantization with round/clamp and a straight-through estimator
(x + (q - x).detach()), per-tensor and per-channel scales from amin/amax/aminmax, the built-in
torch.fake_quantize_per_tensor_affine / fake_quantize_per_channel_affine (forward and their
masked gradients), integer tensors and bit ops (bitwise and/or/xor/not, shifts, int4 packing
into uint8, int8/uint8/int32 casts and overflow wraparound), an int32-accumulated integer
matmul checked against the float one, and a tiny MLP trained a few steps with fake-quantized
weights and activations (EMA observers kept in buffers)."""
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


def arr(rng, *shape, scale=1.0):
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


rng = np.random.default_rng(59)

# ---------------------------------------------------------------------------------------------
# (a) affine quantization parameters and a hand-written fake quantizer


def qparams(lo, hi, qmin, qmax):
    lo = torch.clamp(lo, max=0.0)
    hi = torch.clamp(hi, min=0.0)
    scale = torch.clamp((hi - lo) / float(qmax - qmin), min=1e-8)
    zero_point = torch.clamp(qmin - torch.round(lo / scale), qmin, qmax)
    return scale, zero_point


def fake_quant(x, scale, zero_point, qmin, qmax):
    q = torch.clamp(torch.round(x / scale) + zero_point, qmin, qmax)
    deq = (q - zero_point) * scale
    return x + (deq - x).detach()          # straight-through estimator


x = arr(rng, 4, 6, scale=2.0)
lo, hi = torch.aminmax(x)
print("aminmax:", r(lo), r(hi))
scale, zp = qparams(lo, hi, -128, 127)
print("per_tensor_qparams:", r(scale), r(zp))
xq = fake_quant(x, scale, zp, -128, 127)
print("fq_error_max:", r((xq - x).abs().max()))
print("fq_levels:", len(torch.unique(torch.round(xq / scale))))
print("round_half_even:", torch.round(torch.tensor([0.5, 1.5, 2.5, -0.5, -1.5])).tolist())

xg = x.clone().requires_grad_(True)
(fake_quant(xg, scale, zp, -128, 127) * torch.arange(6.0)).sum().backward()
print("ste_grad_row0:", r(xg.grad[0]))

# per-channel (output channels of a weight matrix)
w = arr(rng, 5, 8, scale=0.4)
wlo, whi = w.amin(dim=1), w.amax(dim=1)
sym = torch.maximum(wlo.abs(), whi)
wscale = sym / 127.0
print("per_channel_scale:", r(wscale))
wq_int = torch.clamp(torch.round(w / wscale[:, None]), -127, 127).to(torch.int8)
print("wq_int_dtype:", wq_int.dtype, wq_int.dtype.is_floating_point, wq_int.element_size())
print("wq_int_row0:", wq_int[0].tolist())
print("wq_int_extremes:", int(wq_int.max()), int(wq_int.min()),
      (wq_int.abs() == 127).sum(dim=1).tolist())
w_deq = wq_int.float() * wscale[:, None]
print("per_channel_err:", r((w_deq - w).abs().amax(dim=1)))

# ---------------------------------------------------------------------------------------------
# (b) the built-in fake quantizers

xs = torch.tensor([-1.3, -0.26, -0.05, 0.0, 0.049, 0.25, 0.74, 1.2, 3.0, -4.0])
fq = torch.fake_quantize_per_tensor_affine(xs, 0.1, 3, -8, 7)
print("builtin_per_tensor:", r(fq))
fq_u = torch.fake_quantize_per_tensor_affine(xs, 0.02, 128, 0, 255)
print("builtin_per_tensor_uint8:", r(fq_u))
xr = xs.clone().requires_grad_(True)
torch.fake_quantize_per_tensor_affine(xr, 0.1, 3, -8, 7).sum().backward()
print("builtin_per_tensor_grad:", r(xr.grad))
t_scale = torch.tensor([0.05])
t_zp = torch.tensor([2], dtype=torch.int32)
print("builtin_tensor_qparams:",
      r(torch.fake_quantize_per_tensor_affine(xs, t_scale, t_zp, -128, 127)))

wc = w.clone().requires_grad_(True)
ch_zp = torch.tensor([0, 1, -1, 2, 0], dtype=torch.int32)
fqc = torch.fake_quantize_per_channel_affine(wc, wscale * 4, ch_zp, 0, -16, 15)
print("builtin_per_channel_row1:", r(fqc[1]))
manual = fake_quant(w, (wscale * 4)[:, None], ch_zp.float()[:, None], -16, 15)
print("builtin_matches_manual:", torch.allclose(fqc, manual, atol=1e-6))
(fqc * fqc).sum().backward()
print("builtin_per_channel_grad_zeros:", int((wc.grad == 0).sum()),
      r(wc.grad.abs().sum()))
fq_axis1 = torch.fake_quantize_per_channel_affine(
    w, torch.full((8,), 0.03), torch.zeros(8, dtype=torch.int32), 1, -128, 127)
print("builtin_per_channel_axis1:", r(fq_axis1.sum()), r(fq_axis1[2, :4]))

# ---------------------------------------------------------------------------------------------
# (c) integer tensors and bit ops

a = torch.tensor([0b1100, 0b1010, 255, -7, 100], dtype=torch.int32)
b = torch.tensor([0b1010, 0b0110, 15, 3, 27], dtype=torch.int32)
print("bit_and:", torch.bitwise_and(a, b).tolist(), (a & b).dtype)
print("bit_or:", torch.bitwise_or(a, b).tolist(), (a | 1).tolist())
print("bit_xor:", torch.bitwise_xor(a, b).tolist(), (a ^ b).tolist())
print("bit_not:", torch.bitwise_not(a).tolist(), (~b).tolist())
print("shifts:", (a << 2).tolist(), (a >> 1).tolist(),
      torch.bitwise_left_shift(b, torch.tensor([0, 1, 2, 3, 4], dtype=torch.int32)).tolist(),
      torch.bitwise_right_shift(a, 2).tolist())
print("bool_bits:",
      (torch.tensor([True, False, True]) & torch.tensor([True, True, False])).tolist(),
      (torch.tensor([True, False]) ^ torch.tensor([True, True])).tolist())

i8 = torch.tensor([100, 120, -100, -128, 127], dtype=torch.int8)
print("int8_add_wrap:", (i8 + torch.tensor(100, dtype=torch.int8)).tolist(), (i8 + 100).dtype)
print("int8_mul_wrap:", (i8 * 2).tolist(), (-i8).tolist())
print("int8_shift_wrap:", (torch.tensor([64, 3, -1], dtype=torch.int8) << 1).tolist())
u8 = torch.tensor([250, 5, 128, 0], dtype=torch.uint8)
print("uint8_wrap:", (u8 + 10).tolist(), (u8 - 10).tolist(), (u8 * 3).tolist())
print("uint8_promote:", (u8 + i8[:4]).dtype, (u8 + i8[:4]).tolist(),
      (u8.to(torch.int32) * 3).tolist())
i32 = torch.tensor([300, -1, 256, -129, 70000], dtype=torch.int32)
print("cast_uint8:", i32.to(torch.uint8).tolist())
print("cast_int8:", i32.to(torch.int8).tolist())
print("cast_int32_from_float:", torch.tensor([2.7, -2.7, 0.5, -0.5]).to(torch.int32).tolist())
print("int_div:", (i32 // 7).tolist(), (i32 % 7).tolist(),
      torch.div(i32, 7, rounding_mode="trunc").tolist(), (i32 / 4).dtype)
print("int_sum_dtype:", i8.sum().dtype, int(i8.sum()), u8.sum().dtype, int(u8.sum()))

# int4 packing: two signed 4-bit values per byte
vals = torch.tensor([-8, -3, 0, 7, 5, -1, 2, -6], dtype=torch.int8)
nib = vals.to(torch.uint8) & 0xF
packed = (nib[0::2] << 4) | nib[1::2]
print("int4_packed:", packed.tolist(), packed.dtype)
hi_n = (packed >> 4).to(torch.int8)
lo_n = (packed & 0xF).to(torch.int8)
unpacked = torch.stack([hi_n, lo_n], dim=1).flatten()
unpacked = (unpacked ^ 8) - 8                 # sign-extend 4 -> 8 bits
print("int4_unpacked:", unpacked.tolist(), torch.equal(unpacked, vals))
popcount = sum(((packed >> k) & 1).to(torch.int32) for k in range(8))
print("popcount:", popcount.tolist())

# ---------------------------------------------------------------------------------------------
# (d) integer matmul with int32 accumulation against the float reference

act = torch.tensor(rng.random((3, 8)).astype("float32") * 4.0 - 1.0)
a_scale, a_zp = qparams(act.min(), act.max(), 0, 255)
act_q = torch.clamp(torch.round(act / a_scale) + a_zp, 0, 255).to(torch.uint8)
print("act_q_row0:", act_q[0].tolist(), act_q.dtype)
acc = (act_q.to(torch.int32) - a_zp.to(torch.int32)) @ wq_int.to(torch.int32).t()
print("int32_acc:", acc.dtype, acc[0].tolist())
y_int = acc.float() * a_scale * wscale
y_ref = act @ w.t()
print("int_matmul_err:", r((y_int - y_ref).abs().max()), r(y_int[1]))

# ---------------------------------------------------------------------------------------------
# (e) a tiny MLP trained with fake-quantized weights and activations


class QuantLinear(nn.Linear):
    def __init__(self, i, o, bits=4):
        super().__init__(i, o)
        self.qmax = 2 ** (bits - 1) - 1
        self.register_buffer("act_lo", torch.tensor(0.0))
        self.register_buffer("act_hi", torch.tensor(0.0))
        self.register_buffer("seen", torch.tensor(0, dtype=torch.int64))

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                lo, hi = x.min(), x.max()
                if int(self.seen) == 0:
                    self.act_lo.copy_(lo)
                    self.act_hi.copy_(hi)
                else:
                    self.act_lo.mul_(0.9).add_(0.1 * lo)
                    self.act_hi.mul_(0.9).add_(0.1 * hi)
                self.seen += 1
        s, z = qparams(self.act_lo, self.act_hi, 0, 255)
        xq = fake_quant(x, s, z, 0, 255)
        ws = self.weight.detach().abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / self.qmax
        wq = fake_quant(self.weight, ws, torch.zeros_like(ws), -self.qmax, self.qmax)
        return F.linear(xq, wq, self.bias)


torch_rng = np.random.default_rng(591)
model = nn.Sequential(QuantLinear(6, 10), nn.ReLU(), QuantLinear(10, 3))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(torch_rng.standard_normal(tuple(p.shape)).astype("float32") * 0.5))
data = arr(torch_rng, 16, 6)
target = torch.tensor(torch_rng.integers(0, 3, 16))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
losses = []
for step in range(6):
    opt.zero_grad()
    loss = F.cross_entropy(model(data), target)
    loss.backward()
    opt.step()
    losses.append(loss.item())
print("qat_losses:", r(losses))
print("qat_observer:", r(model[0].act_lo), r(model[0].act_hi), int(model[0].seen),
      model[0].seen.dtype)
print("qat_grad_norm:", r(model[2].weight.grad.norm()))
model.eval()
with torch.no_grad():
    logits = model(data)
print("qat_eval:", r(logits[:2]), (logits.argmax(1) == target).sum().item())
sd = model.state_dict()
print("qat_state_keys:", sorted(k for k in sd if k.startswith("0.")))
qmax = model[2].qmax
ws = model[2].weight.abs().amax(dim=1, keepdim=True) / qmax
w_int = torch.clamp(torch.round(model[2].weight / ws), -qmax, qmax).to(torch.int8)
print("exported_int4:", w_int.tolist(), r(ws.flatten()))
