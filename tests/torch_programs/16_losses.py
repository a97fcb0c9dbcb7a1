"""Loss functions, functional and module forms, with reductions and gradients."""
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


rng = np.random.default_rng(17)
pred = torch.tensor(rng.standard_normal((4, 3)).astype("float32"), requires_grad=True)
tgt = torch.tensor(rng.standard_normal((4, 3)).astype("float32"))
logits = torch.tensor(rng.standard_normal((4, 3)).astype("float32"), requires_grad=True)
bin_tgt = torch.tensor(rng.integers(0, 2, size=(4, 3)).astype("float32"))
cls = torch.tensor([2, 0, 1, 2])

cases = {
    "mse": lambda: F.mse_loss(pred, tgt),
    "mse_sum": lambda: F.mse_loss(pred, tgt, reduction="sum"),
    "mse_module_none": lambda: nn.MSELoss(reduction="none")(pred, tgt),
    "l1": lambda: F.l1_loss(pred, tgt),
    "l1_module_sum": lambda: nn.L1Loss(reduction="sum")(pred, tgt),
    "smooth_l1": lambda: F.smooth_l1_loss(pred, tgt),
    "smooth_l1_beta": lambda: F.smooth_l1_loss(pred, tgt, beta=0.5),
    "smooth_l1_module": lambda: nn.SmoothL1Loss(beta=2.0)(pred, tgt),
    "huber": lambda: F.huber_loss(pred, tgt, delta=0.7),
    "bce": lambda: F.binary_cross_entropy(torch.sigmoid(logits), bin_tgt),
    "bce_module_weight": lambda: nn.BCELoss(weight=torch.tensor([1.0, 2.0, 0.5]))(torch.sigmoid(logits), bin_tgt),
    "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(logits, bin_tgt),
    "bce_with_logits_pos_weight": lambda: nn.BCEWithLogitsLoss(pos_weight=torch.tensor([3.0, 1.0, 0.5]))(logits, bin_tgt),
    "bce_with_logits_none": lambda: F.binary_cross_entropy_with_logits(logits * 10, bin_tgt, reduction="none"),
    "kl_div_batchmean": lambda: F.kl_div(F.log_softmax(logits, dim=1), F.softmax(tgt, dim=1), reduction="batchmean"),
    "kl_div_sum_log_target": lambda: F.kl_div(F.log_softmax(logits, dim=1), F.log_softmax(tgt, dim=1),
                                              reduction="sum", log_target=True),
    "kl_div_module_mean": lambda: nn.KLDivLoss(reduction="mean")(F.log_softmax(logits, 1), F.softmax(tgt, 1)),
    "nll": lambda: F.nll_loss(F.log_softmax(logits, dim=1), cls),
    "nll_weight": lambda: nn.NLLLoss(weight=torch.tensor([0.2, 1.0, 3.0]))(F.log_softmax(logits, dim=1), cls),
    "nll_ignore": lambda: F.nll_loss(F.log_softmax(logits, dim=1), cls, ignore_index=2),
    "cross_entropy": lambda: F.cross_entropy(logits, cls),
    "cosine_embedding": lambda: F.cosine_embedding_loss(pred, tgt, torch.tensor([1.0, -1.0, 1.0, -1.0])),
    "margin_ranking": lambda: F.margin_ranking_loss(pred[:, 0], pred[:, 1], torch.tensor([1.0, -1.0, 1.0, 1.0]), margin=0.1),
    "soft_margin": lambda: F.soft_margin_loss(pred, bin_tgt * 2 - 1),
    "gaussian_nll": lambda: F.gaussian_nll_loss(pred, tgt, torch.full((4, 3), 0.5)),
    "poisson_nll": lambda: F.poisson_nll_loss(pred, tgt.abs()),
}
for name, fn in cases.items():
    pred.grad = None
    logits.grad = None
    loss = fn()
    print(f"{name}:", r(loss))
    loss.sum().backward()
    g = pred.grad if pred.grad is not None else logits.grad
    print(f"{name}_grad:", r(g))

print("mse_double_target_dtype:", str(F.mse_loss(pred, tgt.double()).dtype))
print("cosine_similarity:", r(F.cosine_similarity(pred, tgt, dim=1)))
print("pairwise_distance:", r(F.pairwise_distance(pred, tgt)))
