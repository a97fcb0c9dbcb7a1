"""A small U-Net for semantic segmentation as people write it: a double-conv block, MaxPool2d
down, ConvTranspose2d (and F.interpolate bilinear/nearest) up, skip connections concatenated on
channels with F.pad to fix odd sizes, BatchNorm2d in train and eval (running stats, momentum=None
cumulative averages, track_running_stats=False), a soft Dice loss plus a class-weighted
CrossEntropyLoss with ignore_index and label_smoothing on (N, C, H, W) logits, per-class IoU from
a confusion matrix built with bincount; then torch.jit.trace and torch.jit.script of the trained
model, running the traced one on a new input size, saving and loading through io.BytesIO, and a
state_dict round trip through torch.save/torch.load into a fresh model."""
import io

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


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bn" in name and name.endswith("weight"):
                p.copy_(torch.from_numpy(
                    (1.0 + 0.1 * rng.standard_normal(tuple(p.shape))).astype("float32")))
            else:
                p.copy_(torch.from_numpy(
                    (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


class DoubleConv(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)), inplace=True)


class Up(nn.Module):
    def __init__(self, cin, cout, bilinear):
        super().__init__()
        self.bilinear = bilinear
        if bilinear:
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.reduce = nn.Conv2d(cin, cin // 2, 1)
        else:
            self.up = nn.ConvTranspose2d(cin, cin // 2, kernel_size=2, stride=2)
            self.reduce = nn.Identity()   # so that torch.jit.script sees the attribute
        self.conv = DoubleConv(cin, cout)

    def forward(self, x, skip):
        x = self.reduce(self.up(x))
        dy, dx = skip.shape[2] - x.shape[2], skip.shape[3] - x.shape[3]
        x = F.pad(x, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
        return self.conv(torch.cat([skip, x], dim=1))


class UNet(nn.Module):
    def __init__(self, cin=2, classes=3, width=4):
        super().__init__()
        self.inc = DoubleConv(cin, width)
        self.down1 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(width, width * 2))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), DoubleConv(width * 2, width * 4))
        self.up1 = Up(width * 4, width * 2, bilinear=False)
        self.up2 = Up(width * 2, width, bilinear=True)
        self.head = nn.Conv2d(width, classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        return self.head(self.up2(self.up1(x3, x2), x1))


def image_batch(n, h, w, offset=0):
    """Blobs on a gradient: class 1 inside a disc, class 2 in a corner square, 255 = unlabeled
    border ring of the disc."""
    xs, ys = [], []
    for b in range(n):
        cy, cx, rad = 3 + (b + offset) % 4, 4 + (2 * b + offset) % 5, 2.2 + 0.3 * (b % 3)
        img = np.zeros((2, h, w), dtype=np.float32)
        lab = np.zeros((h, w), dtype=np.int64)
        for i in range(h):
            for j in range(w):
                d = ((i - cy) ** 2 + (j - cx) ** 2) ** 0.5
                img[0, i, j] = (1.0 if d < rad else 0.0) + 0.1 * ((i * 7 + j * 3 + b) % 5 - 2)
                img[1, i, j] = j / w - 0.5 + (0.8 if i >= h - 3 and j >= w - 3 else 0.0)
                if d < rad - 0.5:
                    lab[i, j] = 1
                elif d < rad + 0.5:
                    lab[i, j] = 255
                if i >= h - 3 and j >= w - 3:
                    lab[i, j] = 2
        xs.append(img)
        ys.append(lab)
    return torch.tensor(np.stack(xs)), torch.tensor(np.stack(ys))


def dice_loss(logits, target, classes, ignore=255, eps=1e-6):
    valid = (target != ignore).unsqueeze(1).float()
    probs = logits.softmax(1) * valid
    onehot = F.one_hot(target.clamp(max=classes - 1) * (target != ignore), classes)
    onehot = onehot.permute(0, 3, 1, 2).float() * valid
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    union = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return 1 - ((2 * inter + eps) / (union + eps)).mean()


# ---------------------------------------------------------------------------------------------
# (a) building blocks

up = fill(nn.ConvTranspose2d(3, 2, kernel_size=3, stride=2, padding=1, output_padding=1), 1)
z = torch.arange(2 * 3 * 3 * 3, dtype=torch.float32).reshape(2, 3, 3, 3) / 20
print("convT_shape:", tuple(up(z).shape), tuple(up(z, output_size=[5, 5]).shape))
print("convT_vals:", r(up(z)[1, 0, 2]))
print("interp_bilinear:", r(F.interpolate(z, scale_factor=2, mode="bilinear")[0, 1, 1]))
print("interp_bilinear_ac:", r(F.interpolate(z, size=(5, 4), mode="bilinear",
                                             align_corners=True)[1, 2, 3]))
print("interp_nearest:", r(F.interpolate(z, size=(4, 5), mode="nearest")[0, 0, 3]))
print("interp_nearest_exact:", r(F.interpolate(z, size=(4, 5), mode="nearest-exact")[0, 0, 3]))
print("interp_bicubic:", r(F.interpolate(z, scale_factor=1.5, mode="bicubic")[0, 0, 2]))
print("interp_area:", r(F.interpolate(z, size=(2, 2), mode="area")[1, 1]))
print("pad_modes:", r(F.pad(z[:1, :1], (1, 2, 0, 1), mode="reflect")[0, 0, 0]),
      r(F.pad(z[:1, :1], (1, 1, 1, 0), mode="replicate")[0, 0, 0]),
      r(F.pad(z[:1, :1], (2, 0, 0, 0), value=-1.0)[0, 0, 1]))

bn = nn.BatchNorm2d(3, momentum=None)
for k in range(3):
    bn(z + k)
print("bn_cumulative:", r(bn.running_mean), r(bn.running_var), bn.num_batches_tracked.item())
bn_nt = nn.BatchNorm2d(3, track_running_stats=False, affine=False).eval()
print("bn_no_track:", bn_nt.running_mean is None, r(bn_nt(z)[0, 1, 0]))

# ---------------------------------------------------------------------------------------------
# (b) losses on (N, C, H, W)

logits = torch.tensor(np.linspace(-2, 2, 2 * 3 * 3 * 4).reshape(2, 3, 3, 4).astype("float32"))
target = torch.tensor([[[0, 1, 2, 255], [1, 1, 0, 2], [2, 255, 0, 1]],
                       [[1, 0, 0, 2], [255, 255, 1, 1], [2, 2, 0, 0]]])
weight = torch.tensor([0.3, 1.0, 2.0])
for red in ("mean", "sum", "none"):
    ce = F.cross_entropy(logits, target, weight=weight, ignore_index=255, reduction=red)
    print(f"ce_weighted_{red}:", r(ce if red != "none" else ce[1]))
print("ce_smooth_weighted:", r(F.cross_entropy(logits, target, weight=weight, ignore_index=255,
                                               label_smoothing=0.1)))
print("ce_smooth_none:", r(F.cross_entropy(logits, target, ignore_index=255, label_smoothing=0.2,
                                           reduction="none")[0, 0]))
print("nll_2d:", r(F.nll_loss(F.log_softmax(logits, 1), target, ignore_index=255)))
print("dice:", r(dice_loss(logits, target, 3)))
soft_t = F.softmax(logits.flip(1), dim=1)
print("ce_prob_targets:", r(F.cross_entropy(logits, soft_t, label_smoothing=0.1)))

# ---------------------------------------------------------------------------------------------
# (c) training

model = fill(UNet(), 7, scale=0.25)
print("unet_params:", sum(p.numel() for p in model.parameters()),
      sum(b.numel() for b in model.buffers()))
opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=1e-2)
crit = nn.CrossEntropyLoss(weight=torch.tensor([0.5, 1.5, 2.0]), ignore_index=255,
                           label_smoothing=0.05)
losses = []
for step in range(6):
    x, y = image_batch(3, 11, 10, offset=step)
    out = model(x)
    loss = crit(out, y) + 0.5 * dice_loss(out, y, 3)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    losses.append(loss.item())
print("out_shape:", tuple(out.shape))
print("losses:", r(losses))
print("bn_running:", r(model.inc.bn1.running_mean), model.inc.bn1.num_batches_tracked.item())
print("up1_grad:", r(model.up1.up.weight.grad[0, 0]))

model.eval()
x, y = image_batch(2, 11, 10, offset=9)
with torch.no_grad():
    pred = model(x).argmax(1)
valid = y != 255
conf = torch.bincount(y[valid] * 3 + pred[valid], minlength=9).reshape(3, 3)
print("confusion:", conf.tolist())
inter = conf.diag().float()
iou = inter / (conf.sum(0) + conf.sum(1) - conf.diag()).float().clamp(min=1)
print("iou:", r(iou))
print("pixel_acc:", r((pred[valid] == y[valid]).float().mean()))

# ---------------------------------------------------------------------------------------------
# (d) torch.jit and serialisation

with torch.no_grad():
    ref_out = model(x)
# NOTE: traced at a size whose skip connections need no F.pad: the pad amounts come from
# Python shape arithmetic, which the trace is only guaranteed to keep as constants
x_tr, _ = image_batch(2, 12, 8, offset=5)
traced = torch.jit.trace(model, x_tr)
with torch.no_grad():
    print("traced_same:", torch.allclose(traced(x_tr), model(x_tr), atol=1e-5))
    x2, _ = image_batch(1, 16, 8, offset=3)
    print("traced_new_size:", torch.allclose(traced(x2), model(x2), atol=1e-5),
          tuple(traced(x2).shape))
    print("traced_vals:", r(traced(x2)[0, :, 5, 3]))
scripted = torch.jit.script(model)
with torch.no_grad():
    print("scripted_same:", torch.allclose(scripted(x), ref_out, atol=1e-5))
buf = io.BytesIO()
torch.jit.save(traced, buf)
buf.seek(0)
loaded = torch.jit.load(buf)
with torch.no_grad():
    print("jit_loaded_same:", torch.allclose(loaded(x_tr), traced(x_tr), atol=1e-5))

buf = io.BytesIO()
torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 6}, buf)
print("checkpoint_nonempty:", buf.tell() > 0)
buf.seek(0)
ckpt = torch.load(buf, weights_only=True)
fresh = UNet()
missing = fresh.load_state_dict(ckpt["model"])
print("load_result:", list(missing.missing_keys), list(missing.unexpected_keys))
fresh.eval()
with torch.no_grad():
    print("reloaded_same:", torch.equal(fresh(x), ref_out))
opt2 = torch.optim.AdamW(fresh.parameters(), lr=1.0)
opt2.load_state_dict(ckpt["opt"])
print("opt_state:", opt2.param_groups[0]["lr"], ckpt["epoch"],
      opt2.state_dict()["state"][0]["step"].item())
print("state_keys:", len(ckpt["model"]), list(ckpt["model"])[:4])
print("num_batches_dtype:", ckpt["model"]["inc.bn1.num_batches_tracked"].dtype)
