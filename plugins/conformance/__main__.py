"""``python -m ember.plugins.conformance --device NAME``: see ``runner.main``."""
import sys

from .runner import main

sys.exit(main())
