"""Image resampling as data-augmentation and spatial-transformer code uses it: F.interpolate in
nearest, nearest-exact, (bi/tri)linear, bicubic and area modes, with align_corners True/False,
scale_factor and size, recompute_scale_factor, antialias, uint8 images, and their gradients;
F.affine_grid + F.grid_sample in bilinear/nearest/bicubic modes with zeros/border/reflection
padding and both align_corners (gradients to the input and to the grid); F.pad in
constant/reflect/replicate/circular modes (1-D, 2-D, 3-D and unbatched inputs); the im2col pair
F.unfold / F.fold (overlapping patches summed, and a count-normalised round trip);
pixel_shuffle / pixel_unshuffle; and a small spatial-transformer training step whose gradients
flow through grid_sample, affine_grid, interpolate and pad."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 4) if isinstance(v, float) else v


def arr(rng, *shape, scale=1.0):
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


rng = np.random.default_rng(61)
img = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5) / 10.0
noise = arr(rng, 2, 3, 4, 5)
x = img + noise

# ---------------------------------------------------------------------------------------------
# (a) F.interpolate

print("nearest_up:", r(F.interpolate(img[:1, :1], scale_factor=2, mode="nearest")[0, 0, 1]))
print("nearest_size:", r(F.interpolate(x, size=(3, 7), mode="nearest")[1, 2]))
print("nearest_exact:", r(F.interpolate(x, size=(3, 7), mode="nearest-exact")[1, 2]))
print("nearest_frac:", r(F.interpolate(x, scale_factor=1.7, mode="nearest").sum()),
      tuple(F.interpolate(x, scale_factor=1.7, mode="nearest").shape))
for ac in (False, True):
    up = F.interpolate(x, size=(7, 9), mode="bilinear", align_corners=ac)
    print(f"bilinear_ac{int(ac)}:", r(up[0, 1, 3]), r(up.sum()))
    down = F.interpolate(x, scale_factor=0.6, mode="bilinear", align_corners=ac)
    print(f"bilinear_down_ac{int(ac)}:", tuple(down.shape), r(down[1, 0]))
    bic = F.interpolate(x, size=(6, 8), mode="bicubic", align_corners=ac)
    print(f"bicubic_ac{int(ac)}:", r(bic[0, 2, 4]), r(bic.abs().sum()))
    lin = F.interpolate(x[:, :, 0], size=9, mode="linear", align_corners=ac)
    print(f"linear_ac{int(ac)}:", r(lin[1, 1]))
print("recompute_scale:", r(F.interpolate(x, scale_factor=1.5, mode="bilinear",
                                          recompute_scale_factor=True)[0, 0, 2]))
print("no_recompute_scale:", r(F.interpolate(x, scale_factor=1.5, mode="bilinear",
                                             recompute_scale_factor=False)[0, 0, 2]))
print("area:", r(F.interpolate(x, size=(2, 3), mode="area")[0, 0]))
vol = arr(rng, 1, 2, 3, 4, 4)
print("trilinear:", r(F.interpolate(vol, scale_factor=(2, 1, 0.5), mode="trilinear",
                                    align_corners=False)[0, 1, 3]))
print("nearest_3d:", tuple(F.interpolate(vol, size=(5, 2, 3), mode="nearest").shape),
      r(F.interpolate(vol, size=(5, 2, 3), mode="nearest").sum()))
print("upsample_module:", r(nn.Upsample(scale_factor=2, mode="bilinear",
                                        align_corners=True)(x)[0, 0, 1, :4]))

xg = x.clone().requires_grad_(True)
wts = torch.linspace(-1, 1, 7 * 9).reshape(7, 9)
loss = ((F.interpolate(xg, size=(7, 9), mode="bilinear", align_corners=False) * wts).sum()
        + F.interpolate(xg, size=(6, 8), mode="bicubic", align_corners=True).pow(2).mean()
        + F.interpolate(xg, scale_factor=2, mode="nearest").mul(wts[:1, :1]).sum())
loss.backward()
print("interp_grad:", r(xg.grad[0, 0]))
xg.grad = None
F.interpolate(xg, size=(3, 7), mode="nearest-exact").mul(torch.arange(21.0).reshape(3, 7)).sum() \
    .backward()
print("nearest_exact_grad:", r(xg.grad[1, 1]))

big = torch.tensor(rng.random((1, 2, 9, 11)).astype("float32"))
for mode in ("bilinear", "bicubic"):
    aa = F.interpolate(big, size=(4, 5), mode=mode, antialias=True, align_corners=False)
    print(f"antialias_{mode}:", r(aa[0, 1, 2]), r(aa.sum()))
u8img = (big * 255).to(torch.uint8)
print("uint8_nearest:", F.interpolate(u8img, size=(4, 5), mode="nearest")[0, 0, 1].tolist(),
      F.interpolate(u8img, scale_factor=0.5, mode="nearest").dtype)
print("int_size:", tuple(F.interpolate(x, size=6, mode="bilinear", align_corners=False).shape))
ag = big.clone().requires_grad_(True)
(F.interpolate(ag, size=(4, 5), mode="area").pow(2).sum()
 + F.interpolate(ag, scale_factor=0.5, mode="bicubic", align_corners=False).sum()).backward()
print("area_bicubic_down_grad:", r(ag.grad[0, 0, :3, :4]))

# ---------------------------------------------------------------------------------------------
# (b) affine_grid + grid_sample

theta = torch.tensor([[[0.9, -0.2, 0.1], [0.25, 1.1, -0.15]],
                      [[1.2, 0.0, 0.3], [0.0, 0.8, 0.0]]])
for ac in (False, True):
    grid = F.affine_grid(theta, (2, 3, 5, 6), align_corners=ac)
    print(f"affine_grid_ac{int(ac)}:", tuple(grid.shape), r(grid[0, 2, 3]), r(grid[1, 4, 5]))
    for mode in ("bilinear", "nearest", "bicubic"):
        for pad in ("zeros", "border", "reflection"):
            out = F.grid_sample(x, grid, mode=mode, padding_mode=pad, align_corners=ac)
            print(f"grid_sample_{mode}_{pad}_ac{int(ac)}:", r(out.sum()), r(out[1, 0, 2, :3]))
# an out-of-range grid exercises the padding modes properly
wide = torch.tensor([[[1.6, 0.3, 0.2], [-0.4, 1.5, -0.3]]])
wgrid = F.affine_grid(wide, (1, 1, 4, 4), align_corners=False)
for pad in ("zeros", "border", "reflection"):
    print(f"wide_{pad}:", r(F.grid_sample(x[:1, :1], wgrid, padding_mode=pad,
                                          align_corners=False)[0, 0]))
vgrid = F.affine_grid(torch.tensor([[[0.8, 0.1, 0.0, 0.1], [0.0, 0.9, 0.2, 0.0],
                                     [0.1, 0.0, 1.1, -0.2]]]), (1, 2, 2, 3, 3),
                      align_corners=False)
print("grid_sample_3d:", r(F.grid_sample(vol, vgrid, align_corners=False)[0, 0, 1]))

# gradients to the input and to the grid itself, per mode
for mode in ("bilinear", "nearest", "bicubic"):
    gi = x.clone().requires_grad_(True)
    gg = F.affine_grid(theta, (2, 3, 5, 6), align_corners=False).detach().requires_grad_(True)
    out = F.grid_sample(gi, gg, mode=mode, padding_mode="reflection", align_corners=False)
    (out * torch.linspace(-1, 2, 6)).sum().backward()
    print(f"grid_sample_grad_{mode}:", r(gi.grad[1, 0, 1]), r(gg.grad[0, 1]))

# ---------------------------------------------------------------------------------------------
# (c) F.pad modes

row = torch.arange(1.0, 6.0).reshape(1, 1, 5)
for mode in ("reflect", "replicate", "circular"):
    print(f"pad1d_{mode}:", F.pad(row, (2, 3), mode=mode)[0, 0].tolist())
    p2 = F.pad(img[:1, :1], (1, 2, 2, 1), mode=mode)
    print(f"pad2d_{mode}:", tuple(p2.shape), r(p2[0, 0, 0]), r(p2[0, 0, -1]))
    p3 = F.pad(vol, (1, 1, 1, 0, 1, 1), mode=mode)
    print(f"pad3d_{mode}:", tuple(p3.shape), r(p3.sum()))
print("pad_constant:", F.pad(row, (1, 2), value=-1.0)[0, 0].tolist(),
      tuple(F.pad(img, (0, 0, 1, 1, 0, 1)).shape))
print("pad_unbatched:", tuple(F.pad(img[0], (1, 1, 2, 0), mode="reflect").shape),
      r(F.pad(img[0, :, 0], (2, 1), mode="circular")[1]))
print("pad_negative:", r(F.pad(img[:1, :1], (-1, 0, 0, -2))[0, 0]))
print("pad_modules:", tuple(nn.ReflectionPad2d(2)(x).shape),
      r(nn.ReplicationPad2d((1, 0, 0, 1))(x)[0, 0, -1]), r(nn.CircularPad1d(2)(row)))
pg = x.clone().requires_grad_(True)
(F.pad(pg, (2, 1, 1, 2), mode="reflect") * torch.linspace(0, 1, 8)).sum().backward()
print("reflect_grad:", r(pg.grad[0, 0]))
pg.grad = None
(F.pad(pg, (2, 1, 1, 2), mode="circular").pow(2).sum()
 + F.pad(pg, (3, 3, 3, 3), mode="replicate").sum()).backward()
print("circular_replicate_grad:", r(pg.grad[1, 2]))

# ---------------------------------------------------------------------------------------------
# (d) unfold / fold and pixel (un)shuffle

cols = F.unfold(x, kernel_size=(2, 3), padding=1, stride=(1, 2))
print("unfold:", tuple(cols.shape), r(cols[0, :4, 2]))
folded = F.fold(cols, output_size=(4, 5), kernel_size=(2, 3), padding=1, stride=(1, 2))
counts = F.fold(F.unfold(torch.ones_like(x), (2, 3), padding=1, stride=(1, 2)), (4, 5),
                (2, 3), padding=1, stride=(1, 2))
print("fold_counts:", counts[0, 0].tolist())
print("fold_roundtrip:", torch.allclose(folded / counts, x, atol=1e-6))
dil = F.unfold(x, kernel_size=2, dilation=2)
print("unfold_dilation:", tuple(dil.shape), r(dil[1, 5]))
print("unfold_module:", tuple(nn.Unfold(3, padding=1)(x).shape),
      r(nn.Fold((4, 5), 3, padding=1)(nn.Unfold(3, padding=1)(x))[0, 0, 0]))
ug = x.clone().requires_grad_(True)
F.fold(F.unfold(ug, 3, padding=1) * 0.5, (4, 5), 3, padding=1).pow(2).sum().backward()
print("unfold_fold_grad:", r(ug.grad[0, 1, 1]))

sh = torch.arange(2 * 8 * 2 * 3, dtype=torch.float32).reshape(2, 8, 2, 3)
ps = F.pixel_shuffle(sh, 2)
print("pixel_shuffle:", tuple(ps.shape), ps[1, 0, :2].tolist())
pu = F.pixel_unshuffle(ps, 2)
print("pixel_unshuffle:", tuple(pu.shape), torch.equal(pu, sh))
print("pixel_unshuffle_img:", tuple(F.pixel_unshuffle(x[:, :, :4, :4], 2).shape),
      r(F.pixel_unshuffle(x[:, :, :4, :4], 2)[0, 3]))

# ---------------------------------------------------------------------------------------------
# (e) a spatial-transformer step: localisation net -> theta -> grid_sample -> classifier


class STN(nn.Module):
    def __init__(self):
        super().__init__()
        self.loc = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"),
                                 nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(4, 6))
        self.head = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(),
                                  nn.Linear(4 * 6 * 8, 2))

    def forward(self, inp):
        theta = self.loc(inp).view(-1, 2, 3)
        grid = F.affine_grid(theta, (inp.shape[0], 3, 8, 10), align_corners=False)
        warped = F.grid_sample(inp, grid, mode="bilinear", padding_mode="border",
                               align_corners=False)
        return self.head(warped)


stn = STN()
wrng = np.random.default_rng(611)
with torch.no_grad():
    for p in stn.parameters():
        p.copy_(torch.tensor(wrng.standard_normal(tuple(p.shape)).astype("float32") * 0.2))
    stn.loc[-1].weight.mul_(0.1)
    stn.loc[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
batch = F.interpolate(x, size=(8, 10), mode="bilinear", align_corners=False)
target = torch.tensor([0, 1])
opt = torch.optim.Adam(stn.parameters(), lr=0.002)
losses = []
for step in range(4):
    opt.zero_grad()
    loss = F.cross_entropy(stn(batch), target)
    loss.backward()
    if step == 0:
        print("stn_theta_grad:", r(stn.loc[-1].bias.grad))
        print("stn_conv_grad:", r(stn.loc[0].weight.grad.abs().sum()))
    opt.step()
    losses.append(loss.item())
print("stn_losses:", r(losses))
