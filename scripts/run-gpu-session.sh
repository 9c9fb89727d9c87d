#!/usr/bin/env bash
# On a GPU machine with a PyTorch install, from a checkout where scripts/publish-gpu-bench.sh has run (the package and
# the smoke cases under artifacts/gpu-bench, which a device tool can carry): unpacks the package and runs every
# measurement of gpu-session.sh into OUT (the first argument, else $OUT). PRESET, DEVICE, DTYPE, ROWS, PARTITIONS and
# FRAMES pass through.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:?give the output folder as the first argument or in OUT}}
package="$root/artifacts/gpu-bench/fifopipes-speed-bench.tar.xz"
[ -f "$package" ] || { echo "$package is missing: run scripts/publish-gpu-bench.sh first." >&2; exit 2; }
work=$(mktemp -d)
# Without xz on the machine, Python's tarfile unpacks it (the machine has PyTorch, so it has Python).
tar -C "$work" -xf "$package" 2>/dev/null || "${PYTHON:-python3}" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$package" "$work"
smoke="$root/artifacts/gpu-bench/smoke"
[ -d "$smoke" ] || smoke=""
exec "$work/fifopipes-speed-bench/gpu-session.sh" "$out" $smoke
