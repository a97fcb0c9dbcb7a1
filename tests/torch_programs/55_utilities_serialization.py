"""The utilities real code leans on around the model: torch.utils.data with an IterableDataset
(and the per-worker split it would use), DataLoader(batch_size=None), drop_last, default
collate of dicts, namedtuples, nested lists, strings and numbers, a custom collate_fn, a
Sampler/BatchSampler; torch.save / torch.load of nested containers whose views share storage
(still shared after loading), state_dict with persistent=False buffers, register_buffer,
module.to(dtype) / .double() / .half() / .bfloat16() on cpu, parameters_to_vector and
vector_to_parameters, nn.utils.parametrizations.weight_norm and spectral_norm (and
remove_parametrizations), copy.deepcopy of modules and optimisers (identities and shared
parameters preserved), pickle of tensors and modules, and torch.testing.assert_close with its
error class and first line."""
import collections
import copy
import io
import pickle

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset,
                              SequentialSampler, Sampler, TensorDataset, default_collate)


def r(v):
    if isinstance(v, torch.Tensor):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return [r(x) for x in v]
    return round(v, 5) if isinstance(v, float) else v


def fill(module, seed, scale=0.3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.from_numpy((rng.standard_normal(tuple(p.shape)) * scale)
                                     .astype("float32")))
    return module


def err(fn):
    try:
        fn()
    except Exception as e:                     # noqa: BLE001 - the class is what we print
        return type(e).__name__ + " " + " ".join(str(e).strip().splitlines()[0].split()[:5])
    return "no error"


# ---------------------------------------------------------------------------------------------
# (a) data loading


class Squares(IterableDataset):
    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        lo, hi = self.start, self.end
        if info is not None:                    # never taken here: num_workers=0
            per = (hi - lo + info.num_workers - 1) // info.num_workers
            lo = lo + info.id * per
            hi = min(lo + per, hi)
        for i in range(lo, hi):
            yield torch.tensor([float(i), float(i * i)]), i % 3


print("worker_info_main:", torch.utils.data.get_worker_info())
batches = list(DataLoader(Squares(0, 7), batch_size=3))
print("iterable_batches:", len(batches), [b[0].tolist() for b in batches][2],
      batches[1][1].tolist(), batches[0][1].dtype)
dropped = list(DataLoader(Squares(0, 7), batch_size=3, drop_last=True))
print("iterable_drop_last:", len(dropped))
unbatched = list(DataLoader(Squares(2, 4), batch_size=None))
print("batch_size_none:", [(x.tolist(), y) for x, y in unbatched], type(unbatched[0][1]).__name__)

Point = collections.namedtuple("Point", ["xy", "label"])


class Records(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"id": i, "name": f"rec{i}", "feat": torch.tensor([i, -i], dtype=torch.float32),
                "point": Point(torch.tensor([i * 0.5]), i % 2),
                "nested": [i, [float(i) / 2, torch.tensor(i)]]}


loader = DataLoader(Records(), batch_size=2, shuffle=False)
first = next(iter(loader))
print("collate_keys:", sorted(first), len(loader))
print("collate_id:", first["id"].tolist(), first["id"].dtype, first["name"])
print("collate_feat:", first["feat"].tolist())
print("collate_namedtuple:", type(first["point"]).__name__, first["point"].xy.tolist(),
      first["point"].label.tolist())
print("collate_nested:", first["nested"][0].tolist(), first["nested"][1][0].dtype,
      first["nested"][1][0].tolist(), first["nested"][1][1].tolist())
last = list(loader)[-1]
print("collate_last_partial:", last["id"].tolist(), last["feat"].shape[0])
print("default_collate_direct:", default_collate([(1, 2.5), (3, 4.5)])[1].dtype,
      default_collate([[1, 2], [3, 4]])[0].tolist())


def pad_collate(items):
    seqs = [torch.arange(1, n + 1, dtype=torch.float32) for n, _ in items]
    lens = torch.tensor([len(s) for s in seqs])
    return nn.utils.rnn.pad_sequence(seqs, batch_first=True, padding_value=-1.0), lens


var = DataLoader([(3, 0), (1, 1), (4, 0), (2, 1)], batch_size=3, collate_fn=pad_collate)
print("custom_collate:", [(p.tolist(), n.tolist()) for p, n in var])


class EveryOther(Sampler):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(list(range(0, self.n, 2)) + list(range(1, self.n, 2)))

    def __len__(self):
        return self.n


ds = TensorDataset(torch.arange(10.0).unsqueeze(1), torch.arange(10) % 4)
print("sampler_order:", [y.tolist() for _, y in DataLoader(ds, batch_size=4,
                                                             sampler=EveryOther(10))])
bs = BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False)
print("batch_sampler:", list(bs), len(bs))
print("batch_sampler_loader:", [x.flatten().tolist() for x, _ in DataLoader(ds,
                                                                          batch_sampler=bs)])
sub = torch.utils.data.Subset(ds, [9, 0, 5])
cat = torch.utils.data.ConcatDataset([sub, ds])
print("subset_concat:", len(cat), cat[2][0].tolist(), cat[4][1].item())

# ---------------------------------------------------------------------------------------------
# (b) save / load: nested containers, shared storage, buffers


base = torch.arange(12.0).reshape(3, 4)
obj = {"a": base, "row": base[1], "t": base.t(), "list": [base[:, 2], (torch.tensor(7),)],
       "meta": {"step": 3, "name": "ckpt", "ratio": 0.5}, "long": torch.tensor([1, 2, 3])}
buf = io.BytesIO()
torch.save(obj, buf)
buf.seek(0)
back = torch.load(buf)
print("load_keys:", sorted(back), back["meta"], back["long"].dtype)
back["a"][1, 2] = -100.0
print("load_shared_row:", back["row"].tolist(), back["list"][0].tolist())
print("load_shared_t:", back["t"][2].tolist(), back["t"].is_contiguous(), back["t"].stride())
print("load_original_untouched:", base[1, 2].item(), back["list"][1][0].item())
print("load_same_storage:", back["row"].untyped_storage().data_ptr()
      == back["a"].untyped_storage().data_ptr(), back["row"].storage_offset())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)
        self.register_buffer("scale", torch.tensor([2.0, 0.5]))
        self.register_buffer("cache", torch.zeros(2), persistent=False)
        self.register_buffer("nothing", None)

    def forward(self, x):
        self.cache = self.cache + 1
        return self.bn(self.fc(x)) * self.scale


net = fill(Net(), 3)
x = torch.tensor([[0.1, 0.2, 0.3], [-0.5, 0.4, 1.0], [0.0, -1.0, 0.5]])
net(x)
sd = net.state_dict()
print("state_dict_keys:", list(sd))
print("buffers:", [n for n, _ in net.named_buffers()], r(net.cache))
buf = io.BytesIO()
torch.save(sd, buf)
buf.seek(0)
net2 = Net()
res = net2.load_state_dict(torch.load(buf, weights_only=True))
print("load_result:", res.missing_keys, res.unexpected_keys, r(net2.bn.running_mean),
      net2.bn.num_batches_tracked.item(), r(net2.cache))
bad = dict(sd)
bad["extra"] = torch.ones(1)
del bad["scale"]
print("strict_error:", err(lambda: Net().load_state_dict(bad)))
res2 = Net().load_state_dict(bad, strict=False)
print("nonstrict:", res2.missing_keys, res2.unexpected_keys)
shape_bad = dict(sd)
shape_bad["fc.weight"] = torch.ones(3, 3)
print("shape_error:", err(lambda: Net().load_state_dict(shape_bad)))

# ---------------------------------------------------------------------------------------------
# (c) dtype conversion, vectors of parameters

m = fill(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)), 5)
d = copy.deepcopy(m).double()
print("double:", d[0].weight.dtype, d[1].running_var.dtype, d[1].num_batches_tracked.dtype)
# half precision on cpu (a device without float16, as Ember's opencl, refuses the cast)
h = copy.deepcopy(m).cpu().half()
b16 = copy.deepcopy(m).to("cpu", torch.bfloat16)
print("half_bf16:", h[0].weight.dtype, b16[2].bias.dtype, r(h[0].weight[0].float()),
      r(b16[0].weight[0].float()))
m.eval()
d.eval()
xs = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -0.5]])
print("double_forward:", r(d(xs.double()).flatten()), r(m(xs).flatten()))
back32 = d.float()
print("float_again:", back32[0].weight.dtype, torch.equal(back32[0].weight, m[0].weight))
vec = nn.utils.parameters_to_vector(m.parameters())
print("param_vector:", vec.shape[0], r(vec[:5]), r(vec.sum().item()))
nn.utils.vector_to_parameters(torch.linspace(-1, 1, vec.shape[0]), m.parameters())
print("vector_to_params:", r(m[0].bias), r(m[2].weight), r(m(xs).flatten()))

# ---------------------------------------------------------------------------------------------
# (d) weight_norm and spectral_norm parametrizations

lin = fill(nn.Linear(4, 3), 6)
w0 = lin.weight.detach().clone()
wn = nn.utils.parametrizations.weight_norm(lin, name="weight", dim=0)
print("wn_names:", sorted(n for n, _ in wn.named_parameters()))
print("wn_same_weight:", torch.allclose(wn.weight, w0, atol=1e-6),
      r(wn.parametrizations.weight.original0.flatten()))
o = torch.optim.SGD(wn.parameters(), lr=0.1)
xin = torch.tensor([[1.0, 2.0, -1.0, 0.5], [0.0, 1.0, 1.0, -2.0]])
for _ in range(3):
    o.zero_grad()
    wn(xin).pow(2).sum().backward()
    o.step()
print("wn_trained_g:", r(wn.parametrizations.weight.original0.flatten()),
      r(wn.weight.norm(dim=1)))
nn.utils.parametrize.remove_parametrizations(wn, "weight")
print("wn_removed:", sorted(n for n, _ in wn.named_parameters()), r(wn.weight[0]))
wn1 = nn.utils.parametrizations.weight_norm(fill(nn.Linear(4, 3), 6), dim=1)
print("wn_dim1_g_shape:", tuple(wn1.parametrizations.weight.original0.shape))

sn = nn.utils.parametrizations.spectral_norm(fill(nn.Linear(5, 4), 8), n_power_iterations=3)
with torch.no_grad():
    u0 = torch.tensor([0.5, -0.5, 0.5, 0.5])
    v0 = torch.tensor([0.4, 0.4, -0.4, 0.4, 0.6])
    sn.parametrizations.weight[0]._u.copy_(u0 / u0.norm())
    sn.parametrizations.weight[0]._v.copy_(v0 / v0.norm())
sn.train()
w_sn = sn.weight
print("spectral_norm_sigma:", r(torch.linalg.matrix_norm(w_sn, ord=2).item()))
print("spectral_norm_u:", r(sn.parametrizations.weight[0]._u))
sn.eval()
print("spectral_norm_eval_same:", torch.allclose(sn.weight, w_sn, atol=1e-6),
      sorted(k for k in sn.state_dict()))

# ---------------------------------------------------------------------------------------------
# (e) deepcopy and pickle


class Tied(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(6, 3)
        self.out = nn.Linear(3, 6, bias=False)
        self.out.weight = self.emb.weight


t = fill(Tied(), 9)
t2 = copy.deepcopy(t)
print("deepcopy_tied:", t2.out.weight is t2.emb.weight, t2.emb.weight is t.emb.weight,
      torch.equal(t2.emb.weight, t.emb.weight), len(list(t2.parameters())))
opt = torch.optim.Adam(t.parameters(), lr=0.1)
t.out(t.emb(torch.tensor([1, 2]))).sum().backward()
opt.step()
opt2 = copy.deepcopy(opt)
print("deepcopy_opt:", opt2.param_groups[0]["params"][0] is t.emb.weight,
      len(opt2.state), r(list(opt2.state.values())[0]["exp_avg"][1]))
blob = pickle.dumps(t.emb.weight.detach()[1:3])
un = pickle.loads(blob)
print("pickle_tensor:", tuple(un.shape), r(un[0]), un.requires_grad)
pt = pickle.loads(pickle.dumps(torch.arange(4.0).requires_grad_()))
print("pickle_requires_grad:", pt.requires_grad, pt.is_leaf)
tm = pickle.loads(pickle.dumps(t))
print("pickle_module:", tm.out.weight is tm.emb.weight, r(tm.emb.weight[2]))
print("clone_detach_storage:", t.emb.weight.detach().data_ptr() == t.emb.weight.data_ptr(),
      t.emb.weight.clone().data_ptr() == t.emb.weight.data_ptr())

# ---------------------------------------------------------------------------------------------
# (f) torch.testing.assert_close

a = torch.tensor([1.0, 2.0, 3.0])
print("assert_close_ok:", err(lambda: torch.testing.assert_close(a, a + 1e-7)))
print("assert_close_value:", err(lambda: torch.testing.assert_close(a, a + 0.1)))
print("assert_close_dtype:", err(lambda: torch.testing.assert_close(a, a.double())))
print("assert_close_shape:", err(lambda: torch.testing.assert_close(a, a[:2])))
print("assert_close_tol:", err(lambda: torch.testing.assert_close(a, a + 0.1, rtol=0, atol=0.2)))
print("assert_close_nan:", err(lambda: torch.testing.assert_close(torch.tensor(float("nan")),
                                                                  torch.tensor(float("nan")))),
      err(lambda: torch.testing.assert_close(torch.tensor(float("nan")),
                                             torch.tensor(float("nan")), equal_nan=True)))
print("assert_close_int:", err(lambda: torch.testing.assert_close(torch.tensor([1, 2]),
                                                                  torch.tensor([1, 3]))))
print("assert_close_containers:", err(lambda: torch.testing.assert_close(
    {"x": a, "y": [a, 1.0]}, {"x": a, "y": [a, 1.0]})),
      err(lambda: torch.testing.assert_close([a, a], [a])))
print("assert_close_nondtype:", err(lambda: torch.testing.assert_close(
    a, a.double(), check_dtype=False)))
print("allclose_isclose:", torch.allclose(a, a + 1e-6), torch.isclose(a, a + 0.01, rtol=0,
                                                                       atol=0.005).tolist())
print("relu_module_eq:", F.relu(a - 2).tolist())

# ---------------------------------------------------------------------------------------------
# (g) more of the module and data API

print("collate_numpy_bool:", default_collate([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
      .dtype, default_collate([True, False]).tolist(), default_collate([True, False]).dtype,
      {k: v if isinstance(v, list) else (v.tolist(), v.dtype) for k, v in default_collate(
          [{"s": "a", "v": np.int64(3)}, {"s": "b", "v": np.int64(4)}]).items()})
chain = torch.utils.data.ChainDataset([Squares(0, 2), Squares(5, 6)])
print("chain_dataset:", [int(x[0]) for x, _ in chain])
stack = torch.utils.data.StackDataset(ds, TensorDataset(torch.arange(10) * 10))
print("stack_dataset:", len(stack), stack[3][1][0].item(), stack[3][0][1].item())
net3 = fill(Net(), 4)
kv = net3.state_dict(keep_vars=True)
print("keep_vars:", kv["fc.weight"] is net3.fc.weight, kv["fc.weight"].requires_grad,
      net3.state_dict()["fc.weight"].requires_grad)
print("get_submodule:", type(net3.get_submodule("bn")).__name__,
      tuple(net3.get_parameter("fc.bias").shape), net3.get_buffer("scale").tolist())
tied = Tied()
print("named_params_dup:", len(list(tied.named_parameters())),
      len(list(tied.named_parameters(remove_duplicate=False))))
fresh = Net()
res = fresh.load_state_dict(net3.state_dict(), assign=True)
print("assign_load:", fresh.fc.weight is not net3.fc.weight, isinstance(fresh.fc.weight,
                                                                          nn.Parameter),
      fresh.fc.weight.requires_grad, torch.equal(fresh.fc.weight, net3.fc.weight))
net3.register_buffer("scale", torch.tensor([3.0, 3.0]))
print("buffer_replaced:", net3.scale.tolist(), list(net3.state_dict())[:1])
print("buffer_error:", err(lambda: net3.register_buffer("fc", torch.zeros(1))))
print("module_repr_lines:", len(repr(net3).splitlines()), repr(net3.bn))
print("train_flags:", net3.training, net3.eval().bn.training, net3.train().bn.training,
      net3.requires_grad_(False).fc.weight.requires_grad)
print("zero_grad_none:", all(p.grad is None for p in net3.parameters()))
