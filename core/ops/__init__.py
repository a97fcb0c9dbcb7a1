"""The op table: every op of Ember, defined once. ``registry`` holds the table and dispatcher."""
from . import registry, elementwise, shape, reduction, indexing, creation, linalg, nn  # noqa: F401
from .registry import COMPOSITES, OPS, composite, defop  # noqa: F401
