"""``ember.nn.parallel``: ``DistributedDataParallel`` (cpu, over ember.distributed) and
``DataParallel`` (a single-device pass-through on the cpu)."""
from .data_parallel import DataParallel
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel"]
