"""ember.multiprocessing: shared-memory tensors, queues, pools, spawn and Hogwild training."""
import os
import time
import warnings

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp

METHODS = ["spawn", "fork"]
TIMEOUT = 20  # seconds: a child that hangs fails the test instead of the run


def _run(fn, args, method, nprocs=2):
    """start_processes without join, waiting at most TIMEOUT seconds."""
    ctx = mp.start_processes(fn, args=args, nprocs=nprocs, join=False, start_method=method)
    deadline = time.monotonic() + TIMEOUT
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail(f"processes still running after {TIMEOUT}s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()


# ---- functions the children run (top level: spawn pickles them by name) --------------------
def _fill(i, t):
    t[i] = float(i + 1)


def _raise(i):
    if i == 1:
        raise ValueError("boom from child")


def _exit3(i):
    if i == 1:
        os._exit(3)


def _echo(inbox, outbox, done):
    t = inbox.get(timeout=TIMEOUT)
    t.add_(1)
    outbox.put(t)
    outbox.put(ember.arange(4.0))
    p = inbox.get(timeout=TIMEOUT)
    outbox.put((type(p).__name__, p.requires_grad, p.is_shared()))
    done.wait(TIMEOUT)  # NOTE: the sender must live until the receiver has mapped its memory


def _hogwild(rank, model, steps):
    ember.manual_seed(100 + rank)
    opt = ember.optim.SGD(model.parameters(), lr=0.05)
    w_true = ember.tensor([[1.0, -2.0, 3.0, 0.5]])
    for _ in range(steps):
        x = ember.randn(16, 4)
        loss = ((model(x) - x @ w_true.t()) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _square(t):
    return t * t


# ---- in-process ------------------------------------------------------------------------------
def test_reexports_python_multiprocessing():
    import multiprocessing
    for name in ["Process", "Queue", "SimpleQueue", "Pool", "get_context", "set_start_method",
                 "get_start_method", "cpu_count", "Manager", "Event", "Lock", "Pipe",
                 "Barrier", "Value", "Array", "current_process"]:
        assert hasattr(mp, name), name
        assert name in mp.__all__
    assert mp.cpu_count() == multiprocessing.cpu_count()
    assert ember.multiprocessing is mp


def test_share_memory_keeps_identity_shape_strides():
    x = ember.randn(3, 4, dtype=ember.float64)
    x.requires_grad_()
    before = x.detach().numpy().copy()
    assert not x.is_shared()
    assert x.share_memory_() is x
    assert x.is_shared()
    assert x.shape == (3, 4) and x.stride() == (4, 1) and x.dtype == ember.float64
    assert x.requires_grad
    np.testing.assert_array_equal(x.detach().numpy(), before)
    assert x.share_memory_() is x  # already shared: a no-op
    (x * 2).sum().backward()  # still an ordinary leaf
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))


def test_share_memory_of_a_view_moves_its_base():
    base = ember.arange(12.0).reshape(3, 4)
    v = base.t()
    v.share_memory_()
    assert v.is_shared() and base.is_shared()
    assert v.stride() == (1, 4)
    v[0, 1] = 100.0  # the view and its base still alias
    assert base[1, 0].item() == 100.0


def test_module_share_memory():
    m = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    assert m.share_memory() is m
    for t in list(m.parameters()) + list(m.buffers()):
        assert t.is_shared()
    assert isinstance(m[0].weight, ember.nn.Parameter)


def test_lazy_module_must_run_before_share_memory():
    m = ember.nn.LazyLinear(2)
    with pytest.raises(RuntimeError, match="Can't share memory on an uninitialized parameter"):
        m.share_memory()
    m(ember.ones(1, 3))
    assert m.share_memory().weight.is_shared()


def test_sharing_strategies():
    assert mp.get_all_sharing_strategies() == {"file_descriptor", "file_system"}
    assert mp.get_sharing_strategy() == "file_descriptor"
    with pytest.raises(ValueError):
        mp.set_sharing_strategy("carrier_pigeon")


def test_non_leaf_requiring_grad_refuses_to_cross():
    x = ember.ones(2, requires_grad=True)
    q = mp.get_context("fork").SimpleQueue()
    with pytest.raises(RuntimeError, match="Cowardly refusing to serialize non-leaf tensor"):
        q.put(x * 2)


# ---- with processes --------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_start_processes_write_shared_tensor(method):
    t = ember.zeros(2).share_memory_()
    _run(_fill, (t,), method)
    assert t.tolist() == [1.0, 2.0]


def test_spawn_joins_and_warns_for_other_methods():
    t = ember.zeros(2)  # not shared yet: sending it to the children shares it
    mp.spawn(_fill, args=(t,), nprocs=2)
    assert t.tolist() == [1.0, 2.0] and t.is_shared()
    with pytest.warns(FutureWarning, match="only supports start_method=spawn"):
        ctx = mp.spawn(_fill, args=(t,), nprocs=1, join=False, start_method="fork")
    assert isinstance(ctx, mp.ProcessContext) and len(ctx.pids()) == 1
    deadline = time.monotonic() + TIMEOUT
    while not ctx.join(timeout=1):
        assert time.monotonic() < deadline


def test_spawn_reports_exception_in_child():
    with pytest.raises(mp.ProcessRaisedException) as info:
        mp.spawn(_raise, nprocs=2)
    msg = str(info.value)
    assert msg.startswith("\n\n-- Process 1 terminated with the following error:\nTraceback")
    assert "ValueError: boom from child" in msg
    assert info.value.error_index == 1 and isinstance(info.value.error_pid, int)
    assert isinstance(info.value, mp.ProcessException)


def test_spawn_reports_exit_code():
    with pytest.raises(mp.ProcessExitedException, match="process 1 terminated with exit code 3") \
            as info:
        mp.start_processes(_exit3, nprocs=2, start_method="fork")
    assert info.value.exit_code == 3 and info.value.signal_name is None


@pytest.mark.parametrize("method", METHODS)
def test_queue_round_trip_shares_memory(method):
    ctx = mp.get_context(method)
    inbox, outbox, done = ctx.Queue(), ctx.Queue(), ctx.Event()
    p = ctx.Process(target=_echo, args=(inbox, outbox, done))
    p.start()
    try:
        base = ember.zeros(3, 4)
        t = base.t()  # a strided view: sent with its strides
        inbox.put(t)
        back = outbox.get(timeout=TIMEOUT)
        assert back.shape == (4, 3) and back.stride() == (1, 4)
        # the child's in-place add is visible in the parent's tensor and its base
        assert base.sum().item() == 12.0 and t.is_shared() and base.is_shared()
        back[0, 0] = 7.0  # and what came back aliases what was sent
        assert base[0, 0].item() == 7.0
        fresh = outbox.get(timeout=TIMEOUT)
        assert fresh.tolist() == [0.0, 1.0, 2.0, 3.0] and fresh.is_shared()
        inbox.put(ember.nn.Parameter(ember.ones(2)))
        assert outbox.get(timeout=TIMEOUT) == ("Parameter", True, True)
    finally:
        done.set()
        p.join(TIMEOUT)
        if p.is_alive():
            p.kill()
    assert p.exitcode == 0


def test_file_system_strategy_round_trip():
    mp.set_sharing_strategy("file_system")
    try:
        ctx = mp.get_context("fork")
        inbox, outbox, done = ctx.Queue(), ctx.Queue(), ctx.Event()
        p = ctx.Process(target=_echo, args=(inbox, outbox, done))
        p.start()
        t = ember.zeros(5)
        inbox.put(t)
        outbox.get(timeout=TIMEOUT)
        assert t.tolist() == [1.0] * 5
        outbox.get(timeout=TIMEOUT)
        inbox.put(ember.nn.Parameter(ember.ones(2)))
        outbox.get(timeout=TIMEOUT)
        done.set()
        p.join(TIMEOUT)
        assert p.exitcode == 0
    finally:
        mp.set_sharing_strategy("file_descriptor")


def test_pool_map_with_tensors():
    with mp.get_context("fork").Pool(2) as pool:
        out = pool.map(_square, [ember.tensor([1.0, 2.0]), ember.tensor([3.0])])
    assert [o.tolist() for o in out] == [[1.0, 4.0], [9.0]]


@pytest.mark.parametrize("method", METHODS)
def test_hogwild_training_updates_parent_model(method):
    ember.manual_seed(0)
    model = ember.nn.Linear(4, 1)
    model.share_memory()
    before = [p.detach().clone() for p in model.parameters()]
    x = ember.randn(64, 4)
    target = x @ ember.tensor([[1.0, -2.0, 3.0, 0.5]]).t()
    with ember.no_grad():
        loss_before = ((model(x) - target) ** 2).mean().item()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # (fork with threads, Python 3.12+)
        _run(_hogwild, (model, 40), method)
    for b, p in zip(before, model.parameters()):
        assert not np.allclose(b.numpy(), p.detach().numpy())
    with ember.no_grad():
        loss_after = ((model(x) - target) ** 2).mean().item()
    assert loss_after < 0.5 * loss_before
