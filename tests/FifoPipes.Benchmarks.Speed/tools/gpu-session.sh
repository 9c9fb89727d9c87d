#!/usr/bin/env bash
# A GPU session's measurements in one call, for device time that is short and billed from the start: versions (with the
# commit the package was built from), the symbol check, then the issue's figures first (both schedules, lookahead on and
# off), then the numerical smoke (when given the parity case folder), --profile (plain, with each switchable candidate
# and with both; then the issue's figure with both) and --ops. A failing step does not stop the ones after it, and every
# step's limit is cut to what is left of BUDGET_S (540 s by default, under the device tool's 600 s per call), so a slow
# step costs the steps after it, never the figures before it. The device tool brings back at most 8 files, so the steps
# share six: versions.txt (with the symbol check), bench.txt, smoke.txt, profiles.txt (every --profile step, each under
# its '== step' header), bench-candidates.txt and ops.txt; the last lines printed sum them up.
#   ./gpu-session.sh OUT [SMOKE_DIR]
# PRESET (videocrafter2), DEVICE (cuda), DTYPE (bfloat16), ROWS (16), PARTITIONS (4), FRAMES (2) and BUDGET_S override
# the defaults; TORCH_LIB and PYTHON work as for run-speed-bench.sh.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: gpu-session.sh OUT [SMOKE_DIR]}
smoke=${2:-}
preset=${PRESET:-videocrafter2} device=${DEVICE:-cuda} dtype=${DTYPE:-bfloat16}
rows=${ROWS:-16} partitions=${PARTITIONS:-4} frames=${FRAMES:-2} budget=${BUDGET_S:-540}
mkdir -p "$out"
failed=0

summary=()

# Runs one step into OUT/FILE.txt, appended under its own header: several steps share a file.
step() {
  local name=$1 file=$2 limit=$3
  shift 3
  local left=$((budget - SECONDS - 5))
  if [ "$left" -lt 20 ]; then
    echo "== $name: skipped, ${left}s of the budget left" | tee -a "$out/$file.txt"
    summary+=("$name: skipped"); failed=$((failed + 1)); return
  fi
  [ "$limit" -le "$left" ] || limit=$left
  echo "== $name (at most ${limit}s): $*" | tee -a "$out/$file.txt"
  local log
  log=$(mktemp)
  # Into OUT as it comes, so a call the device tool cuts off still brings back what the step printed; -k: a process
  # stuck in a CUDA call may ignore SIGTERM.
  timeout -k 10 "$limit" "$here/run-speed-bench.sh" "$@" 2>&1 | tee -a "$out/$file.txt" > "$log"
  local code=${PIPESTATUS[0]}
  grep -v '^libtorch from' "$log" | tail -n 40
  echo "== $name: exit $code" | tee -a "$out/$file.txt"
  # Each case's row is printed when it ends and again in the closing table: once is enough here.
  summary+=("== $name: exit $code" "$(grep -E '^(batched|reference) +(on|off) |^speed-up|windows per model call|smoke:|^profile:|FAIL' "$log" | awk '!seen[$0]++' | tail -n 12)")
  rm -f "$log"
  [ "$code" -eq 0 ] || failed=$((failed + 1))
}

{
  date -u
  cat "$here/BUILD" 2>/dev/null || echo "build: unknown (no BUILD file in the package)"
  # Bounded: a wedged driver must not eat the session before its first figure.
  timeout -k 5 20 nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi (or it hung)"
  timeout -k 5 60 "${PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} > "$out/versions.txt"
cat "$out/versions.txt"

# Found once: every step would otherwise start Python to find torch/lib and rerun the symbol check.
TORCH_LIB=${TORCH_LIB:-$(timeout -k 5 60 "${PYTHON:-python3}" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')}
export TORCH_LIB
step check versions 60 --check
[ "$failed" -eq 0 ] && export SYMBOLS_CHECKED=1
common=(--device "$device" --preset "$preset" --dtype "$dtype")
# The issue's figures first; the smoke after it still decides whether they count.
step bench bench 300 "${common[@]}" --partitions "$partitions" --lookahead on,off --frames "$frames" --repeats 3 --warmup 1
if [ -n "$smoke" ]; then step smoke smoke 120 --smoke "$smoke" --device "$device" --dtype "$dtype"
else echo "== smoke: skipped, no parity case folder given" | tee -a "$out/smoke.txt"; summary+=("smoke: skipped (no cases)"); fi
step profile profiles 90 --profile "${common[@]}" --rows "$rows"
# The whole call with each candidate of docs/gpu.md that can be switched on without a rebuild.
step profile-scripted profiles 90 --profile "${common[@]}" --rows "$rows" --scripted-pointwise
step profile-packed profiles 90 --profile "${common[@]}" --rows "$rows" --packed-temporal-attention
# Both together, and the issue's figure with them, so a session whose candidates win also brings its figures. The
# switches touch the batched schedule only: its reference is bench's, measured on the same device moments before.
candidates=(--scripted-pointwise --packed-temporal-attention)
step profile-candidates profiles 90 --profile "${common[@]}" --rows "$rows" "${candidates[@]}"
# Warm-up 3: TorchScript's executor profiles two calls and compiles the fused kernels on the third.
step bench-candidates bench-candidates 120 "${common[@]}" --partitions "$partitions" --lookahead on --frames "$frames" --repeats 3 --warmup 3 --no-reference "${candidates[@]}"
step ops ops 120 --ops "${common[@]}" --rows "$rows"
# Last: switching the flash kernel off is the least likely candidate to win.
step profile-no-flash profiles 90 --profile "${common[@]}" --rows "$rows" --no-flash
# What the device tool's output tail keeps, whatever else it cut.
echo "== summary"
printf '%s\n' "${summary[@]}"
echo "== $failed step(s) failed; outputs in $out: $(cd "$out" && ls | tr '\n' ' ')"
exit "$failed"
