#!/usr/bin/env bash
# A GPU session's measurements in one call, for device time that is short and billed from the start: versions, the
# symbol check, the numerical smoke (when given the parity case folder), --ops, --profile (plain and with each
# switchable candidate), then both schedules with lookahead on and off. Each step writes OUT/<step>.txt and a
# failing step does not stop the ones after it.
#   ./gpu-session.sh OUT [SMOKE_DIR]
# PRESET (videocrafter2), DEVICE (cuda), DTYPE (bfloat16), ROWS (16), PARTITIONS (4) and FRAMES (2) override the
# defaults; TORCH_LIB and PYTHON work as for run-speed-bench.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: gpu-session.sh OUT [SMOKE_DIR]}
smoke=${2:-}
preset=${PRESET:-videocrafter2} device=${DEVICE:-cuda} dtype=${DTYPE:-bfloat16}
rows=${ROWS:-16} partitions=${PARTITIONS:-4} frames=${FRAMES:-2}
mkdir -p "$out"
failed=0

step() {
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*"
  timeout "$limit" "$here/run-speed-bench.sh" "$@" > "$out/$name.txt" 2>&1
  local code=$?
  grep -v '^libtorch from' "$out/$name.txt" | tail -n 40
  echo "== $name: exit $code"
  [ "$code" -eq 0 ] || failed=$((failed + 1))
}

{
  date -u
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
  "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} > "$out/versions.txt"
cat "$out/versions.txt"

# Found once: every step would otherwise start Python to find torch/lib and rerun the symbol check.
TORCH_LIB=${TORCH_LIB:-$("${PYTHON:-python3}" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
export TORCH_LIB
step check 60 --check
[ "$failed" -eq 0 ] && export SYMBOLS_CHECKED=1
[ -n "$smoke" ] && step smoke 180 --smoke "$smoke" --device "$device" --dtype "$dtype"
common=(--device "$device" --preset "$preset" --dtype "$dtype")
step ops 180 --ops "${common[@]}" --rows "$rows"
step profile 180 --profile "${common[@]}" --rows "$rows"
# The whole call with each candidate of docs/gpu.md that can be switched on without a rebuild.
step profile-packed 180 --profile "${common[@]}" --rows "$rows" --packed-temporal-attention
step profile-no-flash 180 --profile "${common[@]}" --rows "$rows" --no-flash
step bench 420 "${common[@]}" --partitions "$partitions" --lookahead on,off --frames "$frames" --repeats 3 --warmup 1
echo "== $failed step(s) failed; outputs in $out"
exit "$failed"
