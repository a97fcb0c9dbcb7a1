"""``ember.optim``: optimizers and learning-rate schedulers, torch's update rules exactly.

Example::

    >>> opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    >>> sched = ember.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
"""
from . import lr_scheduler, swa_utils
from .adadelta import Adadelta
from .adafactor import Adafactor
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .lbfgs import LBFGS
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .rprop import Rprop
from .sgd import SGD
from .sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax",
           "NAdam", "RAdam", "ASGD", "Rprop", "LBFGS", "SparseAdam", "Adafactor",
           "lr_scheduler", "swa_utils"]
