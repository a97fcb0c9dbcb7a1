"""A GRU sequence regressor (batch_first, 2 layers), a bidirectional GRU, GRUCell and RNN."""
import numpy as np
import torch
import torch.nn as nn


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 6) if isinstance(v, float) else v


def init_params(model, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype("float32") * scale))


class SeqRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(input_size=2, hidden_size=8, num_layers=2, batch_first=True)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        y, h = self.gru(x)
        return self.out(y[:, -1]).squeeze(-1), h


rng = np.random.default_rng(14)
X = torch.tensor(rng.standard_normal((16, 7, 2)).astype("float32"))
# target: running sum of the first feature minus the last value of the second feature
Y = X[:, :, 0].sum(dim=1) * 0.3 - X[:, -1, 1]

model = SeqRegressor()
init_params(model, 140)
print("gru_param_names:", [n for n, _ in model.gru.named_parameters()])
pred, h = model(X)
print("gru_h_shape:", tuple(h.shape))
print("gru_initial_pred:", r(pred[:5]))
opt = torch.optim.Adam(model.parameters(), lr=0.02)
for step in range(40):
    pred, _ = model(X)
    loss = nn.functional.mse_loss(pred, Y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 10 == 9:
        print(f"gru_loss_{step}:", r(loss.item()))
print("gru_final_pred:", r(pred[:5].detach()))
print("gru_weight_hh_l1_grad_norm:", r(model.gru.weight_hh_l1.grad.norm().item()))

# bidirectional, sequence-first, with an initial hidden state
bi = nn.GRU(3, 4, bidirectional=True)
init_params(bi, 141, 0.5)
seq = torch.tensor(rng.standard_normal((5, 2, 3)).astype("float32"))
h0 = torch.tensor(rng.standard_normal((2, 2, 4)).astype("float32"))
out, hn = bi(seq, h0)
print("bigru_shapes:", tuple(out.shape), tuple(hn.shape))
print("bigru_out_first:", r(out[0]))
print("bigru_out_last:", r(out[-1]))
print("bigru_hn:", r(hn))
print("bigru_param_names:", [n for n, _ in bi.named_parameters()])

# unbatched input (2-D) works too
out_u, hn_u = bi(seq[:, 0])
print("bigru_unbatched_shapes:", tuple(out_u.shape), tuple(hn_u.shape))

cell = nn.GRUCell(3, 4)
init_params(cell, 142, 0.5)
hx = torch.zeros(2, 4)
outs = []
for t in range(seq.shape[0]):
    hx = cell(seq[t], hx)
    outs.append(hx)
print("grucell_h:", r(hx))
print("grucell_stack_shape:", tuple(torch.stack(outs).shape))

rnn = nn.RNN(3, 4, nonlinearity="tanh", batch_first=False)
init_params(rnn, 143, 0.5)
o, hr = rnn(seq)
print("rnn_tanh_hn:", r(hr))
rnn_relu = nn.RNN(3, 4, nonlinearity="relu")
init_params(rnn_relu, 144, 0.5)
print("rnn_relu_out_last:", r(rnn_relu(seq)[0][-1]))
