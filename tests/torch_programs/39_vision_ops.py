"""Vision building blocks: the pytorch/examples super-resolution net (PixelShuffle) trained a few
steps, a spatial transformer (affine_grid + grid_sample in every mode, gradients to input and
grid), F.interpolate in every mode with gradients, im2col convolution with unfold/fold,
transposed/depthwise convolutions, padding layers and channels_last memory format."""
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


def init_params(model, rng, scale=0.3):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor(rng.standard_normal(tuple(p.shape)).astype("float32") * scale))


def arr(rng, *shape, scale=1.0):
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


rng = np.random.default_rng(39)


# (a) super resolution: conv layers, PixelShuffle upscaling, MSE training
class SuperResolutionNet(nn.Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(1, 8, (5, 5), (1, 1), (2, 2))
        self.conv2 = nn.Conv2d(8, 8, (3, 3), (1, 1), (1, 1))
        self.conv3 = nn.Conv2d(8, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
        self.pixel_shuffle = nn.PixelShuffle(upscale_factor)

    def forward(self, x):
        x = self.relu(self.conv1(x))
        x = self.relu(self.conv2(x))
        return self.pixel_shuffle(self.conv3(x))


sr = SuperResolutionNet(upscale_factor=2)
init_params(sr, rng, 0.2)
high = torch.tensor(rng.random((4, 1, 12, 12)).astype("float32"))
low = F.avg_pool2d(high, 2)
opt = torch.optim.Adam(sr.parameters(), lr=1e-2)
losses = []
for step in range(5):
    opt.zero_grad()
    loss = F.mse_loss(sr(low), high)
    loss.backward()
    opt.step()
    losses.append(loss.item())
print("sr_losses:", r(losses))
with torch.no_grad():
    out = sr(low)
    mse = F.mse_loss(out, high)
print("sr_out:", tuple(out.shape), r(out[0, 0, 0, :4]), r(10 * torch.log10(1 / mse)))
x = arr(rng, 2, 8, 3, 5)
ps = F.pixel_shuffle(x, 2)
print("pixel_shuffle:", tuple(ps.shape), r(ps[1, 1, 2, :4]))
pu = nn.PixelUnshuffle(2)(ps)
print("pixel_unshuffle:", tuple(pu.shape), torch.equal(pu, x))
print("pixel_unshuffle_3:", tuple(F.pixel_unshuffle(arr(rng, 1, 2, 6, 9), 3).shape))

# (b) spatial transformer network: affine_grid + grid_sample
theta = torch.tensor([[[0.93, -0.21, 0.06], [0.31, 1.13, -0.17]],
                      [[1.23, 0.09, -0.27], [-0.26, 0.82, 0.19]]], requires_grad=True)
for ac in (True, False):
    grid = F.affine_grid(theta, [2, 3, 4, 5], align_corners=ac)
    print(f"affine_grid_{ac}:", tuple(grid.shape), r(grid[1, 2, 3]), r(grid.sum()))
theta3 = torch.tensor([[[1.03, 0.11, 0.02, 0.07], [0.01, 0.91, 0.23, 0.03],
                        [0.12, -0.02, 1.13, -0.085]]])
g3 = F.affine_grid(theta3, [1, 1, 2, 3, 4], align_corners=False)
print("affine_grid_5d:", tuple(g3.shape), r(g3[0, 1, 2, 3]), r(g3.sum()))
img = arr(rng, 2, 3, 6, 7, scale=1.0).requires_grad_(True)
for mode in ("bilinear", "nearest", "bicubic"):
    for pad in ("zeros", "border", "reflection"):
        for ac in (True, False):
            grid = F.affine_grid(theta, [2, 3, 4, 5], align_corners=ac)
            out = F.grid_sample(img, grid, mode=mode, padding_mode=pad, align_corners=ac)
            w = torch.linspace(-1, 1, out.numel()).reshape(out.shape)
            gi, gt = torch.autograd.grad((out * w).sum(), (img, theta))
            tag = f"{mode}_{pad}_{int(ac)}"
            print(f"grid_sample_{tag}:", r(out.sum()), r(out[1, 2, 1]), r(gi.abs().sum()),
                  r(gt.flatten()) if mode != "nearest" else r(gt.abs().sum()))
# a free-form grid (out of range points included), with a gradient w.r.t. the grid itself
free = torch.tensor(rng.uniform(-1.3, 1.3, (1, 3, 4, 2)).astype("float32"), requires_grad=True)
out = F.grid_sample(img[:1], free, mode="bilinear", padding_mode="border", align_corners=False)
(gg,) = torch.autograd.grad(out.pow(2).sum(), free)
print("grid_sample_free:", r(out[0, 0]), r(gg[0, 1]))
vol = arr(rng, 1, 2, 3, 4, 5).requires_grad_(True)
g5 = F.affine_grid(theta3, [1, 2, 2, 3, 4], align_corners=True)
out = F.grid_sample(vol, g5, mode="bilinear", padding_mode="zeros", align_corners=True)
(gv,) = torch.autograd.grad(out.sum(), vol)
print("grid_sample_5d:", tuple(out.shape), r(out.sum()), r(gv.sum()), r(out[0, 1, 1, 2]))


class STN(nn.Module):
    def __init__(self):
        super().__init__()
        self.loc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.MaxPool2d(2), nn.ReLU())
        self.fc = nn.Linear(4 * 3 * 3, 6)

    def forward(self, x):
        th = self.fc(self.loc(x).flatten(1)).view(-1, 2, 3)
        th = th + torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
        grid = F.affine_grid(th, x.size(), align_corners=False)
        return F.grid_sample(x, grid, align_corners=False)


stn = STN()
init_params(stn, rng, 0.1)
digits = arr(rng, 3, 1, 8, 8)
target = torch.flip(digits, dims=[3])
opt = torch.optim.SGD(stn.parameters(), lr=0.05, momentum=0.9)
stn_losses = []
for step in range(4):
    opt.zero_grad()
    loss = F.mse_loss(stn(digits), target)
    loss.backward()
    if step == 0:
        first_grad = stn.fc.bias.grad.clone()
    opt.step()
    stn_losses.append(loss.item())
print("stn_losses:", r(stn_losses), r(first_grad))

# (c) F.interpolate in every mode, and gradients
x1 = arr(rng, 1, 2, 5).requires_grad_(True)
x2 = arr(rng, 1, 2, 5, 6).requires_grad_(True)
x3 = arr(rng, 1, 1, 3, 4, 5).requires_grad_(True)
cases = [
    ("nearest_1d", x1, dict(size=8, mode="nearest")),
    ("nearest_exact_1d", x1, dict(size=8, mode="nearest-exact")),
    ("nearest_down", x2, dict(size=(3, 4), mode="nearest")),
    ("nearest_exact_down", x2, dict(size=(3, 4), mode="nearest-exact")),
    ("linear_ac", x1, dict(size=9, mode="linear", align_corners=True)),
    ("linear", x1, dict(scale_factor=1.7, mode="linear", align_corners=False)),
    ("linear_recompute", x1, dict(scale_factor=1.7, mode="linear", recompute_scale_factor=True)),
    ("bilinear", x2, dict(size=(7, 9), mode="bilinear", align_corners=False)),
    ("bilinear_ac", x2, dict(size=(7, 9), mode="bilinear", align_corners=True)),
    ("bilinear_scale", x2, dict(scale_factor=(1.5, 0.75), mode="bilinear")),
    ("bilinear_down", x2, dict(size=(3, 4), mode="bilinear")),
    ("bicubic", x2, dict(size=(8, 7), mode="bicubic", align_corners=False)),
    ("bicubic_ac", x2, dict(size=(8, 7), mode="bicubic", align_corners=True)),
    ("bilinear_aa", x2, dict(size=(2, 3), mode="bilinear", antialias=True)),
    ("bicubic_aa", x2, dict(size=(3, 2), mode="bicubic", antialias=True)),
    ("bilinear_aa_up", x2, dict(size=(7, 9), mode="bilinear", antialias=True)),
    ("trilinear", x3, dict(size=(4, 6, 3), mode="trilinear")),
    ("trilinear_ac", x3, dict(scale_factor=2, mode="trilinear", align_corners=True)),
    ("nearest_3d", x3, dict(scale_factor=(2, 1.5, 0.5), mode="nearest")),
    ("area", x2, dict(size=(2, 4), mode="area")),
    ("area_1d", x1, dict(size=3, mode="area")),
    ("area_3d", x3, dict(size=(2, 2, 3), mode="area")),
    ("nearest_recompute", x2, dict(scale_factor=1.3, mode="nearest",
                                   recompute_scale_factor=True)),
    ("nearest_scale", x2, dict(scale_factor=1.3, mode="nearest")),
]
for name, inp, kw in cases:
    out = F.interpolate(inp, **kw)
    w = torch.cos(torch.arange(out.numel(), dtype=torch.float32)).reshape(out.shape)
    (g,) = torch.autograd.grad((out * w).sum(), inp)
    print(f"interp_{name}:", tuple(out.shape), r(out.sum()), r(out.flatten()[:5]),
          r(g.flatten()[:6]))
up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
print("upsample_module:", tuple(up(x2).shape), r(up(x2)[0, 1, 3, :4]))
print("upsample_nearest:", r(nn.UpsamplingNearest2d(scale_factor=2)(x2)[0, 0, 1, :4]))
print("upsample_bilinear2d:", r(nn.UpsamplingBilinear2d(size=(6, 6))(x2)[0, 0, 2]))

# (d) im2col: unfold / fold implement a convolution by hand
inp = arr(rng, 2, 3, 7, 6)
weight = arr(rng, 4, 3, 3, 2)
bias = arr(rng, 4)
cols = F.unfold(inp, kernel_size=(3, 2), padding=(1, 0), stride=(2, 1))
print("unfold_shape:", tuple(cols.shape))
hand = (weight.view(4, -1) @ cols + bias.view(1, 4, 1)).view(2, 4, 4, 5)
ref = F.conv2d(inp, weight, bias, stride=(2, 1), padding=(1, 0))
print("im2col_conv:", torch.allclose(hand, ref, atol=1e-5), r(hand[1, 2, 3]))
unf = nn.Unfold(kernel_size=2, dilation=2, padding=1, stride=2)
blocks = unf(inp)
print("nn_unfold:", tuple(blocks.shape), r(blocks[0, :, 3]))
back = F.fold(blocks, output_size=(7, 6), kernel_size=2, dilation=2, padding=1, stride=2)
print("fold:", tuple(back.shape), r(back[0, 0, :3]))
ones = torch.ones(1, 1, 5, 5)
count = F.fold(F.unfold(ones, 3, padding=1), (5, 5), 3, padding=1)
print("fold_counts:", r(count[0, 0]))
fold_mod = nn.Fold(output_size=(4, 5), kernel_size=(2, 3))
cols_in = arr(rng, 1, 12, 9).requires_grad_(True)
folded = fold_mod(cols_in)
(gc,) = torch.autograd.grad((folded * folded).sum(), cols_in)
print("nn_fold_grad:", tuple(folded.shape), r(folded[0, 1, 1]), r(gc[0, 5]))
inp_g = inp.clone().requires_grad_(True)
(gu,) = torch.autograd.grad(F.unfold(inp_g, 3, dilation=(1, 2), padding=1).pow(2).sum(), inp_g)
print("unfold_grad:", r(gu[0, 0, 2]))

# (e) transposed / depthwise-separable convs, upsampling, padding layers, channels_last
ct = nn.ConvTranspose2d(4, 6, kernel_size=3, stride=2, padding=1, output_padding=1,
                        groups=2, dilation=1)
init_params(ct, rng)
ct_in = arr(rng, 2, 4, 3, 4).requires_grad_(True)
ct_out = ct(ct_in)
(gct,) = torch.autograd.grad(ct_out.pow(2).mean(), ct_in)
print("conv_transpose:", tuple(ct_out.shape), r(ct_out[1, 4, 2, :4]), r(gct[0, 3, 1]))
ct2 = nn.ConvTranspose2d(3, 2, kernel_size=(2, 3), stride=(3, 2), padding=(0, 1),
                         output_padding=(1, 0), dilation=(2, 1), bias=False)
init_params(ct2, rng)
out2 = ct2(arr(rng, 1, 3, 3, 3))
print("conv_transpose_dilated:", tuple(out2.shape), r(out2[0, 1, :, 2]))
print("conv_transpose_output_size:",
      tuple(ct(ct_in[:1], output_size=[5, 7]).shape))
depthwise = nn.Conv2d(4, 4, 3, padding=1, groups=4)
pointwise = nn.Conv2d(4, 8, 1)
init_params(depthwise, rng)
init_params(pointwise, rng)
ds_in = arr(rng, 2, 4, 6, 6).requires_grad_(True)
ds_out = pointwise(F.relu(depthwise(ds_in)))
gd = torch.autograd.grad(ds_out.sum(), (ds_in, depthwise.weight))
print("depthwise_separable:", tuple(ds_out.shape), r(ds_out[1, 5, 2]), r(gd[1][2, 0]))
mult = nn.Conv2d(2, 6, 3, groups=2, bias=False)
init_params(mult, rng)
print("depth_multiplier:", r(mult(ds_in[:, :2])[0, 4, 0]))
pad_in = torch.arange(12, dtype=torch.float32).view(1, 1, 3, 4)
print("reflection_pad:", r(nn.ReflectionPad2d((1, 2, 2, 1))(pad_in)[0, 0]))
print("replication_pad:", r(nn.ReplicationPad2d(2)(pad_in)[0, 0, :, :3]))
print("circular_pad:", r(nn.CircularPad2d((2, 1, 1, 0))(pad_in)[0, 0]))
print("zero_const_pad:", r(nn.ZeroPad2d((1, 0, 0, 1))(pad_in)[0, 0, -1]),
      r(nn.ConstantPad2d(1, 3.5)(pad_in)[0, 0, 0]))
print("reflection_pad1d:", r(nn.ReflectionPad1d(2)(pad_in[0])[0, 1]))
pad_g = pad_in.clone().requires_grad_(True)
(gp,) = torch.autograd.grad((nn.ReflectionPad2d(2)(pad_g) * 1.5).sum(), pad_g)
print("reflection_pad_grad:", r(gp[0, 0]))
pad_g2 = pad_in.clone().requires_grad_(True)
(gp2,) = torch.autograd.grad(F.pad(pad_g2, (2, 1, 1, 2), mode="circular").sum(), pad_g2)
print("circular_pad_grad:", r(gp2[0, 0]))
(gp3,) = torch.autograd.grad(F.pad(pad_g2, (1, 3, 2, 0), mode="replicate").sum(), pad_g2)
print("replicate_pad_grad:", r(gp3[0, 0]))

cl_in = arr(rng, 2, 3, 4, 5)
cl = cl_in.to(memory_format=torch.channels_last)
print("channels_last:", cl.is_contiguous(), cl.is_contiguous(memory_format=torch.channels_last),
      cl.stride(), cl_in.stride(), torch.equal(cl, cl_in))
print("channels_last_contig:", cl.contiguous().stride(),
      cl_in.contiguous(memory_format=torch.channels_last).stride())
conv_cl = nn.Conv2d(3, 4, 3, padding=1)
init_params(conv_cl, rng)
ref_out = conv_cl(cl_in)
conv_cl = conv_cl.to(memory_format=torch.channels_last)
cl_out = conv_cl(cl)
print("channels_last_conv:", torch.allclose(cl_out, ref_out, atol=1e-5),
      conv_cl.weight.is_contiguous(memory_format=torch.channels_last),
      r(cl_out[1, 2, 1, :3]))
print("channels_last_3d:", arr(rng, 1, 2, 3, 4, 5).to(memory_format=torch.channels_last_3d)
      .is_contiguous(memory_format=torch.channels_last_3d))
