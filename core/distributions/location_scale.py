"""What the location-scale families (Normal, Laplace) share: parameters, construction and
expand; their mean and mode are ``loc``."""
from __future__ import annotations

from numbers import Number

import ember

from . import constraints
from .utils import broadcast_all


class LocationScale:
    """A mixin, listed before the family's base class: ``class Normal(LocationScale, Base)``."""

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = broadcast_all(loc, scale)
        both_numbers = isinstance(loc, Number) and isinstance(scale, Number)
        batch_shape = ember.Size() if both_numbers else self.loc.shape
        super().__init__(batch_shape, validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(LocationScale, _instance)
        batch_shape = ember.Size(batch_shape)
        new.loc = self.loc.expand(batch_shape)
        new.scale = self.scale.expand(batch_shape)
        super(LocationScale, new).__init__(batch_shape, validate_args=False)
        new._validate_args = self._validate_args
        return new
