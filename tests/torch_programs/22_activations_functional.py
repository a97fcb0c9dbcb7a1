"""Activation functions (module and functional forms) with gradients, softmax family, padding,
interpolation, and a few tensor utilities common in model code."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


rng = np.random.default_rng(24)
# values away from the kinks at 0 and +-1 so subgradient conventions do not matter
x = torch.tensor([-3.5, -1.5, -0.7, -0.2, 0.3, 0.8, 1.6, 4.0])
noise = torch.tensor(rng.standard_normal((2, 4)).astype("float32"))

acts = {
    "relu": nn.ReLU(), "relu6": nn.ReLU6(), "leaky_relu": nn.LeakyReLU(0.1), "elu": nn.ELU(),
    "selu": nn.SELU(), "celu": nn.CELU(0.5), "gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"),
    "silu": nn.SiLU(), "mish": nn.Mish(), "sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(),
    "softplus": nn.Softplus(beta=2.0), "softsign": nn.Softsign(), "hardtanh": nn.Hardtanh(),
    "hardsigmoid": nn.Hardsigmoid(), "hardswish": nn.Hardswish(), "logsigmoid": nn.LogSigmoid(),
    "tanhshrink": nn.Tanhshrink(), "threshold": nn.Threshold(0.5, -1.0),
}
for name, mod in acts.items():
    xi = x.clone().requires_grad_()
    y = mod(xi)
    y.sum().backward()
    print(f"{name}:", r(y))
    print(f"{name}_grad:", r(xi.grad))

prelu = nn.PReLU(num_parameters=1, init=0.2)
print("prelu:", r(prelu(x)), r(prelu.weight))
print("functional_forms:", r(F.relu(x)), r(F.gelu(x)), r(F.silu(x)), r(F.leaky_relu(x, 0.2)), r(F.softplus(x)))
print("torch_level_forms:", r(torch.relu(x)), r(torch.sigmoid(x)), r(torch.tanh(x)))
print("elu_alpha:", r(F.elu(x, alpha=2.0)))
y = x.clone()
F.relu(y, inplace=True)
print("relu_inplace:", r(y))
z = x.clone()
z.relu_()
print("tensor_relu_:", r(z))

logits = torch.tensor(rng.standard_normal((2, 3, 4)).astype("float32"))
print("softmax_dim-1:", r(F.softmax(logits, dim=-1)[0]))
print("softmax_dim1:", r(torch.softmax(logits, dim=1)[1]))
print("log_softmax:", r(F.log_softmax(logits, dim=2)[1, 2]))
print("softmin:", r(F.softmin(logits[0, 0], dim=0)))
print("softmax_module:", r(nn.Softmax(dim=0)(logits[:, 0, 0])))
print("softmax_large_inputs:", r(F.softmax(torch.tensor([1000.0, 1001.0, 1002.0]), dim=0)))
print("log_softmax_large:", r(F.log_softmax(torch.tensor([-1000.0, 0.0, 1000.0]), dim=0)))
print("softmax_temperature:", r(F.softmax(logits[0, 0] / 0.5, dim=-1)))
print("glu:", r(F.glu(noise, dim=1)))

img = torch.arange(12.0).view(1, 1, 3, 4)
print("pad_constant:", F.pad(img, (1, 1, 0, 1), value=-1.0)[0, 0].tolist())
print("pad_reflect:", F.pad(img[0], (2, 1), mode="reflect")[0, 0].tolist())
print("pad_replicate:", F.pad(img, (1, 1, 1, 1), mode="replicate")[0, 0, 0].tolist())
print("interpolate_nearest:", F.interpolate(img, scale_factor=2, mode="nearest")[0, 0, :2].tolist())
print("interpolate_bilinear:", r(F.interpolate(img, size=(2, 3), mode="bilinear", align_corners=False)[0, 0]))
print("interpolate_bilinear_ac:", r(F.interpolate(img, size=(5, 5), mode="bilinear", align_corners=True)[0, 0, 1]))
print("upsample_module:", tuple(nn.Upsample(scale_factor=2)(img).shape))
print("pixel_unshuffle_shape:", tuple(F.pixel_unshuffle(torch.zeros(1, 1, 4, 4), 2).shape))
print("unfold_shape:", tuple(F.unfold(img, kernel_size=2).shape), r(F.unfold(img, kernel_size=2)[0, :, 0]))

# utilities
print("tril_mask_fill:", r(torch.zeros(3, 3).masked_fill(torch.ones(3, 3, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)))
print("meshgrid:", [t.tolist() for t in torch.meshgrid(torch.arange(2), torch.arange(3), indexing="ij")])
print("cdist:", r(torch.cdist(noise, noise.flip(0) * 0.5)))
print("bucketize:", torch.bucketize(torch.tensor([0.1, 0.5, 2.0]), torch.tensor([0.0, 0.5, 1.0])).tolist())
print("searchsorted:", torch.searchsorted(torch.tensor([1, 3, 5, 7]), torch.tensor([3, 6, 9])).tolist())
print("histc:", torch.histc(torch.tensor([1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=4).tolist())
print("unique:", torch.unique(torch.tensor([3, 1, 3, 2, 1])).tolist())
u, inv, cnt = torch.unique(torch.tensor([3, 1, 3, 2, 1]), return_inverse=True, return_counts=True)
print("unique_inverse_counts:", u.tolist(), inv.tolist(), cnt.tolist())
print("diff:", torch.diff(torch.tensor([1, 4, 9, 16])).tolist())
print("lerp:", r(torch.lerp(torch.zeros(3), torch.tensor([1.0, 2.0, 4.0]), 0.25)))
print("addcmul_addcdiv:", r(torch.addcmul(torch.ones(2), torch.tensor([2.0, 3.0]), torch.tensor([4.0, 5.0]), value=0.5)),
      r(torch.addcdiv(torch.ones(2), torch.tensor([2.0, 3.0]), torch.tensor([4.0, 5.0]))))
