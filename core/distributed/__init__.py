"""``ember.distributed``: process groups and collectives for cpu tensors, as torch.distributed
with its gloo backend.

Processes rendezvous through a store (``init_method="env://"``, ``"tcp://host:port"``,
``"file:///path"``, or ``store=``), then exchange tensors over TCP connections between every
pair of ranks: ``all_reduce``, ``broadcast``, ``all_gather``, ``reduce_scatter``, ``send`` /
``recv`` ... ``ember.nn.parallel.DistributedDataParallel`` builds data-parallel training on it.

Example (each of two processes)::

    >>> import ember.distributed as dist
    >>> dist.init_process_group("gloo", init_method="tcp://127.0.0.1:29500",
    ...                         rank=rank, world_size=2)  # doctest: +SKIP
    >>> t = ember.ones(2) * (rank + 1)  # doctest: +SKIP
    >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)  # doctest: +SKIP
    >>> t  # doctest: +SKIP
    tensor([3., 3.])
    >>> dist.destroy_process_group()  # doctest: +SKIP
"""
from . import c10d as distributed_c10d  # noqa: F401  (torch's module name)
from .c10d import *  # noqa: F401,F403
from .c10d import __all__ as _c10d_all
from .store import FileStore, HashStore, PrefixStore, Store, TCPStore

__all__ = list(_c10d_all) + ["Store", "TCPStore", "FileStore", "HashStore", "PrefixStore",
                             "distributed_c10d"]
