"""``python -m ember.backends.opencl.probe``: lists the OpenCL devices Ember can use and exits
with status 1 when there is none. ``make`` runs it after installing, to add Debian's PoCL where
the PoCL wheel from PyPI cannot compile for the host CPU."""
from __future__ import annotations

import sys
import warnings


def main() -> int:
    try:
        with warnings.catch_warnings(record=True) as left_out:
            warnings.simplefilter("always")
            from ember.backends.opencl.runtime import devices
            usable = devices()
    except Exception as e:  # noqa: BLE001 - the probe reports any failure to find a device
        print(f"opencl probe: {type(e).__name__}: {e}")
        return 1
    for w in left_out:
        print(f"opencl probe: {w.message}")
    for d in usable:
        print(f"opencl probe: opencl:{d.index} {d.name} builds kernels")
    if not usable:
        print("opencl probe: no OpenCL device can build a kernel")
    return 0 if usable else 1


if __name__ == "__main__":
    sys.exit(main())
