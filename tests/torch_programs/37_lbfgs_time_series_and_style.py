"""Second-order and less common optimizers in ordinary scripts: the pytorch/examples
time_sequence_prediction recipe (a two-layer LSTMCell model on sine waves, trained with LBFGS
with and without the strong-Wolfe line search, then predicting future steps), a tiny neural style
transfer (gram matrices of fixed conv features, content and style MSE, optimizing the input
image itself with LBFGS and Adam, clamp_ under no_grad), and a few steps each of ReduceLROnPlateau,
CyclicLR, Rprop, ASGD, NAdam, RAdam (decoupled weight decay), Adamax and Adagrad.

SparseAdam is left out: it needs sparse gradients (nn.Embedding(sparse=True)), which Ember does
not have."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import CyclicLR, ReduceLROnPlateau


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy(
                (rng.standard_normal(tuple(p.shape)) * scale).astype("float32")))
    return module


# ---------------------------------------------------------------------------------------------
# time sequence prediction: sine waves with random phase, LSTMCell x2 + Linear, LBFGS

class Sequence(nn.Module):
    def __init__(self, hidden=10):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        n = input.size(0)
        h_t = torch.zeros(n, self.hidden, dtype=input.dtype)
        c_t = torch.zeros(n, self.hidden, dtype=input.dtype)
        h_t2 = torch.zeros(n, self.hidden, dtype=input.dtype)
        c_t2 = torch.zeros(n, self.hidden, dtype=input.dtype)
        output = None
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):  # feed the prediction back in
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


rng = np.random.default_rng(37)
L, N = 24, 6
x = np.arange(L)[None, :] + rng.integers(-8, 8, size=(N, 1))
waves = np.sin(x / 4.0).astype("float32")
inp = torch.tensor(waves[2:, :-1])
target = torch.tensor(waves[2:, 1:])
test_inp = torch.tensor(waves[:2, :-1])
test_target = torch.tensor(waves[:2, 1:])
print("ts_shapes:", list(inp.shape), list(target.shape), inp.dtype)

for tag, kw in [("lbfgs", dict(lr=0.5, max_iter=4, history_size=5)),
                ("lbfgs_wolfe", dict(lr=0.8, max_iter=4, history_size=3,
                                     line_search_fn="strong_wolfe"))]:
    seq = fill(Sequence(), 1)
    criterion = nn.MSELoss()
    optimizer = torch.optim.LBFGS(seq.parameters(), **kw)
    losses = []
    for step in range(2):  # more LBFGS steps amplify float32 rounding past 1e-4
        def closure():
            optimizer.zero_grad()
            out = seq(inp)
            loss = criterion(out, target)
            loss.backward()
            return loss
        loss = optimizer.step(closure)
        losses.append(loss.item())
    print(f"{tag}_losses:", r(losses))
    state = optimizer.state[optimizer._params[0]]
    print(f"{tag}_state:", state["func_evals"], state["n_iter"], len(state["old_dirs"]))
    with torch.no_grad():
        future = 5
        pred = seq(test_inp, future=future)
        test_loss = criterion(pred[:, :-future], test_target)
    print(f"{tag}_test_loss:", r(test_loss))
    print(f"{tag}_pred_shape:", list(pred.shape))
    print(f"{tag}_future:", r(pred[:, -future:]))
    print(f"{tag}_lstm2_bias:", r(seq.lstm2.bias_hh[:4]))

# LBFGS on a plain quadratic (double precision): tolerance_grad stops it early
A = torch.tensor([[3.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
b = torch.tensor([1.0, -2.0], dtype=torch.float64)
w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
opt = torch.optim.LBFGS([w], lr=1, max_iter=20, tolerance_grad=1e-10,
                        line_search_fn="strong_wolfe")


def quad():
    opt.zero_grad()
    loss = 0.5 * w @ A @ w - b @ w
    loss.backward()
    return loss


opt.step(quad)
print("quad_solution:", r(w.detach()), r(torch.linalg.solve(A, b)))
print("quad_evals:", opt.state[w]["func_evals"], opt.state[w]["n_iter"])

# ---------------------------------------------------------------------------------------------
# neural style transfer in miniature

rng = np.random.default_rng(371)
conv1 = torch.tensor((rng.standard_normal((4, 3, 3, 3)) * 0.3).astype("float32"))
conv2 = torch.tensor((rng.standard_normal((6, 4, 3, 3)) * 0.3).astype("float32"))
content_img = torch.tensor(rng.uniform(0, 1, (1, 3, 10, 10)).astype("float32"))
style_img = torch.tensor(rng.uniform(0, 1, (1, 3, 10, 10)).astype("float32"))
mean = torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
std = torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)


def features(img):
    x = (img - mean) / std
    f1 = F.relu(F.conv2d(x, conv1, padding=1))
    f2 = F.relu(F.conv2d(F.avg_pool2d(f1, 2), conv2, padding=1))
    return f1, f2


def gram_matrix(feat):
    a, b, c, d = feat.size()
    flat = feat.view(a * b, c * d)
    G = torch.mm(flat, flat.t())
    return G.div(a * b * c * d)


with torch.no_grad():
    c_feats = features(content_img)
    s_grams = [gram_matrix(f) for f in features(style_img)]
print("gram_shapes:", [list(g.shape) for g in s_grams])
print("gram_diag:", r(torch.diagonal(s_grams[1]).round(decimals=5)))
print("gram_symmetric:", torch.allclose(s_grams[0], s_grams[0].t()))


def style_loss_fn(img, style_weight=1e3, content_weight=1.0):
    f = features(img)
    style = sum(F.mse_loss(gram_matrix(fi), gi) for fi, gi in zip(f, s_grams))
    content = F.mse_loss(f[1], c_feats[1])
    return style * style_weight, content * content_weight


for tag in ["lbfgs", "adam"]:
    input_img = content_img.clone().requires_grad_(True)
    if tag == "lbfgs":
        optimizer = torch.optim.LBFGS([input_img], lr=0.5, max_iter=3)
    else:
        optimizer = torch.optim.Adam([input_img], lr=0.02)
    trace = []
    for step in range(4):
        def closure():
            with torch.no_grad():
                input_img.clamp_(0, 1)
            optimizer.zero_grad()
            s, c = style_loss_fn(input_img)
            loss = s + c
            loss.backward()
            trace.append([s.item(), c.item()])
            return loss
        optimizer.step(closure)
    with torch.no_grad():
        input_img.clamp_(0, 1)
    print(f"style_{tag}_trace:", r(trace[:6]), len(trace))
    print(f"style_{tag}_img_stats:", r(input_img.mean()), r(input_img.std()),
          r(input_img.min()), r(input_img.max()))
    print(f"style_{tag}_pixel:", r(input_img[0, :, 2, 3]))
    print(f"style_{tag}_requires_grad:", input_img.requires_grad, input_img.grad is not None)

# ---------------------------------------------------------------------------------------------
# other optimizers and schedulers, a few steps each

rng = np.random.default_rng(372)
X = torch.tensor(rng.standard_normal((20, 5)).astype("float32"))
Y = torch.tensor(rng.integers(0, 3, size=20))


def net(seed=3):
    return fill(nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)), seed)


def train(name, make_opt, make_sched=None, steps=6, plateau=False, batch=False):
    model = net()
    opt = make_opt(model.parameters())
    sched = make_sched(opt) if make_sched else None
    losses, lrs = [], []
    for i in range(steps):
        xb, yb = (X[i % 4 * 5:(i % 4 + 1) * 5], Y[i % 4 * 5:(i % 4 + 1) * 5]) if batch else (X, Y)
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        lrs.append(opt.param_groups[0]["lr"])
        if sched is not None:
            if plateau:
                sched.step(round(loss.item(), 1))
            else:
                sched.step()
    print(f"{name}_losses:", r(losses))
    if sched is not None:
        print(f"{name}_lrs:", r(lrs))
    print(f"{name}_bias:", r(model[2].bias))
    return model, opt, sched


_, opt, s = train("plateau", lambda p: torch.optim.SGD(p, lr=0.5),
                  lambda o: ReduceLROnPlateau(o, mode="min", factor=0.5, patience=0,
                                              threshold=0.05, cooldown=1, min_lr=0.05),
                  steps=8, plateau=True, batch=True)
print("plateau_state:", s.num_bad_epochs, s.cooldown_counter, r(s.best))
_, opt, s = train("cyclic_tri2", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                  lambda o: CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=2,
                                     step_size_down=3, mode="triangular2"), steps=12)
print("cyclic_momentum:", r(opt.param_groups[0]["momentum"]), r(s.get_last_lr()))
_, opt, s = train("cyclic_exp", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                  lambda o: CyclicLR(o, base_lr=0.02, max_lr=0.2, step_size_up=3,
                                     mode="exp_range", gamma=0.9, cycle_momentum=False),
                  steps=8)
_, opt, s = train("cyclic_adam", lambda p: torch.optim.Adam(p, lr=0.01),
                  lambda o: CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=2,
                                     cycle_momentum=False,
                                     scale_fn=lambda x: 1 / (2.0 ** (x - 1)),
                                     scale_mode="cycle"), steps=6)
train("rprop", lambda p: torch.optim.Rprop(p, lr=0.02, etas=(0.4, 1.3), step_sizes=(1e-4, 1)))
train("rprop_max", lambda p: torch.optim.Rprop(p, lr=0.01, maximize=True), steps=4)
_, opt, _ = train("asgd", lambda p: torch.optim.ASGD(p, lr=0.05, t0=2, lambd=1e-3),
                  steps=6)
st = opt.state[opt.param_groups[0]["params"][0]]
print("asgd_state:", sorted(st.keys()), r(float(st["eta"])), r(float(st["mu"])),
      r(st["ax"][0, :3]))
train("nadam", lambda p: torch.optim.NAdam(p, lr=0.02, momentum_decay=0.004))
train("nadam_decoupled", lambda p: torch.optim.NAdam(p, lr=0.02, weight_decay=0.1,
                                                      decoupled_weight_decay=True))
train("radam", lambda p: torch.optim.RAdam(p, lr=0.02), steps=8)
train("radam_decoupled", lambda p: torch.optim.RAdam(p, lr=0.02, weight_decay=0.1,
                                                      decoupled_weight_decay=True), steps=8)
train("adamax", lambda p: torch.optim.Adamax(p, lr=0.05, betas=(0.8, 0.99), weight_decay=0.01))
_, opt, _ = train("adagrad", lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.05,
                                                           initial_accumulator_value=0.1))
st = opt.state[opt.param_groups[0]["params"][3]]
print("adagrad_state:", sorted(st.keys()), r(float(st["step"])), r(st["sum"]))

# per-group Adamax state dict round trip
model = net(5)
opt = torch.optim.Adamax([{"params": model[0].parameters(), "lr": 0.01},
                          {"params": model[2].parameters()}], lr=0.05)
for _ in range(2):
    opt.zero_grad()
    F.cross_entropy(model(X), Y).backward()
    opt.step()
sd = opt.state_dict()
opt2 = torch.optim.Adamax([{"params": model[0].parameters()},
                           {"params": model[2].parameters()}], lr=0.3)
opt2.load_state_dict(sd)
print("adamax_sd_lrs:", [g["lr"] for g in opt2.param_groups])
print("adamax_sd_state:", sorted(sd["state"][3].keys()), r(sd["state"][3]["exp_inf"]))

# ---------------------------------------------------------------------------------------------
# the errors these optimizers and schedulers raise

p = nn.Parameter(torch.zeros(2))
q = nn.Parameter(torch.zeros(2))
for label, fn in [
        ("lbfgs_groups", lambda: torch.optim.LBFGS([{"params": [p]}, {"params": [q]}])),
        ("lbfgs_line_search", lambda: torch.optim.LBFGS([p], line_search_fn="armijo").step(
            lambda: p.sum())),
        ("lbfgs_no_closure", lambda: torch.optim.LBFGS([p]).step()),
        ("plateau_mode", lambda: ReduceLROnPlateau(torch.optim.SGD([p], lr=0.1), mode="avg")),
        ("plateau_factor", lambda: ReduceLROnPlateau(torch.optim.SGD([p], lr=0.1), factor=1.5)),
        ("plateau_threshold_mode", lambda: ReduceLROnPlateau(torch.optim.SGD([p], lr=0.1),
                                                             threshold_mode="pct")),
        ("cyclic_no_momentum", lambda: CyclicLR(torch.optim.Adagrad([p], lr=0.1), 0.01, 0.1)),
        ("cyclic_mode", lambda: CyclicLR(torch.optim.SGD([p], lr=0.1, momentum=0.9), 0.01, 0.1,
                                         mode="sawtooth")),
        ("rprop_etas", lambda: torch.optim.Rprop([p], etas=(1.2, 0.5))),
        ("nadam_momentum_decay", lambda: torch.optim.NAdam([p], momentum_decay=-0.1)),
        ("radam_beta", lambda: torch.optim.RAdam([p], betas=(0.9, 1.0))),
        ("adamax_eps", lambda: torch.optim.Adamax([p], eps=-1.0)),
        ("adagrad_lr_decay", lambda: torch.optim.Adagrad([p], lr_decay=-0.1)),
        ("adagrad_init_acc", lambda: torch.optim.Adagrad([p], initial_accumulator_value=-1)),
        ("asgd_weight_decay", lambda: torch.optim.ASGD([p], weight_decay=-0.5)),
        ("sparse_adam_dense", lambda: (p.sum().backward(),
                                       torch.optim.SparseAdam([p]).step()))]:
    try:
        fn()
        print(label + ":", "no error")
    except (RuntimeError, ValueError, TypeError) as err:
        print(label + ":", type(err).__name__, repr(str(err).splitlines()[0][:200]))
