#!/usr/bin/env bash
# The cuda backend's GPU check, for a session that has a GPU. From the repository root, through
# the device tool (its results land in $OUT):
#     run(command="bash scripts/gpu_check.sh", timeout_s=600)          # add carry=[".whl"] if
# cupy is missing there and you brought wheels (see /work/.library/device/README.md). About 5
# minutes typically (at most 11): each step has its own time limit in scripts/gpu_check.py.
set -u
export OUT="${OUT:-$PWD/out/gpu_check}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 EMBER_FALLBACK=warn
PY="${PYTHON:-python3}"

if ! "$PY" -c "import cupy" 2>/dev/null && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
# NOTE: the repository root is the package `ember`; make it importable without installing it
mkdir -p /tmp/ember-path && ln -sfn "$PWD" /tmp/ember-path/ember
export PYTHONPATH="/tmp/ember-path${PYTHONPATH:+:$PYTHONPATH}"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/nvidia_smi.txt" 2>&1
"$PY" scripts/gpu_check.py 2>&1 | tee "$OUT/gpu_check.log"
exit "${PIPESTATUS[0]}"
