"""Process groups and collectives (torch.distributed's API) over ``_mesh.Mesh``, for cpu
tensors: the "gloo" backend of Ember.

Every collective is written with point-to-point messages; reductions add the ranks' values in
rank order, so every rank gets bit-identical results (correctness over speed).
"""
from __future__ import annotations

import enum
import os
import pickle
import threading
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import numpy as np

from ._mesh import Mesh
from .store import FileStore, PrefixStore, Store, TCPStore

__all__ = [
    "Backend", "ReduceOp", "ProcessGroup", "Work", "GroupMember", "group", "P2POp",
    "is_available", "is_initialized", "is_gloo_available", "is_nccl_available",
    "is_mpi_available", "is_torchelastic_launched", "init_process_group",
    "destroy_process_group", "get_rank", "get_world_size", "get_backend", "new_group",
    "get_process_group_ranks", "get_global_rank", "get_group_rank", "barrier",
    "monitored_barrier", "broadcast", "all_reduce", "reduce", "all_gather",
    "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "gather", "scatter",
    "all_to_all", "all_to_all_single", "send", "recv", "isend", "irecv", "batch_isend_irecv",
    "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list",
    "DistBackendError", "DistError",
]

_NOT_INITIALIZED = ("Default process group has not been initialized, please make sure to call "
                    "init_process_group.")
_DEFAULT_PG_TIMEOUT = timedelta(minutes=30)


class DistError(RuntimeError):
    """An error of the distributed package."""


class DistBackendError(DistError):
    """An error of a process group's backend."""


class Backend(str):
    """A backend name: ``Backend("GLOO") == "gloo"``; Ember implements ``gloo`` (cpu)."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    UCC = "ucc"
    MPI = "mpi"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: "
                             f"{type(name)}")
        value = getattr(Backend, name.upper(), Backend.UNDEFINED)
        if value == Backend.UNDEFINED:
            value = name.lower()
        return super().__new__(cls, value)


class ReduceOp:
    """How ``all_reduce``/``reduce``/``reduce_scatter`` combine the ranks' values.

    >>> ember.distributed.ReduceOp.SUM
    <RedOpType.SUM: 0>
    """

    class RedOpType(enum.Enum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7
        PREMUL_SUM = 8
        UNUSED = 9

        def __repr__(self):
            return f"<RedOpType.{self.name}: {self.value}>"

        def __str__(self):
            return f"RedOpType.{self.name}"

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR
    PREMUL_SUM = RedOpType.PREMUL_SUM


_COMBINE = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply,
            ReduceOp.MIN: np.minimum, ReduceOp.MAX: np.maximum,
            ReduceOp.BAND: np.bitwise_and, ReduceOp.BOR: np.bitwise_or,
            ReduceOp.BXOR: np.bitwise_xor}


def _reduce_arrays(arrays, op):
    """Combine ``arrays`` (one per rank, in rank order) with ``op``."""
    combine = _COMBINE.get(op)
    if combine is None:
        raise ValueError(f"ReduceOp {op} is not supported by Ember's gloo backend")
    dtype = arrays[0].dtype
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and dtype.kind not in "biu":
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    acc = arrays[0].copy()
    for a in arrays[1:]:
        if dtype == np.bool_ and op in (ReduceOp.SUM, ReduceOp.AVG):
            acc = np.logical_or(acc, a)
        elif dtype == np.bool_ and op == ReduceOp.PRODUCT:
            acc = np.logical_and(acc, a)
        else:
            acc = combine(acc, a)
    if op == ReduceOp.AVG:
        if dtype.kind in "biu":
            acc = np.floor_divide(acc, len(arrays)) if dtype.kind != "b" else acc
        else:
            acc = (acc / len(arrays)).astype(dtype)
    return acc.astype(dtype, copy=False)


class Work:
    """The handle of an operation started with ``async_op=True`` (or ``isend``/``irecv``):
    ``wait()`` blocks until it finished."""

    def __init__(self, complete=None, result=None, src=None):
        self._complete = complete  # a callable that finishes the work (blocking), or None
        self._ready = None
        self._result = result or []
        self._src = src
        self._exc = None
        self._lock = threading.Lock()

    def wait(self, timeout: timedelta | None = None) -> bool:
        with self._lock:
            if self._complete is not None:
                fn, self._complete = self._complete, None
                try:
                    fn(None if timeout is None else _seconds(timeout))
                except BaseException as e:
                    self._exc = e
            if self._exc is not None:
                raise self._exc
        return True

    def is_completed(self) -> bool:
        if self._complete is None:
            return True
        if self._ready is not None and self._ready():
            self.wait()
            return True
        return False

    def is_success(self) -> bool:
        return self.is_completed() and self._exc is None

    def exception(self):
        return self._exc

    def result(self) -> list:
        self.wait()
        return self._result

    def source_rank(self) -> int:
        self.wait()
        return self._src[0] if isinstance(self._src, list) else self._src

    def get_future(self):
        import concurrent.futures
        fut = concurrent.futures.Future()
        try:
            self.wait()
            fut.set_result(self._result)
        except BaseException as e:
            fut.set_exception(e)
        return fut

    def synchronize(self):
        self.wait()


def _seconds(t) -> float:
    return t.total_seconds() if isinstance(t, timedelta) else float(t)


# ---- process groups --------------------------------------------------------------------------
class ProcessGroup:
    """A set of ranks that run collectives together (``new_group``); the default group is the
    whole world."""

    def __init__(self, mesh: Mesh, ranks: list[int], gid: int, backend: str, timeout: float):
        self._mesh = mesh
        self._ranks = list(ranks)
        self._gid = gid
        self._backend = backend
        self._timeout = timeout
        self._seq = 0
        self._lock = threading.Lock()

    def rank(self) -> int:
        return self._ranks.index(self._mesh.rank)

    def size(self) -> int:
        return len(self._ranks)

    def name(self) -> str:
        return str(self._gid)

    @property
    def group_name(self) -> str:
        return str(self._gid)

    def _get_backend_name(self) -> str:
        return self._backend

    def __repr__(self):
        return f"ProcessGroup(backend={self._backend!r}, ranks={self._ranks})"

    # one collective call: every member makes the same calls in the same order
    def _key(self, op: str):
        with self._lock:
            self._seq += 1
            return ("c", self._seq, op, self._gid)


class GroupMember:
    """``GroupMember.WORLD`` is the default group (None before ``init_process_group``);
    ``NON_GROUP_MEMBER`` is what ``new_group`` returns to ranks outside the group."""

    WORLD = None
    NON_GROUP_MEMBER = -100


class group:  # noqa: N801 - torch's name
    WORLD = None


class _World:
    pg: ProcessGroup | None = None
    mesh: Mesh | None = None
    store: Store | None = None
    owned_store: Store | None = None
    next_gid = 0
    generation = 0


_world = _World()


def is_available() -> bool:
    """Whether the distributed package is available (it is: the gloo backend, on cpu)."""
    return True


def is_gloo_available() -> bool:
    return True


def is_nccl_available() -> bool:
    return False


def is_mpi_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def is_initialized() -> bool:
    """Whether ``init_process_group`` has been called (and not destroyed).

    >>> ember.distributed.is_initialized()
    False
    """
    return _world.pg is not None


def _default_pg() -> ProcessGroup:
    if _world.pg is None:
        raise ValueError(_NOT_INITIALIZED)
    return _world.pg


def _resolve(g) -> ProcessGroup | None:
    """The group to use (None for a rank outside ``g``)."""
    pg = _default_pg()
    if g is None or g is GroupMember.WORLD:
        return pg
    if g is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(g, ProcessGroup):
        raise TypeError(f"expected a ProcessGroup, got {type(g).__name__}")
    return g


def _env(name: str) -> str:
    value = os.environ.get(name)
    if value is None:
        raise ValueError(f"Error initializing torch.distributed using env:// rendezvous: "
                         f"environment variable {name} expected, but not set")
    return value


def _rendezvous(init_method: str, rank: int, world_size: int, timeout: float):
    """(store, rank, world_size) for an init_method URL (env://, tcp://host:port, file://)."""
    url = urlparse(init_method)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    if "rank" in query:
        rank = int(query["rank"])
    if "world_size" in query:
        world_size = int(query["world_size"])
    if url.scheme == "env":
        if rank < 0:
            rank = int(_env("RANK"))
        if world_size < 0:
            world_size = int(_env("WORLD_SIZE"))
        host = _env("MASTER_ADDR")
        port = int(_env("MASTER_PORT"))
        store = TCPStore(host, port, world_size, rank == 0, timedelta(seconds=timeout))
    elif url.scheme == "tcp":
        if rank < 0 or world_size < 0:
            raise ValueError("rank and world_size are required with a tcp:// init_method")
        if not url.hostname or url.port is None:
            raise ValueError(f"Error initializing torch.distributed: tcp:// init_method needs "
                             f"host and port, got {init_method!r}")
        store = TCPStore(url.hostname, url.port, world_size, rank == 0,
                         timedelta(seconds=timeout))
    elif url.scheme == "file":
        if rank < 0 or world_size < 0:
            raise ValueError("rank and world_size are required with a file:// init_method")
        path = url.path if not url.netloc else url.netloc + url.path
        store = FileStore(path, world_size, timedelta(seconds=timeout))
    else:
        raise ValueError(f"No rendezvous handler for {url.scheme}://")
    return store, rank, world_size


def _local_host(store) -> str:
    while isinstance(store, PrefixStore):
        store = store.underlying_store
    if isinstance(store, TCPStore):
        return store.local_address()
    return "127.0.0.1"


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store: Store | None = None, group_name: str = "", pg_options=None,
                       device_id=None) -> None:
    """Join the default process group: ``world_size`` processes that rendezvous through
    ``init_method`` (``"env://"`` by default: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE;
    ``"tcp://host:port"``; ``"file:///path"``) or an explicit ``store``.

    Example (in each of two processes)::

        >>> ember.distributed.init_process_group("gloo", init_method="tcp://127.0.0.1:29500",
        ...                                      rank=rank, world_size=2)  # doctest: +SKIP
    """
    if _world.pg is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend or "gloo")
    if name not in ("gloo", "cpu:gloo") and not name.startswith("cpu:gloo"):
        if name == Backend.NCCL:
            raise RuntimeError("Distributed package doesn't have NCCL built in")
        raise RuntimeError(f"Invalid backend {backend!r}: Ember's distributed package implements "
                           "the 'gloo' backend (cpu tensors) only")
    seconds = _seconds(timeout) if timeout is not None else _seconds(_DEFAULT_PG_TIMEOUT)
    owned = None
    if store is None:
        store, rank, world_size = _rendezvous(init_method or "env://", rank, world_size,
                                              seconds)
        owned = store
    else:
        if init_method is not None:
            raise ValueError("Cannot specify both init_method and store.")
        if world_size <= 0:
            raise ValueError("world_size must be positive if using store")
        if rank < 0:
            raise ValueError("rank must be non-negative if using store")
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank} for world size {world_size}")
    _world.generation += 1
    prefix = PrefixStore(f"ember_pg/{_world.generation}", store)
    mesh = Mesh(prefix, rank, world_size, seconds, _local_host(store))
    _world.mesh, _world.store, _world.owned_store = mesh, store, owned
    _world.next_gid = 1
    _world.pg = ProcessGroup(mesh, list(range(world_size)), 0, "gloo", seconds)
    GroupMember.WORLD = group.WORLD = _world.pg
    barrier()


def destroy_process_group(group=None) -> None:  # noqa: F811 - torch's parameter name
    """Leave the default process group (or drop ``group``), closing its connections."""
    pg = _default_pg()
    if group is not None and group is not pg and group is not GroupMember.WORLD:
        return  # (sub-groups hold no resources of their own)
    _world.mesh.close()
    store = _world.owned_store
    if isinstance(store, FileStore):
        # the last rank out removes the rendezvous file, so that the path can be used again
        if store.add(f"ember_pg/{_world.generation}/left", 1) >= pg.size():
            try:
                os.unlink(store.path)
            except OSError:
                pass
    elif isinstance(store, TCPStore):
        # (every rank connected during init; the master's open connections keep serving)
        store.close()
    _world.pg = _world.mesh = _world.store = _world.owned_store = None
    GroupMember.WORLD = globals()["group"].WORLD = None


def get_rank(group=None) -> int:  # noqa: F811
    """This process's rank in ``group`` (the default group: the world); -1 outside it."""
    pg = _resolve(group)
    return -1 if pg is None else pg.rank()


def get_world_size(group=None) -> int:  # noqa: F811
    """How many processes ``group`` has (-1 for a rank outside it)."""
    pg = _resolve(group)
    return -1 if pg is None else pg.size()


def get_backend(group=None) -> Backend:  # noqa: F811
    pg = _resolve(group)
    if pg is None:
        raise ValueError("Invalid process group specified")
    return Backend(pg._backend)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization=False, group_desc=None, device_id=None):
    """A group of ``ranks`` (global ranks; all of them by default). Every rank of the world
    must call it, in the same order as the others; ranks outside get NON_GROUP_MEMBER."""
    pg = _default_pg()
    gid = _world.next_gid
    _world.next_gid += 1
    if ranks is None:
        ranks = list(range(pg.size()))
    ranks = sorted(int(r) for r in ranks)
    for r in ranks:
        if not 0 <= r < pg.size():
            raise ValueError(f"Invalid rank {r} for new_group in a world of size {pg.size()}")
    if len(set(ranks)) != len(ranks):
        raise ValueError("new_group: ranks must be distinct")
    if _world.mesh.rank not in ranks:
        return GroupMember.NON_GROUP_MEMBER
    seconds = _seconds(timeout) if timeout is not None else pg._timeout
    return ProcessGroup(_world.mesh, ranks, gid, "gloo", seconds)


def get_process_group_ranks(group) -> list[int]:  # noqa: F811
    return list(_resolve(group)._ranks)


def get_global_rank(group, group_rank: int) -> int:  # noqa: F811
    return _resolve(group)._ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:  # noqa: F811
    ranks = _resolve(group)._ranks
    if global_rank not in ranks:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}")
    return ranks.index(global_rank)


# ---- tensors in and out ----------------------------------------------------------------------
def _check(t, name="tensor"):
    from ..tensor import Tensor
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"torch.Tensor but got {type(t)} instead.")
    if t.device.type != "cpu":
        raise RuntimeError(f"Ember's gloo backend supports cpu tensors only, got a tensor on "
                           f"{t.device}; move it with .cpu() first")


def _check_list(ts, name):
    if not isinstance(ts, (list, tuple)):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"List[torch.Tensor] but got {type(ts)} instead.")
    for t in ts:
        _check(t, name)


def _values(t) -> np.ndarray:
    return np.ascontiguousarray(t.detach().numpy())


def _write(t, array) -> None:
    from ..ops.creation import from_numpy
    from ..autograd import no_grad
    src = from_numpy(np.ascontiguousarray(array))
    if tuple(src.shape) != tuple(t.shape):
        if src.numel() != t.numel():
            raise RuntimeError(f"tensor size mismatch: expected {list(t.shape)}, got "
                               f"{list(src.shape)}")
        src = src.reshape(t.shape)
    with no_grad():
        t.detach().copy_(src)


def _done(result=None) -> Work:
    return Work(result=result)


def _finish(async_op, result=None):
    return _done(result) if async_op else None


def _group_src(pg, src, group_src, what="src"):
    """The group rank of a root given as a global rank (``src``) or group rank."""
    if group_src is not None:
        if src is not None:
            raise ValueError(f"Can not specify both group_{what} and {what}")
        return group_src
    if src is None:
        return 0
    if src not in pg._ranks:
        raise ValueError(f"Global rank {src} is not part of group {pg}")
    return pg._ranks.index(src)


def _exchange(pg, key, outgoing) -> list:
    """Every member sends ``outgoing[j]`` to member j; returns what each member sent this one,
    in group-rank order (its own entry from ``outgoing``)."""
    me = pg.rank()
    mesh = pg._mesh
    for j, r in enumerate(pg._ranks):
        if j != me:
            mesh.send(r, key, outgoing[j])
    return [outgoing[me] if j == me else mesh.recv(r, key, pg._timeout)
            for j, r in enumerate(pg._ranks)]


def _gather_all(pg, key, obj) -> list:
    """Every member's ``obj``, in group-rank order, on every member."""
    return _exchange(pg, key, [obj] * pg.size())


def _from_root(pg, root, key, outgoing):
    """The root sends ``outgoing[j]`` (a sequence it alone passes) to member j; returns what
    this member got (the root: its own entry)."""
    if pg.rank() != root:
        return pg._mesh.recv(pg._ranks[root], key, pg._timeout)
    for j, r in enumerate(pg._ranks):
        if j != root:
            pg._mesh.send(r, key, outgoing[j])
    return outgoing[root]


def _to_root(pg, root, key, obj):
    """Every member's ``obj``, in group-rank order, on the root; None elsewhere."""
    if pg.rank() != root:
        pg._mesh.send(pg._ranks[root], key, obj)
        return None
    return [obj if j == root else pg._mesh.recv(r, key, pg._timeout)
            for j, r in enumerate(pg._ranks)]


# ---- collectives -----------------------------------------------------------------------------
def barrier(group=None, async_op=False, device_ids=None):  # noqa: F811
    """Wait until every member of ``group`` has reached the barrier."""
    pg = _resolve(group)
    if pg is None:
        return None
    _gather_all(pg, pg._key("barrier"), None)
    return _finish(async_op)


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):  # noqa: F811
    pg = _resolve(group)
    if pg is None:
        return None
    _gather_all(pg, pg._key("monitored_barrier"), None)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):  # noqa: F811
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every member."""
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, src, group_src)
    is_root = pg.rank() == root
    got = _from_root(pg, root, pg._key("broadcast"),
                     [_values(tensor)] * pg.size() if is_root else None)
    if not is_root:
        _write(tensor, got)
    return _finish(async_op, [tensor])


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: F811
    """Combine ``tensor`` across the group with ``op``, in place, on every member.

    Example (in each of two processes)::

        >>> t = ember.tensor([float(rank + 1)])  # doctest: +SKIP
        >>> ember.distributed.all_reduce(t)  # doctest: +SKIP
        >>> t  # doctest: +SKIP
        tensor([3.])
    """
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    arrays = _gather_all(pg, pg._key("all_reduce"), _values(tensor))
    _write(tensor, _reduce_arrays(arrays, op))
    return _finish(async_op, [tensor])


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False,  # noqa: F811
           group_dst=None):
    """Combine ``tensor`` across the group into rank ``dst``'s ``tensor``."""
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, dst, group_dst, "dst")
    arrays = _to_root(pg, root, pg._key("reduce"), _values(tensor))
    if arrays is not None:
        _write(tensor, _reduce_arrays(arrays, op))
    return _finish(async_op, [tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):  # noqa: F811
    """Every member's ``tensor`` into ``tensor_list`` (one tensor per member) on every member."""
    _check_list(tensor_list, "tensor_list")
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    if len(tensor_list) != pg.size():
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, the group has "
                         f"{pg.size()} ranks")
    arrays = _gather_all(pg, pg._key("all_gather"), _values(tensor))
    for out, a in zip(tensor_list, arrays):
        _write(out, a)
    return _finish(async_op, list(tensor_list))


def all_gather_into_tensor(output_tensor, input_tensor, group=None,  # noqa: F811
                           async_op=False):
    """The members' ``input_tensor`` concatenated (or stacked) along dim 0 into
    ``output_tensor`` on every member."""
    _check(output_tensor, "output_tensor")
    _check(input_tensor, "input_tensor")
    pg = _resolve(group)
    if pg is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * pg.size():
        raise ValueError("output tensor size must be equal to world_size times input tensor "
                         "size")
    arrays = _gather_all(pg, pg._key("all_gather_into_tensor"), _values(input_tensor))
    _write(output_tensor, np.concatenate([a.reshape(-1) for a in arrays]))
    return _finish(async_op, [output_tensor])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None,  # noqa: F811
                   async_op=False):
    """Member j gets ``input_list[j]`` combined across the group, in ``output``."""
    _check(output, "output")
    _check_list(input_list, "input_list")
    pg = _resolve(group)
    if pg is None:
        return None
    if len(input_list) != pg.size():
        raise ValueError(f"reduce_scatter: input_list has {len(input_list)} tensors, the group "
                         f"has {pg.size()} ranks")
    _write(output, _reduce_scatter(pg, [_values(t) for t in input_list], op, "reduce_scatter"))
    return _finish(async_op, [output])


def _check_root_list(pg, root, tensors, name, role):
    """torch's checks of gather's and scatter's list: one tensor per member on the root
    (``role``: destination or source), none elsewhere."""
    if pg.rank() == root:
        if tensors is None or len(tensors) != pg.size():
            raise ValueError(f"Argument ``{name}`` must be specified on {role} rank, with "
                             f"{pg.size()} tensors")
        _check_list(tensors, name)
    elif tensors:
        raise ValueError(f"Argument ``{name}`` must NOT be specified on non-{role} ranks.")


def _reduce_scatter(pg, chunks, op, name):
    return _reduce_arrays(_exchange(pg, pg._key(name), chunks), op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None,  # noqa: F811,A002
                          async_op=False):
    """``input`` split along dim 0 into one chunk per member; member j gets chunk j combined
    across the group, in ``output``."""
    _check(output, "output")
    _check(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    if input.numel() != output.numel() * pg.size():
        raise ValueError("input tensor must be the same size as output size times world size")
    chunks = np.split(_values(input).reshape(-1), pg.size())
    _write(output, _reduce_scatter(pg, chunks, op, "reduce_scatter_tensor"))
    return _finish(async_op, [output])


def gather(tensor, gather_list=None, dst=None, group=None, async_op=False,  # noqa: F811
           group_dst=None):
    """Every member's ``tensor`` into ``gather_list`` on rank ``dst`` (None elsewhere)."""
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, dst, group_dst, "dst")
    _check_root_list(pg, root, gather_list, "gather_list", "destination")
    arrays = _to_root(pg, root, pg._key("gather"), _values(tensor))
    for out, a in zip(gather_list or (), arrays or ()):
        _write(out, a)
    return _finish(async_op, [tensor])


def scatter(tensor, scatter_list=None, src=None, group=None, async_op=False,  # noqa: F811
            group_src=None):
    """Rank ``src``'s ``scatter_list[j]`` into member j's ``tensor``."""
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, src, group_src)
    _check_root_list(pg, root, scatter_list, "scatter_list", "source")
    outgoing = [_values(t) for t in scatter_list] if pg.rank() == root else None
    _write(tensor, _from_root(pg, root, pg._key("scatter"), outgoing))
    return _finish(async_op, [tensor])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):  # noqa
    """Member i's ``input_tensor_list[j]`` into member j's ``output_tensor_list[i]``."""
    _check_list(output_tensor_list, "output_tensor_list")
    _check_list(input_tensor_list, "input_tensor_list")
    pg = _resolve(group)
    if pg is None:
        return None
    got = _exchange(pg, pg._key("all_to_all"), [_values(t) for t in input_tensor_list])
    for out, a in zip(output_tensor_list, got):
        _write(out, a)
    return _finish(async_op, list(output_tensor_list))


def all_to_all_single(output, input, output_split_sizes=None,  # noqa: A002
                      input_split_sizes=None, group=None, async_op=False):
    """``all_to_all`` on dim-0 slices of one input and one output tensor."""
    _check(output, "output")
    _check(input, "input")
    pg = _resolve(group)
    if pg is None:
        return None
    n = pg.size()
    src = _values(input)
    if input_split_sizes is None:
        if src.shape[0] % n:
            raise ValueError(f"all_to_all_single: dim 0 of input ({src.shape[0]}) must divide "
                             f"by the group size {n}")
        input_split_sizes = [src.shape[0] // n] * n
    bounds = np.cumsum([0] + list(input_split_sizes))
    pieces = [src[bounds[j]:bounds[j + 1]] for j in range(n)]
    got = _exchange(pg, pg._key("all_to_all_single"), pieces)
    _write(output, np.concatenate(got, axis=0))
    return _finish(async_op, [output])


# ---- point to point --------------------------------------------------------------------------
def _peer(pg, peer, group_peer, what):
    if group_peer is not None:
        if peer is not None:
            raise ValueError(f"Can not specify both group_{what} and {what}")
        return pg._ranks[group_peer]
    if peer is None:
        if what == "src":
            return None
        raise ValueError(f"{what} must be given")
    if peer not in pg._ranks:
        raise ValueError(f"Global rank {peer} is not part of group {pg}")
    return peer


def isend(tensor, dst=None, group=None, tag: int = 0, group_dst=None):  # noqa: F811
    """Send ``tensor`` to rank ``dst``; returns a Work (the send is buffered by the receiver:
    it is complete when this returns)."""
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    dst = _peer(pg, dst, group_dst, "dst")
    if dst == pg._mesh.rank:
        raise ValueError("Invalid destination rank: should not be the same as the rank of the "
                         "current process.")
    pg._mesh.send(dst, ("p2p", tag, pg._gid), _values(tensor))
    return _done([tensor])


def send(tensor, dst=None, group=None, tag: int = 0, group_dst=None) -> None:  # noqa: F811
    """Send ``tensor`` to rank ``dst`` (matched by a ``recv`` there with the same ``tag``)."""
    isend(tensor, dst, group, tag, group_dst)


def irecv(tensor, src=None, group=None, tag: int = 0, group_src=None):  # noqa: F811
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None); ``wait()`` on the
    returned Work fills ``tensor``."""
    _check(tensor)
    pg = _resolve(group)
    if pg is None:
        return None
    src = _peer(pg, src, group_src, "src")
    mesh = pg._mesh
    key = ("p2p", tag, pg._gid)
    sender = [src]
    if src is None:
        others = [r for r in pg._ranks if r != mesh.rank]

        def complete(timeout):
            sender[0], a = mesh.recv_any(others, lambda s: key, timeout)
            _write(tensor, a)
        work = Work(complete, [tensor], sender)
        return work
    if src == mesh.rank:
        raise ValueError("Invalid source rank: should not be the same as the rank of the "
                         "current process.")
    ticket = mesh.post(src, key)

    def complete(timeout):
        _write(tensor, mesh.take(src, key, ticket, timeout))
    work = Work(complete, [tensor], src)
    work._ready = lambda: mesh.ready(src, key, ticket)
    return work


def recv(tensor, src=None, group=None, tag: int = 0, group_src=None) -> int:  # noqa: F811
    """Receive into ``tensor`` from rank ``src`` (any rank when None); returns the sender."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    return work.source_rank()


class P2POp:
    """One send or receive of ``batch_isend_irecv``: ``P2POp(dist.isend, tensor, peer)``."""

    def __init__(self, op, tensor, peer=None, group=None, tag: int = 0, group_peer=None):
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type ``torch.distributed."
                             "isend`` or ``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group, self.tag = op, tensor, peer, group, tag
        self.group_peer = group_peer


def batch_isend_irecv(p2p_op_list) -> list:
    """Start every operation of ``p2p_op_list``; returns their Works."""
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


# ---- picklable objects -----------------------------------------------------------------------
def all_gather_object(object_list, obj, group=None):  # noqa: F811
    """Every member's (picklable) ``obj`` into ``object_list`` on every member."""
    pg = _resolve(group)
    if pg is None:
        return None
    got = _gather_all(pg, pg._key("all_gather_object"), pickle.dumps(obj))
    for i, data in enumerate(got):
        object_list[i] = pickle.loads(data)


def broadcast_object_list(object_list, src=None, group=None, device=None,  # noqa: F811
                          group_src=None):
    """Rank ``src``'s ``object_list`` elements into every member's ``object_list``."""
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, src, group_src)
    is_root = pg.rank() == root
    data = _from_root(pg, root, pg._key("broadcast_object_list"),
                      [pickle.dumps(list(object_list))] * pg.size() if is_root else None)
    if not is_root:
        objs = pickle.loads(data)
        object_list[:len(objs)] = objs


def gather_object(obj, object_gather_list=None, dst=None, group=None,  # noqa: F811
                  group_dst=None):
    """Every member's ``obj`` into ``object_gather_list`` on rank ``dst``."""
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, dst, group_dst, "dst")
    got = _to_root(pg, root, pg._key("gather_object"), pickle.dumps(obj))
    for j, data in enumerate(got or ()):
        object_gather_list[j] = obj if j == root else pickle.loads(data)


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None,  # noqa
                        src=None, group=None, group_src=None):
    """Rank ``src``'s ``scatter_object_input_list[j]`` into member j's
    ``scatter_object_output_list[0]``."""
    pg = _resolve(group)
    if pg is None:
        return None
    root = _group_src(pg, src, group_src)
    is_root = pg.rank() == root
    got = _from_root(pg, root, pg._key("scatter_object_list"),
                     [pickle.dumps(o) for o in scatter_object_input_list] if is_root else None)
    scatter_object_output_list[0] = (scatter_object_input_list[root] if is_root
                                     else pickle.loads(got))


def send_object_list(object_list, dst=None, group=None, device=None,  # noqa: F811
                     group_dst=None) -> None:
    """Send the (picklable) objects of ``object_list`` to rank ``dst``."""
    pg = _resolve(group)
    if pg is None:
        return
    dst = _peer(pg, dst, group_dst, "dst")
    pg._mesh.send(dst, ("p2p_objects", 0, pg._gid), pickle.dumps(list(object_list)))


def recv_object_list(object_list, src=None, group=None, device=None,  # noqa: F811
                     group_src=None) -> int:
    """Receive objects sent by ``send_object_list`` into ``object_list``; returns the sender."""
    pg = _resolve(group)
    if pg is None:
        return -1
    src = _peer(pg, src, group_src, "src")
    mesh, key = pg._mesh, ("p2p_objects", 0, pg._gid)
    if src is None:
        src, data = mesh.recv_any([r for r in pg._ranks if r != mesh.rank], lambda s: key)
    else:
        data = mesh.recv(src, key)
    objs = pickle.loads(data)
    object_list[:len(objs)] = objs
    return src


def all_reduce_coalesced(tensors, op=ReduceOp.SUM, group=None, async_op=False):  # noqa: F811
    """``all_reduce`` of each tensor of ``tensors``."""
    for t in tensors:
        all_reduce(t, op, group)
    return _finish(async_op, list(tensors))


def all_gather_coalesced(output_tensor_lists, input_tensor_list, group=None,  # noqa: F811
                         async_op=False):
    """``all_gather`` of each input tensor into the matching list of each output list."""
    for i, t in enumerate(input_tensor_list):
        all_gather([outs[i] for outs in output_tensor_lists], t, group)
    return _finish(async_op)


def new_subgroups_by_enumeration(ranks_per_subgroup_list, timeout=None, backend=None,
                                 pg_options=None, group_desc=None):
    """One group per list of ranks; returns (this rank's group, all groups)."""
    mine, groups = None, []
    for ranks in ranks_per_subgroup_list:
        g = new_group(ranks, timeout)
        if g is not GroupMember.NON_GROUP_MEMBER:
            mine = g
        groups.append(g)
    return mine, groups


def new_subgroups(group_size=None, group=None, timeout=None, backend=None,  # noqa: F811
                  pg_options=None, group_desc=None):
    """Split the world into groups of ``group_size`` consecutive ranks (default: 1 group)."""
    world = get_world_size()
    group_size = group_size or world
    if group_size <= 0 or world % group_size:
        raise ValueError(f"The world size ({world}) must be divisible by group_size "
                         f"({group_size})")
    return new_subgroups_by_enumeration(
        [list(range(s, s + group_size)) for s in range(0, world, group_size)], timeout)


def is_backend_available(backend: str) -> bool:
    return Backend(backend) == Backend.GLOO


def is_ucc_available() -> bool:
    return False


def is_xccl_available() -> bool:
    return False


def get_pg_count() -> int:
    """How many process groups this process has made (the default one included)."""
    return _world.next_gid if _world.pg is not None else 0


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """LOCAL_RANK from the environment (set by launchers), else ``fallback_rank``."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank "
                       "to allow `get_node_local_rank` to work, assuming you are not running "
                       "in a multi-device context and want the code to run locally instead.")


class DebugLevel(enum.Enum):
    OFF = 0
    INFO = 1
    DETAIL = 2


_debug_level = DebugLevel.OFF


def get_debug_level() -> DebugLevel:
    return _debug_level


def set_debug_level(level: DebugLevel) -> None:
    global _debug_level
    _debug_level = level


def set_debug_level_from_env() -> None:
    set_debug_level(DebugLevel[os.environ.get("TORCH_DISTRIBUTED_DEBUG", "OFF").upper()])


class DistNetworkError(DistError):
    """A network error of the distributed package."""


class DistStoreError(DistError):
    """An error of a store (a key that did not appear in time ...)."""


class QueueEmptyError(DistStoreError):
    """A store queue was empty."""


default_pg_timeout = _DEFAULT_PG_TIMEOUT

__all__ += ["send_object_list", "recv_object_list", "all_reduce_coalesced",
            "all_gather_coalesced", "new_subgroups", "new_subgroups_by_enumeration",
            "is_backend_available", "is_ucc_available", "is_xccl_available", "get_pg_count",
            "get_node_local_rank", "DebugLevel", "get_debug_level", "set_debug_level",
            "set_debug_level_from_env", "DistNetworkError", "DistStoreError", "QueueEmptyError",
            "default_pg_timeout", "timedelta"]
