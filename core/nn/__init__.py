"""``ember.nn``: modules, layers, losses, ``functional``, ``init`` and ``utils``, as torch.nn.

Built only on ember's public tensor API, so every backend gets every layer (and its gradients).

>>> import ember
>>> net = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.ReLU(), ember.nn.Linear(8, 2))
>>> net(ember.randn(3, 4)).shape
ember.Size([3, 2])
"""
# NOTE: submodules are imported eagerly so ``ember.nn.functional`` etc. exist as attributes
# when the top-level package aliases ember.nn -> ember.core.nn.
from . import parameter
from .parameter import Parameter
from ._parameter_extra import Buffer, UninitializedBuffer, UninitializedParameter
from ._parameter_extra import UninitializedTensorMixin, is_lazy

# NOTE: torch defines these in torch.nn.parameter and its classes print (and pickle) by that
# path; ember.nn.parameter holds them all too and names itself as their module
for _obj in (Parameter, Buffer, UninitializedBuffer, UninitializedParameter,
             UninitializedTensorMixin, is_lazy):
    setattr(parameter, _obj.__name__, _obj)
    _obj.__module__ = "ember.nn.parameter"
del _obj
from . import functional
from . import init
from . import modules
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .modules.module import RemovableHandle
from . import utils
from . import parallel
from .parallel import DataParallel

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "functional",
           "init", "modules", "utils", "parameter", "parallel", "DataParallel"]
__all__ += list(_modules_all)
