"""ember.distributed (gloo-like cpu backend) and DistributedDataParallel with 2 processes."""
import os
import socket
import threading
import time
from datetime import timedelta

import numpy as np
import pytest

import ember
import ember.distributed as dist
import ember.multiprocessing as mp

WORLD = 2
TIMEOUT = 30  # seconds: a hung collective raises in the child, a hung child fails the test
NOT_INIT = ("Default process group has not been initialized, please make sure to call "
            "init_process_group.")


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:  # (bound together: n distinct ports)
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _free_port():
    return _free_ports(1)[0]


def _launch(fn, *args, method="spawn"):
    """Run fn(rank, *args) in WORLD processes; a child's exception fails the test with its
    traceback (ProcessRaisedException)."""
    ctx = mp.start_processes(fn, args=args, nprocs=WORLD, join=False, start_method=method)
    deadline = time.monotonic() + 2 * TIMEOUT
    try:
        while not ctx.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail("distributed workers still running after the deadline")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()


def _init(rank, init_method):
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=TIMEOUT))


# ---- workers (top level: spawn pickles them by name) -----------------------------------------
def _collectives_worker(rank, init_method):
    _init(rank, init_method)
    assert dist.is_initialized() and dist.get_rank() == rank and dist.get_world_size() == WORLD
    assert dist.get_backend() == "gloo"
    rng = [np.random.default_rng(s) for s in range(WORLD)]
    vals = [g.standard_normal((3, 4)) for g in rng]  # every rank knows every rank's data
    mine = lambda: ember.tensor(vals[rank])  # noqa: E731
    ops = {dist.ReduceOp.SUM: np.sum, dist.ReduceOp.PRODUCT: np.prod, dist.ReduceOp.MIN: np.min,
           dist.ReduceOp.MAX: np.max, dist.ReduceOp.AVG: np.mean}
    for op, ref in ops.items():
        t = mine()
        assert dist.all_reduce(t, op=op) is None
        np.testing.assert_allclose(t.numpy(), ref(np.stack(vals), axis=0), rtol=1e-6)
    # in place into a strided view, integers, async
    t = ember.tensor(np.arange(6, dtype=np.int64) * (rank + 1)).reshape(2, 3).t()
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() and work.is_completed()
    np.testing.assert_array_equal(t.numpy(), (np.arange(6) * 3).reshape(2, 3).T)

    t = mine() if rank == 1 else ember.zeros(3, 4)
    dist.broadcast(t, src=1)
    np.testing.assert_allclose(t.numpy(), vals[1], rtol=1e-6)

    t = mine()
    dist.reduce(t, dst=0, op=dist.ReduceOp.MAX)
    if rank == 0:
        np.testing.assert_allclose(t.numpy(), np.max(np.stack(vals), 0), rtol=1e-6)

    outs = [ember.zeros(3, 4) for _ in range(WORLD)]
    dist.all_gather(outs, mine())
    for o, v in zip(outs, vals):
        np.testing.assert_allclose(o.numpy(), v, rtol=1e-6)
    big = ember.zeros(WORLD * 3, 4)
    dist.all_gather_into_tensor(big, mine())
    np.testing.assert_allclose(big.numpy(), np.concatenate(vals), rtol=1e-6)

    chunks = [ember.tensor(vals[rank][i:i + 1]) for i in range(WORLD)]
    out = ember.zeros(1, 4)
    dist.reduce_scatter(out, chunks)
    np.testing.assert_allclose(out.numpy(), sum(v[rank:rank + 1] for v in vals), rtol=1e-6)
    out = ember.zeros(1, 4)
    dist.reduce_scatter_tensor(out, ember.tensor(vals[rank][:2]), op=dist.ReduceOp.MIN)
    np.testing.assert_allclose(out.numpy(), np.min([v[rank:rank + 1] for v in vals], 0),
                               rtol=1e-6)

    gl = [ember.zeros(3, 4) for _ in range(WORLD)] if rank == 1 else None
    dist.gather(mine(), gather_list=gl, dst=1)
    if rank == 1:
        for o, v in zip(gl, vals):
            np.testing.assert_allclose(o.numpy(), v, rtol=1e-6)
    out = ember.zeros(2)
    sl = [ember.full((2,), 10.0 * i) for i in range(WORLD)] if rank == 0 else None
    dist.scatter(out, scatter_list=sl, src=0)
    assert out.tolist() == [10.0 * rank] * 2

    outs = [ember.zeros(2) for _ in range(WORLD)]
    dist.all_to_all(outs, [ember.full((2,), 10.0 * rank + j) for j in range(WORLD)])
    assert [o.tolist() for o in outs] == [[10.0 * i + rank] * 2 for i in range(WORLD)]

    # point to point: blocking, tagged, and requests waited on in any order
    if rank == 0:
        dist.send(ember.arange(3.0), dst=1)
        dist.send(ember.full((2,), 5.0), dst=1, tag=7)
        dist.send(ember.full((2,), 6.0), dst=1, tag=7)
        got = ember.zeros(2)
        assert dist.recv(got) == 1  # any source
        assert got.tolist() == [9.0, 9.0]
    else:
        t = ember.zeros(3)
        assert dist.recv(t, src=0) == 0 and t.tolist() == [0.0, 1.0, 2.0]
        a, b = ember.zeros(2), ember.zeros(2)
        wa, wb = dist.irecv(a, src=0, tag=7), dist.irecv(b, src=0, tag=7)
        wb.wait()
        wa.wait()
        assert a.tolist() == [5.0, 5.0] and b.tolist() == [6.0, 6.0]
        dist.isend(ember.full((2,), 9.0), dst=0).wait()

    objs = [None] * WORLD
    dist.all_gather_object(objs, {"rank": rank})
    assert objs == [{"rank": 0}, {"rank": 1}]
    lst = [rank, "x"] if rank == 0 else [None, None]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [0, "x"]
    gathered = [None] * WORLD if rank == 1 else None
    dist.gather_object(("obj", rank), gathered, dst=1)
    assert gathered == ([("obj", 0), ("obj", 1)] if rank == 1 else None)
    got = [None]
    dist.scatter_object_list(got, [{"to": j} for j in range(WORLD)] if rank == 0 else None,
                             src=0)
    assert got == [{"to": rank}]
    out = ember.zeros(3)
    sizes = [1, 2] if rank == 0 else [2, 1]  # rank 0 gets 1 + 2 rows, rank 1 gets 2 + 1
    dist.all_to_all_single(out, ember.full((3,), float(rank)), output_split_sizes=None,
                           input_split_sizes=sizes)
    assert out.tolist() == ([0.0, 1.0, 1.0] if rank == 0 else [0.0, 0.0, 1.0])

    sub = dist.new_group()
    assert dist.get_world_size(sub) == WORLD and dist.get_process_group_ranks(sub) == [0, 1]
    t = ember.ones(2)
    dist.all_reduce(t, group=sub)
    assert t.tolist() == [2.0, 2.0]
    solo = dist.new_group([1])
    if rank == 1:
        assert dist.get_rank(solo) == 0 and dist.get_world_size(solo) == 1
    else:
        assert solo is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(solo) == -1

    sampler = ember.utils.data.DistributedSampler(range(10), shuffle=False)
    assert sampler.num_replicas == WORLD and sampler.rank == rank
    assert list(sampler) == list(range(rank, 10, WORLD))
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()


def _env_worker(rank, ports):
    os.environ.update(MASTER_ADDR="127.0.0.1", RANK=str(rank), WORLD_SIZE=str(WORLD))
    for attempt, port in enumerate(ports):  # a second group after the first is destroyed
        os.environ["MASTER_PORT"] = str(port)
        dist.init_process_group(backend="gloo", timeout=timedelta(seconds=TIMEOUT))
        t = ember.tensor([float(rank + attempt)])
        dist.all_reduce(t)
        assert t.item() == 1.0 + 2 * attempt
        dist.destroy_process_group()


def _batches(steps, seed=3):
    g = np.random.default_rng(seed)
    return [(g.standard_normal((2 * WORLD, 5)), g.standard_normal((2 * WORLD, 1)))
            for _ in range(steps)]


def _model():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(5, 4), ember.nn.Tanh(),
                               ember.nn.Linear(4, 1)).double()


def _ddp_worker(rank, init_method, out):
    _init(rank, init_method)
    model = _model()
    if rank == 1:  # DDP must start every rank from rank 0's parameters
        with ember.no_grad():
            for p in model.parameters():
                p.mul_(3.0)
    ddp = ember.nn.parallel.DistributedDataParallel(model)
    assert ddp.module is model
    opt = ember.optim.SGD(ddp.parameters(), lr=0.1)
    for x, y in _batches(3):
        lo, hi = 2 * rank, 2 * rank + 2
        opt.zero_grad()
        loss = ((ddp(ember.tensor(x[lo:hi])) - ember.tensor(y[lo:hi])) ** 2).mean()
        loss.backward()
        opt.step()
    flat = ember.cat([p.detach().reshape(-1) for p in model.parameters()])
    out[rank].copy_(flat)  # `out` is shared memory: the parent compares the ranks

    # no_sync: gradients accumulate locally; the next synchronised backward averages the sum
    (x1, y1), (x2, y2) = _batches(2, seed=9)
    lo, hi = 2 * rank, 2 * rank + 2
    opt.zero_grad()
    with ddp.no_sync():
        ((ddp(ember.tensor(x1[lo:hi])) - ember.tensor(y1[lo:hi])) ** 2).mean().backward()
    local = [p.grad.clone() for p in model.parameters()]
    ((ddp(ember.tensor(x2[lo:hi])) - ember.tensor(y2[lo:hi])) ** 2).mean().backward()
    plain = _model()
    plain.load_state_dict(model.state_dict())
    ((plain(ember.tensor(x1[lo:hi])) - ember.tensor(y1[lo:hi])) ** 2).mean().backward()
    ((plain(ember.tensor(x2[lo:hi])) - ember.tensor(y2[lo:hi])) ** 2).mean().backward()
    for p, q, loc in zip(model.parameters(), plain.parameters(), local):
        expect = q.grad.clone()
        dist.all_reduce(expect, op=dist.ReduceOp.AVG)
        np.testing.assert_allclose(p.grad.numpy(), expect.numpy(), rtol=1e-12, atol=1e-14)
        assert not np.allclose(loc.numpy(), p.grad.numpy())
    dist.destroy_process_group()


# ---- tests -----------------------------------------------------------------------------------
def test_available_and_uninitialised_errors():
    assert dist.is_available() and not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.get_backend, dist.barrier,
                 dist.destroy_process_group, lambda: dist.all_reduce(ember.ones(1)),
                 lambda: dist.broadcast(ember.ones(1), 0), lambda: dist.new_group(),
                 lambda: ember.nn.parallel.DistributedDataParallel(ember.nn.Linear(1, 1)),
                 lambda: ember.utils.data.DistributedSampler(range(4))):
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value) == NOT_INIT
    with pytest.raises(TypeError, match="Expected parameter `tensor` of type"):
        dist.all_reduce([1.0])


def test_error_message_matches_torch():
    torch_dist = pytest.importorskip("torch.distributed")
    with pytest.raises(ValueError) as info:
        torch_dist.get_world_size()
    assert str(info.value) == NOT_INIT


def test_reduce_op_and_backend_names():
    assert repr(dist.ReduceOp.SUM) == "<RedOpType.SUM: 0>"
    assert dist.Backend("GLOO") == "gloo" == dist.Backend.GLOO
    assert dist.group.WORLD is None and dist.GroupMember.WORLD is None


def test_stores_in_process():
    hs = dist.HashStore()
    hs.set("a", "1")
    assert hs.get("a") == b"1" and hs.add("n", 2) == 2 and hs.add("n", 3) == 5
    assert hs.check(["a", "n"]) and not hs.check(["zz"])
    assert hs.compare_set("a", "1", "2") == b"2" and hs.get("a") == b"2"
    master = dist.TCPStore("127.0.0.1", 0, is_master=True, timeout=timedelta(seconds=5))
    client = dist.TCPStore("127.0.0.1", master.port, timeout=timedelta(seconds=5))
    threading.Timer(0.2, lambda: client.set("late", b"v")).start()
    assert master.get("late") == b"v"  # get waits for the key
    assert client.add("c", 1) == 1 and master.add("c", 1) == 2 and master.num_keys() == 2
    assert client.delete_key("c") and not master.check(["c"])
    prefixed = dist.PrefixStore("p", client)
    prefixed.set("k", b"x")
    assert master.get("p/k") == b"x"
    short = dist.TCPStore("127.0.0.1", master.port, timeout=timedelta(seconds=0.3))
    with pytest.raises(TimeoutError):
        short.get("never")
    master.close()


def test_file_store(tmp_path):
    path = str(tmp_path / "store")
    a, b = dist.FileStore(path, 2), dist.FileStore(path, 2)
    a.set("k", b"v")
    assert b.get("k") == b"v" and b.add("n", 4) == 4 and a.add("n", 1) == 5
    b.wait(["k"])
    assert a.num_keys() == 2


def test_collectives_world_2_tcp():
    _launch(_collectives_worker, f"tcp://127.0.0.1:{_free_port()}")


def test_collectives_world_2_file_init_fork(tmp_path):
    _launch(_collectives_worker, f"file://{tmp_path}/rendezvous", method="fork")
    assert not os.path.exists(tmp_path / "rendezvous")  # the last rank out removed it


def test_env_init():
    _launch(_env_worker, _free_ports(2))


def test_ddp_matches_single_process_training():
    out = ember.zeros(WORLD, 5 * 4 + 4 + 4 + 1, dtype=ember.float64).share_memory_()
    _launch(_ddp_worker, f"tcp://127.0.0.1:{_free_port()}", out)
    model = _model()
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    for x, y in _batches(3):  # one process, the concatenated batch
        opt.zero_grad()
        ((model(ember.tensor(x)) - ember.tensor(y)) ** 2).mean().backward()
        opt.step()
    ref = np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])
    np.testing.assert_array_equal(out[0].numpy(), out[1].numpy())
    np.testing.assert_allclose(out[0].numpy(), ref, rtol=1e-12, atol=1e-14)
    assert not np.allclose(ref, np.concatenate([p.detach().numpy().reshape(-1)
                                                for p in _model().parameters()]))


def test_gloo_rejects_a_second_init_and_other_backends():
    store = dist.HashStore()
    with pytest.raises(RuntimeError, match="NCCL"):
        dist.init_process_group("nccl", store=store, rank=0, world_size=1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        assert dist.get_world_size() == 1
        with pytest.raises(ValueError, match="twice"):
            dist.init_process_group("gloo", store=store, rank=0, world_size=1)
        t = ember.tensor([2.0, 3.0])
        dist.all_reduce(t, op=dist.ReduceOp.PRODUCT)
        assert t.tolist() == [2.0, 3.0]
        m = ember.nn.parallel.DistributedDataParallel(ember.nn.Linear(2, 1))
        m(ember.ones(3, 2)).sum().backward()
        assert m.module.weight.grad.tolist() == [[3.0, 3.0]]
    finally:
        dist.destroy_process_group()
    assert not dist.is_initialized()


def test_data_parallel_is_a_cpu_pass_through():
    m = ember.nn.Linear(2, 1)
    dp = ember.nn.DataParallel(m)
    assert dp.module is m and ember.nn.parallel.DataParallel is ember.nn.DataParallel
    x = ember.ones(3, 2)
    np.testing.assert_array_equal(dp(x).detach().numpy(), m(x).detach().numpy())
    with pytest.raises(ValueError, match="cpu only"):
        ember.nn.DataParallel(m, device_ids=[0])
