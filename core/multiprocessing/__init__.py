"""``ember.multiprocessing``: Python's multiprocessing, with cpu tensors shared, as
torch.multiprocessing.

Everything of :mod:`multiprocessing` is here (``Process``, ``Queue``, ``Pool``, ``get_context``
...). A cpu tensor sent through a queue, pipe or pool, or passed to a spawned process, moves into
shared memory and is not copied: the receiver's writes are the sender's (see
``Tensor.share_memory_``). ``spawn`` runs a function in several processes and reports failures.

Example::

    >>> import ember.multiprocessing as mp
    >>> def train(rank, model):
    ...     ...  # each process updates the shared parameters in place (Hogwild)
    >>> model = ember.nn.Linear(4, 1).share_memory()
    >>> mp.spawn(train, args=(model,), nprocs=2)  # doctest: +SKIP
"""
import multiprocessing as _multiprocessing
from multiprocessing import *  # noqa: F401,F403

from . import reductions  # noqa: F401
from .reductions import (get_all_sharing_strategies, get_sharing_strategy,  # noqa: F401
                         init_reductions, set_sharing_strategy)
from .spawn import (ProcessContext, ProcessException, ProcessExitedException,  # noqa: F401
                    ProcessRaisedException, SpawnContext, spawn, start_processes)

__all__ = ["set_sharing_strategy", "get_sharing_strategy", "get_all_sharing_strategies",
           "spawn", "start_processes", "ProcessContext", "SpawnContext", "ProcessException",
           "ProcessExitedException", "ProcessRaisedException", "init_reductions"]
__all__ += _multiprocessing.__all__

init_reductions()
