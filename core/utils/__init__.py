"""ember.utils: ``ember.utils.data`` (datasets and loaders) lives in ember.core.data;
``ember.utils.checkpoint`` is activation checkpointing."""
from .. import data  # noqa: F401
from . import checkpoint  # noqa: F401
