"""ember.utils: ``ember.utils.data`` (datasets and loaders) lives in ember.core.data."""
from .. import data  # noqa: F401
