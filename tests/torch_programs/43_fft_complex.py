"""Complex tensors and torch.fft in everyday signal work: building complex tensors, promotion,
parts and polar form, arithmetic, the FFT family with each normalisation, spectra of a real
signal (rfft / irfft round trips, fftfreq, fftshift), an FFT convolution, and gradients through
complex ops and FFTs (torch's convention: z.grad = dL/dx + i dL/dy). Complex values print as
[real, imag] pairs."""
import math

import torch


def r(v):
    if isinstance(v, torch.Tensor):
        if v.is_complex():
            v = torch.view_as_real(v.detach().resolve_conj())
        v = v.detach().tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    if isinstance(v, complex):
        return [round(v.real, 4), round(v.imag, 4)]
    return round(v, 4) if isinstance(v, float) else v


# ---- building, promotion, printing -------------------------------------------------------------
z = torch.tensor([1 + 2j, 3 - 1j, -0.5 + 0.25j, -2 - 3j])
w = torch.tensor([0.5 - 1j, -1 + 0.5j, 2 + 2j, 0.25 + 1j])
x = torch.tensor([1.0, -2.0, 0.5, 3.0])
print("dtype:", z.dtype, torch.tensor(2j).dtype, (x + 1j).dtype)
print("promote:", (x.double() + 1j).dtype, (z + x.double()).dtype, (torch.tensor([1]) + z).dtype)
print("is_complex:", z.is_complex(), x.is_complex(), torch.is_complex(z), z.dtype.is_complex)
print("repr:", repr(torch.tensor([1.5 + 2j, -3j])).replace("\n", " "))
print("item:", r(z[1].item()))

# ---- parts, polar form ------------------------------------------------------------------------
print("real_imag:", r(z.real), r(z.imag))
print("abs_angle:", r(z.abs()), r(torch.angle(z)))
print("conj:", r(torch.conj(z)), r(z.conj_physical()))
print("complex:", r(torch.complex(x, x * 2)))
print("polar:", r(torch.polar(torch.tensor([2.0, 1.0]), torch.tensor([0.5, -2.0]))))
print("view_as_real:", r(torch.view_as_real(z)))
print("view_as_complex:", r(torch.view_as_complex(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))))
zz = z.clone()
zz.real[0] = 5.0
zz.imag[1] = 7.0
print("write_parts:", r(zz))

# ---- arithmetic, functions, reductions ----------------------------------------------------------
print("arith:", r(z + w), r(z - w), r(z * w), r(z / w))
print("scalars:", r(z * 2), r(z + 1.5), r(x * (1 - 1j)), r(z ** 2))
print("funcs:", r(torch.exp(z)), r(torch.log(z)), r(torch.sqrt(z)))
print("trig:", r(torch.sin(z)), r(torch.cos(z)), r(torch.tanh(z)))
print("sigmoid:", r(torch.sigmoid(z)))
print("reduce:", r(z.sum()), r(z.mean()), r(z.prod()))
print("matmul:", r(z.reshape(2, 2) @ w.reshape(2, 2)))
print("shapes:", r(torch.cat([z, w])[2:6]), r(torch.stack([z, w], 1)[1]))
print("eq:", (z == z).tolist(), (z != w).tolist())

# ---- the FFT family -----------------------------------------------------------------------------
sig = torch.tensor([math.sin(0.7 * k) + 0.5 * math.cos(2.1 * k) for k in range(8)])
for norm in ("backward", "ortho", "forward"):
    print(f"fft_{norm}:", r(torch.fft.fft(sig, norm=norm)))
    print(f"ifft_{norm}:", r(torch.fft.ifft(z, norm=norm)))
print("fft_n:", r(torch.fft.fft(z, n=6)), r(torch.fft.fft(z, n=3)))
img = torch.tensor([[1.0, 2.0, -1.0, 0.5], [0.0, 3.0, 1.5, -2.0], [2.5, -0.5, 1.0, 1.0]])
print("fft2:", r(torch.fft.fft2(img)))
print("ifftn:", r(torch.fft.ifftn(torch.fft.fftn(img))))
spec = torch.fft.rfft(sig)
print("rfft:", r(spec))
print("irfft:", r(torch.fft.irfft(spec)), r(torch.fft.irfft(spec, n=7)))
print("rfft2:", r(torch.fft.rfft2(img)))
print("irfft2:", r(torch.fft.irfft2(torch.fft.rfft2(img), s=img.shape)))
print("hfft:", r(torch.fft.hfft(z)), r(torch.fft.ihfft(x)))
print("freqs:", r(torch.fft.fftfreq(8, 0.5)), r(torch.fft.rfftfreq(8, 0.5)))
print("shift:", r(torch.fft.fftshift(torch.fft.fftfreq(5))), r(torch.fft.ifftshift(img, dim=1)))
# circular convolution through the spectrum, against the direct sum
kern = torch.tensor([0.25, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0])
conv = torch.fft.irfft(torch.fft.rfft(sig) * torch.fft.rfft(kern), n=8)
direct = torch.stack([sum(sig[(i - j) % 8] * kern[j] for j in range(8)) for i in range(8)])
print("fft_conv:", r(conv), round((conv - direct).abs().max().item(), 4))
power = torch.fft.rfft(sig).abs() ** 2
print("power:", r(power), int(power.argmax()))

# ---- gradients ---------------------------------------------------------------------------------
zg = z.clone().requires_grad_()
(zg * zg).real.sum().backward()
print("grad_square_real:", r(zg.grad))
zg.grad = None
zg.abs().sum().backward()
print("grad_abs:", r(zg.grad))
zg.grad = None
(torch.exp(zg) * w).imag.sum().backward()
print("grad_exp_imag:", r(zg.grad))
zg.grad = None
torch.fft.fft(zg, norm="ortho").abs().sum().backward()
print("grad_fft:", r(zg.grad))
xg = x.clone().requires_grad_()
(torch.fft.rfft(xg, n=6).abs() ** 2).sum().backward()
print("grad_rfft:", r(xg.grad))
xg.grad = None
(torch.fft.irfft(torch.fft.rfft(xg) * (1 + 1j)) * torch.arange(4.0)).sum().backward()
print("grad_irfft:", r(xg.grad))
xg.grad = None
(xg * w).angle().sum().backward()
print("grad_real_input:", r(xg.grad))

# ---- what complex tensors refuse ---------------------------------------------------------------
for name, fn in (("lt", lambda: z < w), ("max", lambda: z.max()), ("clamp", lambda: z.clamp(0, 1)),
                 ("floor", lambda: torch.floor(z)), ("sort", lambda: torch.sort(z))):
    try:
        fn()
        print(f"refuse_{name}: no error")
    except (RuntimeError, NotImplementedError) as e:
        print(f"refuse_{name}:", type(e).__name__)
