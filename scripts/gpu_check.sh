#!/usr/bin/env bash
# GPU check on a real card (< 1 minute): discovery through NVML and nvidia-smi, `autotuner gpus`, and the allocator.
# Needs only python3 with nvidia-ml-py (and typer + rich for the CLI part); run from the repository root:
#   bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export AUTOTUNER_DATA_DIR="$(mktemp -d /tmp/gpu-check.XXXXXX)"  # GPU lock files go here
PY="${PYTHON:-python3}"
status=0

echo "== nvidia-smi"
nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,utilization.gpu --format=csv,noheader,nounits \
	|| echo "(nvidia-smi failed)"

echo "== autotuner gpus"
if ! timeout 60 "$PY" -m inference_autotuner.cli gpus; then
	echo "(the CLI did not run here; the module itself:)"
	timeout 60 "$PY" -m inference_autotuner.gpus || status=1
fi

echo "== discovery + allocator"
timeout 90 "$PY" - <<'EOF' || status=1
import json, shutil, subprocess, time
from inference_autotuner import gpus as g

found = g.discover()
print("discover():", json.dumps(g.describe(found), indent=1))
assert found, "no GPU discovered"
assert found[0].source == "nvml", f"NVML not used (source {found[0].source}); is nvidia-ml-py installed?"
assert all(x.memory_total > 0 and x.name and x.uuid.startswith("GPU-") for x in found)

if shutil.which("nvidia-smi"):  # the fallback parser against the real CLI, compared with NVML
	smi = g._nvidia_smi()
	print("nvidia-smi fallback:", [(x.index, x.name, x.memory_total // g.MIB) for x in smi])
	assert [(x.index, x.uuid) for x in smi] == [(x.index, x.uuid) for x in found], "NVML and nvidia-smi disagree"

al = g.GPUAllocator(poll=0.1, respect_processes=False)  # do not count other tenants' processes for this check
print("free before:", [x.index for x in al.free()])
a = al.acquire(1, timeout=5)
print("acquired 1:", a.info())
assert len(a.ids) == 1 and a.info()["count"] == 1 and a.info()["model"] == found[0].name
assert a.ids[0] not in [x.index for x in al.free()], "a held GPU is not free"
rest = al.acquire(len(found) - 1, timeout=5) if len(found) > 1 else None
t0 = time.monotonic()
try:
	al.acquire(1, timeout=0.5)
	raise SystemExit("FAIL: got a GPU although all were held")
except g.OutOfGPUsError as exc:
	print(f"out of GPUs after {time.monotonic() - t0:.1f} s, as expected: {exc.message}")
try:
	al.acquire(len(found) + 1, timeout=5)
	raise SystemExit("FAIL: more GPUs than the host has")
except g.OutOfGPUsError as exc:
	print("more than the host has:", exc.message)
al.release(a)
if rest:
	al.release(rest)
assert len(al.free()) == len(found), "every GPU free again after release"
print("busy (compute processes) per GPU:", {x.index: x.processes for x in g.discover()})
print("GPU CHECK OK")
EOF
rm -rf "$AUTOTUNER_DATA_DIR"
exit $status
