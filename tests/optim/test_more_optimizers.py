"""Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS, SparseAdam, the composite and cyclic
lr schedulers and swa_utils, each against torch step by step."""
import copy
import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="torch is the reference for these parity tests")

STEPS = 20
EPOCHS = 30


def _init_arrays():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((3, 4)).astype(np.float32),
            rng.standard_normal((4,)).astype(np.float32)]


def _grad(p, k):
    # a shifted quadratic with per-element curvature plus a step-dependent wobble, so sign
    # flips (Rprop) and momentum terms are exercised
    curv = 0.5 + np.arange(p.size, dtype=np.float32).reshape(p.shape) / p.size
    return (curv * (p - 0.3) + np.float32(0.1 * np.sin(k))).astype(np.float32)


def _run(lib, opt, params, steps):
    traj = []
    for k in range(steps):
        for p in params:
            p.grad = lib.tensor(_grad(p.detach().numpy(), k))
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def _make(lib, name, kwargs, arrays):
    params = [lib.tensor(a.copy(), requires_grad=True) for a in arrays]
    extra = dict(foreach=False) if lib is torch else {}
    return params, getattr(lib.optim, name)(params, **kwargs, **extra)


def _assert_same(ours, ref, rtol=1e-5, atol=1e-6):
    for k, (a, b) in enumerate(zip(ours, ref)):
        for pa, pb in zip(a, b):
            np.testing.assert_allclose(pa, pb, rtol=rtol, atol=atol, err_msg=f"step {k}")


CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.05)),
    ("Adadelta", dict(lr=0.5, maximize=True)),
    ("Adamax", dict(lr=0.02)),
    ("Adamax", dict(lr=0.05, betas=(0.8, 0.95), eps=1e-5, weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, maximize=True)),
    ("NAdam", dict(lr=0.02)),
    ("NAdam", dict(lr=0.02, momentum_decay=0.01, weight_decay=0.05)),
    ("NAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, betas=(0.8, 0.9), maximize=True)),
    ("RAdam", dict(lr=0.02)),
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.9), weight_decay=0.05)),
    ("RAdam", dict(lr=0.02, weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(lr=0.02, maximize=True)),
    ("ASGD", dict(lr=0.05)),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.6, t0=5, weight_decay=0.05)),
    ("ASGD", dict(lr=0.05, t0=3, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.05, maximize=True)),
]


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kwargs):
    arrays = _init_arrays()
    params, opt = _make(ember, name, kwargs, arrays)
    ours = _run(ember, opt, params, STEPS)
    tparams, topt = _make(torch, name, kwargs, arrays)
    ref = _run(torch, topt, tparams, STEPS)
    _assert_same(ours, ref)
    # the parameters really moved (a trajectory test that cannot fail is no test)
    assert not np.allclose(ours[-1][0], arrays[0])


@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_state_dict_matches_torch_and_resumes(name, kwargs):
    """Same state keys and values as torch; a fresh optimizer loaded mid-training goes on
    exactly as the original would."""
    arrays = _init_arrays()
    params, opt = _make(ember, name, kwargs, arrays)
    _run(ember, opt, params, 7)
    tparams, topt = _make(torch, name, kwargs, arrays)
    _run(torch, topt, tparams, 7)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"]) == [0, 1]
    for i in (0, 1):
        assert sorted(sd["state"][i]) == sorted(tsd["state"][i])
        for key, v in tsd["state"][i].items():
            np.testing.assert_allclose(np.asarray(sd["state"][i][key].numpy()), v.numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=key)
    assert sorted(sd["param_groups"][0]) == sorted(tsd["param_groups"][0])
    for key, v in tsd["param_groups"][0].items():
        if key != "foreach":
            assert sd["param_groups"][0][key] == v, key

    clones = [ember.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    opt2 = getattr(ember.optim, name)(clones, **kwargs)
    # a deep copy, as a checkpoint written to disk and read back is
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    _assert_same(_run(ember, opt2, clones, 8), _run(ember, opt, params, 8), rtol=0, atol=0)


def _accelerators():
    return [d for d in ember.backends.available() if d != "cpu"]


@pytest.mark.parametrize("device", _accelerators() or [pytest.param(
    "none", marks=pytest.mark.skip(reason="no accelerator backend available here"))])
@pytest.mark.parametrize("name,kwargs", [c for i, c in enumerate(CASES) if i % 3 == 1])
def test_trajectory_on_other_devices(device, name, kwargs):
    """The same updates on each accelerator backend, with the state on the device."""
    arrays = _init_arrays()
    params = [ember.tensor(a.copy(), device=device, requires_grad=True) for a in arrays]
    opt = getattr(ember.optim, name)(params, **kwargs)
    ours = []
    for k in range(STEPS):
        for p in params:
            p.grad = ember.tensor(_grad(p.detach().cpu().numpy(), k), device=device)
        opt.step()
        ours.append([p.detach().cpu().numpy().copy() for p in params])
    tparams, topt = _make(torch, name, kwargs, arrays)
    _assert_same(ours, _run(torch, topt, tparams, STEPS), atol=1e-5)
    for p, st in opt.state.items():
        for key, v in st.items():
            if isinstance(v, ember.Tensor) and v.dim() > 0:
                assert v.device == p.device, key


def test_param_groups_get_their_own_hyper_parameters():
    arrays = _init_arrays()

    def groups(ps):
        return [{"params": [ps[0]], "lr": 0.05}, {"params": [ps[1]]}]

    ps = [ember.tensor(a.copy(), requires_grad=True) for a in arrays]
    tps = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    opt = ember.optim.NAdam(groups(ps), lr=0.01, weight_decay=0.01)
    topt = torch.optim.NAdam(groups(tps), lr=0.01, weight_decay=0.01, foreach=False)
    _assert_same(_run(ember, opt, ps, STEPS), _run(torch, topt, tps, STEPS))


BAD = [
    ("Adadelta", dict(lr=-1.0)), ("Adadelta", dict(rho=1.5)), ("Adadelta", dict(eps=-1.0)),
    ("Adadelta", dict(weight_decay=-1.0)), ("Adamax", dict(betas=(1.0, 0.9))),
    ("Adamax", dict(betas=(0.9, -0.1))), ("Adamax", dict(eps=-1.0)),
    ("NAdam", dict(momentum_decay=-1.0)), ("NAdam", dict(weight_decay=-0.1)),
    ("RAdam", dict(lr=-0.1)), ("RAdam", dict(betas=(0.9, 1.0))), ("ASGD", dict(lr=-1.0)),
    ("ASGD", dict(weight_decay=-1.0)), ("Rprop", dict(etas=(1.2, 0.5))),
    ("Rprop", dict(lr=-1.0)), ("SparseAdam", dict(lr=0.0)), ("SparseAdam", dict(eps=0.0)),
    ("SparseAdam", dict(betas=(0.9, 1.0))), ("LBFGS", dict(lr=-1.0)),
]


@pytest.mark.parametrize("name,kwargs", BAD, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD)])
def test_bad_arguments_raise_torchs_error(name, kwargs):
    with pytest.raises(Exception) as ref:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs)
    with pytest.raises(type(ref.value)) as ours:
        getattr(ember.optim, name)([ember.zeros(2, requires_grad=True)], **kwargs)
    assert str(ours.value) == str(ref.value)


def test_defaults_match_torch():
    for name in ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop", "LBFGS",
                 "SparseAdam"]:
        ours = getattr(ember.optim, name)([ember.zeros(2, requires_grad=True)]).defaults
        ref = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).defaults
        assert ours == ref, name


def test_optional_torch_arguments_are_accepted():
    p = [ember.zeros(2, requires_grad=True)]
    flags = dict(foreach=False, capturable=False, differentiable=False, maximize=False)
    for name in ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]:
        getattr(ember.optim, name)(p, **flags)


def test_sparse_adam_rejects_dense_gradients_as_torch():
    w = ember.zeros(3, requires_grad=True)
    tw = torch.zeros(3, requires_grad=True)
    opt, topt = ember.optim.SparseAdam([w]), torch.optim.SparseAdam([tw])
    w.grad, tw.grad = ember.ones(3), torch.ones(3)
    with pytest.raises(RuntimeError) as ref:
        topt.step()
    with pytest.raises(RuntimeError) as ours:
        opt.step()
    assert str(ours.value) == str(ref.value)


# -- LBFGS ------------------------------------------------------------------------------------

def _rosenbrock_run(lib, kwargs, steps=3):
    # NOTE: only until near the minimum: in its flat valley float32 rounding differences
    # (each framework's own sum order) move the iterates apart, without any bug in either
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4,)).astype(np.float32) * 0.5
    w = lib.tensor(a, requires_grad=True)
    opt = getattr(lib.optim, "LBFGS")([w], **kwargs)

    def closure():
        opt.zero_grad()
        x, y = w[:2], w[2:]
        loss = ((1 - x) ** 2 + 10 * (y - x * x) ** 2).sum() + 0.1 * (w * w).sum()
        loss.backward()
        return loss

    out, counts = [], None
    for _ in range(steps):
        loss = opt.step(closure)
        out.append((float(loss.detach()), w.detach().numpy().copy()))
        if counts is None:
            # after one step, before rounding noise can flip a stopping test
            state = opt.state[w]
            counts = (sorted(state), state["func_evals"], state["n_iter"])
    return out, counts


@pytest.mark.parametrize("kwargs", [
    dict(lr=0.1, max_iter=5), dict(lr=0.5, max_iter=10, history_size=3),
    dict(lr=1, max_iter=20, line_search_fn="strong_wolfe"),
    dict(lr=1, max_iter=4, max_eval=6, history_size=2, line_search_fn="strong_wolfe")])
def test_lbfgs_matches_torch(kwargs):
    ours, counts = _rosenbrock_run(ember, kwargs)
    ref, ref_counts = _rosenbrock_run(torch, kwargs)
    for (lo, wo), (lr_, wr) in zip(ours, ref):
        assert lo == pytest.approx(lr_, rel=1e-5, abs=1e-6)
        np.testing.assert_allclose(wo, wr, rtol=1e-5, atol=1e-5)
    assert ours[-1][0] < ours[0][0]
    assert counts == ref_counts


def test_lbfgs_rejects_groups_and_unknown_line_search():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="per-parameter options"):
        ember.optim.LBFGS([{"params": [a]}, {"params": [b]}])
    opt = ember.optim.LBFGS([a], line_search_fn="armijo")

    def closure():
        opt.zero_grad()
        loss = ((a - 1) ** 2).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# -- lr schedulers ----------------------------------------------------------------------------

def _opts(lib, opt_name="SGD", **kw):
    kw = {"lr": 0.1, **kw}
    p0, p1 = lib.zeros(2, requires_grad=True), lib.zeros(2, requires_grad=True)
    return getattr(lib.optim, opt_name)([{"params": [p0]}, {"params": [p1], "lr": 0.05}], **kw)


def _lrs(opt, sched, n=EPOCHS, momentum_key=None):
    out = []
    for _ in range(n):
        opt.step()
        sched.step()
        row = list(sched.get_last_lr())
        if momentum_key == "momentum":
            row += [g["momentum"] for g in opt.param_groups]
        elif momentum_key == "betas":
            row += [g["betas"][0] for g in opt.param_groups]
        out.append(row)
    return out


def _sched(lib, name, opt, kw):
    return getattr(lib.optim.lr_scheduler, name)(opt, **kw)


SCHEDS = [
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.9 if e % 3 else 1.05)),
    ("MultiplicativeLR", dict(lr_lambda=[lambda e: 0.95, lambda e: 1.0 - 0.01 * e])),
    ("ConstantLR", dict()), ("ConstantLR", dict(factor=0.5, total_iters=7)),
    ("LinearLR", dict()), ("LinearLR", dict(start_factor=0.1, end_factor=0.7, total_iters=9)),
    ("PolynomialLR", dict()), ("PolynomialLR", dict(total_iters=12, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2, eta_min=0.001)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4)),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.1, step_size_up=3, step_size_down=5,
                      mode="triangular2")),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, mode="exp_range",
                      gamma=0.9)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=2, cycle_momentum=False,
                      scale_fn=lambda x: 0.5 ** x, scale_mode="iterations")),
]


@pytest.mark.parametrize("name,kw", SCHEDS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDS)])
def test_scheduler_sequence_matches_torch(name, kw):
    momentum = dict(momentum=0.9) if name == "CyclicLR" else {}
    key = "momentum" if name == "CyclicLR" and kw.get("cycle_momentum", True) else None
    opt, topt = _opts(ember, **momentum), _opts(torch, **momentum)
    ours = _lrs(opt, _sched(ember, name, opt, kw), momentum_key=key)
    ref = _lrs(topt, _sched(torch, name, topt, kw), momentum_key=key)
    assert ours == ref
    assert len({tuple(r) for r in ours}) > 1


def test_cyclic_lr_cycles_adams_beta1():
    kw = dict(base_lr=0.001, max_lr=0.01, step_size_up=3)
    opt, topt = _opts(ember, "Adam"), _opts(torch, "Adam")
    ours = _lrs(opt, _sched(ember, "CyclicLR", opt, kw), momentum_key="betas")
    assert ours == _lrs(topt, _sched(torch, "CyclicLR", topt, kw), momentum_key="betas")


def _composites(lib, kind):
    s = lib.optim.lr_scheduler
    opt = _opts(lib)
    if kind == "sequential":
        scheds = [s.LinearLR(opt, start_factor=0.2, total_iters=4),
                  s.ExponentialLR(opt, gamma=0.9), s.CosineAnnealingLR(opt, T_max=6)]
        return opt, s.SequentialLR(opt, schedulers=scheds, milestones=[5, 15])
    if kind == "sequential-constant":
        scheds = [s.ConstantLR(opt, factor=0.1, total_iters=2), s.StepLR(opt, 3, 0.5)]
        return opt, s.SequentialLR(opt, scheds, milestones=[4])
    if kind == "chained":
        return opt, s.ChainedScheduler([s.ConstantLR(opt, factor=0.5, total_iters=3),
                                        s.ExponentialLR(opt, gamma=0.95)])
    scheds = [s.LinearLR(opt, start_factor=0.5, total_iters=3), s.MultiStepLR(opt, [8, 20])]
    return opt, s.ChainedScheduler(scheds, optimizer=opt)


@pytest.mark.parametrize("kind", ["sequential", "sequential-constant", "chained",
                                  "chained-optimizer"])
def test_composite_schedulers_match_torch(kind):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = _lrs(*_composites(ember, kind))
        ref = _lrs(*_composites(torch, kind))
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    assert len({tuple(r) for r in ours}) > 3


def test_composite_state_dict_resumes():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt, sched = _composites(ember, "sequential")
        _lrs(opt, sched, n=8)
        saved = sched.state_dict()
        assert sorted(saved) == sorted(_composites(torch, "sequential")[1].state_dict())
        rest = _lrs(opt, sched, n=10)
        opt2, sched2 = _composites(ember, "sequential")
        sched2.load_state_dict(saved)
        # the lr itself lives in the optimizer: restore it as its checkpoint would
        for g, lr in zip(opt2.param_groups, saved["_last_lr"]):
            g["lr"] = lr
        assert _lrs(opt2, sched2, n=10) == rest


def test_scheduler_validation_matches_torch():
    bad = [("ConstantLR", dict(factor=1.5)), ("LinearLR", dict(start_factor=0)),
           ("LinearLR", dict(end_factor=2.0)), ("CosineAnnealingWarmRestarts", dict(T_0=0)),
           ("CosineAnnealingWarmRestarts", dict(T_0=2, T_mult=0)),
           ("CyclicLR", dict(base_lr=0.1, max_lr=1.0, mode="nope")),
           ("MultiplicativeLR", dict(lr_lambda=0.9)),
           ("MultiplicativeLR", dict(lr_lambda=[lambda e: 0.9]))]
    for name, kw in bad:
        with pytest.raises(Exception) as ref:
            _sched(torch, name, _opts(torch), kw)
        with pytest.raises(type(ref.value)) as ours:
            _sched(ember, name, _opts(ember), kw)
        assert str(ours.value) == str(ref.value), name
    with pytest.raises(ValueError, match="must support momentum"):
        _sched(ember, "CyclicLR", _opts(ember, "Adagrad"), dict(base_lr=0.1, max_lr=1.0))


def test_warm_restarts_fractional_epochs_match_torch():
    out = []
    for lib in (ember, torch):
        opt = _opts(lib)
        sched = lib.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=4, T_mult=2)
        row = []
        for epoch in np.arange(0, 20, 0.75):
            sched.step(float(epoch))
            row.append(sched.get_last_lr())
        out.append(row)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)


# -- swa_utils --------------------------------------------------------------------------------

def _net(lib, seed=0):
    rng = np.random.default_rng(seed)
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.Linear(4, 2))
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return net


def _perturb(lib, net, k):
    rng = np.random.default_rng(100 + k)
    with lib.no_grad():
        for p in net.parameters():
            p.add_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32) * 0.1))
    x = lib.tensor(rng.standard_normal((8, 3)).astype(np.float32))
    net(x)  # moves the BatchNorm running stats, so buffers differ between updates


def _swa(lib, kind):
    su = lib.optim.swa_utils
    kw = {"plain": {}, "ema-multi": dict(multi_avg_fn=su.get_ema_multi_avg_fn(0.9)),
          "ema": dict(avg_fn=su.get_ema_avg_fn(0.8)), "swa-fn": dict(avg_fn=su.get_swa_avg_fn()),
          "swa-multi": dict(multi_avg_fn=su.get_swa_multi_avg_fn()),
          "buffers": dict(use_buffers=True, multi_avg_fn=su.get_ema_multi_avg_fn(0.7)),
          "buffers-ema": dict(use_buffers=True, avg_fn=su.get_ema_avg_fn(0.8))}[kind]
    net = _net(lib)
    avg = su.AveragedModel(net, **kw)
    for k in range(5):
        _perturb(lib, net, k)
        avg.update_parameters(net)
    x = lib.tensor(np.random.default_rng(9).standard_normal((5, 3)).astype(np.float32))
    avg.eval()
    return avg, avg(x).detach().numpy()


@pytest.mark.parametrize("kind", ["plain", "ema-multi", "ema", "swa-fn", "swa-multi",
                                  "buffers", "buffers-ema"])
def test_averaged_model_matches_torch(kind):
    ours, out = _swa(ember, kind)
    ref, tout = _swa(torch, kind)
    assert int(ours.n_averaged.item()) == int(ref.n_averaged.item()) == 5
    sd, tsd = ours.state_dict(), ref.state_dict()
    assert list(sd) == list(tsd)
    for key, v in tsd.items():
        np.testing.assert_allclose(np.asarray(sd[key].numpy(), dtype=np.float64),
                                   v.numpy().astype(np.float64), rtol=1e-5, atol=1e-6,
                                   err_msg=key)
    np.testing.assert_allclose(out, tout, rtol=1e-5, atol=1e-5)


def test_averaged_model_rejects_both_fns():
    su = ember.optim.swa_utils
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        su.AveragedModel(_net(ember), avg_fn=su.get_swa_avg_fn(),
                         multi_avg_fn=su.get_swa_multi_avg_fn())
    with pytest.raises(ValueError, match="Invalid decay value"):
        su.get_ema_avg_fn(1.5)


def test_update_bn_matches_torch():
    rng = np.random.default_rng(5)
    batches = [rng.standard_normal((6, 3)).astype(np.float32) * (i + 1) for i in range(4)]
    stats = []
    for lib in (ember, torch):
        net = _net(lib)
        net.eval()
        loader = [(lib.tensor(b), lib.zeros(6)) for b in batches]
        lib.optim.swa_utils.update_bn(loader, net)
        assert not net.training and net[1].momentum == 0.1
        stats.append([net[1].running_mean.numpy(), net[1].running_var.numpy(),
                      int(net[1].num_batches_tracked.item())])
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-5, atol=1e-6)
    assert stats[0][2] == stats[1][2] == 4


@pytest.mark.parametrize("kw", [dict(swa_lr=0.01), dict(swa_lr=[0.01, 0.2], anneal_epochs=4,
                                                        anneal_strategy="linear"),
                                dict(swa_lr=0.03, anneal_epochs=0)])
def test_swalr_matches_torch(kw):
    seqs = []
    for lib in (ember, torch):
        opt = _opts(lib)
        seqs.append(_lrs(opt, lib.optim.swa_utils.SWALR(opt, **kw)))
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)
    with pytest.raises(ValueError, match="anneal_strategy must be one of"):
        ember.optim.swa_utils.SWALR(_opts(ember), swa_lr=0.1, anneal_strategy="exp")


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_dict_round_trip_continues_identically(line_search_fn):
    def make(values):
        w = ember.tensor(values, requires_grad=True)
        opt = ember.optim.LBFGS([w], lr=0.5, max_iter=3, history_size=4,
                                line_search_fn=line_search_fn)

        def closure():
            opt.zero_grad()
            loss = ((w - 1) ** 4).sum() + (w[0] * w[1]) ** 2
            loss.backward()
            return loss

        return w, opt, closure

    w, opt, closure = make(np.array([2.0, -1.5, 0.5], np.float32))
    for _ in range(2):
        opt.step(closure)
    w2, opt2, closure2 = make(w.detach().numpy().copy())
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(2):
        opt.step(closure)
        opt2.step(closure2)
        np.testing.assert_array_equal(w2.detach().numpy(), w.detach().numpy())
    assert opt2.state[w2]["n_iter"] == opt.state[w]["n_iter"] > 6
