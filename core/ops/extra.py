"""More torch functions built from the op table (composites): the long tail of torch's API.

``METHODS`` maps Tensor method names to these functions; ``INPLACE`` lists the ones that also get
an in-place ``name_`` variant. core/methods.py binds both.
"""
from __future__ import annotations

METHODS: dict = {}
INPLACE: set = set()
