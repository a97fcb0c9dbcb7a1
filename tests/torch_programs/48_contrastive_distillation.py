"""Contrastive and metric learning with the training mechanics people wrap around it: a
SimCLR-style NT-Xent loss on L2-normalised embeddings with a temperature, triplet margin loss
with hard-negative mining through masks and topk, CosineEmbeddingLoss and TripletMarginLoss
against hand-written versions, knowledge distillation with KLDivLoss (log_target both ways,
reduction batchmean) at a temperature, gradient accumulation over micro-batches matching one
big batch, torch.utils.checkpoint with use_reentrant False and True matching plain backward,
register_forward_hook feature extraction (and removing the hook), model.apply initialisation,
named_modules filtering, requires_grad_ freezing of a submodule and optimizer param groups with
different learning rates, and moving the trained head into a renamed model through state-dict
hooks (a load pre-hook that migrates old key names, a post-hook that forgives extra keys)."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def data(seed, shape, scale=1.0):
    rng = np.random.default_rng(seed)
    return torch.tensor((rng.standard_normal(shape) * scale).astype("float32"))


def det_init(module):
    """model.apply initialiser: deterministic weights from the parameter shape."""
    if isinstance(module, nn.Linear):
        with torch.no_grad():
            n = module.weight.numel()
            w = torch.arange(n, dtype=torch.float32).reshape(module.weight.shape)
            module.weight.copy_(torch.sin(w * 0.37 + module.in_features) * 0.4)
            if module.bias is not None:
                module.bias.copy_(torch.cos(torch.arange(module.out_features) * 0.5) * 0.1)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class Encoder(nn.Module):
    def __init__(self, d_in=6, d_hid=12, d_out=4):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(d_in, d_hid), nn.ReLU(), nn.LayerNorm(d_hid),
                                      nn.Linear(d_hid, d_hid), nn.GELU())
        self.head = nn.Linear(d_hid, d_out)

    def forward(self, x):
        return self.head(self.backbone(x))


# ---------------------------------------------------------------------------------------------
# (a) NT-Xent (SimCLR)

def nt_xent(z1, z2, temperature):
    z = F.normalize(torch.cat([z1, z2], dim=0), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / temperature
    sim = sim.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, targets)


enc = Encoder()
enc.apply(det_init)
x = data(1, (8, 6))
view1 = x + 0.1 * torch.sin(torch.arange(48.0).reshape(8, 6))
view2 = x * 0.9 - 0.05
z1, z2 = enc(view1), enc(view2)
for t in (0.1, 0.5):
    print(f"nt_xent_t{t}:", r(nt_xent(z1, z2, t).item()))
norms = F.normalize(z1, dim=1).norm(dim=1)
print("normalized_norms:", torch.allclose(norms, torch.ones(8), atol=1e-6))
cos = F.cosine_similarity(z1.unsqueeze(1), z2.unsqueeze(0), dim=-1)
print("cosine_matrix_diag:", r(cos.diagonal()))
print("cosine_argmax:", cos.argmax(dim=1).tolist())

opt = torch.optim.SGD(enc.parameters(), lr=0.05, momentum=0.9)
for step in range(4):
    opt.zero_grad()
    loss = nt_xent(enc(view1), enc(view2), 0.2)
    loss.backward()
    opt.step()
    print(f"simclr_step{step}:", r(loss.item()))

# ---------------------------------------------------------------------------------------------
# (b) triplet loss with hard negative mining, and the built-in losses

emb = F.normalize(data(2, (10, 5)), dim=1)
labels = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 3])
dist = torch.cdist(emb, emb)
same = labels.unsqueeze(0) == labels.unsqueeze(1)
eye = torch.eye(10, dtype=torch.bool)
pos_mask = same & ~eye
neg_mask = ~same
hardest_pos = (dist * pos_mask).max(dim=1).values
hardest_neg = dist.masked_fill(~neg_mask, float("inf")).min(dim=1).values
valid = pos_mask.any(dim=1)
print("valid_anchors:", valid.tolist())
batch_hard = F.relu(hardest_pos - hardest_neg + 0.3)[valid].mean()
print("batch_hard_triplet:", r(batch_hard.item()))
top2 = dist.masked_fill(~neg_mask, float("inf")).topk(2, dim=1, largest=False)
print("top2_neg_idx:", top2.indices[:4].tolist())
print("top2_neg_dist:", r(top2.values[:3]))

anchor, positive, negative = emb[:4], emb[3:7], emb[[1, 2, 4, 9]]
tml = nn.TripletMarginLoss(margin=0.5, p=2)
manual = F.relu((anchor - positive).norm(dim=1) - (anchor - negative).norm(dim=1) + 0.5).mean()
print("triplet_builtin:", r(tml(anchor, positive, negative).item()))
print("triplet_close_to_manual:", abs(tml(anchor, positive, negative) - manual).item() < 1e-5)
print("triplet_swap:", r(F.triplet_margin_loss(anchor, positive, negative, margin=1.0,
                                                swap=True, reduction="sum").item()))
cel = nn.CosineEmbeddingLoss(margin=0.2)
tgt = torch.tensor([1, -1, 1, -1])
print("cosine_embedding:", r(cel(anchor, negative, tgt).item()))
print("cosine_embedding_none:", r(F.cosine_embedding_loss(anchor, positive, tgt, margin=-0.1,
                                                          reduction="none")))
print("margin_ranking:", r(F.margin_ranking_loss(anchor[:, 0], positive[:, 0], tgt,
                                                 margin=0.1).item()))

# ---------------------------------------------------------------------------------------------
# (c) knowledge distillation with KLDivLoss

teacher = Encoder(6, 16, 5)
teacher.apply(det_init)
student = Encoder(6, 8, 5)
student.apply(det_init)
xs = data(3, (12, 6))
T = 3.0
with torch.no_grad():
    t_logits = teacher(xs)
s_logits = student(xs)
kl = nn.KLDivLoss(reduction="batchmean")
kl_log = nn.KLDivLoss(reduction="batchmean", log_target=True)
a = kl(F.log_softmax(s_logits / T, dim=1), F.softmax(t_logits / T, dim=1)) * T * T
b = kl_log(F.log_softmax(s_logits / T, dim=1), F.log_softmax(t_logits / T, dim=1)) * T * T
print("kd_kl:", r(a.item()), r(b.item()))
print("kd_same:", abs(a - b).item() < 1e-5)
print("kl_sum_none:", r(F.kl_div(F.log_softmax(s_logits[:2], 1), F.softmax(t_logits[:2], 1),
                                 reduction="none").sum(1)))
hard = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1])
opt = torch.optim.Adam(student.parameters(), lr=0.01)
for step in range(5):
    opt.zero_grad()
    s_logits = student(xs)
    soft = kl(F.log_softmax(s_logits / T, 1), F.softmax(t_logits / T, 1)) * T * T
    loss = 0.7 * soft + 0.3 * F.cross_entropy(s_logits, hard)
    loss.backward()
    opt.step()
    print(f"kd_step{step}:", r(loss.item()))

# ---------------------------------------------------------------------------------------------
# (d) gradient accumulation equals one big batch

def fresh():
    m = Encoder(6, 10, 3)
    m.apply(det_init)
    return m


xb, yb = data(4, (12, 6)), torch.tensor([0, 1, 2] * 4)
big = fresh()
F.cross_entropy(big(xb), yb).backward()
acc = fresh()
for i in range(3):
    (F.cross_entropy(acc(xb[4 * i:4 * i + 4]), yb[4 * i:4 * i + 4]) / 3).backward()
same_grads = all(torch.allclose(p.grad, q.grad, atol=1e-6)
                 for p, q in zip(big.parameters(), acc.parameters()))
print("accumulation_equal:", same_grads)
print("accumulated_head_grad:", r(acc.head.weight.grad[0]))
opt = torch.optim.SGD(acc.parameters(), lr=0.1)
opt.step()
opt.zero_grad(set_to_none=True)
print("grads_none_after_zero:", all(p.grad is None for p in acc.parameters()))

# ---------------------------------------------------------------------------------------------
# (e) activation checkpointing

for reentrant in (False, True):
    m = fresh()
    inp = data(5, (4, 6)).requires_grad_()
    h = checkpoint(m.backbone, inp, use_reentrant=reentrant)
    out = m.head(h).pow(2).sum()
    out.backward()
    ref = fresh()
    inp2 = inp.detach().clone().requires_grad_()
    ref.head(ref.backbone(inp2)).pow(2).sum().backward()
    print(f"checkpoint_reentrant_{reentrant}:", r(out.item()),
          torch.allclose(inp.grad, inp2.grad, atol=1e-6),
          torch.allclose(m.backbone[0].weight.grad, ref.backbone[0].weight.grad, atol=1e-6))

# ---------------------------------------------------------------------------------------------
# (f) hooks, named_modules, freezing and param groups

model = fresh()
features = {}


def save_to(name):
    def hook(module, inputs, output):
        features[name] = output.detach()
    return hook


handles = [mod.register_forward_hook(save_to(name)) for name, mod in model.named_modules()
           if isinstance(mod, (nn.ReLU, nn.GELU))]
print("hooked:", sorted(features) == [], len(handles))
out = model(xb[:3])
print("features:", sorted(features), [tuple(v.shape) for _, v in sorted(features.items())])
print("relu_zeros:", (features["backbone.1"] == 0).sum().item())
print("gelu_feat:", r(features["backbone.4"][0, :4]))
for h in handles:
    h.remove()
features.clear()
model(xb[:3])
print("after_remove:", len(features))


def edit_output(module, inputs, output):
    return output * 2.0


plain = model(xb[:2])
h = model.head.register_forward_hook(edit_output)
print("hook_doubles:", torch.allclose(model(xb[:2]), 2 * plain))
h.remove()
pre = model.backbone[0].register_forward_pre_hook(lambda mod, args: (args[0] * 0.0,))
print("pre_hook_zero_input:", r(model.backbone[0](xb[:1])[0, :3]),
      r(model.backbone[0].bias[:3]))
pre.remove()

print("linear_names:", [n for n, mod in model.named_modules() if isinstance(mod, nn.Linear)])
print("num_modules:", len(list(model.modules())), len(list(model.children())))
model.backbone.requires_grad_(False)
trainable = [n for n, p in model.named_parameters() if p.requires_grad]
print("trainable:", trainable)
model.backbone.requires_grad_(True)
model.backbone[0].requires_grad_(False)
groups = [
    {"params": [p for p in model.backbone.parameters() if p.requires_grad], "lr": 0.01},
    {"params": model.head.parameters(), "lr": 0.1, "momentum": 0.5},
]
opt = torch.optim.SGD(groups, lr=0.05, momentum=0.9)
print("group_lrs:", [g["lr"] for g in opt.param_groups], [g["momentum"] for g in opt.param_groups])
print("group_sizes:", [len(g["params"]) for g in opt.param_groups])
frozen_before = model.backbone[0].weight.detach().clone()
for step in range(3):
    opt.zero_grad()
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    print(f"groups_step{step}:", r(loss.item()))
print("frozen_unchanged:", torch.equal(frozen_before, model.backbone[0].weight),
      model.backbone[0].weight.grad is None)
print("head_w:", r(model.head.weight[1]))
print("state_keys:", sorted(opt.state_dict()["state"].keys()),
      [sorted(g.keys()) for g in opt.state_dict()["param_groups"]][0])

# ---------------------------------------------------------------------------------------------
# (g) checkpoint migration with state-dict hooks

saved_log = []
h_pre = model.register_state_dict_pre_hook(lambda mod, prefix, keep: saved_log.append(prefix))


def add_step(mod, sd, prefix, local_metadata):
    sd[prefix + "num_steps"] = torch.tensor(3)


h_post = model.head.register_state_dict_post_hook(add_step)
ckpt = model.state_dict()
print("ckpt_keys:", list(ckpt.keys())[-3:], saved_log)
h_pre.remove()
h_post.remove()
print("ckpt_keys_after_remove:", len(model.state_dict()))


class Renamed(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = Encoder(6, 10, 3).backbone
        self.classifier = nn.Linear(10, 3)

    def forward(self, x):
        return self.classifier(self.trunk(x))


def migrate(mod, sd, prefix, local_metadata, strict, missing, unexpected, error_msgs):
    for key in list(sd):
        new = key.replace("backbone.", "trunk.").replace("head.", "classifier.")
        sd[new] = sd.pop(key)


def forgive(mod, incompatible):
    incompatible.unexpected_keys[:] = [k for k in incompatible.unexpected_keys
                                       if not k.endswith("num_steps")]


new_model = Renamed()
new_model.register_load_state_dict_pre_hook(migrate)
new_model.register_load_state_dict_post_hook(forgive)
print("migrated_load:", new_model.load_state_dict(dict(ckpt)))
print("migrated_same:", torch.allclose(new_model(xb[:4]), model(xb[:4])))


def assign_plain_tensor():
    model.head.weight = torch.zeros(3, 10)


try:
    assign_plain_tensor()
except TypeError as exc:
    print("assign_tensor_error:", str(exc))
